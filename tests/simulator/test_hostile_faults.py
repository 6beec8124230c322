"""Trickled answers, hostile bodies, 401 bursts and redirects, over real sockets."""

import asyncio
import json
import math
import re
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from envoy_simulator import FAULT_KINDS, FakeClock, faults

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch


def test_every_kind_is_documented() -> None:
    documented = set(re.findall(r"^- ``(\w+)``:", faults.__doc__ or "", re.MULTILINE))
    assert documented == set(FAULT_KINDS)
    assert set(faults.FAULT_HANDLERS) == set(FAULT_KINDS)


async def test_trickle_holds_the_last_byte_until_cleared(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    normal = await fetch(session, sim, "/ivp/meters")
    sim.inject("/ivp/meters", "trickle", count=1, bytes_per_second=40)
    loop = asyncio.get_running_loop()
    async with session.get(
        f"https://{sim.address}/ivp/meters",
        headers={"Authorization": f"Bearer {sim.mint_token()}"},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(normal.body))
        assert "Content-Type" not in response.headers
        started = loop.time()
        first = await response.content.readexactly(60)
        # 40 bytes a second, 20 at a time: the first 60 take about a second.
        assert loop.time() - started >= 0.9
        rest = asyncio.create_task(response.content.read())
        # Other connections are served meanwhile, the trickle's count is spent.
        assert (await fetch(session, sim, "/ivp/meters")).body == normal.body
        assert (await fetch(session, sim, "/info")).status == 200
        done, _ = await asyncio.wait({rest}, timeout=0.3)
        assert not done
        assert sim.clear_faults() == 0
        body = first + await asyncio.wait_for(rest, timeout=2)
    assert body == normal.body
    assert sim.stats()["endpoints"]["/ivp/meters"]["status"] == {"200": 3}


async def test_trickle_never_finishes_a_small_body_while_active(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("legacy_standard", 12))
    sim = await make_sim("legacy_standard", clock=clock)
    normal = await fetch(session, sim, "/api/v1/production")
    sim.inject("/api/v1/production", "trickle", duration=60, bytes_per_second=1000)
    async with session.get(f"http://{sim.address}/api/v1/production") as response:
        assert response.status == 200
        length = int(response.headers["Content-Length"])
        assert response.headers["Content-Type"] == "application/json"
        head = await response.content.readexactly(length - 1)
        tail = asyncio.create_task(response.content.read())
        done, _ = await asyncio.wait({tail}, timeout=0.6)
        assert not done
        clock.advance(61)
        body = head + await asyncio.wait_for(tail, timeout=2)
    assert body == normal.body


async def test_trickle_drops_when_the_simulator_stops(
    session: aiohttp.ClientSession,
) -> None:
    from envoy_simulator import EnvoySimulator  # noqa: PLC0415

    sim = EnvoySimulator("legacy_standard", clock=FakeClock(1753700000.0))
    await sim.start()
    sim.inject("/info", "trickle")
    async with session.get(f"http://{sim.address}/info") as response:
        assert response.status == 200
        await response.content.readexactly(1)
        await sim.stop()
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


def test_trickle_rate_must_be_positive() -> None:
    from envoy_simulator import EnvoySimulator  # noqa: PLC0415

    sim = EnvoySimulator("legacy_standard", clock=FakeClock(1753700000.0))
    with pytest.raises(ValueError, match="bytes_per_second must be a positive"):
        sim.inject("/info", "trickle", bytes_per_second=0)
    with pytest.raises(ValueError, match="bytes_per_second must be a positive"):
        sim.inject("/info", "trickle", bytes_per_second="fast")
    with pytest.raises(ValueError, match="mode must be"):
        sim.inject("/info", "unknown_encoding", mode="ebcdic")
    assert sim.faults == []


async def test_deep_nesting(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/api/v1/production", "deep_nesting", count=1)
    sim.inject("/ivp/meters", "deep_nesting", count=1, depth=4)
    answer = await fetch(session, sim, "/api/v1/production")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.body == b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(answer.body)
    assert (await fetch(session, sim, "/ivp/meters")).body == b"[[[[]]]]"
    assert "wattsNow" in (await fetch(session, sim, "/api/v1/production")).json()


async def test_huge_numbers(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    normal = (await fetch(session, sim, "/ivp/meters/readings")).json()
    sim.inject("/ivp/meters/readings", "huge_numbers", count=1)
    sim.inject("/api/v1/production", "huge_numbers", count=1, digits=30)
    answer = await fetch(session, sim, "/ivp/meters/readings")
    assert answer.status == 200
    assert b"1" + b"0" * 400 + b"," in answer.body
    huge = answer.json()
    assert normal[1]["activePower"] < 0
    assert huge[0]["activePower"] == 10**400
    assert huge[1]["activePower"] == -(10**400)
    assert huge[0]["channels"][2]["actEnergyDlvd"] == 10**400
    assert [set(entry) for entry in huge] == [set(entry) for entry in normal]
    production = (await fetch(session, sim, "/api/v1/production")).json()
    assert set(production.values()) == {10**30}


async def test_infinite_numbers(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/api/v1/production", "infinite_numbers", count=1)
    sim.inject("/ivp/meters/readings", "infinite_numbers", count=1)
    answer = await fetch(session, sim, "/api/v1/production")
    assert answer.body == (
        b'{"wattHoursToday": 1e999, "wattHoursSevenDays": 1e999, '
        b'"wattHoursLifetime": 1e999, "wattsNow": 1e999}'
    )
    assert answer.json()["wattsNow"] == math.inf
    readings = await fetch(session, sim, "/ivp/meters/readings")
    assert b'"activePower": -1e999' in readings.body
    assert readings.json()[1]["activePower"] == -math.inf
    assert b"Infinity" not in readings.body


async def test_unknown_encoding_of_info(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    normal = await fetch(session, sim, "/info", authenticate=False)
    sim.inject("/info", "unknown_encoding", count=1)
    answer = await fetch(session, sim, "/info", authenticate=False)
    assert answer.status == 200
    assert answer.body.startswith(
        b"<?xml version='1.0' encoding=\"x-no-such-codec\"?>\n<envoy_info>"
    )
    assert answer.body.split(b"\n", 1)[1] == normal.body.split(b"\n", 1)[1]
    with pytest.raises(LookupError, match="x-no-such-codec"):
        ET.fromstring(answer.body)  # noqa: S314 - our own XML


async def test_unknown_encoding_of_json(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    normal = await fetch(session, sim, "/api/v1/production")
    sim.inject("/api/v1/production", "unknown_encoding", count=1)
    utf16 = await fetch(session, sim, "/api/v1/production")
    assert utf16.body[:4] == b'{\x00"\x00'
    assert utf16.body.decode("utf-16-le") == normal.body.decode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(utf16.body.decode("utf-8"))
    sim.inject("/api/v1/production", "unknown_encoding", count=1, mode="invalid-utf8")
    broken = await fetch(session, sim, "/api/v1/production")
    assert broken.body.replace(b"\xc3\x28\xff", b"") == normal.body
    with pytest.raises(UnicodeDecodeError):
        broken.body.decode("utf-8")


async def test_http_401_burst_with_tokens(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("*", "http_401", count=3)
    for path in ("/auth/check_jwt", "/api/v1/production", "/ivp/meters"):
        answer = await fetch(session, sim, path)
        assert answer.status == 401, path
        assert answer.json() == {"error": "401 - Unauthorized"}
    check = await fetch(session, sim, "/auth/check_jwt")
    assert check.status == 200
    assert b"Valid token." in check.body
    assert sim.faults == []


async def test_http_401_burst_with_digest(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    sim.inject("/api/v1/production", "http_401", count=2)
    for _ in range(2):
        answer = await fetch(session, sim, "/api/v1/production", authenticate=False)
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"].startswith(
            'Digest realm="enphaseenergy.com", qop="auth", nonce="'
        )
    recovered = await fetch(session, sim, "/api/v1/production", authenticate=False)
    assert recovered.status == 200
    assert recovered.json()["wattHoursLifetime"] > 0


async def test_redirect_without_an_upgrade(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    sim.inject("*", "redirect", count=2)
    for path in ("/info", "/production.json?details=1"):
        answer = await fetch(session, sim, path)
        assert answer.status == 301
        assert answer.headers["Location"] == f"https://{sim.address}{path}"
    assert sim.firmware == "5.0.62"
    assert (await fetch(session, sim, "/info")).status == 200
