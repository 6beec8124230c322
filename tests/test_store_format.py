"""The saved energy state is a storage format: release 0.1.0's stores still load.

Each file in fixtures/stores was written by release 0.1.0 against the
simulator: the store (``hass_storage`` of ``enphase_local.<entry_id>.energy``)
and the states it published at that moment. Upgrading must carry every total
on from where 0.1.0 left it, never restart it or let it fall back.
"""

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from custom_components.enphase_local.bookkeeping import migrate_legacy
from custom_components.enphase_local.counters import WRAP_WH, EnergyBook
from custom_components.enphase_local.keys import (
    LEGACY_GRID_KEY,
    LEGACY_LIFETIME_KEYS,
    CtCounter,
    SiteTotal,
    ct_key,
    inverter_key,
    split_source,
)
from envoy_simulator import PROFILES, EnvoySimulator

from .helpers import make_entry, setup_entry, state_of

STORES = sorted((Path(__file__).parent / "fixtures" / "stores").glob("*.json"))

SHOWN_RESOLUTION_KWH = 1e-6
"""States show whole mWh (sensor.tidy) where 0.1.0 showed every digit: a total
carried on exactly may read up to a mWh below its 0.1.0 state."""

PLAUSIBLE_GROWTH_KWH = 1.0
"""What a total may have grown by at start-up, at the moment it was captured.

Far below what a restarted total (its whole value), a lost wrap offset
(1,193 kWh) or a simulator counter that drifted since 0.1.0 would show."""

RENAMED_SINCE_0_1_0 = (
    ("_production_energy_today", "_production_today"),
    ("_house_consumption_energy_today", "_consumption_today"),
    ("_house_consumption_energy", "_consumption_energy"),
)
"""Entity ids a fresh install of today's release gives 0.1.0's sensors.

An upgraded install keeps the old entity ids: the unique ids did not change."""

TOTALS = (
    "_production_energy",
    "_production_energy_today",
    "_grid_import_energy",
    "_grid_export_energy",
    "_house_consumption_energy",
    "_house_consumption_energy_today",
    "_battery_charge_energy",
    "_battery_discharge_energy",
    "_lifetime_energy",
)
"""The 0.1.0 sensors checked: site totals, their days and inverter lifetimes."""


@dataclass(frozen=True, slots=True)
class Capture:
    """A store written by release 0.1.0 and the states it published then."""

    profile: str
    captured_at: datetime
    store: dict[str, Any]
    states: dict[str, str]

    @property
    def data(self) -> dict[str, Any]:
        """Return the saved energy state (a copy, to change freely)."""
        return copy.deepcopy(self.store["data"])

    @property
    def entry_id(self) -> str:
        """Return the config entry id the store belongs to."""
        key: str = self.store["key"]
        return key.removeprefix("enphase_local.").removesuffix(".energy")

    @property
    def totals(self) -> dict[str, float]:
        """Return the published totals checked, under today's entity ids (kWh)."""
        return {
            _current_entity_id(entity_id): float(state)
            for entity_id, state in self.states.items()
            if entity_id.endswith(TOTALS)
        }


def _load(path: Path) -> Capture:
    """Read one captured 0.1.0 store; its name is the simulator profile's."""
    raw = json.loads(path.read_text())
    return Capture(
        profile=path.stem,
        # Release 0.1.0 wrote naive UTC.
        captured_at=datetime.fromisoformat(raw["captured_at"]).replace(tzinfo=UTC),
        store=raw["store"],
        states=raw["states"],
    )


def _current_entity_id(entity_id: str) -> str:
    """Return the entity id today's release gives a 0.1.0 sensor."""
    for old, new in RENAMED_SINCE_0_1_0:
        entity_id = entity_id.replace(old, new)
    return entity_id


CAPTURES = {path.stem: _load(path) for path in STORES}


@pytest.fixture
def capture(request: pytest.FixtureRequest, freezer: FrozenDateTimeFactory) -> Capture:
    """Return the capture of the test's parameter, time frozen at its moment."""
    capture: Capture = CAPTURES[request.param]
    freezer.move_to(capture.captured_at)
    return capture


@pytest.fixture
def profile(capture: Capture) -> str:
    """Run the simulator profile the store was captured on (after the freeze)."""
    return capture.profile


def test_every_captured_site_is_checked() -> None:
    """The captures cover the shapes with different energy state."""
    assert sorted(CAPTURES) == [
        "legacy_standard",
        "metered_no_ct",
        "metered_split",
        "metered_three_phase_storage",
        "total_consumption",
    ]
    assert all(
        any(entity_id.endswith("_production_energy") for entity_id in capture.totals)
        for capture in CAPTURES.values()
    )


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("capture", sorted(CAPTURES), indirect=True)
async def test_totals_carry_on_from_a_0_1_0_store(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    capture: Capture,
    simulator: EnvoySimulator,
) -> None:
    """After an upgrade every published total carries on from 0.1.0's."""
    hass_storage[capture.store["key"]] = copy.deepcopy(capture.store)
    entry = make_entry(simulator, entry_id=capture.entry_id)

    await setup_entry(hass, entry)

    shown = {
        entity_id: float(state_of(hass, entity_id)) for entity_id in capture.totals
    }
    growth = {
        entity_id: round(shown[entity_id] - stored, 6)
        for entity_id, stored in capture.totals.items()
    }
    assert {
        entity_id: change
        for entity_id, change in growth.items()
        if not -SHOWN_RESOLUTION_KWH <= change <= PLAUSIBLE_GROWTH_KWH
    } == {}


