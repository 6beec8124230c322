"""Base entity and device information for Enphase Local."""

from collections.abc import Callable, Hashable, Iterable
from typing import Any, override

from homeassistant.const import CONF_HOST
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .battery import DryContactsTier, TariffTier
from .const import DOMAIN, MANUFACTURER
from .coordinator import EnphaseLocalConfigEntry, InvertersTier, MetersTier
from .device_parts import device_part
from .envoy import (
    Battery,
    DevicePart,
    DryContact,
    Inverter,
    MeasurementType,
    MeterConfig,
    SystemController,
    gateway_model,
)

CT_ROLE_TRANSLATION_KEYS = {
    MeasurementType.PRODUCTION: "ct_production",
    MeasurementType.NET_CONSUMPTION: "ct_net_consumption",
    MeasurementType.TOTAL_CONSUMPTION: "ct_total_consumption",
    MeasurementType.STORAGE: "ct_storage",
    MeasurementType.BACKFEED: "ct_backfeed",
    MeasurementType.LOAD: "ct_load",
    MeasurementType.EVSE: "ct_evse",
    MeasurementType.PV3P: "ct_pv3p",
}


def gateway_name(serial: str) -> str:
    """Return the gateway device's name (entity ids start with it)."""
    return f"Envoy {serial}"


def gateway_device_info(entry: EnphaseLocalConfigEntry) -> dict[str, Any]:
    """Return the gateway's device registry fields."""
    runtime = entry.runtime_data
    info = runtime.info
    meters = list(runtime.capabilities.ct_meters)
    scheme = (runtime.envoy.base_url or "").split(":", 1)[0] or "https"
    return {
        "identifiers": {(DOMAIN, info.serial)},
        "manufacturer": MANUFACTURER,
        "model": gateway_model(info, meters),
        "model_id": info.part_number,
        "name": gateway_name(info.serial),
        "serial_number": info.serial,
        "sw_version": info.firmware,
        "configuration_url": f"{scheme}://{entry.data[CONF_HOST]}/",
    }


def meter_identifier(gateway_serial: str, meter: MeterConfig) -> str:
    """Return the device identifier of a CT meter."""
    return f"{gateway_serial}_ct_{meter.eid}"


def meter_device_info(
    gateway_serial: str, gateway_device_id: str, meter: MeterConfig
) -> DeviceInfo:
    """Return a CT meter's device, named by its role and its gateway.

    The gateway's name is part of it so that a second gateway's CTs get
    entity ids of their own rather than ``..._2`` ones.
    """
    translation_key = CT_ROLE_TRANSLATION_KEYS.get(meter.measurement_type)  # type: ignore[call-overload]
    gateway = gateway_name(gateway_serial)
    return DeviceInfo(
        identifiers={(DOMAIN, meter_identifier(gateway_serial, meter))},
        manufacturer=MANUFACTURER,
        model=f"CT ({meter.measurement_type}, {meter.phase_count} phase)",
        name=None if translation_key else f"{gateway} {meter.measurement_type} CT",
        translation_key=translation_key,
        translation_placeholders={"gateway": gateway},
        via_device_id=gateway_device_id,
    )


def inverter_device_info(
    gateway_device_id: str, inverter: Inverter, part: DevicePart | None = None
) -> DeviceInfo:
    """Return a microinverter's device, with its part number and firmware if known."""
    info = DeviceInfo(
        identifiers={(DOMAIN, inverter.serial)},
        manufacturer=MANUFACTURER,
        model="AC battery" if inverter.is_ac_battery else "Microinverter",
        name=f"Inverter {inverter.serial}",
        serial_number=inverter.serial,
        via_device_id=gateway_device_id,
    )
    if part is not None:
        info["model_id"] = part.part_number
        info["sw_version"] = part.firmware
    return info


