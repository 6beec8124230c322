"""IQ Batteries, the system controller and AC Batteries: endpoints and physics, over real sockets."""

from itertools import pairwise
from typing import Any

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import (
    ACB_ENTRY_KEYS,
    ENCHARGE_KEYS,
    ENPOWER_KEYS,
    ENSEMBLE_PATHS,
    ENSEMBLE_POWER_KEYS,
    SECCTRL_KEYS,
    fetch,
    fetch_json,
    media_type,
)

STORAGE_CT = "iq_battery_storage_ct"
NO_CT = "iq_battery_no_ct"
EFFICIENCY = 0.95


async def _meter(
    session: aiohttp.ClientSession, sim: EnvoySimulator, kind: str, token: str
) -> dict[str, Any]:
    meters = await fetch_json(session, sim, "/ivp/meters", token)
    eid = next(m["eid"] for m in meters if m["measurementType"] == kind)
    readings = await fetch_json(session, sim, "/ivp/meters/readings", token)
    reading: dict[str, Any] = next(r for r in readings if r["eid"] == eid)
    return reading


async def test_ensemble_endpoints_answer_in_the_gateway_shapes(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(STORAGE_CT)
    token = sim.mint_token()
    answers = {
        path: await fetch(session, sim, path, token=token) for path in ENSEMBLE_PATHS
    }
    assert {path: (a.status, media_type(a)) for path, a in answers.items()} == {
        "/ivp/ensemble/inventory": (200, None),
        "/ivp/ensemble/secctrl": (200, None),
        "/ivp/ensemble/status": (200, None),
        "/ivp/ensemble/power": (200, None),
        "/admin/lib/tariff": (200, "application/json"),
        "/ivp/ensemble/dry_contacts": (200, None),
        "/ivp/ss/dry_contact_settings": (200, None),
    }
    inventory = answers["/ivp/ensemble/inventory"].json()
    assert [group["type"] for group in inventory] == ["ENCHARGE", "ENPOWER"]
    batteries, (controller,) = inventory[0]["devices"], inventory[1]["devices"]
    assert len(batteries) == 3
    assert all(set(battery) >= ENCHARGE_KEYS for battery in batteries)
    assert {battery["encharge_capacity"] for battery in batteries} == {5000}
    assert {battery["phase"] for battery in batteries} == {"ph-a", "ph-b"}
    assert all(len(battery["serial_num"]) == 12 for battery in batteries)
    assert all(battery["last_rpt_date"] <= sim.now() for battery in batteries)
    assert all(battery["last_rpt_date"] > sim.now() - 900 for battery in batteries)
    assert {battery["reported_enc_grid_state"] for battery in batteries} == {
        "grid-tied"
    }
    assert all(15 <= battery["temperature"] <= 40 for battery in batteries)
    assert set(controller) >= ENPOWER_KEYS
    # The system controller reports Fahrenheit, the batteries Celsius.
    assert 60 <= controller["temperature"] <= 100
    assert (controller["mains_admin_state"], controller["mains_oper_state"]) == (
        "closed",
        "closed",
    )
    assert controller["Enpwr_grid_mode"] == "multimode-ongrid"

    secctrl = answers["/ivp/ensemble/secctrl"].json()
    assert set(secctrl) >= SECCTRL_KEYS
    assert secctrl["Max_energy"] == 15000
    assert secctrl["agg_soc"] == secctrl["ENC_agg_soc"]
    assert (secctrl["configured_backup_soc"], secctrl["adjusted_backup_soc"]) == (
        30,
        30,
    )
    assert secctrl["ENC_agg_backup_energy"] == 4500
    assert secctrl["shutdown"] is False
    status = answers["/ivp/ensemble/status"].json()
    assert set(status) >= {"inventory", "counters", "secctrl", "relay"}
    assert status["secctrl"] == secctrl
    assert set(status["relay"]) >= {
        "mains_admin_state",
        "mains_oper_state",
        "der1_state",
    }
    assert set(status["inventory"]["serial_nums"]) == {
        *(battery["serial_num"] for battery in batteries),
        controller["serial_num"],
    }

    power = answers["/ivp/ensemble/power"].json()
    assert list(power) == ["devices:"]
    assert [set(device) for device in power["devices:"]] == [ENSEMBLE_POWER_KEYS] * 3
    assert [d["serial_num"] for d in power["devices:"]] == [
        b["serial_num"] for b in batteries
    ]
    assert {d["soc"] for d in power["devices:"]} == {secctrl["agg_soc"]}


@pytest.mark.parametrize(
    ("profile", "status"),
    [("metered_split", 401), ("acb_only", 401), ("large_site", 404)],
)
async def test_ensemble_endpoints_are_missing_without_ensemble_hardware(
    make_sim: SimulatorFactory,
    session: aiohttp.ClientSession,
    profile: str,
    status: int,
) -> None:
    sim = await make_sim(profile)
    token = sim.mint_token()
    statuses = {
        (await fetch(session, sim, p, token=token)).status for p in ENSEMBLE_PATHS
    }
    assert statuses == {status}


@pytest.mark.parametrize("hour", [9, 20])
async def test_storage_ct_is_the_battery_and_its_charge_is_the_integral(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, hour: int
) -> None:
    clock = FakeClock(local_epoch(STORAGE_CT, hour))
    sim = await make_sim(STORAGE_CT, clock=clock)
    token = sim.mint_token()
    samples: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for _ in range(120):
        samples.append(
            (
                await _meter(session, sim, "storage", token),
                await fetch_json(session, sim, "/ivp/ensemble/power", token),
                sim.true_battery_energy(),
            )
        )
        clock.advance(10)
    hours = 10 / 3600
    powers = [ct["activePower"] for ct, _, _ in samples]
    first, last = samples[0][0], samples[-1][0]
    delivered = last["actEnergyDlvd"] - first["actEnergyDlvd"]
    received = last["actEnergyRcvd"] - first["actEnergyRcvd"]
    assert delivered - received == pytest.approx(
        sum((a + b) / 2 * hours for a, b in pairwise(powers)), abs=0.05
    )
    # What the batteries report is what the storage CT measures.
    for ct, power, truth in samples:
        units = sum(device["real_power_mw"] for device in power["devices:"]) / 1000
        assert units == pytest.approx(ct["activePower"], abs=0.01)
        assert truth["power_w"] == pytest.approx(ct["activePower"], abs=0.002)
        assert truth["charged_wh"] == pytest.approx(ct["actEnergyRcvd"], abs=0.002)
        assert truth["discharged_wh"] == pytest.approx(ct["actEnergyDlvd"], abs=0.002)
    stored = samples[-1][2]["stored_wh"] - samples[0][2]["stored_wh"]
    assert stored == pytest.approx(EFFICIENCY * received - delivered, abs=0.01)
    # Something flowed: the morning charges, the evening discharges.
    assert abs(stored) > 100


async def test_grid_flows_include_the_battery(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(STORAGE_CT, clock=FakeClock(local_epoch(STORAGE_CT, 19, 30)))
    token = sim.mint_token()
    net = await _meter(session, sim, "net-consumption", token)
    production = await _meter(session, sim, "production", token)
    storage = await _meter(session, sim, "storage", token)
    house = sum(sim.model.ledger.power(i, sim.now()) for i in sim.model.sampler.loads)
    assert storage["activePower"] > 500
    assert net["activePower"] + production["activePower"] + storage[
        "activePower"
    ] == pytest.approx(house, abs=0.01)
    for phase in range(2):
        load = sim.model.ledger.power(sim.model.sampler.loads[phase], sim.now())
        parts = (net, production, storage)
        assert sum(part["channels"][phase]["activePower"] for part in parts) == (
            pytest.approx(load, abs=0.01)
        )
    body = await fetch_json(session, sim, "/production.json?details=1", token)
    total = body["consumption"][0]
    assert total["measurementType"] == "total-consumption"
    assert total["wNow"] == pytest.approx(house, abs=0.01)


async def test_self_consumption_never_goes_below_the_reserve(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE_CT, 20))
    sim = await make_sim(STORAGE_CT, clock=clock)
    token = sim.mint_token()
    sim.set_battery_mode(reserve=80)
    charge: list[int] = []
    for _ in range(30):
        clock.advance(600)
        charge.append(
            (await fetch_json(session, sim, "/ivp/ensemble/secctrl", token))["agg_soc"]
        )
    assert min(charge) == 80
    assert charge[0] > 80
    # At the reserve the battery rests and the grid supplies the house.
    storage = await _meter(session, sim, "storage", token)
    net = await _meter(session, sim, "net-consumption", token)
    assert storage["activePower"] == 0.0
    assert net["activePower"] > 300


async def test_backup_mode_only_charges_and_charges_from_the_grid_when_allowed(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE_CT, 20, 30))
    sim = await make_sim(STORAGE_CT, clock=clock)
    token = sim.mint_token()
    assert (await _meter(session, sim, "storage", token))["activePower"] > 300
    sim.set_battery_mode("backup")
    clock.advance(10)
    before = await _meter(session, sim, "storage", token)
    clock.advance(3600)
    after = await _meter(session, sim, "storage", token)
    # On grid a backup battery holds its charge: no discharge at all.
    assert after["actEnergyDlvd"] == before["actEnergyDlvd"]
    assert after["activePower"] == 0.0
    sim.set_battery_mode(charge_from_grid=True)
    clock.advance(60)
    charging = await _meter(session, sim, "storage", token)
    net = await _meter(session, sim, "net-consumption", token)
    assert charging["activePower"] == pytest.approx(-11520, abs=1)
    assert net["activePower"] > 11520
    assert sim.true_battery_energy()["mode"] == "backup"


