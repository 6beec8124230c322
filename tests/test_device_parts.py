"""Inverter devices show their part number and firmware from /inventory.json."""

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import DOMAIN
from envoy_simulator import EnvoySimulator
from envoy_simulator.faults import FaultKind

from .helpers import advance, gateway_json, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("daytime")


def _requests(simulator: EnvoySimulator, path: str) -> int:
    """Return how often the gateway served ``path``."""
    endpoint = simulator.stats()["endpoints"].get(path)
    return 0 if endpoint is None else int(endpoint["requests"])


def _device(
    registry: dr.DeviceRegistry, entry: MockConfigEntry, serial: str
) -> dr.DeviceEntry:
    device = registry.async_get_device_by_identifier((DOMAIN, serial), entry.entry_id)
    assert device is not None, serial
    return device


async def test_inverters_get_part_number_and_firmware_after_set_up(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The slow page is not read at set-up; a few minutes later devices are labelled."""
    truth = {
        device["serial_num"]: device
        for group in await gateway_json(simulator, "/inventory.json")
        if group["type"] == "PCU"
        for device in group["devices"]
    }
    serial = str(simulator.profile.inverter_serial_start)
    assert _requests(simulator, "/inventory.json") == 1  # the line above only
    assert _device(device_registry, init_integration, serial).model_id is None

    await advance(hass, freezer, 6 * 60, step=30)

    assert _requests(simulator, "/inventory.json") == 2
    for serial, expected in truth.items():
        device = _device(device_registry, init_integration, serial)
        assert device.model == "Microinverter"
        assert device.model_id == expected["part_num"]
        assert device.sw_version == expected["img_pnum_running"]

    # Once a day after that, not on any faster cycle.
    await advance(hass, freezer, 3 * 3600, step=300)
    assert _requests(simulator, "/inventory.json") == 2


async def test_inverters_added_later_are_labelled_when_created(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device created after the inventory was read gets its labels at once."""
    entry = make_entry(simulator)
    await setup_entry(hass, entry)
    await advance(hass, freezer, 6 * 60, step=30)
    runtime = entry.runtime_data
    assert runtime.tiers.parts is not None
    # The inverter joins the site: the daily read has not seen it, a reload has.
    (serial,) = simulator.add_inverters(1)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 6 * 60, step=30)

    device = _device(device_registry, entry, serial)
    assert device.model_id is not None
    assert device.model_id.startswith("800-")
    assert device.sw_version is not None


@pytest.mark.parametrize(
    "fault",
    [
        # A gateway without the page is asked again tomorrow.
        ("not_found", 1),
        # A passing failure is retried within the hour: at 5 and 65 minutes,
        # each read sent twice (the client retries a 503 once).
        ("http_503", 4),
    ],
)
async def test_inventory_failing_costs_nothing_but_a_retry(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    fault: tuple[FaultKind, int],
) -> None:
    """No error in the log, no entity unavailable, the devices just stay unlabelled."""
    kind, requests_after_two_hours = fault
    device_registry = dr.async_get(hass)
    simulator.inject("/inventory.json", kind)
    entry = make_entry(simulator)
    await setup_entry(hass, entry)
    serial = str(simulator.profile.inverter_serial_start)
    caplog.set_level(logging.INFO, logger="custom_components.enphase_local")

    await advance(hass, freezer, 2 * 3600 + 60, step=60)

    assert _requests(simulator, "/inventory.json") == requests_after_two_hours
    assert _device(device_registry, entry, serial).model_id is None
    assert hass.states.get(f"sensor.inverter_{serial}") is not None
    assert [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.INFO
        and record.name.startswith("custom_components.enphase_local")
    ] == []

    simulator.clear_faults()
    await advance(hass, freezer, 24 * 3600, step=600)
    assert _device(device_registry, entry, serial).model_id is not None
