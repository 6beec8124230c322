"""Energy sensors as the Energy dashboard sees them, through gateway glitches."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from envoy_simulator import EnvoySimulator

from .helpers import advance, gateway_json, setup_entry

pytestmark = pytest.mark.usefixtures("daytime")


WRAP_KWH = 2**32 / 3600 / 1000


def _value(hass: HomeAssistant, entity_id: str) -> float:
    """Return a numeric state."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_energy_sensors_are_dashboard_ready(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Energy totals are energy, total_increasing, in kWh."""
    serial = simulator.serial
    for key in ("production_energy", "grid_import_energy", "grid_export_energy"):
        state = hass.states.get(f"sensor.envoy_{serial}_{key}")
        assert state is not None
        assert state.attributes[ATTR_DEVICE_CLASS] == "energy"
        assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
        assert float(state.state) > 0


async def test_zero_glitch_never_reaches_the_dashboard(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """CT counters reading 0 for a while (a gateway reboot) hold the last total."""
    entity_id = f"sensor.envoy_{simulator.serial}_grid_import_energy"
    before = _value(hass, entity_id)
    # Seven polls of zeros: longer than the minute between two counter guards.
    simulator.inject("/ivp/meters/readings", "zero_glitch", count=7)

    seen: list[float] = []
    for _ in range(12):
        await advance(hass, freezer, 10)
        seen.append(_value(hass, entity_id))

    assert min(seen) >= before
    assert seen == sorted(seen)
    assert caplog.text.count("dropped; holding the last totals") >= 1


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("profile", ["metered_three_phase_storage"])
async def test_inverter_counter_wrap_is_corrected(
    hass: HomeAssistant,
    *,
    hass_storage: dict[str, Any],
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An inverter whose 32-bit joule counter wraps keeps a rising lifetime energy."""
    freezer.move_to("2025-07-28T12:00:00+00:00")  # 14:00 at this European site
    serial = simulator.profile.inverter_serial_start
    entity_id = f"sensor.inverter_{serial}_lifetime_energy"
    # Bring the inverter to just below 2**32 J before Home Assistant meets it.
    simulator.inject("*", "counter_wrap", serial=str(serial), mode="next")
    await setup_entry(hass, config_entry)
    before = _value(hass, entity_id)
    assert before == pytest.approx(WRAP_KWH, abs=1.0)

    values = []
    for _ in range(12):
        await advance(hass, freezer, 60)
        values.append(_value(hass, entity_id))

    assert values == sorted(values)
    assert values[-1] > before
    assert values[-1] - before < 0.2  # kWh: a dozen minutes of one inverter
    assert "wrapped at 2^32 J" in caplog.text
    # The offset is saved at once, so a crash right after cannot lose it.
    stored = hass_storage[f"enphase_local.{config_entry.entry_id}.energy"]["data"]
    assert stored["lifetimes"][f"inverter_{serial}"]["offset_wh"] == pytest.approx(
        WRAP_KWH * 1000
    )


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_system_total_survives_an_inverter_wrap(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """/api/v1/production sums wrapping inverter counters: the total carries on."""
    entity_id = f"sensor.envoy_{simulator.serial}_production_energy"
    before = _value(hass, entity_id)
    simulator.inject("*", "counter_wrap", mode="immediate")

    await advance(hass, freezer, 120)

    after = _value(hass, entity_id)
    assert after >= before
    assert after - before < 5


async def test_daily_energy_restarts_at_local_midnight(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Production today counts up during the day and is 0 right after midnight."""
    entity_id = f"sensor.envoy_{simulator.serial}_production_today"
    await advance(hass, freezer, 30 * 60, step=30)
    assert _value(hass, entity_id) > 0

    # Home Assistant's test time zone is US/Pacific: midnight is 07:00 UTC.
    freezer.move_to("2025-07-29T06:59:50+00:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, 20, step=5)

    assert _value(hass, entity_id) == 0.0


async def test_energy_state_survives_a_restart(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Reloading keeps daily baselines: today's energy does not restart from 0."""
    entity_id = f"sensor.envoy_{simulator.serial}_production_today"
    await advance(hass, freezer, 20 * 60, step=30)
    today = _value(hass, entity_id)
    assert today > 0

    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    assert _value(hass, entity_id) >= today


async def test_today_on_install_day_starts_at_the_gateways_own_count(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Added at 11:00, production today is the gateway's count, not 0.0 kWh.

    Only the first day takes it: a reload later carries on counting.
    """
    entity_id = f"sensor.envoy_{simulator.serial}_production_today"
    gateway = await gateway_json(simulator, "/api/v1/production")
    assert gateway["wattHoursToday"] > 5_000
    assert _value(hass, entity_id) == pytest.approx(
        gateway["wattHoursToday"] / 1000, abs=0.01
    )

    await advance(hass, freezer, 10 * 60, step=10)
    grown = _value(hass, entity_id)
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    gateway = await gateway_json(simulator, "/api/v1/production")
    assert _value(hass, entity_id) >= grown
    assert _value(hass, entity_id) == pytest.approx(
        gateway["wattHoursToday"] / 1000, abs=0.05
    )


@pytest.mark.parametrize("profile", ["metered_no_ct"])
async def test_today_on_install_day_ignores_a_stalled_source(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Where /api/v1/production is stalled its count of today is not believed."""
    gateway = await gateway_json(simulator, "/api/v1/production")
    assert gateway["wattHoursToday"] > 1_000

    today = _value(hass, f"sensor.envoy_{simulator.serial}_production_today")

    assert today == 0.0
