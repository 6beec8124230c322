"""Connecting to the gateway: probe, credentials, token lifecycle, detection.

The token lifecycle follows PROTOCOL.md section 2: never contact the cloud
at start-up while the stored token works; renew an owner token a month
before it expires; a rejected token is renewed once, and when that is not
possible (no stored account, the cloud down) the user is asked to sign in
again while polling goes on, because a 401 can be transient (the gateway's
own restarts) and must not leave the integration dead.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import (
    async_create_clientsession,
    async_get_clientsession,
)
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    CONF_TOKEN,
    DOMAIN,
    LOGGER,
    TOKEN_RENEW_BEFORE,
    TOKEN_RENEW_RETRY,
)
from .envoy import (
    ENTREZ_URL,
    CloudEndpoints,
    DetectionReads,
    EnlightenClient,
    EnlightenError,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyCapabilities,
    EnvoyError,
    EnvoyInfo,
    EnvoyTokenError,
    TokenInfo,
)

RENEW_ON_REJECTION_EVERY = timedelta(minutes=5)
"""A rejected token is renewed at most this often (the cloud may be down)."""
REJECTIONS_BEFORE_REAUTH = 3
"""Refusals in a row before the user is asked to sign in again."""


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How the gateway client retries; tests and benchmarks set their own."""

    retries: int = 1
    """The tiers ride out a failed poll; one quick retry covers a dropped
    keep-alive connection."""
    retry_backoff_s: float = 0.5
    deadline_s: float | None = None
    """Overall limit of one request; None: the client's default."""


CLIENT_SETTINGS: HassKey[ClientSettings] = HassKey(f"{DOMAIN}_client_settings")
"""Optional override of ``ClientSettings`` (tests, benchmarks)."""
CLOUD_ENDPOINTS: HassKey[CloudEndpoints] = HassKey(f"{DOMAIN}_cloud_endpoints")
"""Optional override of the Enphase cloud's addresses (tests, the demo)."""


def enlighten_client(hass: HomeAssistant) -> EnlightenClient:
    """Return a client for the Enphase cloud over verified TLS."""
    return EnlightenClient(
        async_get_clientsession(hass), endpoints=hass.data.get(CLOUD_ENDPOINTS)
    )


def gateway_client(hass: HomeAssistant, host: str) -> Envoy:
    """Return the polling client of the gateway at ``host`` (self-signed TLS)."""
    settings = hass.data.get(CLIENT_SETTINGS) or ClientSettings()
    return Envoy(
        host,
        session=async_create_clientsession(hass, verify_ssl=False),
        max_retries=settings.retries,
        retry_backoff=settings.retry_backoff_s,
        deadline=settings.deadline_s,
    )


class AccessWatch:
    """Ask the user to sign in again only when refusals persist."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Watch the entry ``entry_id``."""
        self.hass = hass
        self.entry_id = entry_id
        self.refusals = 0
        self.reauth_started = False

    @callback
    def refused(self) -> None:
        """Count a refusal; start a reauth flow once they persist."""
        self.refusals += 1
        if self.refusals < REJECTIONS_BEFORE_REAUTH or self.reauth_started:
            return
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None:
            return
        LOGGER.warning(
            "The gateway keeps refusing the credentials; asking to sign in again "
            "(polling goes on, and recovers by itself if the gateway accepts them again)"
        )
        self.reauth_started = True
        entry.async_start_reauth(self.hass)

    @callback
    def accepted(self) -> None:
        """Forget refusals; close a sign-in request that is no longer needed."""
        self.refusals = 0
        if not self.reauth_started:
            return
        self.reauth_started = False
        LOGGER.info("The gateway accepts the credentials again")
        flows = self.hass.config_entries.flow
        for flow in flows.async_progress_by_handler(
            DOMAIN, match_context={"entry_id": self.entry_id}
        ):
            if flow["context"].get("source") == "reauth":
                flows.async_abort(flow["flow_id"])


