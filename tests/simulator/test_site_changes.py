"""Run-time site changes: silenced, resumed and added inverters; CT slots switched."""

from collections.abc import Callable
from itertools import pairwise
import math
from typing import Any

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch

STORAGE = "metered_three_phase_storage"
GONE_SERIAL = "542302004430"
JOULE_WRAP = 2**32

type Entries = dict[str, dict[str, Any]]


async def _post(
    session: aiohttp.ClientSession,
    sim: EnvoySimulator,
    route: str,
    body: dict[str, Any],
) -> tuple[int, Any]:
    async with session.post(f"http://{sim.address}/_sim/{route}", json=body) as reply:
        return reply.status, await reply.json()


async def _get(
    session: aiohttp.ClientSession, sim: EnvoySimulator, path: str, token: str
) -> Any:
    answer = await fetch(session, sim, path, token=token)
    assert answer.status == 200, answer.body
    return answer.json()


async def _inverters(
    session: aiohttp.ClientSession, sim: EnvoySimulator, token: str
) -> Entries:
    listed = await _get(session, sim, "/api/v1/production/inverters", token)
    return {entry["serialNumber"]: entry for entry in listed}


async def _pcus(
    session: aiohttp.ClientSession, sim: EnvoySimulator, token: str
) -> Entries:
    body = await _get(session, sim, "/ivp/pdm/device_data", token)
    return {
        device["sn"]: device["channels"][0]
        for device in body.values()
        if isinstance(device, dict) and device["devName"] == "pcu"
    }


async def _production_meter(
    session: aiohttp.ClientSession, sim: EnvoySimulator, token: str
) -> dict[str, Any]:
    readings = await _get(session, sim, "/ivp/meters/readings", token)
    reading: dict[str, Any] = readings[0]
    return reading


def _phase_changes(before: dict[str, Any], after: dict[str, Any]) -> list[float]:
    return [
        b["activePower"] - a["activePower"]
        for a, b in zip(before["channels"], after["channels"], strict=True)
    ]


async def test_silenced_inverter_keeps_its_last_report_and_stops_counting(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE, 12))
    sim = await make_sim(STORAGE, clock=clock)
    token = sim.mint_token()
    serial = sorted(await _inverters(session, sim, token))[4]
    # Silence it the moment it reports, so all it made so far was reported.
    last = (await _inverters(session, sim, token))[serial]["lastReportDate"] + 300
    clock.set(last)
    producing = await _production_meter(session, sim, token)
    status, body = await _post(
        session, sim, "inverter", {"serial": serial, "action": "silence"}
    )
    assert (status, body) == (200, {"ok": True, "serial": serial, "action": "silence"})
    silent = await _production_meter(session, sim, token)
    at_silence = await _inverters(session, sim, token)
    frozen = (await _pcus(session, sim, token))[serial]
    assert at_silence[serial]["lastReportDate"] == last
    assert frozen["lastReading"]["endDate"] == last
    # Its phase of the production CT loses its power at once; energy so far stays.
    changes = sorted(_phase_changes(producing, silent))
    assert changes[1:] == [0.0, 0.0]
    assert -changes[0] == pytest.approx(at_silence[serial]["lastReportWatts"], rel=0.1)
    assert silent["actEnergyDlvd"] == producing["actEnergyDlvd"]
    status, _ = await _post(session, sim, "inverter", {"serial": serial})
    assert status == 400
    async with session.get(f"http://{sim.address}/_sim/info") as reply:
        assert (await reply.json())["silenced_inverters"] == [serial]

    clock.advance(3700)
    later = await _inverters(session, sim, token)
    assert later[serial] == at_silence[serial]
    assert all(
        entry["lastReportDate"] > last
        for other, entry in later.items()
        if other not in (serial, GONE_SERIAL)
    )
    still = (await _pcus(session, sim, token))[serial]
    for key in ("lastReading", "lifetime", "wattHours", "watts"):
        assert still[key] == frozen[key], key

    lower = await _production_meter(session, sim, token)
    sim.resume_inverter(serial)
    resumed_at = sim.now()
    back = await _production_meter(session, sim, token)
    changes = sorted(_phase_changes(lower, back))
    assert changes[:2] == [0.0, 0.0]
    assert changes[2] > 100
    # It reports again on its own 5-minute slot; that report covers the time since.
    slot = last + math.ceil((resumed_at - last) / 300) * 300
    assert resumed_at < slot < resumed_at + 300
    clock.set(slot - 1)
    assert (await _inverters(session, sim, token))[serial]["lastReportDate"] == last
    clock.set(slot)
    entry = (await _inverters(session, sim, token))[serial]
    pcu = (await _pcus(session, sim, token))[serial]
    reading = pcu["lastReading"]
    assert entry["lastReportDate"] == reading["endDate"] == slot
    assert reading["duration"] == slot - resumed_at
    assert entry["lastReportWatts"] == pytest.approx(
        reading["joulesProduced"] / reading["duration"], abs=1
    )
    # The silent hour added nothing: the lifetime grew by this report alone.
    gained = (
        pcu["lifetime"]["joulesProduced"] - frozen["lifetime"]["joulesProduced"]
    ) % JOULE_WRAP
    assert gained == pytest.approx(reading["joulesProduced"], abs=1)
    assert pcu["wattHours"]["today"] == pytest.approx(
        frozen["wattHours"]["today"] + gained / 3600, abs=1
    )
    clock.advance(300)
    reading = (await _pcus(session, sim, token))[serial]["lastReading"]
    assert (reading["endDate"], reading["duration"]) == (slot + 300, 300)


