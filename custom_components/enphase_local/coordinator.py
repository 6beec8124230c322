"""Polling tiers for Enphase Local: all gateway I/O scheduling and its error mapping.

One client serialises every request, so the tiers never talk over each
other. Each tier fails on its own: slow inverter data never makes the CT
entities unavailable. A short outage (the gateway restarts shortly after
23:00 every day) is ridden out with the last good data for a grace period;
live power is marked stale sooner, because automations act on it.

A tier is declared by class attributes: its name, interval (or the option
that sets it), grace and endpoints. The arithmetic lives elsewhere: counter
guarding in ``bookkeeping.py``, site flows in ``site.py``, per-tier parsing
helpers in ``tiers.py``.
"""

from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .bookkeeping import EnergyKeeper
from .connection import AccessWatch, TokenKeeper
from .const import (
    CONF_LIVE_INTERVAL,
    CONF_PRODUCTION_INTERVAL,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_PRODUCTION_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .envoy import (
    Endpoint,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyCapabilities,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyError,
    EnvoyInfo,
    EnvoyRedirectError,
    MeterConfig,
)
from .tiers import (
    InverterData,
    InverterMemory,
    LiveData,
    ProductionData,
    SiteData,
    build_site,
    read_inverters,
    read_live,
    read_production,
)

if TYPE_CHECKING:
    from .battery import BatteryTier, DryContactsTier, InventoryTier, TariffTier
    from .device_parts import PartsTier

LIVE_GRACE = timedelta(minutes=5)
PRODUCTION_GRACE = timedelta(minutes=5)
SLOW_GRACE = timedelta(hours=1)
"""How long a tier keeps serving its last data while the gateway is away.

The nightly restart after 23:00 lasts 1-5 minutes: riding that out keeps
energy entities (and the statistics) from flapping every night.
"""
LIVE_STALE_AFTER = 3
"""Missed CT polls after which live power is stale (unavailable)."""
PROBE_AT_MOST_EVERY = timedelta(minutes=5)


@dataclass(slots=True)
class Connectivity:
    """Whether the gateway answers, for the reachable and last-update sensors."""

    reachable: bool = True
    last_contact: datetime | None = None
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def record(self, *, ok: bool) -> None:
        """Note an answer (or none); tell listeners when reachability changes."""
        changed = self.reachable != ok
        self.reachable = ok
        if ok:
            self.last_contact = dt_util.utcnow()
        if changed:
            for listener in list(self.listeners):
                listener()

    def listen(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` when reachability changes; return the undo."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


@dataclass(kw_only=True)
class EnphaseLocalRuntimeData:
    """What a loaded gateway keeps while it runs."""

    envoy: Envoy
    info: EnvoyInfo
    capabilities: EnvoyCapabilities
    tokens: TokenKeeper | None
    access: AccessWatch
    energy: EnergyKeeper
    tiers: Tiers
    site: SiteCoordinator
    connectivity: Connectivity = field(default_factory=Connectivity)
    gateway_device_id: str = ""
    last_probe_request: datetime | None = None

    @callback
    def request_probe(self) -> None:
        """Re-read /info soon: redirects or refusals may mean new firmware."""
        now = dt_util.utcnow()
        last = self.last_probe_request
        if last is not None and now - last < PROBE_AT_MOST_EVERY:
            return
        self.last_probe_request = now
        self.tiers.info.hass.async_create_task(
            self.tiers.info.async_request_refresh(), eager_start=False
        )


type EnphaseLocalConfigEntry = ConfigEntry[EnphaseLocalRuntimeData]


class EnphaseLocalCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A polling tier: maps client errors and rides out short outages."""

    config_entry: EnphaseLocalConfigEntry
    tier: ClassVar[str]
    interval: ClassVar[timedelta] = timedelta(minutes=1)
    interval_option: ClassVar[tuple[str, int] | None] = None
    """The option that sets the interval, and its default in seconds."""
    grace: ClassVar[timedelta] = SLOW_GRACE
    endpoints: ClassVar[tuple[Endpoint, ...]] = ()

    def __init__(
        self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
    ) -> None:
        """Poll at the tier's interval (or the user's option for it)."""
        interval = self.interval
        if self.interval_option is not None:
            option, default = self.interval_option
            interval = timedelta(seconds=entry.options.get(option, default))
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} {self.tier}",
            update_interval=interval,
            always_update=False,
        )
        self.envoy = envoy
        self.last_success: datetime | None = None
        self.failures = 0
        """Polls in a row that failed."""

    @property
    def runtime(self) -> EnphaseLocalRuntimeData:
        """Return the entry's runtime data."""
        return self.config_entry.runtime_data

    @abstractmethod
    async def _async_fetch(self) -> DataT:
        """Read this tier's endpoints."""

    @callback
    def seed(self, data: DataT) -> None:
        """Start from data read at setup instead of reading it again."""
        self.last_success = dt_util.utcnow()
        self.async_set_updated_data(data)

    def stale(self, data: DataT) -> DataT:
        """Return ``data`` as it should be served through an outage."""
        return data

    @override
    async def _async_update_data(self) -> DataT:
        """Fetch, renewing the token once if the gateway refuses it."""
        answers, authorized = self.envoy.answers, self.envoy.authorized_answers
        try:
            data = await self._async_fetch_mapped()
        except UpdateFailed as err:
            self.failures += 1
            cause = err.__cause__
            # An HTTP error is still an answer: the gateway is reachable.
            self.runtime.connectivity.record(
                ok=isinstance(cause, EnvoyError) and cause.answered
            )
            if (
                self.data is not None
                and self.last_success is not None
                and dt_util.utcnow() - self.last_success < self.grace
            ):
                LOGGER.debug("%s: serving the last data through an outage", self.name)
                return self.stale(self.data)
            raise
        self.failures = 0
        self.last_success = dt_util.utcnow()
        # Only a read that reached the gateway says anything about it.
        if self.envoy.answers > answers:
            self.runtime.connectivity.record(ok=True)
        if self.envoy.authorized_answers > authorized:
            self.runtime.access.accepted()
        return data

    async def _async_fetch_mapped(self) -> DataT:
        """Run the fetch and turn client errors into Home Assistant's."""
        runtime = self.runtime
        try:
            try:
                return await self._async_fetch()
            except EnvoyAuthenticationError:
                tokens = runtime.tokens
                if tokens is None or not await tokens.async_renew_after_rejection():
                    raise
                return await self._async_fetch()
        except EnvoyAuthenticationError as err:
            runtime.access.refused()
            runtime.request_probe()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="authentication_failed",
            ) from err
        except EnvoyEndpointMissingError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="endpoint_missing",
                translation_placeholders={"endpoint": err.endpoint or "?"},
            ) from err
        except EnvoyDataError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="bad_data",
                translation_placeholders={"error": str(err)},
            ) from err
        except EnvoyError as err:
            if isinstance(err, EnvoyRedirectError):
                runtime.request_probe()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="communication_error",
                translation_placeholders={"error": str(err)},
            ) from err


class InfoTier(EnphaseLocalCoordinator[EnvoyInfo]):
    """Re-reads /info every few hours (and on demand); firmware changes reload."""

    tier = "info"
    interval = timedelta(hours=4)
    endpoints = (Endpoint.INFO,)

    @override
    async def _async_fetch(self) -> EnvoyInfo:
        """Probe the gateway and notice firmware pushes."""
        previous = self.runtime.info
        info = await self.envoy.probe()
        if info.serial != previous.serial:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="wrong_gateway",
                translation_placeholders={"serial": info.serial},
            )
        if info.firmware != previous.firmware:
            LOGGER.warning(
                "Gateway firmware changed from %s to %s; reloading to adapt",
                previous.firmware,
                info.firmware,
            )
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return info


class MetersTier(EnphaseLocalCoordinator[dict[int, MeterConfig]]):
    """Reads the CT configuration every 10 minutes, and when the readings change."""

    tier = "meters"
    interval = timedelta(minutes=10)
    endpoints = (Endpoint.METERS,)

    @override
    async def _async_fetch(self) -> dict[int, MeterConfig]:
        """Read the meters; the site flows adapt to what is enabled."""
        return {meter.eid: meter for meter in await self.envoy.meters()}


class LiveTier(EnphaseLocalCoordinator[LiveData]):
    """CT readings on the fast tier."""

    tier = "live"
    interval_option = (CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL)
    grace = LIVE_GRACE
    endpoints = (Endpoint.METER_READINGS,)

    @override
    async def _async_fetch(self) -> LiveData:
        """Read the CTs and guard the counters someone uses."""
        runtime = self.runtime
        meters_tier = runtime.tiers.meters
        meters = (meters_tier.data if meters_tier else None) or {}
        if not any(meter.enabled for meter in meters.values()):
            # No CT in use: nothing to read until one is switched on.
            return LiveData(readings={}, counters={}, listed_eids=frozenset())
        data = read_live(
            runtime.energy,
            meters,
            await self.envoy.meter_readings(),
            wanted=set(self.async_contexts()),
            previous=self.data,
            now=dt_util.utcnow().timestamp(),
        )
        if (
            meters_tier is not None
            and self.data is not None
            and data.listed_eids != self.data.listed_eids
        ):
            # A CT was switched on or off: learn it now, not in 10 minutes.
            LOGGER.debug("The gateway's CT readings changed shape; re-reading meters")
            self.hass.async_create_task(
                meters_tier.async_request_refresh(), eager_start=False
            )
        return data

    @override
    def stale(self, data: LiveData) -> LiveData:
        """Mark power stale after a few missed polls; totals keep their grace."""
        if self.failures >= LIVE_STALE_AFTER and data.fresh:
            return replace(data, fresh=False)
        return data


class ProductionTier(EnphaseLocalCoordinator[ProductionData]):
    """System production from the trusted non-CT source, when the site needs it."""

    tier = "production"
    interval_option = (CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL)
    grace = PRODUCTION_GRACE
    endpoints = (Endpoint.API_PRODUCTION, Endpoint.PRODUCTION_JSON, Endpoint.PRODUCTION)

    @override
    async def _async_fetch(self) -> ProductionData:
        """Read only the source this gateway's production is trusted from."""
        runtime = self.runtime
        return await read_production(
            self.envoy,
            runtime.energy,
            runtime.capabilities,
            needed=runtime.site.needs_production(set(self.async_contexts())),
            inverter_count=runtime.tiers.inverter_count(),
        )


class InvertersTier(EnphaseLocalCoordinator[InverterData]):
    """Every inverter; device detail where /ivp/pdm/device_data lists it."""

    tier = "inverters"
    interval_option = (CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL)
    grace = PRODUCTION_GRACE
    endpoints = (Endpoint.API_INVERTERS, Endpoint.DEVICE_DATA)

    def __init__(
        self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
    ) -> None:
        """Remember, across polls, which inverters were removed."""
        super().__init__(hass, entry, envoy)
        self.memory = InverterMemory()

    @override
    async def _async_fetch(self) -> InverterData:
        """Read the basic list, then detail; detail failing only costs detail."""
        runtime = self.runtime
        return await read_inverters(
            self.envoy,
            keeper=runtime.energy,
            capabilities=runtime.capabilities,
            memory=self.memory,
            previous=self.data,
            now=dt_util.now(),
        )


@dataclass(slots=True)
class Tiers:
    """The polling tiers of one gateway (those it has)."""

    info: InfoTier
    production: ProductionTier
    meters: MetersTier | None = None
    live: LiveTier | None = None
    inverters: InvertersTier | None = None
    battery: BatteryTier | None = None
    inventory: InventoryTier | None = None
    tariff: TariffTier | None = None
    relays: DryContactsTier | None = None
    parts: PartsTier | None = None

    def __iter__(self) -> Iterator[EnphaseLocalCoordinator[Any]]:
        """Iterate over the tiers that exist, slowest configuration first."""
        for tier in (
            self.info,
            self.meters,
            self.live,
            self.production,
            self.inverters,
            self.battery,
            self.inventory,
            self.tariff,
            self.relays,
            self.parts,
        ):
            if tier is not None:
                yield tier

    def inverter_count(self) -> int | None:
        """Return how many inverters the site has, once known."""
        if self.inverters is None or self.inverters.data is None:
            return None
        return len(self.inverters.data.inverters)


class SiteCoordinator(DataUpdateCoordinator[SiteData]):
    """Site flows, recomputed whenever a tier they come from has news.

    It reads nothing itself: the tiers poll, this combines what they last
    read (``tiers.build_site``) and publishes it to the site entities.
    """

    config_entry: EnphaseLocalConfigEntry

    def __init__(self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry) -> None:
        """Start without data; ``async_start`` hooks it to the tiers."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} site",
            update_interval=None,
            always_update=False,
        )

    @property
    def runtime(self) -> EnphaseLocalRuntimeData:
        """Return the entry's runtime data."""
        return self.config_entry.runtime_data

    def needs_production(self, contexts: set[object]) -> bool:
        """Return True when the production tier must read (no live production CT)."""
        if contexts - {self}:
            return True
        data = self.data
        return data is None or not data.production_from_ct

    @callback
    def async_start(self) -> None:
        """Listen to every source tier and compute the first site flows."""
        tiers = self.runtime.tiers
        for tier in (
            tiers.meters,
            tiers.live,
            tiers.production,
            tiers.inverters,
            tiers.battery,
        ):
            if tier is not None:
                self.config_entry.async_on_unload(
                    tier.async_add_listener(self.async_recompute, self)
                )
        # The first pass starts each total at the gateway's own lifetime; the
        # second lets totals follow their refined sources (per-inverter
        # growth) from the start instead of from the next poll that changes.
        self.async_recompute()
        self.async_recompute()

    @callback
    def async_recompute(self) -> None:
        """Combine the tiers' latest data into the site flows."""
        previous = self.data
        data = build_site(self.runtime, dt_util.now().date())
        self.async_set_updated_data(data)
        if (
            previous is not None
            and previous.production_from_ct
            and not data.production_from_ct
        ):
            # The production CT went away: read the other source now rather
            # than at the production tier's next poll.
            production = self.runtime.tiers.production
            self.hass.async_create_task(
                production.async_request_refresh(), eager_start=False
            )

    @override
    async def _async_update_data(self) -> SiteData:
        """Recompute on request (a midnight roll-over)."""
        return build_site(self.runtime, dt_util.now().date())
