"""Energy bookkeeping: guard counters, publish site totals, log, save.

One ``EnergyKeeper`` per gateway owns every energy total it publishes. The
tiers hand it raw counters; the site coordinator hands it the site flows.
It keeps the state in an ``EnergyBook`` (``counters.py``), saves it on a
timer and at once after a correction worth keeping, and logs what it
corrects with a bounded volume: one summary line per event, repeated at
most once an hour while it lasts, and a line when it ends.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
import logging
import math
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import CT_MAX_POWER_W, DOMAIN, LOGGER
from .counters import HELD_EVENTS, EnergyBook, EnergyEvent
from .keys import (
    BATTERY_INTEGRATOR_KEY,
    GRID_SPLIT_KEY,
    LEGACY_GRID_KEY,
    LEGACY_LIFETIME_KEYS,
    SiteTotal,
    integrator_source,
    split_source,
)
from .site import (
    Derived,
    Measured,
    SiteFlows,
    balance_growth,
    balance_start,
    split_growth,
)

STORAGE_VERSION = 1
SAVE_INTERVAL = timedelta(minutes=5)
"""Totals are saved this often, and at once after a correction worth keeping."""
_SAVE_NOW_EVENTS = frozenset(
    {EnergyEvent.WRAP_CORRECTED, EnergyEvent.RESET_ACCEPTED, EnergyEvent.JUMP_ACCEPTED}
)
REPEAT_LOG_S = 3600.0
_SAMPLE_KEYS = 3

_MESSAGES = {
    EnergyEvent.WRAP_CORRECTED: "wrapped at 2^32 J; the totals carry on",
    EnergyEvent.DROP_HELD: "dropped; holding the last totals until they recover",
    EnergyEvent.RESET_ACCEPTED: "restarted lower and stayed there; the totals carry on, counting from the restart",
    EnergyEvent.JUMP_HELD: "jumped implausibly; holding the last totals",
    EnergyEvent.JUMP_ACCEPTED: "kept an earlier jump; it is now accepted",
    EnergyEvent.INVALID: "sent values that are not usable energy counts",
}

_MEASURED_TOTALS = (
    SiteTotal.PRODUCTION,
    SiteTotal.GRID_IMPORT,
    SiteTotal.GRID_EXPORT,
    SiteTotal.BATTERY_DISCHARGE,
    SiteTotal.BATTERY_CHARGE,
    SiteTotal.CONSUMPTION,
)
DAILY_TOTALS = (SiteTotal.PRODUCTION, SiteTotal.CONSUMPTION)


@dataclass(frozen=True, slots=True)
class SiteEnergy:
    """Published site energy totals and energy since local midnight (Wh)."""

    totals: Mapping[SiteTotal, float]
    today: Mapping[SiteTotal, float]


def migrate_legacy(stored: object) -> object:
    """Return release 0.1.0's saved state in today's layout (totals seeded).

    0.1.0 kept published totals only implicitly: the last total each daily
    tracker saw, and the grid integration of load-only sites.
    """
    if not isinstance(stored, dict) or "totals" in stored:
        return stored
    migrated: dict[str, Any] = dict(stored)
    totals: dict[str, Any] = {}
    dailies = stored.get("dailies")
    if isinstance(dailies, dict):
        for total in DAILY_TOTALS:
            daily = dailies.get(total)
            if isinstance(daily, dict) and "last_total_wh" in daily:
                totals[total] = {"value_wh": daily["last_total_wh"]}
    balances: dict[str, Any] = {}
    if SiteTotal.CONSUMPTION in totals:
        balances[SiteTotal.CONSUMPTION] = dict(totals[SiteTotal.CONSUMPTION])
    splits: dict[str, Any] = {}
    grid = stored.get(LEGACY_GRID_KEY)
    if isinstance(grid, dict):
        imported, exported = grid.get("import_wh"), grid.get("export_wh")
        if (
            isinstance(imported, int | float)
            and isinstance(exported, int | float)
            and (imported > 0 or exported > 0)
        ):
            splits[GRID_SPLIT_KEY] = {"import_wh": imported, "export_wh": exported}
            source = split_source(GRID_SPLIT_KEY)
            totals[SiteTotal.GRID_IMPORT] = {
                "value_wh": imported,
                "source": source,
                "source_wh": imported,
            }
            totals[SiteTotal.GRID_EXPORT] = {
                "value_wh": exported,
                "source": source,
                "source_wh": exported,
            }
    migrated.pop(LEGACY_GRID_KEY, None)
    lifetimes = stored.get("lifetimes")
    if isinstance(lifetimes, dict):
        migrated["lifetimes"] = {
            key: state
            for key, state in lifetimes.items()
            if key not in LEGACY_LIFETIME_KEYS
        }
    migrated["totals"] = totals
    migrated["balances"] = balances
    migrated["splits"] = splits
    return migrated


def implausible_today(
    today_wh: float | None, max_wh: float, lifetime_wh: float | None = None
) -> str | None:
    """Return why a gateway's count of today cannot be believed, or None.

    ``max_wh`` is what the source could have counted since local midnight at
    its largest plausible power: a count that reset late (PROTOCOL trap 3)
    still holds yesterday's energy shortly after midnight. Firmware 8.3.5528
    reports today equal to the lifetime it comes with.
    """
    if today_wh is None or not math.isfinite(today_wh) or today_wh < 0:
        return "not a count"
    if today_wh > max_wh:
        return "more than the site can produce since midnight"
    if lifetime_wh is not None and today_wh > 0 and abs(today_wh - lifetime_wh) < 1:
        return "equal to the lifetime total"
    return None


@dataclass(slots=True)
class _Episode:
    """A held-counter event being logged for one tier."""

    logged_at: float
    keys: set[str] = field(default_factory=set)


class EnergyLog:
    """Log energy corrections in bounded volume, per tier and kind of event."""

    def __init__(self) -> None:
        """Start with nothing pending."""
        self._pending: dict[str, dict[EnergyEvent, dict[str, object]]] = {}
        self._held: dict[str, dict[str, EnergyEvent]] = {}
        self._episodes: dict[tuple[str, EnergyEvent], _Episode] = {}
        self._last_logged: dict[tuple[str, EnergyEvent], float] = {}

    def record(
        self, tier: str, key: str, event: EnergyEvent | None, raw: object, *, held: bool
    ) -> None:
        """Note what happened to counter ``key`` on this poll."""
        held_now = self._held.setdefault(tier, {})
        if held and event in HELD_EVENTS:
            held_now[key] = event
        elif not held:
            held_now.pop(key, None)
        if event is not None:
            self._pending.setdefault(tier, {}).setdefault(event, {})[key] = raw

    def flush(self, tier: str, now: float) -> None:
        """Write this poll's summary lines for ``tier``."""
        pending = self._pending.pop(tier, {})
        held_now = self._held.get(tier, {})
        for event, seen in pending.items():
            if event in HELD_EVENTS:
                self._log_episode(tier, event, seen, now)
            else:
                self._log_once_an_hour(tier, event, seen, now)
        for (episode_tier, event), episode in list(self._episodes.items()):
            if episode_tier != tier:
                continue
            still = {key for key, kind in held_now.items() if kind is event}
            if still:
                continue
            del self._episodes[(episode_tier, event)]
            LOGGER.info(
                "Energy (%s): %s recovered; their totals carry on",
                tier,
                _describe(sorted(episode.keys)),
            )

    def _log_episode(
        self, tier: str, event: EnergyEvent, seen: dict[str, object], now: float
    ) -> None:
        """Log a held event when it starts, then at most once an hour."""
        episode = self._episodes.get((tier, event))
        if episode is None:
            self._episodes[(tier, event)] = _Episode(now, set(seen))
            self._write(logging.WARNING, tier, event, seen)
            return
        episode.keys.update(seen)
        if now - episode.logged_at >= REPEAT_LOG_S:
            episode.logged_at = now
            self._write(logging.WARNING, tier, event, seen, still=True)

    def _log_once_an_hour(
        self, tier: str, event: EnergyEvent, seen: dict[str, object], now: float
    ) -> None:
        """Log a one-off event as a warning at most once an hour, else at debug."""
        last = self._last_logged.get((tier, event))
        level = logging.DEBUG
        if last is None or now - last >= REPEAT_LOG_S:
            level = logging.WARNING
            self._last_logged[(tier, event)] = now
        self._write(level, tier, event, seen)

    @staticmethod
    def _write(
        level: int,
        tier: str,
        event: EnergyEvent,
        seen: dict[str, object],
        *,
        still: bool = False,
    ) -> None:
        """Write one summary line."""
        keys = sorted(seen)
        sample = ", ".join(f"{key}={seen[key]!r}" for key in keys[:_SAMPLE_KEYS])
        LOGGER.log(
            level,
            "Energy (%s): %s %s%s (gateway sent %s)",
            tier,
            _describe(keys),
            "still " if still else "",
            _MESSAGES[event],
            sample,
        )


