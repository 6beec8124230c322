"""Site physics: sun, loads, battery, CT meters and microinverters over time.

Everything is a pure function of the seed, the simulator clock and the site
changes made at run time (see fleet.py and battery.py), and every energy
counter is the integral of its power, so a client can check energy against
power. What a simulator started later (a restart) reports:

- Sun and household load come from curves.py, whose integrals do not depend
  on when a simulator started: production (CT, inverters, /api/v1/production,
  production.json), load CTs and the consumption the gateway adds up are the
  same whenever it started.
- The flows that depend on the battery's state (grid import and export,
  charge and discharge, the charge itself) are integrated by a Ledger from an
  origin: local midnight of the day first read, or a given history start.
  Simulators sharing the origin (started the same local day, or given the same
  history start) agree on every counter. Before the origin these flows are
  day-by-day estimates (with import less export exact), so a simulator started
  days later continues them within about a kilowatt-hour per day of the gap.
"""

from collections.abc import Sequence
from dataclasses import dataclass
import math

from .battery import (
    BATTERY_EFFICIENCY,
    BatteryStep,
    StorageSettings,
    StorageTimeline,
    step_battery,
)
from .curves import DayInfo, LocalCalendar, SiteCurves
from .fleet import FleetEpoch, FleetSchedule, Span, grid_after, span_pieces
from .ledger import COARSE_STEP_S, STEP_S, Ledger
from .noise import smooth_noise, stream_key, unit
from .profiles import MeasurementType, Profile

REPORT_INTERVAL_S = 300
JOULE_WRAP = 2**32
_CAPACITY_FACTOR = 0.17
# Share of the system's output (solar + battery) a backfeed CT sees coming back.
_BACKFEED_SHARE = 0.05
# A disabled EV charger's standby draw per phase (W), its past average (W) and
# how long after installation it was disabled.
_EVSE_STANDBY_W = 2.4
_EVSE_HISTORY_W = 150.0
_EVSE_USED_S = 120 * 86400.0
_INVERTER_EFFICIENCY = 0.965
_INITIAL_CHARGE = 0.5
# For the grid and battery flows before the ledger's history: the share of a
# day's load used while the sun is down, and the share imported by day anyway.
_NIGHT_LOAD_SHARE = 0.45
_DAYTIME_IMPORT_SHARE = 0.05
_DEVICE_ID_BASE = 553648384
_CHANNEL_EID_BASE = 1627390225
_CT_CHANNEL_EID_BASE = 1778385169
_ID_STEP = 256
MAX_ADDED_INVERTERS = 1000

__all__ = ["DayInfo", "LocalCalendar"]


@dataclass(frozen=True, slots=True)
class InverterSpec:
    """A microinverter's fixed properties."""

    index: int
    serial: str
    device_id: int
    channel_eid: int
    peak_w: float
    phase: int
    report_offset_s: int
    installed_epoch: float
    voltage_trim: float
    rssi: int
    issi: int


@dataclass(frozen=True, slots=True)
class PhaseConstants:
    """How one CT phase turns active power into apparent and reactive power."""

    apparent_factor: float
    apparent_floor_va: float
    lag_factor: float
    lead_factor: float


@dataclass(frozen=True, slots=True)
class CtValues:
    """Instantaneous values and lifetime counters of one CT phase or meter."""

    active_w: float
    reactive_var: float
    apparent_va: float
    power_factor: float
    voltage_v: float
    current_a: float
    frequency_hz: float
    delivered_wh: float
    received_wh: float
    apparent_vah: float
    lagging_varh: float
    leading_varh: float


@dataclass(frozen=True, slots=True)
class CtMeter:
    """A CT meter reading: per-phase values and their aggregate."""

    measurement_type: MeasurementType
    phases: tuple[CtValues, ...]
    total: CtValues


@dataclass(frozen=True, slots=True)
class InverterReport:
    """What a microinverter last reported to the gateway."""

    spec: InverterSpec
    report_time: int
    duration_s: int
    watts: int
    max_watts: int
    interval_joules: int
    lifetime_joules: int
    today_wh: int
    yesterday_wh: int
    week_wh: int
    ac_voltage_mv: int
    ac_current_ma: int
    frequency_mhz: int
    dc_voltage_mv: int
    dc_current_ma: int
    temperature_c: int
    leading_vars: int
    lagging_vars: int
    rssi: int
    issi: int


@dataclass(frozen=True, slots=True)
class InverterTotals:
    """The gateway's sums over inverter reports."""

    watts_now: int
    today_wh: int
    seven_days_wh: int
    lifetime_wh: int
    reading_time: int
    active_count: int


@dataclass(frozen=True, slots=True)
class BatteryState:
    """The battery at one instant."""

    power_w: float
    """Positive while discharging, negative while charging."""
    stored_wh: float
    percent_full: int
    state: str
    charged_wh: float
    """Energy that went in over the battery's life (the storage CT's received)."""
    discharged_wh: float
    """Energy that came out over the battery's life (the storage CT's delivered)."""
    settings: StorageSettings
    grid_on: bool
    curtailed_w: float
    unserved_w: float


