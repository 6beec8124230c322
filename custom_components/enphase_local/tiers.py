"""What each tier reads and keeps: its data, how one poll becomes that data.

The coordinators (``coordinator.py``) schedule these reads and map their
errors; the functions here call the client, guard the counters through the
bookkeeping and build immutable data that compares by value, so a poll that
changes nothing notifies nobody.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
import time
from typing import TYPE_CHECKING

from .bookkeeping import EnergyKeeper
from .const import CT_MAX_POWER_W, INVERTER_MAX_POWER_W, LOGGER, SITE_MAX_POWER_W
from .envoy import (
    ApiProduction,
    DetectionReads,
    DeviceData,
    Endpoint,
    Envoy,
    EnvoyCapabilities,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    Inverter,
    InverterProduction,
    MeasurementType,
    MeterConfig,
    MeterReading,
    ProductionPage,
    ProductionReport,
    ProductionSource,
    match_meter_readings,
    merge_inverters,
)
from .keys import CtCounter, SiteTotal, ct_key, inverter_key, source_key
from .site import (
    Measured,
    ProductionReading,
    SiteInputs,
    SitePowers,
    role_meter,
    site_flows,
)

if TYPE_CHECKING:
    from .coordinator import EnphaseLocalRuntimeData

GONE_STALE_S = 6 * 3600
"""A removed inverter is dropped once its report is this much older than the
newest: some firmware marks every device removed while they still report."""
_SITE_ROLES = (
    MeasurementType.PRODUCTION,
    MeasurementType.NET_CONSUMPTION,
    MeasurementType.TOTAL_CONSUMPTION,
    MeasurementType.STORAGE,
)
INVERTER_DETAIL_SUM = "inverter_detail_sum"
COUNTER_INTERVAL_S = 55.0
"""CT counters are guarded about once a minute (the live tier polls faster)."""
"""Production source: the sum of every inverter's guarded lifetime counter."""


# --- CT readings -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CtRef:
    """One CT counter an entity shows: what the live tier must guard for it."""

    eid: int
    counter: CtCounter
    phase: int | None = None

    @property
    def key(self) -> str:
        """Return the counter's energy key."""
        return ct_key(self.eid, self.counter, self.phase)


@dataclass(frozen=True, slots=True)
class LiveData:
    """CT readings (matched to enabled meters by eid) and their guarded counters."""

    readings: Mapping[int, MeterReading]
    counters: Mapping[str, float]
    listed_eids: frozenset[int]
    """Eids the gateway listed this time: a change means a CT changed."""
    fresh: bool = True
    """False once several polls in a row failed: powers are stale."""
    guarded_at: float = 0.0
    """When the counters were last guarded (epoch seconds)."""


_READING_COUNTERS = {
    CtCounter.DELIVERED: "active_energy_delivered_wh",
    CtCounter.RECEIVED: "active_energy_received_wh",
    CtCounter.APPARENT: "apparent_energy_vah",
    CtCounter.REACTIVE_LAGGING: "reactive_energy_lagging_varh",
    CtCounter.REACTIVE_LEADING: "reactive_energy_leading_varh",
}


def _counter_raw(reading: MeterReading, ref: CtRef) -> float | None:
    """Return the raw value of ``ref`` in a meter's reading."""
    if ref.phase is not None:
        if ref.phase > len(reading.channels):
            return None
        reading = reading.channels[ref.phase - 1]
    value: float | None = getattr(reading, _READING_COUNTERS[ref.counter])
    return value


def site_counter_refs(meters: Mapping[int, MeterConfig]) -> list[CtRef]:
    """Return the CT counters the site flows need, whatever entities exist."""
    refs: list[CtRef] = []
    for role in _SITE_ROLES:
        meter = role_meter(meters, role)
        if meter is not None:
            refs.append(CtRef(meter.eid, CtCounter.DELIVERED))
            refs.append(CtRef(meter.eid, CtCounter.RECEIVED))
    return refs