def _describe(keys: list[str]) -> str:
    """Return "counter X" or "3 counters (X, Y, Z)" or "... and N more"."""
    if len(keys) == 1:
        return f"counter {keys[0]}"
    shown = ", ".join(keys[:_SAMPLE_KEYS])
    more = len(keys) - _SAMPLE_KEYS
    suffix = f" and {more} more" if more > 0 else ""
    return f"{len(keys)} counters ({shown}{suffix})"


class EnergyKeeper:
    """Owns one gateway's energy totals: guards, publishes, logs and saves them."""

    def __init__(self, book: EnergyBook, store: Store[dict[str, Any]]) -> None:
        """Keep ``book`` and save it to ``store``."""
        self.book = book
        self.store = store
        self.log = EnergyLog()
        self.today_offers: dict[SiteTotal, tuple[date, float]] = {}
        """The gateway's own count of today per site total, for install day."""

    @classmethod
    async def async_load(cls, hass: HomeAssistant, entry_id: str) -> EnergyKeeper:
        """Load the saved totals of a config entry (release 0.1.0 format too)."""
        store = energy_store(hass, entry_id)
        return cls(
            EnergyBook.from_dict(migrate_legacy(await store.async_load())), store
        )

    def guard(
        self,
        tier: str,
        key: str,
        raw: object,
        *,
        wraps: bool = False,
        max_power_w: float = CT_MAX_POWER_W,
        now: float | None = None,
    ) -> float | None:
        """Guard one raw lifetime counter; return its total."""
        tracker = self.book.lifetime(key, wraps=wraps, max_power_w=max_power_w)
        event = tracker.update(raw, time.time() if now is None else now)
        self.log.record(tier, key, event, raw, held=tracker.held)
        if event in _SAVE_NOW_EVENTS:
            self.save_soon()
        return tracker.value_wh

    def daily(self, key: str, total_wh: float | None, today: date) -> float | None:
        """Return energy since local midnight for a total."""
        return self.book.daily(key).update(total_wh, today)

    def seed_daily(
        self,
        key: str,
        today: date,
        total_wh: float | None,
        gateway_today_wh: float | None,
        *,
        max_wh: float,
    ) -> None:
        """Start a never-counted day at the gateway's own count (install day)."""
        # No lifetime rule here: an inverter's own counter wraps at 2^32 J, so
        # on the day it wraps its lifetime can be below its count of today.
        if (
            total_wh is not None
            and gateway_today_wh is not None
            and implausible_today(gateway_today_wh, max_wh) is None
        ):
            self.book.daily(key).seed(today, total_wh, gateway_today_wh)

    def offer_today(
        self,
        total: SiteTotal,
        today: date,
        gateway_today_wh: float | None,
        *,
        lifetime_wh: float | None,
        max_wh: float,
    ) -> None:
        """Offer the gateway's own count of today for a site total's first day.

        It is taken at the next publish only if the total has never been
        counted (install day) and the count is plausible: not above what the
        site could make since midnight, and below the lifetime it comes with
        (firmware 8.3.5528 reports today equal to lifetime).
        """
        if lifetime_wh is None or gateway_today_wh is None:
            return
        reason = implausible_today(gateway_today_wh, max_wh, lifetime_wh)
        if reason is not None:
            LOGGER.info(
                "Not starting today's %s at the gateway's own count of %.0f Wh (%s); "
                "today counts from now",
                total,
                gateway_today_wh,
                reason,
            )
            return
        self.today_offers[total] = (today, gateway_today_wh)

    def flush_log(self, tier: str) -> None:
        """Write the log lines of a finished poll."""
        self.log.flush(tier, time.time())

    def publish(self, flows: SiteFlows, today: date) -> SiteEnergy:
        """Turn the site flows into published totals that never move backwards."""
        book = self.book
        growth: dict[SiteTotal, float] = {}
        values: dict[SiteTotal, float | None] = {}

        def carry(total: SiteTotal, source: str, source_wh: float | None) -> None:
            """Carry ``total`` on from its source's reading."""
            carried = book.total(total)
            growth[total] = carried.update(source, source_wh)
            values[total] = carried.value_wh

        for total in _MEASURED_TOTALS:
            source = flows.energy.get(total)
            if isinstance(source, Measured):
                carry(total, source.source, source.total_wh)
        if flows.energy.get(SiteTotal.BATTERY_DISCHARGE) is Derived.BATTERY_POWER:
            integrator = book.integrator(BATTERY_INTEGRATOR_KEY)
            integrator.update(flows.battery_power_w, time.time())
            source_name = integrator_source(BATTERY_INTEGRATOR_KEY)
            carry(SiteTotal.BATTERY_DISCHARGE, source_name, integrator.positive_wh)
            carry(SiteTotal.BATTERY_CHARGE, source_name, integrator.negative_wh)
        if flows.energy.get(SiteTotal.GRID_IMPORT) is Derived.GRID_SPLIT:
            split = book.split(GRID_SPLIT_KEY)
            split.add(split_growth(growth))
            source_name = split_source(GRID_SPLIT_KEY)
            carry(SiteTotal.GRID_IMPORT, source_name, split.positive_wh)
            carry(SiteTotal.GRID_EXPORT, source_name, split.negative_wh)
        if flows.energy.get(SiteTotal.CONSUMPTION) is Derived.CONSUMPTION_BALANCE:
            balance = book.balance(SiteTotal.CONSUMPTION)
            start = balance_start(values)
            if start is not None:
                balance.start(start)
            balance.add(balance_growth(growth))
            values[SiteTotal.CONSUMPTION] = balance.value_wh
        totals = {total: value for total, value in values.items() if value is not None}
        today_values: dict[SiteTotal, float] = {}
        for total in DAILY_TOTALS:
            if total in totals:
                offer = self.today_offers.pop(total, None)
                if offer is not None and offer[0] == today:
                    # Only a day never counted takes it (``DailyTracker.seed``).
                    self.book.daily(total).seed(today, totals[total], offer[1])
                day = self.daily(total, totals[total], today)
                if day is not None:
                    today_values[total] = day
        return SiteEnergy(totals=totals, today=today_values)

    def roll_over(self, today: date) -> None:
        """Start a new day for every daily total."""
        self.book.roll_over(today)

    def save_soon(self) -> None:
        """Save shortly (a wrap offset must not be lost to a crash)."""
        self.store.async_delay_save(self.book.as_dict, 1)

    async def async_save(self) -> None:
        """Save now."""
        await self.store.async_save(self.book.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """Return the saved state, for diagnostics."""
        return self.book.as_dict()


def energy_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store that keeps a gateway's energy totals across restarts."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.energy")