def test_keys_are_those_of_0_1_0() -> None:
    """The key helpers build exactly the strings release 0.1.0 stored under."""
    assert ct_key(704643328, CtCounter.DELIVERED) == "ct_704643328_delivered"
    assert ct_key(704643328, CtCounter.RECEIVED, 1) == "ct_704643328_l1_received"
    assert ct_key(704643584, CtCounter.APPARENT, 2) == "ct_704643584_l2_apparent"
    assert (
        ct_key(704643840, CtCounter.REACTIVE_LAGGING, 3)
        == "ct_704643840_l3_reactive_lagging"
    )
    assert (
        ct_key(704643328, CtCounter.REACTIVE_LEADING) == "ct_704643328_reactive_leading"
    )
    assert inverter_key("482219001100") == "inverter_482219001100"
    assert {str(total) for total in SiteTotal} == {
        "production",
        "consumption",
        "grid_import",
        "grid_export",
        "battery_charge",
        "battery_discharge",
    }
    assert {"production", "consumption"} == LEGACY_LIFETIME_KEYS
    assert LEGACY_GRID_KEY == "grid"


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_every_0_1_0_key_is_built_by_the_key_helpers(name: str) -> None:
    """Every key of a 0.1.0 store is one today's helpers build for that site."""
    site = PROFILES[name]
    built = (
        {
            ct_key(site.meter_eid(slot), counter, phase)
            for slot in range(len(site.meters))
            for counter in CtCounter
            for phase in (None, *range(1, site.phase_count + 1))
        }
        | {
            inverter_key(str(site.inverter_serial_start + index))
            for index in range(site.inverter_count)
        }
        | {str(total) for total in SiteTotal}
    )
    data = CAPTURES[name].data

    assert set(data["lifetimes"]) - built == set()
    assert set(data["dailies"]) - built == set()


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_migrated_store_restores_every_counter(name: str) -> None:
    """Every guarded counter of a 0.1.0 store comes back as it was saved."""
    stored = CAPTURES[name].data

    book = EnergyBook.from_dict(migrate_legacy(stored))

    kept = {
        key: state
        for key, state in stored["lifetimes"].items()
        if key not in LEGACY_LIFETIME_KEYS
    }
    lifetimes = {
        key: book.lifetime(key, wraps=True, max_power_w=1_000).as_dict() for key in kept
    }
    dailies = {key: book.daily(key).as_dict() for key in stored["dailies"]}
    assert lifetimes == kept
    # The 0.1.0 guards of production and consumption are not carried on.
    assert set(book.as_dict()["lifetimes"]) & LEGACY_LIFETIME_KEYS == set()
    assert dailies == stored["dailies"]


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_migrated_store_publishes_the_saved_totals(name: str) -> None:
    """0.1.0 kept totals in its daily trackers: they become the published totals."""
    stored = CAPTURES[name].data

    book = EnergyBook.from_dict(migrate_legacy(stored))

    dailies = stored["dailies"]
    expected = {
        total: dailies[total]["last_total_wh"]
        for total in (SiteTotal.PRODUCTION, SiteTotal.CONSUMPTION)
        if total in dailies
    }
    assert SiteTotal.PRODUCTION in expected
    assert {total: book.total(total).value_wh for total in expected} == expected
    # House consumption carries on whether it is measured or a balance.
    assert book.balance(SiteTotal.CONSUMPTION).value_wh == expected.get(
        SiteTotal.CONSUMPTION
    )


def test_0_1_0_grid_integration_becomes_the_grid_totals() -> None:
    """A load-only site's locally integrated grid energy carries on as its totals."""
    stored = CAPTURES["total_consumption"].data
    imported = stored["grid"]["import_wh"]
    assert imported > 0

    book = EnergyBook.from_dict(migrate_legacy(stored))

    grid_import = book.total(SiteTotal.GRID_IMPORT)
    assert grid_import.value_wh == imported
    assert grid_import.source == split_source("grid")
    assert book.total(SiteTotal.GRID_EXPORT).value_wh == stored["grid"]["export_wh"]
    assert book.split("grid").positive_wh == imported
    assert book.split("grid").negative_wh == stored["grid"]["export_wh"]


def test_0_1_0_wrap_offset_survives_the_upgrade() -> None:
    """An inverter wrap 0.1.0 corrected keeps its offset: no fall of 1,193 kWh."""
    stored = CAPTURES["metered_no_ct"].data
    key = inverter_key("482104007700")
    saved = stored["lifetimes"][key]
    # The same counter as 0.1.0 saved it one wrap later: raw restarted, total not.
    raw = saved["last_raw_wh"] - 500_000.0
    stored["lifetimes"][key] = {
        **saved,
        "last_raw_wh": raw,
        "offset_wh": WRAP_WH,
        "value_wh": raw + WRAP_WH,
    }

    book = EnergyBook.from_dict(migrate_legacy(stored))
    tracker = book.lifetime(key, wraps=True, max_power_w=400)
    event = tracker.update(raw + 2.0, saved["last_accepted"] + 60)

    assert event is None
    assert tracker.offset_wh == WRAP_WH
    assert tracker.value_wh == pytest.approx(raw + 2.0 + WRAP_WH)
    assert tracker.value_wh > saved["value_wh"]