def read_live(
    keeper: EnergyKeeper,
    meters: Mapping[int, MeterConfig],
    raw_readings: list[MeterReading],
    *,
    wanted: Iterable[object],
    previous: LiveData | None,
    now: float,
) -> LiveData:
    """Match one poll's readings and guard the counters someone uses.

    Counters are guarded once a minute (or when a new one is wanted): power
    moves every poll, but energy for statistics gains nothing from a total
    rewritten every few seconds, and each guard and state write costs.
    """
    readings = match_meter_readings(list(meters.values()), raw_readings)
    refs = {ref for ref in wanted if isinstance(ref, CtRef)}
    refs.update(site_counter_refs(meters))
    due = (
        previous is None
        or now - previous.guarded_at >= COUNTER_INTERVAL_S
        or any(ref.key not in previous.counters for ref in refs)
    )
    if not due:
        assert previous is not None
        return LiveData(
            readings=readings,
            counters=previous.counters,
            listed_eids=frozenset(reading.eid for reading in raw_readings),
            guarded_at=previous.guarded_at,
        )
    counters = dict(previous.counters) if previous is not None else {}
    for ref in refs:
        reading = readings.get(ref.eid)
        if reading is None:
            continue
        value = keeper.guard("live", ref.key, _counter_raw(reading, ref), now=now)
        if value is not None:
            counters[ref.key] = value
    keeper.flush_log("live")
    return LiveData(
        readings=readings,
        counters=counters,
        listed_eids=frozenset(reading.eid for reading in raw_readings),
        guarded_at=now,
    )


def live_from_reads(
    keeper: EnergyKeeper, reads: DetectionReads, meters: Mapping[int, MeterConfig]
) -> LiveData | None:
    """Return the live tier's first data from what detection read."""
    if reads.readings is None:
        return None
    return read_live(
        keeper,
        meters,
        list(reads.readings),
        wanted=(),
        previous=None,
        now=time.time(),
    )


# --- Production ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductionData:
    """System production from the trusted non-CT source, plus gateway counters."""

    reading: ProductionReading | None = None
    api_production: ApiProduction | None = None
    """When read: the gateway's own day and week counters (diagnostic)."""


def fallback_source(capabilities: EnvoyCapabilities) -> ProductionSource:
    """Return the non-CT source to use when no production CT is live."""
    source = capabilities.production_source
    if source is not ProductionSource.CT:
        return source
    if capabilities.has(Endpoint.API_PRODUCTION):
        return ProductionSource.API_PRODUCTION
    return ProductionSource.NONE


async def read_production(
    envoy: Envoy,
    keeper: EnergyKeeper,
    capabilities: EnvoyCapabilities,
    *,
    needed: bool,
    inverter_count: int | None,
) -> ProductionData:
    """Read the production source, only when something needs it."""
    if not needed:
        return ProductionData()
    source = fallback_source(capabilities)
    api: ApiProduction | None = None
    report: ProductionReport | None = None
    page: ProductionPage | None = None
    if source is ProductionSource.API_PRODUCTION:
        api = await envoy.api_production_raw()
    elif source in (
        ProductionSource.PRODUCTION_JSON_INVERTERS,
        ProductionSource.PRODUCTION_JSON_EIM,
    ):
        report = await envoy.production_report(details=False)
    elif source is ProductionSource.PRODUCTION_PAGE:
        page = await envoy.production_page()
    return production_data(
        keeper, source, api, report, page, inverter_count=inverter_count
    )


