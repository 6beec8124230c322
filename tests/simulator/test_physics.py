"""Values evolve with the clock: energy is the integral of power, phases add up."""

from itertools import pairwise
import time
from typing import Any

import aiohttp
import pytest

from envoy_simulator import FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch

JOULE_WRAP = 2**32


def _by_eid(readings: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {reading["eid"]: reading for reading in readings}


@pytest.mark.parametrize(
    ("profile", "hour"),
    [
        ("metered_three_phase_storage", 9),
        ("metered_three_phase_storage", 19),
        ("metered_split", 12),
        ("total_consumption", 17),
    ],
)
async def test_ct_energy_is_the_integral_of_power(
    make_sim: SimulatorFactory,
    session: aiohttp.ClientSession,
    profile: str,
    hour: int,
) -> None:
    clock = FakeClock(local_epoch(profile, hour))
    sim = await make_sim(profile, clock=clock)
    token = sim.mint_token()
    step_s = 10
    samples = [
        _by_eid((await fetch(session, sim, "/ivp/meters/readings", token=token)).json())
    ]
    for _ in range(180):
        clock.advance(step_s)
        samples.append(
            _by_eid(
                (await fetch(session, sim, "/ivp/meters/readings", token=token)).json()
            )
        )
    hours = step_s / 3600
    for eid in samples[0]:
        series = [s[eid] for s in samples]
        channels = [
            [s["channels"][phase] for s in series]
            for phase in range(3)
            if series[0]["channels"][phase]["voltage"] > 0
        ]
        for values in [series, *channels]:
            active = [v["activePower"] for v in values]
            integral_wh = sum((a + b) / 2 * hours for a, b in pairwise(active))
            delivered = values[-1]["actEnergyDlvd"] - values[0]["actEnergyDlvd"]
            received = values[-1]["actEnergyRcvd"] - values[0]["actEnergyRcvd"]
            assert delivered - received == pytest.approx(integral_wh, abs=0.05)
            apparent = [v["apparentPower"] for v in values]
            apparent_wh = sum((a + b) / 2 * hours for a, b in pairwise(apparent))
            assert values[-1]["apparentEnergy"] - values[0][
                "apparentEnergy"
            ] == pytest.approx(apparent_wh, abs=0.05)
            reactive = [v["reactivePower"] for v in values]
            reactive_varh = sum((a + b) / 2 * hours for a, b in pairwise(reactive))
            lag = values[-1]["reactEnergyLagg"] - values[0]["reactEnergyLagg"]
            lead = values[-1]["reactEnergyLead"] - values[0]["reactEnergyLead"]
            assert lag - lead == pytest.approx(reactive_varh, abs=0.05)
    # Something actually flowed: production in the day, or battery/grid in the evening.
    flows = [
        abs(samples[-1][eid]["actEnergyDlvd"] - samples[0][eid]["actEnergyDlvd"])
        for eid in samples[0]
    ]
    assert max(flows) > 50


async def test_energy_matches_average_power_over_an_hour(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 11))
    sim = await make_sim("metered_split", clock=clock)
    watts: list[float] = []
    first = (await fetch(session, sim, "/ivp/meters/readings")).json()[0]
    for _ in range(60):
        clock.advance(60)
        watts.append(
            (await fetch(session, sim, "/ivp/meters/readings")).json()[0]["activePower"]
        )
    last = (await fetch(session, sim, "/ivp/meters/readings")).json()[0]
    produced_wh = last["actEnergyDlvd"] - first["actEnergyDlvd"]
    average_w = sum(watts) / len(watts)
    assert average_w > 1000
    assert produced_wh == pytest.approx(average_w * 1.0, rel=0.03)


