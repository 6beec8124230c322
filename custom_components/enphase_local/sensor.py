"""Sensors for Enphase Local: the site, every CT and phase, every inverter."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import (
    EnphaseLocalConfigEntry,
    EnphaseLocalRuntimeData,
    InfoCoordinator,
    InverterData,
    InvertersCoordinator,
    LiveCoordinator,
    LiveData,
    MetersCoordinator,
    ProductionCoordinator,
    ProductionData,
    role_meter,
)
from .entity import EnphaseLocalEntity, InverterEntity, MeterEntity, meter_device_info
from .envoy import (
    Inverter,
    InverterDetail,
    MeasurementType,
    MeterConfig,
    MeterReading,
    ProductionSource,
)

PARALLEL_UPDATES = 0

PHASE_NAMES = ("L1", "L2", "L3")


def _power(key: str, **kwargs: Any) -> dict[str, Any]:
    """Return description fields of a power in W."""
    return {
        "key": key,
        "translation_key": key,
        "device_class": SensorDeviceClass.POWER,
        "native_unit_of_measurement": UnitOfPower.WATT,
        "state_class": SensorStateClass.MEASUREMENT,
        "suggested_display_precision": 0,
        **kwargs,
    }


def _energy(key: str, **kwargs: Any) -> dict[str, Any]:
    """Return description fields of a guarded, increasing energy total in Wh."""
    return {
        "key": key,
        "translation_key": key,
        "device_class": SensorDeviceClass.ENERGY,
        "native_unit_of_measurement": UnitOfEnergy.WATT_HOUR,
        "suggested_unit_of_measurement": UnitOfEnergy.KILO_WATT_HOUR,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        "suggested_display_precision": 3,
        **kwargs,
    }


def _gateway_counter(key: str, **kwargs: Any) -> dict[str, Any]:
    """Return description fields of one of the gateway's own day/week counters.

    The gateway resets these late, to non-zero values, or not at all: they are
    shown for reference and never feed long-term statistics.
    """
    return {
        "key": key,
        "translation_key": key,
        "device_class": SensorDeviceClass.ENERGY,
        "native_unit_of_measurement": UnitOfEnergy.WATT_HOUR,
        "suggested_unit_of_measurement": UnitOfEnergy.KILO_WATT_HOUR,
        "suggested_display_precision": 3,
        "entity_category": EntityCategory.DIAGNOSTIC,
        "entity_registry_enabled_default": False,
        **kwargs,
    }


def _measure(
    key: str,
    device_class: SensorDeviceClass | None,
    unit: str | None,
    precision: int,
    **kwargs: Any,
) -> dict[str, Any]:
    """Return description fields of a technical measurement, off by default."""
    return {
        "key": key,
        "translation_key": key,
        "device_class": device_class,
        "native_unit_of_measurement": unit,
        "state_class": SensorStateClass.MEASUREMENT,
        "suggested_display_precision": precision,
        "entity_registry_enabled_default": False,
        **kwargs,
    }


def _counter(
    key: str, device_class: SensorDeviceClass | None, unit: str
) -> dict[str, Any]:
    """Return description fields of a guarded technical counter, off by default."""
    return {
        "key": key,
        "translation_key": key,
        "device_class": device_class,
        "native_unit_of_measurement": unit,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        "suggested_display_precision": 0,
        "entity_registry_enabled_default": False,
    }


# --- Site sensors on the live (CT) tier ---------------------------------------


@dataclass(frozen=True, kw_only=True)
class LiveSensorDescription(SensorEntityDescription):
    """A site-level value computed from the CT readings."""

    value_fn: Callable[[LiveData, dict[int, MeterConfig]], StateType]
    exists_fn: Callable[[dict[int, MeterConfig]], bool]


def _role_power(
    live: LiveData, meters: dict[int, MeterConfig], role: str
) -> float | None:
    """Return the active power of the enabled CT measuring ``role``."""
    meter = role_meter(meters, role)
    if meter is None or (reading := live.readings.get(meter.eid)) is None:
        return None
    return reading.active_power_w


def _has(*roles: str) -> Callable[[dict[int, MeterConfig]], bool]:
    """Return a check that every role has an enabled CT."""
    return lambda meters: all(role_meter(meters, role) is not None for role in roles)


def _has_grid(meters: dict[int, MeterConfig]) -> bool:
    """Return True when grid power is known: a net CT, or load and production CTs."""
    return _has(MeasurementType.NET_CONSUMPTION)(meters) or _has(
        MeasurementType.TOTAL_CONSUMPTION, MeasurementType.PRODUCTION
    )(meters)


def _has_consumption(meters: dict[int, MeterConfig]) -> bool:
    """Return True when house consumption is known."""
    return _has(MeasurementType.TOTAL_CONSUMPTION)(meters) or _has(
        MeasurementType.NET_CONSUMPTION, MeasurementType.PRODUCTION
    )(meters)


def _production_power(live: LiveData, meters: dict[int, MeterConfig]) -> float | None:
    """Return solar production; the CT's night-time standby draw reads as 0."""
    power = _role_power(live, meters, MeasurementType.PRODUCTION)
    return None if power is None else max(power, 0.0)


