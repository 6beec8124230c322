"""Battery control: tariff writes, dry contacts, their faults and the control API."""

import asyncio
from typing import Any

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import (
    RELAY_SETTINGS_KEYS,
    STORAGE_SETTINGS_KEYS,
    fetch,
    fetch_json,
    media_type,
)

SITE = "iq_battery_storage_ct"
TARIFF = "/admin/lib/tariff"
SETTINGS = "/ivp/ss/dry_contact_settings"
RELAYS = "/ivp/ensemble/dry_contacts"


async def _storage_power(
    session: aiohttp.ClientSession, sim: EnvoySimulator, token: str
) -> float:
    power = await fetch_json(session, sim, "/ivp/ensemble/power", token)
    return float(sum(d["real_power_mw"] for d in power["devices:"]) / 1000)


async def _control(
    session: aiohttp.ClientSession,
    sim: EnvoySimulator,
    method: str,
    route: str,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    async with session.request(
        method, f"http://{sim.address}/_sim/{route}", json=body
    ) as response:
        return response.status, await response.json()


async def test_a_whole_tariff_is_stored_and_the_battery_follows_at_once(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(SITE, 20, 30))
    sim = await make_sim(SITE, clock=clock)
    token = sim.mint_token()
    document = await fetch_json(session, sim, TARIFF, token)
    assert set(document) == {"tariff", "schedule"}
    assert set(document["tariff"]["storage_settings"]) == STORAGE_SETTINGS_KEYS
    assert document["tariff"]["currency"] == {"code": "USD"}
    assert await _storage_power(session, sim, token) > 300
    clock.advance(5)
    storage = document["tariff"]["storage_settings"]
    storage.update(mode="backup", reserved_soc=50.0)
    answer = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=document
    )
    assert (answer.status, media_type(answer)) == (200, "application/json")
    stored = answer.json()
    stamp = str(int(sim.now()))
    assert (
        stored["tariff"]["date"]
        == stored["tariff"]["storage_settings"]["date"]
        == stamp
    )
    assert stored["tariff"]["storage_settings"]["mode"] == "backup"
    assert stored["schedule"]["battery_mode"] == "backup"
    assert stored["schedule"]["reserved_soc"] == 50.0
    assert await fetch_json(session, sim, TARIFF, token) == stored
    secctrl = await fetch_json(session, sim, "/ivp/ensemble/secctrl", token)
    assert (secctrl["configured_backup_soc"], secctrl["adjusted_backup_soc"]) == (
        50,
        50,
    )
    # From the grid point after the next one (the next one may already have
    # been read), a backup battery no longer discharges.
    clock.advance(20)
    assert await _storage_power(session, sim, token) == 0.0
    assert sim.true_battery_energy()["mode"] == "backup"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("drop_storage_key", "incomplete tariff document"),
        ("drop_schedule", "incomplete tariff document"),
        ("only_storage", "incomplete tariff document"),
        ("bad_mode", ("invalid storage_settings: mode must be one of backup, "
                      "self-consumption, savings-mode, economy")),
        ("bad_reserve", "invalid storage_settings: reserved_soc must be between 0 and 100"),
        ("bad_flag", "invalid storage_settings: charge_from_grid must be true or false"),
    ],
)  # fmt: skip
async def test_a_partial_or_invalid_tariff_is_refused_and_changes_nothing(
    make_sim: SimulatorFactory,
    session: aiohttp.ClientSession,
    change: str,
    error: str,
) -> None:
    sim = await make_sim(SITE)
    token = sim.mint_token()
    before = await fetch_json(session, sim, TARIFF, token)
    storage_settings = dict(before["tariff"]["storage_settings"])
    del storage_settings["opt_schedules"]
    bodies: dict[str, Any] = {
        "drop_storage_key": {
            **before,
            "tariff": {**before["tariff"], "storage_settings": storage_settings},
        },
        "drop_schedule": {"tariff": before["tariff"]},
        "only_storage": {
            "tariff": {"storage_settings": before["tariff"]["storage_settings"]},
            "schedule": before["schedule"],
        },
        "bad_mode": _with_storage(before, mode="turbo"),
        "bad_reserve": _with_storage(before, reserved_soc=150),
        "bad_flag": _with_storage(before, charge_from_grid="yes"),
    }
    answer = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=bodies[change]
    )
    assert (answer.status, answer.json()) == (400, {"error": error})
    assert await fetch_json(session, sim, TARIFF, token) == before
    assert sim.true_battery_energy()["mode"] == "self-consumption"


