"""Site flows: how production, grid, house consumption and battery are derived.

Pure functions of what the tiers last read. Which meters exist decides
where each flow comes from: a CT measures it, or it is the balance of the
others, or another endpoint reports it. The result says, for every energy
total, which source it follows now; the bookkeeping turns that into
published totals that carry on across a change of source.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .envoy import MeasurementType, MeterConfig, MeterReading, ProductionSource
from .keys import CtCounter, SiteTotal, ct_key


class Derived(StrEnum):
    """Energy totals no counter measures: worked out from other flows."""

    GRID_SPLIT = "grid_split"
    """Import/export from the load CT minus production (and battery)."""
    CONSUMPTION_BALANCE = "consumption_balance"
    """Production + import - export + battery discharge - charge."""
    BATTERY_POWER = "battery_power"
    """Charge/discharge integrated from the battery's reported power."""


@dataclass(frozen=True, slots=True)
class Measured:
    """An energy total that follows a guarded counter."""

    source: str
    """Names the counter: a change of name means a change of source."""
    total_wh: float | None


type EnergySource = Measured | Derived


@dataclass(frozen=True, slots=True)
class ProductionReading:
    """System production as the production tier read it."""

    source: ProductionSource
    watts: float | None
    total_key: str
    """The guard key of the lifetime counter (``keys.source_key``)."""
    total_wh: float | None


@dataclass(frozen=True, slots=True)
class SiteInputs:
    """What the tiers last read, as far as the site flows need it."""

    meters: Mapping[int, MeterConfig]
    readings: Mapping[int, MeterReading]
    """Readings matched to enabled meters by eid."""
    counters: Mapping[str, float]
    """Guarded CT counter totals by ``keys.ct_key``."""
    live_fresh: bool
    """False after several missed CT polls: CT powers are stale."""
    production: ProductionReading | None
    battery_power_w: float | None
    """Battery power from the battery's own reports (+ discharging)."""


@dataclass(frozen=True, slots=True)
class SitePowers:
    """Instantaneous site flows in W (None: unknown or stale)."""

    production: float | None = None
    grid: float | None = None
    """Positive importing, negative exporting."""
    consumption: float | None = None
    battery: float | None = None
    """Positive discharging, negative charging."""

    @property
    def grid_import(self) -> float | None:
        """Return the power drawn from the grid."""
        return _part(self.grid, 1.0)

    @property
    def grid_export(self) -> float | None:
        """Return the power sent to the grid."""
        return _part(self.grid, -1.0)

    @property
    def battery_charge(self) -> float | None:
        """Return the power going into the battery."""
        return _part(self.battery, -1.0)

    @property
    def battery_discharge(self) -> float | None:
        """Return the power coming out of the battery."""
        return _part(self.battery, 1.0)


@dataclass(frozen=True, slots=True)
class SiteFlows:
    """The site's flows now and where each energy total comes from."""

    powers: SitePowers
    present: frozenset[str]
    """Which flows this site has (``production``, ``grid``, ``consumption``,
    ``battery``): entities exist for these, whether or not known right now."""
    energy: Mapping[SiteTotal, EnergySource]
    battery_power_w: float | None
    """The battery power to integrate (no storage CT), else None."""


def _part(value: float | None, sign: float) -> float | None:
    """Return the part of a signed power flowing one way, as a positive number."""
    return None if value is None else max(value * sign, 0.0) + 0.0


