"""Binary sensors for automations: silent inverters, CT problems, reachability."""

from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .battery import BatteryTier, InventoryTier
from .const import INVERTER_REPORT_INTERVAL_S, INVERTER_SILENT_INTERVALS
from .coordinator import EnphaseLocalConfigEntry, InfoTier
from .entity import (
    EnphaseLocalEntity,
    InverterEntity,
    MeterEntity,
    async_add_as_they_appear,
    battery_device_info,
    controller_device_info,
)
from .envoy import Battery, Inverter, SystemController

PARALLEL_UPDATES = 0

REACHABLE = BinarySensorEntityDescription(
    key="reachable",
    translation_key="reachable",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
CT_PROBLEM = BinarySensorEntityDescription(
    key="metering_problem",
    translation_key="metering_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)
INVERTER_SILENT = BinarySensorEntityDescription(
    key="not_reporting",
    translation_key="not_reporting",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


GRID = BinarySensorEntityDescription(
    key="grid",
    translation_key="grid",
    device_class=BinarySensorDeviceClass.POWER,
)
COMMUNICATING = BinarySensorEntityDescription(
    key="communicating",
    translation_key="communicating",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
DC_SWITCH = BinarySensorEntityDescription(
    key="dc_switch",
    translation_key="dc_switch",
    device_class=BinarySensorDeviceClass.POWER,
    entity_category=EntityCategory.DIAGNOSTIC,
    entity_registry_enabled_default=False,
)


def inverter_is_silent(inverter: Inverter, newest_report: int) -> bool:
    """Return True when an inverter stopped reporting while its peers did not.

    Judged against the newest report among all inverters (computed once per
    poll), so the whole array going quiet at night is not a problem.
    """
    interval = INVERTER_REPORT_INTERVAL_S
    if inverter.detail is not None and inverter.detail.report_duration_s:
        interval = max(interval, inverter.detail.report_duration_s)
    return (
        newest_report - inverter.last_report_date > INVERTER_SILENT_INTERVALS * interval
    )


class ReachableSensor(EnphaseLocalEntity[InfoTier], BinarySensorEntity):
    """On while the gateway answers requests; written only when that changes."""

    @property
    @override
    def is_on(self) -> bool:
        """Return True when the last request was answered."""
        return self.coordinator.runtime.connectivity.reachable

    @property
    @override
    def available(self) -> bool:
        """Stay available: this sensor reports the outage itself."""
        return True

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the gateway's reachability, not a tier's polls."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.runtime.connectivity.listen(
                self._handle_coordinator_update
            )
        )


class MeteringProblemSensor(MeterEntity, BinarySensorEntity):
    """On when a CT is not metering normally or raises status flags."""

    @property
    @override
    def is_on(self) -> bool:
        """Return True when the CT reports a problem."""
        meter = self.meter
        return meter.metering_status not in (None, "normal") or bool(meter.status_flags)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, object]:
        """Expose the status and flags that explain the problem."""
        return {
            "metering_status": self.meter.metering_status,
            "status_flags": list(self.meter.status_flags or ()),
        }


class InverterSilentSensor(InverterEntity, BinarySensorEntity):
    """On when an inverter has stopped reporting while its peers report."""

    @property
    @override
    def is_on(self) -> bool:
        """Return True when this inverter has gone quiet."""
        return inverter_is_silent(self.inverter, self.coordinator.data.newest_report)


class GridSensor(EnphaseLocalEntity[BatteryTier], BinarySensorEntity):
    """On while the site is on grid (the system controller's main relay closed).

    Read with battery power (every minute) from /ivp/ensemble/status, or
    from the inventory where the gateway has no status endpoint.
    """

    def __init__(self, coordinator: BatteryTier, controller: SystemController) -> None:
        """Bind to the system controller."""
        runtime = coordinator.runtime
        super().__init__(
            coordinator,
            GRID,
            unique_id=f"{controller.serial}_grid",
            gateway_serial=runtime.info.serial,
            device_info=controller_device_info(runtime.gateway_device_id, controller),
        )
        self._serial = controller.serial

    def _on_grid(self) -> bool | None:
        """Return the grid state, from the freshest source that reports it."""
        aggregate = self.coordinator.data.aggregate
        if aggregate is not None and aggregate.on_grid is not None:
            return aggregate.on_grid
        inventory = self.coordinator.runtime.tiers.inventory
        if inventory is None or inventory.data is None:
            return None
        controller = next(
            (c for c in inventory.data.controllers if c.serial == self._serial), None
        )
        return None if controller is None else controller.on_grid

    @property
    @override
    def available(self) -> bool:
        """Return False while no source reports the grid state."""
        return super().available and self._on_grid() is not None

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True on grid."""
        return self._on_grid()


class BatteryFlagSensor(EnphaseLocalEntity[InventoryTier], BinarySensorEntity):
    """An IQ Battery's communicating or DC switch state, from the inventory."""

    def __init__(
        self,
        coordinator: InventoryTier,
        description: BinarySensorEntityDescription,
        battery: Battery,
    ) -> None:
        """Bind to a battery by its serial."""
        runtime = coordinator.runtime
        super().__init__(
            coordinator,
            description,
            unique_id=f"{battery.serial}_{description.key}",
            gateway_serial=runtime.info.serial,
            device_info=battery_device_info(
                runtime.gateway_device_id, battery.serial, battery
            ),
        )
        self._serial = battery.serial

    def _battery(self) -> Battery | None:
        """Return this battery's inventory entry."""
        return next(
            (b for b in self.coordinator.data.batteries if b.serial == self._serial),
            None,
        )

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the flag: communicating, or the DC switch on."""
        battery = self._battery()
        if battery is None:
            return None
        if self.entity_description.key == COMMUNICATING.key:
            return battery.communicating
        return None if battery.dc_switch_off is None else not battery.dc_switch_off


class ControllerCommunicatingSensor(
    EnphaseLocalEntity[InventoryTier], BinarySensorEntity
):
    """The system controller talking to the gateway."""

    def __init__(
        self, coordinator: InventoryTier, controller: SystemController
    ) -> None:
        """Bind to the controller."""
        runtime = coordinator.runtime
        super().__init__(
            coordinator,
            COMMUNICATING,
            unique_id=f"{controller.serial}_communicating",
            gateway_serial=runtime.info.serial,
            device_info=controller_device_info(runtime.gateway_device_id, controller),
        )
        self._serial = controller.serial

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True while it communicates."""
        controller = next(
            (c for c in self.coordinator.data.controllers if c.serial == self._serial),
            None,
        )
        return None if controller is None else controller.communicating


@callback
def _battery_binary_sensors(
    entry: EnphaseLocalConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add grid, communicating and DC switch sensors as batteries appear."""
    tiers = entry.runtime_data.tiers
    inventory = tiers.inventory
    if inventory is None:
        return
    async_add_as_they_appear(
        entry,
        inventory,
        lambda: [b.serial for b in inventory.data.batteries] if inventory.data else [],
        lambda serial: [
            BatteryFlagSensor(
                inventory,
                description,
                next(b for b in inventory.data.batteries if b.serial == serial),
            )
            for description in (COMMUNICATING, DC_SWITCH)
        ],
        async_add_entities,
    )

    def _controller_sensors(serial: str) -> list[BinarySensorEntity]:
        controller = next(c for c in inventory.data.controllers if c.serial == serial)
        sensors: list[BinarySensorEntity] = [
            ControllerCommunicatingSensor(inventory, controller)
        ]
        if tiers.battery is not None:
            sensors.append(GridSensor(tiers.battery, controller))
        return sensors

    async_add_as_they_appear(
        entry,
        inventory,
        lambda: (
            [c.serial for c in inventory.data.controllers] if inventory.data else []
        ),
        _controller_sensors,
        async_add_entities,
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up binary sensors now, and for CTs and inverters that appear later."""
    runtime = entry.runtime_data
    serial = runtime.info.serial
    async_add_entities(
        [
            ReachableSensor(
                runtime.tiers.info,
                REACHABLE,
                unique_id=f"{serial}_reachable",
                gateway_serial=serial,
            )
        ]
    )
    _battery_binary_sensors(entry, async_add_entities)
    if (meters := runtime.tiers.meters) is not None:
        async_add_as_they_appear(
            entry,
            meters,
            lambda: [
                eid for eid, meter in (meters.data or {}).items() if meter.enabled
            ],
            lambda eid: [MeteringProblemSensor(meters, CT_PROBLEM, meters.data[eid])],
            async_add_entities,
        )
    if (inverters := runtime.tiers.inverters) is not None:

        @callback
        def _current() -> list[str]:
            return list(inverters.data.inverters) if inverters.data else []

        async_add_as_they_appear(
            entry,
            inverters,
            _current,
            lambda serial: [
                InverterSilentSensor(
                    inverters, INVERTER_SILENT, inverters.data.inverters[serial]
                )
            ],
            async_add_entities,
        )
