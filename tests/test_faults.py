"""The fault matrix: nothing freezes, nothing dies, no energy total moves wrongly.

Each scenario reproduces, over real sockets, a failure a fault matrix found,
and asserts what a user sees: entity states and availability over time,
totals that never decrease or jump, recovery without a reload, and how many
log lines it cost.
"""

import itertools
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_local.connection import (
    CLIENT_SETTINGS,
    CLOUD_ENDPOINTS,
    ClientSettings,
)
from custom_components.enphase_local.const import DOMAIN
from custom_components.enphase_local.envoy import CloudEndpoints
from envoy_simulator import EnvoySimulator, FaultKind

from .envoy.helpers import closed_port
from .helpers import advance, make_entry, setup_entry, state_of

pytestmark = pytest.mark.usefixtures("daytime")


def _kwh(hass: HomeAssistant, entity_id: str) -> float:
    """Return an energy state in kWh."""
    return float(state_of(hass, entity_id))


def _requests(simulator: EnvoySimulator, path: str) -> int:
    """Return how often the gateway answered ``path`` since the last reset."""
    return int(simulator.stats()["endpoints"].get(path, {}).get("requests", 0))


def _energy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the energy lines logged at warning level."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and "Energy (" in record.getMessage()
    ]


@pytest.mark.usefixtures("all_entities_enabled")
async def test_production_ct_off_and_on_again_carries_the_totals_on(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Disabling then re-enabling the production CT moves no total and keeps today.

    The source changes from the CT to /api/v1/production and back; the
    published total only takes each source's growth, so the Energy dashboard
    sees neither the 2.39 MWh drop nor the jump back, and nothing reloads.
    """
    serial = simulator.serial
    energy_id = f"sensor.envoy_{serial}_production_energy"
    today_id = f"sensor.envoy_{serial}_production_today"
    runtime = init_integration.runtime_data
    await advance(hass, freezer, 60)
    totals = [_kwh(hass, energy_id)]
    today_before = _kwh(hass, today_id)

    simulator.set_meter("production", enabled=False)
    for _ in range(24):
        await advance(hass, freezer, 10)
        totals.append(_kwh(hass, energy_id))
    assert runtime.site.data is not None
    source_without_ct = runtime.site.data.production_source
    simulator.set_meter("production", enabled=True)
    for _ in range(6):
        await advance(hass, freezer, 10)
        totals.append(_kwh(hass, energy_id))

    # Back on the CT within a minute, not at the next 10-minute meters poll.
    assert runtime.site.data.production_source == "ct"
    assert state_of(hass, f"sensor.envoy_{serial}_production_ct_metering_status") == (
        "normal"
    )
    assert init_integration.runtime_data is runtime  # not reloaded
    assert source_without_ct == "api_production"
    assert totals == sorted(totals)
    assert max(b - a for a, b in itertools.pairwise(totals)) < 0.5
    assert _kwh(hass, today_id) >= today_before > 0


async def test_token_refused_while_the_cloud_is_down_recovers_by_itself(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 401 burst with renewal impossible: polling goes on, and recovers.

    The user is asked to sign in while it lasts; when the gateway accepts
    the token again, entities come back without a reload and the sign-in
    request closes itself.
    """
    hass.data[CLOUD_ENDPOINTS] = CloudEndpoints(
        login_url=f"http://127.0.0.1:{closed_port()}/login/login.json",
        tokens_url=f"http://127.0.0.1:{closed_port()}/tokens",
    )
    entry = make_entry(simulator, enlighten=True)
    await setup_entry(hass, entry)
    power_id = f"sensor.envoy_{simulator.serial}_grid_power"
    simulator.inject("*", "http_401", duration=120)

    await advance(hass, freezer, 100)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert state_of(hass, power_id) == STATE_UNAVAILABLE

    simulator.reset_stats()
    await advance(hass, freezer, 10 * 60)

    assert entry.state is ConfigEntryState.LOADED
    assert state_of(hass, power_id) != STATE_UNAVAILABLE
    assert _requests(simulator, "/ivp/meters/readings") >= 55
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_trickling_answer_is_cut_off_and_noticed(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A gateway trickling its answer holds no lock past the deadline; power says so."""
    hass.data[CLIENT_SETTINGS] = ClientSettings(retry_backoff_s=0.0, deadline_s=2.0)
    await setup_entry(hass, config_entry)
    serial = simulator.serial
    power_id = f"sensor.envoy_{serial}_grid_power"
    simulator.inject("/ivp/meters/readings", "trickle", bytes_per_second=50)

    # Tick without waiting for the stuck poll: only moving time ends it.
    for _ in range(60):
        freezer.tick(1)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()

    assert state_of(hass, power_id) == STATE_UNAVAILABLE
    assert (
        state_of(hass, f"binary_sensor.envoy_{serial}_gateway_reachable") == STATE_OFF
    )
    assert "did not finish within 2 s" in caplog.text

    simulator.clear_faults()
    await advance(hass, freezer, 20)

    assert state_of(hass, power_id) != STATE_UNAVAILABLE
    assert state_of(hass, f"binary_sensor.envoy_{serial}_gateway_reachable") == STATE_ON


@pytest.mark.parametrize(
    "kind",
    ["deep_nesting", "huge_numbers", "infinite_numbers", "unknown_encoding"],
)
async def test_hostile_bodies_cost_only_their_own_poll(
    hass: HomeAssistant,
    *,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    kind: FaultKind,
) -> None:
    """Hostile bodies never reach a sensor and never escape as a traceback."""
    serial = simulator.serial
    energy_id = f"sensor.envoy_{serial}_grid_import_energy"
    before = _kwh(hass, energy_id)
    simulator.inject("/ivp/meters/readings", kind, count=3)
    simulator.inject("/info", kind, count=1)
    init_integration.runtime_data.request_probe()

    await advance(hass, freezer, 60)

    assert "Traceback" not in caplog.text
    assert "inf" not in state_of(hass, energy_id)
    assert _kwh(hass, energy_id) >= before
    assert state_of(hass, f"sensor.envoy_{serial}_grid_power") != STATE_UNAVAILABLE
    assert init_integration.state is ConfigEntryState.LOADED


async def test_one_zero_glitch_logs_one_line_and_its_recovery(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every counter reading 0 for over a minute: one warning, one recovery line."""
    simulator.inject("/ivp/meters/readings", "zero_glitch", count=8)

    await advance(hass, freezer, 180)

    warnings = _energy_warnings(caplog)
    assert len(warnings) == 1
    assert "dropped; holding the last totals" in warnings[0]
    assert caplog.text.count("recovered; their totals carry on") == 1


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_firmware_push_to_tokens_asks_for_sign_in_within_minutes(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """5.x to 8.x: every request redirects, a probe runs at once, sign-in is asked.

    Not 4 hours later at the next scheduled /info check.
    """
    simulator.upgrade_firmware("metered_three_phase_storage", outage_seconds=60)

    await advance(hass, freezer, 6 * 60, step=30)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_fault_free_hour_holds_nothing_and_warns_nothing(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Inverter reports of 20-30 Wh every 5 minutes are not "implausible jumps"."""
    await advance(hass, freezer, 3600, step=30)

    assert _energy_warnings(caplog) == []
    book = init_integration.runtime_data.energy.book
    assert [key for key, tracker in book.lifetimes.items() if tracker.held] == []
