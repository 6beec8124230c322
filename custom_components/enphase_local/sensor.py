"""Sensors for Enphase Local: the site, every CT and phase, every inverter."""

from dataclasses import replace
from datetime import datetime
from typing import override

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .battery import BatteryTier, InventoryTier
from .coordinator import (
    EnphaseLocalConfigEntry,
    InfoTier,
    LiveTier,
    MetersTier,
    ProductionTier,
    SiteCoordinator,
)
from .entity import (
    EnphaseLocalEntity,
    InverterEntity,
    MeterEntity,
    async_add_as_they_appear,
    battery_device_info,
    controller_device_info,
    meter_device_info,
)
from .envoy import Endpoint, MeasurementType, MeterConfig, MeterReading
from .sensor_descriptions import (
    BATTERY_INVENTORY_SENSORS,
    BATTERY_POWER_SENSORS,
    BATTERY_SITE_SENSORS,
    CONTROLLER_TEMPERATURE,
    CT_ENERGY_NAMES,
    CT_PHASE_SENSORS,
    CT_SENSORS,
    CT_STATUS_SENSORS,
    GATEWAY_SENSORS,
    INVERTER_SENSORS,
    PRODUCTION_SENSORS,
    SITE_SENSORS,
    BatteryInventorySensorDescription,
    BatteryPowerSensorDescription,
    BatterySiteSensorDescription,
    CtSensorDescription,
    CtStatusDescription,
    GatewaySensorDescription,
    GatewayView,
    InverterSensorDescription,
    ProductionSensorDescription,
    SiteSensorDescription,
)
from .tiers import CtRef

PARALLEL_UPDATES = 0

PHASE_NAMES = ("L1", "L2", "L3")
SITE_ROLES = frozenset(
    {
        MeasurementType.PRODUCTION,
        MeasurementType.NET_CONSUMPTION,
        MeasurementType.TOTAL_CONSUMPTION,
        MeasurementType.STORAGE,
    }
)
"""CT roles the site sensors already show: their own power and energy
entities are off by default so the Energy dashboard does not list them twice."""


def tidy(value: StateType) -> StateType:
    """Round float readings and their sums to the gateway's 3 decimals, no -0.0."""
    if isinstance(value, float):
        return round(value, 3) + 0.0
    return value


class SiteSensor(EnphaseLocalEntity[SiteCoordinator], SensorEntity):
    """A site flow: production, grid, house consumption or battery."""

    entity_description: SiteSensorDescription

    @property
    @override
    def available(self) -> bool:
        """Return False while the site lacks this flow or its source is away."""
        return (
            super().available
            and self.entity_description.flow in self.coordinator.data.present
            and self.entity_description.value_fn(self.coordinator.data) is not None
        )

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return tidy(self.entity_description.value_fn(self.coordinator.data))


class ProductionSensor(EnphaseLocalEntity[ProductionTier], SensorEntity):
    """One of the gateway's own /api/v1/production counters."""

    entity_description: ProductionSensorDescription

    @property
    @override
    def available(self) -> bool:
        """Return False until /api/v1/production was read for this entity."""
        return super().available and self.coordinator.data.api_production is not None

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        api = self.coordinator.data.api_production
        return None if api is None else self.entity_description.value_fn(api)


class GatewaySensor(EnphaseLocalEntity[InfoTier | SiteCoordinator], SensorEntity):
    """A gateway diagnostic: token expiry, the newest answer from the gateway."""

    entity_description: GatewaySensorDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the value."""
        return self.entity_description.value_fn(gateway_view(self.coordinator))

    @property
    @override
    def available(self) -> bool:
        """Stay available: these describe the connection itself."""
        return True


def gateway_view(coordinator: InfoTier | SiteCoordinator) -> GatewayView:
    """Return what gateway diagnostics show."""
    runtime = coordinator.config_entry.runtime_data
    tokens = runtime.tokens
    return GatewayView(
        token_expires_at=None if tokens is None else tokens.expires_at,
        has_token=tokens is not None,
        last_contact=runtime.connectivity.last_contact,
    )


class CtSensor(EnphaseLocalEntity[LiveTier], SensorEntity):
    """A measure of one CT meter, or of one of its phases."""

    entity_description: CtSensorDescription

    def __init__(
        self,
        coordinator: LiveTier,
        description: CtSensorDescription,
        meter: MeterConfig,
        phase: int | None = None,
    ) -> None:
        """Bind to a meter (and a phase: 1..3)."""
        runtime = coordinator.runtime
        serial = runtime.info.serial
        suffix = "" if phase is None else f"_l{phase}"
        self._ref = (
            None
            if description.counter is None
            else CtRef(meter.eid, description.counter, phase)
        )
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_ct_{meter.eid}{suffix}_{description.measure}",
            gateway_serial=serial,
            device_info=meter_device_info(serial, runtime.gateway_device_id, meter),
            context=self._ref,
        )
        self._eid = meter.eid
        self._phase = phase
        name = CT_ENERGY_NAMES.get((meter.measurement_type, description.counter))
        if name is not None:
            self._attr_translation_key = name if phase is None else f"{name}_phase"
        if phase is not None:
            self._attr_translation_placeholders = {"phase": PHASE_NAMES[phase - 1]}

    def _reading(self) -> MeterReading | None:
        """Return this meter's (or phase's) current reading."""
        reading = self.coordinator.data.readings.get(self._eid)
        if reading is None or self._phase is None:
            return reading
        if self._phase > len(reading.channels):
            return None
        return reading.channels[self._phase - 1]

    @property
    @override
    def available(self) -> bool:
        """Return False while the gateway does not report this meter (or is stale)."""
        data = self.coordinator.data
        return (
            super().available
            and self._eid in data.readings
            and (data.fresh or not self.entity_description.live)
        )

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        if self._ref is not None:
            return tidy(self.coordinator.data.counters.get(self._ref.key))
        reading = self._reading()
        value_fn = self.entity_description.value_fn
        if reading is None or value_fn is None:
            return None
        return tidy(value_fn(reading))


class CtStatusSensor(MeterEntity, SensorEntity):
    """A CT meter's status from its configuration."""

    entity_description: CtStatusDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return self.entity_description.value_fn(self.meter)


