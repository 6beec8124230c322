"""Batteries and the system controller: what a battery owner sees and controls.

Against the simulator's battery sites (IQ Batteries with and without a
storage CT, first-generation AC batteries, a site that goes off grid): the
state of charge per battery and for the site, battery power, grid status,
battery energy integrated where no storage CT counts it, and controls that
write whole documents, confirm, and survive refusals and the cloud
overwriting them.
"""

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import CONF_LIVE_INTERVAL, DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import advance, gateway_json, setup_entry, state_of

pytestmark = pytest.mark.usefixtures("daytime")

BATTERY_SITES = [
    "iq_battery_storage_ct",
    "iq_battery_no_ct",
    "metered_three_phase_storage",
    "off_grid_event",
]


def _number(hass: HomeAssistant, entity_id: str) -> float:
    """Return a numeric state."""
    return float(state_of(hass, entity_id))


@pytest.mark.parametrize("profile", BATTERY_SITES)
async def test_every_battery_and_the_site_show_their_charge(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """State of charge per battery and for the site, battery power, grid status."""
    serial = simulator.serial
    truth = simulator.true_battery_energy()
    power = (await gateway_json(simulator, "/ivp/ensemble/power"))["devices:"]
    inventory = await gateway_json(simulator, "/ivp/ensemble/inventory")
    (controller,) = next(g for g in inventory if g["type"] == "ENPOWER")["devices"]

    assert _number(hass, f"sensor.envoy_{serial}_battery_state_of_charge") == (
        pytest.approx(truth["percent_full"], abs=1)
    )
    assert {
        device["serial_num"]: _number(
            hass, f"sensor.iq_battery_{device['serial_num']}_state_of_charge"
        )
        for device in power
    } == {device["serial_num"]: device["soc"] for device in power}
    assert sum(
        _number(hass, f"sensor.iq_battery_{device['serial_num']}_power")
        for device in power
    ) == pytest.approx(sum(device["real_power_mw"] for device in power) / 1000)
    assert _number(hass, f"sensor.envoy_{serial}_battery_power") == pytest.approx(
        truth["power_w"], abs=25.0
    )
    assert state_of(
        hass, f"binary_sensor.iq_system_controller_{controller['serial_num']}_grid"
    ) == (STATE_ON if truth["grid_on"] else STATE_OFF)


@pytest.mark.parametrize("profile", ["acb_only"])
async def test_ac_batteries_show_charge_stored_energy_power_and_state(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """First-generation AC batteries: from production.json's storage block."""
    serial = simulator.serial
    report = await gateway_json(simulator, "/production.json")
    (acb,) = [entry for entry in report["storage"] if entry["type"] == "acb"]

    assert (
        _number(hass, f"sensor.envoy_{serial}_battery_state_of_charge")
        == (acb["percentFull"])
    )
    assert _number(hass, f"sensor.envoy_{serial}_battery_energy_available") == (
        pytest.approx(acb["whNow"] / 1000)
    )
    assert _number(hass, f"sensor.envoy_{serial}_battery_power") == acb["wNow"]
    assert state_of(hass, f"sensor.envoy_{serial}_ac_battery_state") == acb["state"]


@pytest.mark.parametrize("profile", ["off_grid_event"])
async def test_going_off_grid_is_seen_within_a_minute(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The grid binary sensor follows the system controller's main relay."""
    inventory = await gateway_json(simulator, "/ivp/ensemble/inventory")
    (controller,) = next(g for g in inventory if g["type"] == "ENPOWER")["devices"]
    grid_id = f"binary_sensor.iq_system_controller_{controller['serial_num']}_grid"
    assert state_of(hass, grid_id) == STATE_ON

    simulator.set_grid(on=False)
    await advance(hass, freezer, 70)
    assert state_of(hass, grid_id) == STATE_OFF

    simulator.set_grid(on=True)
    await advance(hass, freezer, 70)
    assert state_of(hass, grid_id) == STATE_ON


@pytest.mark.parametrize("profile", ["iq_battery_no_ct"])
async def test_battery_energy_without_a_storage_ct_follows_the_truth_over_a_day(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Charge and discharge energy, integrated from the batteries' own power.

    No storage CT counts them, so the Energy dashboard's battery section
    relies on this: within 1% of the simulator's true energy over a day.
    """
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_LIVE_INTERVAL: 60}
    )
    await setup_entry(hass, config_entry)
    serial = simulator.serial
    charge_id = f"sensor.envoy_{serial}_battery_charge_energy"
    discharge_id = f"sensor.envoy_{serial}_battery_discharge_energy"
    start = simulator.true_battery_energy()
    shown_start = (_number(hass, charge_id), _number(hass, discharge_id))

    await advance(hass, freezer, 24 * 3600, step=60)

    end = simulator.true_battery_energy()
    charged_kwh = (end["charged_wh"] - start["charged_wh"]) / 1000
    discharged_kwh = (end["discharged_wh"] - start["discharged_wh"]) / 1000
    assert charged_kwh > 5
    assert discharged_kwh > 5
    assert _number(hass, charge_id) - shown_start[0] == pytest.approx(
        charged_kwh, rel=0.01
    )
    assert _number(hass, discharge_id) - shown_start[1] == pytest.approx(
        discharged_kwh, rel=0.01
    )


@pytest.mark.parametrize("profile", ["iq_battery_storage_ct"])
async def test_storage_controls_write_whole_documents_and_confirm(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Storage mode, reserve and charge from grid reach the gateway and show there."""
    serial = simulator.serial
    mode_id = f"select.envoy_{serial}_storage_mode"
    reserve_id = f"number.envoy_{serial}_reserve_level"
    grid_charge_id = f"switch.envoy_{serial}_charge_from_grid"

    await hass.services.async_call(
        Platform.SELECT,
        "select_option",
        {ATTR_ENTITY_ID: mode_id, "option": "backup"},
        blocking=True,
    )
    await hass.services.async_call(
        Platform.NUMBER,
        "set_value",
        {ATTR_ENTITY_ID: reserve_id, "value": 45},
        blocking=True,
    )
    await hass.services.async_call(
        Platform.SWITCH,
        SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: grid_charge_id},
        blocking=True,
    )

    truth = simulator.true_battery_energy()
    assert (truth["mode"], truth["reserve_pct"], truth["charge_from_grid"]) == (
        "backup",
        45.0,
        True,
    )
    assert state_of(hass, mode_id) == "backup"
    assert _number(hass, reserve_id) == 45.0
    assert state_of(hass, grid_charge_id) == STATE_ON


@pytest.mark.parametrize("profile", ["iq_battery_storage_ct"])
async def test_refused_write_fails_with_a_translated_error(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """The gateway refusing a write: the user is told, nothing changes."""
    mode_id = f"select.envoy_{simulator.serial}_storage_mode"
    before = state_of(hass, mode_id)
    simulator.inject("/admin/lib/tariff", "tariff_refused", status=500)

    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            Platform.SELECT,
            "select_option",
            {ATTR_ENTITY_ID: mode_id, "option": "backup"},
            blocking=True,
        )

    assert raised.value.translation_key == "write_failed"
    assert state_of(hass, mode_id) == before
    assert simulator.true_battery_energy()["mode"] == "self-consumption"


@pytest.mark.parametrize("profile", ["iq_battery_storage_ct"])
async def test_cloud_overwrite_is_reported_once(
    hass: HomeAssistant,
    *,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Enphase cloud puts its own tariff back: a repair and one log line."""
    mode_id = f"select.envoy_{simulator.serial}_storage_mode"
    simulator.inject("/admin/lib/tariff", "cloud_overwrite", delay=120)

    await hass.services.async_call(
        Platform.SELECT,
        "select_option",
        {ATTR_ENTITY_ID: mode_id, "option": "backup"},
        blocking=True,
    )
    assert state_of(hass, mode_id) == "backup"
    await advance(hass, freezer, 15 * 60, step=30)

    assert state_of(hass, mode_id) == "self_consumption"
    assert issue_registry.async_get_issue(
        DOMAIN, f"tariff_overwritten_{init_integration.entry_id}"
    )
    warnings = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and "changed back" in record.getMessage()
    ]
    assert len(warnings) == 1


@pytest.mark.parametrize("profile", ["iq_battery_storage_ct"])
async def test_relay_switches_a_load_and_confirms(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """A manual relay opens and closes; the gateway's relay follows."""
    settings = (await gateway_json(simulator, "/ivp/ss/dry_contact_settings"))[
        "dry_contacts"
    ]
    manual = next(record for record in settings if record["mode"] == "manual")
    inventory = await gateway_json(simulator, "/ivp/ensemble/inventory")
    (controller,) = next(g for g in inventory if g["type"] == "ENPOWER")["devices"]
    relay_id = (
        f"switch.iq_system_controller_{controller['serial_num']}_relay_"
        + manual["load_name"].lower().replace(" ", "_")
    )

    await hass.services.async_call(
        Platform.SWITCH, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: relay_id}, blocking=True
    )
    opened = (await gateway_json(simulator, "/ivp/ensemble/dry_contacts"))[
        "dry_contacts"
    ]
    state_after_off = state_of(hass, relay_id)
    await hass.services.async_call(
        Platform.SWITCH, SERVICE_TURN_ON, {ATTR_ENTITY_ID: relay_id}, blocking=True
    )
    closed = (await gateway_json(simulator, "/ivp/ensemble/dry_contacts"))[
        "dry_contacts"
    ]

    assert {c["id"]: c["status"] for c in opened}[manual["id"]] == "open"
    assert state_after_off == STATE_OFF
    assert {c["id"]: c["status"] for c in closed}[manual["id"]] == "closed"
    assert state_of(hass, relay_id) == STATE_ON


async def test_no_battery_endpoint_is_polled_without_batteries(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A gateway without batteries is never asked about them after setup."""
    simulator.reset_stats()

    await advance(hass, freezer, 15 * 60, step=30)

    polled = set(simulator.stats()["endpoints"])
    assert polled
    assert {path for path in polled if "ensemble" in path or "tariff" in path} == set()
    assert [t.tier for t in init_integration.runtime_data.tiers] == [
        "info",
        "meters",
        "live",
        "production",
        "inverters",
        "parts",
    ]
