"""Tolerant parsers: gateway payloads in, typed models out.

Every function here is pure. Bad shapes raise ``EnvoyDataError`` (or
``EnvoyEndpointMissingError`` for bodies that say the endpoint does not exist);
``KeyError``/``TypeError``/``ValueError`` never escape. Unknown fields are
ignored and optional fields the gateway leaves out become ``None``.
"""

from collections.abc import Mapping
import dataclasses
import html
import json
import math
import re
import reprlib
from typing import Any
import xml.etree.ElementTree as ET
from xml.parsers import expat

from .exceptions import EnvoyDataError, EnvoyEndpointMissingError
from .models import (
    ApiProduction,
    DeviceData,
    DevicePart,
    EimEntry,
    EimLine,
    Endpoint,
    EnvoyInfo,
    Inverter,
    InverterDetail,
    InverterProduction,
    InvertersSummary,
    MeasurementType,
    MeterConfig,
    MeterReading,
    ProductionPage,
    ProductionReport,
    StorageSummary,
)

_UINT32 = 2**32
_INT32_LIMIT = 2**31
_MAX_MAGNITUDE = 1e15
"""Larger than any count, epoch or energy a gateway reports: hostile or broken."""
_MAX_EPOCH_S = 253_402_300_799
"""9999-12-31T23:59:59Z, the last second a ``datetime`` holds: a report time
beyond it (or before 1970) would raise wherever it is turned into a date."""
_MICROINVERTER_DEV_TYPE = 1
_PHASES_BY_MODE = {"single": 1, "split": 2, "three": 3}
_MAX_PHASES = 3
_VERSION_RE = re.compile(r"\d+(?:\.\d+)*")

type JsonObject = Mapping[str, Any]


def body_to_json(body: bytes, endpoint: str) -> object:
    """Parse a raw body as JSON whatever its Content-Type (often none)."""
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise EnvoyDataError(
            f"GET {endpoint} answered an empty body", endpoint=endpoint
        )
    if text.startswith(b"<"):
        raise EnvoyEndpointMissingError(
            f"GET {endpoint} answered an HTML page instead of JSON", endpoint=endpoint
        )
    try:
        obj: object = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise EnvoyDataError(
            f"GET {endpoint} answered invalid JSON", endpoint=endpoint
        ) from err
    except RecursionError as err:
        raise EnvoyDataError(
            f"GET {endpoint} answered JSON nested too deeply", endpoint=endpoint
        ) from err
    if isinstance(obj, dict) and "error" in obj:
        raise EnvoyEndpointMissingError(
            f"GET {endpoint} answered an error: {_describe(obj['error'])}",
            endpoint=endpoint,
        )
    return obj


def _describe(value: object) -> str:
    """Return a short text of any JSON value, for a message."""
    if isinstance(value, str):
        return value[:100]
    # str() would render the whole value, however deep or long, to keep 100
    # characters; reprlib stops at a few levels and a few items.
    return reprlib.repr(value)[:100]


def _reject_constant(name: str) -> object:
    """Refuse the non-standard NaN/Infinity literals Python's json accepts."""
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    """Parse a JSON float, refusing ones that overflow to infinity (``1e999``)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def parse_info(body: bytes) -> EnvoyInfo:
    """Parse the XML of /info into the gateway's identity."""
    endpoint = Endpoint.INFO
    try:
        root = _xml_without_dtd(body.strip())
    except _DoctypeError as err:
        raise EnvoyDataError(
            "GET /info answered a document with a DTD, not an Envoy", endpoint=endpoint
        ) from err
    except (expat.ExpatError, LookupError, ValueError) as err:
        # LookupError: an XML declaration naming an unknown (or a non-text)
        # encoding; ValueError (UnicodeError too): one expat cannot use.
        raise EnvoyDataError(
            "GET /info answered something that is not XML", endpoint=endpoint
        ) from err
    device = root.find("device")
    serial = _xml_text(device, "sn")
    if device is None or serial is None:
        raise EnvoyDataError(
            "GET /info has no device serial: this is not an Envoy", endpoint=endpoint
        )
    software = _xml_text(device, "software")
    if software is None:
        raise EnvoyDataError("GET /info has no firmware version", endpoint=endpoint)
    firmware = software[1:] if software[0].isalpha() else software
    match = _VERSION_RE.match(firmware[:64])
    version = tuple(int(part[:9]) for part in match.group().split(".")) if match else ()
    return EnvoyInfo(
        serial=serial,
        part_number=_xml_text(device, "pn"),
        firmware=firmware,
        firmware_version=version,
        metered=_xml_bool(_xml_text(device, "imeter")),
        web_tokens=_xml_bool(_xml_text(root, "web-tokens")),
    )


