"""Polling tiers for Enphase Local: all gateway I/O and its error mapping.

One client serialises every request, so the tiers never talk over each
other. Each tier fails on its own: slow inverter data never makes the CT
entities unavailable. A short outage (the gateway restarts shortly after
23:00 every day) is ridden out with the last good data for a grace period.
"""

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import time
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from . import const
from .const import (
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    CONF_LIVE_INTERVAL,
    CONF_PRODUCTION_INTERVAL,
    CONF_TOKEN,
    CT_MAX_POWER_W,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_PRODUCTION_INTERVAL,
    DOMAIN,
    ENTREZ_URL,
    INFO_INTERVAL,
    INVERTER_MAX_POWER_W,
    LOGGER,
    METERS_INTERVAL,
    SITE_MAX_POWER_W,
    TOKEN_RENEW_BEFORE,
    TOKEN_RENEW_RETRY,
)
from .energy import EnergyBook, EnergyEvent
from .envoy import (
    ApiProduction,
    DeviceData,
    Endpoint,
    EnlightenClient,
    EnlightenError,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyCapabilities,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyError,
    EnvoyInfo,
    EnvoyTokenError,
    Inverter,
    MeasurementType,
    MeterConfig,
    MeterReading,
    ProductionReport,
    ProductionSource,
    TokenInfo,
    match_meter_readings,
    merge_inverters,
)

STORAGE_VERSION = 1
ENERGY_SAVE_INTERVAL = timedelta(minutes=5)
"""Totals are saved this often, and at once after a correction worth keeping."""
_SAVE_NOW_EVENTS = frozenset(
    {EnergyEvent.WRAP_CORRECTED, EnergyEvent.RESET_ACCEPTED, EnergyEvent.JUMP_ACCEPTED}
)

LIVE_GRACE = timedelta(minutes=5)
PRODUCTION_GRACE = timedelta(minutes=5)
SLOW_GRACE = timedelta(hours=1)
"""How long a tier keeps serving its last data while the gateway is away.

The nightly restart after 23:00 lasts 1-5 minutes: riding that out
keeps entities (and automations watching them) from flapping every night.
"""


@dataclass(frozen=True, slots=True)
class LiveData:
    """CT readings (matched to enabled meters by eid) and energy derived from them."""

    readings: dict[int, MeterReading]
    energy: dict[str, float]


@dataclass(frozen=True, slots=True)
class ProductionData:
    """System production from the trusted non-CT source, plus gateway counters."""

    api_production: ApiProduction | None
    report: ProductionReport | None
    energy: dict[str, float]


@dataclass(frozen=True, slots=True)
class InverterData:
    """Every inverter, with detail where the gateway lists it."""

    inverters: dict[str, Inverter]
    device_count: int | None
    device_data_limit: int | None
    energy: dict[str, float]


def role_meter(meters: dict[int, MeterConfig], role: str) -> MeterConfig | None:
    """Return the enabled meter measuring ``role``, if any."""
    return next(
        (
            meter
            for meter in meters.values()
            if meter.enabled and meter.measurement_type == role
        ),
        None,
    )


def enlighten_client(hass: HomeAssistant) -> EnlightenClient:
    """Return a client for the Enphase cloud over verified TLS."""
    return EnlightenClient(
        async_get_clientsession(hass),
        login_url=const.ENLIGHTEN_LOGIN_URL,
        tokens_url=const.ENTREZ_TOKENS_URL,
    )


