"""Batteries and the system controller: models and parsers (PROTOCOL.md section 7).

IQ Batteries (Encharge) and the IQ System Controller (Enpower) answer on
``/ivp/ensemble/*``; first-generation AC batteries only in production.json's
``storage[]`` block. Storage settings live in ``/admin/lib/tariff``, Enpower
load-shedding relays in ``/ivp/ensemble/dry_contacts`` and
``/ivp/ss/dry_contact_settings``. Writes must send whole documents: the
tariff as read, a relay's whole settings record (a partial one can crash the
gateway), so the raw documents are kept next to the typed views.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import EnvoyDataError
from .models import Endpoint
from .parsers import JsonObject, Reader

ON_GRID = "closed"
"""``mains_oper_state``: the system controller's main relay closed = on grid."""
STORAGE_MODES = ("backup", "self-consumption", "savings-mode", "economy")
_MAX_DOCUMENT_DEPTH = 32
"""Deeper than any tariff or relay record (about 6 levels): hostile or broken."""


@dataclass(frozen=True, slots=True)
class Battery:
    """One IQ Battery (``ENCHARGE`` device) from /ivp/ensemble/inventory."""

    serial: str
    part_number: str | None
    firmware: str | None
    percent_full: float | None
    temperature_c: float | None
    max_cell_temperature_c: float | None
    capacity_wh: float | None
    led_status: int | None
    status: str | None
    """``admin_state_str``, e.g. ``ENCHG_STATE_READY``."""
    communicating: bool | None
    operating: bool | None
    dc_switch_off: bool | None
    sleep_enabled: bool | None
    last_report_date: int | None
    grid_state: str | None
    """``reported_enc_grid_state``: grid-tied or grid-forming."""
    phase: str | None


@dataclass(frozen=True, slots=True)
class SystemController:
    """The IQ System Controller (``ENPOWER`` device): the site's grid relay."""

    serial: str
    part_number: str | None
    firmware: str | None
    temperature_f: float | None
    """The controller reports degrees Fahrenheit (batteries report Celsius)."""
    communicating: bool | None
    last_report_date: int | None
    mains_admin_state: str | None
    mains_oper_state: str | None
    grid_mode: str | None
    status: str | None

    @property
    def on_grid(self) -> bool | None:
        """Return True on grid, False off grid, None when not reported."""
        if self.mains_oper_state is None:
            return None
        return self.mains_oper_state == ON_GRID


@dataclass(frozen=True, slots=True)
class EnsembleInventory:
    """The Ensemble devices of a site."""

    batteries: tuple[Battery, ...] = ()
    controllers: tuple[SystemController, ...] = ()
    other_groups: tuple[str, ...] = ()
    """Group types listed but not modelled (``COLLAR``, combiner controllers)."""


@dataclass(frozen=True, slots=True)
class EnsembleAggregate:
    """Site battery aggregates from /ivp/ensemble/secctrl (or .../status)."""

    soc_percent: float | None
    max_energy_wh: float | None
    battery_soc_percent: float | None
    health_percent: float | None
    available_energy_wh: float | None
    backup_energy_wh: float | None
    acb_soc_percent: float | None
    acb_energy_wh: float | None
    reserve_percent: float | None
    """``configured_backup_soc``: the reserve the user set."""
    adjusted_reserve_percent: float | None
    mains_oper_state: str | None = None
    """From /ivp/ensemble/status's ``relay`` block, when read there."""

    @property
    def on_grid(self) -> bool | None:
        """Return True on grid, False off grid, None when not reported."""
        if self.mains_oper_state is None:
            return None
        return self.mains_oper_state == ON_GRID


@dataclass(frozen=True, slots=True)
class BatteryPower:
    """One battery's power from /ivp/ensemble/power (positive discharging)."""

    serial: str
    power_w: float | None
    apparent_power_va: float | None
    soc_percent: float | None


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The storage part of /admin/lib/tariff."""

    mode: str | None
    reserve_percent: float | None
    very_low_percent: float | None
    charge_from_grid: bool | None


@dataclass(frozen=True, slots=True)
class Tariff:
    """/admin/lib/tariff: the storage settings and the whole document for writes."""

    storage: StorageSettings | None
    document: Mapping[str, Any] = field(repr=False)
    """The whole document as read: writes send it back with one change."""

    def with_storage(self, **changes: object) -> dict[str, Any]:
        """Return a copy of the whole document with storage settings changed."""
        if self.storage is None:
            # Without storage settings there is nothing to change (and no
            # ``storage_settings`` object to change it in).
            raise EnvoyDataError(
                f"{Endpoint.TARIFF} has no storage settings to change",
                endpoint=Endpoint.TARIFF,
            )
        document = _copy_document(Reader(Endpoint.TARIFF), self.document)
        document["tariff"]["storage_settings"].update(changes)
        return document


@dataclass(frozen=True, slots=True)
class DryContact:
    """One Enpower load-shedding relay: its state and its whole settings record."""

    id: str
    closed: bool | None
    load_name: str | None
    mode: str | None
    soc_low: float | None
    soc_high: float | None
    settings: Mapping[str, Any] | None = field(default=None, repr=False)
    """The relay's whole settings record, sent back whole on a write."""


