"""Config flow for Enphase Local: discovery, host, authentication per firmware."""

from collections.abc import Mapping
from typing import Any, override

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_EMAIL, CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.util import dt as dt_util
import probatio

from .connection import enlighten_client
from .const import (
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    CONF_LIVE_INTERVAL,
    CONF_PRODUCTION_INTERVAL,
    CONF_TOKEN,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_PRODUCTION_INTERVAL,
    DOMAIN,
    MAX_LIVE_INTERVAL,
    MAX_PRODUCTION_INTERVAL,
    MIN_LIVE_INTERVAL,
    MIN_PRODUCTION_INTERVAL,
)
from .envoy import (
    ENTREZ_URL,
    EnlightenAuthenticationError,
    EnlightenError,
    EnlightenMultiFactorError,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyError,
    EnvoyInfo,
    EnvoyTokenError,
    TokenInfo,
    decode_token,
    gateway_model,
)

FLOW_READ_TIMEOUT_S = 20.0

_TEXT = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="off"))
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_EMAIL = TextSelector(
    TextSelectorConfig(type=TextSelectorType.EMAIL, autocomplete="username")
)


class EnphaseLocalConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an Envoy: find it, identify it, authenticate to it."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._host: str | None = None
        self._info: EnvoyInfo | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> EnphaseLocalOptionsFlow:
        """Return the options flow."""
        return EnphaseLocalOptionsFlow()

    def _envoy(self, host: str) -> Envoy:
        """Return a client for quick, single-attempt requests during the flow."""
        return Envoy(
            host,
            session=async_get_clientsession(self.hass, verify_ssl=False),
            read_timeout=FLOW_READ_TIMEOUT_S,
            max_retries=0,
        )

    async def _async_probe(self, host: str) -> tuple[EnvoyInfo | None, str | None]:
        """Identify the gateway at ``host``; return its info or an error key."""
        try:
            info = await self._envoy(host).probe()
        except EnvoyDataError, EnvoyEndpointMissingError:
            return None, "not_envoy"
        except EnvoyError:
            return None, "cannot_connect"
        return info, None

    # --- Finding the gateway ---------------------------------------------------

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the gateway's address."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            info, error = await self._async_probe(host)
            if info is None:
                errors[CONF_HOST] = error or "cannot_connect"
            else:
                await self.async_set_unique_id(info.serial, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates={CONF_HOST: host})
                self._host, self._info = host, info
                return await self._async_step_authenticate()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Required(CONF_HOST): _TEXT}), user_input
            ),
            errors=errors,
        )

    @override
    async def async_step_zeroconf(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Handle a gateway announcing itself on the network."""
        if discovery_info.ip_address.version != 4:
            return self.async_abort(reason="not_ipv4_address")
        serial = discovery_info.properties.get("serialnum")
        if not serial:
            return self.async_abort(reason="no_serial")
        host = discovery_info.host
        if discovery_info.port not in (None, 80, 443):
            # Not the gateway's own ports: something (a proxy) announces it.
            host = f"{host}:{discovery_info.port}"
        await self.async_set_unique_id(serial)
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, serial
        )
        if entry is not None:
            # Gateways announce their Ethernet and Wi-Fi addresses in turn:
            # only move to the new one when the stored one stopped answering.
            if entry.data[CONF_HOST] != host and await self._async_host_lost(
                entry.data[CONF_HOST], serial
            ):
                self._abort_if_unique_id_configured(updates={CONF_HOST: host})
            return self.async_abort(reason="already_configured")
        info, _error = await self._async_probe(host)
        if info is None or info.serial != serial:
            return self.async_abort(reason="cannot_connect")
        self._host, self._info = host, info
        self.context["title_placeholders"] = {"serial": serial}
        return await self.async_step_zeroconf_confirm()

    async def _async_host_lost(self, host: str, serial: str) -> bool:
        """Return True unless ``host`` still answers as gateway ``serial``."""
        info, _error = await self._async_probe(host)
        return info is None or info.serial != serial

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found before asking for credentials."""
        assert self._info is not None
        if user_input is not None:
            return await self._async_step_authenticate()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={
                "serial": self._info.serial,
                "model": gateway_model(self._info, None),
                "firmware": self._info.firmware,
                "host": str(self._host),
            },
        )

    # --- Authenticating ------------------------------------------------------------

    async def _async_step_authenticate(self) -> ConfigFlowResult:
        """Pick the authentication the gateway's firmware needs."""
        assert self._info is not None
        if self._info.requires_token:
            return await self.async_step_auth()
        return await self.async_step_local()

    async def async_step_auth(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the two ways to get a token (firmware 7 and later)."""
        return self.async_show_menu(step_id="auth", menu_options=["enlighten", "token"])

    async def async_step_enlighten(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Fetch a token with an Enlighten account, kept for renewals."""
        assert self._host is not None
        assert self._info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            email = user_input[CONF_EMAIL].strip()
            try:
                token = await enlighten_client(self.hass).fetch_token(
                    email, user_input[CONF_PASSWORD], self._info.serial
                )
            except EnlightenAuthenticationError:
                errors["base"] = "invalid_auth"
            except EnlightenMultiFactorError:
                errors["base"] = "mfa_required"
            except EnlightenError:
                errors["base"] = "cloud_unavailable"
            else:
                error = await self._async_check_token(token)
                if error is None:
                    return await self._async_finish(
                        {
                            CONF_TOKEN: token,
                            CONF_ENLIGHTEN_EMAIL: email,
                            CONF_ENLIGHTEN_PASSWORD: user_input[CONF_PASSWORD],
                        }
                    )
                errors["base"] = error
        suggested = user_input or {CONF_EMAIL: self._stored(CONF_ENLIGHTEN_EMAIL)}
        return self.async_show_form(
            step_id="enlighten",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_EMAIL): _EMAIL,
                        probatio.Required(CONF_PASSWORD): _PASSWORD,
                    }
                ),
                {CONF_EMAIL: suggested.get(CONF_EMAIL)},
            ),
            description_placeholders={"serial": self._info.serial},
            errors=errors,
        )

    async def async_step_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Accept a token pasted from Enphase's token page."""
        assert self._host is not None
        assert self._info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            token = "".join(user_input[CONF_TOKEN].split())
            error = await self._async_check_token(token)
            if error is None:
                return await self._async_finish({CONF_TOKEN: token})
            errors[CONF_TOKEN] = error
        placeholders = {"serial": self._info.serial, "entrez_url": ENTREZ_URL}
        expiry = self._current_token_expiry()
        if expiry is not None:
            # Replacing a token: the form also says when the current one ends.
            placeholders["current_expiry"] = expiry
        return self.async_show_form(
            step_id="token" if expiry is None else "token_renew",
            data_schema=probatio.Schema({probatio.Required(CONF_TOKEN): _PASSWORD}),
            description_placeholders=placeholders,
            errors=errors,
        )

    async def async_step_token_renew(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Accept a token replacing the stored one (reauth or reconfigure)."""
        return await self.async_step_token(user_input)

    def _current_token_expiry(self) -> str | None:
        """Return when the stored token expires, local time; None without one."""
        token = self._stored(CONF_TOKEN)
        if not token:
            return None
        try:
            info = decode_token(token)
        except EnvoyTokenError:
            return None
        return dt_util.as_local(info.expires_at).strftime("%Y-%m-%d %H:%M")

    async def _async_check_token(self, token: str) -> str | None:
        """Return an error key unless the gateway accepts ``token``."""
        assert self._host is not None
        assert self._info is not None
        try:
            claims: TokenInfo = decode_token(token)
        except EnvoyTokenError:
            return "invalid_token"
        if claims.is_expired(dt_util.utcnow()):
            return "token_expired"
        if claims.serial is not None and claims.serial != self._info.serial:
            return "token_wrong_gateway"
        envoy = self._envoy(self._host)
        try:
            await envoy.probe()
            envoy.use_token(token)
            await envoy.check_token()
        except EnvoyAuthenticationError:
            return "token_rejected"
        except EnvoyError:
            return "cannot_connect"
        return None

    async def async_step_local(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Firmware before 7: nothing to type, with an optional override."""
        assert self._host is not None
        assert self._info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            username = (user_input.get(CONF_USERNAME) or "").strip()
            password = user_input.get(CONF_PASSWORD) or ""
            envoy = self._envoy(self._host)
            try:
                await envoy.probe()
                envoy.use_digest(username or None, password or None)
                await envoy.inverters()
            except EnvoyEndpointMissingError:
                # Some old gateways lack the inverter list; /info worked.
                pass
            except EnvoyAuthenticationError:
                errors["base"] = "invalid_auth"
            except EnvoyError:
                errors["base"] = "cannot_connect"
            if not errors:
                data = (
                    {CONF_USERNAME: username, CONF_PASSWORD: password}
                    if username
                    else {}
                )
                return await self._async_finish(data)
        return self.async_show_form(
            step_id="local",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Optional(CONF_USERNAME): _TEXT,
                        probatio.Optional(CONF_PASSWORD): _PASSWORD,
                    }
                ),
                {CONF_USERNAME: (user_input or {}).get(CONF_USERNAME)},
            ),
            description_placeholders={
                "serial": self._info.serial,
                "firmware": self._info.firmware,
            },
            errors=errors,
        )

    def _stored(self, key: str) -> str | None:
        """Return a value of the entry being re-authenticated or reconfigured."""
        if self.source == SOURCE_REAUTH:
            return self._get_reauth_entry().data.get(key)
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_entry().data.get(key)
        return None

    async def _async_finish(self, auth: dict[str, Any]) -> ConfigFlowResult:
        """Create the entry, or update the one being fixed and reload it."""
        assert self._host is not None
        assert self._info is not None
        data = {CONF_HOST: self._host, **auth}
        if self.source == SOURCE_REAUTH:
            return self.async_update_reload_and_abort(
                self._get_reauth_entry(), data=data
            )
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data=data
            )
        return self.async_create_entry(title=f"Envoy {self._info.serial}", data=data)

    # --- Fixing an entry ---------------------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication when the gateway rejects the credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Re-read the gateway (firmware may have changed) and re-authenticate."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host = entry.data[CONF_HOST]
            info, error = await self._async_probe(host)
            if info is None:
                errors["base"] = error or "cannot_connect"
            else:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_gateway")
                self._host, self._info = host, info
                return await self._async_step_authenticate()
        return self.async_show_form(
            step_id="reauth_confirm",
            description_placeholders={"title": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the gateway's address and authentication."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            info, error = await self._async_probe(host)
            if info is None:
                errors[CONF_HOST] = error or "cannot_connect"
            else:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_gateway")
                self._host, self._info = host, info
                return await self._async_step_authenticate()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Required(CONF_HOST): _TEXT}),
                user_input or {CONF_HOST: entry.data[CONF_HOST]},
            ),
            errors=errors,
        )


class EnphaseLocalOptionsFlow(OptionsFlowWithReload):
    """Polling intervals: fast CT data, slower production and inverters."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the polling intervals."""
        if user_input is not None:
            return self.async_create_entry(
                data={key: int(value) for key, value in user_input.items()}
            )
        options = self.config_entry.options
        return self.async_show_form(
            step_id="init",
            data_schema=probatio.Schema(
                {
                    probatio.Required(
                        CONF_LIVE_INTERVAL,
                        default=options.get(CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL),
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_LIVE_INTERVAL,
                            max=MAX_LIVE_INTERVAL,
                            step=1,
                            unit_of_measurement="s",
                            mode=NumberSelectorMode.BOX,
                        )
                    ),
                    probatio.Required(
                        CONF_PRODUCTION_INTERVAL,
                        default=options.get(
                            CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL
                        ),
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_PRODUCTION_INTERVAL,
                            max=MAX_PRODUCTION_INTERVAL,
                            step=1,
                            unit_of_measurement="s",
                            mode=NumberSelectorMode.BOX,
                        )
                    ),
                }
            ),
        )