async def test_site_totals_leave_out_a_silenced_inverter(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    start = local_epoch("legacy_standard", 11)
    quiet_clock, normal_clock = FakeClock(start), FakeClock(start)
    quiet = await make_sim("legacy_standard", clock=quiet_clock)
    normal = await make_sim("legacy_standard", clock=normal_clock)
    serial = min(await _inverters(session, normal, ""))
    quiet.silence_inverter(serial)
    quiet_clock.advance(3600)
    normal_clock.advance(3600)
    quiet_v1 = await _get(session, quiet, "/api/v1/production", "")
    normal_v1 = await _get(session, normal, "/api/v1/production", "")
    reported = (await _inverters(session, normal, ""))[serial]["lastReportWatts"]
    assert normal_v1["wattsNow"] - quiet_v1["wattsNow"] == reported > 100
    missing_today = normal_v1["wattHoursToday"] - quiet_v1["wattHoursToday"]
    missing_lifetime = normal_v1["wattHoursLifetime"] - quiet_v1["wattHoursLifetime"]
    assert missing_today > 150
    assert missing_lifetime == pytest.approx(missing_today, abs=2)
    assert normal_v1["wattHoursSevenDays"] == quiet_v1["wattHoursSevenDays"]
    body = await _get(session, quiet, "/production.json", "")
    assert body["production"][0]["wNow"] == quiet_v1["wattsNow"]
    assert body["production"][0]["whLifetime"] == quiet_v1["wattHoursLifetime"]


async def test_inverter_control_errors(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE, 12))
    sim = await make_sim(STORAGE, clock=clock)
    serial = sim.add_inverters()[0]
    for unknown in ("123", GONE_SERIAL):
        with pytest.raises(ValueError, match="no inverter"):
            sim.silence_inverter(unknown)
        with pytest.raises(ValueError, match="no inverter"):
            sim.resume_inverter(unknown)
    for body in (
        {"serial": "123", "action": "silence"},
        {"serial": serial, "action": "explode"},
        {"action": "resume"},
    ):
        status, answer = await _post(session, sim, "inverter", body)
        assert status == 400, body
        assert answer["error"]
    for count in (0, "two", True, 1001):
        status, _ = await _post(session, sim, "inverters", {"count": count})
        assert status == 400, count
    with pytest.raises(TypeError):
        sim.add_inverters(2.0)  # type: ignore[arg-type]
    # Resuming one that reports, or silencing one twice, changes nothing.
    original = "542302004400"
    sim.resume_inverter(original)
    sim.silence_inverter(original)
    sim.silence_inverter(original)
    # Changes happen in time order: not before the latest one.
    clock.set(sim.now() - 60)
    with pytest.raises(ValueError, match="time order"):
        sim.resume_inverter(original)
    # Before it joined, an added inverter is not there yet.
    with pytest.raises(ValueError, match="no inverter"):
        sim.silence_inverter(serial)
    with pytest.raises(ValueError, match="time order"):
        sim.add_inverters()


