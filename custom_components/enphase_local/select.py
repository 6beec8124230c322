"""Selects for Enphase Local: the battery storage mode, each relay's mode."""

from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .battery import TariffTier
from .coordinator import EnphaseLocalConfigEntry
from .entity import EnphaseLocalEntity, RelayEntity, async_add_battery_controls

PARALLEL_UPDATES = 1

# Option keys (translated) and the gateway's words for them.
STORAGE_MODE_OPTIONS = {
    "backup": "backup",
    "self_consumption": "self-consumption",
    "savings": "savings-mode",
    "economy": "economy",
}
RELAY_MODE_OPTIONS = {"manual": "manual", "battery_level": "soc"}

STORAGE_MODE = SelectEntityDescription(
    key="storage_mode",
    translation_key="storage_mode",
    options=list(STORAGE_MODE_OPTIONS),
)
RELAY_MODE = SelectEntityDescription(
    key="relay_mode",
    translation_key="relay_mode",
    options=list(RELAY_MODE_OPTIONS),
    entity_category=EntityCategory.CONFIG,
    entity_registry_enabled_default=False,
)


def _option(options: dict[str, str], value: str | None) -> str | None:
    """Return the option key of a gateway value."""
    return next((key for key, word in options.items() if word == value), None)


class StorageModeSelect(EnphaseLocalEntity[TariffTier], SelectEntity):
    """Backup, self-consumption, savings or economy (the gateway's tariff)."""

    @property
    @override
    def current_option(self) -> str | None:
        """Return the mode the gateway has."""
        storage = self.coordinator.data.storage
        return None if storage is None else _option(STORAGE_MODE_OPTIONS, storage.mode)

    @override
    async def async_select_option(self, option: str) -> None:
        """Write the mode (whole tariff document) and confirm it."""
        await self.coordinator.async_write(mode=STORAGE_MODE_OPTIONS[option])


class RelayModeSelect(RelayEntity, SelectEntity):
    """A relay run by hand, or by the battery's state of charge."""

    @property
    @override
    def current_option(self) -> str | None:
        """Return the relay's mode."""
        contact = self.contact
        return None if contact is None else _option(RELAY_MODE_OPTIONS, contact.mode)

    @override
    async def async_select_option(self, option: str) -> None:
        """Write the relay's whole settings record with the new mode."""
        await self.coordinator.async_set_settings(
            self.contact_id, mode=RELAY_MODE_OPTIONS[option]
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the storage mode and relay mode selects (batteries only)."""
    async_add_battery_controls(
        entry,
        async_add_entities,
        lambda tariff, serial: StorageModeSelect(
            tariff,
            STORAGE_MODE,
            unique_id=f"{serial}_storage_mode",
            gateway_serial=serial,
        ),
        lambda relays, contact_id: [RelayModeSelect(relays, RELAY_MODE, contact_id)],
    )
