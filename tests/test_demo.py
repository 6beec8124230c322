"""The demo's pure helpers (scripts/demo_setup.py): site wiring, requirements, history."""

from datetime import UTC, datetime
from typing import Any

import pytest

from envoy_simulator.profiles import PROFILES
from scripts import demo_setup
from scripts.demo_setup import (
    CounterSeries,
    DemoError,
    SiteEntities,
    clock_argument,
    energy_preferences,
    first_live_hour,
    history_sensors,
    merge_energy_preferences,
    plan_import,
)

BATTERY_PROFILES = (
    "iq_battery_storage_ct",
    "iq_battery_no_ct",
    "acb_only",
    "off_grid_event",
    "metered_three_phase_storage",
)
HOUR = 3600.0
NOON = datetime(2026, 6, 15, 12, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("name", BATTERY_PROFILES)
def test_battery_sites_get_a_battery_on_the_energy_dashboard(name: str) -> None:
    site = SiteEntities.of(PROFILES[name])
    assert site.battery
    sources = {
        source["type"]: source for source in energy_preferences(site)["energy_sources"]
    }
    serial = PROFILES[name].serial
    assert sources["battery"]["stat_energy_to"] == (
        f"sensor.envoy_{serial}_battery_charge_energy"
    )
    assert sources["battery"]["stat_energy_from"] == (
        f"sensor.envoy_{serial}_battery_discharge_energy"
    )
    assert f"sensor.envoy_{serial}_battery_charge_energy" in site.energy_sensors()


def test_the_default_profile_has_batteries_and_sites_without_have_none() -> None:
    parser = demo_setup.build_parser()
    assert "metered_three_phase_storage" in BATTERY_PROFILES
    assert parser.parse_args(["serial", "--profile", "metered_split"])
    assert not SiteEntities.of(PROFILES["metered_split"]).battery
    assert not SiteEntities.of(PROFILES["legacy_standard"]).grid
    assert SiteEntities.of(PROFILES["total_consumption"]).grid


def test_older_energy_preferences_get_the_battery_and_keep_their_own() -> None:
    site = SiteEntities.of(PROFILES["iq_battery_no_ct"])
    wanted = energy_preferences(site)
    older = energy_preferences(
        SiteEntities(site.serial, grid=True, battery=False, consumption=True)
    )
    older["energy_sources"][0]["stat_rate"] = "sensor.my_own_power"
    merged = merge_energy_preferences(older, wanted)
    assert merged is not None
    assert [source["type"] for source in merged["energy_sources"]] == [
        "solar",
        "grid",
        "battery",
    ]
    assert merged["energy_sources"][0]["stat_rate"] == "sensor.my_own_power"
    assert merge_energy_preferences(merged, wanted) is None


def test_history_sensors_map_the_gateway_totals_to_the_simulator_counters() -> None:
    site = SiteEntities.of(PROFILES["metered_three_phase_storage"])
    preferences = energy_preferences(site)
    preferences["energy_sources"].append(
        {"type": "solar", "stat_energy_from": "sensor.someone_elses_energy"}
    )
    states: dict[str, Any] = {entity: {} for entity in site.energy_sensors()}
    states["sensor.someone_elses_energy"] = {}
    found = history_sensors(site.serial, preferences, states)
    assert found == {
        site.sensor("production_energy"): "production_wh",
        site.sensor("grid_import_energy"): "grid_import_wh",
        site.sensor("grid_export_energy"): "grid_export_wh",
        site.sensor("battery_discharge_energy"): "battery_discharge_wh",
        site.sensor("battery_charge_energy"): "battery_charge_wh",
        site.sensor("consumption_energy"): "consumption_wh",
    }


def test_requirements_cover_what_the_first_start_would_fetch() -> None:
    domains = demo_setup.demo_domains([*demo_setup.CONFIG_DOMAINS, demo_setup.DOMAIN])
    # The UI's service list imports camera and conversation; our manifest asks
    # for zeroconf; energy and the frontend are configured.
    assert {"camera", "conversation", "zeroconf", "frontend", "energy"} <= domains
    assert demo_setup.DOMAIN in domains
    names = {
        line.split("==")[0].lower() for line in demo_setup.demo_requirements(domains)
    }
    assert {"pyturbojpeg", "home-assistant-frontend", "hassil"} <= names


def test_addresses() -> None:
    assert demo_setup.connect_host("0.0.0.0") == "127.0.0.1"  # noqa: S104
    assert demo_setup.url_host("::") == "[::1]"
    assert demo_setup.url_host("192.168.1.5") == "192.168.1.5"


# --- the clock ----------------------------------------------------------------------


def test_time_of_day_runs_the_clock_forward_only() -> None:
    zone = "Europe/Amsterdam"
    evening = datetime(2026, 6, 15, 21, 30, tzinfo=UTC).timestamp()  # 23:30 there
    assert clock_argument(zone, None, None, evening) == (None, None)
    assert clock_argument(zone, "12:00", None, evening) == ("12:00", None)
    # An earlier run took the clock to 14:00 there: 12:00 would turn it back.
    reached = datetime(2026, 6, 15, 12, tzinfo=UTC).timestamp()
    with pytest.raises(DemoError, match="turn it back"):
        clock_argument(zone, "12:00", reached, evening)
    assert clock_argument(zone, "15:00", reached, evening) == ("15:00", None)
    # Far ahead of the run before: said, since the totals jump.
    _time, note = clock_argument(zone, "15:00", reached, evening, -12 * HOUR)
    assert note is not None
    assert "jump" in note
    # Real time is past it: real time again.
    assert clock_argument(zone, None, reached, evening) == (None, None)


def test_a_clock_ahead_of_real_time_goes_on_where_it_stopped() -> None:
    zone = "Europe/Amsterdam"
    morning = datetime(2026, 6, 15, 6, tzinfo=UTC).timestamp()  # 08:00 there
    reached = datetime(2026, 6, 15, 11, 59, 30, tzinfo=UTC).timestamp()
    time_arg, note = clock_argument(zone, None, reached, morning)
    assert time_arg == "14:00"
    assert note is not None
    with pytest.raises(DemoError, match="HH:MM"):
        clock_argument(zone, "25:00", None, morning)


# --- the history --------------------------------------------------------------------


def series(start: float, hours: int, rate: float = 1000.0) -> CounterSeries:
    """Return a counter growing ``rate`` Wh an hour, at the start of each hour."""
    times = tuple(start + HOUR * n for n in range(hours))
    return CounterSeries(times, tuple(5e6 + rate * n for n in range(hours)))


def test_counter_series_interpolates_and_carries_on() -> None:
    counter = series(NOON, 3, rate=600.0)
    assert counter.at(NOON) == 5e6
    assert counter.at(NOON + 1800.0) == pytest.approx(5e6 + 300.0)
    assert counter.at(NOON + 3 * HOUR) == pytest.approx(5e6 + 1800.0)
    with pytest.raises(ValueError, match="starts after"):
        counter.at(NOON - 1.0)
    rows: list[dict[str, Any]] = [
        {"start": NOON, "grid_import_wh": None},
        {"start": NOON + HOUR, "grid_import_wh": None},
    ]
    assert CounterSeries.from_history(rows, "grid_import_wh") is None


def test_a_week_leads_into_the_live_statistics() -> None:
    counter = series(NOON - 170 * HOUR, 171)
    first_live = NOON
    kwh = 1e-3
    # The sensor reads the counter plus 2 kWh; the recorder's first live
    # 5-minute statistic started its sum at 0 from a zero point of its own.
    live_state = (counter.at(NOON + 600.0) + 2000.0) * kwh
    planned = plan_import(
        counter,
        offset_s=0.0,
        first_live_hour=first_live,
        first_hour=None,
        hours=168,
        delta_wh=2000.0,
        factor=kwh,
        earliest_live=(live_state, 0.123),
    )
    assert len(planned.rows) == 168
    assert planned.rows[0]["start"] == NOON - 168 * HOUR
    assert planned.rows[-1]["start"] == NOON - HOUR
    assert planned.rows[0]["sum"] == pytest.approx(1.0)  # one hour, 1 kWh
    assert planned.rows[-1]["sum"] == pytest.approx(168.0)
    for row in planned.rows:
        assert row["state"] - row["sum"] == pytest.approx(planned.base)
    assert planned.adjustment is not None
    live_sum = 0.123 + planned.adjustment
    assert live_state - live_sum == pytest.approx(planned.live_base, abs=1e-9)
    assert planned.live_base < planned.base
    # Ten minutes into the first live hour the sum has grown by its energy.
    assert live_sum - planned.rows[-1]["sum"] == pytest.approx(
        1000.0 / 6 * kwh, abs=1e-4
    )


def test_a_later_import_keeps_the_first_hour_and_a_shifted_clock() -> None:
    counter = series(NOON - 175 * HOUR, 177)
    first = plan_import(
        counter,
        offset_s=0.0,
        first_live_hour=NOON - 2 * HOUR,
        first_hour=None,
        hours=168,
        delta_wh=0.0,
        factor=1.0,
        earliest_live=None,
    )
    assert first.adjustment is None
    later = plan_import(
        counter,
        offset_s=0.0,
        first_live_hour=NOON,
        first_hour=first.first_hour,
        hours=168,
        delta_wh=0.0,
        factor=1.0,
        earliest_live=None,
    )
    assert len(later.rows) == 170
    assert later.rows[:168] == first.rows
    # With the simulator's clock 7.5 hours behind, its counters still fill
    # whole hours of real time.
    shifted = plan_import(
        counter,
        offset_s=-7.5 * HOUR,
        first_live_hour=NOON,
        first_hour=None,
        hours=24,
        delta_wh=0.0,
        factor=1.0,
        earliest_live=None,
    )
    assert [row["sum"] for row in shifted.rows[:2]] == pytest.approx([1000.0, 2000.0])


def test_the_first_live_hour() -> None:
    assert first_live_hour(None, None, None, None) is None
    # Nothing compiled yet: up to the hour of the first state, not for sure.
    assert first_live_hour(None, None, None, NOON + 120.0) == (NOON, False)
    # The earliest 5-minute statistic is live.
    assert first_live_hour(
        {"first_live_hour": NOON, "confirmed": False}, NOON + HOUR, NOON - HOUR, None
    ) == (NOON + HOUR, True)
    # Before any import, an older hourly statistic is live too.
    assert first_live_hour(None, NOON + HOUR, NOON - 5 * HOUR, None) == (
        NOON - 5 * HOUR,
        True,
    )
    # Once sure, it stays.
    assert first_live_hour(
        {"first_live_hour": NOON, "confirmed": True}, NOON + 9 * HOUR, None, None
    ) == (NOON, True)


def test_the_boundary_is_the_start_of_a_simulated_hour() -> None:
    assert demo_setup.next_boundary(NOON + 10.0, 0.0) == NOON + HOUR
    assert demo_setup.next_boundary(NOON + 10.0, -1800.0) == NOON + 1800.0
