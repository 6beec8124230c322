"""Shared fixtures: Home Assistant with the integration, the simulator behind it."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotSerializer
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber import AmberSnapshotExtension

# The test plugin mounts its own testing_config (which holds a regular
# `custom_components` package) while Home Assistant loads integrations.
# Importing this repository's namespace package first (pytest puts the
# repository root on sys.path, see pyproject.toml) pins the loader to it.
import custom_components
from custom_components.enphase_local import PLATFORMS
from custom_components.enphase_local.connection import (
    CLIENT_SETTINGS,
    CLOUD_ENDPOINTS,
    ClientSettings,
)
from custom_components.enphase_local.envoy import CloudEndpoints
from envoy_simulator import EnvoySimulator, Profile

from .helpers import DAYTIME, make_entry

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytest_homeassistant_custom_component"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""


@pytest.fixture(autouse=True)
def no_retry_pause(hass: HomeAssistant) -> None:
    """Retry at once: the event loop's clock only moves when a test moves it."""
    hass.data[CLIENT_SETTINGS] = ClientSettings(retries=1, retry_backoff_s=0.0)


class HomeAssistantAmberExtension(AmberSnapshotExtension):
    """Home Assistant's snapshot serializer, files in syrupy's ``__snapshots__``.

    It writes registry ids, config entry ids and state timestamps as ``ANY``.
    Both syrupy and the Home Assistant plugin define a ``snapshot`` fixture and
    which one wins depends on plugin load order: this pins the serializer and
    the directory whichever it is.
    """

    serializer_class = HomeAssistantSnapshotSerializer


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Return the snapshot assertion with Home Assistant's serializer."""
    return snapshot.use_extension(HomeAssistantAmberExtension)


@pytest.fixture
def custom_components_path() -> set[Path]:
    """Return where the imported custom_components package lives."""
    return {Path(path).resolve() for path in custom_components.__path__}


@pytest.fixture
def profile() -> str | Profile:
    """Return the simulator profile a test runs against (override per test).

    A profile name of envoy_simulator.PROFILES, or a Profile of its own
    (e.g. ``dataclasses.replace`` of one, see helpers.SMALL_BATTERY_SITE).
    """
    return "metered_split"


@pytest.fixture
async def simulator(
    profile: str | Profile, socket_enabled: None
) -> AsyncIterator[EnvoySimulator]:
    """Run the simulated gateway and its fake cloud on loopback sockets."""
    async with EnvoySimulator(
        profile, latency=False, port=0, cloud_port=0, seed=1
    ) as sim:
        yield sim


@pytest.fixture
def cloud(simulator: EnvoySimulator, hass: HomeAssistant) -> EnvoySimulator:
    """Point the integration's Enphase cloud calls at the simulator's fake cloud."""
    hass.data[CLOUD_ENDPOINTS] = CloudEndpoints(
        login_url=simulator.login_url, tokens_url=simulator.tokens_url
    )
    return simulator


@pytest.fixture
def config_entry(simulator: EnvoySimulator) -> MockConfigEntry:
    """Return the config entry a finished flow stores for the simulated gateway."""
    return make_entry(simulator)


@pytest.fixture
def platforms() -> list[Platform]:
    """Return the platforms to load (override to snapshot one at a time)."""
    return list(PLATFORMS)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, config_entry: MockConfigEntry, platforms: list[Platform]
) -> MockConfigEntry:
    """Set up the integration against the simulator."""
    config_entry.add_to_hass(hass)
    with patch("custom_components.enphase_local.PLATFORMS", platforms):
        await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
    return config_entry


@pytest.fixture
def all_entities_enabled() -> Iterator[None]:
    """Create every entity enabled, including those off by default."""
    with patch.object(
        Entity,
        "entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def daytime(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Start on a sunny summer morning in California (see helpers.DAYTIME)."""
    freezer.move_to(DAYTIME)
    return freezer