class _DoctypeError(Exception):
    """The document declares a DTD."""


def _refuse_doctype(*_args: object) -> None:
    """Stop the parse at a DTD: entity declarations are how XML bombs work."""
    raise _DoctypeError


def _xml_without_dtd(body: bytes) -> ET.Element:
    """Parse an XML document into elements, refusing any DTD.

    The DTD is refused as expat reads it, after decoding: searching the raw
    bytes for ``<!DOCTYPE`` missed UTF-16 documents, whose entities expanded.
    /info never has a DTD.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = lambda tag, attributes: builder.start(
        tag, dict(attributes)
    )
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.Parse(body, True)
    return builder.close()


def _xml_text(parent: ET.Element | None, tag: str) -> str | None:
    """Return the stripped text of a child element, None when absent or empty."""
    if parent is None:
        return None
    element = parent.find(tag)
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _xml_bool(text: str | None) -> bool | None:
    """Return an XML ``true``/``false`` as a bool, None otherwise."""
    if text is None:
        return None
    return {"true": True, "false": False}.get(text.lower())


def parse_api_production(obj: object) -> ApiProduction:
    """Parse /api/v1/production."""
    reader = Reader(Endpoint.API_PRODUCTION)
    data = reader.mapping(obj, "the payload")
    return ApiProduction(
        watts_now=reader.number(data, "wattsNow"),
        watt_hours_today=reader.number(data, "wattHoursToday"),
        watt_hours_seven_days=reader.number(data, "wattHoursSevenDays"),
        watt_hours_lifetime=reader.number(data, "wattHoursLifetime"),
    )


def parse_inverters(obj: object) -> list[InverterProduction]:
    """Parse /api/v1/production/inverters."""
    reader = Reader(Endpoint.API_INVERTERS)
    return [
        InverterProduction(
            serial=reader.string(entry, "serialNumber"),
            last_report_date=reader.epoch(entry, "lastReportDate"),
            last_report_watts=reader.number(entry, "lastReportWatts"),
            max_report_watts=reader.optional_number(entry, "maxReportWatts"),
            dev_type=reader.optional_integer(entry, "devType"),
        )
        for entry in reader.mappings(obj, "the payload")
    ]


def parse_device_inventory(obj: object) -> dict[str, DevicePart]:
    """Parse /inventory.json: part number and firmware of each device by serial.

    Groups (``PCU`` microinverters, ``ACB`` AC Batteries, ``NSRB`` relays) hold
    ``devices``; a group without them and a device without a serial are skipped.
    """
    reader = Reader(Endpoint.INVENTORY_JSON)
    parts: dict[str, DevicePart] = {}
    for group in reader.mappings(obj, "the payload"):
        devices = group.get("devices")
        if devices is None:
            continue
        for device in reader.mappings(devices, "'devices'"):
            serial = reader.optional_string(device, "serial_num")
            if not serial:
                continue
            parts[serial] = DevicePart(
                serial=serial,
                part_number=reader.optional_string(device, "part_num") or None,
                firmware=reader.optional_string(device, "img_pnum_running") or None,
            )
    return parts


def parse_meters(obj: object) -> list[MeterConfig]:
    """Parse /ivp/meters (``[]`` on gateways without metering)."""
    reader = Reader(Endpoint.METERS)
    meters: list[MeterConfig] = []
    for entry in reader.mappings(obj, "the payload"):
        phase_mode = reader.optional_string(entry, "phaseMode")
        phase_count = reader.optional_integer(entry, "phaseCount")
        if phase_count is None:
            phase_count = _PHASES_BY_MODE.get(phase_mode or "", _MAX_PHASES)
        flags = entry.get("statusFlags")
        meters.append(
            MeterConfig(
                eid=reader.integer(entry, "eid"),
                state=reader.string(entry, "state"),
                measurement_type=reader.string(entry, "measurementType"),
                phase_mode=phase_mode,
                phase_count=phase_count,
                metering_status=reader.optional_string(entry, "meteringStatus"),
                status_flags=None
                if flags is None
                else tuple(
                    flag
                    for flag in reader.sequence(flags, "statusFlags")
                    if isinstance(flag, str) and _is_text(flag)
                ),
            )
        )
    return meters


def parse_meter_readings(obj: object) -> list[MeterReading]:
    """Parse /ivp/meters/readings: every entry, every channel, untrimmed."""
    reader = Reader(Endpoint.METER_READINGS)
    readings: list[MeterReading] = []
    for entry in reader.mappings(obj, "the payload"):
        channels = entry.get("channels")
        readings.append(
            _meter_reading(
                reader,
                entry,
                ()
                if channels is None
                else tuple(
                    _meter_reading(reader, channel, ())
                    for channel in reader.mappings(channels, "channels")
                ),
            )
        )
    return readings


def _meter_reading(
    reader: Reader, data: JsonObject, channels: tuple[MeterReading, ...]
) -> MeterReading:
    """Build one reading (an aggregate or a phase channel)."""
    return MeterReading(
        eid=reader.integer(data, "eid"),
        timestamp=reader.optional_epoch(data, "timestamp"),
        active_energy_delivered_wh=reader.optional_number(data, "actEnergyDlvd"),
        active_energy_received_wh=reader.optional_number(data, "actEnergyRcvd"),
        apparent_energy_vah=reader.optional_number(data, "apparentEnergy"),
        reactive_energy_lagging_varh=reader.optional_number(data, "reactEnergyLagg"),
        reactive_energy_leading_varh=reader.optional_number(data, "reactEnergyLead"),
        active_power_w=reader.optional_number(data, "activePower"),
        apparent_power_va=reader.optional_number(data, "apparentPower"),
        reactive_power_var=reader.optional_number(data, "reactivePower"),
        power_factor=reader.optional_number(data, "pwrFactor"),
        voltage_v=reader.optional_number(data, "voltage"),
        current_a=reader.optional_number(data, "current"),
        frequency_hz=reader.optional_number(data, "freq"),
        channels=channels,
    )


def match_meter_readings(
    meters: list[MeterConfig], readings: list[MeterReading]
) -> dict[int, MeterReading]:
    """Pair each enabled meter with its reading by eid, phases trimmed.

    Some firmware adds zero entries for unconfigured or unknown eids and the
    order is not guaranteed, so position means nothing.
    """
    by_eid = {reading.eid: reading for reading in readings}
    matched: dict[int, MeterReading] = {}
    for meter in meters:
        reading = by_eid.get(meter.eid)
        if not meter.enabled or reading is None:
            continue
        matched[meter.eid] = dataclasses.replace(
            reading, channels=reading.channels[: max(meter.phase_count, 0)]
        )
    return matched


def parse_device_data(obj: object) -> DeviceData:
    """Parse /ivp/pdm/device_data: active microinverters keyed by serial."""
    reader = Reader(Endpoint.DEVICE_DATA)
    data = reader.mapping(obj, "the payload")
    inverters: dict[str, InverterDetail] = {}
    gone: set[str] = set()
    for device_id, entry in data.items():
        if not isinstance(entry, Mapping) or entry.get("devName") != "pcu":
            continue
        if entry.get("modGone", False) is True:
            # Removed inverters keep an entry with empty readings.
            serial = entry.get("sn")
            if isinstance(serial, str) and serial and _is_text(serial):
                gone.add(serial)
            continue
        if not _is_text(device_id):
            # A JSON key can carry a lone surrogate escape (\ud800), which no
            # UTF-8 writer (logs, storage) accepts.
            raise reader.error("a device id is not text")
        if entry.get("active", True) is not True:
            continue
        serial = reader.string(entry, "sn")
        inverters[serial] = _inverter_detail(reader, device_id, serial, entry)
    return DeviceData(
        inverters=inverters,
        device_count=reader.optional_integer(data, "deviceCount"),
        device_data_limit=reader.optional_integer(data, "deviceDataLimit"),
        gone_serials=frozenset(gone),
    )


def _inverter_detail(
    reader: Reader, device_id: str, serial: str, entry: JsonObject
) -> InverterDetail:
    """Build an inverter's detail from its first channel."""
    channels = reader.mappings(entry.get("channels", []), f"{serial} channels")
    channel: JsonObject = channels[0] if channels else {}
    watt_hours = reader.child(channel, "wattHours")
    watts = reader.child(channel, "watts")
    last = reader.child(channel, "lastReading")
    lifetime = reader.child(channel, "lifetime")
    joules_in_report = reader.signed(last, "joulesProduced")
    return InverterDetail(
        device_id=device_id,
        serial=serial,
        watt_hours_today=reader.signed(watt_hours, "today"),
        watt_hours_yesterday=reader.signed(watt_hours, "yesterday"),
        watt_hours_week=reader.signed(watt_hours, "week"),
        watts_now=reader.signed(watts, "now"),
        watts_max=reader.signed(watts, "max"),
        last_report_date=reader.optional_epoch(last, "endDate"),
        report_duration_s=reader.optional_integer(last, "duration"),
        energy_in_report_wh=None
        if joules_in_report is None
        else joules_in_report / 3600,
        ac_voltage_v=_milli(reader.signed(last, "acVoltageINmV")),
        ac_current_a=_milli(reader.signed(last, "acCurrentInmA")),
        ac_frequency_hz=_milli(reader.signed(last, "acFrequencyINmHz")),
        dc_voltage_v=_milli(reader.signed(last, "dcVoltageINmV")),
        dc_current_a=_milli(reader.signed(last, "dcCurrentINmA")),
        temperature_c=reader.signed(last, "channelTemp"),
        rssi=reader.optional_integer(last, "rssi"),
        issi=reader.optional_integer(last, "issi"),
        # The wrapping 32-bit counter is kept raw: wraps are corrected upstream.
        lifetime_joules=reader.optional_integer(lifetime, "joulesProduced"),
    )


