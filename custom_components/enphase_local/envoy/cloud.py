"""Getting a gateway token from the Enphase cloud (Enlighten login, then Entrez)."""

from collections.abc import Mapping
from dataclasses import dataclass
import json
import re

import aiohttp

from .exceptions import (
    EnlightenAuthenticationError,
    EnlightenError,
    EnlightenMultiFactorError,
)
from .session import SessionOwner

LOGIN_URL = "https://enlighten.enphaseenergy.com/login/login.json?"
TOKENS_URL = "https://entrez.enphaseenergy.com/tokens"
ENTREZ_URL = "https://entrez.enphaseenergy.com"

_JWT_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_=-]+")


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    """Where the Enphase cloud's login and token services are."""

    login_url: str = LOGIN_URL
    tokens_url: str = TOKENS_URL


class EnlightenClient(SessionOwner):
    """Log in to Enlighten and ask Entrez for a gateway token.

    Unlike the gateway, the cloud has a real certificate: TLS is verified.
    Messages and logs never contain the e-mail address, password or token.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        endpoints: CloudEndpoints | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Use ``session`` when given, else a session of our own."""
        super().__init__(session)
        endpoints = endpoints or CloudEndpoints()
        self._login_url = endpoints.login_url
        self._tokens_url = endpoints.tokens_url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch_token(self, email: str, password: str, serial: str) -> str:
        """Return a fresh token for gateway ``serial`` using an Enlighten account."""
        session_id = await self._login(email, password)
        return await self._request_token(session_id, serial, email)

    async def _login(self, email: str, password: str) -> str:
        """Log in and return the Enlighten session id."""
        status, body = await self._post(
            "login",
            self._login_url,
            data={"user[email]": email, "user[password]": password},
        )
        return parse_login_reply(status, body)

    async def _request_token(self, session_id: str, serial: str, email: str) -> str:
        """Ask Entrez for a token; it answers a raw JWT or JSON with ``token``."""
        status, body = await self._post(
            "token request",
            self._tokens_url,
            json_payload={
                "session_id": session_id,
                "serial_num": serial,
                "username": email,
            },
        )
        return parse_token_reply(status, body)

    async def _post(
        self,
        step: str,
        url: str,
        *,
        data: dict[str, str] | None = None,
        json_payload: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """POST to the cloud and return the status and raw body."""
        session = self._get_session()
        try:
            async with session.post(
                url,
                data=data,
                json=json_payload,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise EnlightenError(
                f"The Enphase cloud did not answer the {step} in time"
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise EnlightenError(
                f"Could not reach the Enphase cloud for the {step}: {type(err).__name__}"
            ) from err


def parse_login_reply(status: int, body: bytes) -> str:
    """Return the Enlighten session id from the login answer."""
    if status == 401:
        raise EnlightenAuthenticationError(
            "The Enphase cloud rejected the e-mail address or password"
        )
    if status != 200:
        raise EnlightenError(f"The Enphase cloud login answered HTTP {status}")
    reply = _json_reply(body, "The Enphase cloud login answered")
    if not isinstance(reply, Mapping):
        raise EnlightenError("The Enphase cloud login answered an unexpected shape")
    session_id = reply.get("session_id")
    if isinstance(session_id, str) and not session_id.isascii():
        # Session ids are ASCII tokens; a JSON escape could even make this a
        # lone surrogate, which cannot be sent on as UTF-8.
        raise EnlightenError("The Enphase cloud login answered an unexpected shape")
    if not isinstance(session_id, str) or not session_id:
        raise EnlightenMultiFactorError(
            "This Enphase account uses multi-factor login, which cannot be automated: "
            f"log in at {ENTREZ_URL}, create a token for the gateway "
            "and paste it here"
        )
    return session_id


def parse_token_reply(status: int, body: bytes) -> str:
    """Return the token from Entrez's answer: a raw JWT or JSON with ``token``."""
    if status != 200:
        raise EnlightenError(
            f"The Enphase cloud answered HTTP {status} to the token request "
            "(is the gateway registered to this account?)"
        )
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        reply = _json_reply(text, "The Enphase cloud answered", " to the token request")
        token = reply.get("token") if isinstance(reply, Mapping) else None
        text = token.strip() if isinstance(token, str) else ""
    if not _JWT_RE.fullmatch(text):
        raise EnlightenError("The Enphase cloud did not answer a token")
    return text


def _json_reply(body: str | bytes, answered: str, step: str = "") -> object:
    """Parse a cloud answer as JSON; anything unreadable is an ``EnlightenError``."""
    try:
        return json.loads(body)
    except ValueError as err:
        raise EnlightenError(f"{answered} invalid JSON{step}") from err
    except RecursionError as err:
        # json.loads recurses per nesting level: an answer nested deeply
        # enough would otherwise escape as a RecursionError.
        raise EnlightenError(f"{answered} JSON nested too deeply{step}") from err
