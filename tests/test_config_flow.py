"""Config flow: every path a user can take, every error, and recovery after it."""

from collections.abc import Callable, Mapping
from ipaddress import ip_address
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF, ConfigFlowResult
from homeassistant.const import CONF_EMAIL, CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.connection import CLOUD_ENDPOINTS
from custom_components.enphase_local.const import (
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    CONF_LIVE_INTERVAL,
    CONF_PRODUCTION_INTERVAL,
    CONF_TOKEN,
    DOMAIN,
)
from custom_components.enphase_local.envoy import CloudEndpoints, decode_token
from envoy_simulator import EnvoySimulator, Profile

from .helpers import OWNER_EMAIL, OWNER_PASSWORD, make_entry


def _closed_port_address() -> str:
    """Return a loopback address nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


def _zeroconf(host: str, serial: str | None, port: int = 80) -> ZeroconfServiceInfo:
    """Return an mDNS announcement like the gateway's."""
    properties: dict[str, Any] = {"protovers": "7.6.175"}
    if serial is not None:
        properties["serialnum"] = serial
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname="envoy.local.",
        name="Envoy._enphase-envoy._tcp.local.",
        port=port,
        properties=properties,
        type="_enphase-envoy._tcp.local.",
    )


async def _start_user_flow(hass: HomeAssistant, host: str) -> ConfigFlowResult:
    """Start the user flow and submit ``host``."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: host}
    )


def _placeholders(result: ConfigFlowResult) -> Mapping[str, str]:
    """Return the description placeholders a form shows."""
    placeholders = result.get("description_placeholders")
    assert placeholders is not None
    return placeholders


async def test_user_flow_with_pasted_token(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Firmware 7: the host, then a pasted token, creates the entry."""
    result = await _start_user_flow(hass, simulator.address)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["enlighten", "token"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "token"
    # A new gateway has no current token to describe.
    assert "current_expiry" not in _placeholders(result)

    token = simulator.mint_token()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: f"  {token}\n"}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Envoy {simulator.serial}"
    assert result["data"] == {CONF_HOST: simulator.address, CONF_TOKEN: token}
    assert result["result"].unique_id == simulator.serial


