"""Who may read what: JWTs on fw >= 7, HTTP digest before, the check_jwt session cookie."""

from aiohttp import hdrs, web

from .auth import (
    DigestAuthenticator,
    SessionStore,
    TokenAuthority,
    TokenClaims,
    TokenError,
)
from .faults import Fault, unauthorized
from .profiles import Profile
from .replies import Reply, json_reply, text_reply
from .routes import CHECK_JWT_PAGE, Route, auth_for, garbled_unauthorized


class Gatekeeper:
    """Check a request's credentials the way the firmware does."""

    def __init__(self, serial: str, seed: int) -> None:
        """Guard the gateway ``serial``; ``seed`` makes its signing key."""
        self.tokens = TokenAuthority(seed)
        self.digest = DigestAuthenticator(serial)
        self.sessions = SessionStore()
        self.serial = serial

    def check(
        self,
        request: web.Request,
        found: Route,
        gateway: Profile,
        faults: list[Fault],
        now: float,
    ) -> Reply | None:
        """Return the refusal (or /auth/check_jwt's answer), None to serve the endpoint."""
        path = request.path
        auth = auth_for(path, found, gateway)
        if auth == "garbled":
            return garbled_unauthorized(gateway)
        if auth == "token":
            claims = self._check_jwt(request, faults, now)
            if isinstance(claims, Reply):
                return claims
            if path != "/auth/check_jwt":
                return None
            if claims is None:
                return json_reply({"error": "Bearer token required"}, status=401)
            reply = text_reply(CHECK_JWT_PAGE)
            reply.cookies["sessionId"] = self.sessions.create(claims, now)
            return reply
        if auth == "digest":
            denied = any(f.handler.denies_auth for f in faults)
            user = self.digest.verify(
                request.headers.get(hdrs.AUTHORIZATION),
                request.method,
                request.raw_path,
            )
            if user is None or denied:
                return unauthorized(gateway, self.digest.challenge)
        return None

    def _check_jwt(
        self, request: web.Request, faults: list[Fault], now: float
    ) -> TokenClaims | Reply | None:
        """Return the verified claims, None for a live session cookie, or a 401 reply."""
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, token = header.partition(" ")
        revoked: set[str] = set()
        for fault in faults:
            if fault.handler.denies_auth:
                revoked |= fault.revoked_token_ids
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = self.tokens.verify(token.strip(), serial=self.serial, now=now)
            except TokenError as err:
                return json_reply({"error": f"Unauthorized: {err}"}, status=401)
            if claims.token_id in revoked:
                return json_reply({"error": "Unauthorized: token revoked"}, status=401)
            return claims
        session_id = request.cookies.get("sessionId")
        if (
            request.path != "/auth/check_jwt"
            and session_id
            and not revoked
            and self.sessions.check(session_id, now, self.tokens)
        ):
            return None
        return json_reply({"error": "Unauthorized: no valid token"}, status=401)
