"""Every fault kind, the 23:00 outage and firmware upgrades."""

import asyncio
import json
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from envoy_simulator import FAULT_KINDS, FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch

JOULE_WRAP = 2**32


async def test_hang_until_cleared(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    fault = sim.inject("/api/v1/production", "hang")
    request = asyncio.create_task(fetch(session, sim, "/api/v1/production"))
    done, _ = await asyncio.wait({request}, timeout=0.3)
    assert not done
    # Other endpoints keep answering while one hangs.
    assert (await fetch(session, sim, "/ivp/meters")).status == 200
    assert sim.clear_faults() == 1
    answer = await asyncio.wait_for(request, timeout=2)
    assert answer.status == 200
    assert fault.hits == 1


async def test_hang_with_count_holds_until_cleared(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/ivp/meters", "hang", count=1)
    hanging = asyncio.create_task(fetch(session, sim, "/ivp/meters"))
    done, _ = await asyncio.wait({hanging}, timeout=0.2)
    assert not done
    # The count is spent: the next request is answered while the first still hangs.
    assert (await fetch(session, sim, "/ivp/meters")).status == 200
    sim.clear_faults()
    assert (await asyncio.wait_for(hanging, timeout=2)).status == 200


async def test_hang_ends_with_its_duration_on_the_fake_clock(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12))
    sim = await make_sim("metered_split", clock=clock)
    sim.inject("/ivp/meters/readings", "hang", duration=30)
    request = asyncio.create_task(fetch(session, sim, "/ivp/meters/readings"))
    done, _ = await asyncio.wait({request}, timeout=0.2)
    assert not done
    clock.advance(31)
    answer = await asyncio.wait_for(request, timeout=2)
    assert answer.status == 200


async def test_hang_for_seconds_then_answer(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/info", "hang", count=1, seconds=0.25)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await fetch(session, sim, "/info", authenticate=False)
    assert answer.status == 200
    assert loop.time() - started >= 0.25
    started = loop.time()
    await fetch(session, sim, "/info", authenticate=False)
    assert loop.time() - started < 0.2


async def test_client_timeout_on_hang_is_counted(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/ivp/meters", "hang")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await fetch(session, sim, "/ivp/meters")
    for _ in range(50):
        await asyncio.sleep(0.01)
        if sim.stats()["endpoints"].get("/ivp/meters"):
            break
    assert sim.stats()["endpoints"]["/ivp/meters"]["status"] == {"0": 1}


@pytest.mark.parametrize(
    ("kind", "status"),
    [("http_500", 500), ("http_503", 503), ("not_found", 404)],
)
async def test_status_faults_with_count(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, kind: str, status: int
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    fault = sim.inject("/ivp/pdm/device_data", kind, count=2)  # type: ignore[arg-type]
    assert (await fetch(session, sim, "/ivp/pdm/device_data")).status == status
    assert (await fetch(session, sim, "/api/v1/production")).status == 200
    assert (await fetch(session, sim, "/ivp/pdm/device_data")).status == status
    assert (await fetch(session, sim, "/ivp/pdm/device_data")).status == 200
    assert fault.hits == 2
    assert sim.faults == []


async def test_not_found_body(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/ivp/meters", "not_found")
    assert (await fetch(session, sim, "/ivp/meters")).json() == {
        "error": "404 - Not Found"
    }


async def test_fault_duration_uses_the_simulator_clock(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12))
    sim = await make_sim("metered_split", clock=clock)
    sim.inject("*", "http_503", duration=60)
    assert (await fetch(session, sim, "/api/v1/production")).status == 503
    assert (await fetch(session, sim, "/ivp/meters")).status == 503
    clock.advance(59)
    assert (await fetch(session, sim, "/info")).status == 503
    clock.advance(2)
    assert (await fetch(session, sim, "/info")).status == 200


async def test_reset_closes_the_connection(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    # aiohttp retries an idempotent request once after a reset: two resets fail it.
    sim.inject("/ivp/meters/readings", "reset", count=2)
    with pytest.raises(aiohttp.ClientError):
        await fetch(session, sim, "/ivp/meters/readings")
    assert (await fetch(session, sim, "/ivp/meters/readings")).status == 200
    assert sim.stats()["endpoints"]["/ivp/meters/readings"]["status"] == {
        "0": 2,
        "200": 1,
    }


async def test_reset_on_plain_http_firmware(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    sim.inject("/api/v1/production", "reset", count=2)
    with pytest.raises(aiohttp.ClientError):
        await fetch(session, sim, "/api/v1/production")
    assert (await fetch(session, sim, "/api/v1/production")).status == 200


async def test_malformed_json(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/production.json", "malformed_json", count=1)
    answer = await fetch(session, sim, "/production.json?details=1")
    assert answer.status == 200
    assert answer.body.startswith(b'{"production": [')
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.body)
    assert "production" in (await fetch(session, sim, "/production.json")).json()


async def test_html_page_and_error_json(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.inject("/api/v1/production", "html_page")
    sim.inject("/ivp/meters", "error_json", message="Not available")
    page = await fetch(session, sim, "/api/v1/production")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.body.startswith(b"<!DOCTYPE html>")
    error = await fetch(session, sim, "/ivp/meters")
    assert error.status == 200
    assert error.json() == {"error": "Not available"}


async def test_token_revoked_affects_current_tokens_only(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12))
    sim = await make_sim("metered_split", clock=clock)
    old = sim.mint_token()
    sim.inject("*", "token_revoked", duration=3600)
    assert (await fetch(session, sim, "/api/v1/production", token=old)).status == 401
    new = sim.mint_token()
    assert (await fetch(session, sim, "/api/v1/production", token=new)).status == 200
    clock.advance(3601)
    assert (await fetch(session, sim, "/api/v1/production", token=old)).status == 200


async def test_token_revoked_on_digest_firmware(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    sim.inject("/production", "token_revoked", count=2)
    assert (await fetch(session, sim, "/production")).status == 401
    assert (await fetch(session, sim, "/production")).status == 200


async def test_zero_glitch(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    normal = (await fetch(session, sim, "/api/v1/production")).json()
    sim.inject("/api/v1/production", "zero_glitch", count=1)
    sim.inject("/ivp/meters/readings", "zero_glitch", count=1)
    glitched = (await fetch(session, sim, "/api/v1/production")).json()
    readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
    assert normal["wattHoursLifetime"] > 1_000_000
    assert glitched["wattHoursLifetime"] == 0
    assert glitched["wattHoursToday"] == 0
    assert glitched["wattsNow"] == normal["wattsNow"]
    assert readings[0]["actEnergyDlvd"] == 0
    assert readings[0]["channels"][0]["actEnergyDlvd"] == 0
    assert readings[0]["activePower"] > 0
    recovered = (await fetch(session, sim, "/api/v1/production")).json()
    assert recovered["wattHoursLifetime"] >= normal["wattHoursLifetime"]


async def test_active_count_zero(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    sim.inject("/production.json", "active_count_zero", count=1)
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    eims = [e for e in body["production"] + body["consumption"] if e["type"] == "eim"]
    assert [e["activeCount"] for e in eims] == [0, 0, 0]
    assert eims[0]["wNow"] > 100
    assert body["production"][0]["activeCount"] == 30
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    assert body["production"][1]["activeCount"] == 1


async def test_stale_payload(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12))
    sim = await make_sim("metered_split", clock=clock)
    sim.inject("/ivp/meters/readings", "stale")
    first = await fetch(session, sim, "/ivp/meters/readings")
    clock.advance(600)
    second = await fetch(session, sim, "/ivp/meters/readings")
    assert second.body == first.body
    assert "Content-Type" not in second.headers
    sim.clear_faults("/ivp/meters/readings")
    third = await fetch(session, sim, "/ivp/meters/readings")
    assert third.json()[0]["timestamp"] == first.json()[0]["timestamp"] + 600


async def test_outage_resets_everything_for_its_duration(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12))
    sim = await make_sim("metered_split", clock=clock)
    sim.inject("*", "outage", duration=120)
    for path in ("/info", "/ivp/meters/readings", "/production.json"):
        with pytest.raises(aiohttp.ClientError):
            await fetch(session, sim, path)
    async with session.get(f"http://{sim.address}/_sim/stats") as response:
        assert response.status == 200
    clock.advance(121)
    assert (await fetch(session, sim, "/ivp/meters/readings")).status == 200


async def test_counter_wrap_drops_inverter_joules_by_2_to_the_32(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_three_phase_storage", 12))
    sim = await make_sim("metered_three_phase_storage", clock=clock)
    serial = sim.model.inverters[3].serial
    fault = sim.inject("*", "counter_wrap", serial=serial)
    assert fault.params["serials"] == [serial]

    def channel(body: dict[str, object]) -> dict[str, dict[str, int]]:
        device = next(
            d for d in body.values() if isinstance(d, dict) and d.get("sn") == serial
        )
        return device["channels"][0]  # type: ignore[no-any-return]

    before = channel((await fetch(session, sim, "/ivp/pdm/device_data")).json())
    assert before["lifetime"]["joulesProduced"] == JOULE_WRAP - 500
    clock.advance(300)
    after = channel((await fetch(session, sim, "/ivp/pdm/device_data")).json())
    produced = after["lastReading"]["joulesProduced"]
    assert produced > 10_000
    drop = after["lifetime"]["joulesProduced"] - before["lifetime"]["joulesProduced"]
    assert drop == pytest.approx(produced - JOULE_WRAP, abs=2)


async def test_counter_wrap_drops_system_lifetime_on_non_metered(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("legacy_standard", 12))
    sim = await make_sim("legacy_standard", clock=clock)
    before = (await fetch(session, sim, "/api/v1/production")).json()
    sim.inject(
        "*", "counter_wrap", serial=sim.model.inverters[0].serial, mode="immediate"
    )
    after = (await fetch(session, sim, "/api/v1/production")).json()
    drop_wh = before["wattHoursLifetime"] - after["wattHoursLifetime"]
    assert 0 < drop_wh < JOULE_WRAP / 3600
    clock.advance(300)
    sim.inject("*", "counter_wrap")
    clock.advance(300)
    everyone = (await fetch(session, sim, "/api/v1/production")).json()
    # All ten inverters wrapped: each lost 2**32 J = 1193046 Wh (minus its new energy).
    assert everyone["wattHoursLifetime"] < 10 * 1000


def test_counter_wrap_unknown_serial_is_an_error() -> None:
    from envoy_simulator import EnvoySimulator  # noqa: PLC0415

    sim = EnvoySimulator("legacy_standard", clock=FakeClock(1753700000.0))
    with pytest.raises(ValueError, match="no inverter"):
        sim.inject("*", "counter_wrap", serial="000000000000")
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject("*", "explode")  # type: ignore[arg-type]
    assert "counter_wrap" in FAULT_KINDS


async def test_daily_outage_after_2300(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 22, 59))
    sim = await make_sim("metered_split", clock=clock, daily_outage=True)
    assert (await fetch(session, sim, "/info")).status == 200
    clock.set(
        local_epoch(
            "metered_split",
            23,
            1,
        )
        + 30
    )
    with pytest.raises(aiohttp.ClientError):
        await fetch(session, sim, "/ivp/meters/readings")
    clock.set(local_epoch("metered_split", 23, 3) + 30)
    assert (await fetch(session, sim, "/ivp/meters/readings")).status == 503
    clock.set(local_epoch("metered_split", 23, 5))
    assert (await fetch(session, sim, "/ivp/meters/readings")).status == 200


async def test_firmware_upgrade_legacy_to_8(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("legacy_standard", 12))
    sim = await make_sim("legacy_standard", clock=clock)
    before = (await fetch(session, sim, "/production.json")).json()
    sim.upgrade_firmware("metered_three_phase_storage", outage_seconds=60)
    with pytest.raises(aiohttp.ClientError):
        await fetch(session, sim, "/info", authenticate=False)
    assert sim.firmware == "5.0.62"
    clock.advance(61)
    assert sim.firmware == "8.2.4345"
    assert sim.serial == "122112123456"
    # HTTP now redirects, digest is gone, JWT over HTTPS is required.
    redirect = await fetch(
        session, sim, "/production.json", scheme="http", authenticate=False
    )
    assert redirect.status == 301
    info = await fetch(session, sim, "/info", authenticate=False)
    root = ET.fromstring(info.body)  # noqa: S314 - our own XML
    assert root.findtext("device/software") == "D8.2.4345"
    assert root.findtext("web-tokens") == "true"
    assert root.findtext("device/sn") == "122112123456"
    digest_only = await fetch(
        session,
        sim,
        "/api/v1/production/inverters",
        headers={"Authorization": 'Digest username="envoy"'},
    )
    assert digest_only.status == 401
    after = (await fetch(session, sim, "/production.json")).json()
    assert after["production"][0]["whLifetime"] >= before["production"][0]["whLifetime"]
    assert after["production"][0]["activeCount"] == 10
    # Same hardware: still non-metered, so no CTs appear; device_data does (fw 8.2).
    assert (await fetch(session, sim, "/ivp/meters")).json() == []
    assert (await fetch(session, sim, "/ivp/pdm/device_data")).status == 200