class InverterSensor(InverterEntity, SensorEntity):
    """A value of one inverter."""

    entity_description: InverterSensorDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the value."""
        value = self.entity_description.value_fn(self.inverter, self.coordinator.data)
        return value if isinstance(value, datetime) else tidy(value)


class BatterySiteSensor(EnphaseLocalEntity[BatteryTier], SensorEntity):
    """A site battery aggregate on the gateway."""

    entity_description: BatterySiteSensorDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return tidy(self.entity_description.value_fn(self.coordinator.data))


class BatteryPowerSensor(EnphaseLocalEntity[BatteryTier], SensorEntity):
    """One IQ Battery's power or state of charge, from its own report."""

    entity_description: BatteryPowerSensorDescription

    def __init__(
        self,
        coordinator: BatteryTier,
        description: BatteryPowerSensorDescription,
        serial: str,
    ) -> None:
        """Bind to a battery by its serial."""
        runtime = coordinator.runtime
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_{description.key}",
            gateway_serial=runtime.info.serial,
            device_info=battery_device_info(runtime.gateway_device_id, serial),
        )
        self._serial = serial

    @property
    @override
    def available(self) -> bool:
        """Return False while the gateway does not report this battery."""
        return super().available and self._serial in self.coordinator.data.power

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return tidy(
            self.entity_description.value_fn(self.coordinator.data.power[self._serial])
        )


class BatteryInventorySensor(EnphaseLocalEntity[InventoryTier], SensorEntity):
    """One IQ Battery's temperature, capacity or status, from the inventory."""

    entity_description: BatteryInventorySensorDescription

    def __init__(
        self,
        coordinator: InventoryTier,
        description: BatteryInventorySensorDescription,
        serial: str,
    ) -> None:
        """Bind to a battery by its serial."""
        runtime = coordinator.runtime
        battery = next(b for b in coordinator.data.batteries if b.serial == serial)
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_{description.key}",
            gateway_serial=runtime.info.serial,
            device_info=battery_device_info(runtime.gateway_device_id, serial, battery),
        )
        self._serial = serial

    @property
    @override
    def available(self) -> bool:
        """Return False while the inventory does not list this battery."""
        return super().available and any(
            battery.serial == self._serial
            for battery in self.coordinator.data.batteries
        )

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the value."""
        battery = next(
            b for b in self.coordinator.data.batteries if b.serial == self._serial
        )
        value = self.entity_description.value_fn(battery)
        return value if isinstance(value, datetime) else tidy(value)


class ControllerTemperatureSensor(EnphaseLocalEntity[InventoryTier], SensorEntity):
    """The system controller's temperature (reported in degrees Fahrenheit)."""

    def __init__(self, coordinator: InventoryTier, serial: str) -> None:
        """Bind to the controller by its serial."""
        runtime = coordinator.runtime
        controller = next(c for c in coordinator.data.controllers if c.serial == serial)
        super().__init__(
            coordinator,
            CONTROLLER_TEMPERATURE,
            unique_id=f"{serial}_temperature",
            gateway_serial=runtime.info.serial,
            device_info=controller_device_info(runtime.gateway_device_id, controller),
        )
        self._serial = serial

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        controller = next(
            (c for c in self.coordinator.data.controllers if c.serial == self._serial),
            None,
        )
        if controller is None or controller.temperature_f is None:
            return None
        return round((controller.temperature_f - 32) * 5 / 9, 1)


