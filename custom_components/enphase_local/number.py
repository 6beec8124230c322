"""Numbers for Enphase Local: the battery reserve, each relay's charge thresholds."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.number import (
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .battery import TariffTier
from .coordinator import EnphaseLocalConfigEntry
from .entity import EnphaseLocalEntity, RelayEntity, async_add_battery_controls
from .envoy import DryContact

PARALLEL_UPDATES = 1

RESERVE = NumberEntityDescription(
    key="reserve_level",
    translation_key="reserve_level",
    native_unit_of_measurement=PERCENTAGE,
    native_min_value=0,
    native_max_value=100,
    native_step=1,
    mode=NumberMode.SLIDER,
)


@dataclass(frozen=True, kw_only=True)
class RelayNumberDescription(NumberEntityDescription):
    """A relay's state-of-charge threshold."""

    field: str
    """The settings record's field (``soc_low`` / ``soc_high``)."""
    value_fn: Callable[[DryContact], float | None]


RELAY_NUMBERS: tuple[RelayNumberDescription, ...] = (
    RelayNumberDescription(
        key="relay_soc_low",
        translation_key="relay_soc_low",
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=False,
        field="soc_low",
        value_fn=lambda contact: contact.soc_low,
    ),
    RelayNumberDescription(
        key="relay_soc_high",
        translation_key="relay_soc_high",
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=False,
        field="soc_high",
        value_fn=lambda contact: contact.soc_high,
    ),
)


class ReserveNumber(EnphaseLocalEntity[TariffTier], NumberEntity):
    """The battery reserve kept for outages (the tariff's reserved_soc)."""

    @property
    @override
    def native_value(self) -> float | None:
        """Return the reserve the gateway has."""
        storage = self.coordinator.data.storage
        return None if storage is None else storage.reserve_percent

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Write the reserve (whole tariff document) and confirm it."""
        await self.coordinator.async_write(reserved_soc=float(value))


class RelayNumber(RelayEntity, NumberEntity):
    """A relay's low or high state-of-charge threshold."""

    entity_description: RelayNumberDescription

    @property
    @override
    def native_value(self) -> float | None:
        """Return the threshold."""
        contact = self.contact
        return None if contact is None else self.entity_description.value_fn(contact)

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Write the relay's whole settings record with the new threshold."""
        await self.coordinator.async_set_settings(
            self.contact_id, **{self.entity_description.field: int(value)}
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the reserve and relay thresholds (batteries only)."""
    async_add_battery_controls(
        entry,
        async_add_entities,
        lambda tariff, serial: ReserveNumber(
            tariff,
            RESERVE,
            unique_id=f"{serial}_reserve_level",
            gateway_serial=serial,
        ),
        lambda relays, contact_id: [
            RelayNumber(relays, description, contact_id)
            for description in RELAY_NUMBERS
        ],
    )
