"""Energy correctness rules: what the Energy dashboard receives from raw counters."""

from datetime import date

from homeassistant.core import HomeAssistant
import pytest

from custom_components.enphase_local.bookkeeping import (
    EnergyKeeper,
    energy_store,
    implausible_today,
)
from custom_components.enphase_local.counters import (
    RESET_CONFIRM_SECONDS,
    WRAP_WH,
    DailyTracker,
    EnergyBook,
    EnergyEvent,
    LifetimeTracker,
    SplitIntegrator,
)
from custom_components.enphase_local.keys import SiteTotal

START = 1_753_700_000.0
MINUTE = 60.0


def _guard(
    book: EnergyBook,
    key: str,
    raw: float,
    now: float,
    *,
    wraps: bool,
    max_power_w: float,
) -> tuple[float | None, EnergyEvent | None]:
    """Feed one reading of counter ``key``; return its total and any event."""
    tracker = book.lifetime(key, wraps=wraps, max_power_w=max_power_w)
    event = tracker.update(raw, now)
    return tracker.value_wh, event


def _feed(
    tracker: LifetimeTracker, readings: list[float], *, step: float = MINUTE
) -> list[tuple[float | None, EnergyEvent | None]]:
    """Feed readings one poll apart; return the total and event after each."""
    results: list[tuple[float | None, EnergyEvent | None]] = []
    for index, raw in enumerate(readings):
        event = tracker.update(raw, START + index * step)
        results.append((tracker.value_wh, event))
    return results


def test_normal_counter_passes_through() -> None:
    """A counter that rises plausibly is shown as is."""
    tracker = LifetimeTracker(wraps=False, max_power_w=10_000)

    results = _feed(tracker, [19_229_325.0, 19_229_400.0, 19_229_480.5])

    assert results == [
        (19_229_325.0, None),
        (19_229_400.0, None),
        (19_229_480.5, None),
    ]


def test_wrap_of_one_inverter_is_corrected_and_total_carries_on() -> None:
    """A 32-bit joule wrap drops a total by ~1.193 MWh: the shown total does not."""
    tracker = LifetimeTracker(wraps=True, max_power_w=30_000)
    before_wrap = 1_193_000.0
    after_wrap = before_wrap + 60.0 - WRAP_WH

    results = _feed(tracker, [before_wrap, after_wrap, after_wrap + 40.0])

    assert results[1][0] == pytest.approx(before_wrap + 60.0)
    assert results[1][1] is EnergyEvent.WRAP_CORRECTED
    assert results[2][0] == pytest.approx(before_wrap + 100.0)
    assert results[2][1] is None
    assert tracker.offset_wh == pytest.approx(WRAP_WH)


def test_wrap_is_not_applied_to_counters_that_do_not_wrap() -> None:
    """A CT counter dropping by the wrap amount is a glitch, not a wrap."""
    tracker = LifetimeTracker(wraps=False, max_power_w=30_000)

    results = _feed(tracker, [2_000_000.0, 2_000_000.0 - WRAP_WH + 10.0])

    assert results[1] == (2_000_000.0, EnergyEvent.DROP_HELD)


def test_zero_glitch_is_held_and_recovery_is_seamless() -> None:
    """A lifetime reading of 0 after a reboot never reaches the dashboard."""
    tracker = LifetimeTracker(wraps=True, max_power_w=5_000)

    results = _feed(tracker, [500_000.0, 0.0, 0.0, 500_050.0])

    assert [value for value, _event in results] == [
        500_000.0,
        500_000.0,
        500_000.0,
        500_050.0,
    ]
    assert [event for _value, event in results] == [
        None,
        EnergyEvent.DROP_HELD,
        EnergyEvent.DROP_HELD,
        None,
    ]


