"""Every entity of each platform, registered and shown, on a small battery site."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from envoy_simulator import Profile

from .helpers import SMALL_BATTERY_SITE

# 11:00 in California: the sun is up, the battery site's inverters report.
FROZEN_AT = "2025-07-28T18:00:00+00:00"


@pytest.fixture(autouse=True)
def frozen_time(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Freeze time so simulated values and timestamps repeat exactly."""
    freezer.move_to(FROZEN_AT)
    return freezer


@pytest.fixture
def profile() -> Profile:
    """Run against the small battery site: every kind of entity, few of each."""
    return SMALL_BATTERY_SITE


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize(
    "platforms",
    [
        [Platform.BINARY_SENSOR],
        [Platform.NUMBER],
        [Platform.SELECT],
        [Platform.SENSOR],
        [Platform.SWITCH],
    ],
    ids=lambda platforms: str(platforms[0]),
)
async def test_platform(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platforms: list[Platform],
) -> None:
    """Each platform's entities, every one enabled, as registered and as shown."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)
