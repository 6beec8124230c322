"""Diagnostics as Home Assistant serves them: complete, repeatable, redacted."""

import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import paths, props
from syrupy.types import PropertyName, PropertyPath

from custom_components.enphase_local.const import CONF_TOKEN
from envoy_simulator import EnvoySimulator

from .helpers import SMALL_BATTERY_SITE

FROZEN_AT = "2025-07-28T18:00:00+00:00"
"""11:00 in California: the sun is up on both sites."""

_VOLATILE_PROPS = props(
    # How long requests took over loopback.
    "last_latency_s",
    "total_latency_s",
    # A new config entry.
    "entry_id",
    "created_at",
    "modified_at",
)
_LOOPBACK_PORT = paths("config_entry.data.host")
"""The simulator listens on a free port."""


def volatile(*, prop: PropertyName, path: PropertyPath) -> bool:
    """Return True for values that change from run to run."""
    return _VOLATILE_PROPS(prop=prop, path=path) or _LOOPBACK_PORT(prop=prop, path=path)


@pytest.fixture(autouse=True)
def frozen_time(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Freeze time so simulated values, token times and timestamps repeat."""
    freezer.move_to(FROZEN_AT)
    return freezer


@pytest.mark.parametrize(
    "profile", ["metered_split", SMALL_BATTERY_SITE], ids=["metered_split", "battery"]
)
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The whole download of a CT site and of a battery site."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )

    assert diagnostics == snapshot(exclude=volatile)


@pytest.mark.parametrize(
    "profile",
    ["metered_split", "metered_three_phase_storage", SMALL_BATTERY_SITE],
    ids=["metered_split", "metered_three_phase_storage", "battery"],
)
async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Diagnostics carry raw captures and statistics but no serials or tokens."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    text = json.dumps(diagnostics)
    devices = dr.async_entries_for_config_entry(
        device_registry, init_integration.entry_id
    )
    serials = {device.serial_number for device in devices if device.serial_number}

    assert {simulator.serial, str(simulator.profile.inverter_serial_start)} <= serials
    assert sorted(serial for serial in serials if serial in text) == []
    assert "REDACTED_SERIAL_1" in text
    assert init_integration.data[CONF_TOKEN] not in text
    assert init_integration.data[CONF_TOKEN][:20] not in text
    assert "/ivp/meters/readings" in diagnostics["raw_responses"]
    assert diagnostics["request_statistics"]["/ivp/meters/readings"]["requests"] >= 1
    assert diagnostics["capabilities"]["production_source"] == "ct"
    assert all(
        simulator.serial not in key for key in diagnostics["energy_state"]["lifetimes"]
    )
    assert diagnostics["token"]["role"] == "owner"
    assert diagnostics["tiers"]["live"]["last_update_success"] is True
    assert diagnostics["config_entry"]["data"][CONF_TOKEN] == "**REDACTED**"