async def test_added_inverters_join_and_report_on_their_stagger(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE, 12))
    sim = await make_sim(STORAGE, clock=clock)
    token = sim.mint_token()
    joined = int(sim.now())
    before = await _inverters(session, sim, token)
    producing = await _production_meter(session, sim, token)
    status, body = await _post(session, sim, "inverters", {"count": 2})
    assert (status, body) == (
        200,
        {"ok": True, "serials": ["542302004431", "542302004432"]},
    )
    new = [*body["serials"], *sim.add_inverters()]
    assert new[2] == "542302004433"

    listed = await _get(session, sim, "/api/v1/production/inverters", token)
    assert [e["serialNumber"] for e in listed] == [*before, *new]
    assert listed[-4]["serialNumber"] == GONE_SERIAL
    for entry in listed[-3:]:
        assert entry["lastReportDate"] == joined
        assert entry["lastReportWatts"] == entry["maxReportWatts"] == 0
    device_data = await _get(session, sim, "/ivp/pdm/device_data", token)
    assert device_data["deviceCount"] == 35
    devices = [d for d in device_data.values() if isinstance(d, dict)]
    assert [d["sn"] for d in devices][-4:] == [GONE_SERIAL, *new]
    assert devices[-4]["modGone"] is True
    for device in devices[-3:]:
        assert (device["active"], device["modGone"]) == (True, False)
        channel = device["channels"][0]
        assert channel["lifetime"] == {
            "createdTime": joined,
            "duration": 0,
            "joulesProduced": 0,
        }
        assert channel["lastReading"]["duration"] == 0
    body = await _get(session, sim, "/production.json", token)
    assert body["production"][0]["activeCount"] == 33
    async with session.get(f"http://{sim.address}/_sim/info") as reply:
        assert (await reply.json())["added_inverters"] == new

    # They produce from the moment they join: one more inverter on every phase.
    typical = sum(e["lastReportWatts"] for e in before.values()) / 30
    grown = await _production_meter(session, sim, token)
    assert grown["activePower"] - producing["activePower"] == pytest.approx(
        3 * typical, rel=0.2
    )
    assert all(
        change == pytest.approx(typical, rel=0.2)
        for change in _phase_changes(producing, grown)
    )

    clock.advance(300)
    first = await _inverters(session, sim, token)
    for serial in new:
        assert joined < first[serial]["lastReportDate"] <= joined + 300
    clock.advance(300)
    second = await _inverters(session, sim, token)
    pcus = await _pcus(session, sim, token)
    for serial in new:
        assert second[serial]["lastReportDate"] == first[serial]["lastReportDate"] + 300
        assert second[serial]["lastReportWatts"] == pytest.approx(typical, rel=0.2)
        assert pcus[serial]["lastReading"]["duration"] == 300
        assert pcus[serial]["lifetime"]["joulesProduced"] > 0
    assert len({second[serial]["lastReportDate"] % 300 for serial in new}) > 1


