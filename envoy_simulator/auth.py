"""Gateway authentication: HTTP digest (firmware < 7) and Enphase-style JWTs (>= 7)."""

import base64
from dataclasses import dataclass
import hashlib
import hmac
import json
import re
import secrets
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

DIGEST_REALM = "enphaseenergy.com"
OWNER_TOKEN_LIFETIME_S = 365 * 86400
INSTALLER_TOKEN_LIFETIME_S = 12 * 3600
SESSION_IDLE_S = 600
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _md5_hex(text: str) -> str:
    """Return the hex MD5 of ``text`` (digest auth and the installer password need MD5)."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def installer_password(serial: str) -> str:
    """Derive the ``installer`` digest password from the gateway serial."""
    digest = _md5_hex(f"[e]installer@enphaseenergy.com#{serial} EnPhAsE eNeRgY ")
    count_zero = digest.count("0")
    count_one = digest.count("1")
    result = []
    for char in digest[:-9:-1]:
        if count_zero in (3, 6, 9):
            count_zero -= 1
        count_zero = max(0, min(count_zero, 20))
        if count_one in (9, 15):
            count_one -= 1
        count_one = max(0, min(count_one, 26))
        if char == "0":
            result.append(chr(ord("f") + count_zero))
            count_zero -= 1
        elif char == "1":
            result.append(chr(ord("@") + count_one))
            count_one -= 1
        else:
            result.append(char)
    return "".join(result)


def envoy_password(serial: str) -> str:
    """Return the ``envoy`` user's digest password: the serial's last 6 characters."""
    return serial[-6:]


_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_digest(header: str) -> dict[str, str] | None:
    """Parse an ``Authorization: Digest ...`` header into its parameters."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "digest":
        return None
    return {
        match.group(1).lower(): match.group(2)
        if match.group(2) is not None
        else match.group(3)
        for match in _DIGEST_PARAM.finditer(rest)
    }


class DigestAuthenticator:
    """Check RFC 7616 digest credentials (MD5, qop=auth) for the gateway's users."""

    def __init__(self, serial: str) -> None:
        """Accept the ``envoy`` and ``installer`` users of ``serial``."""
        self._secret = secrets.token_bytes(16)
        self.users = {
            "envoy": envoy_password(serial),
            "installer": installer_password(serial),
        }

    def challenge(self, *, stale: bool = False) -> str:
        """Return a WWW-Authenticate header value with a fresh nonce."""
        token = secrets.token_hex(8)
        signature = hmac.new(self._secret, token.encode(), "sha256").hexdigest()[:16]
        header = f'Digest realm="{DIGEST_REALM}", qop="auth", nonce="{token}{signature}", opaque="{secrets.token_hex(8)}", algorithm="MD5"'
        if stale:
            header += ", stale=true"
        return header

    def _nonce_valid(self, nonce: str) -> bool:
        """Return whether ``nonce`` is one this gateway issued."""
        token, signature = nonce[:16], nonce[16:]
        expected = hmac.new(self._secret, token.encode(), "sha256").hexdigest()[:16]
        return hmac.compare_digest(signature, expected)

    def verify(self, header: str | None, method: str, request_uri: str) -> str | None:
        """Return the authenticated user name, or None."""
        if not header:
            return None
        params = parse_digest(header)
        if params is None:
            return None
        username = params.get("username", "")
        password = self.users.get(username)
        nonce = params.get("nonce", "")
        if password is None or not self._nonce_valid(nonce):
            return None
        if params.get("realm") != DIGEST_REALM or params.get("uri") != request_uri:
            return None
        ha1 = _md5_hex(f"{username}:{DIGEST_REALM}:{password}")
        ha2 = _md5_hex(f"{method}:{request_uri}")
        qop = params.get("qop")
        if qop == "auth":
            expected = _md5_hex(
                f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}"
            )
        elif qop is None:
            expected = _md5_hex(f"{ha1}:{nonce}:{ha2}")
        else:
            return None
        if not hmac.compare_digest(expected, params.get("response", "")):
            return None
        return username


def _b64url(data: bytes) -> str:
    """Encode base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of a verified token."""

    serial: str
    role: str
    username: str
    issued_at: int
    expires_at: int
    token_id: str


