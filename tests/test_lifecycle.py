"""Token lifecycle, large sites and device clean-up."""

from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import CONF_TOKEN, DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import (
    OWNER_EMAIL,
    OWNER_PASSWORD,
    advance,
    gateway_json,
    make_entry,
    setup_entry,
)

DAY = 24 * 3600


async def test_pasted_token_near_expiry_raises_a_repair(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A pasted token with 20 days left warns the user; a fresh one clears it."""
    entry = make_entry(simulator, token=simulator.mint_token(lifetime_seconds=20 * DAY))
    await setup_entry(hass, entry)

    issue = issue_registry.async_get_issue(DOMAIN, f"token_expiring_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "token_expiring"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["days"] in {"19", "20"}
    expiry = hass.states.get(f"sensor.envoy_{simulator.serial}_token_expiry")
    assert expiry is not None
    assert expiry.state != STATE_UNAVAILABLE

    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_TOKEN: simulator.mint_token()}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert (
        issue_registry.async_get_issue(DOMAIN, f"token_expiring_{entry.entry_id}")
        is None
    )


async def test_token_renewed_before_expiry_with_stored_account(
    hass: HomeAssistant,
    cloud: EnvoySimulator,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With Enlighten credentials, a token with 10 days left is renewed after start-up."""
    old_token = cloud.mint_token(lifetime_seconds=10 * DAY)
    entry = make_entry(cloud, token=old_token, enlighten=True)
    cloud.reset_stats()
    await setup_entry(hass, entry)
    # Start-up never waits on the cloud while the token still works.
    assert cloud.stats()["cloud"] == {}
    assert entry.data[CONF_TOKEN] == old_token
    assert (
        issue_registry.async_get_issue(DOMAIN, f"token_expiring_{entry.entry_id}")
        is None
    )

    await advance(hass, freezer, 6 * 60)

    assert entry.data[CONF_TOKEN] != old_token
    assert cloud.stats()["cloud"] == {"/login/login.json": 1, "/tokens": 1}
    expiry = hass.states.get(f"sensor.envoy_{cloud.serial}_token_expiry")
    assert expiry is not None
    assert datetime.fromisoformat(expiry.state) - dt_util.utcnow() > timedelta(days=300)


async def test_token_revoked_while_running_renews_or_asks(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A token revoked on the gateway while running ends in a reauth request."""
    simulator.revoke_all_tokens()

    await advance(hass, freezer, 30, step=10)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_token_revoked_while_running_is_renewed_from_enlighten(
    hass: HomeAssistant, cloud: EnvoySimulator, freezer: FrozenDateTimeFactory
) -> None:
    """With stored credentials, a rejected token is replaced without bothering the user."""
    entry = make_entry(cloud, enlighten=True)
    await setup_entry(hass, entry)
    old_token = entry.data[CONF_TOKEN]
    cloud.revoke_token(old_token)

    await advance(hass, freezer, 30, step=10)

    assert entry.data[CONF_TOKEN] != old_token
    assert entry.state is ConfigEntryState.LOADED
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    state = hass.states.get(f"sensor.envoy_{cloud.serial}_production_power")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


@pytest.mark.parametrize("profile", ["large_site"])
async def test_large_site_keeps_every_inverter(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """120 inverters: detail for the 50 the gateway lists, power for all."""
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    power = [e for e in entries if e.unique_id.endswith("_inverter_power")]
    lifetime = [e for e in entries if e.unique_id.endswith("_lifetime_energy")]

    assert len(power) == 120
    assert len(lifetime) == 50 - 1  # the meters' eim entry takes one of the 50 places
    for entry in power:
        state = hass.states.get(entry.entity_id)
        assert state is not None
        assert float(state.state) >= 0


@pytest.mark.parametrize("profile", ["metered_three_phase_storage"])
async def test_removed_inverter_device_can_be_deleted(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Devices the gateway still reports stay; ones it no longer reports can go."""
    assert await async_setup_component(hass, "config", {})
    entry_id = init_integration.entry_id
    current = device_registry.async_get_device_by_identifier(
        (DOMAIN, str(simulator.profile.inverter_serial_start)), entry_id
    )
    gateway = device_registry.async_get_device_by_identifier(
        (DOMAIN, simulator.serial), entry_id
    )
    stale = device_registry.async_get_or_create(
        config_entry_id=entry_id, identifiers={(DOMAIN, "999999999999")}
    )
    assert current is not None
    assert gateway is not None

    from custom_components.enphase_local import async_remove_config_entry_device  # noqa: PLC0415

    assert (
        await async_remove_config_entry_device(hass, init_integration, current) is False
    )
    assert (
        await async_remove_config_entry_device(hass, init_integration, gateway) is False
    )
    assert await async_remove_config_entry_device(hass, init_integration, stale) is True


@pytest.mark.parametrize("profile", ["metered_three_phase_storage"])
async def test_inverter_taken_off_the_site_loses_its_device(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """An inverter the gateway marks removed, hours stale, goes from the registry."""
    device_data = await gateway_json(simulator, "/ivp/pdm/device_data")
    (removed,) = [
        entry["sn"]
        for entry in device_data.values()
        if isinstance(entry, dict)
        and entry.get("devName") == "pcu"
        and entry["modGone"]
    ]
    kept = str(simulator.profile.inverter_serial_start)
    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    # Known from before the installer took it off the site.
    old = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, removed)}
    )
    old_power = entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{removed}_inverter_power",
        config_entry=entry,
        device_id=old.id,
    )

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert device_registry.async_get(old.id) is None
    assert entity_registry.async_get(old_power.entity_id) is None
    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, kept), entry.entry_id)
        is not None
    )


async def test_quiet_inverter_keeps_its_device(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Silent for hours but not removed: device and history stay."""
    serial = str(simulator.profile.inverter_serial_start)
    simulator.silence_inverter(serial)

    await advance(hass, freezer, 8 * 3600, step=600)

    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, serial), init_integration.entry_id
        )
        is not None
    )


async def test_secrets_never_reach_the_log(
    hass: HomeAssistant,
    cloud: EnvoySimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Setting up, renewing and failing leave no token, password or e-mail in debug logs."""
    caplog.set_level(logging.DEBUG)
    old_token = cloud.mint_token(lifetime_seconds=5 * DAY)
    entry = make_entry(cloud, token=old_token, enlighten=True)
    await setup_entry(hass, entry)
    await advance(hass, freezer, 6 * 60, step=60)
    new_token = entry.data[CONF_TOKEN]
    cloud.revoke_all_tokens()
    await advance(hass, freezer, 30, step=10)

    assert new_token != old_token
    for secret in (old_token, new_token, OWNER_PASSWORD, OWNER_EMAIL):
        assert secret not in caplog.text
    for token in (old_token, new_token):
        assert token.split(".")[-1] not in caplog.text  # not even the signature
