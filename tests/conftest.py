"""Shared fixtures: Home Assistant with the integration, the simulator behind it."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_HOST, Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

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
from custom_components.enphase_local.const import CONF_TOKEN, DOMAIN
from custom_components.enphase_local.envoy import CloudEndpoints
from envoy_simulator import EnvoySimulator

from .helpers import DAYTIME

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytest_homeassistant_custom_component"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""


@pytest.fixture(autouse=True)
def no_retry_pause(hass: HomeAssistant) -> None:
    """Retry at once: the event loop's clock only moves when a test moves it."""
    hass.data[CLIENT_SETTINGS] = ClientSettings(retries=1, retry_backoff_s=0.0)


@pytest.fixture
def custom_components_path() -> set[Path]:
    """Return where the imported custom_components package lives."""
    return {Path(path).resolve() for path in custom_components.__path__}


@pytest.fixture
def profile() -> str:
    """Return the simulator profile a test runs against (override per test)."""
    return "metered_split"


@pytest.fixture
async def simulator(
    profile: str, socket_enabled: None
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


def needs_token(simulator: EnvoySimulator) -> bool:
    """Return True when the simulated firmware wants a JWT."""
    return int(simulator.firmware.split(".")[0]) >= 7


@pytest.fixture
def entry_data(simulator: EnvoySimulator) -> dict[str, Any]:
    """Return the config entry data a finished flow stores for this gateway."""
    data: dict[str, Any] = {CONF_HOST: simulator.address}
    if needs_token(simulator):
        data[CONF_TOKEN] = simulator.mint_token()
    return data


@pytest.fixture
def config_entry(
    simulator: EnvoySimulator, entry_data: dict[str, Any]
) -> MockConfigEntry:
    """Return a config entry for the simulated gateway."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=simulator.serial,
        title=f"Envoy {simulator.serial}",
        data=entry_data,
    )


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
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=lambda: property(lambda _self: True),
    ):
        yield


@pytest.fixture
def daytime(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Start on a sunny summer morning in California (see helpers.DAYTIME)."""
    freezer.move_to(DAYTIME)
    return freezer