def role_meter(meters: Mapping[int, MeterConfig], role: str) -> MeterConfig | None:
    """Return the enabled meter measuring ``role``, if any."""
    return next(
        (
            meter
            for meter in meters.values()
            if meter.enabled and meter.measurement_type == role
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class _Role:
    """One CT role's reading and its guarded counters."""

    eid: int
    reading: MeterReading
    delivered_wh: float | None
    received_wh: float | None

    def counters(self) -> tuple[Measured, Measured]:
        """Return this CT's delivered and received counters as energy sources."""
        return (
            Measured(ct_key(self.eid, CtCounter.DELIVERED), self.delivered_wh),
            Measured(ct_key(self.eid, CtCounter.RECEIVED), self.received_wh),
        )


def _role(inputs: SiteInputs, role: str) -> _Role | None:
    """Return the CT of ``role`` when it is enabled and read."""
    meter = role_meter(inputs.meters, role)
    if meter is None or (reading := inputs.readings.get(meter.eid)) is None:
        return None
    return _Role(
        eid=meter.eid,
        reading=reading,
        delivered_wh=inputs.counters.get(ct_key(meter.eid, CtCounter.DELIVERED)),
        received_wh=inputs.counters.get(ct_key(meter.eid, CtCounter.RECEIVED)),
    )


def _power(role: _Role | None, fresh: bool) -> float | None:
    """Return a CT's active power, None when stale."""
    if role is None or not fresh:
        return None
    return role.reading.active_power_w


def site_flows(inputs: SiteInputs) -> SiteFlows:
    """Work out every site flow from the CTs and the other sources."""
    fresh = inputs.live_fresh
    production_ct = _role(inputs, MeasurementType.PRODUCTION)
    net_ct = _role(inputs, MeasurementType.NET_CONSUMPTION)
    load_ct = _role(inputs, MeasurementType.TOTAL_CONSUMPTION)
    storage_ct = _role(inputs, MeasurementType.STORAGE)
    energy: dict[SiteTotal, EnergySource] = {}
    present: set[str] = set()

    production_w: float | None = None
    has_production = True
    if production_ct is not None:
        ct_power = _power(production_ct, fresh)
        # The CT's night-time standby draw reads as 0 production.
        production_w = None if ct_power is None else max(ct_power, 0.0)
        energy[SiteTotal.PRODUCTION] = production_ct.counters()[0]
    elif (
        inputs.production is not None
        and inputs.production.source is not ProductionSource.NONE
    ):
        production_w = inputs.production.watts
        energy[SiteTotal.PRODUCTION] = Measured(
            inputs.production.total_key, inputs.production.total_wh
        )
    else:
        has_production = False
    if has_production:
        present.add("production")

    battery_w: float | None = None
    integrate_battery: float | None = None
    if storage_ct is not None:
        present.add("battery")
        battery_w = _power(storage_ct, fresh)
        (
            energy[SiteTotal.BATTERY_DISCHARGE],
            energy[SiteTotal.BATTERY_CHARGE],
        ) = storage_ct.counters()
    elif inputs.battery_power_w is not None:
        present.add("battery")
        battery_w = inputs.battery_power_w
        integrate_battery = battery_w
        energy[SiteTotal.BATTERY_DISCHARGE] = Derived.BATTERY_POWER
        energy[SiteTotal.BATTERY_CHARGE] = Derived.BATTERY_POWER
    battery_or_zero = 0.0 if battery_w is None else battery_w

    grid_w: float | None = None
    consumption_w: float | None = None
    if net_ct is not None:
        present.add("grid")
        grid_w = _power(net_ct, fresh)
        energy[SiteTotal.GRID_IMPORT], energy[SiteTotal.GRID_EXPORT] = net_ct.counters()
    if load_ct is not None:
        present.add("consumption")
        consumption_w = _power(load_ct, fresh)
        energy[SiteTotal.CONSUMPTION] = load_ct.counters()[0]
        if net_ct is None and has_production:
            # No grid CT: the grid supplies what the house uses beyond the
            # site's own production and battery.
            present.add("grid")
            if consumption_w is not None and production_w is not None:
                grid_w = consumption_w - production_w - battery_or_zero
            energy[SiteTotal.GRID_IMPORT] = Derived.GRID_SPLIT
            energy[SiteTotal.GRID_EXPORT] = Derived.GRID_SPLIT
    elif net_ct is not None and has_production:
        present.add("consumption")
        if grid_w is not None and production_w is not None:
            consumption_w = max(production_w + grid_w + battery_or_zero, 0.0)
        energy[SiteTotal.CONSUMPTION] = Derived.CONSUMPTION_BALANCE

    return SiteFlows(
        powers=SitePowers(
            production=production_w,
            grid=grid_w,
            consumption=consumption_w,
            battery=battery_w,
        ),
        present=frozenset(present),
        energy=energy,
        battery_power_w=integrate_battery,
    )


def balance_growth(growth: Mapping[SiteTotal, float]) -> float:
    """Return one step of house consumption from the growth of the other totals."""
    return (
        growth.get(SiteTotal.PRODUCTION, 0.0)
        + growth.get(SiteTotal.GRID_IMPORT, 0.0)
        - growth.get(SiteTotal.GRID_EXPORT, 0.0)
        + growth.get(SiteTotal.BATTERY_DISCHARGE, 0.0)
        - growth.get(SiteTotal.BATTERY_CHARGE, 0.0)
    )


def balance_start(totals: Mapping[SiteTotal, float | None]) -> float | None:
    """Return house consumption's lifetime from the other lifetimes, if all known."""
    needed = (SiteTotal.PRODUCTION, SiteTotal.GRID_IMPORT, SiteTotal.GRID_EXPORT)
    values = [totals.get(total) for total in needed]
    if any(value is None for value in values):
        return None
    production, grid_import, grid_export = (float(value or 0.0) for value in values)
    battery = (totals.get(SiteTotal.BATTERY_DISCHARGE) or 0.0) - (
        totals.get(SiteTotal.BATTERY_CHARGE) or 0.0
    )
    return max(production + grid_import - grid_export + battery, 0.0)


def split_growth(growth: Mapping[SiteTotal, float]) -> float:
    """Return one step of the grid balance on a site without a grid CT."""
    return (
        growth.get(SiteTotal.CONSUMPTION, 0.0)
        - growth.get(SiteTotal.PRODUCTION, 0.0)
        - growth.get(SiteTotal.BATTERY_DISCHARGE, 0.0)
        + growth.get(SiteTotal.BATTERY_CHARGE, 0.0)
    )
