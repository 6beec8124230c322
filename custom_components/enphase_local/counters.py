"""Energy counters the Energy dashboard can trust: pure, clock-driven state.

The gateway's counters misbehave in ways that have corrupted many Energy
dashboards: per-inverter 32-bit joule counters wrap (a total drops by about
1.193 MWh), lifetime values read 0 or stale for a while after a reboot, and a
counter may jump. Nothing here does I/O or knows Home Assistant: the
bookkeeping module feeds readings in and persists the state.

- ``LifetimeTracker`` guards one raw counter of the gateway.
- ``CarriedTotal`` is a published total: it takes the growth of whichever
  source is trusted now, so a change of source never moves it.
- ``BalanceTotal`` adds up a balance of other totals (house consumption) and
  carries a temporary deficit forward instead of dipping.
- ``SplitIntegrator`` splits a signed balance into its two directions (grid
  import and export on sites without a grid CT).
- ``PowerIntegrator`` integrates a signed power over time (battery charge
  and discharge without a storage CT).
- ``DailyTracker`` derives energy since local midnight from a total.
"""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
import math
from typing import Any, Self

WRAP_WH = 2**32 / 3600
"""An inverter's lifetime counter wraps at 2**32 J: about 1,193,046.47 Wh."""

MAX_WRAPS_PER_READING = 8
"""Several inverters of one site can wrap between two polls."""

MAX_COUNTER_WH = 1e11
"""100 GWh: above any counter of a residential or small commercial site."""

JITTER_WH = 0.5
"""CT counters are floats; a drop this small is rounding, not a glitch."""

MIN_SLACK_WH = 5.0
"""Allowed on top of power x time, for counters that only update per report."""

RESET_CONFIRMATIONS = 5
RESET_CONFIRM_SECONDS = 15 * 60
"""A lower counter must persist this long before it is taken as a real reset."""

JUMP_CONFIRMATIONS = 3
JUMP_CONFIRM_SECONDS = 10 * 60
"""An implausible rise must persist this long before it is believed."""

MAX_INTEGRATION_GAP_S = 300.0
"""A power seen longer ago than this says nothing about the time since."""

LEGACY_CATCH_UP_WH = 100_000.0
"""A total saved by release 0.1.0 has no source: the first source that is
ahead of it by at most this much is the counter it copied, so it catches up
(the time Home Assistant was down) instead of losing that energy."""


class EnergyEvent(StrEnum):
    """Something the tracker corrected or held, worth one log line."""

    WRAP_CORRECTED = "wrap_corrected"
    DROP_HELD = "drop_held"
    RESET_ACCEPTED = "reset_accepted"
    JUMP_HELD = "jump_held"
    JUMP_ACCEPTED = "jump_accepted"
    INVALID = "invalid"


HELD_EVENTS = frozenset({EnergyEvent.DROP_HELD, EnergyEvent.JUMP_HELD})
"""Events that last while the counter is held, and end in a recovery."""