def _milli(value: float | None) -> float | None:
    """Convert a milli-unit value to its unit."""
    return None if value is None else value / 1000


def merge_inverters(
    inverters: list[InverterProduction], device_data: DeviceData | None
) -> dict[str, Inverter]:
    """Merge the basic inverter list with device_data detail, keyed by serial.

    device_data lists at most ``deviceDataLimit`` devices, so large sites get
    detail for some inverters and basic data for the rest. Inverters device_data
    marks as removed are kept, flagged ``gone``.
    """
    details = device_data.inverters if device_data is not None else {}
    gone = device_data.gone_serials if device_data is not None else frozenset()
    merged = {
        inverter.serial: Inverter(
            serial=inverter.serial,
            dev_type=inverter.dev_type,
            last_report_date=inverter.last_report_date,
            last_report_watts=inverter.last_report_watts,
            max_report_watts=inverter.max_report_watts,
            detail=details.get(inverter.serial),
            gone=inverter.serial in gone,
        )
        for inverter in inverters
    }
    for serial, detail in details.items():
        if serial in merged:
            continue
        merged[serial] = Inverter(
            serial=serial,
            dev_type=_MICROINVERTER_DEV_TYPE,
            last_report_date=detail.last_report_date or 0,
            last_report_watts=detail.watts_now or 0,
            max_report_watts=detail.watts_max,
            detail=detail,
        )
    return merged