async def test_a_grid_outage_runs_the_house_on_battery_and_solar(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE_CT, 20))
    sim = await make_sim(STORAGE_CT, clock=clock)
    token = sim.mint_token()
    sim.set_battery_mode(very_low=75)
    sim.set_grid(False)
    clock.advance(1000)
    net = await _meter(session, sim, "net-consumption", token)
    storage = await _meter(session, sim, "storage", token)
    house = sum(sim.model.ledger.power(i, sim.now()) for i in sim.model.sampler.loads)
    assert [net["activePower"], *(c["activePower"] for c in net["channels"])] == [
        0.0
    ] * 4
    # After sunset the battery alone supplies the house.
    assert storage["activePower"] == pytest.approx(house, abs=0.01)
    inventory = await fetch_json(session, sim, "/ivp/ensemble/inventory", token)
    controller = inventory[1]["devices"][0]
    assert controller["mains_oper_state"] == "open"
    assert controller["Enpwr_grid_mode"] == "multimode-offgrid"
    assert {b["reported_enc_grid_state"] for b in inventory[0]["devices"]} == {
        "grid-forming"
    }
    status = await fetch_json(session, sim, "/ivp/ensemble/status", token)
    assert status["relay"]["mains_oper_state"] == "open"
    # Off grid the battery goes down to the very low floor, not the reserve.
    charge = []
    for _ in range(24):
        clock.advance(900)
        charge.append(
            (await fetch_json(session, sim, "/ivp/ensemble/secctrl", token))["agg_soc"]
        )
    assert min(charge) == 75
    assert (await _meter(session, sim, "storage", token))["activePower"] == 0.0
    # Back on grid, well above the reserve, the battery covers the house again.
    sim.set_grid(True)
    clock.advance(60)
    assert (await _meter(session, sim, "storage", token))["activePower"] > 100
    status = await fetch_json(session, sim, "/ivp/ensemble/status", token)
    assert status["relay"]["mains_oper_state"] == "closed"