class SiteSampler:
    """Sample the site's powers (solar, loads, grid, battery) at one grid point."""

    def __init__(
        self,
        profile: Profile,
        curves: SiteCurves,
        timeline: StorageTimeline,
    ) -> None:
        """Lay out the integrated quantities this site needs."""
        self.profile = profile
        self.curves = curves
        self.calendar = curves.calendar
        self.timeline = timeline
        phases = profile.phase_count
        self.phases = phases
        # The house and the grid are there whether or not a CT watches them,
        # so a CT switched on at run time reads live values at once.
        types = {meter.measurement_type for meter in profile.meters}
        self.has_battery = profile.battery_capacity_wh > 0
        self.has_loads = bool(types - {"production"}) or self.has_battery
        self.can_island = self.has_battery and profile.enpower
        self.solar = 0
        self.night = 1
        width = 2
        self.loads = list(range(width, width + phases)) if self.has_loads else []
        width += len(self.loads)
        self.imports = list(range(width, width + phases)) if self.has_loads else []
        width += len(self.imports)
        self.exports = list(range(width, width + phases)) if self.has_loads else []
        width += len(self.exports)
        self.discharge = width if self.has_battery else -1
        self.charge = width + 1 if self.has_battery else -1
        self.stored = width + 2 if self.has_battery else -1
        width += 3 if self.has_battery else 0
        self.curtail = width if self.can_island else -1
        self.unserved = width + 1 if self.can_island else -1
        width += 2 if self.can_island else 0
        self._width = width
        self.load_weights = curves.load_weights
        self.schedule = FleetSchedule(
            FleetEpoch(None, None, 0.0, tuple([0.0] * phases))
        )
        self.capacity_wh = profile.battery_capacity_wh
        self.max_power_w = profile.battery_max_w
        self.initial_stored_wh = self.capacity_wh * _INITIAL_CHARGE
        # The controller's state: the charge half a step past the last sample,
        # with the step before it. Reported charge sits half a step earlier so it
        # is exactly the trapezoid integral the CT counters are.
        self._ahead_wh = self.initial_stored_wh
        self._step_before_s = 0.0

    @property
    def width(self) -> int:
        """Return how many quantities a sample holds."""
        return self._width

    def set_schedule(self, schedule: FleetSchedule) -> None:
        """Take the array's peak power and phase split over time from ``schedule``."""
        self.schedule = schedule

    def reset(self) -> None:
        """Restart the battery from its initial charge."""
        self._ahead_wh = self.initial_stored_wh
        self._step_before_s = 0.0

    def restore(self, powers: Sequence[float], dt: float) -> None:
        """Put the battery where sampling ``powers`` and stepping ``dt`` left it."""
        if self.has_battery:
            net = powers[self.charge] * BATTERY_EFFICIENCY - powers[self.discharge]
            self._ahead_wh = powers[self.stored] + net * dt / 7200.0
            self._step_before_s = dt

    def sample(self, t: float, dt: float) -> list[float]:
        """Return every quantity's power at ``t`` and step the battery by ``dt``."""
        day = self.calendar.day(t)
        curves = self.curves
        values = [0.0] * self._width
        if dt <= STEP_S:
            # Fine points follow the scaled daily curves exactly.
            solar, day_loads = curves.day_samples(day)
            index = round((t - day.midnight) / STEP_S)
            fraction = solar[index]
            loads = [samples[index] for samples in day_loads]
        else:
            fraction, loads = curves.coarse_powers(t, day)
        values[self.solar] = fraction
        values[self.night] = 1.0 if fraction == 0.0 else 0.0
        if not self.has_loads:
            return values
        phases = self.phases
        epoch = self.schedule.sampled_at(t)
        peak_fraction = epoch.peak_total_w * fraction
        production = [share * peak_fraction for share in epoch.shares]
        for phase, index in enumerate(self.loads):
            values[index] = loads[phase]
        battery_w = 0.0
        grid_on = True
        if self.has_battery:
            settings = self.timeline.settings_at(t)
            grid_on = self.timeline.grid_on(t) if self.can_island else True
            step = self._step_battery(
                sum(production) - sum(loads), settings, grid_on, dt, values
            )
            battery_w = step.discharge_w - step.charge_w
            if self.can_island:
                peak = epoch.peak_total_w
                values[self.curtail] = step.curtailed_w / peak if peak else 0.0
                values[self.unserved] = step.unserved_w
        if not grid_on:
            # Off grid the mains relay is open: the grid CTs read nothing.
            return values
        share = battery_w / phases
        for phase in range(phases):
            net = loads[phase] - production[phase] - share
            if net >= 0.0:
                values[self.imports[phase]] = net
            else:
                values[self.exports[phase]] = -net
        return values

    def _step_battery(
        self,
        surplus_w: float,
        settings: StorageSettings,
        grid_on: bool,
        dt: float,
        values: list[float],
    ) -> BatteryStep:
        """Let the battery answer ``surplus_w`` and record its powers in ``values``.

        The power chosen now holds for half the step before and half the step
        after this point (that is what trapezoid integration gives it), so the
        limits apply over that span and the charge is never out of bounds.
        """
        before = self._step_before_s
        step = step_battery(
            stored_wh=self._ahead_wh,
            capacity_wh=self.capacity_wh,
            max_power_w=self.max_power_w,
            surplus_w=surplus_w,
            settings=settings,
            grid_on=grid_on,
            dt=(before + dt) / 2,
        )
        net = step.charge_w * BATTERY_EFFICIENCY - step.discharge_w
        values[self.stored] = self._ahead_wh + net * before / 7200.0
        values[self.charge] = step.charge_w
        values[self.discharge] = step.discharge_w
        self._ahead_wh = step.stored_after_wh
        self._step_before_s = dt
        return step