def _grid_power(live: LiveData, meters: dict[int, MeterConfig]) -> float | None:
    """Return grid power: positive importing, negative exporting."""
    net = _role_power(live, meters, MeasurementType.NET_CONSUMPTION)
    if net is not None:
        return net
    load = _role_power(live, meters, MeasurementType.TOTAL_CONSUMPTION)
    production = _role_power(live, meters, MeasurementType.PRODUCTION)
    if load is None or production is None:
        return None
    return load - production


def _consumption_power(live: LiveData, meters: dict[int, MeterConfig]) -> float | None:
    """Return what the house uses: a load CT, or production + grid + battery."""
    load = _role_power(live, meters, MeasurementType.TOTAL_CONSUMPTION)
    if load is not None:
        return load
    net = _role_power(live, meters, MeasurementType.NET_CONSUMPTION)
    production = _role_power(live, meters, MeasurementType.PRODUCTION)
    if net is None or production is None:
        return None
    battery = _role_power(live, meters, MeasurementType.STORAGE) or 0.0
    return max(production + net + battery, 0.0)


def _positive(
    value_fn: Callable[[LiveData, dict[int, MeterConfig]], float | None], sign: float
) -> Callable[[LiveData, dict[int, MeterConfig]], float | None]:
    """Return the part of a signed power flowing one way, as a positive number."""

    def value(live: LiveData, meters: dict[int, MeterConfig]) -> float | None:
        signed = value_fn(live, meters)
        return None if signed is None else max(signed * sign, 0.0)

    return value


def _battery_power(live: LiveData, meters: dict[int, MeterConfig]) -> float | None:
    """Return battery power: positive discharging, negative charging."""
    return _role_power(live, meters, MeasurementType.STORAGE)


def _energy_value(key: str) -> Callable[[LiveData, dict[int, MeterConfig]], StateType]:
    """Return a reader of one guarded total."""
    return lambda live, _meters: live.energy.get(key)


LIVE_SENSORS: tuple[LiveSensorDescription, ...] = (
    LiveSensorDescription(
        **_power("production_power"),
        value_fn=_production_power,
        exists_fn=_has(MeasurementType.PRODUCTION),
    ),
    LiveSensorDescription(
        **_energy("production_energy"),
        value_fn=_energy_value("production"),
        exists_fn=_has(MeasurementType.PRODUCTION),
    ),
    LiveSensorDescription(
        **_energy("production_energy_today"),
        value_fn=_energy_value("production_today"),
        exists_fn=_has(MeasurementType.PRODUCTION),
    ),
    LiveSensorDescription(
        **_power("grid_power"),
        value_fn=_grid_power,
        exists_fn=_has_grid,
    ),
    LiveSensorDescription(
        **_power("grid_import_power"),
        value_fn=_positive(_grid_power, 1),
        exists_fn=_has_grid,
    ),
    LiveSensorDescription(
        **_power("grid_export_power"),
        value_fn=_positive(_grid_power, -1),
        exists_fn=_has_grid,
    ),
    LiveSensorDescription(
        **_energy("grid_import_energy"),
        value_fn=_energy_value("grid_import"),
        exists_fn=_has_grid,
    ),
    LiveSensorDescription(
        **_energy("grid_export_energy"),
        value_fn=_energy_value("grid_export"),
        exists_fn=_has_grid,
    ),
    LiveSensorDescription(
        **_power("consumption_power"),
        value_fn=_consumption_power,
        exists_fn=_has_consumption,
    ),
    LiveSensorDescription(
        **_energy("consumption_energy"),
        value_fn=_energy_value("consumption"),
        exists_fn=_has_consumption,
    ),
    LiveSensorDescription(
        **_energy("consumption_energy_today"),
        value_fn=_energy_value("consumption_today"),
        exists_fn=_has_consumption,
    ),
    LiveSensorDescription(
        **_power("battery_power"),
        value_fn=_battery_power,
        exists_fn=_has(MeasurementType.STORAGE),
    ),
    LiveSensorDescription(
        **_power("battery_charge_power"),
        value_fn=_positive(_battery_power, -1),
        exists_fn=_has(MeasurementType.STORAGE),
    ),
    LiveSensorDescription(
        **_power("battery_discharge_power"),
        value_fn=_positive(_battery_power, 1),
        exists_fn=_has(MeasurementType.STORAGE),
    ),
    LiveSensorDescription(
        **_energy("battery_charge_energy"),
        value_fn=_energy_value("battery_charge"),
        exists_fn=_has(MeasurementType.STORAGE),
    ),
    LiveSensorDescription(
        **_energy("battery_discharge_energy"),
        value_fn=_energy_value("battery_discharge"),
        exists_fn=_has(MeasurementType.STORAGE),
    ),
)


