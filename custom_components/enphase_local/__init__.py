"""The Enphase Local integration: an Enphase Envoy / IQ Gateway over its local API."""

from collections.abc import Callable
from datetime import datetime

from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_FINAL_WRITE, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.event import (
    async_track_time_change,
    async_track_time_interval,
)
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .battery import (
    BatteryData,
    BatteryTier,
    DryContactsTier,
    InventoryTier,
    TariffTier,
    acb_summary,
)
from .bookkeeping import SAVE_INTERVAL, EnergyKeeper, energy_store
from .connection import AccessWatch, async_connect, gateway_client
from .const import DOMAIN, LOGGER
from .coordinator import (
    EnphaseLocalConfigEntry,
    EnphaseLocalRuntimeData,
    InfoTier,
    InvertersTier,
    LiveTier,
    MetersTier,
    ProductionTier,
    SiteCoordinator,
    Tiers,
)
from .device_parts import PartsTier, async_start_parts
from .entity import gateway_device_info, meter_identifier
from .envoy import DetectionReads, Endpoint
from .tiers import (
    build_inverters,
    live_from_reads,
    offer_production_today,
    production_from_reads,
)

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (config entries only)."""
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> bool:
    """Set up a gateway from a config entry."""
    envoy = gateway_client(hass, entry.data[CONF_HOST])
    connection = await async_connect(hass, entry, envoy)
    capabilities, reads = connection.capabilities, connection.reads
    energy = await EnergyKeeper.async_load(hass, entry.entry_id)

    meters = (
        MetersTier(hass, entry, envoy) if capabilities.has(Endpoint.METERS) else None
    )
    tiers = Tiers(
        info=InfoTier(hass, entry, envoy),
        production=ProductionTier(hass, entry, envoy),
        meters=meters,
        # Exists whenever CTs could be enabled: a CT switched on later gets
        # its entities without a reload.
        live=LiveTier(hass, entry, envoy) if meters is not None else None,
        inverters=(
            InvertersTier(hass, entry, envoy)
            if capabilities.has(Endpoint.API_INVERTERS)
            or capabilities.has(Endpoint.DEVICE_DATA)
            else None
        ),
    )
    # Nothing polls a battery endpoint on a gateway without batteries.
    ensemble = capabilities.has(Endpoint.ENSEMBLE_INVENTORY)
    if ensemble or capabilities.ac_batteries:
        tiers.battery = BatteryTier(hass, entry, envoy)
    if ensemble:
        tiers.inventory = InventoryTier(hass, entry, envoy)
    if capabilities.has(Endpoint.TARIFF):
        tiers.tariff = TariffTier(hass, entry, envoy)
    if capabilities.has(Endpoint.DRY_CONTACTS):
        tiers.relays = DryContactsTier(hass, entry, envoy)
    if tiers.inverters is not None:
        tiers.parts = PartsTier(hass, entry, envoy)
    entry.runtime_data = runtime = EnphaseLocalRuntimeData(
        envoy=envoy,
        info=connection.info,
        capabilities=capabilities,
        tokens=connection.tokens,
        access=AccessWatch(hass, entry.entry_id),
        energy=energy,
        tiers=tiers,
        site=SiteCoordinator(hass, entry),
    )
    _seed_tiers(runtime, reads)
    _report_refused_endpoints(hass, entry)

    gateway_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **gateway_device_info(entry)
    )
    runtime.gateway_device_id = gateway_device.id
    runtime.site.async_start()

    if (tokens := runtime.tokens) is not None:
        # The token expiry sensor lives on the info tier.
        tokens.listeners.append(tiers.info.async_update_listeners)
        tokens.async_start(entry.async_on_unload)

    @callback
    def _async_midnight(now: datetime) -> None:
        """Start a new day for the daily totals exactly at local midnight."""
        energy.roll_over(dt_util.as_local(now).date())
        runtime.site.async_recompute()

    entry.async_on_unload(
        async_track_time_change(hass, _async_midnight, hour=0, minute=0, second=0)
    )

    async def _async_save_energy(_event: Event | datetime | None = None) -> None:
        await energy.async_save()

    # Saved on a timer, not per poll: CT totals change every few seconds.
    entry.async_on_unload(
        async_track_time_interval(hass, _async_save_energy, SAVE_INTERVAL)
    )
    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, _async_save_energy)
    )
    entry.async_on_unload(_async_save_energy)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_start_parts(hass, entry)
    if (inverters := tiers.inverters) is not None:
        remove_gone = _gone_inverter_remover(hass, entry, inverters)
        remove_gone()
        entry.async_on_unload(inverters.async_add_listener(remove_gone))
    return True


def _gone_inverter_remover(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry, inverters: InvertersTier
) -> Callable[[], None]:
    """Return a callback that removes the devices of inverters taken off the site.

    Only inverters the gateway marks removed (``modGone``) whose last report is
    hours older than their peers' count: one that merely went quiet, or a list
    that failed to load, keeps its device and history.
    """
    registry = dr.async_get(hass)
    removed: set[str] = set()

    @callback
    def _async_remove_gone() -> None:
        for serial in inverters.memory.gone - removed:
            removed.add(serial)
            device = registry.async_get_device_by_identifier(
                (DOMAIN, serial), entry.entry_id
            )
            if device is None:
                continue
            LOGGER.info(
                "Inverter %s was removed from the site; removing its device", serial
            )
            registry.async_update_device(
                device.id, remove_config_entry_id=entry.entry_id
            )

    return _async_remove_gone


def _seed_tiers(runtime: EnphaseLocalRuntimeData, reads: DetectionReads) -> None:
    """Start every tier from what detection read: nothing is read twice."""
    tiers, energy = runtime.tiers, runtime.energy
    tiers.info.seed(runtime.info)
    now = dt_util.now()
    offer_production_today(energy, runtime.capabilities, reads, now)
    if tiers.meters is not None and reads.meters is not None:
        tiers.meters.seed({meter.eid: meter for meter in reads.meters})
    if tiers.live is not None and tiers.meters is not None:
        live = live_from_reads(energy, reads, tiers.meters.data or {})
        if live is not None:
            tiers.live.seed(live)
    if tiers.inverters is not None and (reads.inverters or reads.device_data):
        tiers.inverters.seed(
            build_inverters(
                energy,
                tiers.inverters.memory,
                list(reads.inverters or ()),
                reads.device_data,
                device_data_limit=runtime.capabilities.device_data_limit,
                previous=None,
                now=now,
            )
        )
    tiers.production.seed(production_from_reads(energy, runtime.capabilities, reads))
    battery = reads.battery
    if tiers.battery is not None:
        tiers.battery.seed(
            BatteryData(
                aggregate=battery.aggregate,
                power={entry.serial: entry for entry in battery.power or ()},
                acb=acb_summary(reads.report.storage) if reads.report else None,
            )
        )
    if tiers.inventory is not None and battery.inventory is not None:
        tiers.inventory.seed(battery.inventory)
    if tiers.tariff is not None and battery.tariff is not None:
        tiers.tariff.seed(battery.tariff)
    if tiers.relays is not None and battery.dry_contacts is not None:
        tiers.relays.seed(battery.dry_contacts)


@callback
def _report_refused_endpoints(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> None:
    """Name, in a repair, the endpoints that refused the credentials."""
    refused = entry.runtime_data.capabilities.refused
    issue_id = f"endpoints_refused_{entry.entry_id}"
    if not refused:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="endpoints_refused",
        translation_placeholders={
            "title": entry.title,
            "endpoints": ", ".join(sorted(refused)),
        },
    )


async def async_unload_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> None:
    """Forget the stored energy totals of a removed gateway."""
    await energy_store(hass, entry.entry_id).async_remove()
    ir.async_delete_issue(hass, DOMAIN, f"endpoints_refused_{entry.entry_id}")


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing inverter and CT devices the gateway no longer reports."""
    current = current_device_identifiers(entry)
    return not any(
        domain == DOMAIN and identifier in current
        for domain, identifier in device.identifiers
    )


def current_device_identifiers(entry: EnphaseLocalConfigEntry) -> set[str]:
    """Return identifiers of the gateway and every device it reports right now."""
    runtime = entry.runtime_data
    identifiers = {runtime.info.serial}
    inverters, meters = runtime.tiers.inverters, runtime.tiers.meters
    if inverters is not None and inverters.data:
        identifiers.update(inverters.data.inverters)
    if meters is not None and meters.data:
        identifiers.update(
            meter_identifier(runtime.info.serial, meter)
            for meter in meters.data.values()
            if meter.enabled
        )
    return identifiers
