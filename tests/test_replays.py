"""Captured gateways, replayed: every directory under tests/replays sets up as declared.

Each directory holds the answers of one gateway shape (written from
PROTOCOL.md, not copied from anywhere) and an ``expected.json`` beside them
declaring what a user must see. A user's diagnostics download converts to
such a directory, so a reported problem becomes a test; the round trip is
tested here too.
"""

from collections.abc import AsyncIterator
import json
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import DOMAIN
from custom_components.enphase_local.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.enphase_local.envoy.parsers import parse_info
from envoy_simulator import EnvoySimulator
from envoy_simulator.replay import ReplayGateway, convert

from .envoy.helpers import make_token
from .helpers import advance, make_entry, setup_entry, state_of

REPLAYS = Path(__file__).parent / "replays"
DIRECTORIES = sorted(
    path for path in REPLAYS.iterdir() if (path / "expected.json").is_file()
)
FAR_FUTURE = 4_102_444_800  # 2100-01-01


@pytest.fixture
async def replayed(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncIterator[ReplayGateway]:
    """Serve the replay directory named by the test's parameter."""
    async with ReplayGateway(request.param, port=0) as gateway:
        yield gateway


def _entry_for(directory: Path, address: str) -> MockConfigEntry:
    """Return the config entry a finished flow would store for a replayed gateway."""
    info = parse_info((directory / "info").read_bytes())
    token = (
        make_token({"aud": info.serial, "exp": FAR_FUTURE, "enphaseUser": "owner"})
        if info.requires_token
        else None
    )
    return make_entry(None, host=address, token=token, unique_id=info.serial)


def _numeric_or_text(state: str) -> float | str:
    """Return a state as a number when it is one."""
    try:
        return float(state)
    except ValueError:
        return state


@pytest.mark.parametrize(
    ("replayed", "directory"),
    [(path, path) for path in DIRECTORIES],
    ids=[path.name for path in DIRECTORIES],
    indirect=["replayed"],
)
async def test_replayed_gateway_shows_what_is_declared(
    hass: HomeAssistant,
    replayed: ReplayGateway,
    directory: Path,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Set up against the captured answers; every declared entity value is there."""
    expected = json.loads((directory / "expected.json").read_text(encoding="utf-8"))
    entry = _entry_for(directory, replayed.address)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.site.data is not None
    assert (
        entry.runtime_data.site.data.production_source == expected["production_source"]
    )
    shown = {
        entity_id: _numeric_or_text(state_of(hass, entity_id))
        for entity_id in expected["entities"]
    }
    assert shown == {
        entity_id: pytest.approx(_numeric_or_text(value), abs=1e-3)
        for entity_id, value in expected["entities"].items()
    }
    devices = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert {
        model: sum(device.model == model for device in devices)
        for model in expected["devices"]
    } == expected["devices"]
    issue = issue_registry.async_get_issue(
        DOMAIN, f"endpoints_refused_{entry.entry_id}"
    )
    refused = (issue.translation_placeholders or {}).get("endpoints") if issue else None
    assert refused == (", ".join(expected["repair"]) if "repair" in expected else None)


@pytest.mark.parametrize("profile", ["metered_three_phase_storage", "large_site"])
async def test_diagnostics_download_replays_the_same_gateway(
    hass: HomeAssistant,
    *,
    daytime: FrozenDateTimeFactory,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A user's diagnostics, converted, reproduces their gateway's values and devices."""
    await advance(hass, daytime, 70)
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    convert({"data": json.loads(json.dumps(diagnostics))}, tmp_path)
    original = init_integration.runtime_data.site.data
    assert original is not None
    inverters = sum(
        device.model == "Microinverter"
        for device in dr.async_entries_for_config_entry(
            device_registry, init_integration.entry_id
        )
    )
    await hass.config_entries.async_unload(init_integration.entry_id)

    async with ReplayGateway(tmp_path, port=0) as gateway:
        entry = _entry_for(tmp_path, gateway.address)
        await setup_entry(hass, entry)

        replayed = entry.runtime_data.site.data
        assert entry.state is ConfigEntryState.LOADED
        assert replayed is not None
        assert replayed.production_source == original.production_source
        assert replayed.present == original.present
        assert replayed.powers == original.powers
        assert replayed.totals == pytest.approx(original.totals)
        assert (
            sum(
                device.model == "Microinverter"
                for device in dr.async_entries_for_config_entry(
                    device_registry, entry.entry_id
                )
            )
            == inverters
        )
        await hass.config_entries.async_unload(entry.entry_id)