@pytest.mark.parametrize(
    ("make_token", "error"),
    [
        (lambda sim: "not-a-jwt", "invalid_token"),
        (lambda sim: sim.mint_token(lifetime_seconds=-60), "token_expired"),
        (lambda sim: sim.mint_token(serial="999999999999"), "token_wrong_gateway"),
    ],
)
async def test_token_errors_recover(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    make_token: Callable[[EnvoySimulator], str],
    error: str,
) -> None:
    """A bad token shows an error on the field; a good one then succeeds."""
    result = await _start_user_flow(hass, simulator.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: make_token(simulator)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOKEN: error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: simulator.mint_token()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_token_revoked_on_gateway_is_rejected(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A token the gateway refuses (revoked) is reported as rejected."""
    revoked = simulator.mint_token()
    simulator.revoke_token(revoked)
    result = await _start_user_flow(hass, simulator.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: revoked}
    )

    assert result["errors"] == {CONF_TOKEN: "token_rejected"}


async def test_token_check_when_gateway_goes_away(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """The gateway failing while the token is checked asks to try again."""
    result = await _start_user_flow(hass, simulator.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )
    simulator.inject("*", "http_500", count=10)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: simulator.mint_token()}
    )
    assert result["errors"] == {CONF_TOKEN: "cannot_connect"}

    simulator.clear_faults()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: simulator.mint_token()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_with_enlighten_account(
    hass: HomeAssistant, cloud: EnvoySimulator
) -> None:
    """An Enlighten account fetches a token and is kept for renewals."""
    result = await _start_user_flow(hass, cloud.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )
    assert result["step_id"] == "enlighten"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_EMAIL: f" {OWNER_EMAIL} ", CONF_PASSWORD: OWNER_PASSWORD},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data[CONF_HOST] == cloud.address
    assert data[CONF_ENLIGHTEN_EMAIL] == OWNER_EMAIL
    assert data[CONF_ENLIGHTEN_PASSWORD] == OWNER_PASSWORD
    assert data[CONF_TOKEN].count(".") == 2


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [
        (OWNER_EMAIL, "wrong-password", "invalid_auth"),
        ("mfa@example.com", OWNER_PASSWORD, "mfa_required"),
    ],
)
async def test_enlighten_errors_recover(
    hass: HomeAssistant, cloud: EnvoySimulator, email: str, password: str, error: str
) -> None:
    """Bad credentials and multi-factor accounts get a clear error, then recover."""
    result = await _start_user_flow(hass, cloud.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: email, CONF_PASSWORD: password}
    )
    assert result["errors"] == {"base": error}
    assert result["step_id"] == "enlighten"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_enlighten_cloud_unreachable(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """The cloud being down is its own error, pointing at the token route."""
    hass.data[CLOUD_ENDPOINTS] = CloudEndpoints(
        login_url=f"http://{_closed_port_address()}/login/login.json",
        tokens_url=simulator.tokens_url,
    )
    result = await _start_user_flow(hass, simulator.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )

    assert result["errors"] == {"base": "cloud_unavailable"}


async def test_enlighten_token_not_checked_when_gateway_fails(
    hass: HomeAssistant, cloud: EnvoySimulator
) -> None:
    """A fetched token is only stored once the gateway has accepted it."""
    result = await _start_user_flow(hass, cloud.address)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )
    cloud.inject("/auth/check_jwt", "http_500", count=1)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_legacy_firmware_needs_nothing_typed(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Firmware before 7 signs in with the derived installer password."""
    result = await _start_user_flow(hass, simulator.address)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "local"
    assert _placeholders(result)["firmware"] == simulator.firmware

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: simulator.address}


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_legacy_credentials_override(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Wrong custom credentials are refused; the envoy user with its password works."""
    result = await _start_user_flow(hass, simulator.address)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "installer", CONF_PASSWORD: "nope"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_USERNAME: "envoy", CONF_PASSWORD: simulator.serial[-6:]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_HOST: simulator.address,
        CONF_USERNAME: "envoy",
        CONF_PASSWORD: simulator.serial[-6:],
    }


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_legacy_gateway_failing_during_check(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A failing gateway shows cannot_connect; an absent inverter list is tolerated."""
    result = await _start_user_flow(hass, simulator.address)
    simulator.inject("/api/v1/production/inverters", "http_500", count=5)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "cannot_connect"}

    simulator.clear_faults()
    simulator.inject("/api/v1/production/inverters", "not_found", count=5)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_cannot_connect_then_recovers(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """An address where nothing answers is an error on the host field."""
    result = await _start_user_flow(hass, _closed_port_address())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_HOST: "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: simulator.address}
    )
    assert result["type"] is FlowResultType.MENU


async def test_user_flow_not_an_envoy(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A web server that is not a gateway is recognised as such."""
    cloud_address = simulator.cloud_url.removeprefix("http://")

    result = await _start_user_flow(hass, cloud_address)

    assert result["errors"] == {CONF_HOST: "not_envoy"}


async def test_user_flow_already_configured_updates_host(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Adding a configured gateway again aborts and keeps the entry pointed at it."""
    entry = make_entry(simulator, host="192.0.2.1", token=None)
    entry.add_to_hass(hass)

    result = await _start_user_flow(hass, simulator.address)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == simulator.address


async def test_zeroconf_discovery_confirms_then_authenticates(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A discovered gateway shows serial, model and firmware before sign-in."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("127.0.0.1", simulator.serial, simulator.port),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "serial": simulator.serial,
        "model": "Envoy-S Metered",
        "firmware": simulator.firmware,
        "host": simulator.address,
    }

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: simulator.mint_token()}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == simulator.address


async def test_zeroconf_keeps_a_working_host(
    hass: HomeAssistant, simulator: EnvoySimulator, profile: str | Profile
) -> None:
    """The other interface of a configured gateway is announced: nothing flips."""
    async with EnvoySimulator(
        profile, latency=False, port=0, cloud_port=0, seed=1
    ) as wifi:
        entry = make_entry(simulator, token=None)
        entry.add_to_hass(hass)

        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_ZEROCONF},
            data=_zeroconf("127.0.0.1", wifi.serial, wifi.port),
        )

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        assert entry.data[CONF_HOST] == simulator.address


async def test_zeroconf_moves_a_lost_host(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """When the stored address stopped answering, discovery moves the entry."""
    entry = make_entry(simulator, host=_closed_port_address(), token=None)
    entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("127.0.0.1", simulator.serial, simulator.port),
    )

    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == simulator.address


