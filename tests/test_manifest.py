"""The integration's manifest as Home Assistant's loader sees it."""

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration

from custom_components.enphase_local.const import DOMAIN

from .conftest import REPO_ROOT


async def test_loader_finds_this_repository(
    hass: HomeAssistant, custom_components_path: set[Path]
) -> None:
    """Home Assistant resolves the domain to this repository's package."""
    integration = await async_get_integration(hass, DOMAIN)

    assert integration.domain == "enphase_local"
    assert integration.name == "Enphase Local"
    assert integration.is_built_in is False
    assert integration.config_flow is True
    assert integration.iot_class == "local_polling"
    assert integration.integration_type == "hub"
    assert str(integration.version) == "0.1.0"
    assert Path(integration.file_path) == REPO_ROOT / "custom_components" / DOMAIN
    assert custom_components_path == {REPO_ROOT / "custom_components"}


def test_manifest_is_ordered_and_complete() -> None:
    """Keys follow hassfest's order and discovery targets the Envoy service."""
    manifest_path = REPO_ROOT / "custom_components" / DOMAIN / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["zeroconf"] == [{"type": "_enphase-envoy._tcp.local."}]
    hacs = json.loads((REPO_ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"] == manifest["name"]