def parse_ensemble_inventory(obj: object) -> EnsembleInventory:
    """Parse /ivp/ensemble/inventory (``[]`` when the site has none)."""
    reader = Reader(Endpoint.ENSEMBLE_INVENTORY)
    batteries: list[Battery] = []
    controllers: list[SystemController] = []
    others: list[str] = []
    for group in reader.mappings(obj, "the payload"):
        kind = reader.optional_string(group, "type") or ""
        devices = reader.mappings(group.get("devices", []), f"{kind} devices")
        if kind == "ENCHARGE":
            batteries.extend(_battery(reader, device) for device in devices)
        elif kind == "ENPOWER":
            controllers.extend(_controller(reader, device) for device in devices)
        elif kind:
            others.append(kind)
    return EnsembleInventory(tuple(batteries), tuple(controllers), tuple(others))


def _battery(reader: Reader, device: JsonObject) -> Battery:
    """Build one IQ Battery."""
    return Battery(
        serial=reader.string(device, "serial_num"),
        part_number=reader.optional_string(device, "part_num"),
        firmware=reader.optional_string(device, "img_pnum_running"),
        percent_full=reader.optional_number(device, "percentFull"),
        temperature_c=reader.optional_number(device, "temperature"),
        max_cell_temperature_c=reader.optional_number(device, "maxCellTemp"),
        capacity_wh=reader.optional_number(device, "encharge_capacity"),
        led_status=reader.optional_integer(device, "led_status"),
        status=reader.optional_string(device, "admin_state_str"),
        communicating=reader.optional_bool(device, "communicating"),
        operating=reader.optional_bool(device, "operating"),
        dc_switch_off=reader.optional_bool(device, "dc_switch_off"),
        sleep_enabled=reader.optional_bool(device, "sleep_enabled"),
        last_report_date=reader.optional_epoch(device, "last_rpt_date"),
        grid_state=reader.optional_string(device, "reported_enc_grid_state"),
        phase=reader.optional_string(device, "phase"),
    )


def _controller(reader: Reader, device: JsonObject) -> SystemController:
    """Build the system controller."""
    return SystemController(
        serial=reader.string(device, "serial_num"),
        part_number=reader.optional_string(device, "part_num"),
        firmware=reader.optional_string(device, "img_pnum_running"),
        temperature_f=reader.optional_number(device, "temperature"),
        communicating=reader.optional_bool(device, "communicating"),
        last_report_date=reader.optional_epoch(device, "last_rpt_date"),
        mains_admin_state=reader.optional_string(device, "mains_admin_state"),
        mains_oper_state=reader.optional_string(device, "mains_oper_state"),
        grid_mode=reader.optional_string(device, "Enpwr_grid_mode"),
        status=reader.optional_string(device, "admin_state_str"),
    )


def parse_ensemble_secctrl(
    obj: object, *, endpoint: str = Endpoint.ENSEMBLE_SECCTRL
) -> EnsembleAggregate:
    """Parse /ivp/ensemble/secctrl, or the ``secctrl`` of /ivp/ensemble/status."""
    reader = Reader(endpoint)
    data = reader.mapping(obj, "the payload")
    relay: JsonObject = {}
    if endpoint == Endpoint.ENSEMBLE_STATUS:
        relay = reader.child(data, "relay")
        data = reader.child(data, "secctrl")
        if not data:
            raise reader.error("no secctrl block")
    return EnsembleAggregate(
        soc_percent=reader.optional_number(data, "agg_soc"),
        max_energy_wh=reader.optional_number(data, "Max_energy"),
        battery_soc_percent=reader.optional_number(data, "ENC_agg_soc"),
        health_percent=reader.optional_number(data, "ENC_agg_soh"),
        available_energy_wh=reader.optional_number(data, "ENC_agg_avail_energy"),
        backup_energy_wh=reader.optional_number(data, "ENC_agg_backup_energy"),
        acb_soc_percent=reader.optional_number(data, "ACB_agg_soc"),
        acb_energy_wh=reader.optional_number(data, "ACB_agg_energy"),
        reserve_percent=reader.optional_number(data, "configured_backup_soc"),
        adjusted_reserve_percent=reader.optional_number(data, "adjusted_backup_soc"),
        mains_oper_state=reader.optional_string(relay, "mains_oper_state"),
    )


