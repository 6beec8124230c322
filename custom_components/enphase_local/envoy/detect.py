"""Capability detection: what this gateway serves, and which production to trust.

Gateways differ by hardware, firmware and history, and some endpoints lie:
``/api/v1/production`` stalls on metered gateways without a production CT
from firmware 8.2.4264, and production.json's ``inverters`` block restarts
(after a reboot or an update) far below the real lifetime on others. The
source is chosen by evidence, per gateway, from what the endpoints show
(PROTOCOL.md section 4.4). Endpoints are judged one by one: a missing or
refusing endpoint costs only its own data.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .ensemble import BatteryReads
from .exceptions import (
    EnvoyAuthenticationError,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyRedirectError,
)
from .models import (
    ApiProduction,
    DeviceData,
    Endpoint,
    EnvoyCapabilities,
    EnvoyInfo,
    InverterProduction,
    MeasurementType,
    MeterConfig,
    MeterReading,
    ProductionPage,
    ProductionReport,
    ProductionSource,
)
from .parsers import match_meter_readings

if TYPE_CHECKING:
    from .client import Envoy

ENSEMBLE_FIRMWARE = (5,)
"""Ensemble (IQ Battery, Enpower) endpoints exist from firmware 5."""
STALLED_API_FIRMWARE = (8, 2, 4264)
"""From this firmware, metered gateways without a production CT stall
``/api/v1/production`` (PROTOCOL.md 4.4)."""
FAR_BELOW = 0.5
"""A lifetime under half of another source's has restarted or stalled."""
SAME_COUNTER = 0.1
"""Two lifetimes within 10% count the same thing."""


@dataclass(frozen=True, slots=True)
class DetectionReads:
    """What capability detection read, handed on so setup need not read it again."""

    api_production: ApiProduction | None = None
    inverters: tuple[InverterProduction, ...] | None = None
    meters: tuple[MeterConfig, ...] | None = None
    readings: tuple[MeterReading, ...] | None = None
    device_data: DeviceData | None = None
    report: ProductionReport | None = None
    page: ProductionPage | None = None
    battery: BatteryReads = field(default_factory=BatteryReads)


@dataclass(slots=True)
class _Evidence:
    """What detection has learnt so far."""

    token: bool
    """Firmware >= 7: every endpoint wants the token, so any answer proves it."""
    endpoints: set[Endpoint] = field(default_factory=lambda: {Endpoint.INFO})
    notes: list[str] = field(default_factory=list)
    refused: dict[Endpoint, EnvoyAuthenticationError] = field(default_factory=dict)
    authenticated_ok: bool = False

    async def read[T](
        self,
        endpoint: Endpoint,
        read: Callable[[], Awaitable[T]],
        *,
        needs_auth: bool = True,
        tolerate_transient: bool = False,
        probing: bool = False,
    ) -> T | None:
        """Read an optional endpoint; None (with a note) when it is unavailable.

        ``probing``: most gateways lack the endpoint (batteries): its absence,
        a 404 or a 401, is not worth a note or a repair.
        """
        try:
            value = await read()
        except (EnvoyEndpointMissingError, EnvoyDataError) as err:
            if not probing:
                self.notes.append(f"{endpoint} unavailable: {err}")
            return None
        except EnvoyAuthenticationError as err:
            if probing:
                return None
            # Judged at the end: early 7.x builds answer 401 on endpoints
            # they lack, and old firmware refuses digest on some paths only.
            self.refused[endpoint] = err
            return None
        except EnvoyConnectionError as err:
            if not tolerate_transient or isinstance(err, EnvoyRedirectError):
                raise
            # It answered before and will again: keep it, just without data now.
            self.notes.append(f"{endpoint} unavailable for now: {err}")
            self.endpoints.add(endpoint)
            return None
        self.endpoints.add(endpoint)
        if needs_auth or self.token:
            self.authenticated_ok = True
        return value


def all_zero(production: ApiProduction) -> bool:
    """Return True when every /api/v1/production value is zero."""
    return not (
        production.watts_now
        or production.watt_hours_today
        or production.watt_hours_seven_days
        or production.watt_hours_lifetime
    )


