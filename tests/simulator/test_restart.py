"""Counters that survive a restart: simulators started at different times agree."""

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import aiohttp
import pytest

from envoy_simulator import EnvoySimulator, FakeClock

from .conftest import SimulatorFactory, local_epoch
from .helpers import fetch

EVERYTHING = (
    "/ivp/meters/readings",
    "/production.json?details=1",
    "/ivp/pdm/device_data",
    "/api/v1/production",
    "/api/v1/production/inverters",
)
ENSEMBLE = ("/ivp/ensemble/secctrl", "/ivp/ensemble/power", "/ivp/ensemble/inventory")


async def _read(
    session: aiohttp.ClientSession, sim: EnvoySimulator, paths: tuple[str, ...]
) -> dict[str, Any]:
    token = sim.mint_token()
    answers = {path: await fetch(session, sim, path, token=token) for path in paths}
    assert {answer.status for answer in answers.values()} == {200}
    return {path: answer.json() for path, answer in answers.items()}


async def _run(
    session: aiohttp.ClientSession,
    sim: EnvoySimulator,
    clock: FakeClock,
    moments: list[float],
    paths: tuple[str, ...],
) -> None:
    """Read ``paths`` at each moment, as a client polling a running gateway would."""
    for moment in moments:
        clock.set(moment)
        await _read(session, sim, paths)


def _sun_and_load(body: dict[str, Any]) -> dict[str, Any]:
    """Return the parts of a metered snapshot made of sun and household load alone."""
    production = body["/production.json?details=1"]["production"]
    return {
        "production_ct": body["/ivp/meters/readings"][0],
        "inverters_block": production[0],
        "production_eim": production[1],
        "v1": body["/api/v1/production"],
        "inverters": body["/api/v1/production/inverters"],
        "device_data": body["/ivp/pdm/device_data"],
    }


def _inverters_only(body: dict[str, Any]) -> dict[str, Any]:
    """Return what a site without CTs reports: the inverters and their sums."""
    return {
        "v1": body["/api/v1/production"],
        "inverters": body["/api/v1/production/inverters"],
        "inverters_block": body["/production.json?details=1"]["production"],
    }


type Extract = Callable[[dict[str, Any]], dict[str, Any]]
INVERTER_PATHS = (
    "/production.json?details=1",
    "/api/v1/production",
    "/api/v1/production/inverters",
)