def test_zeros_never_confirm_a_reset() -> None:
    """Hours of zeros are a broken counter, not a new one."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(800_000.0, START)

    for minute in range(1, 300):
        assert tracker.update(0.0, START + minute * MINUTE) is EnergyEvent.DROP_HELD

    assert tracker.value_wh == 800_000.0
    assert tracker.update(800_010.0, START + 300 * MINUTE) is None
    assert tracker.value_wh == 800_010.0


def test_first_reading_of_zero_waits_for_a_real_number() -> None:
    """A gateway that boots into zeros does not start the total at 0."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)

    results = _feed(tracker, [0.0, 0.0, 123_456.0])

    assert [value for value, _event in results] == [None, None, 123_456.0]


def test_counter_that_never_counted_starts_at_zero_once_zeros_persist() -> None:
    """A counter that is genuinely 0 (a load CT's received energy) is shown as 0."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)

    results = _feed(tracker, [0.0] * 20)

    shown = [value for value, _event in results]
    assert shown[0] is None
    assert shown[-1] == 0.0
    assert shown.index(0.0) >= RESET_CONFIRM_SECONDS / MINUTE
    assert tracker.update(3.0, START + 21 * MINUTE) is None
    assert tracker.value_wh == 3.0


def test_real_reset_is_accepted_once_it_persists_and_never_decreases() -> None:
    """A restarted counter: the total carries on from the held value, counting its growth.

    What the restarted counter made while it was doubted is not lost: the
    accepted total is the held one plus the growth since the restart.
    """
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(1_000_000.0, START)
    minutes = int(RESET_CONFIRM_SECONDS / MINUTE) + 2
    shown: list[float] = []
    events: list[EnergyEvent | None] = []
    for minute in range(1, minutes + 1):
        events.append(tracker.update(10.0 + minute, START + minute * MINUTE))
        assert tracker.value_wh is not None
        shown.append(tracker.value_wh)

    assert shown[0] == 1_000_000.0
    assert EnergyEvent.RESET_ACCEPTED in events
    accepted_at = events.index(EnergyEvent.RESET_ACCEPTED)
    assert all(value == 1_000_000.0 for value in shown[:accepted_at])
    assert shown[accepted_at] == pytest.approx(1_000_000.0 + accepted_at)
    assert shown[-1] == pytest.approx(1_000_000.0 + minutes - 1)
    assert shown == sorted(shown)


def test_implausible_jump_is_held_then_accepted_when_it_persists() -> None:
    """A counter that leaps far beyond what the site could produce is doubted first."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(100_000.0, START)

    held = tracker.update(900_000.0, START + MINUTE)
    assert held is EnergyEvent.JUMP_HELD
    assert tracker.value_wh == 100_000.0

    events = [
        tracker.update(900_000.0 + minute, START + minute * MINUTE)
        for minute in range(2, 14)
    ]

    assert EnergyEvent.JUMP_ACCEPTED in events
    assert tracker.value_wh == 900_013.0


def test_one_off_jump_is_dropped() -> None:
    """A single wild reading leaves no trace once the counter is sane again."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)

    results = _feed(tracker, [100_000.0, 5_000_000.0, 100_050.0, 100_100.0])

    assert [value for value, _event in results] == [
        100_000.0,
        100_000.0,
        100_050.0,
        100_100.0,
    ]


def test_long_outage_allows_a_proportional_rise() -> None:
    """After a day away, a day's worth of energy is plausible."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(100_000.0, START)

    event = tracker.update(130_000.0, START + 24 * 3600)

    assert event is None
    assert tracker.value_wh == 130_000.0


@pytest.mark.parametrize("raw", [-5.0, float("nan"), float("inf"), "12", True])
def test_invalid_readings_are_held(raw: object) -> None:
    """Negative, non-finite and non-numeric readings never reach the total."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(1_000.0, START)

    assert tracker.update(raw, START + MINUTE) is EnergyEvent.INVALID
    assert tracker.value_wh == 1_000.0


def test_missing_reading_is_silently_held() -> None:
    """A field the gateway left out keeps the last total without a warning."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.update(1_000.0, START)

    assert tracker.update(None, START + MINUTE) is None
    assert tracker.value_wh == 1_000.0


