"""Sites change: inverters join or go silent, CTs are enabled, flagged or removed."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import advance, state_of

pytestmark = pytest.mark.usefixtures("daytime")


async def test_new_inverters_get_devices_without_a_reload(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Inverters added to the site appear with their entities at the next poll."""
    new_serials = simulator.add_inverters(2)

    await advance(hass, freezer, 70)

    for serial in new_serials:
        device = device_registry.async_get_device_by_identifier(
            (DOMAIN, serial), init_integration.entry_id
        )
        assert device is not None
        assert device.model == "Microinverter"
        assert state_of(hass, f"sensor.inverter_{serial}") != STATE_UNAVAILABLE
        assert (
            state_of(hass, f"binary_sensor.inverter_{serial}_not_reporting")
            == STATE_OFF
        )


async def test_silent_inverter_is_flagged_while_peers_report(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An inverter that stops reporting turns its problem sensor on, and off again."""
    serial = str(simulator.profile.inverter_serial_start)
    entity_id = f"binary_sensor.inverter_{serial}_not_reporting"
    assert state_of(hass, entity_id) == STATE_OFF
    simulator.silence_inverter(serial)

    await advance(hass, freezer, 10 * 60, step=30)
    assert state_of(hass, entity_id) == STATE_OFF  # two missed reports: not yet

    await advance(hass, freezer, 15 * 60, step=30)
    assert state_of(hass, entity_id) == STATE_ON

    simulator.resume_inverter(serial)
    await advance(hass, freezer, 7 * 60, step=30)
    assert state_of(hass, entity_id) == STATE_OFF


@pytest.mark.usefixtures("all_entities_enabled")
async def test_ct_metering_problem_follows_status_and_flags(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A CT reporting check-wiring or raising flags is a problem, with the reason."""
    entity_id = f"binary_sensor.envoy_{simulator.serial}_production_ct_metering_problem"
    assert state_of(hass, entity_id) == STATE_OFF

    simulator.set_meter(
        "production",
        metering_status="check-wiring",
        status_flags=["production-imbalance"],
    )
    await advance(hass, freezer, 10 * 60 + 10, step=30)

    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["metering_status"] == "check-wiring"
    assert state.attributes["status_flags"] == ["production-imbalance"]
    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_production_ct_metering_status")
        == "check_wiring"
    )


@pytest.mark.parametrize("profile", ["metered_no_ct"])
async def test_ct_enabled_later_gets_entities_without_a_reload(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """A consumption CT switched on after setup brings grid entities at once."""
    serial = simulator.serial
    assert hass.states.get(f"sensor.envoy_{serial}_grid_power") is None
    setup_entry = init_integration.runtime_data

    simulator.set_meter("net-consumption", enabled=True)
    await advance(hass, freezer, 10 * 60 + 20, step=30)

    assert init_integration.runtime_data is setup_entry  # not reloaded
    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_grid_power")
        != STATE_UNAVAILABLE
    )
    assert state_of(hass, f"sensor.envoy_{serial}_grid_power") != STATE_UNAVAILABLE
    assert entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{serial}_grid_import_energy"
    )


@pytest.mark.parametrize("profile", ["metered_no_ct"])
async def test_production_ct_enabled_later_switches_the_source(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Enabling a production CT makes it the source at once, without a reload."""
    runtime = init_integration.runtime_data
    assert runtime.site.data is not None
    assert runtime.site.data.production_source != "ct"

    simulator.set_meter("production", enabled=True)
    await advance(hass, freezer, 10 * 60 + 20, step=30)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert init_integration.runtime_data is runtime  # not reloaded
    assert runtime.site.data.production_source == "ct"
    assert state_of(hass, f"sensor.envoy_{simulator.serial}_production_power") not in (
        STATE_UNAVAILABLE,
        "unknown",
    )


async def test_disabled_ct_entities_become_unavailable(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A CT that is switched off stops reporting: its entities say so."""
    simulator.set_meter("net-consumption", enabled=False)

    await advance(hass, freezer, 10 * 60 + 20, step=30)

    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_grid_power")
        == STATE_UNAVAILABLE
    )
    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_production_power")
        != STATE_UNAVAILABLE
    )