def parse_production_report(
    obj: object, *, endpoint: str = Endpoint.PRODUCTION_JSON
) -> ProductionReport:
    """Parse /production.json (with or without details) or /production."""
    reader = Reader(endpoint)
    data = reader.mapping(obj, "the payload")
    if "production" not in data and "consumption" not in data:
        raise EnvoyDataError(
            f"GET {endpoint} has neither production nor consumption", endpoint=endpoint
        )
    inverters: InvertersSummary | None = None
    eim: dict[str, EimEntry] = {}
    for section in ("production", "consumption"):
        for entry in reader.mappings(data.get(section, []), section):
            entry_type = entry.get("type")
            if entry_type == "inverters" and section == "production":
                inverters = InvertersSummary(
                    active_count=reader.integer(entry, "activeCount"),
                    reading_time=reader.optional_epoch(entry, "readingTime"),
                    watts_now=reader.optional_number(entry, "wNow"),
                    wh_lifetime=reader.optional_number(entry, "whLifetime"),
                )
            elif entry_type == "eim":
                measurement_type = reader.string(entry, "measurementType")
                eim[measurement_type] = _eim_entry(reader, measurement_type, entry)
    storage = tuple(
        StorageSummary(
            type=reader.string(entry, "type"),
            active_count=reader.integer(entry, "activeCount"),
            reading_time=reader.optional_epoch(entry, "readingTime"),
            watts_now=reader.optional_number(entry, "wNow"),
            wh_now=reader.optional_number(entry, "whNow"),
            state=reader.optional_string(entry, "state"),
            percent_full=reader.optional_number(entry, "percentFull"),
        )
        for entry in reader.mappings(data.get("storage", []), "storage")
    )
    return ProductionReport(
        inverters=inverters,
        production=eim.get(MeasurementType.PRODUCTION),
        total_consumption=eim.get(MeasurementType.TOTAL_CONSUMPTION),
        net_consumption=eim.get(MeasurementType.NET_CONSUMPTION),
        storage=storage,
    )