# --- Site sensors on the production tier --------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProductionSensorDescription(SensorEntityDescription):
    """A site-level value from /api/v1/production or production.json."""

    value_fn: Callable[[ProductionData], StateType]
    sources: frozenset[ProductionSource]
    """Production sources this value exists for."""


_NON_CT_SOURCES = frozenset(
    {ProductionSource.API_PRODUCTION, ProductionSource.PRODUCTION_JSON_INVERTERS}
)
_API_SOURCES = frozenset({ProductionSource.API_PRODUCTION, ProductionSource.CT})


def _non_ct_production_power(data: ProductionData) -> float | None:
    """Return production power from whichever non-CT source is trusted."""
    if data.report is not None and data.report.inverters is not None:
        return data.report.inverters.watts_now
    if data.api_production is not None:
        return data.api_production.watts_now
    return None


PRODUCTION_SENSORS: tuple[ProductionSensorDescription, ...] = (
    ProductionSensorDescription(
        **_power("production_power"),
        value_fn=_non_ct_production_power,
        sources=_NON_CT_SOURCES,
    ),
    ProductionSensorDescription(
        **_energy("production_energy"),
        value_fn=lambda data: data.energy.get("production"),
        sources=_NON_CT_SOURCES,
    ),
    ProductionSensorDescription(
        **_energy("production_energy_today"),
        value_fn=lambda data: data.energy.get("production_today"),
        sources=_NON_CT_SOURCES,
    ),
    ProductionSensorDescription(
        **_gateway_counter("gateway_production_today"),
        value_fn=lambda data: (
            None
            if data.api_production is None
            else data.api_production.watt_hours_today
        ),
        sources=_API_SOURCES,
    ),
    ProductionSensorDescription(
        **_gateway_counter("gateway_production_seven_days"),
        value_fn=lambda data: (
            None
            if data.api_production is None
            else data.api_production.watt_hours_seven_days
        ),
        sources=_API_SOURCES,
    ),
)


# --- Gateway diagnostics --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GatewaySensorDescription(SensorEntityDescription):
    """A gateway diagnostic computed from the runtime data."""

    value_fn: Callable[[EnphaseLocalRuntimeData], StateType | datetime]
    exists_fn: Callable[[EnphaseLocalRuntimeData], bool] = lambda _runtime: True


GATEWAY_SENSORS: tuple[GatewaySensorDescription, ...] = (
    GatewaySensorDescription(
        key="token_expiry",
        translation_key="token_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime: (
            None if runtime.tokens is None else runtime.tokens.expires_at
        ),
        exists_fn=lambda runtime: runtime.tokens is not None,
    ),
    GatewaySensorDescription(
        key="last_update",
        translation_key="last_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime: runtime.last_contact,
    ),
)


# --- CT meters and their phases ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CtSensorDescription(SensorEntityDescription):
    """A CT meter measure, for the aggregate and (``phase_variant``) each phase."""

    value_fn: Callable[[MeterReading], float | None] = lambda _reading: None
    energy_key: str | None = None
    """Read the guarded total ``ct_<eid>[_l<n>]_<energy_key>`` instead."""
    exists_fn: Callable[[MeterConfig], bool] = lambda _meter: True


def _single_phase(meter: MeterConfig) -> bool:
    """Return True when an aggregate is one physical phase's value."""
    return meter.phase_count == 1


