"""What each sensor shows: descriptions of site, gateway, CT and inverter values.

Pure data for ``sensor.py``. Energy meant for the Energy dashboard is always
``total_increasing`` in Wh (shown in kWh), guarded by the bookkeeping; the
gateway's own day and week counters are diagnostic and feed no statistics.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
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
from homeassistant.helpers.typing import StateType

from .battery import BatteryData
from .envoy import (
    ApiProduction,
    Battery,
    BatteryPower,
    EnsembleAggregate,
    Inverter,
    InverterDetail,
    MeterConfig,
    MeterReading,
)
from .keys import CtCounter, SiteTotal, inverter_key
from .tiers import InverterData, SiteData

# --- Site (gateway device) ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A site flow: exists when the site has ``flow``."""

    flow: str
    value_fn: Callable[[SiteData], float | None]
    live: bool = False
    """An instantaneous value: unavailable, not stale, when its source is."""


def _site_power(
    key: str,
    flow: str,
    value_fn: Callable[[SiteData], float | None],
    *,
    enabled: bool = True,
) -> SiteSensorDescription:
    """Describe an instantaneous site power in W."""
    return SiteSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
        flow=flow,
        value_fn=value_fn,
        live=True,
    )


def _site_energy(
    key: str, flow: str, total: SiteTotal, *, today: bool = False
) -> SiteSensorDescription:
    """Describe a published site total (or its energy since midnight)."""
    return SiteSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        flow=flow,
        value_fn=(
            (lambda site: site.today.get(total))
            if today
            else (lambda site: site.totals.get(total))
        ),
    )


SITE_SENSORS: tuple[SiteSensorDescription, ...] = (
    _site_power("production_power", "production", lambda s: s.powers.production),
    _site_energy("production_energy", "production", SiteTotal.PRODUCTION),
    _site_energy(
        "production_energy_today", "production", SiteTotal.PRODUCTION, today=True
    ),
    _site_power("grid_power", "grid", lambda s: s.powers.grid),
    _site_power("grid_import_power", "grid", lambda s: s.powers.grid_import),
    _site_power("grid_export_power", "grid", lambda s: s.powers.grid_export),
    _site_energy("grid_import_energy", "grid", SiteTotal.GRID_IMPORT),
    _site_energy("grid_export_energy", "grid", SiteTotal.GRID_EXPORT),
    _site_power("consumption_power", "consumption", lambda s: s.powers.consumption),
    _site_energy("consumption_energy", "consumption", SiteTotal.CONSUMPTION),
    _site_energy(
        "consumption_energy_today", "consumption", SiteTotal.CONSUMPTION, today=True
    ),
    _site_power("battery_power", "battery", lambda s: s.powers.battery),
    # Battery power says both directions: its halves are for those who want them.
    _site_power(
        "battery_charge_power",
        "battery",
        lambda s: s.powers.battery_charge,
        enabled=False,
    ),
    _site_power(
        "battery_discharge_power",
        "battery",
        lambda s: s.powers.battery_discharge,
        enabled=False,
    ),
    _site_energy("battery_charge_energy", "battery", SiteTotal.BATTERY_CHARGE),
    _site_energy("battery_discharge_energy", "battery", SiteTotal.BATTERY_DISCHARGE),
)


# --- The gateway's own counters (production tier) and diagnostics --------------------


@dataclass(frozen=True, kw_only=True)
class ProductionSensorDescription(SensorEntityDescription):
    """One of the gateway's own counters from /api/v1/production (diagnostic).

    The gateway resets these late, to non-zero values, or not at all: they are
    shown for reference and never feed long-term statistics.
    """

    value_fn: Callable[[ApiProduction], float]
    device_class: SensorDeviceClass | None = SensorDeviceClass.ENERGY
    native_unit_of_measurement: str | None = UnitOfEnergy.WATT_HOUR
    suggested_unit_of_measurement: str | None = UnitOfEnergy.KILO_WATT_HOUR
    suggested_display_precision: int | None = 2
    entity_category: EntityCategory | None = EntityCategory.DIAGNOSTIC
    entity_registry_enabled_default: bool = False


PRODUCTION_SENSORS: tuple[ProductionSensorDescription, ...] = (
    ProductionSensorDescription(
        key="gateway_production_today",
        translation_key="gateway_production_today",
        value_fn=lambda api: api.watt_hours_today,
    ),
    ProductionSensorDescription(
        key="gateway_production_seven_days",
        translation_key="gateway_production_seven_days",
        value_fn=lambda api: api.watt_hours_seven_days,
    ),
)


