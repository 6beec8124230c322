"""Clocks the simulator reads its time from."""

from collections.abc import Callable
from datetime import datetime
import time
from zoneinfo import ZoneInfo

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


class ShiftedClock:
    """The wall clock moved by a fixed offset: real time, at another time of day."""

    def __init__(self, offset_s: float) -> None:
        """Read the wall clock plus ``offset_s`` seconds."""
        self.offset_s = float(offset_s)

    @classmethod
    def local_time(
        cls, timezone: str, hour: int, minute: int = 0, *, now: float | None = None
    ) -> ShiftedClock:
        """Return a clock on which it is ``hour:minute`` in ``timezone`` right now.

        The day is today's (in ``timezone``); from then on it runs in real time.
        """
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError(f"no such time of day: {hour:02d}:{minute:02d}")
        real = time.time() if now is None else now
        zone = ZoneInfo(timezone)
        today = datetime.fromtimestamp(real, zone).date()
        target = datetime(
            today.year, today.month, today.day, hour, minute, tzinfo=zone
        ).timestamp()
        return cls(target - real)

    def __call__(self) -> float:
        """Return the shifted epoch seconds."""
        # Looked up at call time, like SystemClock, so patched clocks move it too.
        return time.time() + self.offset_s

    def __repr__(self) -> str:
        """Describe the clock."""
        return f"ShiftedClock({self.offset_s!r})"
