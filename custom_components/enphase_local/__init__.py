"""The Enphase Local integration: an Enphase Envoy / IQ Gateway over its local API."""

from datetime import datetime
from typing import Any

from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_FINAL_WRITE, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.event import (
    async_track_time_change,
    async_track_time_interval,
)
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from . import const
from .const import DOMAIN
from .coordinator import (
    ENERGY_SAVE_INTERVAL,
    STORAGE_VERSION,
    EnergyLog,
    EnphaseLocalConfigEntry,
    EnphaseLocalCoordinator,
    EnphaseLocalRuntimeData,
    InfoCoordinator,
    InvertersCoordinator,
    LiveCoordinator,
    MetersCoordinator,
    ProductionCoordinator,
    async_connect,
    async_first_refresh,
)
from .energy import EnergyBook
from .entity import gateway_device_info, meter_identifier
from .envoy import Endpoint, Envoy

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (config entries only)."""
    return True


def _energy_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store that keeps energy totals across restarts."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.energy")


async def async_setup_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> bool:
    """Set up a gateway from a config entry."""
    envoy = Envoy(
        entry.data[CONF_HOST],
        session=async_create_clientsession(hass, verify_ssl=False),
        max_retries=const.REQUEST_RETRIES,
        retry_backoff=const.REQUEST_RETRY_BACKOFF_S,
    )
    info, tokens, capabilities = await async_connect(hass, entry, envoy)

    energy_store = _energy_store(hass, entry.entry_id)
    energy = EnergyBook.from_dict(await energy_store.async_load())

    info_coordinator = InfoCoordinator(hass, entry, envoy)
    meters_coordinator = (
        MetersCoordinator(hass, entry, envoy)
        if capabilities.has(Endpoint.METERS)
        else None
    )
    # Exists whenever CTs could be enabled: a CT switched on later gets its
    # entities without a reload. It only polls while something listens.
    live_coordinator = (
        LiveCoordinator(hass, entry, envoy, meters_coordinator)
        if meters_coordinator is not None
        else None
    )
    inverters_coordinator = (
        InvertersCoordinator(hass, entry, envoy, capabilities)
        if capabilities.has(Endpoint.API_INVERTERS)
        else None
    )
    production_coordinator = ProductionCoordinator(hass, entry, envoy, capabilities)
    entry.runtime_data = EnphaseLocalRuntimeData(
        envoy=envoy,
        info=info,
        capabilities=capabilities,
        energy=energy,
        energy_store=energy_store,
        energy_log=EnergyLog(),
        tokens=tokens,
        info_coordinator=info_coordinator,
        meters_coordinator=meters_coordinator,
        live_coordinator=live_coordinator,
        production_coordinator=production_coordinator,
        inverters_coordinator=inverters_coordinator,
    )
    # /info was just read by the connect step: seed the tier instead of asking again.
    info_coordinator.async_set_updated_data(info)
    info_coordinator.last_success = dt_util.utcnow()

    # Entities are built from the CT and production tiers: those must work.
    # Inverter data is detail and may come later.
    required: list[EnphaseLocalCoordinator[Any]] = [
        coordinator
        for coordinator in (
            meters_coordinator,
            live_coordinator if capabilities.ct_meters else None,
            production_coordinator,
        )
        if coordinator is not None
    ]
    tiers = [*required, *([inverters_coordinator] if inverters_coordinator else [])]
    await async_first_refresh(tiers, required)

    gateway_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **gateway_device_info(entry)
    )
    entry.runtime_data.gateway_device_id = gateway_device.id

    if tokens is not None:
        # The token expiry sensor lives on the info tier.
        tokens.listeners.append(info_coordinator.async_update_listeners)
        tokens.async_start()

    @callback
    def _async_midnight(now: datetime) -> None:
        """Start a new day for the daily totals exactly at local midnight."""
        energy.roll_over(dt_util.as_local(now).date())
        for coordinator in tiers:
            if coordinator.data is not None:
                coordinator.async_update_listeners()

    entry.async_on_unload(
        async_track_time_change(hass, _async_midnight, hour=0, minute=0, second=0)
    )

    async def _async_save_energy(_event: Event | datetime | None = None) -> None:
        await energy_store.async_save(energy.as_dict())

    # Saved on a timer, not per poll: CT totals change every few seconds.
    entry.async_on_unload(
        async_track_time_interval(hass, _async_save_energy, ENERGY_SAVE_INTERVAL)
    )
    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, _async_save_energy)
    )
    entry.async_on_unload(_async_save_energy)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> None:
    """Forget the stored energy totals of a removed gateway."""
    await _energy_store(hass, entry.entry_id).async_remove()


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
    if runtime.inverters_coordinator is not None and runtime.inverters_coordinator.data:
        identifiers.update(runtime.inverters_coordinator.data.inverters)
    if runtime.meters_coordinator is not None and runtime.meters_coordinator.data:
        identifiers.update(
            meter_identifier(runtime.info.serial, meter)
            for meter in runtime.meters_coordinator.data.values()
            if meter.enabled
        )
    return identifiers
