"""Request statistics, latency and the HTTP control API under /_sim."""

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock, ShiftedClock

from .conftest import SimulatorFactory
from .helpers import fetch


async def _control(
    session: aiohttp.ClientSession,
    sim: EnvoySimulator,
    method: str,
    route: str,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    # The control API answers on plain HTTP even when the gateway wants HTTPS.
    async with session.request(
        method, f"http://{sim.address}/_sim/{route}", json=body
    ) as response:
        return response.status, await response.json()


async def test_stats_count_requests_per_path(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    await fetch(session, sim, "/production.json?details=1")
    await fetch(session, sim, "/production.json")
    await fetch(session, sim, "/ivp/meters", token="bad.token.value")
    await fetch(session, sim, "/info", scheme="http")
    stats = sim.stats()
    assert stats["total_requests"] == 4
    assert stats["endpoints"]["/production.json"]["requests"] == 2
    assert stats["endpoints"]["/production.json"]["status"] == {"200": 2}
    assert stats["endpoints"]["/ivp/meters"]["status"] == {"401": 1}
    assert stats["endpoints"]["/info"]["status"] == {"301": 1}
    assert stats["busy_seconds"] == 0.0
    log = sim.request_log
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/production.json", 200),
        ("GET", "/production.json", 200),
        ("GET", "/ivp/meters", 401),
        ("GET", "/info", 301),
    ]
    assert all(r.time == sim.now() for r in log)
    sim.reset_stats()
    assert sim.stats()["total_requests"] == 0
    assert sim.request_log == []


async def test_latency_serialises_requests(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split", latency=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(
        *(
            fetch(session, sim, path)
            for path in (
                "/info",
                "/ivp/meters",
                "/ivp/meters/readings",
                "/api/v1/production",
            )
        )
    )
    elapsed = loop.time() - started
    assert [a.status for a in answers] == [200, 200, 200, 200]
    stats = sim.stats()
    busy = stats["busy_seconds"]
    assert 0.02 * 4 <= busy <= 0.4 * 4
    # One request at a time: the wall time covers every request's service time.
    assert elapsed >= busy - 0.01
    for path, (low, high) in {
        "/info": (0.02, 0.3),
        "/ivp/meters": (0.07, 0.3),
        "/ivp/meters/readings": (0.08, 0.3),
        "/api/v1/production": (0.04, 0.4),
    }.items():
        assert low <= stats["endpoints"][path]["busy_seconds"] <= high


async def test_control_api(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(1753700000.0)
    sim = await make_sim("metered_split", clock=clock)
    await fetch(session, sim, "/ivp/meters")
    status, stats = await _control(session, sim, "GET", "stats")
    assert status == 200
    assert stats["endpoints"]["/ivp/meters"]["requests"] == 1
    status, log = await _control(session, sim, "GET", "log?limit=1")
    assert log == [
        {
            "time": 1753700000.0,
            "method": "GET",
            "path": "/ivp/meters",
            "status": 200,
            "duration_s": log[0]["duration_s"],
        }
    ]
    status, _ = await _control(session, sim, "POST", "reset_stats")
    assert status == 200
    assert sim.stats()["total_requests"] == 0

    status, fault = await _control(
        session,
        sim,
        "POST",
        "fault",
        {"endpoint": "/ivp/meters", "kind": "http_503", "count": 1, "params": {}},
    )
    assert status == 200
    assert fault["kind"] == "http_503"
    assert fault["active"] is True
    status, listed = await _control(session, sim, "GET", "fault")
    assert [f["id"] for f in listed] == [fault["id"]]
    assert (await fetch(session, sim, "/ivp/meters")).status == 503
    assert (await fetch(session, sim, "/ivp/meters")).status == 200
    await _control(session, sim, "POST", "fault", {"endpoint": "*", "kind": "http_500"})
    status, cleared = await _control(session, sim, "DELETE", "fault")
    assert cleared == {"cleared": 1}
    assert (await fetch(session, sim, "/ivp/meters")).status == 200

    status, minted = await _control(session, sim, "GET", "token?role=installer")
    assert minted["expires_at"] == 1753700000 + 12 * 3600
    assert (
        await fetch(session, sim, "/ivp/meters", token=minted["token"])
    ).status == 200

    status, moved = await _control(session, sim, "POST", "clock", {"advance": 90})
    assert moved == {"now": 1753700090.0}
    assert sim.now() == 1753700090.0

    status, info = await _control(session, sim, "GET", "info")
    assert info["serial"] == sim.serial
    assert info["firmware"] == "7.6.175"

    status, upgraded = await _control(
        session, sim, "POST", "upgrade", {"profile": "large_site", "outage_seconds": 0}
    )
    assert upgraded["firmware_after"] == "8.3.5167"
    assert sim.firmware == "8.3.5167"
    # Control requests are not gateway traffic.
    assert "/_sim/stats" not in sim.stats()["endpoints"]


async def test_control_api_errors(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split", clock=None)
    status, body = await _control(session, sim, "POST", "clock", {"advance": 5})
    assert status == 409
    status, body = await _control(
        session, sim, "POST", "fault", {"endpoint": "/x", "kind": "explode"}
    )
    assert status == 400
    assert "unknown fault kind" in body["error"]
    status, body = await _control(session, sim, "POST", "upgrade", {"profile": "nope"})
    assert status == 400
    status, body = await _control(session, sim, "GET", "token?role=admin")
    assert status == 400
    status, body = await _control(session, sim, "GET", "nothing-here")
    assert status == 404


def test_default_clock_reads_time_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time  # noqa: PLC0415

    sim = EnvoySimulator("legacy_standard")
    monkeypatch.setattr(time, "time", lambda: 1234567890.5)
    assert sim.now() == 1234567890.5


def test_fake_clock() -> None:
    clock = FakeClock(start=100.0)
    assert clock() == 100.0
    assert clock.advance(5) == 105.0
    assert clock.set(50) == 50.0
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


def test_shifted_clock_runs_in_real_time_from_a_chosen_local_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time  # noqa: PLC0415

    real = 1764680000.0  # 2025-12-02 12:53:20 UTC
    monkeypatch.setattr(time, "time", lambda: real)
    clock = ShiftedClock.local_time("Europe/Amsterdam", 6, 45)
    assert (
        clock()
        == datetime(2025, 12, 2, 6, 45, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
    )
    monkeypatch.setattr(time, "time", lambda: real + 90.5)
    assert (
        clock()
        == datetime(
            2025, 12, 2, 6, 46, 30, 500000, tzinfo=ZoneInfo("Europe/Amsterdam")
        ).timestamp()
    )
    assert repr(ShiftedClock(-3600.0)) == "ShiftedClock(-3600.0)"
    with pytest.raises(ValueError, match="no such time of day: 24:00"):
        ShiftedClock.local_time("Europe/Amsterdam", 24, 0)
    sim = EnvoySimulator("metered_split", clock=clock)
    assert sim.now() == clock()


async def test_address_and_urls(make_sim: SimulatorFactory) -> None:
    sim = await make_sim("large_site")
    assert sim.address == f"127.0.0.1:{sim.port}"
    assert sim.port > 0
    assert sim.cloud_url.startswith("http://127.0.0.1:")
    assert sim.profile.name == "large_site"
    assert sim.part_number == "800-00654-r08"


async def test_context_manager_and_stop_closes_listener() -> None:
    async with EnvoySimulator("metered_split", clock=FakeClock(1753700000.0)) as sim:
        port = sim.port
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_stop_with_open_and_idle_connections(
    session: aiohttp.ClientSession,
) -> None:
    sim = EnvoySimulator("metered_split", clock=FakeClock(1753700000.0))
    await sim.start()
    await fetch(session, sim, "/ivp/meters")
    # A connection that never sends a byte, and one mid-TLS-handshake.
    _, silent = await asyncio.open_connection("127.0.0.1", sim.port)
    sim.inject("/api/v1/production", "hang")
    hanging = asyncio.create_task(fetch(session, sim, "/api/v1/production"))
    await asyncio.sleep(0.1)
    await sim.stop()
    with pytest.raises(aiohttp.ClientError):
        await hanging
    silent.close()
    await silent.wait_closed()