@callback
def async_add_as_they_appear[KeyT: Hashable](
    entry: EnphaseLocalConfigEntry,
    coordinator: DataUpdateCoordinator[Any],
    current: Callable[[], Iterable[KeyT]],
    build: Callable[[KeyT], Iterable[Entity]],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add entities for every key ``current`` names, now and whenever new ones appear.

    CTs switched on, inverters added and site flows that become known get
    their entities without a reload.
    """
    added: set[KeyT] = set()

    @callback
    def _async_add_new() -> None:
        new: list[Entity] = []
        for key in current():
            if key not in added:
                added.add(key)
                new.extend(build(key))
        if new:
            async_add_entities(new)

    _async_add_new()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new))


def async_add_battery_controls(
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    storage_control: Callable[[TariffTier, str], Entity],
    relay_controls: Callable[[DryContactsTier, str], Iterable[Entity]],
) -> None:
    """Add a platform's battery controls: one for the storage settings, some per relay.

    The storage control exists when the gateway reported storage settings at
    set-up; relay controls follow the dry contacts as they appear. Nothing here
    writes to the gateway.
    """
    runtime = entry.runtime_data
    tariff = runtime.tiers.tariff
    if tariff is not None and tariff.data is not None and tariff.data.storage:
        async_add_entities([storage_control(tariff, runtime.info.serial)])
    relays = runtime.tiers.relays
    if relays is not None:
        async_add_as_they_appear(
            entry,
            relays,
            lambda: [c.id for c in relays.data] if relays.data else [],
            lambda contact_id: relay_controls(relays, contact_id),
            async_add_entities,
        )


def battery_device_info(
    gateway_device_id: str, serial: str, battery: Battery | None = None
) -> DeviceInfo:
    """Return an IQ Battery's device (model details from the inventory when known)."""
    info = DeviceInfo(
        identifiers={(DOMAIN, serial)},
        manufacturer=MANUFACTURER,
        model="IQ Battery",
        name=f"IQ Battery {serial}",
        serial_number=serial,
        via_device_id=gateway_device_id,
    )
    if battery is not None:
        if battery.part_number:
            info["model_id"] = battery.part_number
        if battery.firmware:
            info["sw_version"] = battery.firmware
    return info


def controller_device_info(
    gateway_device_id: str, controller: SystemController
) -> DeviceInfo:
    """Return the IQ System Controller's device."""
    info = DeviceInfo(
        identifiers={(DOMAIN, controller.serial)},
        manufacturer=MANUFACTURER,
        model="IQ System Controller",
        name=f"IQ System Controller {controller.serial}",
        serial_number=controller.serial,
        via_device_id=gateway_device_id,
    )
    if controller.part_number:
        info["model_id"] = controller.part_number
    if controller.firmware:
        info["sw_version"] = controller.firmware
    return info


class EnphaseLocalEntity[CoordinatorT: DataUpdateCoordinator[Any]](
    CoordinatorEntity[CoordinatorT]
):
    """An entity of one gateway, on one tier; writes its state only on change."""

    _attr_has_entity_name = True
    _written: tuple[object, ...] | None = None
    _shown_attribute = "state"
    """What tells a change, cheaper than the formatted state: the native value
    (sensors, numbers), ``is_on`` (binary sensors, switches), the option."""

    def __init__(
        self,
        coordinator: CoordinatorT,
        description: EntityDescription,
        *,
        unique_id: str,
        gateway_serial: str,
        device_info: DeviceInfo | None = None,
        context: object = None,
    ) -> None:
        """Attach the entity to its tier and device.

        ``context`` tells the tier what this entity needs read (a CT counter,
        an endpoint): disabled entities are never added, so nothing is read
        or guarded for them.
        """
        super().__init__(coordinator, context)
        self._shown_attribute = next(
            name
            for name in ("native_value", "is_on", "current_option", "state")
            if hasattr(type(self), name)
        )
        self.entity_description = description
        self._attr_unique_id = unique_id
        self._attr_device_info = device_info or DeviceInfo(
            identifiers={(DOMAIN, gateway_serial)}
        )

    @property
    @override
    def available(self) -> bool:
        """Return False until the tier has data (a tier started after setup)."""
        data: object = self.coordinator.data
        return super().available and data is not None

    def _shown(self) -> tuple[object, ...]:
        """Return what a state write would show: availability, state, attributes."""
        if not self.available:
            return (False,)
        return (
            True,
            getattr(self, self._shown_attribute),
            self.extra_state_attributes,
        )

    @callback
    @override
    def _async_write_ha_state(self) -> None:
        """Write the state and remember what was written."""
        self._written = self._shown()
        super()._async_write_ha_state()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state only when what it shows changed."""
        if self._shown() != self._written:
            self.async_write_ha_state()


class MeterEntity(EnphaseLocalEntity[MetersTier]):
    """An entity of one CT meter's configuration (status, flags)."""

    def __init__(
        self,
        coordinator: MetersTier,
        description: EntityDescription,
        meter: MeterConfig,
    ) -> None:
        """Bind to a meter by its eid."""
        serial = coordinator.runtime.info.serial
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_ct_{meter.eid}_{description.key}",
            gateway_serial=serial,
            device_info=meter_device_info(
                serial, coordinator.runtime.gateway_device_id, meter
            ),
        )
        self._eid = meter.eid

    @property
    def meter(self) -> MeterConfig:
        """Return the meter's current configuration."""
        return self.coordinator.data[self._eid]

    @property
    @override
    def available(self) -> bool:
        """Return False once the meter is gone from the configuration."""
        return super().available and self._eid in self.coordinator.data