async def test_added_inverters_beyond_the_device_data_limit(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("large_site")
    token = sim.mint_token()
    production = await _get(session, sim, "/api/v1/production", token)
    serials = sim.add_inverters(4)
    assert serials == [str(542311010120 + n) for n in range(4)]
    listed = await _get(session, sim, "/api/v1/production/inverters", token)
    assert [e["serialNumber"] for e in listed[-4:]] == serials
    assert len(listed) == 124
    device_data = await _get(session, sim, "/ivp/pdm/device_data", token)
    assert device_data["deviceCount"] == 125
    assert device_data["deviceDataLimit"] == 50
    listed_sns = {d["sn"] for d in device_data.values() if isinstance(d, dict)}
    assert len(listed_sns) == 50
    assert not listed_sns & set(serials)
    grown = await _get(session, sim, "/api/v1/production", token)
    assert grown["wattsNow"] > production["wattsNow"] + 600


async def test_counters_stay_integrals_of_power_across_site_changes(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE, 12))
    sim = await make_sim(STORAGE, clock=clock)
    token = sim.mint_token()
    serial = sorted(await _inverters(session, sim, token))[7]
    changes: dict[int, Callable[[], object]] = {
        5: lambda: sim.silence_inverter(serial),
        15: lambda: sim.add_inverters(6),
        30: lambda: sim.resume_inverter(serial),
    }
    samples: list[tuple[float, dict[int, dict[str, Any]]]] = []

    async def sample() -> None:
        readings = await _get(session, sim, "/ivp/meters/readings", token)
        samples.append((sim.now(), {r["eid"]: r for r in readings}))

    for step in range(45):
        await sample()
        change = changes.get(step)
        if change is not None:
            change()
            # Read again at the same instant: power steps, energy must not.
            await sample()
        clock.advance(10)
    for (t0, a), (t1, b) in pairwise(samples):
        hours = (t1 - t0) / 3600
        for eid, reading in a.items():
            pairs = [(reading, b[eid])]
            pairs += zip(reading["channels"], b[eid]["channels"], strict=True)
            for x, y in pairs:
                for key in ("actEnergyDlvd", "actEnergyRcvd"):
                    assert y[key] >= x[key], (eid, key, t0)
                energy = (y["actEnergyDlvd"] - y["actEnergyRcvd"]) - (
                    x["actEnergyDlvd"] - x["actEnergyRcvd"]
                )
                average = (x["activePower"] + y["activePower"]) / 2
                assert energy == pytest.approx(average * hours, abs=0.006), (eid, t0)
    production = [s[1][min(s[1])]["activePower"] for s in samples]
    # Silenced, then six inverters joined, then the silenced one came back.
    assert production[6] < production[5] - 150
    assert production[17] > production[16] + 1200
    assert production[33] > production[32] + 150


