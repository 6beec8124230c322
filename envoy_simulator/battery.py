"""Batteries: storage settings and grid availability over time, and the battery's physics.

The settings (mode, reserve, charge from grid) come from the tariff and change
when it is written; the grid fails during a profile's daily off-grid window and
when told to (``set_grid``). A change at instant ``t`` applies from the
integration grid point after ``grid_after(t)`` (as fleet changes do, see
fleet.py), so nothing read before a change ever moves.
"""

from bisect import bisect_left, insort
from dataclasses import dataclass
from datetime import datetime

from .curves import LocalCalendar
from .fleet import grid_after
from .profiles import Profile, StorageMode

BATTERY_EFFICIENCY = 0.95
"""Share of the charging energy that ends up stored (losses are taken on charge)."""
DEADBAND_W = 20.0
"""Surplus or deficit below which a grid-tied battery stays idle."""
_GRID_CHARGE_SHARE = 0.5
"""Share of full power a battery charges from the grid at."""


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """How the battery is told to behave."""

    mode: StorageMode
    reserve_pct: float
    very_low_pct: float
    charge_from_grid: bool


@dataclass(frozen=True, slots=True)
class BatteryStep:
    """The battery's and the site's response to one instant's surplus (all W)."""

    charge_w: float
    discharge_w: float
    curtailed_w: float
    """Solar the inverters hold back off grid (the battery cannot take it)."""
    unserved_w: float
    """House load the site cannot supply off grid."""
    stored_after_wh: float


def step_battery(
    *,
    stored_wh: float,
    capacity_wh: float,
    max_power_w: float,
    surplus_w: float,
    settings: StorageSettings,
    grid_on: bool,
    dt: float,
) -> BatteryStep:
    """Return what the battery does with ``surplus_w`` (solar minus load) for ``dt`` seconds."""
    room_w = max(0.0, (capacity_wh - stored_wh) * 3600.0 / dt / BATTERY_EFFICIENCY)
    charge = discharge = curtailed = unserved = 0.0
    if not grid_on:
        # Off grid the batteries form the grid: they take what the house does not use and
        # supply what solar does not, down to the very low floor; the rest is curtailed or shed.
        floor = capacity_wh * settings.very_low_pct / 100.0
        available_w = max(0.0, (stored_wh - floor) * 3600.0 / dt)
        if surplus_w >= 0.0:
            charge = min(surplus_w, max_power_w, room_w)
            curtailed = surplus_w - charge
        else:
            discharge = min(-surplus_w, max_power_w, available_w)
            unserved = -surplus_w - discharge
    elif settings.mode == "backup":
        # Backup keeps the battery full for an outage: it never discharges on grid.
        if settings.charge_from_grid:
            charge = min(max_power_w, room_w)
        elif surplus_w > DEADBAND_W:
            charge = min(surplus_w, max_power_w, room_w)
    else:
        floor = capacity_wh * settings.reserve_pct / 100.0
        if surplus_w > DEADBAND_W:
            charge = min(surplus_w, max_power_w, room_w)
        elif surplus_w < -DEADBAND_W:
            available_w = max(0.0, (stored_wh - floor) * 3600.0 / dt)
            discharge = min(-surplus_w, max_power_w, available_w)
        if settings.charge_from_grid and stored_wh < floor:
            # Below the reserve, charging from the grid refills it.
            to_reserve_w = (floor - stored_wh) * 3600.0 / dt / BATTERY_EFFICIENCY
            charge = max(charge, min(_GRID_CHARGE_SHARE * max_power_w, to_reserve_w))
            discharge = 0.0
    stored = stored_wh + (charge * BATTERY_EFFICIENCY - discharge) * dt / 3600.0
    return BatteryStep(charge, discharge, curtailed, unserved, stored)


class StorageTimeline:
    """Storage settings and grid availability over simulator time."""

    def __init__(self, profile: Profile, calendar: LocalCalendar) -> None:
        """Start with the profile's own settings and the grid up."""
        defaults = profile.storage
        self.initial = StorageSettings(
            defaults.mode,
            defaults.reserve_pct,
            defaults.very_low_pct,
            defaults.charge_from_grid,
        )
        self._settings: list[tuple[float, StorageSettings]] = []
        self._grid: list[tuple[float, bool]] = []
        self._window = profile.off_grid_daily
        self._calendar = calendar
        self._windows: dict[int, tuple[float, float]] = {}

    def set_settings(self, t: float, settings: StorageSettings) -> float:
        """Switch to ``settings`` at ``t``; return the grid point they apply from."""
        start = grid_after(t)
        entry = (start, settings)
        index = bisect_left(self._settings, start, key=lambda item: item[0])
        # A later change at the same grid point replaces the earlier one.
        if index < len(self._settings) and self._settings[index][0] == start:
            self._settings[index] = entry
        else:
            self._settings.insert(index, entry)
        return start

    def set_grid(self, t: float, on: bool) -> float:
        """Make the grid available (or fail) from ``t``; return the grid point it applies from."""
        start = grid_after(t)
        if self._grid and self._grid[-1][0] > start:
            raise ValueError(
                f"the clock ({t}) is before the latest grid change; "
                "changes must come in time order"
            )
        if self._grid and self._grid[-1][0] == start:
            self._grid[-1] = (start, on)
        else:
            insort(self._grid, (start, on))
        return start

    def settings_at(self, t: float) -> StorageSettings:
        """Return the settings the grid point at ``t`` samples."""
        if not self._settings:
            return self.initial
        # The point a change is recorded at still samples the old settings:
        # Ledger.rewind keeps it.
        index = bisect_left(self._settings, t, key=lambda item: item[0])
        return self._settings[index - 1][1] if index else self.initial

    def grid_switched_on(self, t: float) -> bool:
        """Return whether the grid is switched on at ``t`` (``set_grid``, not the daily window)."""
        if not self._grid:
            return True
        index = bisect_left(self._grid, t, key=lambda item: item[0])
        return self._grid[index - 1][1] if index else True

    def daily_window(self, t: float) -> tuple[float, float] | None:
        """Return the day's off-grid window (epochs) around ``t``, if the profile has one."""
        if self._window is None:
            return None
        day = self._calendar.day(t)
        window = self._windows.get(day.ordinal)
        if window is None:
            when = datetime.fromtimestamp(day.midnight, self._calendar.zone).date()
            (start_h, start_m), (end_h, end_m) = self._window
            window = (
                grid_after(self._calendar.at(when, start_h, start_m)),
                grid_after(self._calendar.at(when, end_h, end_m)),
            )
            self._windows[day.ordinal] = window
        return window

    def grid_on(self, t: float) -> bool:
        """Return whether the site is connected to the grid at ``t``."""
        window = self.daily_window(t)
        if window is not None and window[0] <= t < window[1]:
            return False
        return self.grid_switched_on(t)