def parse_ensemble_power(obj: object) -> tuple[BatteryPower, ...]:
    """Parse /ivp/ensemble/power (its list really is keyed ``"devices:"``)."""
    reader = Reader(Endpoint.ENSEMBLE_POWER)
    data = reader.mapping(obj, "the payload")
    devices = data.get("devices:", data.get("devices", []))
    return tuple(
        BatteryPower(
            serial=reader.string(device, "serial_num"),
            power_w=_milli(reader.optional_number(device, "real_power_mw")),
            apparent_power_va=_milli(
                reader.optional_number(device, "apparent_power_mva")
            ),
            soc_percent=reader.optional_number(device, "soc"),
        )
        for device in reader.mappings(devices, "devices")
    )


def _milli(value: float | None) -> float | None:
    """Convert milli-units to units."""
    return None if value is None else value / 1000


def _copy_document(reader: Reader, document: JsonObject) -> dict[str, Any]:
    """Return a deep copy of a JSON document kept for writing back.

    Not ``copy.deepcopy``: it recurses several frames per level, so a document
    nested a few hundred levels deep (which ``json`` still decodes) raised
    ``RecursionError``. The depth is bounded instead, and refused past it.
    """
    return {key: _copy_json(reader, value, 1) for key, value in document.items()}


def _copy_json(reader: Reader, value: object, depth: int) -> Any:
    """Return a copy of one JSON value, refusing nesting beyond the bound."""
    if isinstance(value, Mapping | list) and depth >= _MAX_DOCUMENT_DEPTH:
        raise reader.error(f"the document is nested over {_MAX_DOCUMENT_DEPTH} levels")
    if isinstance(value, Mapping):
        return {key: _copy_json(reader, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(reader, item, depth + 1) for item in value]
    return value


def parse_tariff(obj: object) -> Tariff:
    """Parse /admin/lib/tariff, keeping the whole document for writes."""
    reader = Reader(Endpoint.TARIFF)
    document = reader.mapping(obj, "the payload")
    tariff = reader.child(document, "tariff")
    if not tariff:
        raise reader.error("no tariff object")
    settings = reader.child(tariff, "storage_settings")
    storage = (
        StorageSettings(
            mode=reader.optional_string(settings, "mode"),
            reserve_percent=reader.optional_number(settings, "reserved_soc"),
            very_low_percent=reader.optional_number(settings, "very_low_soc"),
            charge_from_grid=reader.optional_bool(settings, "charge_from_grid"),
        )
        if settings
        else None
    )
    return Tariff(storage=storage, document=_copy_document(reader, document))


def parse_dry_contacts(
    states: object, settings: object | None
) -> tuple[DryContact, ...]:
    """Parse the relays' states and (when read) their settings records."""
    state_reader = Reader(Endpoint.DRY_CONTACTS)
    settings_reader = Reader(Endpoint.DRY_CONTACT_SETTINGS)
    records: dict[str, JsonObject] = {}
    if settings is not None:
        listing = settings_reader.mapping(settings, "the payload").get(
            "dry_contacts", []
        )
        for record in settings_reader.mappings(listing, "dry_contacts"):
            records[settings_reader.string(record, "id")] = record
    listing = state_reader.mapping(states, "the payload").get("dry_contacts", [])
    contacts: list[DryContact] = []
    for entry in state_reader.mappings(listing, "dry_contacts"):
        contact_id = state_reader.string(entry, "id")
        status = state_reader.optional_string(entry, "status")
        record = records.get(contact_id, {})
        contacts.append(
            DryContact(
                id=contact_id,
                closed=None if status is None else status == "closed",
                load_name=settings_reader.optional_string(record, "load_name"),
                mode=settings_reader.optional_string(record, "mode"),
                soc_low=settings_reader.optional_number(record, "soc_low"),
                soc_high=settings_reader.optional_number(record, "soc_high"),
                settings=_copy_document(settings_reader, record) if record else None,
            )
        )
    return tuple(contacts)


@dataclass(frozen=True, slots=True)
class BatteryReads:
    """What detection read of the battery endpoints, to start the tiers from."""

    inventory: EnsembleInventory | None = None
    aggregate: EnsembleAggregate | None = None
    power: tuple[BatteryPower, ...] | None = None
    tariff: Tariff | None = None
    dry_contacts: tuple[DryContact, ...] | None = None
