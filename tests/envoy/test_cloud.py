"""Token fetching from the Enphase cloud, against a scripted loopback cloud."""

import json
import re

import aiohttp
import pytest

from custom_components.enphase_local.envoy import (
    ENTREZ_URL,
    LOGIN_URL,
    TOKENS_URL,
    CloudEndpoints,
    EnlightenAuthenticationError,
    EnlightenClient,
    EnlightenError,
    EnlightenMultiFactorError,
)

from .helpers import Reply, ScriptedServer, closed_port, make_token

EMAIL = "owner@example.com"
PASSWORD = "correct-horse-battery"
SERIAL = "122112123456"
TOKEN = make_token({"aud": SERIAL, "exp": 1785236000, "enphaseUser": "owner"})
LOGIN_OK = Reply(200, json.dumps({"session_id": "s-123", "is_consumer": True}).encode())


def _client(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession | None,
    timeout: float = 10.0,
) -> EnlightenClient:
    """Return a client pointed at the scripted cloud."""
    return EnlightenClient(
        session,
        endpoints=CloudEndpoints(
            login_url=scripted.url("/login/login.json?"),
            tokens_url=scripted.url("/tokens"),
        ),
        timeout=timeout,
    )


def test_default_urls() -> None:
    assert LOGIN_URL == "https://enlighten.enphaseenergy.com/login/login.json?"
    assert TOKENS_URL == "https://entrez.enphaseenergy.com/tokens"
    assert ENTREZ_URL == "https://entrez.enphaseenergy.com"


async def test_fetch_token_raw_reply(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/login/login.json", LOGIN_OK)
    scripted.add("/tokens", Reply(200, f"{TOKEN}\n".encode()))
    token = await _client(scripted, session).fetch_token(EMAIL, PASSWORD, SERIAL)
    assert token == TOKEN
    login, tokens = scripted.requests
    assert login.method == "POST"
    assert login.path_qs == "/login/login.json"
    assert login.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (
        login.body
        == b"user%5Bemail%5D=owner%40example.com&user%5Bpassword%5D=correct-horse-battery"
    )
    assert tokens.method == "POST"
    assert json.loads(tokens.body) == {
        "session_id": "s-123",
        "serial_num": SERIAL,
        "username": EMAIL,
    }


async def test_fetch_token_json_reply_with_own_session(
    scripted: ScriptedServer,
) -> None:
    scripted.add("/login/login.json", LOGIN_OK)
    scripted.add(
        "/tokens",
        Reply(
            200,
            json.dumps(
                {
                    "token": TOKEN,
                    "expires_at": 1785236000,
                    "generation_time": 1753700000,
                }
            ).encode(),
        ),
    )
    async with _client(scripted, None) as client:
        assert await client.fetch_token(EMAIL, PASSWORD, SERIAL) == TOKEN
        assert await client.fetch_token(EMAIL, PASSWORD, SERIAL) == TOKEN
    assert client._session is None
    assert len(scripted.requests) == 4


async def test_close_without_use_and_with_injected_session(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    await EnlightenClient().close()
    client = _client(scripted, session)
    await client.close()
    assert session.closed is False


async def test_bad_credentials(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/login/login.json", Reply(401, b'{"message": "Invalid"}'))
    with pytest.raises(EnlightenAuthenticationError) as err:
        await _client(scripted, session).fetch_token(EMAIL, PASSWORD, SERIAL)
    assert EMAIL not in str(err.value)
    assert PASSWORD not in str(err.value)
    assert scripted.paths() == ["/login/login.json"]


async def test_multi_factor_account(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add(
        "/login/login.json",
        Reply(200, b'{"success": true}', {"Set-Cookie": "login_otp_nonce=abc"}),
    )
    with pytest.raises(EnlightenMultiFactorError, match=re.escape(ENTREZ_URL)) as err:
        await _client(scripted, session).fetch_token(EMAIL, PASSWORD, SERIAL)
    assert "paste" in str(err.value)
    assert scripted.paths() == ["/login/login.json"]


@pytest.mark.parametrize(
    ("login", "tokens", "message"),
    [
        (Reply(500, b"oops"), Reply(200), "login answered HTTP 500"),
        (
            Reply(200, b"<html>maintenance</html>"),
            Reply(200),
            "login answered invalid JSON",
        ),
        (Reply(200, b"[1, 2]"), Reply(200), "login answered an unexpected shape"),
        (LOGIN_OK, Reply(403, b"forbidden"), "HTTP 403 to the token request"),
        (LOGIN_OK, Reply(200, b"<html>not a token</html>"), "did not answer a token"),
        (LOGIN_OK, Reply(200, b""), "did not answer a token"),
        (LOGIN_OK, Reply(200, b'{"token": 5}'), "did not answer a token"),
        (LOGIN_OK, Reply(200, b'{"message": "no"}'), "did not answer a token"),
        (LOGIN_OK, Reply(200, b'{"token": "abc"}'), "did not answer a token"),
        (LOGIN_OK, Reply(200, b"{truncated"), "invalid JSON to the token request"),
    ],
)
async def test_unexpected_cloud_answers(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession,
    login: Reply,
    tokens: Reply,
    message: str,
) -> None:
    scripted.add("/login/login.json", login)
    scripted.add("/tokens", tokens)
    with pytest.raises(EnlightenError, match=message) as err:
        await _client(scripted, session).fetch_token(EMAIL, PASSWORD, SERIAL)
    assert type(err.value) is EnlightenError
    assert EMAIL not in str(err.value)


async def test_cloud_timeout(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/login/login.json", Reply(200, b"{}", delay=1.0))
    with pytest.raises(EnlightenError, match="did not answer the login in time"):
        await _client(scripted, session, timeout=0.1).fetch_token(
            EMAIL, PASSWORD, SERIAL
        )


async def test_cloud_unreachable(session: aiohttp.ClientSession) -> None:
    port = closed_port()
    client = EnlightenClient(
        session,
        endpoints=CloudEndpoints(
            login_url=f"http://127.0.0.1:{port}/login/login.json?",
            tokens_url=f"http://127.0.0.1:{port}/tokens",
        ),
    )
    with pytest.raises(
        EnlightenError, match="Could not reach the Enphase cloud for the login"
    ):
        await client.fetch_token(EMAIL, PASSWORD, SERIAL)