def _line_to_line(meter: MeterConfig) -> bool:
    """Return True when the summed voltage is a real voltage (single or split phase).

    The gateway's aggregate voltage is the sum of its phase voltages: on split
    phase that is the 240 V between the legs, on three phase it is meaningless.
    """
    return meter.phase_count == 1 or (
        meter.phase_count == 2 and meter.phase_mode == "split"
    )


def _ct_measures(enabled: bool) -> tuple[CtSensorDescription, ...]:
    """Return the CT measures; ``enabled`` marks power and energy on by default."""
    return (
        CtSensorDescription(
            **_power("power", entity_registry_enabled_default=enabled),
            value_fn=lambda r: r.active_power_w,
        ),
        CtSensorDescription(
            **_energy("energy_delivered", entity_registry_enabled_default=enabled),
            energy_key="delivered",
        ),
        CtSensorDescription(
            **_energy("energy_received", entity_registry_enabled_default=enabled),
            energy_key="received",
        ),
        CtSensorDescription(
            **_measure(
                "apparent_power",
                SensorDeviceClass.APPARENT_POWER,
                UnitOfApparentPower.VOLT_AMPERE,
                0,
            ),
            value_fn=lambda r: r.apparent_power_va,
        ),
        CtSensorDescription(
            **_measure(
                "reactive_power",
                SensorDeviceClass.REACTIVE_POWER,
                UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
                0,
            ),
            value_fn=lambda r: r.reactive_power_var,
        ),
        CtSensorDescription(
            **_measure("power_factor", SensorDeviceClass.POWER_FACTOR, None, 2),
            value_fn=lambda r: r.power_factor,
        ),
        CtSensorDescription(
            **_measure(
                "voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1
            ),
            value_fn=lambda r: r.voltage_v,
            exists_fn=_line_to_line,
        ),
        CtSensorDescription(
            **_measure(
                "current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 2
            ),
            value_fn=lambda r: r.current_a,
            exists_fn=_single_phase,
        ),
        CtSensorDescription(
            **_measure(
                "frequency", SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2
            ),
            value_fn=lambda r: r.frequency_hz,
        ),
        CtSensorDescription(
            **_counter("apparent_energy", None, "VAh"), energy_key="apparent"
        ),
        CtSensorDescription(
            **_counter(
                "reactive_energy_lagging",
                SensorDeviceClass.REACTIVE_ENERGY,
                UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR,
            ),
            energy_key="reactive_lagging",
        ),
        CtSensorDescription(
            **_counter(
                "reactive_energy_leading",
                SensorDeviceClass.REACTIVE_ENERGY,
                UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR,
            ),
            energy_key="reactive_leading",
        ),
    )


CT_SENSORS = _ct_measures(enabled=True)
CT_PHASE_SENSORS = tuple(
    CtSensorDescription(
        key=f"{description.key}_phase",
        translation_key=f"{description.translation_key}_phase",
        device_class=description.device_class,
        native_unit_of_measurement=description.native_unit_of_measurement,
        suggested_unit_of_measurement=description.suggested_unit_of_measurement,
        state_class=description.state_class,
        suggested_display_precision=description.suggested_display_precision,
        entity_registry_enabled_default=False,
        value_fn=description.value_fn,
        energy_key=description.energy_key,
    )
    for description in _ct_measures(enabled=False)
)


@dataclass(frozen=True, kw_only=True)
class CtStatusDescription(SensorEntityDescription):
    """A CT meter's configuration fact, from /ivp/meters."""

    value_fn: Callable[[MeterConfig], StateType]


_METERING_STATUSES = ("normal", "not_metering", "check_wiring")


def _metering_status(status: str | None) -> str:
    """Return the status as an enum option; anything new reads as unknown."""
    option = (status or "").replace("-", "_")
    return option if option in _METERING_STATUSES else "unknown"


CT_STATUS_SENSORS: tuple[CtStatusDescription, ...] = (
    CtStatusDescription(
        key="metering_status",
        translation_key="metering_status",
        device_class=SensorDeviceClass.ENUM,
        options=[*_METERING_STATUSES, "unknown"],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda meter: _metering_status(meter.metering_status),
    ),
    CtStatusDescription(
        key="status_flags",
        translation_key="status_flags",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda meter: (
            None
            if meter.status_flags is None
            else ", ".join(meter.status_flags) or "none"
        ),
    ),
)


# --- Inverters --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InverterSensorDescription(SensorEntityDescription):
    """A value of one inverter; ``detail`` ones need /ivp/pdm/device_data."""

    value_fn: Callable[[Inverter, InverterData], StateType | datetime]
    detail: bool = False