def _eim_entry(reader: Reader, measurement_type: str, entry: JsonObject) -> EimEntry:
    """Build an eim entry and its per-phase lines when present."""
    lines = entry.get("lines")
    return EimEntry(
        measurement_type=measurement_type,
        active_count=reader.integer(entry, "activeCount"),
        reading_time=reader.optional_epoch(entry, "readingTime"),
        values=_eim_line(reader, entry),
        lines=()
        if lines is None
        else tuple(
            _eim_line(reader, line)
            for line in reader.mappings(lines, f"{measurement_type} lines")
        ),
    )


def _eim_line(reader: Reader, data: JsonObject) -> EimLine:
    """Build the electricity values of an eim entry or one of its lines."""
    return EimLine(
        watts_now=reader.optional_number(data, "wNow"),
        wh_lifetime=reader.optional_number(data, "whLifetime"),
        wh_today=reader.optional_number(data, "whToday"),
        wh_last_seven_days=reader.optional_number(data, "whLastSevenDays"),
        vah_lifetime=reader.optional_number(data, "vahLifetime"),
        varh_lead_lifetime=reader.optional_number(data, "varhLeadLifetime"),
        varh_lag_lifetime=reader.optional_number(data, "varhLagLifetime"),
        rms_voltage_v=reader.optional_number(data, "rmsVoltage"),
        rms_current_a=reader.optional_number(data, "rmsCurrent"),
        reactive_power_var=reader.optional_number(data, "reactPwr"),
        apparent_power_va=reader.optional_number(data, "apprntPwr"),
        power_factor=reader.optional_number(data, "pwrFactor"),
    )