async def test_off_grid_at_noon_curtails_solar_and_biases_the_frequency(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(STORAGE_CT, 13))
    sim = await make_sim(STORAGE_CT, clock=clock)
    token = sim.mint_token()
    before = await _meter(session, sim, "production", token)
    sim.set_grid(False)
    clock.advance(600)
    production = await _meter(session, sim, "production", token)
    secctrl = await fetch_json(session, sim, "/ivp/ensemble/secctrl", token)
    house = sum(sim.model.ledger.power(i, sim.now()) for i in sim.model.sampler.loads)
    # The battery is full: the inverters make only what the house uses.
    assert secctrl["agg_soc"] == 100
    assert before["activePower"] > 5000
    assert production["activePower"] == pytest.approx(house, abs=0.01)
    assert secctrl["freq_bias_hz"] > 0.5
    assert secctrl["freq_bias_hz_q8"] == round(secctrl["freq_bias_hz"] * 256)
    assert production["freq"] > 60.5
    reports = await fetch_json(session, sim, "/api/v1/production/inverters", token)
    assert (
        sum(entry["lastReportWatts"] for entry in reports) < 0.5 * before["activePower"]
    )


async def test_off_grid_event_profile_loses_the_grid_every_afternoon(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    profile = "off_grid_event"
    clock = FakeClock(local_epoch(profile, 13, 50))
    sim = await make_sim(profile, clock=clock)
    token = sim.mint_token()
    states: list[tuple[str, float]] = []
    for hour, minute, day in ((13, 50, 28), (14, 20, 28), (14, 50, 28), (14, 10, 29)):
        clock.set(local_epoch(profile, hour, minute, day=day))
        status = await fetch_json(session, sim, "/ivp/ensemble/status", token)
        net = await _meter(session, sim, "net-consumption", token)
        states.append((status["relay"]["mains_oper_state"], net["activePower"]))
    assert [state for state, _ in states] == ["closed", "open", "closed", "open"]
    assert [power == 0.0 for _, power in states] == [False, True, False, True]


async def test_no_storage_ct_site_shows_the_battery_only_in_ensemble(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(NO_CT, 19, 30))
    sim = await make_sim(NO_CT, clock=clock)
    token = sim.mint_token()
    meters = await fetch_json(session, sim, "/ivp/meters", token)
    assert [m["measurementType"] for m in meters] == ["production", "net-consumption"]
    body = await fetch_json(session, sim, "/production.json", token)
    assert body["storage"] == [
        {
            "type": "acb",
            "activeCount": 0,
            "readingTime": 0,
            "wNow": 0,
            "whNow": 0,
            "state": "idle",
        }
    ]

    async def battery_watts() -> float:
        power = await fetch_json(session, sim, "/ivp/ensemble/power", token)
        return float(sum(d["real_power_mw"] for d in power["devices:"]) / 1000)

    start = sim.true_battery_energy()
    watts = [await battery_watts()]
    for _ in range(180):
        clock.advance(10)
        watts.append(await battery_watts())
    end = sim.true_battery_energy()
    discharged = sum((a + b) / 2 * 10 / 3600 for a, b in pairwise(watts))
    assert watts[0] > 500
    # A client integrating /ivp/ensemble/power finds the battery's true energy.
    assert end["discharged_wh"] - start["discharged_wh"] == pytest.approx(
        discharged, abs=0.05
    )


async def test_ac_batteries_show_in_production_json_and_the_inverter_list(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch("acb_only", 10))
    sim = await make_sim("acb_only", clock=clock)
    token = sim.mint_token()
    morning = (await fetch_json(session, sim, "/production.json", token))["storage"]
    assert [set(entry) for entry in morning] == [ACB_ENTRY_KEYS]
    assert (morning[0]["activeCount"], morning[0]["state"]) == (2, "charging")
    assert -541 < morning[0]["wNow"] < -100
    clock.set(local_epoch("acb_only", 21))
    evening = (await fetch_json(session, sim, "/production.json", token))["storage"][0]
    assert evening["state"] == "discharging"
    assert 0 < evening["wNow"] <= 540
    assert evening["percentFull"] == pytest.approx(
        100 * evening["whNow"] / 2400, abs=0.6
    )
    listed = await fetch_json(session, sim, "/api/v1/production/inverters", token)
    batteries = [entry for entry in listed if entry["devType"] == 11]
    assert [entry["devType"] for entry in listed].count(1) == 16
    assert len(batteries) == 2
    assert all(0 < entry["lastReportWatts"] <= 270 for entry in batteries)
    assert all(
        entry["maxReportWatts"] >= entry["lastReportWatts"] for entry in batteries
    )
    assert all(
        sim.now() - 300 < entry["lastReportDate"] <= sim.now() for entry in batteries
    )
    inventory = await fetch_json(session, sim, "/inventory.json", token)
    acb_group = next(group for group in inventory if group["type"] == "ACB")
    assert [d["serial_num"] for d in acb_group["devices"]] == [
        entry["serialNumber"] for entry in batteries
    ]
    # After an upgrade to firmware with device_data, the batteries are listed there too.
    sim.upgrade_firmware("iq_battery_storage_ct", outage_seconds=0)
    device_data = await fetch_json(
        session, sim, "/ivp/pdm/device_data", sim.mint_token()
    )
    acbs = [
        d for d in device_data.values() if isinstance(d, dict) and d["devName"] == "acb"
    ]
    assert [d["sn"] for d in acbs] == [entry["serialNumber"] for entry in batteries]
    assert (
        await fetch(session, sim, "/ivp/ensemble/inventory", token=token)
    ).status == 404