def test_jitter_is_ignored() -> None:
    """A float counter that dips a fraction of a Wh is not a glitch."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)

    results = _feed(tracker, [1_000.0, 999.8, 1_000.4])

    assert results == [(1_000.0, None), (1_000.0, None), (1_000.4, None)]


def test_book_remembers_wrap_offsets_across_restarts() -> None:
    """A corrected wrap survives a restart: the total does not fall back by 1.193 MWh."""
    book = EnergyBook()
    near_wrap = WRAP_WH - 5.0
    _guard(book, "inverter_1", near_wrap, START, wraps=True, max_power_w=1_000)
    total, event = _guard(
        book, "inverter_1", 5.0, START + MINUTE, wraps=True, max_power_w=1_000
    )
    assert event is EnergyEvent.WRAP_CORRECTED

    restored = EnergyBook.from_dict(book.as_dict())
    after, event = _guard(
        restored, "inverter_1", 15.0, START + 2 * MINUTE, wraps=True, max_power_w=1_000
    )

    assert total == pytest.approx(WRAP_WH + 5.0)
    assert event is None
    assert after == pytest.approx(WRAP_WH + 15.0)


def test_book_keeps_state_of_counters_not_seen_since_restart() -> None:
    """Saving before every counter has reported again keeps the others' state."""
    book = EnergyBook()
    _guard(book, "a", 10.0, START, wraps=False, max_power_w=1_000)
    _guard(book, "b", 20.0, START, wraps=False, max_power_w=1_000)
    book.daily("a").update(10.0, date(2025, 7, 28))

    restored = EnergyBook.from_dict(book.as_dict())
    _guard(restored, "a", 11.0, START + MINUTE, wraps=False, max_power_w=1_000)
    saved = restored.as_dict()

    assert saved["lifetimes"]["a"]["value_wh"] == 11.0
    assert saved["lifetimes"]["b"]["value_wh"] == 20.0
    assert saved["dailies"]["a"]["baseline_wh"] == 10.0


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "garbage",
        {"lifetimes": {"a": {"value_wh": -1, "last_raw_wh": 1, "offset_wh": 0}}},
        {"lifetimes": {"a": {"value_wh": "x"}}},
        {"lifetimes": ["not", "a", "dict"], "splits": {"grid": {"import_wh": -4}}},
        {"dailies": {"a": {"day": "not-a-date", "baseline_wh": 1, "last_total_wh": 2}}},
        {"dailies": {"a": {"day": "2025-07-28", "baseline_wh": None}}},
    ],
)
def test_book_ignores_damaged_storage(stored: object) -> None:
    """A damaged store starts afresh instead of crashing or inventing totals."""
    book = EnergyBook.from_dict(stored)

    total, _event = _guard(book, "a", 50.0, START, wraps=False, max_power_w=1_000)

    assert total == 50.0
    assert book.daily("a").update(50.0, date(2025, 7, 28)) == 0.0
    assert book.split("grid").positive_wh == 0.0


def test_daily_energy_resets_at_local_midnight() -> None:
    """Energy today counts from the total at midnight, never from the gateway's whToday."""
    tracker = DailyTracker()
    monday, tuesday = date(2025, 7, 28), date(2025, 7, 29)

    assert tracker.update(1_000.0, monday) == 0.0
    assert tracker.update(1_250.0, monday) == 250.0
    tracker.roll_over(tuesday)
    assert tracker.value(tuesday) == 0.0
    assert tracker.update(1_300.0, tuesday) == 50.0


def test_daily_energy_after_a_restart_that_spans_midnight() -> None:
    """When Home Assistant was down over midnight, today starts from the last total seen."""
    tracker = DailyTracker()
    tracker.update(1_000.0, date(2025, 7, 28))
    tracker.update(1_400.0, date(2025, 7, 28))

    restored = DailyTracker()
    restored.restore(tracker.as_dict())

    assert restored.value(date(2025, 7, 29)) == 0.0
    assert restored.update(1_500.0, date(2025, 7, 29)) == 100.0