def _detail(
    read: Callable[[InverterDetail], float | int | None],
) -> Callable[[Inverter, InverterData], StateType]:
    """Return a reader of one device_data field."""
    return lambda inverter, _data: (
        None if inverter.detail is None else read(inverter.detail)
    )


def _timestamp(epoch: int | None) -> datetime | None:
    """Return an aware datetime for an epoch timestamp the gateway reported."""
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch, UTC)


INVERTER_SENSORS: tuple[InverterSensorDescription, ...] = (
    InverterSensorDescription(
        **_power("inverter_power", translation_key=None, name=None),
        value_fn=lambda inverter, _data: inverter.last_report_watts,
    ),
    InverterSensorDescription(
        key="last_report",
        translation_key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda inverter, _data: _timestamp(inverter.last_report_date),
    ),
    InverterSensorDescription(
        **_power(
            "max_power",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
        value_fn=lambda inverter, _data: inverter.max_report_watts,
    ),
    InverterSensorDescription(
        **_energy("lifetime_energy"),
        value_fn=lambda inverter, data: data.energy.get(f"inverter_{inverter.serial}"),
        detail=True,
    ),
    InverterSensorDescription(
        **_energy("energy_today"),
        value_fn=lambda inverter, data: data.energy.get(
            f"inverter_{inverter.serial}_today"
        ),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "dc_voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1
        ),
        value_fn=_detail(lambda detail: detail.dc_voltage_v),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "dc_current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 2
        ),
        value_fn=_detail(lambda detail: detail.dc_current_a),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "ac_voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1
        ),
        value_fn=_detail(lambda detail: detail.ac_voltage_v),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "ac_current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 2
        ),
        value_fn=_detail(lambda detail: detail.ac_current_a),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "ac_frequency", SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2
        ),
        value_fn=_detail(lambda detail: detail.ac_frequency_hz),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure(
            "temperature", SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS, 0
        ),
        value_fn=_detail(lambda detail: detail.temperature_c),
        detail=True,
    ),
    InverterSensorDescription(
        key="energy_last_report",
        translation_key="energy_last_report",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_detail(lambda detail: detail.energy_in_report_wh),
        detail=True,
    ),
    InverterSensorDescription(
        key="report_duration",
        translation_key="report_duration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_detail(lambda detail: detail.report_duration_s),
        detail=True,
    ),
    InverterSensorDescription(
        **_gateway_counter("gateway_energy_today"),
        value_fn=_detail(lambda detail: detail.watt_hours_today),
        detail=True,
    ),
    InverterSensorDescription(
        **_gateway_counter("gateway_energy_yesterday"),
        value_fn=_detail(lambda detail: detail.watt_hours_yesterday),
        detail=True,
    ),
    InverterSensorDescription(
        **_gateway_counter("gateway_energy_week"),
        value_fn=_detail(lambda detail: detail.watt_hours_week),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure("rssi", None, None, 0, entity_category=EntityCategory.DIAGNOSTIC),
        value_fn=_detail(lambda detail: detail.rssi),
        detail=True,
    ),
    InverterSensorDescription(
        **_measure("issi", None, None, 0, entity_category=EntityCategory.DIAGNOSTIC),
        value_fn=_detail(lambda detail: detail.issi),
        detail=True,
    ),
)


# --- Entities ----------------------------------------------------------------------


def _tidy(value: StateType) -> StateType:
    """Round sums of float readings to the gateway's precision, without -0.0."""
    if isinstance(value, float):
        return round(value, 3) + 0.0
    return value


class LiveSensor(EnphaseLocalEntity[LiveCoordinator], SensorEntity):
    """A site value from the CT readings."""

    entity_description: LiveSensorDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return _tidy(
            self.entity_description.value_fn(
                self.coordinator.data, self.coordinator.meters.data or {}
            )
        )


class ProductionSensor(EnphaseLocalEntity[ProductionCoordinator], SensorEntity):
    """A site value from the production tier."""

    entity_description: ProductionSensorDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        return self.entity_description.value_fn(self.coordinator.data)


