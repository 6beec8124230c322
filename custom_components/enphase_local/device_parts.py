"""Part numbers and firmware of the microinverters, shown on their devices.

Only ``/inventory.json`` says what each inverter is (``part_num``) and runs
(``img_pnum_running``). It is one of the gateway's slow Ruby pages, so it is
never read at set-up or on a polling cycle that matters: first a few minutes
after set-up, then once a day. A gateway without it, or one that refuses it,
costs one debug line and a retry an hour later; nothing else depends on it.
"""

from datetime import datetime, timedelta
from typing import override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN, LOGGER
from .coordinator import EnphaseLocalConfigEntry, EnphaseLocalCoordinator
from .envoy import DevicePart, Endpoint, EnvoyEndpointMissingError, EnvoyError

PARTS_INTERVAL = timedelta(days=1)
PARTS_RETRY = timedelta(hours=1)
FIRST_READ_DELAY = timedelta(minutes=5)
"""Set-up and the first polls of every other tier come first."""

type Parts = dict[str, DevicePart]


class PartsTier(EnphaseLocalCoordinator[Parts]):
    """Reads /inventory.json once a day: what each device is and runs."""

    tier = "parts"
    interval = PARTS_INTERVAL
    endpoints = (Endpoint.INVENTORY_JSON,)

    @override
    async def _async_fetch(self) -> Parts:
        """Read the inventory; a failure keeps what is known and retries later."""
        try:
            parts = await self.envoy.device_inventory()
        except EnvoyError as err:
            # A gateway without the page is asked again tomorrow, not hourly.
            missing = isinstance(err, EnvoyEndpointMissingError)
            self.update_interval = PARTS_INTERVAL if missing else PARTS_RETRY
            LOGGER.debug(
                "%s: no part numbers from %s (%s); trying again in %s",
                self.name,
                Endpoint.INVENTORY_JSON,
                err,
                self.update_interval,
            )
            return {} if self.data is None else self.data
        self.update_interval = PARTS_INTERVAL
        return parts


def device_part(entry: EnphaseLocalConfigEntry, serial: str) -> DevicePart | None:
    """Return what the inventory last said about device ``serial``."""
    tier = entry.runtime_data.tiers.parts
    if tier is None or tier.data is None:
        return None
    return tier.data.get(serial)


@callback
def async_start_parts(hass: HomeAssistant, entry: EnphaseLocalConfigEntry) -> None:
    """Read the inventory after set-up, then daily, and label the devices."""
    tier = entry.runtime_data.tiers.parts
    if tier is None:
        return
    registry = dr.async_get(hass)

    @callback
    def _async_label_devices() -> None:
        """Put each known device's part number and firmware on it."""
        for serial, part in (tier.data or {}).items():
            device = registry.async_get_device_by_identifier(
                (DOMAIN, serial), entry.entry_id
            )
            if device is None or (
                device.model_id == part.part_number
                and device.sw_version == part.firmware
            ):
                continue
            registry.async_update_device(
                device.id, model_id=part.part_number, sw_version=part.firmware
            )

    @callback
    def _async_first_read(_now: datetime) -> None:
        hass.async_create_task(tier.async_refresh(), eager_start=False)

    entry.async_on_unload(tier.async_add_listener(_async_label_devices))
    entry.async_on_unload(async_call_later(hass, FIRST_READ_DELAY, _async_first_read))
