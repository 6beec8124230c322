"""Profiles playing shapes seen on real gateways that break naive clients."""

import re

import aiohttp
import pytest

from envoy_simulator import FakeClock
from envoy_simulator.pages import three_significant

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch

_PAGE_VALUE = re.compile(r"<td>([A-Za-z ]+)</td><td>([\d.]+) (k|M|)(W|Wh)</td>")
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6}


def _page_values(page: bytes) -> dict[str, tuple[str, str, float]]:
    """Return each row of an old /production page: (number, unit, value in W or Wh)."""
    return {
        name: (number, prefix + unit, float(number) * _SCALE[prefix])
        for name, number, prefix, unit in _PAGE_VALUE.findall(page.decode())
    }


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (6630, "W", "6.63 kW"),
        (53_600, "Wh", "53.6 kWh"),
        (405_000, "Wh", "405 kWh"),
        (133_000_000, "Wh", "133 MWh"),
        (999.6, "W", "1.00 kW"),
        (999_499, "Wh", "999 kWh"),
        (5, "W", "5.00 W"),
        (0, "W", "0 W"),
        (4_567_890_000, "Wh", "4570 MWh"),
    ],
)
def test_three_significant_digits(value: float, unit: str, text: str) -> None:
    assert three_significant(value, unit) == text