@pytest.mark.parametrize("profile", ["metered_three_phase_storage", "off_grid_event"])
async def test_simulators_started_the_same_day_agree_on_everything(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    paths = EVERYTHING + ENSEMBLE
    early_clock = FakeClock(local_epoch(profile, 6))
    early = await make_sim(profile, clock=early_clock)
    moments = [local_epoch(profile, hour, 30) for hour in (6, 9, 12, 14, 15)]
    await _run(session, early, early_clock, moments, paths)
    late_clock = FakeClock(local_epoch(profile, 15, 30))
    late = await make_sim(profile, clock=late_clock)
    for hour, minute in ((15, 30), (17, 5), (23, 59)):
        for clock in (early_clock, late_clock):
            clock.set(local_epoch(profile, hour, minute))
        assert await _read(session, late, paths) == await _read(session, early, paths)
        assert late.true_battery_energy() == early.true_battery_energy()


@pytest.mark.parametrize(
    ("profile", "paths", "extract"),
    [
        ("metered_three_phase_storage", EVERYTHING, _sun_and_load),
        ("legacy_standard", INVERTER_PATHS, _inverters_only),
    ],
)
async def test_a_restart_days_later_keeps_production_counters_exact(
    make_sim: SimulatorFactory,
    session: aiohttp.ClientSession,
    profile: str,
    paths: tuple[str, ...],
    extract: Extract,
) -> None:
    running_clock = FakeClock(local_epoch(profile, 13))
    running = await make_sim(profile, clock=running_clock)
    moments = [local_epoch(profile, 13) + 3 * 3600 * n for n in range(12)]
    await _run(session, running, running_clock, moments, paths)
    # Restarted in the night two days later: nothing may have moved meanwhile.
    restart = local_epoch(profile, 2, day=30)
    restarted_clock = FakeClock(restart)
    restarted = await make_sim(profile, clock=restarted_clock)
    for moment in (restart, restart + 8 * 3600 + 17):
        running_clock.set(moment)
        restarted_clock.set(moment)
        after = await _read(session, restarted, paths)
        assert extract(after) == extract(await _read(session, running, paths))


async def test_a_load_ct_site_agrees_on_every_counter_whenever_restarted(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    profile = "total_consumption"
    running_clock = FakeClock(local_epoch(profile, 13))
    running = await make_sim(profile, clock=running_clock)
    moments = [local_epoch(profile, 13) + 4 * 3600 * n for n in range(10)]
    await _run(session, running, running_clock, moments, EVERYTHING)
    restart = local_epoch(profile, 21, day=30)
    restarted = await make_sim(profile, clock=FakeClock(restart))
    running_clock.set(restart)
    assert await _read(session, restarted, EVERYTHING) == await _read(
        session, running, EVERYTHING
    )


async def test_a_shared_history_start_makes_every_counter_agree_across_days(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    profile = "metered_three_phase_storage"
    paths = EVERYTHING + ENSEMBLE
    history = local_epoch(profile, 0, day=27)
    first_clock = FakeClock(local_epoch(profile, 13))
    first = await make_sim(profile, clock=first_clock, history_start=history)
    moments = [local_epoch(profile, 13) + 5 * 3600 * n for n in range(5)]
    await _run(session, first, first_clock, moments, paths)
    second_clock = FakeClock(local_epoch(profile, 9, day=29))
    second = await make_sim(profile, clock=second_clock, history_start=history)
    for moment in (second_clock(), second_clock() + 7200 + 3):
        first_clock.set(moment)
        second_clock.set(moment)
        assert await _read(session, second, paths) == await _read(session, first, paths)
        assert second.true_battery_energy() == first.true_battery_energy()


async def test_hourly_history_leads_into_the_live_counters(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    profile = "metered_three_phase_storage"
    clock = FakeClock(local_epoch(profile, 13, 25))
    sim = await make_sim(profile, clock=clock)
    history = sim.hourly_history(168)
    hour = local_epoch(profile, 13)
    assert [entry.time for entry in history] == [
        hour - 3600 * (167 - n) for n in range(168)
    ]
    columns = (
        "production_wh",
        "consumption_wh",
        "grid_import_wh",
        "grid_export_wh",
        "battery_charge_wh",
        "battery_discharge_wh",
    )
    for column in columns:
        values = [getattr(entry, column) for entry in history]
        assert all(b >= a for a, b in pairwise(values)), column
    days = [
        (history[n + 24].production_wh - history[n].production_wh) / 1000
        for n in (0, 24, 48, 72, 96, 120)
    ]
    assert all(10 < day < 100 for day in days)
    # At the current hour's start the history is what the gateway reads then.
    last = history[-1]
    clock.set(hour)
    token = sim.mint_token()
    readings = (await fetch(session, sim, "/ivp/meters/readings", token=token)).json()
    production, net, storage = readings
    # The readings' aggregates add up channels rounded to the gateway's 3 decimals.
    assert [
        production["actEnergyDlvd"],
        net["actEnergyDlvd"],
        net["actEnergyRcvd"],
        storage["actEnergyRcvd"],
        storage["actEnergyDlvd"],
    ] == pytest.approx(
        [
            last.production_wh,
            last.grid_import_wh,
            last.grid_export_wh,
            last.battery_charge_wh,
            last.battery_discharge_wh,
        ],
        abs=0.005,
    )
    body = (await fetch(session, sim, "/production.json", token=token)).json()
    assert body["consumption"][0]["whLifetime"] == pytest.approx(
        last.consumption_wh, abs=0.01
    )
    assert last.as_dict()["start"] == hour


async def test_hourly_history_limits(make_sim: SimulatorFactory) -> None:
    profile = "legacy_standard"
    sim = await make_sim(profile, clock=FakeClock(local_epoch(profile, 13, 25)))
    (only,) = sim.hourly_history(1)
    assert (only.consumption_wh, only.grid_import_wh, only.battery_charge_wh) == (
        None,
        None,
        None,
    )
    assert only.production_wh > 1_000_000
    with pytest.raises(ValueError, match="at most 230 hours"):
        sim.hourly_history(231)
    with pytest.raises(ValueError, match="positive whole number"):
        sim.hourly_history(0)


@pytest.mark.parametrize(
    "profile", ["metered_three_phase_storage", "iq_battery_no_ct", "metered_split"]
)
async def test_a_restart_days_later_keeps_consumption_exact(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    running_clock = FakeClock(local_epoch(profile, 13))
    running = await make_sim(profile, clock=running_clock)
    moments = [local_epoch(profile, 13) + 3 * 3600 * n for n in range(12)]
    await _run(session, running, running_clock, moments, ("/production.json",))
    restart = local_epoch(profile, 2, day=30)
    restarted = await make_sim(profile, clock=FakeClock(restart))
    running_clock.set(restart)
    # Grid and battery lifetimes before a simulator's history are estimates,
    # but import less export is exact: the house's consumption does not move.
    (before,) = running.hourly_history(1)
    (after,) = restarted.hourly_history(1)
    assert after.consumption_wh == pytest.approx(before.consumption_wh, rel=1e-12)
    assert after.production_wh == before.production_wh


async def test_a_restart_days_later_keeps_the_gateways_consumption_exact(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    profile = "metered_three_phase_storage"
    running_clock = FakeClock(local_epoch(profile, 13))
    running = await make_sim(profile, clock=running_clock)
    moments = [local_epoch(profile, 13) + 3 * 3600 * n for n in range(12)]
    await _run(session, running, running_clock, moments, ("/production.json",))
    restart = local_epoch(profile, 2, day=30)
    restarted = await make_sim(profile, clock=FakeClock(restart))
    running_clock.set(restart)
    body = (await _read(session, running, ("/production.json",)))["/production.json"]
    again = (await _read(session, restarted, ("/production.json",)))["/production.json"]
    assert again["consumption"][0]["measurementType"] == "total-consumption"
    assert again["consumption"][0]["whLifetime"] == pytest.approx(
        body["consumption"][0]["whLifetime"], abs=0.002
    )