def production_data(
    keeper: EnergyKeeper,
    source: ProductionSource,
    api: ApiProduction | None,
    report: ProductionReport | None,
    page: ProductionPage | None,
    *,
    inverter_count: int | None,
) -> ProductionData:
    """Turn what the production source answered into guarded production."""
    max_power = (
        SITE_MAX_POWER_W
        if inverter_count is None
        else max(inverter_count, 1) * INVERTER_MAX_POWER_W
    )
    key = source_key(source)
    watts: float | None = None
    total: float | None = None
    if source is ProductionSource.API_PRODUCTION and api is not None:
        watts = api.watts_now
        total = keeper.guard(
            "production",
            key,
            api.watt_hours_lifetime,
            wraps=True,
            max_power_w=max_power,
        )
    elif source is ProductionSource.PRODUCTION_JSON_INVERTERS and report is not None:
        block = report.inverters
        if block is not None:
            watts = block.watts_now
            total = keeper.guard(
                "production", key, block.wh_lifetime, wraps=True, max_power_w=max_power
            )
    elif source is ProductionSource.PRODUCTION_JSON_EIM and report is not None:
        eim = report.production
        if eim is None or eim.active_count == 0:
            # Newer firmware sometimes says activeCount 0 though the CT
            # works: hold the last value rather than believe it.
            raise EnvoyDataError(
                f"GET {Endpoint.PRODUCTION_JSON}: the production CT entry "
                "is inactive for now",
                endpoint=Endpoint.PRODUCTION_JSON,
            )
        watts = eim.values.watts_now
        total = keeper.guard(
            "production", key, eim.values.wh_lifetime, max_power_w=CT_MAX_POWER_W
        )
    elif source is ProductionSource.PRODUCTION_PAGE and page is not None:
        watts = page.watts_now
        total = keeper.book.day_counted_total(key).update(
            page.wh_lifetime, page.lifetime_resolution_wh, page.wh_today
        )
    else:
        return ProductionData(api_production=api)
    keeper.flush_log("production")
    return ProductionData(
        reading=ProductionReading(source, watts, key, total), api_production=api
    )


def production_from_reads(
    keeper: EnergyKeeper, capabilities: EnvoyCapabilities, reads: DetectionReads
) -> ProductionData:
    """Return the production tier's first data from what detection read."""
    inverters = reads.inverters or ()
    return production_data(
        keeper,
        fallback_source(capabilities),
        reads.api_production,
        reads.report,
        reads.page,
        inverter_count=len(inverters) or None,
    )


def hours_since_midnight(now: datetime) -> float:
    """Return the hours from local midnight to ``now`` (a local time)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (now - midnight).total_seconds() / 3600.0


def offer_production_today(
    keeper: EnergyKeeper,
    capabilities: EnvoyCapabilities,
    reads: DetectionReads,
    now: datetime,
) -> None:
    """Offer the gateway's own count of today's production for install day.

    Only the trusted source's count is offered, with the lifetime it comes
    with: /api/v1/production for CT and API sources, the production CT entry
    of production.json, the old firmware's page. The production.json
    inverters block has no count of today, and /api/v1/production is stalled
    where that block is trusted, so those sites start today at zero.
    """
    source = capabilities.production_source
    today_wh: float | None = None
    lifetime_wh: float | None = None
    api, report, page = reads.api_production, reads.report, reads.page
    if (
        source in {ProductionSource.CT, ProductionSource.API_PRODUCTION}
        and api is not None
    ):
        today_wh, lifetime_wh = api.watt_hours_today, api.watt_hours_lifetime
    elif (
        source is ProductionSource.PRODUCTION_JSON_EIM
        and report is not None
        and report.production is not None
        and report.production.active_count > 0
    ):
        values = report.production.values
        today_wh, lifetime_wh = values.wh_today, values.wh_lifetime
    elif source is ProductionSource.PRODUCTION_PAGE and page is not None:
        today_wh = page.wh_today
        if page.wh_lifetime is not None:
            # Three significant digits: the true lifetime may be a bit higher.
            lifetime_wh = page.wh_lifetime + page.lifetime_resolution_wh
    max_power = (
        len(reads.inverters) * INVERTER_MAX_POWER_W
        if reads.inverters
        else SITE_MAX_POWER_W
    )
    keeper.offer_today(
        SiteTotal.PRODUCTION,
        now.date(),
        today_wh,
        lifetime_wh=lifetime_wh,
        max_wh=max_power * hours_since_midnight(now),
    )


# --- Inverters -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InverterData:
    """Every inverter, with detail where the gateway lists it."""

    inverters: Mapping[str, Inverter]
    device_count: int | None
    device_data_limit: int | None
    energy: Mapping[str, float]
    """Guarded lifetime (``inverter_<serial>``) and today (``..._today``) Wh."""
    newest_report: int = 0
    """The newest report among all inverters: "silent" is judged against it."""
    all_detailed: bool = False
    """Every inverter's lifetime counter is known (device_data lists them all)."""