class EnergyLog:
    """Log each kind of energy correction once per counter, then quietly."""

    def __init__(self) -> None:
        """Start with nothing logged."""
        self._seen: set[tuple[str, EnergyEvent]] = set()

    def report(self, key: str, event: EnergyEvent | None, raw: object) -> None:
        """Log ``event`` for counter ``key`` at warning level the first time."""
        if event is None:
            return
        level = logging.WARNING if (key, event) not in self._seen else logging.DEBUG
        self._seen.add((key, event))
        messages = {
            EnergyEvent.WRAP_CORRECTED: "the counter wrapped at 2^32 J; the total carries on",
            EnergyEvent.DROP_HELD: "the counter dropped; holding the last total until it recovers",
            EnergyEvent.RESET_ACCEPTED: "the counter restarted lower and stayed there; the total carries on from its last value",
            EnergyEvent.JUMP_HELD: "the counter jumped implausibly; holding the last total",
            EnergyEvent.JUMP_ACCEPTED: "an earlier jump persisted and is now accepted",
            EnergyEvent.INVALID: "the gateway sent a value that is not a usable energy count",
        }
        LOGGER.log(level, "Energy %s: %s (gateway sent %r)", key, messages[event], raw)


class TokenKeeper:
    """Holds the gateway token, renews it from Enlighten, warns before expiry."""

    def __init__(
        self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
    ) -> None:
        """Decode the stored token; renewal needs stored Enlighten credentials."""
        self.hass = hass
        self.entry = entry
        self.envoy = envoy
        self.token_info: TokenInfo | None = None
        self.listeners: list[Callable[[], None]] = []

    @property
    def has_credentials(self) -> bool:
        """Return True when Enlighten credentials are stored for renewal."""
        return bool(
            self.entry.data.get(CONF_ENLIGHTEN_EMAIL)
            and self.entry.data.get(CONF_ENLIGHTEN_PASSWORD)
        )

    @property
    def expires_at(self) -> datetime | None:
        """Return when the current token expires."""
        return None if self.token_info is None else self.token_info.expires_at

    def use_stored_token(self) -> bool:
        """Put the stored token to use; return False when it cannot work."""
        token = self.entry.data.get(CONF_TOKEN)
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

    async def async_renew(self) -> bool:
        """Fetch a new token with the stored credentials; True when it worked."""
        if not self.has_credentials:
            return False
        assert self.envoy.info is not None
        try:
            token = await enlighten_client(self.hass).fetch_token(
                self.entry.data[CONF_ENLIGHTEN_EMAIL],
                self.entry.data[CONF_ENLIGHTEN_PASSWORD],
                self.envoy.info.serial,
            )
            info = self.envoy.use_token(token)
        except (EnlightenError, EnvoyTokenError) as err:
            LOGGER.warning("Could not renew gateway access from Enlighten: %s", err)
            return False
        self.token_info = info
        self.hass.config_entries.async_update_entry(
            self.entry, data={**self.entry.data, CONF_TOKEN: token}
        )
        LOGGER.info(
            "Renewed gateway access from Enlighten; valid until %s", info.expires_at
        )
        self._async_update_issue()
        for listener in self.listeners:
            listener()
        return True

    @callback
    def async_start(self) -> None:
        """Check the token a while after start-up, then every few hours."""
        # Never reach for the cloud during start-up while the token works.
        self.entry.async_on_unload(
            async_call_later(self.hass, timedelta(minutes=5), self._async_check)
        )
        self.entry.async_on_unload(
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
        issue_id = f"token_expiring_{self.entry.entry_id}"
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
                "title": self.entry.title,
                "days": str(days),
                "expires": dt_util.as_local(self.token_info.expires_at).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "entrez_url": ENTREZ_URL,
            },
        )


@dataclass(kw_only=True)
class EnphaseLocalRuntimeData:
    """What a loaded gateway keeps while it runs."""

    envoy: Envoy
    info: EnvoyInfo
    capabilities: EnvoyCapabilities
    energy: EnergyBook
    energy_store: Store[dict[str, Any]]
    energy_log: EnergyLog
    tokens: TokenKeeper | None
    info_coordinator: InfoCoordinator
    meters_coordinator: MetersCoordinator | None
    live_coordinator: LiveCoordinator | None
    production_coordinator: ProductionCoordinator
    inverters_coordinator: InvertersCoordinator | None
    gateway_device_id: str = ""
    reachable: bool = True
    last_contact: datetime | None = None

    def save_energy_now(self) -> None:
        """Persist energy state right away (a wrap offset must not be lost)."""
        self.energy_store.async_delay_save(self.energy.as_dict)


