"""A fake Enlighten login and Entrez token service, over plain HTTP."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
import secrets
from typing import Literal

from aiohttp import web

from .auth import OWNER_TOKEN_LIFETIME_S

type TokenFormat = Literal["json", "raw"]


@dataclass(slots=True)
class CloudAccount:
    """An Enlighten account the fake cloud knows."""

    email: str
    password: str
    mfa: bool = False
    token_format: TokenFormat = "raw"  # noqa: S105 - a format name, not a secret


def default_accounts() -> dict[str, CloudAccount]:
    """Return the accounts every simulator starts with."""
    password = "correct-horse-battery"  # noqa: S105 - documented demo account
    return {
        "owner@example.com": CloudAccount("owner@example.com", password),
        "owner-json@example.com": CloudAccount(
            "owner-json@example.com",
            password,
            token_format="json",  # noqa: S106 - a format name
        ),
        "mfa@example.com": CloudAccount("mfa@example.com", password, mfa=True),
    }


class CloudHooks:
    """What the cloud needs from the simulator."""

    def __init__(
        self,
        *,
        mint: Callable[[str, str], str],
        known_serials: Callable[[], set[str]],
        now: Callable[[], float],
        intercept: Callable[[web.Request], Awaitable[web.StreamResponse | None]],
    ) -> None:
        """Wire the cloud to token minting, serial lookup, the clock and faults."""
        self.mint = mint
        self.known_serials = known_serials
        self.now = now
        self.intercept = intercept


class FakeCloud:
    """Enlighten ``/login/login.json`` and Entrez ``/tokens``."""

    def __init__(self, accounts: dict[str, CloudAccount], hooks: CloudHooks) -> None:
        """Serve ``accounts``."""
        self.accounts = accounts
        self.hooks = hooks
        self.sessions: dict[str, str] = {}

    def application(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_post("/login/login.json", self.login)
        app.router.add_post("/tokens", self.tokens)
        return app

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Check e-mail and password; answer with a session id."""
        intercepted = await self.hooks.intercept(request)
        if intercepted is not None:
            return intercepted
        form = await request.post()
        email = str(form.get("user[email]", ""))
        password = str(form.get("user[password]", ""))
        account = self.accounts.get(email)
        if account is None or not secrets.compare_digest(account.password, password):
            return web.json_response(
                {"message": "Invalid email or password", "success": False}, status=401
            )
        manager_token = secrets.token_urlsafe(24)
        if account.mfa:
            # Multi-factor accounts get a one-time-password step instead of a session.
            response = web.json_response(
                {
                    "message": "success",
                    "is_consumer": True,
                    "manager_token": manager_token,
                    "isMfaEnabled": True,
                }
            )
            response.set_cookie("login_otp_nonce", secrets.token_hex(16), httponly=True)
            return response
        session_id = secrets.token_hex(16)
        self.sessions[session_id] = email
        return web.json_response(
            {
                "message": "success",
                "session_id": session_id,
                "manager_token": manager_token,
                "is_consumer": True,
            }
        )

    async def tokens(self, request: web.Request) -> web.StreamResponse:
        """Mint a gateway token for a logged-in session."""
        intercepted = await self.hooks.intercept(request)
        if intercepted is not None:
            return intercepted
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "invalid JSON"}, status=400)
        email = self.sessions.get(str(body.get("session_id", "")))
        if email is None:
            return web.json_response({"error": "Not Authorized"}, status=401)
        serial = str(body.get("serial_num", ""))
        if serial not in self.hooks.known_serials():
            return web.json_response(
                {"error": "Not Authorized for this system"}, status=401
            )
        username = str(body.get("username") or email)
        token = self.hooks.mint(serial, username)
        account = self.accounts.get(email)
        if account is None or account.token_format == "raw":  # noqa: S105
            return web.Response(text=token, content_type="text/html")
        now = int(self.hooks.now())
        return web.json_response(
            {
                "token": token,
                "expires_at": now + OWNER_TOKEN_LIFETIME_S,
                "generation_time": now,
            }
        )