async def detect(envoy: Envoy) -> tuple[EnvoyCapabilities, DetectionReads]:
    """Read each endpoint once; return what the gateway offers and what was read."""
    info = envoy.info or await envoy.probe()
    evidence = _Evidence(token=info.requires_token)

    meters: tuple[MeterConfig, ...] | None = None
    readings = None
    if info.metered is not False:
        listed = await evidence.read(Endpoint.METERS, envoy.meters)
        meters = None if listed is None else tuple(listed)
        if meters and any(meter.enabled for meter in meters):
            read = await evidence.read(Endpoint.METER_READINGS, envoy.meter_readings)
            readings = None if read is None else tuple(read)
    matched = match_meter_readings(list(meters or ()), list(readings or ()))
    production_ct = next(
        (
            meter
            for meter in meters or ()
            if meter.enabled and meter.measurement_type == MeasurementType.PRODUCTION
        ),
        None,
    )
    ct_live = production_ct is not None and production_ct.eid in matched

    api_production = await evidence.read(
        Endpoint.API_PRODUCTION, envoy.api_production_raw, needs_auth=False
    )
    inverters = await evidence.read(Endpoint.API_INVERTERS, envoy.inverters)
    # device_data can hang for a minute around 23:00: it is detail only, so a
    # timeout there must not stop the gateway from being set up.
    device_data = await evidence.read(
        Endpoint.DEVICE_DATA, envoy.device_data, tolerate_transient=True
    )

    api_live = api_production is not None and not all_zero(api_production)
    if api_production is not None and not api_live:
        evidence.notes.append(f"{Endpoint.API_PRODUCTION} reports all zeros")
    report = None
    if production_ct is None and (
        info.metered
        or not api_live
        or Endpoint.API_PRODUCTION not in evidence.endpoints
    ):
        # The slow Ruby page, read once: needed to judge the other sources.
        report = await evidence.read(
            Endpoint.PRODUCTION_JSON,
            lambda: envoy.production_report(details=False),
            needs_auth=False,
        )
    page = None
    if production_ct is None and not api_live and report is None:
        page = await evidence.read(Endpoint.PRODUCTION, envoy.production_page)

    ac_batteries = any(inverter.is_ac_battery for inverter in inverters or ())
    if ac_batteries and report is None:
        report = await evidence.read(
            Endpoint.PRODUCTION_JSON,
            lambda: envoy.production_report(details=False),
            needs_auth=False,
        )
    if report is not None:
        ac_batteries = ac_batteries or any(
            entry.type == "acb" and entry.active_count > 0 for entry in report.storage
        )
    battery = await _detect_ensemble(envoy, info, evidence)

    reads = DetectionReads(
        api_production=api_production,
        inverters=None if inverters is None else tuple(inverters),
        meters=meters,
        readings=readings,
        device_data=device_data,
        report=report,
        page=page,
        battery=battery,
    )
    refused = _judge_refusals(evidence, reads)
    _note_device_data_coverage(evidence, reads)
    source = (
        ProductionSource.CT
        if ct_live
        else choose_production_source(info, reads, evidence.notes)
    )
    return (
        EnvoyCapabilities(
            endpoints=frozenset(evidence.endpoints),
            production_source=source,
            ct_meters=tuple(meter for meter in meters or () if meter.enabled),
            device_data_limit=device_data.device_data_limit if device_data else None,
            notes=tuple(evidence.notes),
            refused=refused,
            ac_batteries=ac_batteries,
        ),
        reads,
    )


async def _detect_ensemble(
    envoy: Envoy, info: EnvoyInfo, evidence: _Evidence
) -> BatteryReads:
    """Find IQ Batteries and a system controller; read each of their endpoints once."""
    if info.firmware_version < ENSEMBLE_FIRMWARE or info.metered is None:
        # Envoy-R (no imeter) and firmware before 5 have no Ensemble.
        return BatteryReads()
    inventory = await evidence.read(
        Endpoint.ENSEMBLE_INVENTORY, envoy.ensemble_inventory, probing=True
    )
    if inventory is None or not (inventory.batteries or inventory.controllers):
        evidence.endpoints.discard(Endpoint.ENSEMBLE_INVENTORY)
        return BatteryReads()
    aggregate = await evidence.read(Endpoint.ENSEMBLE_STATUS, envoy.ensemble_status)
    if aggregate is None:
        aggregate = await evidence.read(
            Endpoint.ENSEMBLE_SECCTRL, envoy.ensemble_secctrl
        )
    power = await evidence.read(Endpoint.ENSEMBLE_POWER, envoy.ensemble_power)
    tariff = await evidence.read(Endpoint.TARIFF, envoy.tariff)
    dry_contacts = None
    if inventory.controllers:
        dry_contacts = await evidence.read(Endpoint.DRY_CONTACTS, envoy.dry_contacts)
        if dry_contacts is not None:
            evidence.endpoints.add(Endpoint.DRY_CONTACT_SETTINGS)
    return BatteryReads(
        inventory=inventory,
        aggregate=aggregate,
        power=power,
        tariff=tariff,
        dry_contacts=dry_contacts,
    )