type EnphaseLocalConfigEntry = ConfigEntry[EnphaseLocalRuntimeData]


class EnphaseLocalCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A polling tier: maps client errors and rides out short outages."""

    config_entry: EnphaseLocalConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseLocalConfigEntry,
        envoy: Envoy,
        *,
        tier: str,
        update_interval: timedelta,
        grace: timedelta,
    ) -> None:
        """Set the tier's cadence and how long it may serve old data."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} {tier}",
            update_interval=update_interval,
            always_update=False,
        )
        self.envoy = envoy
        self.tier = tier
        self.grace = grace
        self.last_success: datetime | None = None

    @property
    def runtime(self) -> EnphaseLocalRuntimeData:
        """Return the entry's runtime data."""
        return self.config_entry.runtime_data

    @abstractmethod
    async def _async_fetch(self) -> DataT:
        """Read this tier's endpoints."""

    @override
    async def _async_update_data(self) -> DataT:
        """Fetch, renewing the token once if the gateway rejects it."""
        try:
            data = await self._async_fetch_mapped(retry_auth=True)
        except UpdateFailed:
            self._record_contact(ok=False)
            if (
                self.data is not None
                and self.last_success is not None
                and dt_util.utcnow() - self.last_success < self.grace
            ):
                LOGGER.debug("%s: serving the last data through an outage", self.name)
                return self.data
            raise
        self.last_success = dt_util.utcnow()
        self._record_contact(ok=True)
        return data

    def _record_contact(self, *, ok: bool) -> None:
        """Remember whether the gateway answered, for the reachable sensor."""
        changed = self.runtime.reachable != ok
        self.runtime.reachable = ok
        if ok:
            self.runtime.last_contact = dt_util.utcnow()
        if changed and self.data is not None:
            # Served-through outages leave the data unchanged, so listeners
            # would not hear of it otherwise.
            self.async_update_listeners()

    async def _async_fetch_mapped(self, *, retry_auth: bool) -> DataT:
        """Run the fetch and turn client errors into Home Assistant's."""
        try:
            return await self._async_fetch()
        except EnvoyAuthenticationError as err:
            tokens = self.runtime.tokens
            if retry_auth and tokens is not None and await tokens.async_renew():
                return await self._async_fetch_mapped(retry_auth=False)
            raise ConfigEntryAuthFailed(
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
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="communication_error",
                translation_placeholders={"error": str(err)},
            ) from err

    def track_energy(
        self,
        energy: dict[str, float],
        key: str,
        raw: float | None,
        *,
        wraps: bool = False,
        max_power_w: float = CT_MAX_POWER_W,
    ) -> float | None:
        """Guard one lifetime counter and put its total in ``energy``."""
        runtime = self.runtime
        value, event = runtime.energy.lifetime(
            key, raw, time.time(), wraps=wraps, max_power_w=max_power_w
        )
        runtime.energy_log.report(key, event, raw)
        if event in _SAVE_NOW_EVENTS:
            runtime.save_energy_now()
        if value is not None:
            energy[key] = value
        return value

    def track_daily(
        self, energy: dict[str, float], key: str, total: float | None
    ) -> None:
        """Add energy since local midnight for a guarded total."""
        today = self.runtime.energy.daily(key, total, dt_util.now().date())
        if today is not None:
            energy[f"{key}_today"] = today


class InfoCoordinator(EnphaseLocalCoordinator[EnvoyInfo]):
    """Re-reads /info every few hours; a firmware change reloads the entry."""

    def __init__(
        self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
    ) -> None:
        """Poll /info slowly."""
        super().__init__(
            hass,
            entry,
            envoy,
            tier="info",
            update_interval=INFO_INTERVAL,
            grace=SLOW_GRACE,
        )

    @override
    async def _async_fetch(self) -> EnvoyInfo:
        """Probe the gateway and notice firmware pushes."""
        previous = self.envoy.info
        info = await self.envoy.probe()
        if previous is not None and info.serial != previous.serial:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="wrong_gateway",
                translation_placeholders={"serial": info.serial},
            )
        if previous is not None and info.firmware != previous.firmware:
            LOGGER.warning(
                "Gateway firmware changed from %s to %s; reloading to adapt",
                previous.firmware,
                info.firmware,
            )
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return info


