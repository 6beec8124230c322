"""Polling tiers over time: cadence, load on the gateway, failures and outages."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import CONF_LIVE_INTERVAL, DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import advance, make_entry, setup_entry, state_of

pytestmark = pytest.mark.usefixtures("daytime")
# (the nightly restart test moves the clock itself, after "daytime")


def _requests(simulator: EnvoySimulator) -> dict[str, int]:
    """Return how often each endpoint was requested since the last reset."""
    endpoints = simulator.stats()["endpoints"]
    return {path: int(stats["requests"]) for path, stats in endpoints.items()}


async def test_tier_cadence_and_gateway_load(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """CTs every 10 s, inverters every 60 s; nothing nobody listens to; Ruby never."""
    simulator.reset_stats()

    await advance(hass, freezer, 120)

    requests = _requests(simulator)
    assert 11 <= requests.get("/ivp/meters/readings", 0) <= 13
    assert 1 <= requests.get("/api/v1/production/inverters", 0) <= 3
    # Production comes from the CT here; the gateway's own day counters are
    # disabled entities, so /api/v1/production is not read at all.
    assert requests.get("/api/v1/production", 0) == 0
    assert requests.get("/ivp/meters", 0) == 0
    assert requests.get("/info", 0) == 0
    assert requests.get("/production.json", 0) == 0
    assert requests.get("/production", 0) == 0

    await advance(hass, freezer, 10 * 60, step=10)

    assert _requests(simulator).get("/ivp/meters", 0) == 1


async def test_live_interval_option_speeds_up_ct_polling(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 2 s live interval (EV charging) polls the CTs five times as often."""
    hass.config_entries.async_update_entry(
        init_integration, options={CONF_LIVE_INTERVAL: 2}
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    simulator.reset_stats()

    await advance(hass, freezer, 60, step=1)

    assert 29 <= _requests(simulator).get("/ivp/meters/readings", 0) <= 31


async def test_ct_values_follow_the_gateway(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Power follows each poll; energy totals only ever rise."""
    serial = simulator.serial
    powers: set[str] = set()
    totals: list[float] = []
    for _ in range(12):
        await advance(hass, freezer, 10)
        powers.add(state_of(hass, f"sensor.envoy_{simulator.serial}_production_power"))
        totals.append(float(state_of(hass, f"sensor.envoy_{serial}_production_energy")))

    assert len(powers) > 6
    assert totals == sorted(totals)
    assert totals[-1] > totals[0]


async def test_failing_inverter_tier_leaves_ct_entities_alone(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Inverter data failing for long makes only inverter entities unavailable."""
    inverter = simulator.profile.inverter_serial_start
    simulator.inject("/api/v1/production/inverters", "http_500")

    await advance(hass, freezer, 2 * 60, step=10)
    assert state_of(hass, f"sensor.inverter_{inverter}") != STATE_UNAVAILABLE

    await advance(hass, freezer, 5 * 60, step=10)
    assert state_of(hass, f"sensor.inverter_{inverter}") == STATE_UNAVAILABLE
    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_production_power")
        != STATE_UNAVAILABLE
    )
    assert (
        state_of(hass, f"binary_sensor.envoy_{simulator.serial}_gateway_reachable")
        == STATE_ON
    )

    simulator.clear_faults()
    await advance(hass, freezer, 70, step=10)
    assert state_of(hass, f"sensor.inverter_{inverter}") != STATE_UNAVAILABLE


async def test_short_outage_is_ridden_out(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A short outage (the nightly restart): totals stay, power says it is stale.

    An EV-charging automation must not act on minutes-old grid power, so
    power goes unavailable after three missed polls; energy totals ride the
    outage out, and everything is back without a reload.
    """
    serial = simulator.serial
    energy_id = f"sensor.envoy_{serial}_grid_import_energy"
    power_id = f"sensor.envoy_{serial}_grid_power"
    energy_before = float(state_of(hass, energy_id))
    simulator.inject("*", "outage", duration=150)

    await advance(hass, freezer, 20, step=10)
    assert state_of(hass, power_id) != STATE_UNAVAILABLE

    await advance(hass, freezer, 120, step=10)

    assert state_of(hass, power_id) == STATE_UNAVAILABLE
    assert float(state_of(hass, energy_id)) >= energy_before
    assert (
        state_of(hass, f"binary_sensor.envoy_{serial}_gateway_reachable") == STATE_OFF
    )

    await advance(hass, freezer, 30, step=5)

    assert state_of(hass, f"binary_sensor.envoy_{serial}_gateway_reachable") == STATE_ON
    assert state_of(hass, power_id) != STATE_UNAVAILABLE
    assert float(state_of(hass, energy_id)) >= energy_before


async def test_long_outage_makes_live_entities_unavailable(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Beyond the grace period the data is stale, and entities say so."""
    energy_id = f"sensor.envoy_{simulator.serial}_production_energy"
    simulator.inject("*", "outage", duration=900)

    await advance(hass, freezer, 270, step=10)
    assert state_of(hass, energy_id) != STATE_UNAVAILABLE

    await advance(hass, freezer, 60, step=10)

    assert state_of(hass, energy_id) == STATE_UNAVAILABLE
    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_production_power")
        == STATE_UNAVAILABLE
    )
    assert init_integration.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows == []


async def test_nightly_restart_does_not_flap_entities(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """Through the gateway's restart after 23:00 energy holds; live power says it is stale.

    Energy totals ride the 1-5 minute restart out (no gaps in statistics);
    power goes unavailable after three missed polls rather than showing a
    minutes-old value to an automation, and returns with the gateway.
    """
    freezer.move_to("2025-07-29T05:58:00+00:00")  # 22:58 in Los Angeles
    async with EnvoySimulator(
        "metered_split", port=0, cloud_port=None, seed=1, daily_outage=True
    ) as sim:
        entry = make_entry(sim)
        await setup_entry(hass, entry)
        energy_id = f"sensor.envoy_{sim.serial}_grid_import_energy"
        power_id = f"sensor.envoy_{sim.serial}_grid_power"
        unavailable_polls = 0
        totals: list[float] = []
        for _ in range(60):  # ten minutes
            await advance(hass, freezer, 10)
            unavailable_polls += state_of(hass, power_id) == STATE_UNAVAILABLE
            totals.append(float(state_of(hass, energy_id)))
        power_after = state_of(hass, power_id)

        failures = sum(
            stats["status"].get("0", 0) + stats["status"].get("503", 0)
            for stats in sim.stats()["endpoints"].values()
        )
        await hass.config_entries.async_unload(entry.entry_id)

    assert failures > 0  # the restart really happened
    assert 0 < unavailable_polls <= 18  # at most the 3 minute outage
    assert power_after != STATE_UNAVAILABLE
    assert totals == sorted(totals)