class TokenError(Exception):
    """A token the gateway refuses."""


class TokenAuthority:
    """Mint and verify ES256 JWTs the way Entrez and the gateway do."""

    def __init__(self, seed: int) -> None:
        """Derive the signing key from ``seed`` so tokens survive simulator restarts."""
        material = hashlib.sha256(f"envoy-simulator-entrez-{seed}".encode()).digest()
        scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
        self._key = ec.derive_private_key(scalar, ec.SECP256R1())
        public = self._key.public_key().public_numbers()
        self.key_id = hashlib.sha256(f"{public.x}:{public.y}".encode()).hexdigest()[:16]
        self.minted: set[str] = set()
        self.revoked: set[str] = set()
        self.revoked_before = 0.0

    def mint(
        self,
        *,
        serial: str,
        role: str,
        username: str,
        issued_at: float,
        lifetime_s: float,
    ) -> str:
        """Return a signed token for ``serial``."""
        iat = int(issued_at)
        token_id = str(uuid.uuid4())
        claims = {
            "aud": serial,
            "iss": "Entrez",
            "enphaseUser": role,
            "exp": int(iat + lifetime_s),
            "iat": iat,
            "jti": token_id,
            "username": username,
        }
        header = {"kid": self.key_id, "typ": "JWT", "alg": "ES256"}
        signing_input = f"{_b64url(json.dumps(header, separators=(',', ':')).encode())}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        self.minted.add(token_id)
        return (
            f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        )

    def verify(self, token: str, *, serial: str, now: float) -> TokenClaims:
        """Return the token's claims, or raise TokenError saying why it is refused."""
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise TokenError("malformed token")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except ValueError as err:
            raise TokenError("malformed token") from err
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("malformed token")
        if header.get("alg") != "ES256" or len(signature) != 64:
            raise TokenError("unsupported token")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._key.public_key().verify(
                der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature as err:
            raise TokenError("bad signature") from err
        try:
            result = TokenClaims(
                serial=str(claims["aud"]),
                role=str(claims.get("enphaseUser", "")),
                username=str(claims.get("username", "")),
                issued_at=int(claims["iat"]),
                expires_at=int(claims["exp"]),
                token_id=str(claims["jti"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise TokenError("missing claims") from err
        if result.serial != serial:
            raise TokenError("token is for another gateway")
        if result.expires_at <= now:
            raise TokenError("token expired")
        if result.token_id in self.revoked or result.issued_at < self.revoked_before:
            raise TokenError("token revoked")
        return result

    def token_id(self, token: str) -> str | None:
        """Return a token's ``jti`` without verifying it."""
        try:
            claims = json.loads(_b64url_decode(token.split(".")[1]))
        except IndexError, ValueError:
            return None
        return (
            str(claims.get("jti"))
            if isinstance(claims, dict) and "jti" in claims
            else None
        )

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on."""
        token_id = self.token_id(token)
        if token_id is not None:
            self.revoked.add(token_id)

    def revoke_all(self, now: float) -> None:
        """Refuse every token issued so far."""
        self.revoked |= self.minted
        self.revoked_before = now


@dataclass(slots=True)
class Session:
    """A ``sessionId`` cookie issued by /auth/check_jwt."""

    token_id: str
    expires_at: int
    last_used: float


class SessionStore:
    """Cookie sessions with the gateway's 10-minute idle timeout."""

    def __init__(self) -> None:
        """Start without sessions."""
        self._sessions: dict[str, Session] = {}

    def create(self, claims: TokenClaims, now: float) -> str:
        """Open a session for a verified token and return its id."""
        session_id = secrets.token_hex(16)
        self._sessions[session_id] = Session(claims.token_id, claims.expires_at, now)
        return session_id

    def check(self, session_id: str, now: float, authority: TokenAuthority) -> bool:
        """Return whether ``session_id`` is live (and refresh its idle timer)."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        if (
            now - session.last_used > SESSION_IDLE_S
            or session.expires_at <= now
            or session.token_id in authority.revoked
        ):
            del self._sessions[session_id]
            return False
        session.last_used = now
        return True

    def clear(self) -> None:
        """Drop every session."""
        self._sessions.clear()