class GatewaySensor(EnphaseLocalEntity[InfoCoordinator], SensorEntity):
    """A gateway diagnostic."""

    entity_description: GatewaySensorDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the value."""
        return self.entity_description.value_fn(self.coordinator.runtime)

    @property
    @override
    def available(self) -> bool:
        """Stay available: these describe the connection itself."""
        return True


class CtSensor(EnphaseLocalEntity[LiveCoordinator], SensorEntity):
    """A measure of one CT meter, or of one of its phases."""

    entity_description: CtSensorDescription

    def __init__(
        self,
        coordinator: LiveCoordinator,
        description: CtSensorDescription,
        meter: MeterConfig,
        phase: int | None = None,
    ) -> None:
        """Bind to a meter (and a phase: 1..3)."""
        serial = coordinator.config_entry.runtime_data.info.serial
        suffix = "" if phase is None else f"_l{phase}"
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_ct_{meter.eid}{suffix}_{description.key.removesuffix('_phase')}",
            device_info=meter_device_info(
                serial, coordinator.runtime.gateway_device_id, meter
            ),
        )
        self._eid = meter.eid
        self._phase = phase
        self._energy_key = (
            None
            if description.energy_key is None
            else f"ct_{meter.eid}{suffix}_{description.energy_key}"
        )
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
        """Return False while the gateway does not report this meter."""
        return super().available and self._eid in self.coordinator.data.readings

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value."""
        if self._energy_key is not None:
            return self.coordinator.data.energy.get(self._energy_key)
        reading = self._reading()
        return None if reading is None else self.entity_description.value_fn(reading)


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
        return self.entity_description.value_fn(self.inverter, self.coordinator.data)


# --- Setup ---------------------------------------------------------------------------


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up sensors now, and for CTs and inverters that appear later."""
    runtime = entry.runtime_data
    source = runtime.capabilities.production_source

    async_add_entities(
        GatewaySensor(
            runtime.info_coordinator,
            description,
            unique_id=f"{runtime.info.serial}_{description.key}",
        )
        for description in GATEWAY_SENSORS
        if description.exists_fn(runtime)
    )
    async_add_entities(
        ProductionSensor(
            runtime.production_coordinator,
            description,
            unique_id=f"{runtime.info.serial}_{description.key}",
        )
        for description in PRODUCTION_SENSORS
        if source in description.sources
    )

    if (live := runtime.live_coordinator) is not None and (
        meters := runtime.meters_coordinator
    ) is not None:
        _watch_meters(entry, live, meters, async_add_entities)
    if (inverters := runtime.inverters_coordinator) is not None:
        _watch_inverters(entry, inverters, async_add_entities)


def _watch_meters(
    entry: EnphaseLocalConfigEntry,
    live: LiveCoordinator,
    meters: MetersCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add site, CT and phase sensors for every enabled meter, now and later."""
    serial = entry.runtime_data.info.serial
    added_site: set[str] = set()
    added_meters: set[int] = set()

    @callback
    def _async_add_new() -> None:
        config = meters.data or {}
        new: list[SensorEntity] = []
        for description in LIVE_SENSORS:
            if description.key not in added_site and description.exists_fn(config):
                added_site.add(description.key)
                new.append(
                    LiveSensor(
                        live, description, unique_id=f"{serial}_{description.key}"
                    )
                )
        for meter in config.values():
            if not meter.enabled or meter.eid in added_meters:
                continue
            added_meters.add(meter.eid)
            new.extend(
                CtSensor(live, description, meter)
                for description in CT_SENSORS
                if description.exists_fn(meter)
            )
            new.extend(
                CtSensor(live, description, meter, phase)
                for phase in range(1, min(meter.phase_count, 3) + 1)
                for description in CT_PHASE_SENSORS
            )
            new.extend(
                CtStatusSensor(meters, description, meter)
                for description in CT_STATUS_SENSORS
            )
        if new:
            async_add_entities(new)

    _async_add_new()
    entry.async_on_unload(meters.async_add_listener(_async_add_new))


def _watch_inverters(
    entry: EnphaseLocalConfigEntry,
    coordinator: InvertersCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add inverter sensors for every inverter, now and as they appear."""
    added_basic: set[str] = set()
    added_detail: set[str] = set()

    @callback
    def _async_add_new() -> None:
        data: InverterData | None = coordinator.data
        if data is None:
            return
        new: list[SensorEntity] = []
        for serial, inverter in data.inverters.items():
            if serial not in added_basic:
                added_basic.add(serial)
                new.extend(
                    InverterSensor(coordinator, description, inverter)
                    for description in INVERTER_SENSORS
                    if not description.detail
                )
            if inverter.detail is not None and serial not in added_detail:
                added_detail.add(serial)
                new.extend(
                    InverterSensor(coordinator, description, inverter)
                    for description in INVERTER_SENSORS
                    if description.detail
                )
        if new:
            async_add_entities(new)

    _async_add_new()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new))
