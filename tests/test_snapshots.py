"""What a user sees per kind of gateway: every entity, its settings and state."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

# A summer day when the sun is up on every profile's clock: 09:00 in
# California, 18:00 in Amsterdam; inverters are reporting.
FROZEN_AT = "2025-07-28T16:00:00+00:00"


@pytest.fixture(autouse=True)
def frozen_time(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Freeze time so simulated values and timestamps repeat exactly."""
    freezer.move_to(FROZEN_AT)
    return freezer


def _entity_view(
    hass: HomeAssistant, entry: er.RegistryEntry, devices: dr.DeviceRegistry
) -> dict[str, Any]:
    """Return what a user sees of one entity, compactly."""
    state = hass.states.get(entry.entity_id)
    device = devices.async_get(entry.device_id) if entry.device_id else None
    view: dict[str, Any] = {
        "unique_id": entry.unique_id,
        "device": None if device is None else device.name_by_user or device.name,
        "name": None if state is None else state.attributes.get("friendly_name"),
        "translation_key": entry.translation_key,
        "device_class": entry.device_class or entry.original_device_class,
        "unit": entry.unit_of_measurement,
        "category": None
        if entry.entity_category is None
        else entry.entity_category.value,
        "enabled_by_default": entry.disabled_by is None,
    }
    if state is not None:
        view["state"] = state.state
        view["state_class"] = state.attributes.get("state_class")
    return view


@pytest.mark.parametrize(
    "profile",
    [
        "legacy_standard",
        "metered_split",
        "metered_three_phase_storage",
        "metered_no_ct",
        "total_consumption",
    ],
)
async def test_entities_per_profile(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every entity of the gateway, as registered and as shown (defaults only)."""
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )

    views = {
        entry.entity_id: _entity_view(hass, entry, device_registry)
        for entry in sorted(entries, key=lambda entry: entry.entity_id)
    }

    assert views == snapshot
