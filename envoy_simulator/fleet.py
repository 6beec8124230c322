"""Which inverters produce when: the site's changes over simulator time.

A silenced inverter stops producing and reporting, a resumed one starts again
and an added one joins the site. Each change happens at one instant, never
before an earlier change, and starts a fleet epoch: the producing inverters
until the next change. Production meters follow the epochs exactly (their
power steps at the change); the integrated site powers (grid, battery) see the
change from the integration grid point after it, so nothing read before the
change ever moves.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
import math

from .ledger import STEP_S


@dataclass(slots=True)
class Span:
    """A stretch of time an inverter produced and reported in."""

    start: float | None
    """When it began; None: before the simulation (and its history) began."""
    end: float | None = None
    """When it was silenced; None: still producing."""

    def holds(self, t: float) -> bool:
        """Return whether the inverter produces at ``t``."""
        return (self.start is None or self.start <= t) and (
            self.end is None or t < self.end
        )


@dataclass(frozen=True, slots=True)
class FleetEpoch:
    """The producing inverters' peak power from one change to the next."""

    start: float | None
    """When the epoch began (None: the site as built)."""
    grid_start: float | None
    """The grid point after which integrated quantities sample this epoch."""
    peak_total_w: float
    shares: tuple[float, ...]
    """How the peak splits over the phases."""

    def phase_peak_w(self, phase: int) -> float:
        """Return one phase's peak power."""
        return self.shares[phase] * self.peak_total_w


def grid_after(t: float) -> float:
    """Return the first integration grid point at or after ``t``."""
    return math.ceil(t / STEP_S) * STEP_S


class FleetSchedule:
    """The fleet epochs in time order."""

    def __init__(self, first: FleetEpoch) -> None:
        """Start with the site as built."""
        self.epochs: list[FleetEpoch] = [first]
        self._starts: list[float] = []
        self._grid_starts: list[float] = []

    @property
    def last_change(self) -> float | None:
        """Return when the latest change happened (None: never)."""
        return self._starts[-1] if self._starts else None

    def add(self, epoch: FleetEpoch) -> None:
        """Append an epoch starting at or after the latest one."""
        assert epoch.start is not None
        assert epoch.grid_start is not None
        if self._starts and self._starts[-1] == epoch.start:
            # Two changes at one instant: only the outcome matters.
            self.epochs[-1] = epoch
            return
        self.epochs.append(epoch)
        self._starts.append(epoch.start)
        self._grid_starts.append(epoch.grid_start)

    def at(self, t: float) -> FleetEpoch:
        """Return the epoch in force at ``t`` (a change at ``t`` counts)."""
        if not self._starts:
            return self.epochs[0]
        return self.epochs[bisect_right(self._starts, t)]

    def sampled_at(self, t: float) -> FleetEpoch:
        """Return the epoch the integration grid point at ``t`` samples."""
        if not self._grid_starts:
            return self.epochs[0]
        return self.epochs[bisect_left(self._grid_starts, t)]

    def pieces(
        self, lo: float | None, hi: float
    ) -> Iterator[tuple[FleetEpoch, float | None, float]]:
        """Yield each epoch with its part ``(a, b]`` of ``(lo, hi]``.

        ``a`` is None only for the first epoch when ``lo`` is None: the part
        reaches back to the ledger's zero.
        """
        starts = self._starts
        for index, epoch in enumerate(self.epochs):
            end = starts[index] if index < len(starts) else None
            a = _later(epoch.start, lo)
            b = hi if end is None else min(end, hi)
            if a is None or b > a:
                yield epoch, a, b


def span_pieces(
    spans: list[Span], lo: float | None, hi: float
) -> Iterator[tuple[float | None, float]]:
    """Yield the parts ``(a, b]`` of ``(lo, hi]`` the spans cover (``a`` None: from zero)."""
    for span in spans:
        a = _later(span.start, lo)
        b = hi if span.end is None else min(span.end, hi)
        if a is None or b > a:
            yield a, b


def _later(first: float | None, second: float | None) -> float | None:
    """Return the later of two instants, None being the earliest of all."""
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)