@dataclass(frozen=True, kw_only=True)
class GatewaySensorDescription(SensorEntityDescription):
    """A gateway diagnostic computed from the runtime data."""

    value_fn: Callable[[GatewayView], StateType | datetime]
    exists_fn: Callable[[GatewayView], bool] = lambda _view: True


@dataclass(frozen=True, slots=True)
class GatewayView:
    """What gateway diagnostics read: token expiry and the newest contact."""

    token_expires_at: datetime | None
    has_token: bool
    last_contact: datetime | None


GATEWAY_SENSORS: tuple[GatewaySensorDescription, ...] = (
    GatewaySensorDescription(
        key="token_expiry",
        translation_key="token_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda view: view.token_expires_at,
        exists_fn=lambda view: view.has_token,
    ),
    GatewaySensorDescription(
        key="last_update",
        translation_key="last_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A timestamp moving with every poll would fill the logbook.
        entity_registry_enabled_default=False,
        value_fn=lambda view: view.last_contact,
    ),
)


# --- CT meters and their phases ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CtSensorDescription(SensorEntityDescription):
    """A CT meter measure, for the aggregate and (``phase``) each phase."""

    value_fn: Callable[[MeterReading], float | None] | None = None
    counter: CtCounter | None = None
    """Show the guarded total of this counter instead of a reading."""
    exists_fn: Callable[[MeterConfig], bool] = lambda _meter: True
    live: bool = False
    """An instantaneous value: unavailable, not stale, when readings stop."""
    measure: str = ""
    """The measure's name in unique ids (the aggregate's key for phases)."""

    def __post_init__(self) -> None:
        """Name the measure after the key unless told otherwise."""
        if not self.measure:
            object.__setattr__(self, "measure", self.key)


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


def _any_meter(_meter: MeterConfig) -> bool:
    """Return True: the measure exists on every meter."""
    return True


def _receives(meter: MeterConfig) -> bool:
    """Return False for a load CT: current only ever flows into the house."""
    return meter.measurement_type != "total-consumption"


CT_ENERGY_NAMES: dict[tuple[str, CtCounter | None], str] = {
    ("production", CtCounter.DELIVERED): "energy_produced",
    ("production", CtCounter.RECEIVED): "energy_standby",
    ("net-consumption", CtCounter.DELIVERED): "energy_imported",
    ("net-consumption", CtCounter.RECEIVED): "energy_exported",
    ("storage", CtCounter.DELIVERED): "energy_discharged",
    ("storage", CtCounter.RECEIVED): "energy_charged",
}
"""Translation keys of a CT's delivered and received energy, by its role."""

CT_SENSORS: tuple[CtSensorDescription, ...] = (
    CtSensorDescription(
        key="power",
        translation_key="power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda reading: reading.active_power_w,
        live=True,
    ),
    CtSensorDescription(
        key="energy_delivered",
        translation_key="energy_delivered",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        counter=CtCounter.DELIVERED,
    ),
    CtSensorDescription(
        key="energy_received",
        translation_key="energy_received",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        counter=CtCounter.RECEIVED,
        exists_fn=_receives,
    ),
    CtSensorDescription(
        key="apparent_power",
        translation_key="apparent_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.apparent_power_va,
        live=True,
    ),
    CtSensorDescription(
        key="reactive_power",
        translation_key="reactive_power",
        device_class=SensorDeviceClass.REACTIVE_POWER,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.reactive_power_var,
        live=True,
    ),
    CtSensorDescription(
        key="power_factor",
        translation_key="power_factor",
        device_class=SensorDeviceClass.POWER_FACTOR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.power_factor,
        live=True,
    ),
    CtSensorDescription(
        key="voltage",
        translation_key="voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.voltage_v,
        exists_fn=_line_to_line,
        live=True,
    ),
    CtSensorDescription(
        key="current",
        translation_key="current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.current_a,
        exists_fn=_single_phase,
        live=True,
    ),
    CtSensorDescription(
        key="frequency",
        translation_key="frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.frequency_hz,
        live=True,
    ),
    CtSensorDescription(
        key="apparent_energy",
        translation_key="apparent_energy",
        native_unit_of_measurement="VAh",
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        counter=CtCounter.APPARENT,
    ),
    CtSensorDescription(
        key="reactive_energy_lagging",
        translation_key="reactive_energy_lagging",
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        native_unit_of_measurement=UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        counter=CtCounter.REACTIVE_LAGGING,
    ),
    CtSensorDescription(
        key="reactive_energy_leading",
        translation_key="reactive_energy_leading",
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        native_unit_of_measurement=UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        counter=CtCounter.REACTIVE_LEADING,
    ),
)

