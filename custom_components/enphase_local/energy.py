"""Energy correctness: lifetime counters the Energy dashboard can trust.

The gateway's counters misbehave in ways that have corrupted many Energy
dashboards: per-inverter 32-bit joule counters wrap (a total drops by about
1.193 MWh), lifetime values read 0 or stale for a while after a reboot, and a
counter may jump. Everything here is pure and clock-driven so it can be
tested without Home Assistant; the coordinators feed it raw readings and
persist its state.
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


class EnergyEvent(StrEnum):
    """Something the tracker corrected or held, worth one log line."""

    WRAP_CORRECTED = "wrap_corrected"
    DROP_HELD = "drop_held"
    RESET_ACCEPTED = "reset_accepted"
    JUMP_HELD = "jump_held"
    JUMP_ACCEPTED = "jump_accepted"
    INVALID = "invalid"


def _number(raw: object) -> float | None:
    """Return a finite float, or None for anything else."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


@dataclass(slots=True)
class LifetimeTracker:
    """Turn a raw lifetime counter into a non-negative, never-decreasing total.

    The presented value is ``raw + offset_wh``. A wrap adds to the offset; a
    real reset (the counter restarting lower and staying there) re-bases the
    offset so the total carries on from where it was.
    """

    wraps: bool
    """True for counters built from 32-bit inverter joules."""
    max_power_w: float
    """Above this average rate a rise is implausible."""
    value_wh: float | None = None
    last_raw_wh: float | None = None
    offset_wh: float = 0.0
    last_accepted: float | None = None
    """Clock (epoch seconds) of the last accepted reading."""
    pending_raw_wh: float | None = None
    pending_since: float | None = None
    pending_count: int = 0
    pending_kind: str | None = None

    def update(self, raw: object, now: float) -> EnergyEvent | None:
        """Feed one raw reading; return what was corrected or held, if anything."""
        reading = _number(raw)
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

    def _allowed_rise(self, now: float) -> float:
        """Return the largest believable rise since the last accepted reading."""
        elapsed = 0.0 if self.last_accepted is None else now - self.last_accepted
        return max(elapsed, 0.0) / 3600 * self.max_power_w + MIN_SLACK_WH

    def _accept(self, reading: float, now: float) -> None:
        """Take ``reading`` as the counter's true state."""
        candidate = reading + self.offset_wh
        if self.value_wh is not None and candidate < self.value_wh:
            # Only reachable on a re-base: never let the total go down.
            self.offset_wh += self.value_wh - candidate
            candidate = self.value_wh
        self.value_wh = candidate
        self.last_raw_wh = reading
        self.last_accepted = now
        self._clear_pending()

    def _clear_pending(self) -> None:
        """Forget a candidate reset or jump."""
        self.pending_raw_wh = None
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
            return EnergyEvent.DROP_HELD
        if not self._follows_pending(reading, "drop"):
            self._start_pending(reading, now, "drop")
            return EnergyEvent.DROP_HELD
        self.pending_count += 1
        self.pending_raw_wh = reading
        assert self.pending_since is not None
        if (
            self.pending_count >= RESET_CONFIRMATIONS
            and now - self.pending_since >= RESET_CONFIRM_SECONDS
        ):
            # Carry on from the held total: the offset absorbs the new base.
            assert self.value_wh is not None
            self.offset_wh = self.value_wh - reading
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
        value = _number(stored.get("value_wh"))
        last_raw = _number(stored.get("last_raw_wh"))
        offset = _number(stored.get("offset_wh"))
        last_accepted = _number(stored.get("last_accepted"))
        if value is None or last_raw is None or offset is None or value < 0:
            return
        self.value_wh = value
        self.last_raw_wh = last_raw
        self.offset_wh = offset
        self.last_accepted = last_accepted


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
        baseline = _number(stored.get("baseline_wh"))
        last_total = _number(stored.get("last_total_wh"))
        try:
            day = date.fromisoformat(str(stored.get("day")))
        except ValueError:
            return
        if baseline is None or last_total is None:
            return
        self.day = day
        self.baseline_wh = baseline
        self.last_total_wh = last_total