@pytest.mark.parametrize(
    "profile",
    ["metered_split", "metered_three_phase_storage", "total_consumption", "large_site"],
)
async def test_phases_sum_to_aggregates(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    sim = await make_sim(profile)
    phase_count = sim.profile.phase_count
    meters = {m["eid"]: m for m in (await fetch(session, sim, "/ivp/meters")).json()}
    for reading in (await fetch(session, sim, "/ivp/meters/readings")).json():
        if reading["eid"] not in meters:
            continue
        real = reading["channels"][:phase_count]
        for key in (
            "actEnergyDlvd",
            "actEnergyRcvd",
            "apparentEnergy",
            "activePower",
            "reactivePower",
            "apparentPower",
            "current",
        ):
            assert reading[key] == pytest.approx(sum(c[key] for c in real), abs=0.002)
        # The aggregate voltage is the SUM of phase voltages, as on the device.
        assert reading["voltage"] == pytest.approx(
            sum(c["voltage"] for c in real), abs=0.002
        )
        assert reading["voltage"] > 100 * phase_count
        unused = reading["channels"][phase_count:]
        assert all(
            c["activePower"] == 0.0 and c["actEnergyDlvd"] == 0.0 for c in unused
        )
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    for entry in body["production"][1:] + body["consumption"]:
        lines = entry["lines"]
        assert len(lines) == phase_count
        for key in ("wNow", "whLifetime", "vahLifetime", "whToday", "reactPwr"):
            assert entry[key] == pytest.approx(
                sum(line[key] for line in lines), abs=0.002
            )
        assert entry["rmsVoltage"] == pytest.approx(
            sum(line["rmsVoltage"] for line in lines), abs=0.002
        )


async def test_split_phase_unused_channel_is_zero_and_voltage_near_240(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    production = (await fetch(session, sim, "/ivp/meters/readings")).json()[0]
    assert 236 < production["voltage"] < 250
    assert production["freq"] == pytest.approx(60.0, abs=0.05)
    third = production["channels"][2]
    assert {
        k: v for k, v in third.items() if k not in ("eid", "timestamp", "freq")
    } == dict.fromkeys([k for k in third if k not in ("eid", "timestamp", "freq")], 0.0)


async def test_counters_are_monotonic_over_a_day(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_three_phase_storage", 0, 2))
    sim = await make_sim("metered_three_phase_storage", clock=clock)
    token = sim.mint_token()
    previous: dict[str, float] = {}
    seen_net_lifetime: list[float] = []
    for _ in range(24 * 6):
        readings = (
            await fetch(session, sim, "/ivp/meters/readings", token=token)
        ).json()
        production = (
            await fetch(session, sim, "/api/v1/production", token=token)
        ).json()
        device_data = (
            await fetch(session, sim, "/ivp/pdm/device_data", token=token)
        ).json()
        body = (await fetch(session, sim, "/production.json", token=token)).json()
        current: dict[str, float] = {"v1_lifetime": production["wattHoursLifetime"]}
        for reading in readings:
            for key in (
                "actEnergyDlvd",
                "actEnergyRcvd",
                "apparentEnergy",
                "reactEnergyLagg",
                "reactEnergyLead",
            ):
                current[f"{reading['eid']}/{key}"] = reading[key]
                for phase, channel in enumerate(reading["channels"]):
                    current[f"{reading['eid']}/{phase}/{key}"] = channel[key]
        for key, entry in device_data.items():
            if (
                isinstance(entry, dict)
                and entry["devName"] == "pcu"
                and entry["active"]
            ):
                lifetime = entry["channels"][0]["lifetime"]["joulesProduced"]
                # Lifetime joules only wrap at 2**32; compare modulo the wrap.
                current[f"{key}/joules"] = previous.get(f"{key}/joules", lifetime) + (
                    (lifetime - previous.get(f"{key}/raw", lifetime)) % JOULE_WRAP
                )
                current[f"{key}/raw"] = lifetime
        current["eim_production"] = body["production"][1]["whLifetime"]
        current["eim_total"] = body["consumption"][0]["whLifetime"]
        seen_net_lifetime.append(body["consumption"][1]["whLifetime"])
        for key, value in current.items():
            assert value >= previous.get(key, value) - 1e-6, key
        previous = current
        clock.advance(600)
    # Net lifetime (import - export) falls while exporting and rises while importing.
    steps = [b - a for a, b in pairwise(seen_net_lifetime)]
    assert min(steps) < -100
    assert max(steps) > 10


async def test_daily_counters_reset_at_local_midnight(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 23, 50))
    sim = await make_sim("metered_split", clock=clock)
    before = (await fetch(session, sim, "/production.json")).json()
    before_v1 = (await fetch(session, sim, "/api/v1/production")).json()
    assert before["production"][1]["whToday"] > 10000
    assert before_v1["wattHoursToday"] > 10000
    clock.advance(20 * 60)
    after = (await fetch(session, sim, "/production.json")).json()
    after_v1 = (await fetch(session, sim, "/api/v1/production")).json()
    assert after["production"][1]["whToday"] == 0.0
    assert after_v1["wattHoursToday"] == 0
    assert 0 < after["consumption"][0]["whToday"] < 1000
    assert (
        after_v1["wattHoursSevenDays"]
        > before_v1["wattHoursSevenDays"] - before_v1["wattHoursToday"]
    )


async def test_inverters_report_every_five_minutes_staggered(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_three_phase_storage", 12))
    sim = await make_sim("metered_three_phase_storage", clock=clock)
    now = int(sim.now())
    first = {
        e["serialNumber"]: e
        for e in (await fetch(session, sim, "/api/v1/production/inverters")).json()
        if e["lastReportWatts"] > 0
    }
    assert len(first) == 30
    ages = [now - e["lastReportDate"] for e in first.values()]
    assert all(0 <= age < 300 for age in ages)
    assert len({e["lastReportDate"] % 300 for e in first.values()}) > 20
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    pcus = {
        d["sn"]: d["channels"][0]
        for d in device_data.values()
        if isinstance(d, dict) and d["devName"] == "pcu" and d["active"]
    }
    for serial, entry in first.items():
        reading = pcus[serial]["lastReading"]
        assert reading["endDate"] == entry["lastReportDate"]
        assert reading["duration"] == 300
        assert entry["lastReportWatts"] == round(reading["joulesProduced"] / 300)
        assert reading["acCurrentInmA"] == pytest.approx(
            entry["lastReportWatts"] / reading["acVoltageINmV"] * 1e6, abs=5
        )
        assert 200_000 < reading["acVoltageINmV"] < 260_000
        assert 49_900 < reading["acFrequencyINmHz"] < 50_100
    clock.advance(150)
    half = {
        e["serialNumber"]: e["lastReportDate"]
        for e in (await fetch(session, sim, "/api/v1/production/inverters")).json()
    }
    moved = [s for s in first if half[s] != first[s]["lastReportDate"]]
    assert 5 < len(moved) < 25
    clock.advance(150)
    later = {
        e["serialNumber"]: e["lastReportDate"]
        for e in (await fetch(session, sim, "/api/v1/production/inverters")).json()
    }
    assert all(later[s] == first[s]["lastReportDate"] + 300 for s in first)


async def test_inverter_data_freezes_at_night(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_no_ct", 19, 50))
    sim = await make_sim("metered_no_ct", clock=clock)
    clock.set(local_epoch("metered_no_ct", 21))
    evening = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    evening_dd = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    sunset = local_epoch("metered_no_ct", 20)
    assert all(sunset <= e["lastReportDate"] < sunset + 300 for e in evening)
    clock.set(local_epoch("metered_no_ct", 5, 30, day=29))
    night = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    night_dd = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    # Reports freeze overnight; only "max today" starts again after midnight.
    assert [(e["lastReportDate"], e["lastReportWatts"]) for e in night] == [
        (e["lastReportDate"], e["lastReportWatts"]) for e in evening
    ]
    assert {e["maxReportWatts"] for e in night} == {0}
    assert min(e["maxReportWatts"] for e in evening) > 150
    for key, device in night_dd.items():
        if isinstance(device, dict):
            assert (
                device["channels"][0]["lastReading"]
                == evening_dd[key]["channels"][0]["lastReading"]
            )
            assert device["channels"][0]["wattHours"]["today"] == 0
            assert device["channels"][0]["wattHours"]["yesterday"] > 500
    body = (await fetch(session, sim, "/production.json")).json()
    assert body["production"][0]["wNow"] == 0
    clock.set(local_epoch("metered_no_ct", 7, 30, day=29))
    morning = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    assert all(
        m["lastReportDate"] > local_epoch("metered_no_ct", 7, 25, day=29)
        for m in morning
    )
    assert all(m["lastReportWatts"] > 0 for m in morning)


async def test_device_data_limit_on_large_site(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("large_site")
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    devices = [d for d in device_data.values() if isinstance(d, dict)]
    assert len(devices) == 50
    assert device_data["deviceDataLimit"] == 50
    assert device_data["deviceCount"] == 121
    assert [d["devName"] for d in devices].count("eim") == 1
    assert [d["devName"] for d in devices].count("pcu") == 49
    inverters = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    assert len(inverters) == 120
    listed = {d["sn"] for d in devices if d["devName"] == "pcu"}
    assert listed < {i["serialNumber"] for i in inverters}


async def test_storage_profile_device_data_has_gone_inverter(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
    devices = [d for d in device_data.values() if isinstance(d, dict)]
    assert device_data["deviceCount"] == 32
    active = [d for d in devices if d["devName"] == "pcu" and d["active"]]
    gone = [d for d in devices if d["devName"] == "pcu" and d["modGone"]]
    assert len(active) == 30
    assert len(gone) == 1
    assert gone[0]["active"] is False
    assert gone[0]["channels"][0]["lastReading"] == {}


async def test_battery_charges_midday_and_discharges_in_the_evening(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_three_phase_storage", 9, 30))
    sim = await make_sim("metered_three_phase_storage", clock=clock)
    morning = (await fetch(session, sim, "/production.json")).json()
    storage_ct = _by_eid((await fetch(session, sim, "/ivp/meters/readings")).json())[
        704643840
    ]
    assert morning["storage"][0]["state"] == "charging"
    assert morning["storage"][0]["wNow"] < -1000
    assert storage_ct["activePower"] == pytest.approx(
        morning["storage"][0]["wNow"], abs=1
    )
    clock.set(local_epoch("metered_three_phase_storage", 21))
    evening = (await fetch(session, sim, "/production.json")).json()
    assert evening["storage"][0]["state"] == "discharging"
    assert evening["storage"][0]["wNow"] > 300
    assert evening["storage"][0]["whNow"] < morning["storage"][0]["whNow"] + 10080
    # Total consumption = grid import + solar + battery; it matches the house load.
    house = sum(
        sim.model.ledger.power(index, int(sim.now()))
        for index in sim.model.sampler.loads
    )
    assert evening["consumption"][0]["wNow"] == pytest.approx(house, abs=5)


async def test_total_consumption_site_computes_net(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("total_consumption")
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    production = body["production"][1]
    total, net = body["consumption"]
    assert total["measurementType"] == "total-consumption"
    assert net["measurementType"] == "net-consumption"
    assert net["wNow"] == pytest.approx(total["wNow"] - production["wNow"], abs=0.01)
    assert net["whToday"] == 0
    assert net["whLifetime"] == pytest.approx(
        total["whLifetime"] - production["whLifetime"],
        abs=production["whLifetime"] * 0.01,
    )


async def test_v1_production_follows_the_production_ct(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    v1 = (await fetch(session, sim, "/api/v1/production")).json()
    ct = (await fetch(session, sim, "/ivp/meters/readings")).json()[0]
    assert v1["wattHoursLifetime"] == round(ct["actEnergyDlvd"])
    assert v1["wattsNow"] == round(ct["activePower"])


async def test_v1_production_sums_wrapped_inverter_lifetimes(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("legacy_standard")
    v1 = (await fetch(session, sim, "/api/v1/production")).json()
    body = (await fetch(session, sim, "/production.json")).json()
    reports = sim.model.inverter_reports(sim.now())
    assert v1["wattHoursLifetime"] == sum(r.lifetime_joules // 3600 for r in reports)
    assert body["production"][0]["whLifetime"] == v1["wattHoursLifetime"]
    assert v1["wattsNow"] == sum(r.watts for r in reports)
    assert v1["wattsNow"] > 500


async def test_no_ct_profile_production_is_stalled(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_no_ct", 10))
    sim = await make_sim("metered_no_ct", clock=clock)
    first = (await fetch(session, sim, "/api/v1/production")).json()
    first_inverters = (await fetch(session, sim, "/production.json")).json()[
        "production"
    ][0]
    clock.advance(3 * 3600)
    later = (await fetch(session, sim, "/api/v1/production")).json()
    later_inverters = (await fetch(session, sim, "/production.json")).json()[
        "production"
    ][0]
    assert later == first
    assert later_inverters["whLifetime"] > first_inverters["whLifetime"]


def test_large_clock_jumps_are_fast() -> None:
    from envoy_simulator import EnvoySimulator  # noqa: PLC0415

    clock = FakeClock(local_epoch("large_site", 12))
    sim = EnvoySimulator("large_site", clock=clock)
    sim.builder.meter_readings(sim.now())
    clock.advance(86400)
    started = time.perf_counter()
    sim.builder.meter_readings(sim.now())
    sim.builder.production_json(sim.now(), details=True)
    sim.builder.device_data(sim.now())
    assert time.perf_counter() - started < 0.2
    clock.advance(30 * 86400)
    started = time.perf_counter()
    readings = sim.builder.meter_readings(sim.now())
    assert time.perf_counter() - started < 5.0
    assert readings[0]["actEnergyDlvd"] > 0


def test_values_are_deterministic_for_seed_and_clock() -> None:
    from envoy_simulator import EnvoySimulator  # noqa: PLC0415

    def snapshot(seed: int) -> list[Any]:
        sim = EnvoySimulator(
            "metered_three_phase_storage", clock=FakeClock(1753714800.0), seed=seed
        )
        return [
            sim.builder.meter_readings(sim.now()),
            sim.builder.device_data(sim.now()),
        ]

    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)


async def test_ct_readings_change_every_second(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_split", 12) + 0.7)
    sim = await make_sim("metered_split", clock=clock)
    first = (await fetch(session, sim, "/ivp/meters/readings")).json()
    clock.advance(0.2)
    same_second = (await fetch(session, sim, "/ivp/meters/readings")).json()
    clock.advance(1)
    next_second = (await fetch(session, sim, "/ivp/meters/readings")).json()
    assert first[0]["timestamp"] == int(local_epoch("metered_split", 12))
    assert same_second == first
    assert next_second[0]["timestamp"] == first[0]["timestamp"] + 1
    assert next_second[0]["activePower"] != first[0]["activePower"]
    assert next_second[1]["actEnergyDlvd"] + next_second[1]["actEnergyRcvd"] > (
        first[1]["actEnergyDlvd"] + first[1]["actEnergyRcvd"]
    )


async def test_unsigned_fields_sometimes_encode_small_negatives(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("large_site", 10))
    sim = await make_sim("large_site", clock=clock)
    leading: list[int] = []
    for _ in range(6):
        body = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
        leading.extend(
            d["channels"][0]["lastReading"]["leadingVArs"]
            for d in body.values()
            if isinstance(d, dict) and d["devName"] == "pcu"
        )
        clock.advance(300)
    negative = [value for value in leading if value >= 2**31]
    assert negative
    assert all(2**32 - 8 <= value < 2**32 for value in negative)
    assert len(negative) < len(leading) / 5