class MetersCoordinator(EnphaseLocalCoordinator[dict[int, MeterConfig]]):
    """Reads the CT configuration every 10 minutes."""

    def __init__(
        self, hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
    ) -> None:
        """Poll /ivp/meters slowly."""
        super().__init__(
            hass,
            entry,
            envoy,
            tier="meters",
            update_interval=METERS_INTERVAL,
            grace=SLOW_GRACE,
        )

    @override
    async def _async_fetch(self) -> dict[int, MeterConfig]:
        """Read the meters; a change of production CT changes the source: reload."""
        meters = {meter.eid: meter for meter in await self.envoy.meters()}
        if self.data is not None and _production_ct_changed(self.data, meters):
            LOGGER.info("The production CT was enabled or disabled; reloading")
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return meters


def _production_ct_changed(
    before: dict[int, MeterConfig], after: dict[int, MeterConfig]
) -> bool:
    """Return True when the enabled production CT appeared or went away."""
    return (role_meter(before, MeasurementType.PRODUCTION) is None) != (
        role_meter(after, MeasurementType.PRODUCTION) is None
    )


class LiveCoordinator(EnphaseLocalCoordinator[LiveData]):
    """CT readings on the fast tier; derives grid, consumption and battery energy."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseLocalConfigEntry,
        envoy: Envoy,
        meters: MetersCoordinator,
    ) -> None:
        """Poll /ivp/meters/readings at the user's live interval."""
        seconds = entry.options.get(CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL)
        super().__init__(
            hass,
            entry,
            envoy,
            tier="live",
            update_interval=timedelta(seconds=seconds),
            grace=LIVE_GRACE,
        )
        self.meters = meters

    @override
    async def _async_fetch(self) -> LiveData:
        """Read the CTs and turn their counters into guarded totals."""
        meters = self.meters.data or {}
        readings = match_meter_readings(
            list(meters.values()), await self.envoy.meter_readings()
        )
        energy: dict[str, float] = {}
        for eid, reading in readings.items():
            self._track_counters(energy, f"ct_{eid}", reading)
            for phase, channel in enumerate(reading.channels, start=1):
                self._track_counters(energy, f"ct_{eid}_l{phase}", channel)
        self._derive_site_energy(meters, readings, energy)
        return LiveData(readings=readings, energy=energy)

    def _track_counters(
        self, energy: dict[str, float], prefix: str, reading: MeterReading
    ) -> None:
        """Guard every cumulative counter of a meter or phase reading."""
        counters = {
            "delivered": reading.active_energy_delivered_wh,
            "received": reading.active_energy_received_wh,
            "apparent": reading.apparent_energy_vah,
            "reactive_lagging": reading.reactive_energy_lagging_varh,
            "reactive_leading": reading.reactive_energy_leading_varh,
        }
        for name, raw in counters.items():
            self.track_energy(energy, f"{prefix}_{name}", raw)

    def _derive_site_energy(
        self,
        meters: dict[int, MeterConfig],
        readings: dict[int, MeterReading],
        energy: dict[str, float],
    ) -> None:
        """Name the totals a user wants: production, grid, consumption, battery."""

        def total(role: str, direction: str) -> float | None:
            meter = role_meter(meters, role)
            if meter is None or meter.eid not in readings:
                return None
            return energy.get(f"ct_{meter.eid}_{direction}")

        production = total(MeasurementType.PRODUCTION, "delivered")
        if production is not None:
            energy["production"] = production
            self.track_daily(energy, "production", production)
        grid_import = total(MeasurementType.NET_CONSUMPTION, "delivered")
        grid_export = total(MeasurementType.NET_CONSUMPTION, "received")
        load = total(MeasurementType.TOTAL_CONSUMPTION, "delivered")
        discharge = total(MeasurementType.STORAGE, "delivered")
        charge = total(MeasurementType.STORAGE, "received")
        battery = 0.0
        if discharge is not None and charge is not None:
            energy["battery_discharge"] = discharge
            energy["battery_charge"] = charge
            battery = discharge - charge
        if grid_import is not None and grid_export is not None:
            energy["grid_import"] = grid_import
            energy["grid_export"] = grid_export
            if production is not None:
                self.track_energy(
                    energy,
                    "consumption",
                    production + grid_import - grid_export + battery,
                )
        elif load is not None:
            energy["consumption"] = load
            if production is not None:
                # A load-only site has no grid counters: integrate them here.
                grid = self.runtime.energy.grid
                grid.update(load, production)
                energy["grid_import"] = grid.import_wh
                energy["grid_export"] = grid.export_wh
        if "consumption" in energy:
            self.track_daily(energy, "consumption", energy["consumption"])