async def test_set_meter_disables_flags_and_enables_a_ct(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    start = local_epoch("metered_split", 12)
    clock = FakeClock(start)
    sim = await make_sim("metered_split", clock=clock)
    token = sim.mint_token()
    production_eid = (await _get(session, sim, "/ivp/meters", token))[0]["eid"]
    status, body = await _post(
        session, sim, "meter", {"measurement_type": "net-consumption", "enabled": False}
    )
    assert (status, body) == (
        200,
        {
            "ok": True,
            "measurement_type": "net-consumption",
            "enabled": False,
            "metering_status": "not-metering",
            "status_flags": [],
        },
    )
    meters = await _get(session, sim, "/ivp/meters", token)
    assert (meters[1]["state"], meters[1]["meteringStatus"]) == (
        "disabled",
        "not-metering",
    )
    readings = await _get(session, sim, "/ivp/meters/readings", token)
    assert [r["eid"] for r in readings] == [production_eid]
    body = await _get(session, sim, "/production.json", token)
    assert [e["activeCount"] for e in body["consumption"]] == [0, 0]

    sim.set_meter(
        "production",
        metering_status="check-wiring",
        status_flags=["production-imbalance"],
    )
    meters = await _get(session, sim, "/ivp/meters", token)
    assert meters[0]["state"] == "enabled"
    assert meters[0]["meteringStatus"] == "check-wiring"
    assert meters[0]["statusFlags"] == ["production-imbalance"]
    assert (await _get(session, sim, "/ivp/meters/readings", token))[0][
        "activePower"
    ] > 1000

    clock.advance(600)
    sim.set_meter("net-consumption", enabled=True)
    meters = await _get(session, sim, "/ivp/meters", token)
    assert (meters[1]["state"], meters[1]["meteringStatus"]) == ("enabled", "normal")
    # Back on, it reads what it would have read had it never been off.
    twin_clock = FakeClock(start)
    twin = await make_sim("metered_split", clock=twin_clock)
    twin_clock.advance(600)
    assert await _get(session, sim, "/ivp/meters/readings", token) == await _get(
        session, twin, "/ivp/meters/readings", twin.mint_token()
    )

    with pytest.raises(ValueError, match="no 'storage' CT slot"):
        sim.set_meter("storage", enabled=True)
    with pytest.raises(ValueError, match="metering_status"):
        sim.set_meter("production", metering_status="broken")
    for bad in (
        {"measurement_type": "storage", "enabled": True},
        {"measurement_type": "production", "metering_status": "broken"},
        {"measurement_type": "production", "enabled": "yes"},
        {"measurement_type": "production", "status_flags": "production-imbalance"},
        {"enabled": True},
    ):
        status, body = await _post(session, sim, "meter", bad)
        assert status == 400, bad
        assert body["error"]
    meters_after = await _get(session, sim, "/ivp/meters", token)
    assert meters_after == meters


async def test_cts_switched_on_at_a_site_without_them(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("metered_no_ct", 12))
    sim = await make_sim("metered_no_ct", clock=clock)
    token = sim.mint_token()
    assert await _get(session, sim, "/ivp/meters/readings", token) == []
    stalled = await _get(session, sim, "/api/v1/production", token)
    sim.set_meter("production", enabled=True)
    status, _ = await _post(
        session, sim, "meter", {"measurement_type": "net-consumption", "enabled": True}
    )
    assert status == 200
    meters = await _get(session, sim, "/ivp/meters", token)
    assert [(m["state"], m["meteringStatus"]) for m in meters] == [
        ("enabled", "normal")
    ] * 2

    samples = []
    for _ in range(30):
        samples.append(await _get(session, sim, "/ivp/meters/readings", token))
        clock.advance(10)
    production, net = samples[-1]
    assert production["activePower"] > 1000
    assert net["activePower"] < 0
    hours = 10 / 3600
    for slot in range(2):
        series = [s[slot] for s in samples]
        for values in (series, *([s["channels"][p] for s in series] for p in range(2))):
            energy = (values[-1]["actEnergyDlvd"] - values[-1]["actEnergyRcvd"]) - (
                values[0]["actEnergyDlvd"] - values[0]["actEnergyRcvd"]
            )
            power = [v["activePower"] for v in values]
            assert energy == pytest.approx(
                sum((a + b) / 2 * hours for a, b in pairwise(power)), abs=0.05
            )
        for key in ("activePower", "actEnergyDlvd", "actEnergyRcvd"):
            assert series[-1][key] == pytest.approx(
                sum(c[key] for c in series[-1]["channels"][:2]), abs=0.002
            )

    v1 = await _get(session, sim, "/api/v1/production", token)
    assert v1 != stalled
    readings = await _get(session, sim, "/ivp/meters/readings", token)
    assert v1["wattHoursLifetime"] == round(readings[0]["actEnergyDlvd"])
    assert v1["wattsNow"] == round(readings[0]["activePower"])
    device_data = await _get(session, sim, "/ivp/pdm/device_data", token)
    eim = device_data[str(meters[0]["eid"])]
    assert (eim["devName"], eim["sn"]) == ("eim", f"{sim.serial}EIM1")
    body = await _get(session, sim, "/production.json", token)
    made, (used, traded) = body["production"][1], body["consumption"]
    assert [made["activeCount"], used["activeCount"], traded["activeCount"]] == [1] * 3
    assert used["wNow"] == pytest.approx(made["wNow"] + traded["wNow"], abs=0.01)