# Every measure per phase: off by default, named "<measure> {phase}"; each
# phase carries a real voltage and current, so only the load CT's received
# energy (always 0) is left out.
CT_PHASE_SENSORS: tuple[CtSensorDescription, ...] = tuple(
    replace(
        description,
        key=f"{description.key}_phase",
        translation_key=f"{description.translation_key}_phase",
        entity_registry_enabled_default=False,
        measure=description.key,
        exists_fn=(
            _receives if description.counter is CtCounter.RECEIVED else _any_meter
        ),
    )
    for description in CT_SENSORS
)


@dataclass(frozen=True, kw_only=True)
class CtStatusDescription(SensorEntityDescription):
    """A CT meter's configuration fact, from /ivp/meters."""

    value_fn: Callable[[MeterConfig], StateType]


METERING_STATUSES = ("normal", "not_metering", "check_wiring")


def _metering_status(status: str | None) -> str:
    """Return the status as an enum option; anything new reads as unknown."""
    option = (status or "").replace("-", "_")
    return option if option in METERING_STATUSES else "unknown"


CT_STATUS_SENSORS: tuple[CtStatusDescription, ...] = (
    CtStatusDescription(
        key="metering_status",
        translation_key="metering_status",
        device_class=SensorDeviceClass.ENUM,
        options=[*METERING_STATUSES, "unknown"],
        entity_category=EntityCategory.DIAGNOSTIC,
        # The metering problem binary sensor says the same for automations.
        entity_registry_enabled_default=False,
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


# --- Inverters ------------------------------------------------------------------------


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


def _measure(
    key: str,
    device_class: SensorDeviceClass | None,
    unit: str | None,
    precision: int,
    read: Callable[[InverterDetail], float | int | None],
    *,
    category: EntityCategory | None = None,
) -> InverterSensorDescription:
    """Describe one technical device_data measurement, off by default."""
    return InverterSensorDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=precision,
        entity_category=category,
        entity_registry_enabled_default=False,
        value_fn=_detail(read),
        detail=True,
    )


def _inverter_counter(
    key: str, read: Callable[[InverterDetail], float | None]
) -> InverterSensorDescription:
    """Describe one of the gateway's own per-inverter counters (diagnostic)."""
    return InverterSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_detail(read),
        detail=True,
    )


INVERTER_SENSORS: tuple[InverterSensorDescription, ...] = (
    InverterSensorDescription(
        key="inverter_power",
        name=None,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda inverter, _data: inverter.last_report_watts,
    ),
    InverterSensorDescription(
        key="last_report",
        translation_key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        # Every report (each inverter, every 5 minutes) would be a logbook entry.
        entity_registry_enabled_default=False,
        value_fn=lambda inverter, _data: _timestamp(inverter.last_report_date),
    ),
    InverterSensorDescription(
        key="max_power",
        translation_key="max_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda inverter, _data: inverter.max_report_watts,
    ),
    InverterSensorDescription(
        key="lifetime_energy",
        translation_key="lifetime_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=lambda inverter, data: data.energy.get(inverter_key(inverter.serial)),
        detail=True,
    ),
    InverterSensorDescription(
        key="energy_today",
        translation_key="energy_today",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=lambda inverter, data: data.energy.get(
            f"{inverter_key(inverter.serial)}_today"
        ),
        detail=True,
    ),
    _measure(
        "dc_voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
        lambda detail: detail.dc_voltage_v,
    ),
    _measure(
        "dc_current",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        2,
        lambda detail: detail.dc_current_a,
    ),
    _measure(
        "ac_voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
        lambda detail: detail.ac_voltage_v,
    ),
    _measure(
        "ac_current",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        2,
        lambda detail: detail.ac_current_a,
    ),
    _measure(
        "ac_frequency",
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        2,
        lambda detail: detail.ac_frequency_hz,
    ),
    _measure(
        "temperature",
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        0,
        lambda detail: detail.temperature_c,
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
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_detail(lambda detail: detail.report_duration_s),
        detail=True,
    ),
    _inverter_counter("gateway_energy_today", lambda detail: detail.watt_hours_today),
    _inverter_counter(
        "gateway_energy_yesterday", lambda detail: detail.watt_hours_yesterday
    ),
    _inverter_counter("gateway_energy_week", lambda detail: detail.watt_hours_week),
    _measure(
        "rssi",
        None,
        None,
        0,
        lambda detail: detail.rssi,
        category=EntityCategory.DIAGNOSTIC,
    ),
    _measure(
        "issi",
        None,
        None,
        0,
        lambda detail: detail.issi,
        category=EntityCategory.DIAGNOSTIC,
    ),
)