@dataclass(slots=True)
class InverterMemory:
    """What the inverter tier remembers between polls."""

    gone: set[str] = field(default_factory=set)
    detail_failed: bool = False


def _keep_detail(inverter: Inverter, previous: Inverter | None) -> Inverter:
    """Return ``inverter`` with the detail it had last time, if any."""
    if previous is None or previous.detail is None or inverter.detail is not None:
        return inverter
    return replace(inverter, detail=previous.detail)


def build_inverters(
    keeper: EnergyKeeper,
    memory: InverterMemory,
    basic: list[InverterProduction] | None,
    device_data: DeviceData | None,
    *,
    device_data_limit: int | None,
    previous: InverterData | None,
    now: datetime,
) -> InverterData:
    """Merge one poll's inverter list and detail, and guard every lifetime.

    ``now`` is the local time: its date is the day "today" counts.
    """
    today = now.date()
    merged = merge_inverters(basic or [], device_data)
    newest = max((inverter.last_report_date for inverter in merged.values()), default=0)
    # Removed inverters linger with old report dates; but some firmware flags
    # every device removed while it still reports: only drop gone AND stale.
    memory.gone.update(
        serial
        for serial, inverter in merged.items()
        if inverter.gone and newest - inverter.last_report_date > GONE_STALE_S
    )
    inverters = {
        serial: inverter
        for serial, inverter in merged.items()
        if serial not in memory.gone
    }
    if device_data is None and previous is not None:
        inverters = {
            serial: _keep_detail(inverter, previous.inverters.get(serial))
            for serial, inverter in inverters.items()
        }
    energy: dict[str, float] = {}
    for serial, inverter in inverters.items():
        if inverter.detail is None:
            continue
        key = inverter_key(serial)
        lifetime = keeper.guard(
            "inverters",
            key,
            inverter.detail.lifetime_energy_wh,
            wraps=True,
            max_power_w=INVERTER_MAX_POWER_W,
        )
        if lifetime is None:
            continue
        energy[key] = lifetime
        if previous is None:
            keeper.seed_daily(
                key,
                today,
                lifetime,
                inverter.detail.watt_hours_today,
                max_wh=INVERTER_MAX_POWER_W * hours_since_midnight(now),
            )
        day = keeper.daily(key, lifetime, today)
        if day is not None:
            energy[f"{key}_today"] = day
    keeper.flush_log("inverters")
    device_count = (
        device_data.device_count
        if device_data is not None
        else previous.device_count
        if previous is not None
        else None
    )
    return InverterData(
        inverters=inverters,
        device_count=device_count,
        device_data_limit=device_data_limit,
        energy=energy,
        newest_report=max(
            (inverter.last_report_date for inverter in inverters.values()), default=0
        ),
        all_detailed=bool(inverters)
        and all(inverter_key(serial) in energy for serial in inverters),
    )


async def read_inverters(
    envoy: Envoy,
    *,
    keeper: EnergyKeeper,
    capabilities: EnvoyCapabilities,
    memory: InverterMemory,
    previous: InverterData | None,
    now: datetime,
) -> InverterData:
    """Read the basic list, then detail; detail failing only costs detail."""
    basic = (
        await envoy.inverters() if capabilities.has(Endpoint.API_INVERTERS) else None
    )
    device_data: DeviceData | None = None
    if capabilities.has(Endpoint.DEVICE_DATA):
        try:
            device_data = await envoy.device_data()
        except (EnvoyConnectionError, EnvoyDataError, EnvoyEndpointMissingError) as err:
            if basic is None:
                # Without the basic list, detail is all there is.
                raise
            # This endpoint hangs around the nightly restart; keep the last
            # detail rather than failing every inverter.
            if not memory.detail_failed:
                LOGGER.info("Inverter detail unavailable, keeping the last: %s", err)
            memory.detail_failed = True
        else:
            memory.detail_failed = False
    return build_inverters(
        keeper,
        memory,
        basic,
        device_data,
        device_data_limit=capabilities.device_data_limit,
        previous=previous,
        now=now,
    )