def _judge_refusals(evidence: _Evidence, reads: DetectionReads) -> frozenset[Endpoint]:
    """Decide what 401s meant; raise when the credentials work nowhere."""
    if not evidence.refused:
        return frozenset()
    if evidence.token:
        if not evidence.authenticated_ok:
            raise next(iter(evidence.refused.values()))
        # The token works elsewhere: these endpoints are just not there.
        for endpoint, err in evidence.refused.items():
            evidence.notes.append(f"{endpoint} unavailable: {err}")
        return frozenset()
    has_data = any(
        value is not None
        for value in (reads.api_production, reads.inverters, reads.report, reads.page)
    )
    if not has_data and not evidence.authenticated_ok:
        raise next(iter(evidence.refused.values()))
    for endpoint, err in evidence.refused.items():
        evidence.notes.append(f"{endpoint} refused the credentials: {err}")
    return frozenset(evidence.refused)


def _note_device_data_coverage(evidence: _Evidence, reads: DetectionReads) -> None:
    """Note when device_data lists fewer inverters than the site has."""
    device_data, inverters = reads.device_data, reads.inverters
    if device_data is None or inverters is None:
        return
    present = [
        inverter.serial
        for inverter in inverters
        if inverter.serial not in device_data.gone_serials
    ]
    listed = sum(1 for serial in present if serial in device_data.inverters)
    if listed < len(present):
        evidence.notes.append(
            f"{Endpoint.DEVICE_DATA} lists {listed} of {len(present)} "
            f"inverters (limit {device_data.device_data_limit})"
        )


def _lifetimes_agree(first: float | None, second: float | None) -> bool:
    """Return True when two lifetimes are within ``SAME_COUNTER`` of each other."""
    if not first or not second:
        return False
    return abs(first - second) <= SAME_COUNTER * max(first, second)


def _far_below(value: float | None, reference: float | None) -> bool:
    """Return True when ``value`` is far below ``reference`` (restarted, stalled)."""
    if value is None or not reference:
        return False
    return value < FAR_BELOW * reference


def choose_production_source(
    info: EnvoyInfo, reads: DetectionReads, notes: list[str]
) -> ProductionSource:
    """Pick the production source without a live production CT, by evidence."""
    api = reads.api_production
    api_lifetime = api.watt_hours_lifetime if api is not None else None
    api_live = api is not None and not all_zero(api)
    report = reads.report
    block = report.inverters if report is not None else None
    block_lifetime = block.wh_lifetime if block is not None else None
    eim = report.production if report is not None else None

    if report is not None and block is None:
        notes.append(f"{Endpoint.PRODUCTION_JSON} has no inverters block")
    if (
        eim is not None
        and eim.active_count >= 1
        and reads.meters is None
        and info.metered is not False
    ):
        # A working production CT that /ivp/meters does not show.
        if api_live and _lifetimes_agree(api_lifetime, eim.values.wh_lifetime):
            return ProductionSource.API_PRODUCTION
        return ProductionSource.PRODUCTION_JSON_EIM
    if api_live and block is not None:
        if _far_below(block_lifetime, api_lifetime):
            notes.append(
                f"{Endpoint.PRODUCTION_JSON} inverters block lifetime "
                f"{block_lifetime:.0f} Wh is far below {Endpoint.API_PRODUCTION}'s "
                f"{api_lifetime:.0f} Wh: it restarted"
            )
            return ProductionSource.API_PRODUCTION
        if _far_below(api_lifetime, block_lifetime) or (
            info.metered and info.firmware_version >= STALLED_API_FIRMWARE
        ):
            notes.append(f"{Endpoint.API_PRODUCTION} is stalled on this gateway")
            return ProductionSource.PRODUCTION_JSON_INVERTERS
        return ProductionSource.API_PRODUCTION
    if api_live:
        return ProductionSource.API_PRODUCTION
    if block is not None:
        return ProductionSource.PRODUCTION_JSON_INVERTERS
    if reads.page is not None:
        return ProductionSource.PRODUCTION_PAGE
    if api is not None and (reads.inverters or reads.device_data):
        # All zeros while inverters report: a quirk, not a booting gateway.
        return ProductionSource.API_PRODUCTION
    return ProductionSource.NONE
