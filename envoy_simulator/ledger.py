"""Running integrals of a vector of powers on a fixed time grid."""

from array import array
from collections.abc import Callable, Sequence
import math
from typing import Protocol

STEP_S = 10.0
COARSE_STEP_S = 300.0
HISTORY_S = 9 * 86400.0
_KEEP_FINE_POINTS = int(10 * 86400 / STEP_S)
_DAY_POINTS = int(86400 / STEP_S)
_CHECKPOINT_POINTS = int(3600 / STEP_S)


class Sampler(Protocol):
    """Powers of every integrated quantity at a grid point."""

    @property
    def width(self) -> int:
        """Return how many quantities a sample holds."""
        ...

    def reset(self) -> None:
        """Forget any state (a battery's charge) before integrating again."""
        ...

    def sample(self, t: float, dt: float) -> list[float]:
        """Return the powers at ``t`` and advance internal state by ``dt`` seconds."""
        ...

    def restore(self, powers: Sequence[float], dt: float) -> None:
        """Put internal state where sampling ``powers`` and stepping ``dt`` left it."""
        ...


class Ledger:
    """Integrate a sampler's powers over time, cheaply readable at any instant.

    Powers are sampled every STEP_S seconds and the true power is their linear
    interpolation, so the trapezoid sums stored here are the exact integral of
    the power the simulator reports. Nine days before the first reading are
    integrated on a coarse grid so "yesterday" and "last seven days" exist.
    Values are joules (W*s) relative to the origin (negative before it).
    """

    def __init__(
        self,
        sampler: Sampler,
        start: float,
        origin_for: Callable[[float], float] | None = None,
    ) -> None:
        """Integrate from nine days before the origin chosen for ``start``.

        ``origin_for`` picks the origin for a time (a grid point at or before
        it); by default the grid point at or before the time itself.
        """
        self._sampler = sampler
        self._width = sampler.width
        self._origin_for = origin_for
        self.origin = 0.0
        self.rebuilds = 0
        self._build(start)

    def _build(self, start: float) -> None:
        """Throw away everything and integrate again around ``start``."""
        sampler = self._sampler
        width = self._width
        chosen = start if self._origin_for is None else self._origin_for(start)
        origin = math.floor(chosen / STEP_S) * STEP_S
        sampler.reset()
        coarse_points = int(HISTORY_S // COARSE_STEP_S)
        self.coarse_start = origin - coarse_points * COARSE_STEP_S
        coarse_cum = array("d")
        coarse_pow = array("d")
        cum = [0.0] * width
        half = COARSE_STEP_S / 2
        previous = sampler.sample(self.coarse_start, COARSE_STEP_S)
        coarse_cum.extend(cum)
        coarse_pow.extend(previous)
        for index in range(1, coarse_points + 1):
            at = self.coarse_start + index * COARSE_STEP_S
            if index == coarse_points:
                # The last coarse point is the first fine one; sampling it once
                # keeps the battery's state stepping forward exactly once.
                power = sampler.sample(at, STEP_S)
            else:
                power = sampler.sample(at, COARSE_STEP_S)
            cum = [
                c + (a + b) * half for c, a, b in zip(cum, previous, power, strict=True)
            ]
            coarse_cum.extend(cum)
            coarse_pow.extend(power)
            previous = power
        end = cum
        # Shift the prehistory so the origin reads 0 and earlier times are negative.
        for index in range(len(coarse_cum)):
            coarse_cum[index] -= end[index % width]
        self._coarse_cum = coarse_cum
        self._coarse_pow = coarse_pow
        self.origin = origin
        self._fine_cum = array("d", [0.0] * width)
        self._fine_pow = array("d", previous)
        self._first_k = 0
        self._count = 1
        self._last_cum = [0.0] * width
        self._last_pow = list(previous)
        self._checkpoints: list[array[float]] = [array("d", [0.0] * width)]

    def _build_at(self, origin: float) -> None:
        """Integrate again around exactly ``origin`` (keeping the values up to now)."""
        chooser = self._origin_for
        self._origin_for = None
        try:
            self._build(origin)
        finally:
            self._origin_for = chooser

    def _extend(self, points: int) -> None:
        """Integrate forward until ``points`` fine points exist."""
        sampler = self._sampler
        origin = self.origin
        half = STEP_S / 2
        cum = self._last_cum
        previous = self._last_pow
        fine_cum = self._fine_cum
        fine_pow = self._fine_pow
        count = self._count
        while count < points:
            power = sampler.sample(origin + count * STEP_S, STEP_S)
            cum = [
                c + (a + b) * half for c, a, b in zip(cum, previous, power, strict=True)
            ]
            fine_cum.extend(cum)
            fine_pow.extend(power)
            if count % _CHECKPOINT_POINTS == 0:
                self._checkpoints.append(array("d", cum))
            previous = power
            count += 1
        self._count = count
        self._last_cum = cum
        self._last_pow = previous
        retained = count - self._first_k
        if retained > _KEEP_FINE_POINTS + _DAY_POINTS:
            # Old fine detail is only needed for "last seven days"; hourly
            # checkpoints answer anything older, keeping memory bounded.
            drop = retained - _KEEP_FINE_POINTS
            del fine_cum[: drop * self._width]
            del fine_pow[: drop * self._width]
            self._first_k += drop

    def _ensure(self, t: float) -> None:
        """Make sure ``t`` can be read, rebuilding if it lies before the prehistory."""
        if t < self.coarse_start:
            self.rebuilds += 1
            self._build(t)
        needed = int((t - self.origin) // STEP_S) + 2
        if needed > self._count:
            self._extend(needed)

    def rewind(self, t: float) -> None:
        """Forget the grid points after ``t`` so they are sampled again.

        The sampler changed its mind about everything after ``t`` (an
        inverter went quiet, say): values up to ``t`` stay exactly as they
        were and later ones follow the new powers. ``t`` should sit on the
        grid; points in the trimmed past or the prehistory force a rebuild
        around the same origin, which gives identical values up to ``t``.
        """
        last = math.floor((t - self.origin) / STEP_S)
        if last + 1 >= self._count:
            return
        if last < max(self._first_k, 0):
            self.rebuilds += 1
            self._build_at(self.origin)
            return
        width = self._width
        rows = last + 1 - self._first_k
        del self._fine_cum[rows * width :]
        del self._fine_pow[rows * width :]
        start = (rows - 1) * width
        self._last_cum = list(self._fine_cum[start : start + width])
        self._last_pow = list(self._fine_pow[start : start + width])
        self._count = last + 1
        del self._checkpoints[last // _CHECKPOINT_POINTS + 1 :]
        self._sampler.restore(self._last_pow, STEP_S)

    def value(self, quantity: int, t: float) -> float:
        """Return the integral of ``quantity`` from the origin to ``t`` in W*s."""
        self._ensure(t)
        width = self._width
        if t < self.origin:
            offset = t - self.coarse_start
            index = int(offset // COARSE_STEP_S)
            fraction = (offset - index * COARSE_STEP_S) / COARSE_STEP_S
            base = index * width + quantity
            p0 = self._coarse_pow[base]
            p1 = self._coarse_pow[base + width]
            return self._coarse_cum[base] + COARSE_STEP_S * fraction * (
                p0 + (p1 - p0) * fraction / 2
            )
        offset = t - self.origin
        k = int(offset // STEP_S)
        if k < self._first_k:
            return self._from_checkpoints(quantity, offset)
        fraction = (offset - k * STEP_S) / STEP_S
        base = (k - self._first_k) * width + quantity
        p0 = self._fine_pow[base]
        p1 = self._fine_pow[base + width]
        return self._fine_cum[base] + STEP_S * fraction * (
            p0 + (p1 - p0) * fraction / 2
        )

    def power(self, quantity: int, t: float) -> float:
        """Return the (linearly interpolated) power of ``quantity`` at ``t``."""
        self._ensure(t)
        width = self._width
        if t < self.origin:
            offset = t - self.coarse_start
            index = int(offset // COARSE_STEP_S)
            fraction = (offset - index * COARSE_STEP_S) / COARSE_STEP_S
            base = index * width + quantity
            p0 = self._coarse_pow[base]
            return p0 + (self._coarse_pow[base + width] - p0) * fraction
        offset = t - self.origin
        k = int(offset // STEP_S)
        if k < self._first_k:
            hour = int(offset // 3600)
            return (
                self._checkpoints[hour + 1][quantity]
                - self._checkpoints[hour][quantity]
            ) / 3600
        fraction = (offset - k * STEP_S) / STEP_S
        base = (k - self._first_k) * width + quantity
        p0 = self._fine_pow[base]
        return p0 + (self._fine_pow[base + width] - p0) * fraction

    def _from_checkpoints(self, quantity: int, offset: float) -> float:
        """Approximate an integral in the trimmed past from hourly checkpoints."""
        hour = int(offset // 3600)
        fraction = (offset - hour * 3600) / 3600
        low = self._checkpoints[hour][quantity]
        high = self._checkpoints[hour + 1][quantity]
        return low + (high - low) * fraction
