"""Clocks the simulator reads its time from."""

from collections.abc import Callable
import time

type Clock = Callable[[], float]


class SystemClock:
    """Read the wall clock on every call."""

    def __call__(self) -> float:
        """Return the current epoch seconds."""
        # Looked up at call time (not bound at import) so freezegun's patched
        # time.time in Home Assistant tests moves the simulator too.
        return time.time()

    def __repr__(self) -> str:
        """Describe the clock."""
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1753700000.0) -> None:
        """Start the clock at ``start`` epoch seconds."""
        self._now = float(start)

    def __call__(self) -> float:
        """Return the clock's epoch seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new reading."""
        if seconds < 0:
            raise ValueError("a FakeClock only advances forward; use set() to go back")
        self._now += seconds
        return self._now

    def set(self, epoch: float) -> float:
        """Put the clock at ``epoch`` seconds and return it."""
        self._now = float(epoch)
        return self._now

    def __repr__(self) -> str:
        """Describe the clock."""
        return f"FakeClock({self._now!r})"