class SiteModel:
    """The whole site: CT meters, inverters and battery as seen by the gateway."""

    def __init__(
        self,
        profile: Profile,
        seed: int,
        start: float,
        *,
        history_start: float | None = None,
    ) -> None:
        """Build the site for ``profile`` with its clock starting near ``start``.

        ``history_start`` (epoch) fixes where the battery and the grid flows
        are integrated from; without it, from local midnight of the day read.
        """
        self.profile = profile
        self.seed = seed
        self.history_start = history_start
        self.calendar = LocalCalendar(profile.timezone, seed)
        self.curves = SiteCurves(profile, seed, self.calendar)
        self.timeline = StorageTimeline(profile, self.calendar)
        self.sampler = SiteSampler(profile, self.curves, self.timeline)
        self._inverter_spec_key = stream_key(seed, "inverters", profile.serial)
        self.inverters = [
            self._make_inverter(index, None) for index in range(profile.inverter_count)
        ]
        self._by_serial = {spec.serial: spec for spec in self.inverters}
        # Inverters whose production changed at run time, and when added ones joined.
        self._spans: dict[int, list[Span]] = {}
        self._joined: dict[int, float] = {}
        phases = profile.phase_count
        built = self._fleet_epoch(self.inverters, None)
        self.schedule = FleetSchedule(built)
        self.sampler.set_schedule(self.schedule)
        self.peak_total_w = built.peak_total_w
        shares = list(built.shares)
        self.production_shares = shares
        self._standby_w = [
            0.5 + 0.03 * profile.inverter_count * share for share in shares
        ]
        self._constants = self._make_constants()
        self._voltage_key = stream_key(seed, "voltage")
        self._frequency_key = stream_key(seed, "frequency")
        self._voltage_trims = [
            0.01 * (unit(self._voltage_key, 1000 + p) - 0.5) for p in range(phases)
        ]
        self._inverter_key = stream_key(seed, "inverter-reading")
        self.ledger = Ledger(self.sampler, start, origin_for=self.anchor)
        self.wrap_offsets_j: dict[int, float] = {}
        self._max_cache: dict[int, tuple[float, float, float]] = {}
        self._bases: (
            tuple[float, tuple[list[tuple[float, float]], list[tuple[float, float]]]]
            | None
        ) = None
        # Production integrals read again and again (report windows share ends);
        # only curtailment off grid ever changes them, and then this is cleared.
        self._produced_memo: dict[float, float] = {}

    def anchor(self, t: float) -> float:
        """Return where the battery and grid flows are integrated from, for a read at ``t``."""
        if self.history_start is not None and self.history_start <= t:
            return math.floor(self.history_start / STEP_S) * STEP_S
        return self.calendar.day(t).midnight

    # -- construction -------------------------------------------------------

    def _make_inverter(self, index: int, joined: float | None) -> InverterSpec:
        """Create inverter ``index`` with its slight differences.

        ``joined`` is when an inverter added at run time joined the site;
        None for those the site was built with.
        """
        profile = self.profile
        key = self._inverter_spec_key
        if joined is None:
            # A few inverters were replaced after the original install.
            replaced = unit(key, 10 * index + 5) < 0.08
            installed = profile.installed_epoch + (400 * 86400.0 if replaced else 0.0)
            installed += unit(key, 10 * index + 2) * 3600
        else:
            installed = joined
        return InverterSpec(
            index=index,
            serial=str(profile.inverter_serial_start + index),
            device_id=_DEVICE_ID_BASE + _ID_STEP * index,
            channel_eid=_CHANNEL_EID_BASE + _ID_STEP * index,
            peak_w=profile.inverter_peak_w * (0.93 + 0.09 * unit(key, 10 * index)),
            phase=index % profile.phase_count,
            report_offset_s=int(unit(key, 10 * index + 1) * REPORT_INTERVAL_S),
            installed_epoch=installed,
            voltage_trim=0.006 * (unit(key, 10 * index + 3) - 0.5),
            rssi=int(100 + 15 * unit(key, 10 * index + 4)),
            issi=int(60 + 15 * unit(key, 10 * index + 6)),
        )

    def _fleet_epoch(
        self, producing: list[InverterSpec], start: float | None
    ) -> FleetEpoch:
        """Return the epoch in which ``producing`` are the producing inverters."""
        profile = self.profile
        phases = profile.phase_count
        peak_total = sum(inv.peak_w for inv in producing)
        if profile.phase_mode == "split" or phases == 1:
            # Split-phase microinverters feed L1-L2: both legs carry the same current.
            shares = [1.0 / phases] * phases
        else:
            per_phase = [0.0] * phases
            for inv in producing:
                per_phase[inv.phase] += inv.peak_w
            shares = (
                [value / peak_total for value in per_phase]
                if peak_total
                else [0.0] * phases
            )
        return FleetEpoch(
            start=start,
            grid_start=None if start is None else grid_after(start),
            peak_total_w=peak_total,
            shares=tuple(shares),
        )

    # -- site changes -------------------------------------------------------

    def present(self, spec: InverterSpec, t: float) -> bool:
        """Return whether ``spec`` is part of the site at ``t`` (added ones join)."""
        joined = self._joined.get(spec.index)
        return joined is None or joined <= t

    def producing(self, spec: InverterSpec, t: float) -> bool:
        """Return whether ``spec`` produces (and reports) at ``t``."""
        spans = self._spans.get(spec.index)
        if spans is None:
            return True
        return any(span.holds(t) for span in spans)

    def silenced(self, t: float) -> list[str]:
        """Return the serials of the present inverters that are silent at ``t``."""
        return [
            spec.serial
            for spec in self.inverters
            if self.present(spec, t) and not self.producing(spec, t)
        ]

    def added(self, t: float) -> list[str]:
        """Return the serials of the inverters added at run time, present at ``t``."""
        return [
            spec.serial
            for spec in self.inverters
            if spec.index in self._joined and self.present(spec, t)
        ]

    def silence(self, serial: str, t: float) -> bool:
        """Stop inverter ``serial`` producing and reporting from ``t``; False if it already is."""
        spec = self._live_inverter(serial, t)
        spans = self._spans.setdefault(spec.index, [Span(None)])
        if spans[-1].end is not None:
            return False
        spans[-1].end = t
        self._changed(t, spec)
        return True

    def resume(self, serial: str, t: float) -> bool:
        """Make a silenced inverter produce and report again from ``t``; False if it does."""
        spec = self._live_inverter(serial, t)
        spans = self._spans.get(spec.index)
        if spans is None or spans[-1].end is None:
            return False
        spans.append(Span(t))
        self._changed(t, spec)
        return True

    def add_inverters(self, count: int, t: float) -> list[InverterSpec]:
        """Add ``count`` new inverters joining the site at ``t``."""
        if not 1 <= count <= MAX_ADDED_INVERTERS:
            raise ValueError(
                f"count must be between 1 and {MAX_ADDED_INVERTERS}, not {count}"
            )
        self._check_order(t)
        profile = self.profile
        # Serials go on after the present ones and those removed long ago.
        first = max(
            profile.inverter_count + profile.gone_inverters,
            self.inverters[-1].index + 1 if self.inverters else 0,
        )
        added = [self._make_inverter(first + n, t) for n in range(count)]
        for spec in added:
            self.inverters.append(spec)
            self._by_serial[spec.serial] = spec
            self._spans[spec.index] = [Span(t)]
            self._joined[spec.index] = t
        self._changed(t, *added)
        return added

    def _live_inverter(self, serial: str, t: float) -> InverterSpec:
        """Return the present inverter ``serial`` at ``t`` or raise ValueError."""
        spec = self._by_serial.get(serial)
        if spec is None or not self.present(spec, t):
            raise ValueError(f"no inverter with serial {serial!r}")
        self._check_order(t)
        return spec

    def _check_order(self, t: float) -> None:
        """Refuse a change before the latest one (the clock was set back)."""
        last = self.schedule.last_change
        if last is not None and t < last:
            raise ValueError(
                f"the clock ({t}) is before the latest site change ({last}); "
                "changes must come in time order"
            )

    def _changed(self, t: float, *specs: InverterSpec) -> None:
        """Start a fleet epoch at ``t`` and forget what the change made stale."""
        for spec in specs:
            self._max_cache.pop(spec.index, None)
        epoch = self._fleet_epoch(
            [spec for spec in self.inverters if self.producing(spec, t)], t
        )
        self.schedule.add(epoch)
        assert epoch.grid_start is not None
        self.ledger.rewind(epoch.grid_start)
        self._forget_production()

    def _make_constants(self) -> dict[MeasurementType, list[PhaseConstants]]:
        """Pick each CT phase's power-factor behaviour."""
        key = stream_key(self.seed, "ct-constants")
        ranges: dict[MeasurementType, tuple[float, float, float, float]] = {
            # apparent factor, floor VA, lagging var per W in, leading var per W out
            "production": (1.01, 12.0, 0.03, 6.0),
            "net-consumption": (1.12, 110.0, 0.3, 0.15),
            "total-consumption": (1.2, 80.0, 0.3, 0.0),
            "storage": (1.02, 6.0, 0.03, 0.04),
            "backfeed": (1.02, 4.0, 0.03, 0.04),
            "load": (1.2, 80.0, 0.3, 0.0),
            "evse": (1.05, 3.0, 0.02, 0.0),
            "pv3p": (1.01, 1.0, 0.0, 0.0),
        }
        constants: dict[MeasurementType, list[PhaseConstants]] = {}
        for number, (kind, (factor, floor, lag, lead)) in enumerate(ranges.items()):
            constants[kind] = [
                PhaseConstants(
                    apparent_factor=factor
                    * (1.0 + 0.05 * unit(key, 100 * number + phase)),
                    apparent_floor_va=floor
                    * (0.7 + 0.6 * unit(key, 100 * number + 10 + phase)),
                    lag_factor=lag * (0.7 + 0.6 * unit(key, 100 * number + 20 + phase)),
                    lead_factor=lead
                    * (0.7 + 0.6 * unit(key, 100 * number + 30 + phase)),
                )
                for phase in range(self.profile.phase_count)
            ]
        return constants

    # -- grid ---------------------------------------------------------------

    def voltage(self, phase: int, t: float) -> float:
        """Return one phase's RMS voltage (line to neutral) at ``t``."""
        nominal = self.profile.nominal_voltage_v
        slow = 0.012 * math.sin(2 * math.pi * t / 5400.0 + 2.1 * phase)
        jitter = 0.004 * (unit(self._voltage_key, int(t) * 4 + phase) - 0.5)
        return nominal * (1.0 + self._voltage_trims[phase] + slow + jitter)

    def frequency(self, t: float) -> float:
        """Return the grid frequency at ``t``."""
        frequency = self.profile.frequency_hz + 0.04 * (
            smooth_noise(self._frequency_key, t / 20.0) - 0.5
        )
        return frequency + self.frequency_bias_hz(t)

    def frequency_bias_hz(self, t: float) -> float:
        """Return how far the batteries raise the frequency off grid (to curtail solar)."""
        if not self.sampler.can_island or self.grid_on(t):
            return 0.0
        state = self.battery(t)
        assert state is not None
        # Grid-forming batteries push the frequency up as they fill, so the
        # microinverters hold back what the house cannot use.
        fullness = max(0.0, (state.percent_full - 90.0) / 10.0)
        curtailing = 0.5 if state.curtailed_w > 1.0 else 0.0
        return round(min(1.0, 0.3 * fullness + curtailing), 3)

    # -- CT meters ----------------------------------------------------------

    def _rates_and_integrals(
        self, kind: MeasurementType, phase: int, t: float
    ) -> tuple[float, float, float, float]:
        """Return delivered/received power (W) and lifetime energy (W*s) of a CT phase."""
        curves = self.curves
        if kind == "production":
            # The producing fleet can change: power steps with it and the
            # integral adds up each epoch's share, so energy stays exact.
            scale = self.schedule.at(t).phase_peak_w(phase)
            standby = self._standby_w[phase]
            return (
                scale * self.production_fraction(t),
                standby * curves.night_power(t),
                self._fleet_solar(phase, None, t),
                standby * curves.night_value(t),
            )
        if kind == "net-consumption":
            ledger = self.ledger
            sampler = self.sampler
            imports = sampler.imports[phase]
            exports = sampler.exports[phase]
            base_in, base_out = self._ledger_bases(kind, phase)
            return (
                ledger.power(imports, t),
                ledger.power(exports, t),
                base_in + ledger.value(imports, t),
                base_out + ledger.value(exports, t),
            )
        if kind in ("total-consumption", "load"):
            return self._served_load(phase, t)
        if kind == "storage":
            return self._battery_share(phase, t)
        if kind == "backfeed":
            # What the system feeds back through the collar: a small, exact
            # share of solar plus battery discharge (battery charging comes in).
            scale = self.schedule.at(t).phase_peak_w(phase)
            out_w, in_w, out_j, in_j = self._battery_share(phase, t)
            return (
                _BACKFEED_SHARE * (scale * self.production_fraction(t) + out_w),
                _BACKFEED_SHARE * in_w,
                _BACKFEED_SHARE * (self._fleet_solar(phase, None, t) + out_j),
                _BACKFEED_SHARE * in_j,
            )
        if kind == "evse":
            # Used until it was switched off, then a standby draw.
            installed = self.profile.installed_epoch
            off = installed + _EVSE_USED_S
            if t < off:
                return _EVSE_HISTORY_W, 0.0, _EVSE_HISTORY_W * (t - installed), 0.0
            used = _EVSE_HISTORY_W * _EVSE_USED_S
            return _EVSE_STANDBY_W, 0.0, used + _EVSE_STANDBY_W * (t - off), 0.0
        # pv3p: no third-party inverters on the simulated sites.
        return 0.0, 0.0, 0.0, 0.0

    def _served_load(self, phase: int, t: float) -> tuple[float, float, float, float]:
        """Return a phase's household load (W) and energy (W*s) as supplied."""
        curves = self.curves
        power = curves.load_power(phase, t)
        energy = curves.load_value(phase, t)
        sampler = self.sampler
        if sampler.can_island:
            # Load shed off grid never reaches the house: split by phase weight.
            weight = sampler.load_weights[phase]
            power -= weight * self.ledger.power(sampler.unserved, t)
            energy -= weight * self._since_history(sampler.unserved, t)
        return power, 0.0, energy, 0.0

    def _since_history(self, quantity: int, t: float) -> float:
        """Return a ledger quantity's integral from the start of its history to ``t``."""
        ledger = self.ledger
        if t <= ledger.coarse_start:
            return 0.0
        return ledger.value(quantity, t) - ledger.value(quantity, ledger.coarse_start)

    def production_fraction(self, t: float) -> float:
        """Return what the inverters produce at ``t`` as a fraction of their peak."""
        fraction = self.curves.solar_power(t)
        sampler = self.sampler
        if sampler.can_island:
            fraction -= self.ledger.power(sampler.curtail, t)
        return fraction

    def _produced(self, t: float) -> float:
        """Return production since the first day in peak-fraction seconds."""
        memo = self._produced_memo
        value = memo.get(t)
        if value is not None:
            return value
        value = self.curves.solar_value(t)
        sampler = self.sampler
        if sampler.can_island:
            value -= self._since_history(sampler.curtail, t)
        if len(memo) > 20000:
            memo.clear()
        memo[t] = value
        return value

    def _battery_share(self, phase: int, t: float) -> tuple[float, float, float, float]:
        """Return one phase's share of battery discharge/charge power and energy."""
        sampler = self.sampler
        if not sampler.has_battery:
            return 0.0, 0.0, 0.0, 0.0
        ledger = self.ledger
        share = 1.0 / self.profile.phase_count
        base_out, base_in = self._ledger_bases("storage", phase)
        return (
            share * ledger.power(sampler.discharge, t),
            share * ledger.power(sampler.charge, t),
            base_out + share * ledger.value(sampler.discharge, t),
            base_in + share * ledger.value(sampler.charge, t),
        )

    def _ledger_bases(self, kind: MeasurementType, phase: int) -> tuple[float, float]:
        """Return a ledger-integrated CT phase's lifetime energy at the ledger's origin (W*s).

        ``net-consumption``: (import, export); ``storage``: (discharge, charge).
        """
        origin = self.ledger.origin
        cached = self._bases
        if cached is None or cached[0] != origin:
            cached = (origin, self._estimate_bases(origin))
            self._bases = cached
        net, storage = cached[1]
        return storage[phase] if kind == "storage" else net[phase]

    def _estimate_bases(
        self, origin: float
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Estimate what the grid and battery flows added up to before ``origin``.

        The ledger integrates them from its origin only (they depend on the
        battery's history), so their lifetimes before it are day-by-day
        estimates from each day's sun and load. Import less export is made
        exact (the house's load less solar less the battery), so consumption
        counted from the CTs is the same whenever a simulator started.
        """
        profile = self.profile
        curves = self.curves
        phases = profile.phase_count
        day = self.calendar.day(origin)
        imported = discharged = 0.0
        for ordinal in range(curves.first_ordinal, day.ordinal):
            day_import, day_discharge = self._daily_flows(ordinal)
            imported += day_import
            discharged += day_discharge
        part = (origin - day.midnight) / (day.next_midnight - day.midnight)
        day_import, day_discharge = self._daily_flows(day.ordinal)
        imported += part * day_import
        discharged += part * day_discharge
        charged = discharged / BATTERY_EFFICIENCY
        storage = [(discharged / phases, charged / phases)] * phases
        net = []
        for phase in range(phases):
            phase_import = self.sampler.load_weights[phase] * imported
            balance = (
                curves.load_value(phase, origin)
                - self._fleet_solar(phase, None, origin)
                - (discharged - charged) / phases
            )
            net.append((phase_import, max(0.0, phase_import - balance)))
        return net, storage

    def _daily_flows(self, ordinal: int) -> tuple[float, float]:
        """Return a day's estimated grid import and battery discharge, site totals (J)."""
        profile = self.profile
        curves = self.curves
        solar = self.peak_total_w * curves.solar_target(ordinal)
        load = sum(curves.load_target(p, ordinal) for p in range(profile.phase_count))
        # Night takes a good share of the load; a battery shifts what it can of
        # the day's surplus into it.
        night = _NIGHT_LOAD_SHARE * load
        discharge = 0.0
        if self.sampler.has_battery:
            usable = (
                profile.battery_capacity_wh
                * 3600.0
                * (1.0 - profile.storage.reserve_pct / 100.0)
            )
            surplus = max(0.0, solar - (load - night))
            discharge = min(usable, night, BATTERY_EFFICIENCY * surplus)
        return night - discharge + _DAYTIME_IMPORT_SHARE * load, discharge

    def ct_phase(self, kind: MeasurementType, phase: int, t: float) -> CtValues:
        """Return one CT phase's values at ``t``."""
        delivered_w, received_w, delivered_j, received_j = self._rates_and_integrals(
            kind, phase, t
        )
        constants = self._constants[kind][phase]
        factor = constants.apparent_factor
        floor = constants.apparent_floor_va
        active = delivered_w - received_w
        apparent = factor * (delivered_w + received_w) + floor
        reactive = (
            constants.lag_factor * delivered_w - constants.lead_factor * received_w
        )
        voltage = self.voltage(phase, t)
        delivered_wh = delivered_j / 3600.0
        received_wh = received_j / 3600.0
        return CtValues(
            active_w=active,
            reactive_var=reactive,
            apparent_va=apparent,
            power_factor=active / apparent,
            voltage_v=voltage,
            current_a=apparent / voltage,
            frequency_hz=self.frequency(t),
            delivered_wh=delivered_wh,
            received_wh=received_wh,
            apparent_vah=factor * (delivered_wh + received_wh)
            + floor * (t - self.profile.installed_epoch) / 3600.0,
            lagging_varh=constants.lag_factor * delivered_wh,
            leading_varh=constants.lead_factor * received_wh,
        )

    def ct_meter(self, kind: MeasurementType, t: float) -> CtMeter:
        """Return a CT meter's per-phase values and aggregate at ``t``."""
        phases = tuple(
            self.ct_phase(kind, phase, t) for phase in range(self.profile.phase_count)
        )
        return CtMeter(measurement_type=kind, phases=phases, total=aggregate(phases))

    # -- inverters ----------------------------------------------------------

    def last_report_time(self, spec: InverterSpec, t: float) -> int:
        """Return when ``spec`` last reported: every 5 min while it produces, frozen at night."""
        return self.report_window(spec, t)[0]

    def report_window(self, spec: InverterSpec, t: float) -> tuple[int, float]:
        """Return when ``spec`` last reported as of ``t`` and since when that report counts.

        A report normally covers the 5 minutes before it. The first one after
        the inverter joined or resumed covers only the time since; a joining
        inverter reports (nothing yet) the moment it joins. A silenced one
        keeps its last report. ``spec`` must be present at ``t``.
        """
        spans = self._spans.get(spec.index)
        if spans is None:
            report_time = self._stagger_report_time(spec, t)
            return report_time, report_time - REPORT_INTERVAL_S
        for span in reversed(spans):
            if span.start is not None and span.start > t:
                continue
            report_time = self._stagger_report_time(
                spec, t if span.end is None else min(span.end, t)
            )
            if span.start is None:
                return report_time, report_time - REPORT_INTERVAL_S
            if report_time > span.start:
                return report_time, max(report_time - REPORT_INTERVAL_S, span.start)
            if span is spans[0]:
                joined = math.floor(span.start)
                return joined, joined
        raise ValueError(f"inverter {spec.serial} is not part of the site at {t}")

    def _stagger_report_time(self, spec: InverterSpec, t: float) -> int:
        """Return the latest of ``spec``'s 5-minute report slots by ``t`` (frozen at night)."""
        offset = spec.report_offset_s
        day = self.calendar.day(t)
        boundary = (
            math.floor((t - offset) / REPORT_INTERVAL_S) * REPORT_INTERVAL_S + offset
        )
        if day.sunrise < boundary and boundary - REPORT_INTERVAL_S < day.sunset:
            return boundary
        if boundary - REPORT_INTERVAL_S >= day.sunset:
            sunset = day.sunset
        else:
            sunset = self.calendar.by_ordinal(day.ordinal - 1).sunset
        return (
            math.ceil((sunset - offset) / REPORT_INTERVAL_S) * REPORT_INTERVAL_S
            + offset
        )

    def _solar(self, spans: list[Span] | None, lo: float | None, hi: float) -> float:
        """Return production over the part of ``(lo, hi]`` ``spans`` produce in.

        ``spans`` None means always producing; ``lo`` None means from the
        first day. In peak-fraction seconds: multiply by an inverter's peak
        power for joules.
        """
        produced = self._produced
        if lo is not None and lo >= hi:
            return 0.0
        if spans is None:
            if lo is None:
                return produced(hi)
            return produced(hi) - produced(lo)
        total = 0.0
        for a, b in span_pieces(spans, lo, hi):
            if a is None:
                total += produced(b)
            else:
                total += produced(b) - produced(a)
        return total

    def _fleet_solar(self, phase: int | None, lo: float | None, hi: float) -> float:
        """Return the producing fleet's energy over ``(lo, hi]`` (W*s), of one phase or all.

        ``lo`` None means from the first day, as for a CT's lifetime.
        """
        produced = self._produced
        total: float | None = None
        for epoch, a, b in self.schedule.pieces(lo, hi):
            scale = epoch.peak_total_w if phase is None else epoch.phase_peak_w(phase)
            if a is None:
                part = scale * produced(b)
            else:
                part = scale * (produced(b) - produced(a))
            total = part if total is None else total + part
        return 0.0 if total is None else total

    def true_lifetime_joules(self, spec: InverterSpec, t: float) -> float:
        """Return the inverter's unwrapped lifetime production at ``t`` (J).

        One installed after ``t`` (a later replacement) has made nothing yet.
        """
        produced = spec.peak_w * self._solar(
            self._spans.get(spec.index), spec.installed_epoch, t
        )
        return produced + self.wrap_offsets_j.get(spec.index, 0.0)

    def _interval_watts(self, spec: InverterSpec, end: float) -> float | None:
        """Return the average power of a report at slot ``end`` (None: no report then)."""
        spans = self._spans.get(spec.index)
        if spans is None:
            since = end - REPORT_INTERVAL_S
            if self.sampler.can_island:
                joules = spec.peak_w * self._solar(None, since, end)
            else:
                joules = spec.peak_w * self.curves.solar_between(since, end)
            return joules / REPORT_INTERVAL_S
        for span in spans:
            if (span.start is None or span.start < end) and (
                span.end is None or end <= span.end
            ):
                since = end - REPORT_INTERVAL_S
                if span.start is not None:
                    since = max(since, span.start)
                joules = spec.peak_w * self._solar(None, since, end)
                return joules / (end - since)
        return None

    def _max_today(self, spec: InverterSpec, report_time: float, day: DayInfo) -> int:
        """Return the highest report of the local day up to ``report_time``."""
        if report_time <= day.midnight:
            return 0
        cached = self._max_cache.get(spec.index)
        offset = spec.report_offset_s
        first = (
            math.ceil((day.sunrise + 1 - offset) / REPORT_INTERVAL_S)
            * REPORT_INTERVAL_S
            + offset
        )
        if cached is None or cached[0] != day.midnight or cached[1] > report_time:
            scanned, best = float(first - REPORT_INTERVAL_S), 0.0
        else:
            scanned, best = cached[1], cached[2]
        boundary = scanned + REPORT_INTERVAL_S
        while boundary <= report_time:
            watts = self._interval_watts(spec, boundary)
            if watts is not None:
                best = max(best, watts)
            scanned = boundary
            boundary += REPORT_INTERVAL_S
        self._max_cache[spec.index] = (day.midnight, scanned, best)
        return round(best)

    def inverter_report(self, spec: InverterSpec, t: float) -> InverterReport:
        """Return the inverter's latest report as of ``t``."""
        spans = self._spans.get(spec.index)
        report_time, since = self.report_window(spec, t)
        duration = report_time - since
        day = self.calendar.day(t)
        yesterday = self.calendar.by_ordinal(day.ordinal - 1)
        week_start = self.calendar.by_ordinal(day.ordinal - 6)
        interval = spec.peak_w * self._solar(None, since, report_time)
        watts = interval / duration if duration > 0 else 0.0
        today_j = (
            spec.peak_w * max(0.0, self._solar(spans, day.midnight, report_time))
            if report_time > day.midnight
            else 0.0
        )
        yesterday_j = spec.peak_w * self._solar(spans, yesterday.midnight, day.midnight)
        earlier_j = spec.peak_w * self._solar(spans, week_start.midnight, day.midnight)
        lifetime = self.true_lifetime_joules(spec, report_time)
        key = self._inverter_key
        noise_index = int(report_time) * 131 + spec.index
        load = watts / spec.peak_w
        hour = (report_time - self.calendar.day(report_time).midnight) / 3600.0
        ambient = 14.0 + 8.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        temperature = ambient + 24.0 * load + 2.0 * unit(key, noise_index)
        ac_voltage = self._inverter_voltage(spec, report_time)
        dc_voltage = (
            38.5
            * (1 - 0.0035 * (temperature + 8.0 - 25.0))
            * (0.94 + 0.04 * unit(key, noise_index + 1))
        )
        lagging = int(0.08 * watts + 25 + 10 * unit(key, noise_index + 2))
        leading_draw = unit(key, noise_index + 3)
        # Unsigned 32-bit fields carry small negatives now and then, as on real devices.
        leading = (
            JOULE_WRAP - 1 - int(6 * leading_draw)
            if leading_draw < 0.06
            else int(4 * leading_draw)
        )
        return InverterReport(
            spec=spec,
            report_time=int(report_time),
            duration_s=round(duration),
            watts=round(watts),
            max_watts=max(
                self._max_today(spec, report_time, day),
                round(watts) if report_time > day.midnight else 0,
            ),
            interval_joules=round(interval),
            lifetime_joules=int(lifetime) % JOULE_WRAP,
            today_wh=round(today_j / 3600.0),
            yesterday_wh=round(yesterday_j / 3600.0),
            week_wh=round((earlier_j + today_j) / 3600.0),
            ac_voltage_mv=round(ac_voltage * 1000),
            ac_current_ma=round(watts / ac_voltage * 1000),
            frequency_mhz=round(self.frequency(report_time) * 1000),
            dc_voltage_mv=round(dc_voltage * 1000),
            dc_current_ma=round(watts / _INVERTER_EFFICIENCY / dc_voltage * 1000),
            temperature_c=round(temperature),
            leading_vars=leading,
            lagging_vars=lagging,
            rssi=spec.rssi + int(3 * unit(key, noise_index + 4)),
            issi=spec.issi + int(3 * unit(key, noise_index + 5)),
        )

    def _inverter_voltage(self, spec: InverterSpec, t: float) -> float:
        """Return the AC voltage an inverter measures at its terminals."""
        if self.profile.phase_mode == "split" and self.profile.phase_count == 2:
            line = self.voltage(0, t) + self.voltage(1, t)
        else:
            line = self.voltage(spec.phase, t)
        return line * (1.0 + spec.voltage_trim)

    def inverter_reports(self, t: float) -> list[InverterReport]:
        """Return the latest report of every inverter present at ``t``."""
        return [
            self.inverter_report(spec, t)
            for spec in self.inverters
            if self.present(spec, t)
        ]

    def inverter_totals(
        self, reports: list[InverterReport], t: float
    ) -> InverterTotals:
        """Return the gateway's sums over the inverter reports."""
        day = self.calendar.day(t)
        week_ago = self.calendar.by_ordinal(day.ordinal - 7)
        seven_days_j = self._fleet_solar(None, week_ago.midnight, day.midnight)
        recent = [r for r in reports if r.report_time >= t - 2 * REPORT_INTERVAL_S]
        return InverterTotals(
            watts_now=sum(r.watts for r in recent),
            today_wh=sum(r.today_wh for r in reports),
            seven_days_wh=round(seven_days_j / 3600.0),
            lifetime_wh=sum(r.lifetime_joules // 3600 for r in reports),
            reading_time=max((r.report_time for r in reports), default=int(t)),
            active_count=len(reports),
        )

    def energy_since_wh(self, reports: list[InverterReport], since: float) -> int:
        """Return what ``reports``' inverters produced since ``since`` (a counter restarted then)."""
        total_j = 0.0
        for report in reports:
            spec = report.spec
            total_j += spec.peak_w * self._solar(
                self._spans.get(spec.index),
                max(spec.installed_epoch, since),
                report.report_time,
            )
        return int(total_j / 3600.0)

    def is_night(self, t: float) -> bool:
        """Return whether the sun is down at ``t``."""
        day = self.calendar.day(t)
        return t <= day.sunrise or t >= day.sunset

    def push_to_wrap(
        self, serials: set[str] | None, t: float, *, immediate: bool = False
    ) -> list[str]:
        """Move inverters' lifetime counters next to the 32-bit wrap; return their serials."""
        moved: list[str] = []
        for spec in self.inverters:
            if not self.present(spec, t) or (
                serials is not None and spec.serial not in serials
            ):
                continue
            total = self.true_lifetime_joules(spec, self.last_report_time(spec, t))
            if immediate:
                target = math.ceil(total / JOULE_WRAP) * JOULE_WRAP + 200.0
            else:
                margin = 500.0
                target = math.ceil((total + margin) / JOULE_WRAP) * JOULE_WRAP - margin
            self.wrap_offsets_j[spec.index] = self.wrap_offsets_j.get(
                spec.index, 0.0
            ) + (target - total)
            moved.append(spec.serial)
        return moved

    # -- battery ------------------------------------------------------------

    def battery(self, t: float) -> BatteryState | None:
        """Return the battery's state at ``t`` (None without a battery)."""
        sampler = self.sampler
        if not sampler.has_battery:
            return None
        ledger = self.ledger
        discharge = ledger.power(sampler.discharge, t)
        charge = ledger.power(sampler.charge, t)
        # Sampled charge is exact on the grid; in between, add the integrals.
        if t < ledger.origin:
            point = (
                ledger.coarse_start
                + math.floor((t - ledger.coarse_start) / COARSE_STEP_S) * COARSE_STEP_S
            )
        else:
            point = math.floor(t / STEP_S) * STEP_S
        stored = (
            ledger.power(sampler.stored, point)
            + (
                BATTERY_EFFICIENCY
                * (
                    ledger.value(sampler.charge, t)
                    - ledger.value(sampler.charge, point)
                )
                - (
                    ledger.value(sampler.discharge, t)
                    - ledger.value(sampler.discharge, point)
                )
            )
            / 3600.0
        )
        if charge > 5.0:
            state = "charging"
        elif discharge > 5.0:
            state = "discharging"
        else:
            state = "idle"
        base_out, base_in = self._ledger_bases("storage", 0)
        phases = self.profile.phase_count
        grid_t = _in_force(t)
        island = sampler.can_island
        return BatteryState(
            power_w=discharge - charge,
            stored_wh=stored,
            percent_full=round(100.0 * stored / self.profile.battery_capacity_wh),
            state=state,
            charged_wh=(phases * base_in + ledger.value(sampler.charge, t)) / 3600.0,
            discharged_wh=(phases * base_out + ledger.value(sampler.discharge, t))
            / 3600.0,
            settings=self.timeline.settings_at(grid_t),
            grid_on=self.timeline.grid_on(grid_t) if island else True,
            curtailed_w=self.peak_total_w * ledger.power(sampler.curtail, t)
            if island
            else 0.0,
            unserved_w=ledger.power(sampler.unserved, t) if island else 0.0,
        )

    def site_counters(self, t: float) -> SiteCounters:
        """Return the site's lifetime production, consumption, grid and battery energy at ``t``.

        Each is what the gateway's own counter reads where it has one (the
        production, net, storage or load CT; the inverters without a
        production CT) and the model's true value otherwise.
        """
        profile = self.profile
        if "production" in profile.enabled_meter_types:
            production = self.ct_meter("production", t).total.delivered_wh
        else:
            production = (
                sum(
                    self.true_lifetime_joules(spec, t)
                    - self.wrap_offsets_j.get(spec.index, 0.0)
                    for spec in self.inverters
                    if self.present(spec, t)
                )
                / 3600.0
            )
        battery = self.battery(t)
        charged = battery.charged_wh if battery is not None else None
        discharged = battery.discharged_wh if battery is not None else None
        if not self.sampler.has_loads:
            return SiteCounters(t, production, None, None, None, charged, discharged)
        grid = self.ct_meter("net-consumption", t).total
        kinds = {meter.measurement_type for meter in profile.meters}
        load_kind = next((k for k in ("total-consumption", "load") if k in kinds), None)
        if load_kind is not None:
            consumption = self.ct_meter(load_kind, t).total.delivered_wh
        else:
            # What the house used, as the gateway adds it up: production (less
            # the inverters' standby draw) plus grid import less export plus
            # what the battery gave less what it took.
            made = self.ct_meter("production", t).total
            consumption = (
                made.delivered_wh
                - made.received_wh
                + grid.delivered_wh
                - grid.received_wh
                + (discharged or 0.0)
                - (charged or 0.0)
            )
        return SiteCounters(
            t,
            production,
            consumption,
            grid.delivered_wh,
            grid.received_wh,
            charged,
            discharged,
        )

    def grid_on(self, t: float) -> bool:
        """Return whether the site is connected to the grid at ``t``."""
        if not self.sampler.can_island:
            return True
        return self.timeline.grid_on(_in_force(t))

    def storage_changed(self, t: float) -> None:
        """Resample the battery and grid flows after the storage settings changed at ``t``."""
        self.ledger.rewind(grid_after(t))
        self._forget_production()

    def _forget_production(self) -> None:
        """Forget cached production that off-grid curtailment may have changed."""
        if self.sampler.can_island:
            self._produced_memo.clear()
            self._max_cache.clear()


@dataclass(frozen=True, slots=True)
class SiteCounters:
    """The site's lifetime energy at one instant (Wh); None where the site has no such flow."""

    time: float
    production_wh: float
    consumption_wh: float | None
    grid_import_wh: float | None
    grid_export_wh: float | None
    battery_charge_wh: float | None
    battery_discharge_wh: float | None

    def as_dict(self) -> dict[str, float | None]:
        """Return the counters as plain data (``start``: the instant)."""
        return {
            "start": self.time,
            "production_wh": self.production_wh,
            "consumption_wh": self.consumption_wh,
            "grid_import_wh": self.grid_import_wh,
            "grid_export_wh": self.grid_export_wh,
            "battery_charge_wh": self.battery_charge_wh,
            "battery_discharge_wh": self.battery_discharge_wh,
        }


def _in_force(t: float) -> float:
    """Return the instant whose sampled settings a reading at ``t`` reports.

    A change at ``t`` is sampled from the grid point after ``grid_after(t)``;
    reports show it at once.
    """
    return grid_after(t) + STEP_S / 2


def aggregate(phases: tuple[CtValues, ...]) -> CtValues:
    """Combine CT phases the way the gateway does (voltage is the SUM of phases)."""
    active = sum(p.active_w for p in phases)
    apparent = sum(p.apparent_va for p in phases)
    return CtValues(
        active_w=active,
        reactive_var=sum(p.reactive_var for p in phases),
        apparent_va=apparent,
        power_factor=active / apparent if apparent else 0.0,
        voltage_v=sum(p.voltage_v for p in phases),
        current_a=sum(p.current_a for p in phases),
        frequency_hz=sum(p.frequency_hz for p in phases) / len(phases),
        delivered_wh=sum(p.delivered_wh for p in phases),
        received_wh=sum(p.received_wh for p in phases),
        apparent_vah=sum(p.apparent_vah for p in phases),
        lagging_varh=sum(p.lagging_varh for p in phases),
        leading_varh=sum(p.leading_varh for p in phases),
    )
