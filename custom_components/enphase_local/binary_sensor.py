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

from .const import INVERTER_REPORT_INTERVAL_S, INVERTER_SILENT_INTERVALS
from .coordinator import EnphaseLocalConfigEntry, EnphaseLocalCoordinator, InverterData
from .entity import EnphaseLocalEntity, InverterEntity, MeterEntity
from .envoy import Inverter

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


def inverter_is_silent(inverter: Inverter, data: InverterData) -> bool:
    """Return True when an inverter stopped reporting while its peers did not.

    Judged against the newest report among all inverters, so the whole array
    going quiet at night is not a problem.
    """
    newest = max(peer.last_report_date for peer in data.inverters.values())
    interval = INVERTER_REPORT_INTERVAL_S
    if inverter.detail is not None and inverter.detail.report_duration_s:
        interval = max(interval, inverter.detail.report_duration_s)
    return newest - inverter.last_report_date > INVERTER_SILENT_INTERVALS * interval


class ReachableSensor(
    EnphaseLocalEntity[EnphaseLocalCoordinator[object]], BinarySensorEntity
):
    """On while the gateway answers requests."""

    @property
    @override
    def is_on(self) -> bool:
        """Return True when the last request was answered."""
        return self.coordinator.runtime.reachable

    @property
    @override
    def available(self) -> bool:
        """Stay available: this sensor reports the outage itself."""
        return True


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
        return inverter_is_silent(self.inverter, self.coordinator.data)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up binary sensors now, and for CTs and inverters that appear later."""
    runtime = entry.runtime_data
    fastest: EnphaseLocalCoordinator[object] = (
        runtime.live_coordinator  # type: ignore[assignment]
        if runtime.live_coordinator is not None and runtime.capabilities.ct_meters
        else runtime.production_coordinator
    )
    async_add_entities(
        [
            ReachableSensor(
                fastest, REACHABLE, unique_id=f"{runtime.info.serial}_reachable"
            )
        ]
    )

    if (meters := runtime.meters_coordinator) is not None:
        added_meters: set[int] = set()

        @callback
        def _async_add_meters() -> None:
            fresh = [
                meter
                for meter in (meters.data or {}).values()
                if meter.enabled and meter.eid not in added_meters
            ]
            added_meters.update(meter.eid for meter in fresh)
            if fresh:
                async_add_entities(
                    MeteringProblemSensor(meters, CT_PROBLEM, meter) for meter in fresh
                )

        _async_add_meters()
        entry.async_on_unload(meters.async_add_listener(_async_add_meters))

    if (inverters := runtime.inverters_coordinator) is not None:
        added_inverters: set[str] = set()

        @callback
        def _async_add_inverters() -> None:
            data: InverterData | None = inverters.data
            if data is None:
                return
            new = [
                InverterSilentSensor(inverters, INVERTER_SILENT, inverter)
                for serial, inverter in data.inverters.items()
                if serial not in added_inverters
            ]
            added_inverters.update(data.inverters)
            if new:
                async_add_entities(new)

        _async_add_inverters()
        entry.async_on_unload(inverters.async_add_listener(_async_add_inverters))