class _SlowTier[DataT](EnphaseLocalCoordinator[DataT]):
    """A tier on the user's production interval (inverters report every 5 min)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseLocalConfigEntry,
        envoy: Envoy,
        capabilities: EnvoyCapabilities,
        *,
        tier: str,
    ) -> None:
        """Poll at the user's production interval."""
        seconds = entry.options.get(
            CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL
        )
        super().__init__(
            hass,
            entry,
            envoy,
            tier=tier,
            update_interval=timedelta(seconds=seconds),
            grace=PRODUCTION_GRACE,
        )
        self.capabilities = capabilities


class ProductionCoordinator(_SlowTier[ProductionData]):
    """System production from /api/v1/production or production.json."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseLocalConfigEntry,
        envoy: Envoy,
        capabilities: EnvoyCapabilities,
    ) -> None:
        """Set up the production tier."""
        super().__init__(hass, entry, envoy, capabilities, tier="production")

    @property
    def max_power_w(self) -> float:
        """Return a bound on system production: every inverter at full power."""
        inverters = self.runtime.inverters_coordinator
        if inverters is None or inverters.data is None:
            return SITE_MAX_POWER_W
        return max(len(inverters.data.inverters), 1) * INVERTER_MAX_POWER_W

    @override
    async def _async_fetch(self) -> ProductionData:
        """Read only the source this gateway's production is trusted from."""
        source = self.capabilities.production_source
        api_production: ApiProduction | None = None
        report: ProductionReport | None = None
        lifetime_wh: float | None = None
        if source is ProductionSource.PRODUCTION_JSON_INVERTERS:
            # Stalled or zero on these gateways: /api/v1/production is not read.
            report = await self.envoy.production_report(details=False)
            if report.inverters is not None:
                lifetime_wh = report.inverters.wh_lifetime
        elif self.capabilities.has(Endpoint.API_PRODUCTION):
            api_production = await self.envoy.api_production()
            lifetime_wh = api_production.watt_hours_lifetime
        energy: dict[str, float] = {}
        if source is not ProductionSource.CT:
            # Sums of wrapping inverter counters, whichever endpoint says so.
            total = self.track_energy(
                energy,
                "production",
                lifetime_wh,
                wraps=True,
                max_power_w=self.max_power_w,
            )
            self.track_daily(energy, "production", total)
        return ProductionData(
            api_production=api_production, report=report, energy=energy
        )