def _with_storage(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Return ``document`` with some storage settings changed."""
    tariff = document["tariff"]
    storage = {**tariff["storage_settings"], **changes}
    return {**document, "tariff": {**tariff, "storage_settings": storage}}


async def test_tariff_writes_need_a_token_json_and_put(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(SITE)
    token = sim.mint_token()
    document = await fetch_json(session, sim, TARIFF, token)
    unauthenticated = await fetch(
        session, sim, TARIFF, authenticate=False, method="PUT", json_body=document
    )
    assert unauthenticated.status == 401
    posted = await fetch(session, sim, TARIFF, token=token, method="POST", json_body={})
    assert (posted.status, posted.json()) == (
        405,
        {"error": "405 - Method Not Allowed"},
    )
    garbage = await fetch(
        session, sim, TARIFF, token=token, method="PUT", headers={"X": "1"}
    )
    assert (garbage.status, garbage.json()) == (400, {"error": "body must be JSON"})


async def test_tariff_refused_fault_refuses_writes_only(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(SITE)
    token = sim.mint_token()
    document = await fetch_json(session, sim, TARIFF, token)
    changed = _with_storage(document, mode="backup")
    sim.inject(TARIFF, "tariff_refused", status=401)
    refused = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=changed
    )
    assert (refused.status, refused.json()) == (401, {"error": "401 - Unauthorized"})
    assert await fetch_json(session, sim, TARIFF, token) == document
    sim.clear_faults()
    sim.inject(TARIFF, "tariff_refused", count=1)
    failed = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=changed
    )
    assert (failed.status, media_type(failed)) == (500, "text/html")
    assert (await fetch_json(session, sim, TARIFF, token))["tariff"][
        "storage_settings"
    ] == (document["tariff"]["storage_settings"])
    accepted = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=changed
    )
    assert accepted.status == 200
    with pytest.raises(ValueError, match="HTTP error status"):
        sim.inject(TARIFF, "tariff_refused", status=200)


async def test_cloud_overwrite_puts_the_old_settings_back_after_its_delay(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(SITE, 20, 30))
    sim = await make_sim(SITE, clock=clock)
    token = sim.mint_token()
    document = await fetch_json(session, sim, TARIFF, token)
    sim.inject(TARIFF, "cloud_overwrite", delay=300)
    written = _with_storage(
        document, mode="backup", reserved_soc=60.0, charge_from_grid=True
    )
    put_at = sim.now()
    answer = await fetch(
        session, sim, TARIFF, token=token, method="PUT", json_body=written
    )
    assert answer.status == 200
    clock.advance(299)
    assert (await fetch_json(session, sim, TARIFF, token))["tariff"][
        "storage_settings"
    ]["mode"] == "backup"
    assert await _storage_power(session, sim, token) < -1000
    clock.advance(2)
    pushed = await fetch_json(session, sim, TARIFF, token)
    storage = pushed["tariff"]["storage_settings"]
    assert (storage["mode"], storage["reserved_soc"], storage["charge_from_grid"]) == (
        "self-consumption",
        30.0,
        False,
    )
    assert pushed["tariff"]["date"] == storage["date"] == str(int(put_at + 300))
    assert pushed["schedule"]["battery_mode"] == "self-consumption"
    # The battery follows the cloud's settings: it discharges into the house again.
    clock.advance(20)
    assert await _storage_power(session, sim, token) > 300
    assert sim.true_battery_energy()["mode"] == "self-consumption"


async def test_existing_faults_act_on_the_ensemble_endpoints(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(SITE, 12))
    sim = await make_sim(SITE, clock=clock)
    token = sim.mint_token()
    secctrl = await fetch_json(session, sim, "/ivp/ensemble/secctrl", token)
    sim.inject("/ivp/ensemble/secctrl", "http_503", count=1)
    assert (
        await fetch(session, sim, "/ivp/ensemble/secctrl", token=token)
    ).status == 503
    sim.inject("/ivp/ensemble/secctrl", "zero_glitch", count=1)
    glitched = (await fetch(session, sim, "/ivp/ensemble/secctrl", token=token)).json()
    assert (glitched["agg_soc"], glitched["ENC_agg_avail_energy"]) == (0, 0)
    assert glitched["Max_energy"] == secctrl["Max_energy"]
    sim.inject("/ivp/ensemble/power", "stale")
    first = await fetch(session, sim, "/ivp/ensemble/power", token=token)
    clock.advance(600)
    again = await fetch(session, sim, "/ivp/ensemble/power", token=token)
    assert again.body == first.body
    sim.inject("/ivp/ensemble/inventory", "hang")
    held = asyncio.create_task(
        fetch(session, sim, "/ivp/ensemble/inventory", token=token)
    )
    done, _ = await asyncio.wait({held}, timeout=0.2)
    assert not done
    assert sim.clear_faults() == 2
    assert (await asyncio.wait_for(held, timeout=2)).status == 200
    sim.inject(TARIFF, "malformed_json", count=1)
    cut = await fetch(session, sim, TARIFF, token=token)
    assert cut.status == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        cut.json()


async def test_a_whole_relay_record_updates_the_relay(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(SITE)
    token = sim.mint_token()
    records = (await fetch_json(session, sim, SETTINGS, token))["dry_contacts"]
    assert [r["id"] for r in records] == ["NC1", "NC2", "NO1", "NO2"]
    assert all(set(r) == RELAY_SETTINGS_KEYS for r in records)
    relays = await fetch_json(session, sim, RELAYS, token)
    assert relays == {
        "dry_contacts": [
            {"id": "NC1", "status": "closed"},
            {"id": "NC2", "status": "closed"},
            {"id": "NO1", "status": "open"},
            {"id": "NO2", "status": "closed"},
        ]
    }
    record = {**records[1], "load_name": "Sauna", "priority": 3}
    answer = await fetch(
        session,
        sim,
        SETTINGS,
        token=token,
        method="POST",
        json_body={"dry_contacts": record},
    )
    assert (answer.status, answer.json()) == (200, {"message": "success"})
    assert (await fetch_json(session, sim, SETTINGS, token))["dry_contacts"][
        1
    ] == record


async def test_a_partial_relay_record_crashes_the_gateway_for_a_minute(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(SITE, 12))
    sim = await make_sim(SITE, clock=clock)
    token = sim.mint_token()
    records = (await fetch_json(session, sim, SETTINGS, token))["dry_contacts"]
    partial = {"id": "NC2", "load_name": "Sauna"}
    answer = await fetch(
        session,
        sim,
        SETTINGS,
        token=token,
        method="POST",
        json_body={"dry_contacts": partial},
    )
    assert answer.status == 500
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, sim, "/ivp/meters/readings", token=token)
    clock.advance(59)
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, sim, "/info", authenticate=False)
    clock.advance(2)
    assert (await fetch_json(session, sim, SETTINGS, token))["dry_contacts"] == records


async def test_manual_relays_switch_and_soc_relays_refuse(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(SITE)
    token = sim.mint_token()
    commands = [
        ({"id": "NC2", "status": "open"}, 200, {"message": "success"}),
        ({"id": "NC1", "status": "open"}, 400, {"error": "dry contact NC1 is not in manual mode"}),
        ({"id": "XX9", "status": "open"}, 400, {"error": "dry_contacts must name a known relay"}),
        ({"id": "NC2", "status": "ajar"}, 400, {"error": "status must be open or closed"}),
    ]  # fmt: skip
    for command, status, body in commands:
        answer = await fetch(
            session,
            sim,
            RELAYS,
            token=token,
            method="POST",
            json_body={"dry_contacts": command},
        )
        assert (answer.status, answer.json()) == (status, body), command
    relays = (await fetch_json(session, sim, RELAYS, token))["dry_contacts"]
    assert [r["status"] for r in relays] == ["closed", "open", "open", "closed"]


async def test_a_soc_relay_sheds_its_load_off_grid_below_its_threshold(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(local_epoch(SITE, 20))
    sim = await make_sim(SITE, clock=clock)
    token = sim.mint_token()
    record = (await fetch_json(session, sim, SETTINGS, token))["dry_contacts"][0]
    assert (record["id"], record["mode"]) == ("NC1", "soc")
    written = {**record, "soc_low": 80, "soc_high": 95}
    answer = await fetch(
        session,
        sim,
        SETTINGS,
        token=token,
        method="POST",
        json_body={"dry_contacts": written},
    )
    assert answer.status == 200
    sim.set_grid(False)
    statuses: list[tuple[int, str]] = []
    for _ in range(8):
        clock.advance(900)
        soc = (await fetch_json(session, sim, "/ivp/ensemble/secctrl", token))[
            "agg_soc"
        ]
        relays = (await fetch_json(session, sim, RELAYS, token))["dry_contacts"]
        statuses.append((soc, relays[0]["status"]))
    # Closed while the charge is above soc_low, open once it falls to it.
    assert {(soc <= 80, status) for soc, status in statuses} == {
        (False, "closed"),
        (True, "open"),
    }
    sim.set_grid(True)
    clock.advance(60)
    assert (await fetch_json(session, sim, RELAYS, token))["dry_contacts"][0][
        "status"
    ] == "closed"


async def test_control_api_drives_the_grid_and_the_battery(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(SITE)
    status, body = await _control(session, sim, "POST", "grid", {"on": False})
    assert (status, body) == (200, {"ok": True, "grid_on": False})
    status, info = await _control(session, sim, "GET", "info")
    assert info["grid_on"] is False
    status, energy = await _control(
        session, sim, "POST", "battery", {"mode": "backup", "reserve": 40}
    )
    assert status == 200
    assert (energy["mode"], energy["reserve_pct"], energy["grid_on"]) == (
        "backup",
        40.0,
        False,
    )
    status, read = await _control(session, sim, "GET", "battery")
    assert read == energy
    assert read["charged_wh"] > read["discharged_wh"] > 0
    status, history = await _control(session, sim, "GET", "history?hours=3")
    assert status == 200
    assert [entry["start"] % 3600 for entry in history] == [0.0] * 3
    for bad in ({"mode": "turbo"}, {"reserve": 101}, {"charge_from_grid": "yes"}):
        status, body = await _control(session, sim, "POST", "battery", bad)
        assert status == 400, bad
        assert body["error"]
    status, body = await _control(session, sim, "POST", "grid", {"on": "no"})
    assert status == 400


async def test_control_api_refuses_battery_controls_without_hardware(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_split")
    status, body = await _control(session, sim, "POST", "grid", {"on": False})
    assert status == 400
    assert "no system controller" in body["error"]
    status, body = await _control(session, sim, "GET", "battery")
    assert (status, body) == (400, {"error": "profile metered_split has no battery"})
    acb = await make_sim("acb_only")
    with pytest.raises(ValueError, match="no system controller"):
        acb.set_grid(False)
    assert (
        acb.set_battery_mode("backup")["tariff"]["storage_settings"]["mode"] == "backup"
    )
