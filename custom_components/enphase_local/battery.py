"""Batteries: their polling tiers and the writes to their settings.

IQ Batteries report power and state of charge on native endpoints, read on
the production interval; the inventory, the tariff (storage settings) and
the Enpower relays change rarely and are read rarely. First-generation AC
batteries only show in production.json, a slow Ruby page: it is read on the
production interval, never faster.

Writes follow one rule: read the whole document fresh, change one field,
send the whole document back, read again and confirm. They only run when a
user asks (never at setup), and fail with a translated error. While
Enlighten is connected the Enphase cloud re-pushes its own tariff within
minutes; a confirmed change that reverts on its own is reported once.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, override

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later

from .const import CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL, DOMAIN, LOGGER
from .coordinator import PRODUCTION_GRACE, EnphaseLocalCoordinator
from .envoy import (
    BatteryPower,
    DryContact,
    Endpoint,
    EnsembleAggregate,
    EnsembleInventory,
    EnvoyError,
    StorageSummary,
    Tariff,
)

OVERWRITE_CHECKS = (timedelta(minutes=3), timedelta(minutes=12))
"""When to look again after a tariff write: the cloud re-pushes within minutes."""


@dataclass(frozen=True, slots=True)
class BatteryData:
    """Battery power and charge: IQ Batteries' own reports, or the AC batteries'."""

    aggregate: EnsembleAggregate | None = None
    power: Mapping[str, BatteryPower] = field(default_factory=dict)
    """Per IQ Battery serial."""
    acb: StorageSummary | None = None

    @property
    def power_w(self) -> float | None:
        """Return the site's battery power, positive discharging."""
        if self.power:
            known = [battery.power_w for battery in self.power.values()]
            if all(value is not None for value in known):
                return sum(value or 0.0 for value in known)
            return None
        if self.acb is not None:
            return self.acb.watts_now
        return None


def acb_summary(storage: tuple[StorageSummary, ...]) -> StorageSummary | None:
    """Return the AC batteries' entry of production.json, when any are active."""
    return next(
        (entry for entry in storage if entry.type == "acb" and entry.active_count > 0),
        None,
    )


class BatteryTier(EnphaseLocalCoordinator[BatteryData]):
    """Battery power and state of charge, on the production interval."""

    tier = "battery"
    interval_option = (CONF_PRODUCTION_INTERVAL, DEFAULT_PRODUCTION_INTERVAL)
    grace = PRODUCTION_GRACE
    endpoints = (
        Endpoint.ENSEMBLE_STATUS,
        Endpoint.ENSEMBLE_SECCTRL,
        Endpoint.ENSEMBLE_POWER,
        Endpoint.PRODUCTION_JSON,
    )

    @override
    async def _async_fetch(self) -> BatteryData:
        """Read the aggregates and each battery's power (or the AC batteries)."""
        capabilities = self.runtime.capabilities
        aggregate: EnsembleAggregate | None = None
        if capabilities.has(Endpoint.ENSEMBLE_STATUS):
            aggregate = await self.envoy.ensemble_status()
        elif capabilities.has(Endpoint.ENSEMBLE_SECCTRL):
            aggregate = await self.envoy.ensemble_secctrl()
        power: dict[str, BatteryPower] = {}
        if capabilities.has(Endpoint.ENSEMBLE_POWER):
            power = {entry.serial: entry for entry in await self.envoy.ensemble_power()}
        acb: StorageSummary | None = None
        if capabilities.ac_batteries:
            report = await self.envoy.production_report(details=False)
            acb = acb_summary(report.storage)
        return BatteryData(aggregate=aggregate, power=power, acb=acb)


class InventoryTier(EnphaseLocalCoordinator[EnsembleInventory]):
    """The IQ Batteries and the system controller: status, temperature, grid relay."""

    tier = "battery_inventory"
    interval = timedelta(minutes=5)
    endpoints = (Endpoint.ENSEMBLE_INVENTORY,)

    @override
    async def _async_fetch(self) -> EnsembleInventory:
        """Read the inventory."""
        return await self.envoy.ensemble_inventory()


