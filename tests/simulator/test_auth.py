"""Digest auth (firmware < 7), JWT auth and TLS/redirect behaviour (firmware >= 7)."""

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock
from envoy_simulator.auth import installer_password

from .conftest import SimulatorFactory
from .helpers import fetch


def test_installer_password_check_value() -> None:
    assert installer_password("122112123456") == "d525d2jh"


async def test_legacy_serial_is_the_check_value(make_sim: SimulatorFactory) -> None:
    sim = await make_sim("legacy_standard")
    assert sim.serial == "122112123456"
    assert sim.installer_password == "d525d2jh"
    assert sim.envoy_password == "123456"


@pytest.mark.parametrize(
    ("user", "password"), [("envoy", "123456"), ("installer", "d525d2jh")]
)
async def test_digest_users_are_accepted(
    make_sim: SimulatorFactory,
    session: aiohttp.ClientSession,
    user: str,
    password: str,
) -> None:
    sim = await make_sim("legacy_standard")
    for path in ("/api/v1/production/inverters", "/production"):
        answer = await fetch(session, sim, path, user=user, password=password)
        assert answer.status == 200, path
    assert len((await fetch(session, sim, "/api/v1/production/inverters")).json()) == 10


async def test_digest_challenge_and_wrong_password(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    challenge = await fetch(session, sim, "/production", authenticate=False)
    assert challenge.status == 401
    header = challenge.headers["WWW-Authenticate"]
    assert header.startswith("Digest ")
    assert 'realm="enphaseenergy.com"' in header
    assert 'qop="auth"' in header
    wrong = await fetch(session, sim, "/production", user="installer", password="nope")
    assert wrong.status == 401
    stranger = await fetch(session, sim, "/production", user="admin", password="123456")
    assert stranger.status == 401


async def test_open_endpoints_need_no_digest(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    for path in ("/info", "/api/v1/production", "/production.json", "/home.json"):
        answer = await fetch(session, sim, path, authenticate=False)
        assert answer.status == 200, path


async def test_envoy_r_closes_connection_on_digest_challenge(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("envoy_r_legacy")
    challenge = await fetch(
        session, sim, "/api/v1/production/inverters", authenticate=False
    )
    assert challenge.status == 401
    assert challenge.headers["Connection"] == "close"
    answer = await fetch(session, sim, "/api/v1/production/inverters")
    assert answer.status == 200


async def test_tls_is_refused_below_firmware_7(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard", https_port=0)
    assert sim.https_port is not None
    with pytest.raises(aiohttp.ClientError):
        await fetch(session, sim, "/info", scheme="https", authenticate=False)
    with pytest.raises(aiohttp.ClientError):
        await session.get(f"https://127.0.0.1:{sim.https_port}/info")
    plain = await fetch(session, sim, "/info", scheme="http", authenticate=False)
    assert plain.status == 200


async def test_plain_http_redirects_on_firmware_7(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    for path in ("/info", "/api/v1/production", "/production.json?details=1"):
        answer = await fetch(session, sim, path, scheme="http")
        assert answer.status == 301
        assert answer.headers["Location"] == f"https://127.0.0.1:{sim.port}{path}"
    followed = await fetch(session, sim, "/api/v1/production", scheme="https")
    assert followed.status == 200


async def test_extra_ports_redirect_to_the_https_port(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage", http_port=0, https_port=0)
    assert sim.http_port is not None
    assert sim.https_port is not None
    async with session.get(
        f"http://127.0.0.1:{sim.http_port}/ivp/meters", allow_redirects=False
    ) as response:
        assert response.status == 301
        location = response.headers["Location"]
    assert location == f"https://127.0.0.1:{sim.https_port}/ivp/meters"
    async with session.get(
        location, headers={"Authorization": f"Bearer {sim.mint_token()}"}
    ) as response:
        assert response.status == 200
        assert len(await response.read()) > 100


async def test_jwt_acceptance(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    owner = sim.mint_token()
    installer = sim.mint_token(role="installer", username="installer@example.com")
    assert (await fetch(session, sim, "/ivp/meters", token=owner)).status == 200
    assert (await fetch(session, sim, "/ivp/meters", token=installer)).status == 200
    assert (await fetch(session, sim, "/info", authenticate=False)).status == 200


@pytest.mark.parametrize(
    "token_kind", ["missing", "garbage", "expired", "other_serial", "other_key"]
)
async def test_jwt_rejection(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, token_kind: str
) -> None:
    sim = await make_sim("metered_split")
    tokens = {
        "missing": "",
        "garbage": "not-a.jwt.at-all",
        "expired": sim.mint_token(lifetime_seconds=-10),
        "other_serial": sim.mint_token(serial="202302019378"),
        "other_key": EnvoySimulator("metered_split", seed=99).mint_token(),
    }
    headers = {"Authorization": f"Bearer {tokens[token_kind]}"}
    answer = await fetch(session, sim, "/api/v1/production", headers=headers)
    assert answer.status == 401
    assert "error" in answer.json()


async def test_token_expires_on_the_simulator_clock(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(1753700000.0)
    sim = await make_sim("metered_split", clock=clock)
    installer = sim.mint_token(role="installer")
    assert (await fetch(session, sim, "/ivp/meters", token=installer)).status == 200
    clock.advance(12 * 3600 - 1)
    assert (await fetch(session, sim, "/ivp/meters", token=installer)).status == 200
    clock.advance(2)
    assert (await fetch(session, sim, "/ivp/meters", token=installer)).status == 401


async def test_revocation(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    first = sim.mint_token()
    second = sim.mint_token()
    sim.revoke_token(first)
    assert (await fetch(session, sim, "/ivp/meters", token=first)).status == 401
    assert (await fetch(session, sim, "/ivp/meters", token=second)).status == 200
    sim.revoke_all_tokens()
    assert (await fetch(session, sim, "/ivp/meters", token=second)).status == 401
    fresh = sim.mint_token()
    assert (await fetch(session, sim, "/ivp/meters", token=fresh)).status == 200


async def test_check_jwt_session_cookie(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(1753700000.0)
    sim = await make_sim("metered_three_phase_storage", clock=clock)
    answer = await fetch(session, sim, "/auth/check_jwt")
    assert answer.status == 200
    assert answer.body == b"<!DOCTYPE html><h2>Valid token.</h2>"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("sessionId=")
    session_id = cookie.split(";")[0].split("=", 1)[1]
    with_cookie = {"Cookie": f"sessionId={session_id}"}
    readings = await fetch(
        session, sim, "/ivp/meters/readings", authenticate=False, headers=with_cookie
    )
    assert readings.status == 200
    clock.advance(601)
    expired = await fetch(
        session, sim, "/ivp/meters/readings", authenticate=False, headers=with_cookie
    )
    assert expired.status == 401
    bad = await fetch(session, sim, "/auth/check_jwt", token="x.y.z")
    assert bad.status == 401
