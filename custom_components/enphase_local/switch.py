"""Switches for Enphase Local: charging the battery from the grid, the relays."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .battery import TariffTier
from .coordinator import EnphaseLocalConfigEntry
from .entity import EnphaseLocalEntity, RelayEntity, async_add_battery_controls

PARALLEL_UPDATES = 1

CHARGE_FROM_GRID = SwitchEntityDescription(
    key="charge_from_grid", translation_key="charge_from_grid"
)
RELAY = SwitchEntityDescription(key="relay", translation_key="relay")
MANUAL = "manual"


class ChargeFromGridSwitch(EnphaseLocalEntity[TariffTier], SwitchEntity):
    """Let the battery charge from the grid (the tariff's charge_from_grid)."""

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether the battery may charge from the grid."""
        storage = self.coordinator.data.storage
        return None if storage is None else storage.charge_from_grid

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Allow charging from the grid (whole tariff document, confirmed)."""
        await self.coordinator.async_write(charge_from_grid=True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop charging from the grid (whole tariff document, confirmed)."""
        await self.coordinator.async_write(charge_from_grid=False)


class RelaySwitch(RelayEntity, SwitchEntity):
    """An Enpower load-shedding relay, switchable while it runs by hand."""

    @property
    @override
    def available(self) -> bool:
        """Return False unless the relay is in manual mode (else the battery decides)."""
        contact = self.contact
        return super().available and contact is not None and contact.mode == MANUAL

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True when the relay is closed (its load is powered)."""
        contact = self.contact
        return None if contact is None else contact.closed

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay and confirm."""
        await self.coordinator.async_set_state(self.contact_id, closed=True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay and confirm."""
        await self.coordinator.async_set_state(self.contact_id, closed=False)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up charge from grid and the relays (batteries only)."""
    async_add_battery_controls(
        entry,
        async_add_entities,
        lambda tariff, serial: ChargeFromGridSwitch(
            tariff,
            CHARGE_FROM_GRID,
            unique_id=f"{serial}_charge_from_grid",
            gateway_serial=serial,
        ),
        lambda relays, contact_id: [RelaySwitch(relays, RELAY, contact_id)],
    )