# --- Batteries ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BatterySiteSensorDescription(SensorEntityDescription):
    """A site battery aggregate on the gateway (IQ Batteries or AC batteries)."""

    value_fn: Callable[[BatteryData], StateType]


def _aggregate(
    read: Callable[[EnsembleAggregate], float | None],
) -> Callable[[BatteryData], StateType]:
    """Return a reader of one IQ Battery aggregate."""
    return lambda data: None if data.aggregate is None else read(data.aggregate)


def _site_soc(data: BatteryData) -> float | None:
    """Return the site's state of charge: IQ Batteries' aggregate, or the AC batteries'."""
    if data.aggregate is not None and data.aggregate.soc_percent is not None:
        return data.aggregate.soc_percent
    return None if data.acb is None else data.acb.percent_full


def _site_stored(data: BatteryData) -> float | None:
    """Return the energy stored now: IQ Batteries' available energy, or ACB whNow."""
    if data.aggregate is not None and data.aggregate.available_energy_wh is not None:
        return data.aggregate.available_energy_wh
    return None if data.acb is None else data.acb.wh_now


AC_BATTERY_STATES = ("idle", "charging", "discharging")

BATTERY_SITE_SENSORS: tuple[BatterySiteSensorDescription, ...] = (
    BatterySiteSensorDescription(
        key="battery_soc",
        translation_key="battery_soc",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_site_soc,
    ),
    BatterySiteSensorDescription(
        key="battery_available_energy",
        translation_key="battery_available_energy",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_site_stored,
    ),
    BatterySiteSensorDescription(
        key="battery_max_energy",
        translation_key="battery_max_energy",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_aggregate(lambda aggregate: aggregate.max_energy_wh),
    ),
    BatterySiteSensorDescription(
        key="battery_reserve",
        translation_key="battery_reserve",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_aggregate(lambda aggregate: aggregate.reserve_percent),
    ),
    BatterySiteSensorDescription(
        key="battery_health",
        translation_key="battery_health",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_aggregate(lambda aggregate: aggregate.health_percent),
    ),
    BatterySiteSensorDescription(
        key="ac_battery_state",
        translation_key="ac_battery_state",
        device_class=SensorDeviceClass.ENUM,
        options=[*AC_BATTERY_STATES, "unknown"],
        value_fn=lambda data: (
            None
            if data.acb is None
            else data.acb.state
            if data.acb.state in AC_BATTERY_STATES
            else "unknown"
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class BatteryPowerSensorDescription(SensorEntityDescription):
    """A value of one IQ Battery from its own power report (battery tier)."""

    value_fn: Callable[[BatteryPower], float | None]


BATTERY_POWER_SENSORS: tuple[BatteryPowerSensorDescription, ...] = (
    BatteryPowerSensorDescription(
        key="soc",
        translation_key="soc",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda power: power.soc_percent,
    ),
    BatteryPowerSensorDescription(
        key="battery_unit_power",
        translation_key="battery_unit_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda power: power.power_w,
    ),
)


@dataclass(frozen=True, kw_only=True)
class BatteryInventorySensorDescription(SensorEntityDescription):
    """A value of one IQ Battery from the inventory (read every few minutes)."""

    value_fn: Callable[[Battery], StateType | datetime]


BATTERY_INVENTORY_SENSORS: tuple[BatteryInventorySensorDescription, ...] = (
    BatteryInventorySensorDescription(
        key="temperature",
        translation_key="temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda battery: battery.temperature_c,
    ),
    BatteryInventorySensorDescription(
        key="capacity",
        translation_key="capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda battery: battery.capacity_wh,
    ),
    BatteryInventorySensorDescription(
        key="status",
        translation_key="battery_status",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda battery: battery.status,
    ),
    BatteryInventorySensorDescription(
        key="max_cell_temperature",
        translation_key="max_cell_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda battery: battery.max_cell_temperature_c,
    ),
    BatteryInventorySensorDescription(
        key="last_report",
        translation_key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda battery: _timestamp(battery.last_report_date),
    ),
)

CONTROLLER_TEMPERATURE = SensorEntityDescription(
    key="temperature",
    translation_key="temperature",
    device_class=SensorDeviceClass.TEMPERATURE,
    # Reported in Fahrenheit (batteries report Celsius): converted to Celsius
    # at the gateway's resolution; Home Assistant shows the user's unit.
    native_unit_of_measurement=UnitOfTemperature.CELSIUS,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
    entity_category=EntityCategory.DIAGNOSTIC,
)