class Reader:
    """Typed field access that reports bad shapes as ``EnvoyDataError``."""

    def __init__(self, endpoint: str) -> None:
        """Remember which endpoint the payload came from, for messages."""
        self.endpoint = endpoint

    def error(self, what: str) -> EnvoyDataError:
        """Return a data error naming the endpoint."""
        return EnvoyDataError(f"GET {self.endpoint}: {what}", endpoint=self.endpoint)

    def mapping(self, value: object, what: str) -> JsonObject:
        """Return ``value`` as a JSON object."""
        if not isinstance(value, Mapping):
            raise self.error(f"{what} is not a JSON object")
        return value

    def sequence(self, value: object, what: str) -> list[Any]:
        """Return ``value`` as a JSON array."""
        if not isinstance(value, list):
            raise self.error(f"{what} is not a JSON array")
        return value

    def mappings(self, value: object, what: str) -> list[JsonObject]:
        """Return ``value`` as a JSON array of objects."""
        return [
            self.mapping(item, f"entry {index} of {what}")
            for index, item in enumerate(self.sequence(value, what))
        ]

    def child(self, data: JsonObject, key: str) -> JsonObject:
        """Return a nested object, empty when absent."""
        value = data.get(key)
        return {} if value is None else self.mapping(value, f"'{key}'")

    def _raw_number(self, data: JsonObject, key: str) -> Any:
        """Return the JSON int or float at ``key`` (never a bool), None when absent."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"'{key}' is not a number")
        if not -_MAX_MAGNITUDE <= value <= _MAX_MAGNITUDE:
            # Also refuses NaN and infinities, whatever produced them.
            raise self.error(f"'{key}' is out of range")
        return value

    def optional_number(self, data: JsonObject, key: str) -> float | None:
        """Return a number, None when absent."""
        value: float | None = self._raw_number(data, key)
        return value

    def number(self, data: JsonObject, key: str) -> float:
        """Return a required number."""
        value = self.optional_number(data, key)
        if value is None:
            raise self.error(f"'{key}' is missing")
        return value

    def optional_integer(self, data: JsonObject, key: str) -> int | None:
        """Return a whole number (``12.0`` accepted), None when absent."""
        value = self._raw_number(data, key)
        if value is None or isinstance(value, int):
            return value
        if not value.is_integer():
            raise self.error(f"'{key}' is not a whole number")
        return int(value)

    def integer(self, data: JsonObject, key: str) -> int:
        """Return a required whole number."""
        value = self.optional_integer(data, key)
        if value is None:
            raise self.error(f"'{key}' is missing")
        return value

    def optional_epoch(self, data: JsonObject, key: str) -> int | None:
        """Return epoch seconds a ``datetime`` can hold, None when absent."""
        value = self.optional_integer(data, key)
        if value is not None and not 0 <= value <= _MAX_EPOCH_S:
            raise self.error(f"'{key}' is not a time")
        return value

    def epoch(self, data: JsonObject, key: str) -> int:
        """Return required epoch seconds."""
        value = self.optional_epoch(data, key)
        if value is None:
            raise self.error(f"'{key}' is missing")
        return value

    def signed(self, data: JsonObject, key: str) -> float | None:
        """Return a number, reading a 32-bit unsigned encoding as negative."""
        value = self._raw_number(data, key)
        if isinstance(value, int) and _INT32_LIMIT <= value < _UINT32:
            return value - _UINT32
        return self.optional_number(data, key)

    def optional_bool(self, data: JsonObject, key: str) -> bool | None:
        """Return a JSON boolean (or the strings ``"true"``/``"false"``), None when absent."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.error(f"'{key}' is not a boolean")

    def optional_string(self, data: JsonObject, key: str) -> str | None:
        """Return a string, None when absent."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"'{key}' is not a string")
        if not _is_text(value):
            raise self.error(f"'{key}' is not text")
        return value

    def string(self, data: JsonObject, key: str) -> str:
        """Return a required, non-empty string."""
        value = self.optional_string(data, key)
        if not value:
            raise self.error(f"'{key}' is missing")
        return value


_PAGE_VALUE_RE = {
    field: re.compile(
        rf"{label}\W*?(-?[\d][\d,]*(?:\.\d+)?)\s*(W|kW|MW|Wh|kWh|MWh)\b",
        re.IGNORECASE,
    )
    for field, label in (
        ("now", "Currently"),
        ("today", "Today"),
        ("week", r"Past\s+Week"),
        ("lifetime", r"Since\s+Installation"),
    )
}
_PAGE_UNITS = {"w": 1.0, "kw": 1e3, "mw": 1e6, "wh": 1.0, "kwh": 1e3, "mwh": 1e6}
_TAG_RE = re.compile(r"<[^>]*>")


def parse_production_page(body: bytes) -> ProductionPage:
    """Parse the HTML /production page of old firmware into numbers."""
    endpoint = Endpoint.PRODUCTION
    text = html.unescape(
        _TAG_RE.sub(" ", body[:200_000].decode("utf-8", errors="replace"))
    )
    values: dict[str, tuple[float, float]] = {}
    for field, pattern in _PAGE_VALUE_RE.items():
        match = pattern.search(text)
        if match is None:
            continue
        number_text, unit = match.group(1).replace(",", ""), match.group(2).lower()
        try:
            number = float(number_text)
        except ValueError:
            continue
        # NaN for a unit the table lacks (case folding can match odd letters).
        number *= _PAGE_UNITS.get(unit, math.nan)
        # Bounded after scaling: 9e14 MWh is finite but 1e6 times too large.
        if not -_MAX_MAGNITUDE <= number <= _MAX_MAGNITUDE:
            continue
        values[field] = (number, _resolution(number_text, unit))
    if "now" not in values and "lifetime" not in values:
        raise EnvoyEndpointMissingError(
            f"GET {endpoint} has no production figures: not a production page",
            endpoint=endpoint,
        )
    lifetime = values.get("lifetime")
    return ProductionPage(
        watts_now=values["now"][0] if "now" in values else None,
        wh_today=values["today"][0] if "today" in values else None,
        wh_last_seven_days=values["week"][0] if "week" in values else None,
        wh_lifetime=None if lifetime is None else lifetime[0],
        lifetime_resolution_wh=0.0 if lifetime is None else lifetime[1],
    )


def _resolution(number_text: str, unit: str) -> float:
    """Return the step of the last digit shown, in W or Wh."""
    decimals = len(number_text.partition(".")[2])
    return 10.0**-decimals * _PAGE_UNITS[unit]


def _is_text(value: str) -> bool:
    r"""Return True when ``value`` can be written as UTF-8 (no lone surrogates).

    JSON may escape a lone surrogate (``"\ud800"``): Python decodes it into
    a string that every UTF-8 writer (logs, Home Assistant's storage) refuses.
    """
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