@pytest.mark.parametrize("profile", ["envoy_r_html_only", "envoy_r_legacy"])
async def test_production_page_values_follow_the_inverters(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    clock = FakeClock(local_epoch(profile, 12))
    sim = await make_sim(profile, clock=clock)
    refused = await fetch(session, sim, "/production", authenticate=False)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Digest ")
    page = await fetch(session, sim, "/production")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    rows = _page_values(page.body)
    assert list(rows) == ["Currently", "Today", "Past Week", "Since Installation"]
    totals = sim.model.inverter_totals(sim.model.inverter_reports(sim.now()), sim.now())
    for (number, _, value), truth in zip(
        rows.values(),
        (
            totals.watts_now,
            totals.today_wh,
            totals.seven_days_wh,
            totals.lifetime_wh,
        ),
        strict=True,
    ):
        assert len(number.replace(".", "").lstrip("0")) == 3
        assert 1 <= float(number) < 1000
        assert value == pytest.approx(truth, rel=0.005)
    assert [unit for _, unit, _ in rows.values()] == ["kW", "kWh", "kWh", "MWh"]
    clock.advance(3 * 3600)
    later = _page_values((await fetch(session, sim, "/production")).body)
    assert later["Today"][2] > rows["Today"][2]


async def test_envoy_r_html_only_serves_no_json(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("envoy_r_html_only")
    assert sim.firmware.startswith("3.7.")
    for path in ("/production.json", "/production.json?details=1"):
        answer = await fetch(session, sim, path, authenticate=False)
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/json"
        assert b"<h1>Page Not Found</h1>" in answer.body
    for path in (
        "/api/v1/production",
        "/api/v1/production/inverters",
        "/ivp/meters",
        "/ivp/meters/readings",
        "/ivp/pdm/device_data",
        "/inventory.json",
    ):
        answer = await fetch(session, sim, path)
        assert answer.status == 404, path
        assert answer.headers["Content-Type"].startswith("text/html")
        assert b"Page Not Found" in answer.body


async def test_metered_7x_no_ct(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_7x_no_ct", 12))
    sim = await make_sim("metered_7x_no_ct", clock=clock)
    assert sim.firmware == "7.6.185"
    meters = (await fetch(session, sim, "/ivp/meters")).json()
    assert [(m["measurementType"], m["state"]) for m in meters] == [
        ("production", "disabled"),
        ("net-consumption", "disabled"),
    ]
    v1 = (await fetch(session, sim, "/api/v1/production")).json()
    reports = sim.model.inverter_reports(sim.now())
    assert v1["wattHoursLifetime"] == sum(r.lifetime_joules // 3600 for r in reports)
    assert v1["wattHoursLifetime"] > 3_000_000
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    inverters = body["production"][0]
    assert 100_000 < inverters["whLifetime"] < 900_000
    assert inverters["wNow"] == v1["wattsNow"] > 1000
    eims = [e for e in body["production"] + body["consumption"] if e["type"] == "eim"]
    assert [e["activeCount"] for e in eims] == [0, 0, 0]
    assert (await fetch(session, sim, "/ivp/pdm/device_data")).status == 401

    clock.advance(3600)
    later_v1 = (await fetch(session, sim, "/api/v1/production")).json()
    later = (await fetch(session, sim, "/production.json")).json()["production"][0]
    # Both count the same new energy; only the restarted block's base is lower.
    grown = later_v1["wattHoursLifetime"] - v1["wattHoursLifetime"]
    assert grown > 1000
    assert later["whLifetime"] - inverters["whLifetime"] == pytest.approx(grown, abs=12)


async def test_metered_no_ct_before_8_2_4264_reports_inverter_sums(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    sim.set_meter("production", enabled=False)
    v1 = (await fetch(session, sim, "/api/v1/production")).json()
    reports = sim.model.inverter_reports(sim.now())
    assert v1["wattHoursLifetime"] == sum(r.lifetime_joules // 3600 for r in reports)
    assert v1["wattsNow"] == sum(r.watts for r in reports) > 1000


async def test_no_inverter_list(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("no_inverter_list")
    missing = await fetch(session, sim, "/api/v1/production/inverters")
    assert missing.status == 404
    assert missing.json() == {"error": "404 - Not Found"}
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    pcus = [d for d in device_data.values() if isinstance(d, dict)]
    assert [d["devName"] for d in pcus] == ["pcu"] * 18
    assert all(d["active"] and not d["modGone"] for d in pcus)
    channels = [d["channels"][0] for d in pcus]
    assert all(
        sim.now() - 300 <= c["lastReading"]["endDate"] <= sim.now() for c in channels
    )
    assert sum(c["watts"]["now"] for c in channels) > 1000
    assert (await fetch(session, sim, "/ivp/meters")).json() == []


async def test_envoy_s_39_garbled_challenge(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("envoy_s_39_quirk")
    assert sim.firmware.startswith("3.9.")
    body = (await fetch(session, sim, "/production.json", authenticate=False)).json()
    assert [entry["type"] for entry in body["production"]] == ["inverters"]
    assert body["production"][0]["activeCount"] == 10
    assert body["production"][0]["wNow"] > 500
    assert body["consumption"] == []
    digest = 'Digest username="envoy", realm="enphaseenergy.com", nonce="x", uri="/"'
    for path in ("/api/v1/production", "/api/v1/production/inverters"):
        for headers in ({}, {"Authorization": digest}):
            answer = await fetch(
                session, sim, path, authenticate=False, headers=headers
            )
            assert answer.status == 401, path
            assert answer.headers["WWW-Authenticate"] == (
                "Digest realm=enphaseenergy.com, nonce"
            )
        with pytest.raises(aiohttp.ClientError, match="nonce"):
            await fetch(session, sim, path)
    info = await fetch(session, sim, "/info", authenticate=False)
    assert info.status == 200
    assert b"<pn>800-00551-r02</pn>" in info.body
    assert (await fetch(session, sim, "/production")).status == 200
    assert (await fetch(session, sim, "/ivp/meters")).status == 404


async def test_iq_meter_collar_meters(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("iq_meter_collar")
    assert sim.part_number.startswith("800-01")
    meters = (await fetch(session, sim, "/ivp/meters")).json()
    assert [(m["measurementType"], m["state"]) for m in meters] == [
        ("production", "enabled"),
        ("net-consumption", "enabled"),
        ("storage", "enabled"),
        ("backfeed", "enabled"),
        ("load", "disabled"),
        ("evse", "disabled"),
        ("pv3p", "disabled"),
    ]
    assert {(m["phaseMode"], m["phaseCount"]) for m in meters} == {("split", 2)}
    readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
    by_eid = {r["eid"]: r for r in readings}
    slot = {m["measurementType"]: m["eid"] for m in meters}
    assert [r["eid"] for r in readings][:4] == [m["eid"] for m in meters[:4]]
    unlisted = [r for r in readings if r["eid"] not in slot.values()]
    assert len(unlisted) == 1
    assert {
        unlisted[0][key] for key in ("activePower", "actEnergyDlvd", "voltage")
    } == {0.0}
    evse = by_eid[slot["evse"]]
    assert evse["activePower"] > 0
    assert evse["actEnergyDlvd"] > 0
    assert slot["load"] not in by_eid
    assert slot["pv3p"] not in by_eid
    production = by_eid[slot["production"]]
    backfeed = by_eid[slot["backfeed"]]
    assert 230 < production["voltage"] < 250
    assert 0 < backfeed["activePower"] < 0.2 * production["activePower"]
    assert backfeed["actEnergyDlvd"] < 0.2 * production["actEnergyDlvd"]
    assert len(backfeed["channels"]) == 3


async def test_iq_meter_collar_battery_and_backfeed_over_a_day(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("iq_meter_collar", 9))
    sim = await make_sim("iq_meter_collar", clock=clock)
    meters = (await fetch(session, sim, "/ivp/meters")).json()
    slot = {m["measurementType"]: m["eid"] for m in meters}

    async def reading(kind: str) -> dict[str, float]:
        readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
        return next(r for r in readings if r["eid"] == slot[kind])

    morning = await reading("storage")
    # The morning's surplus charges the battery: energy flows into it.
    assert morning["activePower"] < -500
    clock.set(local_epoch("iq_meter_collar", 20, 30))
    evening = await reading("storage")
    assert evening["activePower"] > 100
    assert evening["actEnergyRcvd"] - morning["actEnergyRcvd"] > 5000
    assert evening["actEnergyRcvd"] - morning["actEnergyRcvd"] < 10_000 / 0.95
    evening_backfeed = await reading("backfeed")
    # After sunset the backfeed is the battery's share only: small but not zero.
    assert 0 < evening_backfeed["activePower"] < 0.1 * evening["activePower"]
    acb = (await fetch(session, sim, "/production.json")).json()["storage"][0]
    assert 1000 <= acb["whNow"] <= 10_000


async def test_iq_meter_collar_api_production_zero_at_night(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("iq_meter_collar", 2))
    sim = await make_sim("iq_meter_collar", clock=clock)
    night = (await fetch(session, sim, "/api/v1/production")).json()
    assert night == {
        "wattHoursToday": 0,
        "wattHoursSevenDays": 0,
        "wattHoursLifetime": 0,
        "wattsNow": 0,
    }
    readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
    assert readings[0]["actEnergyDlvd"] > 1_000_000
    clock.set(local_epoch("iq_meter_collar", 12))
    day = (await fetch(session, sim, "/api/v1/production")).json()
    readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
    assert day["wattHoursLifetime"] == round(readings[0]["actEnergyDlvd"])
    assert day["wattsNow"] > 1000
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    names = [d["devName"] for d in device_data.values() if isinstance(d, dict)]
    assert sorted(set(names)) == ["eim", "nsrb", "pcu"]
    assert names.count("pcu") == 22
    assert device_data["deviceCount"] == 24


async def test_meters_missing_with_a_production_ct(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("meters_missing_with_ct")
    for path in ("/ivp/meters", "/ivp/meters/readings"):
        answer = await fetch(session, sim, path)
        assert answer.status == 404
        assert answer.json() == {"error": "404 - Not Found"}
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    eim = next(e for e in body["production"] if e["type"] == "eim")
    assert eim["measurementType"] == "production"
    assert eim["activeCount"] == 1
    assert eim["wNow"] > 1000
    v1 = (await fetch(session, sim, "/api/v1/production")).json()
    assert v1["wattHoursLifetime"] == pytest.approx(eim["whLifetime"], abs=1)
    assert v1["wattHoursLifetime"] != body["production"][0]["whLifetime"]


async def test_mod_gone_everywhere(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("mod_gone_everywhere")
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    devices = [d for d in device_data.values() if isinstance(d, dict)]
    assert sorted({d["devName"] for d in devices}) == ["eim", "pcu"]
    assert {d["modGone"] for d in devices} == {True}
    inverters = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    assert sorted(i["serialNumber"] for i in inverters) == sorted(
        d["sn"] for d in devices if d["devName"] == "pcu"
    )
    assert all(sim.now() - 300 <= i["lastReportDate"] <= sim.now() for i in inverters)
    assert all(i["lastReportWatts"] > 50 for i in inverters)