@dataclass(slots=True)
class GridIntegrator:
    """Grid import/export energy for sites with a total-consumption CT only.

    Without a net CT the gateway has no grid counters. Each poll's change in
    the consumption and production counters tells how much the site drew
    from or sent to the grid over that interval.
    """

    import_wh: float = 0.0
    export_wh: float = 0.0
    last_consumption_wh: float | None = None
    last_production_wh: float | None = None

    def update(self, consumption_wh: float | None, production_wh: float | None) -> None:
        """Integrate the interval since the previous pair of counters."""
        if consumption_wh is None or production_wh is None:
            return
        previous = (self.last_consumption_wh, self.last_production_wh)
        self.last_consumption_wh = consumption_wh
        self.last_production_wh = production_wh
        if previous[0] is None or previous[1] is None:
            return
        consumed = consumption_wh - previous[0]
        produced = production_wh - previous[1]
        if consumed < 0 or produced < 0:
            # Counters come pre-guarded; a drop here means a re-base, and
            # that interval cannot be attributed.
            return
        balance = consumed - produced
        if balance > 0:
            self.import_wh += balance
        else:
            self.export_wh -= balance

    def as_dict(self) -> dict[str, Any]:
        """Return the state worth keeping across restarts."""
        return {
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "last_consumption_wh": self.last_consumption_wh,
            "last_production_wh": self.last_production_wh,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Take back state saved by ``as_dict``; ignore anything malformed."""
        import_wh = _number(stored.get("import_wh"))
        export_wh = _number(stored.get("export_wh"))
        if import_wh is None or export_wh is None or min(import_wh, export_wh) < 0:
            return
        self.import_wh = import_wh
        self.export_wh = export_wh
        self.last_consumption_wh = _number(stored.get("last_consumption_wh"))
        self.last_production_wh = _number(stored.get("last_production_wh"))


@dataclass(slots=True)
class EnergyBook:
    """Every guarded energy total of one gateway, by key, with its history."""

    lifetimes: dict[str, LifetimeTracker] = field(default_factory=dict)
    dailies: dict[str, DailyTracker] = field(default_factory=dict)
    grid: GridIntegrator = field(default_factory=GridIntegrator)
    _stored: dict[str, Any] = field(default_factory=dict)

    def lifetime(
        self, key: str, raw: object, now: float, *, wraps: bool, max_power_w: float
    ) -> tuple[float | None, EnergyEvent | None]:
        """Guard one lifetime counter; return its total and any correction."""
        tracker = self.lifetimes.get(key)
        if tracker is None:
            tracker = LifetimeTracker(wraps=wraps, max_power_w=max_power_w)
            if isinstance(stored := self._stored.get("lifetimes", {}).get(key), dict):
                tracker.restore(stored)
            self.lifetimes[key] = tracker
        tracker.max_power_w = max_power_w
        event = tracker.update(raw, now)
        return tracker.value_wh, event

    def daily(self, key: str, total_wh: float | None, today: date) -> float | None:
        """Return energy since local midnight for a guarded total."""
        tracker = self.dailies.get(key)
        if tracker is None:
            tracker = DailyTracker()
            if isinstance(stored := self._stored.get("dailies", {}).get(key), dict):
                tracker.restore(stored)
            self.dailies[key] = tracker
        return tracker.update(total_wh, today)

    def roll_over(self, today: date) -> None:
        """Start a new day for every daily total."""
        for tracker in self.dailies.values():
            tracker.roll_over(today)

    def as_dict(self) -> dict[str, Any]:
        """Return everything worth keeping across restarts."""
        lifetimes = dict(self._stored.get("lifetimes", {}))
        lifetimes.update({key: t.as_dict() for key, t in self.lifetimes.items()})
        dailies = dict(self._stored.get("dailies", {}))
        dailies.update({key: t.as_dict() for key, t in self.dailies.items()})
        return {"lifetimes": lifetimes, "dailies": dailies, "grid": self.grid.as_dict()}

    @classmethod
    def from_dict(cls, stored: object) -> Self:
        """Build a book from saved state; trackers restore lazily by key."""
        book = cls()
        if not isinstance(stored, dict):
            return book
        book._stored = {
            name: section
            for name in ("lifetimes", "dailies")
            if isinstance(section := stored.get(name), dict)
        }
        if isinstance(grid := stored.get("grid"), dict):
            book.grid.restore(grid)
        return book