class TariffTier(EnphaseLocalCoordinator[Tariff]):
    """Storage mode, reserve and charge from grid, read rarely and after writes."""

    tier = "tariff"
    interval = timedelta(minutes=10)
    endpoints = (Endpoint.TARIFF,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Remember the last confirmed write, to notice the cloud undoing it."""
        super().__init__(*args, **kwargs)
        self.written: dict[str, object] | None = None
        self.overwrite_reported = False

    @override
    async def _async_fetch(self) -> Tariff:
        """Read the tariff; report a confirmed change that reverted on its own."""
        tariff = await self.envoy.tariff()
        self._check_overwrite(tariff)
        return tariff

    def _check_overwrite(self, tariff: Tariff) -> None:
        """Warn once when the cloud has put back its own storage settings."""
        written = self.written
        if written is None or tariff.storage is None:
            return
        current = storage_fields(tariff)
        if all(current.get(key) == value for key, value in written.items()):
            return
        self.written = None
        if self.overwrite_reported:
            return
        self.overwrite_reported = True
        LOGGER.warning(
            "The gateway's storage settings changed back after they were set "
            "here (%s): the Enphase cloud re-pushes its own tariff while "
            "Enlighten is connected; change them in the Enphase app instead",
            ", ".join(sorted(written)),
        )
        entry = self.config_entry
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"tariff_overwritten_{entry.entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="tariff_overwritten",
            translation_placeholders={"title": entry.title},
        )

    async def async_write(self, **changes: object) -> None:
        """Change storage settings: whole document out, read back, confirm."""
        try:
            fresh = await self.envoy.tariff()
            if fresh.storage is None:
                raise _write_error("no_storage_settings")
            await self.envoy.set_tariff(fresh.with_storage(**changes))
            confirmed = await self.envoy.tariff()
        except EnvoyError as err:
            raise _write_error("write_failed", error=str(err)) from err
        current = storage_fields(confirmed)
        if any(current.get(key) != value for key, value in changes.items()):
            raise _write_error("write_not_confirmed")
        self.written = dict(changes)
        self.seed(confirmed)
        for delay in OVERWRITE_CHECKS:
            self.config_entry.async_on_unload(
                async_call_later(self.hass, delay, self._async_look_again)
            )

    async def _async_look_again(self, _now: datetime) -> None:
        """Read the tariff again a while after a write."""
        await self.async_request_refresh()


def storage_fields(tariff: Tariff) -> dict[str, object]:
    """Return the writable storage settings as the document names them."""
    storage = tariff.storage
    if storage is None:
        return {}
    return {
        "mode": storage.mode,
        "reserved_soc": storage.reserve_percent,
        "charge_from_grid": storage.charge_from_grid,
    }


class DryContactsTier(EnphaseLocalCoordinator[tuple[DryContact, ...]]):
    """The system controller's load-shedding relays and their settings."""

    tier = "relays"
    interval = timedelta(minutes=5)
    endpoints = (Endpoint.DRY_CONTACTS, Endpoint.DRY_CONTACT_SETTINGS)

    @override
    async def _async_fetch(self) -> tuple[DryContact, ...]:
        """Read the relays and their settings."""
        return await self.envoy.dry_contacts()

    async def async_set_state(self, contact_id: str, *, closed: bool) -> None:
        """Open or close a relay (manual mode), then confirm."""
        try:
            await self.envoy.set_dry_contact_state(contact_id, closed=closed)
            contacts = await self.envoy.dry_contacts()
        except EnvoyError as err:
            raise _write_error("write_failed", error=str(err)) from err
        contact = next((c for c in contacts if c.id == contact_id), None)
        if contact is None or contact.closed is not closed:
            raise _write_error("write_not_confirmed")
        self.seed(contacts)

    async def async_set_settings(self, contact_id: str, **changes: object) -> None:
        """Change a relay's settings: its whole record out, read back, confirm."""
        try:
            contacts = await self.envoy.dry_contacts()
            contact = next((c for c in contacts if c.id == contact_id), None)
            if contact is None or contact.settings is None:
                raise _write_error("no_relay_settings")
            # The gateway can crash on a partial record: send all of it.
            await self.envoy.set_dry_contact_settings({**contact.settings, **changes})
            confirmed = await self.envoy.dry_contacts()
        except EnvoyError as err:
            raise _write_error("write_failed", error=str(err)) from err
        written = next((c for c in confirmed if c.id == contact_id), None)
        settings = written.settings if written is not None else None
        if settings is None or any(settings.get(k) != v for k, v in changes.items()):
            raise _write_error("write_not_confirmed")
        self.seed(confirmed)


def _write_error(key: str, **placeholders: str) -> HomeAssistantError:
    """Return a translated error for a failed write."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )
