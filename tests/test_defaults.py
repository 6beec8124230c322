"""What a new user gets without touching a setting: entities, ids, states, logbook."""

from collections.abc import Iterator, Mapping
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.logbook.helpers import (
    _is_state_filtered as logbook_filters,
)
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from envoy_simulator import PROFILES, EnvoySimulator

from .helpers import advance, make_entry, setup_entry

pytestmark = pytest.mark.usefixtures("daytime")

INCUMBENT_ENABLED: dict[str, int | None] = {
    "legacy_standard": 14,
    "metered_split": 38,
    "metered_three_phase_storage": 95,
    "metered_no_ct": 20,
    "total_consumption": 34,
    "large_site": 134,
    "envoy_r_legacy": 16,
    "envoy_r_html_only": None,
    "metered_7x_no_ct": 16,
    "no_inverter_list": 22,
    "envoy_s_39_quirk": None,
    "iq_meter_collar": 42,
    "meters_missing_with_ct": 28,
    "mod_gone_everywhere": 30,
    "iq_battery_storage_ct": 105,
    "iq_battery_no_ct": 102,
    "acb_only": 60,
    "off_grid_event": 103,
}
"""Entities Home Assistant's built-in ``enphase_envoy`` enables on each profile.

Measured with ``python -m benchmarks.cpu --profile NAME --minutes 1`` (its
"entities" column: enabled entities with a state), Home Assistant 2026.10.4
with pyenphase 4.0.6. None: the built-in integration does not set up on that
profile (fw 3.7 with only the HTML page: "Unable to determine production
endpoint"; fw 3.9.18 never finishes its first refresh); there the bound of
the nearest shape it does set up on (legacy_standard) applies.
"""


def _enabled(hass: HomeAssistant, entry: MockConfigEntry) -> list[er.RegistryEntry]:
    """Return the entry's entities a new user has enabled."""
    registry = er.async_get(hass)
    return [
        entity
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.disabled_by is None
    ]


def test_every_profile_has_a_measured_bound() -> None:
    """A new simulator profile needs the built-in integration's count too."""
    assert set(INCUMBENT_ENABLED) == set(PROFILES)


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_enabled_entities_at_most_twice_the_built_in(
    hass: HomeAssistant, simulator: EnvoySimulator, profile: str
) -> None:
    """Each profile enables at most twice what the built-in integration does."""
    entry = make_entry(simulator)
    await setup_entry(hass, entry)

    enabled = _enabled(hass, entry)
    bound = INCUMBENT_ENABLED[profile] or INCUMBENT_ENABLED["legacy_standard"]
    assert bound is not None

    assert 0 < len(enabled) <= 2 * bound, sorted(e.entity_id for e in enabled)
    # What the Energy dashboard needs is always among them.
    assert f"sensor.envoy_{simulator.serial}_production_energy" in {
        entity.entity_id for entity in enabled
    }


@pytest.fixture
def logbook_entries(hass: HomeAssistant) -> Iterator[list[str]]:
    """Collect the state changes Home Assistant's logbook would list."""
    entries: list[str] = []

    @callback
    def _record(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and not logbook_filters(new, old):
            entries.append(new.entity_id)

    unsubscribe = hass.bus.async_listen("state_changed", _record)
    yield entries
    unsubscribe()


@pytest.mark.parametrize("profile", ["metered_three_phase_storage", "large_site"])
async def test_an_hour_of_polling_leaves_the_logbook_quiet(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    logbook_entries: list[str],
) -> None:
    """No timestamp sensor, and nothing else, fills the Activity log by default."""
    entry = make_entry(simulator)
    await setup_entry(hass, entry)
    timestamps = {
        state.entity_id
        for state in hass.states.async_all("sensor")
        if state.attributes.get(ATTR_DEVICE_CLASS) == SensorDeviceClass.TIMESTAMP
    }

    await advance(hass, freezer, 3600, step=10)

    assert set(logbook_entries) & timestamps == set()
    # A quiet sunny hour: at most the odd battery or relay change.
    assert len(logbook_entries) <= 6, logbook_entries


async def test_two_gateways_never_share_entity_ids(
    hass: HomeAssistant, simulator: EnvoySimulator, socket_enabled: None
) -> None:
    """Two gateways' CT devices get ids with their serial: no ``_2`` suffixes."""
    first = make_entry(simulator)
    await setup_entry(hass, first)
    async with EnvoySimulator(
        "total_consumption", latency=False, port=0, cloud_port=0, seed=2
    ) as other:
        second = make_entry(other)
        await setup_entry(hass, second)

        ids = {
            entry.entry_id: {entity.entity_id for entity in _enabled(hass, entry)}
            for entry in (first, second)
        }
        serials = {first.entry_id: simulator.serial, second.entry_id: other.serial}
        for entry_id, entity_ids in ids.items():
            for entity_id in entity_ids:
                assert not entity_id.endswith("_2"), entity_id
                if "_ct_" in entity_id:
                    assert serials[entry_id] in entity_id
        # Both have a production CT device: each gets its own ids.
        for entry_id, serial in serials.items():
            problem = f"binary_sensor.envoy_{serial}_production_ct_metering_problem"
            assert problem in ids[entry_id]
        assert await hass.config_entries.async_unload(second.entry_id)
        await hass.async_block_till_done()


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize(
    "profile", ["metered_three_phase_storage", "legacy_standard", "envoy_r_legacy"]
)
async def test_numeric_states_are_rounded_and_have_a_display_precision(
    hass: HomeAssistant, simulator: EnvoySimulator, freezer: FrozenDateTimeFactory
) -> None:
    """No ``0.00372000000003027`` kWh: the source's resolution, a precision set."""
    entry = make_entry(simulator)
    await setup_entry(hass, entry)
    await advance(hass, freezer, 120, step=10)
    registry = er.async_get(hass)

    numeric = 0
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        state = hass.states.get(entity.entity_id)
        if entity.domain != "sensor" or state is None:
            continue
        if ATTR_UNIT_OF_MEASUREMENT not in state.attributes:
            continue
        numeric += 1
        sensor_options: Mapping[str, Any] = entity.options.get("sensor", {})
        precision = sensor_options.get("suggested_display_precision")
        assert precision is not None, entity.entity_id
        try:
            value = float(state.state)
        except ValueError:
            continue
        assert math.isfinite(value)
        # The gateway's resolution (mWh, mA, ...) shown in kWh, kVAh, A ...:
        # six decimals at most, never float noise such as 0.00372000000003027.
        _, _, decimals = state.state.partition(".")
        assert len(decimals) <= 6, (entity.entity_id, state.state)
    assert numeric > 10
