"""A simulated day with the recorder: the Energy dashboard's statistics against the truth.

The simulator knows the true energy of every flow (its counters are the
integrals of its powers). Through a day of glitches (counters reading zero,
stale answers, 503s, outages, a gateway reboot, inverter counters wrapping
at 2^32 J) every total on the Energy dashboard, and the sum of the inverter
totals, must land within 0.1% of that truth in the recorder's hourly
statistics. A fault-free day must hold nothing and warn about nothing.
"""

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.enphase_local.connection import CLIENT_SETTINGS, ClientSettings
from custom_components.enphase_local.const import CONF_LIVE_INTERVAL
from envoy_simulator import EnvoySimulator

from .helpers import advance, gateway_json, make_entry

PROFILE = "metered_three_phase_storage"
# Just before 02:00 in Amsterdam (the profile's site), a sunny July day; the
# window runs past the gateway's nightly restart after 23:00. Polls fall one
# second before each whole hour, so the hourly statistics' edges are current.
DAY_START = datetime.fromisoformat("2025-07-27T23:59:59+00:00")
WRAP_J = 2**32
SITE_TOTALS = {
    "production_energy": "production_wh",
    "grid_import_energy": "grid_import_wh",
    "grid_export_energy": "grid_export_wh",
    "consumption_energy": "consumption_wh",
    "battery_charge_energy": "battery_charge_wh",
    "battery_discharge_energy": "battery_discharge_wh",
}


