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
from .coordinator import EnphaseLocalConfigEntry, InfoTier
from .entity import (
    EnphaseLocalEntity,
    InverterEntity,
    MeterEntity,
    async_add_as_they_appear,
)
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