def finite_number(raw: object) -> float | None:
    """Return a finite float within counter range, or None for anything else."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    if not math.isfinite(value) or abs(value) > MAX_COUNTER_WH:
        return None
    return value


def _stored_number(stored: dict[str, Any], key: str) -> float | None:
    """Return a saved number, None when absent or damaged."""
    return finite_number(stored.get(key))


@dataclass(slots=True)
class LifetimeTracker:
    """Turn a raw lifetime counter into a non-negative, never-decreasing total.

    The presented value is ``raw + offset_wh``. A wrap adds to the offset; a
    real reset (the counter restarting lower and staying there) re-bases the
    offset so the total carries on, counting what the counter made since.
    """

    wraps: bool
    """True for counters built from 32-bit inverter joules."""
    max_power_w: float
    """Above this average rate a rise is implausible."""
    value_wh: float | None = None
    last_raw_wh: float | None = None
    offset_wh: float = 0.0
    last_accepted: float | None = None
    """Clock (epoch seconds) when the raw counter last moved: an unchanged
    reading must not shrink the time a real rise is judged against."""
    pending_raw_wh: float | None = None
    pending_base_wh: float | None = None
    """Where a candidate reset started counting from."""
    pending_since: float | None = None
    pending_count: int = 0
    pending_kind: str | None = None
    zero_seen: bool = False
    """A zero came before the current drop: the counter restarted from 0."""

    def update(self, raw: object, now: float) -> EnergyEvent | None:
        """Feed one raw reading; return what was corrected or held, if anything."""
        reading = finite_number(raw)
        if reading is None or reading < 0:
            return EnergyEvent.INVALID if raw is not None else None
        if self.last_raw_wh is None:
            if reading == 0:
                # A rebooting gateway says 0 too: believe a first zero only
                # once it has lasted, as a counter that never counted does.
                self._hold_first_zero(now)
                return None
            self._accept(reading, now)
            return None

        delta = reading - self.last_raw_wh
        allowed = self._allowed_rise(now)
        if delta >= 0:
            if delta <= allowed:
                self._accept(reading, now)
                return None
            return self._hold_jump(reading, now)
        if -delta <= JITTER_WH:
            return None
        if self.wraps:
            for wraps in range(1, MAX_WRAPS_PER_READING + 1):
                corrected = delta + wraps * WRAP_WH
                if 0 <= corrected <= allowed + JITTER_WH:
                    self.offset_wh += wraps * WRAP_WH
                    self._accept(reading, now)
                    return EnergyEvent.WRAP_CORRECTED
        return self._hold_drop(reading, now)

    @property
    def held(self) -> bool:
        """Return True while a drop, a zero or a jump is being doubted."""
        return self.zero_seen or self.pending_kind in ("drop", "jump")

    def _allowed_rise(self, now: float) -> float:
        """Return the largest believable rise since the counter last moved."""
        elapsed = 0.0 if self.last_accepted is None else now - self.last_accepted
        return max(elapsed, 0.0) / 3600 * self.max_power_w + MIN_SLACK_WH

    def _accept(self, reading: float, now: float) -> None:
        """Take ``reading`` as the counter's true state."""
        candidate = reading + self.offset_wh
        if self.value_wh is not None and candidate < self.value_wh:
            # Only reachable on a re-base: never let the total go down.
            self.offset_wh += self.value_wh - candidate
            candidate = self.value_wh
        if self.last_raw_wh is None or reading != self.last_raw_wh:
            self.last_accepted = now
        self.value_wh = candidate
        self.last_raw_wh = reading
        self.zero_seen = False
        self._clear_pending()

    def _clear_pending(self) -> None:
        """Forget a candidate reset or jump."""
        self.pending_raw_wh = None
        self.pending_base_wh = None
        self.pending_since = None
        self.pending_count = 0
        self.pending_kind = None

    def _follows_pending(self, reading: float, kind: str) -> bool:
        """Return True when ``reading`` continues the candidate counter."""
        return (
            self.pending_kind == kind
            and self.pending_raw_wh is not None
            and reading >= self.pending_raw_wh - JITTER_WH
        )

    def _hold_drop(self, reading: float, now: float) -> EnergyEvent:
        """Hold the total on a drop; accept it once it persists as a reset."""
        if reading == 0:
            # A zero is a glitch until the counter visibly counts again.
            self.zero_seen = True
            return EnergyEvent.DROP_HELD
        if not self._follows_pending(reading, "drop"):
            self._start_pending(reading, now, "drop")
            self.pending_base_wh = 0.0 if self.zero_seen else reading
            return EnergyEvent.DROP_HELD
        self.pending_count += 1
        self.pending_raw_wh = reading
        assert self.pending_since is not None
        if (
            self.pending_count >= RESET_CONFIRMATIONS
            and now - self.pending_since >= RESET_CONFIRM_SECONDS
        ):
            # Carry on from the held total plus what the restarted counter
            # made while it was doubted.
            assert self.value_wh is not None
            base = self.pending_base_wh if self.pending_base_wh is not None else reading
            self.offset_wh = self.value_wh - base
            self._accept(reading, now)
            return EnergyEvent.RESET_ACCEPTED
        return EnergyEvent.DROP_HELD

    def _hold_first_zero(self, now: float) -> None:
        """Start the total at 0 once zeros have persisted like a real reset."""
        if self.pending_kind != "zero":
            self._start_pending(0.0, now, "zero")
            return
        self.pending_count += 1
        assert self.pending_since is not None
        if (
            self.pending_count >= RESET_CONFIRMATIONS
            and now - self.pending_since >= RESET_CONFIRM_SECONDS
        ):
            self._accept(0.0, now)

    def _hold_jump(self, reading: float, now: float) -> EnergyEvent:
        """Hold the total on an implausible rise; believe it once it persists."""
        if not self._follows_pending(reading, "jump"):
            self._start_pending(reading, now, "jump")
            return EnergyEvent.JUMP_HELD
        self.pending_count += 1
        self.pending_raw_wh = reading
        assert self.pending_since is not None
        if (
            self.pending_count >= JUMP_CONFIRMATIONS
            and now - self.pending_since >= JUMP_CONFIRM_SECONDS
        ):
            self._accept(reading, now)
            return EnergyEvent.JUMP_ACCEPTED
        return EnergyEvent.JUMP_HELD

    def _start_pending(self, reading: float, now: float, kind: str) -> None:
        """Remember ``reading`` as a candidate new state of the counter."""
        self.pending_raw_wh = reading
        self.pending_base_wh = None
        self.pending_since = now
        self.pending_count = 1
        self.pending_kind = kind

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {
            "value_wh": self.value_wh,
            "last_raw_wh": self.last_raw_wh,
            "offset_wh": self.offset_wh,
            "last_accepted": self.last_accepted,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        value = _stored_number(stored, "value_wh")
        last_raw = _stored_number(stored, "last_raw_wh")
        offset = _stored_number(stored, "offset_wh")
        if value is None or last_raw is None or offset is None or value < 0:
            return
        self.value_wh = value
        self.last_raw_wh = last_raw
        self.offset_wh = offset
        self.last_accepted = _stored_number(stored, "last_accepted")


@dataclass(slots=True)
class CarriedTotal:
    """A published total that follows the growth of its current source.

    The first source sets the starting value (the gateway's own lifetime).
    When the trusted source changes (a CT enabled or disabled, a firmware
    change, a source decision revisited) the total carries on from where it
    was: the new source only adds what it grows by from then on.
    """

    value_wh: float | None = None
    source: str | None = None
    source_wh: float | None = None

    def update(self, source: str, source_wh: float | None) -> float:
        """Follow ``source`` reading ``source_wh``; return how much the total grew."""
        if source_wh is None:
            return 0.0
        if self.value_wh is None:
            self.value_wh = max(source_wh, 0.0)
            self.source = source
            self.source_wh = source_wh
            return 0.0
        if self.source is None and self.source_wh is None:
            # Saved by release 0.1.0, without its source.
            self.source = source
            self.source_wh = source_wh
            growth = source_wh - self.value_wh
            if 0 < growth <= LEGACY_CATCH_UP_WH:
                self.value_wh = source_wh
                return growth
            return 0.0
        if source != self.source or self.source_wh is None:
            self.source = source
            self.source_wh = source_wh
            return 0.0
        growth = source_wh - self.source_wh
        self.source_wh = source_wh
        if growth <= 0:
            # Sources come guarded; a lower reading is a re-base, not energy.
            return 0.0
        self.value_wh += growth
        return growth

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {
            "value_wh": self.value_wh,
            "source": self.source,
            "source_wh": self.source_wh,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        value = _stored_number(stored, "value_wh")
        if value is None or value < 0:
            return
        self.value_wh = value
        source = stored.get("source")
        self.source = source if isinstance(source, str) else None
        self.source_wh = _stored_number(stored, "source_wh")


@dataclass(slots=True)
class BalanceTotal:
    """A total made of the growth of other totals, e.g. production + import - export.

    Its parts arrive on different polls: a negative step (export counted
    before the production that fed it) is carried forward as a deficit and
    taken from later growth, so the total never dips and loses nothing.
    """

    value_wh: float | None = None
    deficit_wh: float = 0.0

    def start(self, value_wh: float) -> None:
        """Start from ``value_wh`` the first time the balance is known."""
        if self.value_wh is None:
            self.value_wh = max(value_wh, 0.0)

    def add(self, growth_wh: float) -> None:
        """Add one step of the balance (may be negative)."""
        if self.value_wh is None:
            return
        net = self.deficit_wh + growth_wh
        if net >= 0:
            self.value_wh += net
            self.deficit_wh = 0.0
        else:
            self.deficit_wh = net

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {"value_wh": self.value_wh, "deficit_wh": self.deficit_wh}

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        value = _stored_number(stored, "value_wh")
        if value is None or value < 0:
            return
        self.value_wh = value
        deficit = _stored_number(stored, "deficit_wh")
        self.deficit_wh = min(deficit, 0.0) if deficit is not None else 0.0


@dataclass(slots=True)
class SplitIntegrator:
    """Split the growth of a signed balance into its two directions.

    A site with a total-consumption CT but no grid CT imports what the house
    uses beyond what the site produces, and exports the rest: each step of
    (consumption - production) goes to import when positive, export when
    negative.
    """

    positive_wh: float = 0.0
    negative_wh: float = 0.0

    def add(self, balance_wh: float) -> None:
        """Attribute one step of the balance."""
        if balance_wh > 0:
            self.positive_wh += balance_wh
        else:
            self.negative_wh -= balance_wh

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {"import_wh": self.positive_wh, "export_wh": self.negative_wh}

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        positive = _stored_number(stored, "import_wh")
        negative = _stored_number(stored, "export_wh")
        if positive is None or negative is None or min(positive, negative) < 0:
            return
        self.positive_wh = positive
        self.negative_wh = negative


@dataclass(slots=True)
class PowerIntegrator:
    """Integrate a signed power over time into energy per direction.

    Between two readings the power is taken to change linearly (a trapezoid),
    split where it crosses zero. A gap longer than ``MAX_INTEGRATION_GAP_S``
    (an outage) is not integrated: nothing is known about it.
    """

    positive_wh: float = 0.0
    negative_wh: float = 0.0
    last_power_w: float | None = None
    last_time: float | None = None

    def update(self, power_w: float | None, now: float) -> None:
        """Add the energy since the previous reading."""
        if power_w is None or not math.isfinite(power_w):
            return
        previous, since = self.last_power_w, self.last_time
        self.last_power_w = power_w
        self.last_time = now
        if previous is None or since is None:
            return
        elapsed = now - since
        if not 0 < elapsed <= MAX_INTEGRATION_GAP_S:
            return
        hours = elapsed / 3600
        if (previous >= 0) == (power_w >= 0):
            area = (previous + power_w) / 2 * hours
            if area >= 0:
                self.positive_wh += area
            else:
                self.negative_wh -= area
            return
        # The sign changed: split the interval where the power crossed zero.
        crossing = previous / (previous - power_w)
        first = previous / 2 * hours * crossing
        second = power_w / 2 * hours * (1 - crossing)
        for area in (first, second):
            if area >= 0:
                self.positive_wh += area
            else:
                self.negative_wh -= area

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {
            "positive_wh": self.positive_wh,
            "negative_wh": self.negative_wh,
            "last_power_w": self.last_power_w,
            "last_time": self.last_time,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        positive = _stored_number(stored, "positive_wh")
        negative = _stored_number(stored, "negative_wh")
        if positive is None or negative is None or min(positive, negative) < 0:
            return
        self.positive_wh = positive
        self.negative_wh = negative
        self.last_power_w = _stored_number(stored, "last_power_w")
        self.last_time = _stored_number(stored, "last_time")


@dataclass(slots=True)
class DayCountedTotal:
    """A lifetime total kept from a coarse lifetime and a finer day counter.

    The HTML production page of old firmware shows three significant digits:
    "Since Installation 133 MWh" moves in 1 MWh steps, useless for hourly
    statistics, while "Today 53.6 kWh" moves in 100 Wh steps. The total
    starts at the coarse lifetime, grows with the day counter (which
    restarts at the gateway's midnight), never falls below the coarse
    lifetime's floor and never decreases.
    """

    value_wh: float | None = None
    last_today_wh: float | None = None

    def update(
        self, lifetime_wh: float | None, resolution_wh: float, today_wh: float | None
    ) -> float | None:
        """Follow one reading of the page; return the total."""
        lifetime = finite_number(lifetime_wh)
        today = finite_number(today_wh)
        if today is not None and today < 0:
            today = None
        if self.value_wh is None:
            if lifetime is None or lifetime <= 0:
                return None
            self.value_wh = lifetime
            self.last_today_wh = today
            return self.value_wh
        if today is not None:
            previous = self.last_today_wh
            if previous is not None:
                self.value_wh += today - previous if today >= previous else today
            self.last_today_wh = today
        if lifetime is not None and lifetime - resolution_wh > self.value_wh:
            # The day counter missed energy (an outage over midnight).
            self.value_wh = lifetime - resolution_wh
        return self.value_wh

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {"value_wh": self.value_wh, "last_today_wh": self.last_today_wh}

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        value = _stored_number(stored, "value_wh")
        if value is None or value < 0:
            return
        self.value_wh = value
        self.last_today_wh = _stored_number(stored, "last_today_wh")


@dataclass(slots=True)
class DailyTracker:
    """Energy since local midnight, derived from a guarded lifetime total."""

    day: date | None = None
    baseline_wh: float | None = None
    last_total_wh: float | None = None

    def update(self, total_wh: float | None, today: date) -> float | None:
        """Return today's energy given the lifetime total and the local date."""
        if total_wh is None:
            return self.value(today)
        if self.day != today or self.baseline_wh is None:
            # The last total seen before midnight is the best baseline we have;
            # with no earlier total, today starts now.
            baseline = self.last_total_wh if self.day is not None else None
            self.day = today
            self.baseline_wh = total_wh if baseline is None else baseline
        self.last_total_wh = total_wh
        return max(total_wh - self.baseline_wh, 0.0)

    def seed(self, today: date, total_wh: float, today_wh: float) -> None:
        """Start today's count at ``today_wh`` (only for a day not yet counted)."""
        if self.day is not None or self.baseline_wh is not None:
            return
        self.day = today
        self.baseline_wh = total_wh - max(today_wh, 0.0)
        self.last_total_wh = total_wh

    def roll_over(self, today: date) -> None:
        """Start a new day at midnight, even before a new reading arrives."""
        if self.day == today:
            return
        self.day = today
        self.baseline_wh = self.last_total_wh

    def value(self, today: date) -> float | None:
        """Return today's energy from what was last seen."""
        if self.baseline_wh is None or self.last_total_wh is None:
            return None
        if self.day != today:
            return 0.0
        return max(self.last_total_wh - self.baseline_wh, 0.0)

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {
            "day": None if self.day is None else self.day.isoformat(),
            "baseline_wh": self.baseline_wh,
            "last_total_wh": self.last_total_wh,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        baseline = _stored_number(stored, "baseline_wh")
        last_total = _stored_number(stored, "last_total_wh")
        try:
            day = date.fromisoformat(str(stored.get("day")))
        except ValueError:
            return
        if baseline is None or last_total is None:
            return
        self.day = day
        self.baseline_wh = baseline
        self.last_total_wh = last_total


def _restored[
    T: (
        LifetimeTracker,
        CarriedTotal,
        BalanceTotal,
        SplitIntegrator,
        PowerIntegrator,
        DayCountedTotal,
        DailyTracker,
    )
](tracker: T, stored: object) -> T:
    """Return ``tracker`` with ``stored`` state put back when it is a dict."""
    if isinstance(stored, dict):
        tracker.restore(stored)
    return tracker


_SECTIONS = (
    "lifetimes",
    "dailies",
    "totals",
    "balances",
    "splits",
    "integrators",
    "day_counted",
)


@dataclass(slots=True)
class EnergyBook:
    """Every piece of energy state of one gateway, by key, restored lazily.

    State of keys not used since the last restart is kept as stored, so a
    counter whose entity is disabled for a while resumes where it was.
    """

    lifetimes: dict[str, LifetimeTracker] = field(default_factory=dict)
    dailies: dict[str, DailyTracker] = field(default_factory=dict)
    totals: dict[str, CarriedTotal] = field(default_factory=dict)
    balances: dict[str, BalanceTotal] = field(default_factory=dict)
    splits: dict[str, SplitIntegrator] = field(default_factory=dict)
    integrators: dict[str, PowerIntegrator] = field(default_factory=dict)
    day_counted: dict[str, DayCountedTotal] = field(default_factory=dict)
    _stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _saved(self, section: str, key: str) -> object:
        """Return the stored state of ``key`` in ``section``, if any."""
        return self._stored.get(section, {}).get(key)

    def lifetime(self, key: str, *, wraps: bool, max_power_w: float) -> LifetimeTracker:
        """Return the tracker of raw counter ``key``."""
        tracker = self.lifetimes.get(key)
        if tracker is None:
            tracker = _restored(
                LifetimeTracker(wraps=wraps, max_power_w=max_power_w),
                self._saved("lifetimes", key),
            )
            self.lifetimes[key] = tracker
        tracker.max_power_w = max_power_w
        return tracker

    def daily(self, key: str) -> DailyTracker:
        """Return the daily tracker of total ``key``."""
        tracker = self.dailies.get(key)
        if tracker is None:
            tracker = _restored(DailyTracker(), self._saved("dailies", key))
            self.dailies[key] = tracker
        return tracker

    def total(self, key: str) -> CarriedTotal:
        """Return the published total ``key``."""
        tracker = self.totals.get(key)
        if tracker is None:
            tracker = _restored(CarriedTotal(), self._saved("totals", key))
            self.totals[key] = tracker
        return tracker

    def balance(self, key: str) -> BalanceTotal:
        """Return the balance total ``key``."""
        tracker = self.balances.get(key)
        if tracker is None:
            tracker = _restored(BalanceTotal(), self._saved("balances", key))
            self.balances[key] = tracker
        return tracker

    def split(self, key: str) -> SplitIntegrator:
        """Return the split integrator ``key``."""
        tracker = self.splits.get(key)
        if tracker is None:
            tracker = _restored(SplitIntegrator(), self._saved("splits", key))
            self.splits[key] = tracker
        return tracker

    def integrator(self, key: str) -> PowerIntegrator:
        """Return the power integrator ``key``."""
        tracker = self.integrators.get(key)
        if tracker is None:
            tracker = _restored(PowerIntegrator(), self._saved("integrators", key))
            self.integrators[key] = tracker
        return tracker

    def day_counted_total(self, key: str) -> DayCountedTotal:
        """Return the day-counted total ``key``."""
        tracker = self.day_counted.get(key)
        if tracker is None:
            tracker = _restored(DayCountedTotal(), self._saved("day_counted", key))
            self.day_counted[key] = tracker
        return tracker

    def roll_over(self, today: date) -> None:
        """Start a new day for every daily total in use."""
        for tracker in self.dailies.values():
            tracker.roll_over(today)

    def as_dict(self) -> dict[str, Any]:
        """Return everything worth keeping across restarts."""
        live: dict[str, dict[str, Any]] = {
            "lifetimes": self.lifetimes,
            "dailies": self.dailies,
            "totals": self.totals,
            "balances": self.balances,
            "splits": self.splits,
            "integrators": self.integrators,
            "day_counted": self.day_counted,
        }
        saved: dict[str, Any] = {}
        for section in _SECTIONS:
            merged = dict(self._stored.get(section, {}))
            merged.update({key: t.as_dict() for key, t in live[section].items()})
            saved[section] = merged
        return saved

    @classmethod
    def from_dict(cls, stored: object) -> Self:
        """Build a book from saved state; trackers restore lazily by key."""
        book = cls()
        if not isinstance(stored, dict):
            return book
        book._stored = {
            name: dict(section)
            for name in _SECTIONS
            if isinstance(section := stored.get(name), dict)
        }
        return book