async def test_zeroconf_same_host_already_configured(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Re-announcing the configured address just aborts."""
    entry = make_entry(simulator, token=None)
    entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("127.0.0.1", simulator.serial, simulator.port),
    )

    assert result["reason"] == "already_configured"


async def test_zeroconf_reannouncement_on_standard_port(hass: HomeAssistant) -> None:
    """A gateway re-announcing its configured address aborts without a request."""
    entry = make_entry(None, host="192.0.2.50", token=None, unique_id="122112123456")
    entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("192.0.2.50", "122112123456", 80),
    )

    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == "192.0.2.50"


async def test_zeroconf_unreachable_or_other_gateway(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """An announcement that cannot be confirmed over the network is dropped."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("127.0.0.1", "111111111111", simulator.port),
    )
    assert result["reason"] == "cannot_connect"

    port = int(_closed_port_address().rsplit(":", 1)[1])
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf("127.0.0.1", simulator.serial, port),
    )
    assert result["reason"] == "cannot_connect"


async def test_zeroconf_ignores_ipv6_and_unnamed(hass: HomeAssistant) -> None:
    """IPv6 announcements and ones without a serial are not set up."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf("fe80::1", "1")
    )
    assert result["reason"] == "not_ipv4_address"

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf("192.0.2.9", None)
    )
    assert result["reason"] == "no_serial"


async def test_options_flow_sets_polling_intervals(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The live and production intervals are saved as whole seconds."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LIVE_INTERVAL: 5.0, CONF_PRODUCTION_INTERVAL: 120.0}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {
        CONF_LIVE_INTERVAL: 5,
        CONF_PRODUCTION_INTERVAL: 120,
    }


async def test_reauth_with_new_token(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """A revoked token leads to reauth; a new token fixes and reloads the entry."""
    old_token = init_integration.data[CONF_TOKEN]
    result = await init_integration.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )
    assert result["step_id"] == "token_renew"
    expires = dt_util.as_local(decode_token(old_token).expires_at)
    assert _placeholders(result)["current_expiry"] == expires.strftime("%Y-%m-%d %H:%M")

    new_token = simulator.mint_token()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: new_token}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert init_integration.data == {
        CONF_HOST: simulator.address,
        CONF_TOKEN: new_token,
    }
    assert new_token != old_token


async def test_reauth_gateway_unreachable_then_recovers(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Reauth while the gateway is down shows an error and can be retried."""
    result = await init_integration.start_reauth_flow(hass)
    simulator.inject("*", "reset", count=20)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "cannot_connect"}

    simulator.clear_faults()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.MENU


async def test_reauth_with_enlighten_suggests_stored_email(
    hass: HomeAssistant, cloud: EnvoySimulator, config_entry: MockConfigEntry
) -> None:
    """Renewing with Enlighten pre-fills the stored account and stores the new token."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            CONF_ENLIGHTEN_EMAIL: OWNER_EMAIL,
            CONF_ENLIGHTEN_PASSWORD: "old-password",
        },
    )
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )
    schema = result.get("data_schema")
    assert schema is not None
    schema_keys = {str(key): key for key in schema.schema}
    assert schema_keys[CONF_EMAIL].description == {"suggested_value": OWNER_EMAIL}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_ENLIGHTEN_PASSWORD] == OWNER_PASSWORD


async def test_reauth_for_other_gateway_aborts(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Reauth against an address now answering with another serial aborts."""
    entry = make_entry(simulator, token=None, unique_id="000000000001")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_gateway"


async def test_reconfigure_changes_host_and_token(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Reconfigure re-probes the address and signs in again."""
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: _closed_port_address()}
    )
    assert result["errors"] == {CONF_HOST: "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f" {simulator.address} "}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )
    new_token = simulator.mint_token(role="installer")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: new_token}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.data == {
        CONF_HOST: simulator.address,
        CONF_TOKEN: new_token,
    }


async def test_reconfigure_to_enlighten_account(
    hass: HomeAssistant, cloud: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """A pasted-token entry can switch to an Enlighten account for renewals."""
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: cloud.address}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "enlighten"}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EMAIL: OWNER_EMAIL, CONF_PASSWORD: OWNER_PASSWORD}
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert init_integration.data[CONF_ENLIGHTEN_EMAIL] == OWNER_EMAIL


async def test_reconfigure_to_other_gateway_aborts(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """Pointing an entry at a different gateway is refused."""
    entry = make_entry(None, host="192.0.2.1", token=None, unique_id="000000000001")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: simulator.address}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_gateway"


async def test_reauth_with_unreadable_stored_token(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A damaged stored token does not break the reauth form."""
    entry = make_entry(simulator, token="garbage")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "token"}
    )

    assert result["step_id"] == "token"
    assert "current_expiry" not in _placeholders(result)