class InverterEntity(EnphaseLocalEntity[InvertersTier]):
    """An entity of one microinverter."""

    def __init__(
        self,
        coordinator: InvertersTier,
        description: EntityDescription,
        inverter: Inverter,
    ) -> None:
        """Bind to an inverter by its serial."""
        runtime = coordinator.runtime
        super().__init__(
            coordinator,
            description,
            unique_id=f"{inverter.serial}_{description.key}",
            gateway_serial=runtime.info.serial,
            device_info=inverter_device_info(
                runtime.gateway_device_id,
                inverter,
                device_part(coordinator.config_entry, inverter.serial),
            ),
        )
        self._serial = inverter.serial

    @property
    def inverter(self) -> Inverter:
        """Return the inverter's latest data."""
        return self.coordinator.data.inverters[self._serial]

    @property
    @override
    def available(self) -> bool:
        """Return False while the gateway does not list this inverter."""
        return super().available and self._serial in self.coordinator.data.inverters


class RelayEntity(EnphaseLocalEntity[DryContactsTier]):
    """An entity of one system controller relay, named after its load."""

    def __init__(
        self,
        coordinator: DryContactsTier,
        description: EntityDescription,
        contact_id: str,
    ) -> None:
        """Bind to a relay by its id, on the system controller's device."""
        runtime = coordinator.runtime
        inventory = runtime.tiers.inventory
        controllers = inventory.data.controllers if inventory and inventory.data else ()
        device_info = (
            controller_device_info(runtime.gateway_device_id, controllers[0])
            if controllers
            else None
        )
        super().__init__(
            coordinator,
            description,
            unique_id=f"{runtime.info.serial}_relay_{contact_id}_{description.key}",
            gateway_serial=runtime.info.serial,
            device_info=device_info,
        )
        self.contact_id = contact_id
        contact = self.contact
        self._attr_translation_placeholders = {
            "relay": (
                contact.load_name if contact and contact.load_name else contact_id
            )
        }

    @property
    def contact(self) -> DryContact | None:
        """Return this relay's latest state and settings."""
        return next((c for c in self.coordinator.data if c.id == self.contact_id), None)

    @property
    @override
    def available(self) -> bool:
        """Return False while the gateway does not list this relay."""
        return super().available and self.contact is not None