def test_daily_energy_unknown_until_a_total_exists() -> None:
    """No total yet means no daily value, not zero."""
    tracker = DailyTracker()

    assert tracker.update(None, date(2025, 7, 28)) is None
    assert tracker.value(date(2025, 7, 28)) is None


def test_roll_over_twice_on_the_same_day_keeps_the_baseline() -> None:
    """A second midnight callback the same day changes nothing."""
    tracker = DailyTracker()
    tracker.update(1_000.0, date(2025, 7, 28))
    tracker.roll_over(date(2025, 7, 29))
    tracker.update(1_100.0, date(2025, 7, 29))
    tracker.roll_over(date(2025, 7, 29))

    assert tracker.value(date(2025, 7, 29)) == 100.0


def test_split_integrator_splits_import_and_export() -> None:
    """A load-only site gets grid import/export from each step of load minus production."""
    grid = SplitIntegrator()
    grid.add(300.0 - 100.0)  # used 300, made 100: imported 200
    grid.add(50.0 - 500.0)  # used 50, made 500: exported 450
    grid.add(0.0)

    assert grid.positive_wh == pytest.approx(200.0)
    assert grid.negative_wh == pytest.approx(450.0)


def test_inconsistent_restored_state_never_lowers_the_total() -> None:
    """Stored state that disagrees with itself is resolved upwards, never down."""
    tracker = LifetimeTracker(wraps=False, max_power_w=5_000)
    tracker.restore(
        {
            "value_wh": 100.0,
            "last_raw_wh": 10.0,
            "offset_wh": 0.0,
            "last_accepted": START,
        }
    )

    tracker.update(11.0, START + MINUTE)
    first = tracker.value_wh
    tracker.update(12.0, START + 2 * MINUTE)

    assert first == 100.0
    assert tracker.value_wh == 101.0


@pytest.mark.parametrize(
    ("today_wh", "lifetime_wh", "max_wh", "reason"),
    [
        (65_000.0, 6_000_000.0, 80_000.0, None),
        (0.0, 0.0, 80_000.0, None),
        (362.0, 200.0, 11_000.0, None),
        (362.0, None, 11_000.0, None),
        (6_361_572.0, 6_361_572.0, 9e9, "equal to the lifetime total"),
        (40_000.0, 6_000_000.0, 2_500.0, "more than the site can produce"),
        (-5.0, 6_000_000.0, 80_000.0, "not a count"),
        (float("nan"), 6_000_000.0, 80_000.0, "not a count"),
        (None, 6_000_000.0, 80_000.0, "not a count"),
    ],
    ids=[
        "plausible",
        "night",
        "wrapped_lifetime",
        "no_lifetime",
        "equals_lifetime",
        "late_reset",
        "negative",
        "nan",
        "none",
    ],
)
def test_gateway_count_of_today_is_judged(
    today_wh: float | None,
    lifetime_wh: float | None,
    max_wh: float,
    reason: str | None,
) -> None:
    """Install day takes the gateway's today only when it can be true (trap 3)."""
    verdict = implausible_today(today_wh, max_wh, lifetime_wh)

    if reason is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert verdict.startswith(reason)


async def test_an_implausible_count_of_today_is_logged_and_not_used(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A count of today equal to the lifetime (fw 8.3.5528) leaves today at 0."""
    keeper = EnergyKeeper(EnergyBook(), energy_store(hass, "install_day"))
    day = date(2025, 7, 28)

    keeper.offer_today(
        SiteTotal.PRODUCTION, day, 6_361_572.0, lifetime_wh=6_361_572.0, max_wh=9e9
    )

    assert "equal to the lifetime total" in caplog.text
    assert SiteTotal.PRODUCTION not in keeper.today_offers

    # A plausible count is kept for the first publish of the day.
    keeper.offer_today(
        SiteTotal.PRODUCTION, day, 18_000.0, lifetime_wh=6_361_572.0, max_wh=9e9
    )
    assert keeper.today_offers[SiteTotal.PRODUCTION] == (day, 18_000.0)