class InvertersCoordinator(_SlowTier[InverterData]):
    """Every inverter; device detail where /ivp/pdm/device_data lists it."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseLocalConfigEntry,
        envoy: Envoy,
        capabilities: EnvoyCapabilities,
    ) -> None:
        """Set up the inverter tier."""
        super().__init__(hass, entry, envoy, capabilities, tier="inverters")
        self._device_data_failed = False
        self._gone: set[str] = set()

    @override
    async def _async_fetch(self) -> InverterData:
        """Read the basic list, then detail; detail failing only costs detail."""
        basic = await self.envoy.inverters()
        device_data: DeviceData | None = None
        if self.capabilities.has(Endpoint.DEVICE_DATA):
            try:
                device_data = await self.envoy.device_data()
            except (
                EnvoyConnectionError,
                EnvoyDataError,
                EnvoyEndpointMissingError,
            ) as err:
                # This endpoint hangs around the nightly restart; keep the last
                # detail rather than failing every inverter.
                if not self._device_data_failed:
                    LOGGER.info(
                        "Inverter detail unavailable, keeping the last: %s", err
                    )
                self._device_data_failed = True
                device_data = None
            else:
                self._device_data_failed = False
        merged = merge_inverters(basic, device_data)
        # Removed inverters linger in the gateway's list with old report dates;
        # device_data names them, and they stay gone while it is unavailable.
        self._gone.update(
            serial for serial, inverter in merged.items() if inverter.gone
        )
        inverters = {
            serial: inverter
            for serial, inverter in merged.items()
            if serial not in self._gone
        }
        if device_data is None and self.data is not None:
            inverters = {
                serial: _keep_detail(inverter, self.data.inverters.get(serial))
                for serial, inverter in inverters.items()
            }
        energy: dict[str, float] = {}
        for serial, inverter in inverters.items():
            if inverter.detail is None:
                continue
            key = f"inverter_{serial}"
            lifetime = self.track_energy(
                energy,
                key,
                inverter.detail.lifetime_energy_wh,
                wraps=True,
                max_power_w=INVERTER_MAX_POWER_W,
            )
            self.track_daily(energy, key, lifetime)
        return InverterData(
            inverters=inverters,
            device_count=(
                device_data.device_count
                if device_data is not None
                else self.data.device_count
                if self.data is not None
                else None
            ),
            device_data_limit=self.capabilities.device_data_limit,
            energy=energy,
        )


def _keep_detail(inverter: Inverter, previous: Inverter | None) -> Inverter:
    """Return ``inverter`` with the detail it had last time, if any."""
    if previous is None or previous.detail is None or inverter.detail is not None:
        return inverter
    return Inverter(
        serial=inverter.serial,
        dev_type=inverter.dev_type,
        last_report_date=inverter.last_report_date,
        last_report_watts=inverter.last_report_watts,
        max_report_watts=inverter.max_report_watts,
        detail=previous.detail,
    )


async def async_connect(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry, envoy: Envoy
) -> tuple[EnvoyInfo, TokenKeeper | None, EnvoyCapabilities]:
    """Probe, authenticate and learn what the gateway offers."""
    try:
        info = await envoy.probe()
    except EnvoyError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="communication_error",
            translation_placeholders={"error": str(err)},
        ) from err
    if entry.unique_id is not None and info.serial != entry.unique_id:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="wrong_gateway",
            translation_placeholders={"serial": info.serial},
        )
    tokens: TokenKeeper | None = None
    if info.requires_token:
        tokens = TokenKeeper(hass, entry, envoy)
        if not tokens.use_stored_token() and not await tokens.async_renew():
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="token_expired"
            )
    else:
        envoy.use_digest(
            entry.data.get(CONF_USERNAME) or None, entry.data.get(CONF_PASSWORD) or None
        )
    capabilities = await _async_detect(envoy, tokens)
    return info, tokens, capabilities


async def _async_detect(envoy: Envoy, tokens: TokenKeeper | None) -> EnvoyCapabilities:
    """Detect capabilities, renewing a rejected token once."""
    for attempt in range(2):
        try:
            return await envoy.detect_capabilities()
        except EnvoyAuthenticationError as err:
            if attempt or tokens is None or not await tokens.async_renew():
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
    raise HomeAssistantError("unreachable")  # pragma: no cover


async def async_first_refresh(
    coordinators: list[EnphaseLocalCoordinator[Any]],
    required: list[EnphaseLocalCoordinator[Any]],
) -> None:
    """Refresh every tier once; only the tiers the entities rely on must work."""
    for coordinator in coordinators:
        if coordinator in required:
            await coordinator.async_config_entry_first_refresh()
        else:
            await coordinator.async_refresh()