class TokenKeeper:
    """Holds the gateway token, renews it from Enlighten, warns before expiry."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, envoy: Envoy, title: str
    ) -> None:
        """Keep the token of entry ``entry_id``; renewal needs stored credentials."""
        self.hass = hass
        self.entry_id = entry_id
        self.envoy = envoy
        self.title = title
        self.token_info: TokenInfo | None = None
        self.listeners: list[Callable[[], None]] = []
        self._last_renewal_attempt: datetime | None = None

    def _data(self) -> dict[str, str]:
        """Return the entry's data (credentials, token)."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        return {} if entry is None else dict(entry.data)

    @property
    def has_credentials(self) -> bool:
        """Return True when Enlighten credentials are stored for renewal."""
        data = self._data()
        return bool(
            data.get(CONF_ENLIGHTEN_EMAIL) and data.get(CONF_ENLIGHTEN_PASSWORD)
        )

    @property
    def expires_at(self) -> datetime | None:
        """Return when the current token expires."""
        return None if self.token_info is None else self.token_info.expires_at

    def use_stored_token(self) -> bool:
        """Put the stored token to use; return False when it cannot work."""
        token = self._data().get(CONF_TOKEN)
        if not token:
            return False
        try:
            info = self.envoy.use_token(token)
        except EnvoyTokenError:
            return False
        self.token_info = info
        return not info.is_expired(dt_util.utcnow())

    def renewal_due(self) -> bool:
        """Return True when the token is close enough to expiry to renew.

        Owner tokens live a year: renew a month ahead, as the cloud can be down
        for days. Installer tokens live 12 hours, so they are always due and
        get renewed at every check.
        """
        if self.token_info is None:
            return True
        return self.token_info.expires_at - dt_util.utcnow() < TOKEN_RENEW_BEFORE

    async def async_renew_after_rejection(self) -> bool:
        """Renew a token the gateway refused, at most every few minutes."""
        now = dt_util.utcnow()
        last = self._last_renewal_attempt
        if last is not None and now - last < RENEW_ON_REJECTION_EVERY:
            return False
        return await self.async_renew()

    async def async_renew(self) -> bool:
        """Fetch a new token with the stored credentials; True when it worked."""
        if not self.has_credentials:
            return False
        assert self.envoy.info is not None
        self._last_renewal_attempt = dt_util.utcnow()
        data = self._data()
        try:
            token = await enlighten_client(self.hass).fetch_token(
                data[CONF_ENLIGHTEN_EMAIL],
                data[CONF_ENLIGHTEN_PASSWORD],
                self.envoy.info.serial,
            )
            info = self.envoy.use_token(token)
        except (EnlightenError, EnvoyTokenError) as err:
            LOGGER.warning("Could not renew gateway access from Enlighten: %s", err)
            return False
        self.token_info = info
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is not None:
            self.hass.config_entries.async_update_entry(
                entry, data={**entry.data, CONF_TOKEN: token}
            )
        LOGGER.info(
            "Renewed gateway access from Enlighten; valid until %s", info.expires_at
        )
        self._async_update_issue()
        for listener in self.listeners:
            listener()
        return True

    @callback
    def async_start(self, on_unload: Callable[[Callable[[], None]], None]) -> None:
        """Check the token a while after start-up, then every few hours."""
        # Never reach for the cloud during start-up while the token works.
        on_unload(async_call_later(self.hass, timedelta(minutes=5), self._async_check))
        on_unload(
            async_track_time_interval(self.hass, self._async_check, TOKEN_RENEW_RETRY)
        )
        self._async_update_issue()

    async def _async_check(self, _now: datetime | None = None) -> None:
        """Renew when due; otherwise keep the expiry warning current."""
        if self.renewal_due() and self.has_credentials:
            await self.async_renew()
        self._async_update_issue()

    @callback
    def _async_update_issue(self) -> None:
        """Warn (a repair issue) when a pasted token nears expiry."""
        issue_id = f"token_expiring_{self.entry_id}"
        if self.token_info is None or self.has_credentials or not self.renewal_due():
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        days = max((self.token_info.expires_at - dt_util.utcnow()).days, 0)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            learn_more_url=ENTREZ_URL,
            translation_key="token_expiring",
            translation_placeholders={
                "title": self.title,
                "days": str(days),
                "expires": dt_util.as_local(self.token_info.expires_at).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "entrez_url": ENTREZ_URL,
            },
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A gateway connected to: identity, credentials and what it offers."""

    info: EnvoyInfo
    tokens: TokenKeeper | None
    capabilities: EnvoyCapabilities
    reads: DetectionReads


async def async_connect(
    hass: HomeAssistant, entry: ConfigEntry[Any], envoy: Envoy
) -> Connection:
    """Probe, authenticate and learn what the gateway offers."""
    entry_id, data, unique_id = entry.entry_id, entry.data, entry.unique_id
    try:
        info = await envoy.probe()
    except EnvoyError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="communication_error",
            translation_placeholders={"error": str(err)},
        ) from err
    if unique_id is not None and info.serial != unique_id:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="wrong_gateway",
            translation_placeholders={"serial": info.serial},
        )
    tokens: TokenKeeper | None = None
    if info.requires_token:
        tokens = TokenKeeper(hass, entry_id, envoy, entry.title)
        if not tokens.use_stored_token() and not await tokens.async_renew():
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="token_expired"
            )
    else:
        envoy.use_digest(
            data.get(CONF_USERNAME) or None, data.get(CONF_PASSWORD) or None
        )
    capabilities, reads = await _async_detect(hass, entry_id, envoy, tokens)
    return Connection(info=info, tokens=tokens, capabilities=capabilities, reads=reads)


async def _async_detect(
    hass: HomeAssistant, entry_id: str, envoy: Envoy, tokens: TokenKeeper | None
) -> tuple[EnvoyCapabilities, DetectionReads]:
    """Detect capabilities, renewing a refused token once."""
    for attempt in range(2):
        try:
            return await envoy.detect()
        except EnvoyAuthenticationError as err:
            if attempt == 0 and tokens is not None and await tokens.async_renew():
                continue
            if tokens is not None and tokens.token_info is not None:
                # A token that is valid by its claims but refused may be a
                # gateway restarting: ask to sign in, and keep trying.
                entry = hass.config_entries.async_get_entry(entry_id)
                if entry is not None:
                    entry.async_start_reauth(hass)
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN,
                    translation_key="authentication_failed",
                ) from err
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="authentication_failed",
            ) from err
        except EnvoyError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="communication_error",
                translation_placeholders={"error": str(err)},
            ) from err
    raise ConfigEntryNotReady(  # pragma: no cover - the loop always returns or raises
        translation_domain=DOMAIN, translation_key="authentication_failed"
    )