# --- The site --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteData:
    """The site's flows as its entities show them."""

    powers: SitePowers
    present: frozenset[str]
    totals: Mapping[SiteTotal, float]
    """Published totals whose source answers now (others are unavailable)."""
    today: Mapping[SiteTotal, float]
    production_source: str | None
    """``ct``, a ``ProductionSource`` value, or ``inverter_detail_sum``."""

    @property
    def production_from_ct(self) -> bool:
        """Return True while a production CT is the production source."""
        return self.production_source == ProductionSource.CT


def _production_input(runtime: EnphaseLocalRuntimeData) -> ProductionReading | None:
    """Return production from the production tier, refined per inverter if known."""
    tier = runtime.tiers.production
    data = tier.data if tier.last_update_success else None
    reading = data.reading if data is not None else None
    inverters_tier = runtime.tiers.inverters
    inverters = (
        inverters_tier.data
        if inverters_tier is not None and inverters_tier.last_update_success
        else None
    )
    if (
        reading is not None
        and inverters is not None
        and inverters.all_detailed
        and reading.source
        in (ProductionSource.API_PRODUCTION, ProductionSource.PRODUCTION_JSON_INVERTERS)
        and runtime.energy.book.total(SiteTotal.PRODUCTION).value_wh is not None
    ):
        # The site counter is the gateway's sum of inverter counters: guard
        # each part, so one inverter's glitch cannot freeze the whole site.
        # Only the growth comes from the parts; the starting value was the
        # gateway's own lifetime (the parts miss wraps from before we looked).
        total = sum(
            inverters.energy[inverter_key(serial)] for serial in inverters.inverters
        )
        return replace(reading, total_key=INVERTER_DETAIL_SUM, total_wh=round(total, 3))
    return reading


def _battery_power(runtime: EnphaseLocalRuntimeData) -> float | None:
    """Return the batteries' own reported power while their tier answers."""
    tier = runtime.tiers.battery
    if tier is None or tier.data is None or not tier.last_update_success:
        return None
    return tier.data.power_w


def build_site(runtime: EnphaseLocalRuntimeData, today: date) -> SiteData:
    """Combine the tiers' latest data into published site flows."""
    tiers = runtime.tiers
    meters = (tiers.meters.data if tiers.meters is not None else None) or {}
    live_tier = tiers.live
    live = live_tier.data if live_tier is not None else None
    live_ok = (
        live is not None and live_tier is not None and live_tier.last_update_success
    )
    inputs = SiteInputs(
        meters=meters,
        readings=live.readings if live is not None else {},
        counters=live.counters if live is not None and live_ok else {},
        live_fresh=live_ok and live is not None and live.fresh,
        production=_production_input(runtime),
        battery_power_w=_battery_power(runtime),
    )
    flows = site_flows(inputs)
    energy = runtime.energy.publish(flows, today)
    production = flows.energy.get(SiteTotal.PRODUCTION)
    production_source: str | None = None
    if isinstance(production, Measured):
        production_source = (
            ProductionSource.CT
            if production.source.startswith("ct_")
            else production.source.removeprefix("source_")
        )
    available = {
        total: value
        for total, value in energy.totals.items()
        if not isinstance(source := flows.energy.get(total), Measured)
        or source.total_wh is not None
    }
    return SiteData(
        powers=flows.powers,
        present=flows.present,
        totals=available,
        today={
            total: energy.today[total] for total in energy.today if total in available
        },
        production_source=production_source,
    )
