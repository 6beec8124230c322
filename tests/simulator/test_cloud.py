"""The fake Enlighten login and Entrez token service."""

import json

import aiohttp

from envoy_simulator.auth import TokenAuthority

from .conftest import SimulatorFactory
from .helpers import fetch

PASSWORD = "correct-horse-battery"


async def _login(
    session: aiohttp.ClientSession, url: str, email: str, password: str
) -> tuple[int, dict[str, object], aiohttp.ClientResponse]:
    async with session.post(
        url, data={"user[email]": email, "user[password]": password}
    ) as response:
        return response.status, json.loads(await response.read()), response


async def _token(
    session: aiohttp.ClientSession, url: str, session_id: object, serial: str
) -> tuple[int, bytes]:
    body = {"session_id": session_id, "serial_num": serial, "username": "owner"}
    async with session.post(url, json=body) as response:
        return response.status, await response.read()


async def test_login_and_raw_token(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    assert sim.login_url == f"{sim.cloud_url}/login/login.json"
    assert sim.tokens_url == f"{sim.cloud_url}/tokens"
    status, body, _ = await _login(
        session, sim.login_url, "owner@example.com", PASSWORD
    )
    assert status == 200
    assert body["message"] == "success"
    assert body["is_consumer"] is True
    assert isinstance(body["manager_token"], str)
    session_id = body["session_id"]
    status, raw = await _token(session, sim.tokens_url, session_id, sim.serial)
    assert status == 200
    token = raw.decode()
    assert token.count(".") == 2
    claims = TokenAuthority(seed=1).verify(token, serial=sim.serial, now=sim.now())
    assert claims.role == "owner"
    assert claims.expires_at - claims.issued_at == 365 * 86400
    answer = await fetch(session, sim, "/ivp/meters/readings", token=token)
    assert answer.status == 200
    assert sim.stats()["cloud"] == {"/login/login.json": 1, "/tokens": 1}


async def test_json_token_format(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    sim.add_cloud_account("json@example.com", "pw-123", token_format="json")
    status, body, _ = await _login(session, sim.login_url, "json@example.com", "pw-123")
    assert status == 200
    status, raw = await _token(session, sim.tokens_url, body["session_id"], sim.serial)
    assert status == 200
    payload = json.loads(raw)
    assert set(payload) == {"token", "expires_at", "generation_time"}
    assert payload["expires_at"] - payload["generation_time"] == 365 * 86400
    answer = await fetch(session, sim, "/ivp/meters", token=payload["token"])
    assert answer.status == 200


async def test_bad_credentials(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    status, body, _ = await _login(session, sim.login_url, "owner@example.com", "wrong")
    assert status == 401
    assert "session_id" not in body
    status, _, _ = await _login(session, sim.login_url, "nobody@example.com", PASSWORD)
    assert status == 401


async def test_mfa_account_gets_no_session(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    status, body, response = await _login(
        session, sim.login_url, "mfa@example.com", PASSWORD
    )
    assert status == 200
    assert "session_id" not in body
    assert "login_otp_nonce" in response.cookies


async def test_tokens_refused_without_session_or_for_unknown_serial(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    status, _ = await _token(session, sim.tokens_url, "made-up", sim.serial)
    assert status == 401
    _, body, _ = await _login(session, sim.login_url, "owner@example.com", PASSWORD)
    status, _ = await _token(
        session, sim.tokens_url, body["session_id"], "999999999999"
    )
    assert status == 401
    # Any serial the simulator knows works: a token for another gateway.
    status, raw = await _token(
        session, sim.tokens_url, body["session_id"], "202302019378"
    )
    assert status == 200
    answer = await fetch(session, sim, "/ivp/meters", token=raw.decode())
    assert answer.status == 401


async def test_cloud_faults(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/login/login.json", "http_503", count=1)
    status, _, _ = await _login(session, sim.login_url, "owner@example.com", PASSWORD)
    assert status == 503
    status, _, _ = await _login(session, sim.login_url, "owner@example.com", PASSWORD)
    assert status == 200