def _battery_sensors(
    entry: EnphaseLocalConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add battery, site battery and system controller sensors as they appear."""
    tiers = entry.runtime_data.tiers
    serial = entry.runtime_data.info.serial
    if (battery := tiers.battery) is not None:
        site_descriptions = {d.key: d for d in BATTERY_SITE_SENSORS}
        async_add_as_they_appear(
            entry,
            battery,
            lambda: [
                key
                for key, description in site_descriptions.items()
                if battery.data is not None
                and description.value_fn(battery.data) is not None
            ],
            lambda key: [
                BatterySiteSensor(
                    battery,
                    site_descriptions[key],
                    unique_id=f"{serial}_{key}",
                    gateway_serial=serial,
                )
            ],
            async_add_entities,
        )
        async_add_as_they_appear(
            entry,
            battery,
            lambda: list(battery.data.power) if battery.data else [],
            lambda battery_serial: [
                BatteryPowerSensor(battery, description, battery_serial)
                for description in BATTERY_POWER_SENSORS
            ],
            async_add_entities,
        )
    if (inventory := tiers.inventory) is not None:
        async_add_as_they_appear(
            entry,
            inventory,
            lambda: (
                [b.serial for b in inventory.data.batteries] if inventory.data else []
            ),
            lambda battery_serial: [
                BatteryInventorySensor(inventory, description, battery_serial)
                for description in BATTERY_INVENTORY_SENSORS
            ],
            async_add_entities,
        )
        async_add_as_they_appear(
            entry,
            inventory,
            lambda: (
                [c.serial for c in inventory.data.controllers] if inventory.data else []
            ),
            lambda controller_serial: [
                ControllerTemperatureSensor(inventory, controller_serial)
            ],
            async_add_entities,
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up sensors now, and for flows, CTs and inverters that appear later."""
    runtime = entry.runtime_data
    serial = runtime.info.serial
    tiers = runtime.tiers
    view = gateway_view(runtime.site)
    async_add_entities(
        GatewaySensor(
            tiers.info if description.key == "token_expiry" else runtime.site,
            description,
            unique_id=f"{serial}_{description.key}",
            gateway_serial=serial,
        )
        for description in GATEWAY_SENSORS
        if description.exists_fn(view)
    )
    if runtime.capabilities.has(Endpoint.API_PRODUCTION):
        async_add_entities(
            ProductionSensor(
                tiers.production,
                description,
                unique_id=f"{serial}_{description.key}",
                gateway_serial=serial,
                context=Endpoint.API_PRODUCTION,
            )
            for description in PRODUCTION_SENSORS
        )

    site = runtime.site
    site_descriptions = {description.key: description for description in SITE_SENSORS}
    async_add_as_they_appear(
        entry,
        site,
        lambda: [
            key
            for key, description in site_descriptions.items()
            if description.flow in (site.data.present if site.data else ())
        ],
        lambda key: [
            SiteSensor(
                site,
                site_descriptions[key],
                unique_id=f"{serial}_{key}",
                gateway_serial=serial,
            )
        ],
        async_add_entities,
    )

    if (live := tiers.live) is not None and (meters := tiers.meters) is not None:
        async_add_as_they_appear(
            entry,
            meters,
            lambda: [
                eid for eid, meter in (meters.data or {}).items() if meter.enabled
            ],
            lambda eid: _meter_sensors(live, meters, meters.data[eid]),
            async_add_entities,
        )
    _battery_sensors(entry, async_add_entities)
    if (inverters := tiers.inverters) is not None:
        async_add_as_they_appear(
            entry,
            inverters,
            lambda: [
                (inverter_serial, detailed)
                for inverter_serial, inverter in (
                    inverters.data.inverters if inverters.data else {}
                ).items()
                for detailed in ((False, True) if inverter.detail else (False,))
            ],
            lambda key: [
                InverterSensor(inverters, description, inverters.data.inverters[key[0]])
                for description in INVERTER_SENSORS
                if description.detail is key[1]
            ],
            async_add_entities,
        )


def _meter_sensors(
    live: LiveTier, meters: MetersTier, meter: MeterConfig
) -> list[Entity]:
    """Return a CT meter's sensors: aggregate, each phase, status."""
    duplicates_site = meter.measurement_type in SITE_ROLES
    entities: list[Entity] = []
    for description in CT_SENSORS:
        if not description.exists_fn(meter):
            continue
        # Site sensors show this CT's power and energy already.
        shown = (
            replace(description, entity_registry_enabled_default=False)
            if duplicates_site
            else description
        )
        entities.append(CtSensor(live, shown, meter))
    entities.extend(
        CtSensor(live, description, meter, phase)
        for phase in range(1, min(meter.phase_count, 3) + 1)
        for description in CT_PHASE_SENSORS
        if description.exists_fn(meter)
    )
    entities.extend(
        CtStatusSensor(meters, description, meter) for description in CT_STATUS_SENSORS
    )
    return entities
