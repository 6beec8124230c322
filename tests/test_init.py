"""Setting up, reloading and unloading a gateway."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_local.const import CONF_TOKEN, DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import make_entry, needs_token

PROFILE_SHAPES = {
    # profile: (model, CT devices, inverter devices)
    "legacy_standard": ("Envoy-S Standard", 0, 10),
    "metered_split": ("Envoy-S Metered (production, net-consumption CTs)", 2, 24),
    "metered_three_phase_storage": (
        "Envoy-S Metered (production, net-consumption, storage CTs)",
        3,
        30,
    ),
    "metered_no_ct": ("Envoy-S Metered (no CTs in use)", 0, 16),
    "total_consumption": ("Envoy-S Metered (production, total-consumption CTs)", 2, 20),
    "large_site": ("Envoy-S Metered (production, net-consumption CTs)", 2, 120),
}


@pytest.mark.parametrize("profile", list(PROFILE_SHAPES))
async def test_every_profile_sets_up(
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    profile: str,
) -> None:
    """Each kind of gateway loads with its gateway, CT and inverter devices."""
    model, ct_count, inverter_count = PROFILE_SHAPES[profile]
    assert init_integration.state is ConfigEntryState.LOADED

    gateway = device_registry.async_get_device_by_identifier(
        (DOMAIN, simulator.serial), init_integration.entry_id
    )
    assert gateway is not None
    assert gateway.model == model
    assert gateway.sw_version == simulator.firmware
    assert gateway.serial_number == simulator.serial
    assert gateway.manufacturer == "Enphase Energy"

    children = [
        device
        for device in dr.async_entries_for_config_entry(
            device_registry, init_integration.entry_id
        )
        if device.via_device_id == gateway.id
    ]
    assert sum(device.model == "Microinverter" for device in children) == inverter_count
    assert (
        sum((device.model or "").startswith("CT (") for device in children) == ct_count
    )


async def test_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Unloading stops polling and releases the entry."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)

    assert init_integration.state is ConfigEntryState.NOT_LOADED


async def test_unreachable_gateway_retries_setup(
    hass: HomeAssistant, simulator: EnvoySimulator, config_entry: MockConfigEntry
) -> None:
    """A gateway that does not answer puts the entry in retry, not error."""
    simulator.inject("*", "reset")
    config_entry.add_to_hass(hass)

    await hass.config_entries.async_setup(config_entry.entry_id)

    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_other_gateway_at_the_address_retries_setup(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """When the address now belongs to another gateway, setup waits (discovery fixes it)."""
    entry = make_entry(simulator, token=None, unique_id="000000000001")
    entry.add_to_hass(hass)

    await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_expired_token_without_credentials_asks_to_reauthenticate(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """An expired pasted token starts a reauth flow instead of failing silently."""
    entry = make_entry(simulator, token=simulator.mint_token(lifetime_seconds=-10))
    entry.add_to_hass(hass)

    await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_expired_token_is_renewed_with_stored_account(
    hass: HomeAssistant, cloud: EnvoySimulator
) -> None:
    """With Enlighten credentials stored, an expired token is replaced at setup."""
    expired = cloud.mint_token(lifetime_seconds=-10)
    entry = make_entry(cloud, token=expired, enlighten=True)
    entry.add_to_hass(hass)

    await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_TOKEN] != expired


async def test_revoked_token_renewed_when_detected(
    hass: HomeAssistant, cloud: EnvoySimulator
) -> None:
    """A token the gateway refuses at setup is renewed once from Enlighten."""
    token = cloud.mint_token()
    cloud.revoke_token(token)
    entry = make_entry(cloud, token=token, enlighten=True)
    entry.add_to_hass(hass)

    await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_TOKEN] != token


async def test_revoked_token_without_credentials_fails_auth(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Without credentials, a refused token asks to sign in; setup keeps retrying.

    A 401 can be transient (the gateway restarting), so the entry is not
    left dead until the user acts.
    """
    token = simulator.mint_token()
    simulator.revoke_token(token)
    entry = make_entry(simulator, token=token)
    entry.add_to_hass(hass)

    await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_firmware_push_to_token_firmware_asks_for_a_token(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A gateway upgraded from 5.x to 8.x is noticed and the user is asked for a token."""
    assert not needs_token(simulator)
    simulator.upgrade_firmware("metered_three_phase_storage", outage_seconds=0)

    freezer.tick(timedelta(hours=4, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