@pytest.fixture
def day_clock(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Set the clock before the recorder starts: it must never see time go back."""
    freezer.move_to(DAY_START)
    return freezer


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    day_clock: FrozenDateTimeFactory,
    recorder_mock: Recorder,
    enable_custom_integrations: None,
) -> None:
    """Start the recorder before Home Assistant, then allow custom integrations."""


@pytest.fixture(autouse=True)
def no_retry_pause(recorder_mock: Recorder, hass: HomeAssistant) -> None:
    """Retry at once; the recorder must start before Home Assistant does."""
    hass.data[CLIENT_SETTINGS] = ClientSettings(retries=1, retry_backoff_s=0.0)


@pytest.fixture
async def day_gateway(
    socket_enabled: None, day_clock: FrozenDateTimeFactory
) -> AsyncIterator[EnvoySimulator]:
    """Run the site with its nightly restart, from early morning."""
    async with EnvoySimulator(
        PROFILE, port=0, cloud_port=None, seed=1, daily_outage=True
    ) as sim:
        yield sim


async def _inverter_joules(sim: EnvoySimulator) -> dict[str, int]:
    """Return each inverter's raw 32-bit lifetime counter."""
    data = await gateway_json(sim, "/ivp/pdm/device_data")
    return {
        entry["sn"]: entry["channels"][0]["lifetime"]["joulesProduced"]
        for entry in data.values()
        if isinstance(entry, dict) and entry.get("devName") == "pcu" and entry["active"]
    }


async def _set_up_with_inverter_totals(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Set up, then enable every inverter's lifetime energy as a user would."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registry_entry.unique_id.endswith("_lifetime_energy"):
            registry.async_update_entity(registry_entry.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


def _site_truth(sim: EnvoySimulator) -> dict[str, float]:
    """Return the site's true lifetime counters now (Wh)."""
    (now,) = sim.hourly_history(1)
    return {key: value for key, value in now.as_dict().items() if value is not None}


async def _hourly_sums(
    hass: HomeAssistant, entity_ids: list[str], start: datetime, end: datetime
) -> dict[str, float]:
    """Return each statistic's sum growth over [start, end) from hourly statistics."""
    rows = await hass.async_add_executor_job(
        lambda: statistics_during_period(
            hass,
            start - timedelta(hours=1),
            end,
            set(entity_ids),
            "hour",
            None,
            {"sum"},
        )
    )
    return {
        entity_id: float(series[-1]["sum"] or 0.0) - float(series[0]["sum"] or 0.0)
        for entity_id, series in rows.items()
    }


@pytest.mark.parametrize("enable_statistics", [True])
async def test_a_day_of_glitches_keeps_every_total_within_a_tenth_of_a_percent(
    hass: HomeAssistant,
    day_gateway: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Zeros, wraps, stale answers, 503s, outages, a reboot: statistics stay true."""
    sim = day_gateway
    # Every inverter's counter a few hundred joules short of 2^32: each wraps today.
    sim.inject("*", "counter_wrap", serial="all")
    entry = make_entry(
        sim,
        token=sim.mint_token(lifetime_seconds=86400 * 30),
        options={CONF_LIVE_INTERVAL: 60},
    )
    await _set_up_with_inverter_totals(hass, entry)
    # An hour in, just past the hour: the truth is read at the hour itself.
    await advance(hass, freezer, 3660, step=60)
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    truth_start = _site_truth(sim)
    joules_start = await _inverter_joules(sim)

    glitches: dict[int, Callable[[], object]] = {
        2: lambda: sim.inject("/ivp/meters/readings", "zero_glitch", count=8),
        6: lambda: sim.inject("/ivp/meters/readings", "stale", duration=300),
        9: lambda: sim.inject("*", "http_503", count=6),
        12: lambda: sim.inject("*", "outage", duration=150),
        15: lambda: sim.upgrade_firmware(PROFILE, outage_seconds=90),
        19: lambda: sim.inject("/ivp/pdm/device_data", "zero_glitch", count=3),
    }
    for hour in range(1, 23):
        if hour in glitches:
            glitches[hour]()
        await advance(hass, freezer, 3600, step=60)
    end = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    truth_end = _site_truth(sim)
    joules_end = await _inverter_joules(sim)
    await advance(hass, freezer, 600, step=60)
    await async_wait_recording_done(hass)

    serial = sim.serial
    site_ids = [f"sensor.envoy_{serial}_{key}" for key in SITE_TOTALS]
    inverter_ids = [
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(
            entity_registry, entry.entry_id
        )
        if registry_entry.unique_id.endswith("_lifetime_energy")
    ]
    shown = await _hourly_sums(hass, [*site_ids, *inverter_ids], start, end)
    true_kwh = {
        f"sensor.envoy_{serial}_{key}": (truth_end[field] - truth_start[field]) / 1000
        for key, field in SITE_TOTALS.items()
    }
    # House consumption as the Energy dashboard counts it: what the solar
    # produced (not net of the inverters' standby draw) plus the grid and
    # battery balances.
    true_kwh[f"sensor.envoy_{serial}_consumption_energy"] = sum(
        sign * true_kwh[f"sensor.envoy_{serial}_{key}"]
        for key, sign in (
            ("production_energy", 1),
            ("grid_import_energy", 1),
            ("grid_export_energy", -1),
            ("battery_discharge_energy", 1),
            ("battery_charge_energy", -1),
        )
    )
    true_inverters_kwh = (
        sum((joules_end[s] - joules_start[s]) % WRAP_J for s in joules_start)
        / 3600
        / 1000
    )

    assert len(inverter_ids) == len(joules_start) == 30
    assert {entity_id: shown[entity_id] for entity_id in site_ids} == {
        entity_id: pytest.approx(value, rel=1e-3)
        for entity_id, value in true_kwh.items()
    }
    assert sum(shown[entity_id] for entity_id in inverter_ids) == pytest.approx(
        true_inverters_kwh, rel=1e-3
    )
    assert min(true_kwh.values()) > 1.0  # every flow really moved today


async def test_a_fault_free_day_holds_nothing_and_warns_nothing(
    hass: HomeAssistant,
    day_gateway: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """30 inverters reporting every 5 minutes all day: no energy warning, no hold."""
    sim = day_gateway
    entry = make_entry(
        sim,
        token=sim.mint_token(lifetime_seconds=86400 * 30),
        options={CONF_LIVE_INTERVAL: 60},
    )
    await _set_up_with_inverter_totals(hass, entry)
    held: set[str] = set()
    book = entry.runtime_data.energy.book
    for _ in range(24):
        await advance(hass, freezer, 3600, step=60)
        held.update(key for key, tracker in book.lifetimes.items() if tracker.held)

    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and "Energy (" in record.getMessage()
    ]
    assert warnings == []
    assert held == set()
    assert len([key for key in book.lifetimes if key.startswith("inverter_")]) == 30
