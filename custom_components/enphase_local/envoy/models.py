"""Typed, immutable views of what the gateway reports.

Units are in the field names (``_w``, ``_wh``, ``_v``, ``_a``, ``_hz``); every
field the gateway may leave out is optional and ``None`` when absent. Parsers
for these live in ``parsers.py``.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Endpoint(StrEnum):
    """Paths of the gateway endpoints the client reads."""

    INFO = "/info"
    API_PRODUCTION = "/api/v1/production"
    API_INVERTERS = "/api/v1/production/inverters"
    METERS = "/ivp/meters"
    METER_READINGS = "/ivp/meters/readings"
    DEVICE_DATA = "/ivp/pdm/device_data"
    PRODUCTION_JSON = "/production.json"
    PRODUCTION = "/production"
    CHECK_JWT = "/auth/check_jwt"
    ENSEMBLE_INVENTORY = "/ivp/ensemble/inventory"
    ENSEMBLE_SECCTRL = "/ivp/ensemble/secctrl"
    ENSEMBLE_STATUS = "/ivp/ensemble/status"
    ENSEMBLE_POWER = "/ivp/ensemble/power"
    TARIFF = "/admin/lib/tariff"
    DRY_CONTACTS = "/ivp/ensemble/dry_contacts"
    DRY_CONTACT_SETTINGS = "/ivp/ss/dry_contact_settings"
    INVENTORY_JSON = "/inventory.json"

    @property
    def ruby(self) -> bool:
        """Return True for the slow pages of the gateway's Ruby web UI."""
        return self in _RUBY_ENDPOINTS


_RUBY_ENDPOINTS = frozenset(
    {Endpoint.PRODUCTION_JSON, Endpoint.PRODUCTION, Endpoint.INVENTORY_JSON}
)


class MeasurementType(StrEnum):
    """What a CT meter measures (``measurementType`` in /ivp/meters)."""

    PRODUCTION = "production"
    NET_CONSUMPTION = "net-consumption"
    TOTAL_CONSUMPTION = "total-consumption"
    STORAGE = "storage"
    BACKFEED = "backfeed"
    LOAD = "load"
    EVSE = "evse"
    PV3P = "pv3p"


class ProductionSource(StrEnum):
    """Which data the gateway's system production is trusted from."""

    CT = "ct"
    """A production CT in /ivp/meters/readings."""
    API_PRODUCTION = "api_production"
    """/api/v1/production (inverter sums, or the CT where one exists)."""
    PRODUCTION_JSON_INVERTERS = "production_json_inverters"
    """The ``inverters`` block of production.json."""
    PRODUCTION_JSON_EIM = "production_json_eim"
    """production.json's eim ``production`` entry: a CT /ivp/meters lacks."""
    PRODUCTION_PAGE = "production_page"
    """The HTML /production page of Envoy-R firmware 3.x."""
    NONE = "none"


@dataclass(frozen=True, slots=True)
class EnvoyInfo:
    """Identity of a gateway, from /info."""

    serial: str
    part_number: str | None
    firmware: str
    """Firmware without its letter prefix, e.g. ``8.2.4345``."""
    firmware_version: tuple[int, ...]
    """The numeric parts of ``firmware``, for comparisons."""
    metered: bool | None
    """``imeter``: metering hardware present (absent on Envoy-R)."""
    web_tokens: bool | None
    """``web-tokens``: the gateway wants a JWT."""

    @property
    def requires_token(self) -> bool:
        """Return True when the gateway authenticates with a JWT (fw >= 7)."""
        return bool(self.web_tokens) or self.firmware_version >= (7,)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Claims of an Enphase JWT, read without verifying the signature."""

    serial: str | None
    """``aud``: the gateway the token is for."""
    role: str | None
    """``enphaseUser``: ``owner`` or ``installer``."""
    username: str | None
    issued_at: datetime | None
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        """Return True when the token is no longer valid at ``now``."""
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class ApiProduction:
    """System production from /api/v1/production."""

    watts_now: float
    watt_hours_today: float
    watt_hours_seven_days: float
    """The previous seven days, today excluded."""
    watt_hours_lifetime: float


AC_BATTERY_DEV_TYPE = 11
"""``devType`` of a first-generation AC Battery in the inverter lists."""


@dataclass(frozen=True, slots=True)
class InverterProduction:
    """One entry of /api/v1/production/inverters."""

    serial: str
    last_report_date: int
    """Epoch seconds of the inverter's last report."""
    last_report_watts: float
    max_report_watts: float | None
    dev_type: int | None
    """1 = microinverter, 11 = AC battery; absent on fw 3.x."""

    @property
    def is_ac_battery(self) -> bool:
        """Return whether this entry is a first-generation AC Battery."""
        return self.dev_type == AC_BATTERY_DEV_TYPE


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """One CT meter slot from /ivp/meters."""

    eid: int
    state: str
    measurement_type: str
    """A ``MeasurementType`` value, or an unknown type kept verbatim."""
    phase_mode: str | None
    phase_count: int
    metering_status: str | None
    status_flags: tuple[str, ...] | None
    """``None`` on firmware that does not report flags."""

    @property
    def enabled(self) -> bool:
        """Return True when the meter is in use."""
        return self.state == "enabled"


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A CT meter's readings: the aggregate, and per phase in ``channels``.

    Sign convention: positive = toward the switchboard. Energies are cumulative.
    ``voltage_v`` of an aggregate is the sum of its phase voltages.
    """

    eid: int
    timestamp: int | None
    active_energy_delivered_wh: float | None
    active_energy_received_wh: float | None
    apparent_energy_vah: float | None
    reactive_energy_lagging_varh: float | None
    reactive_energy_leading_varh: float | None
    active_power_w: float | None
    apparent_power_va: float | None
    reactive_power_var: float | None
    power_factor: float | None
    voltage_v: float | None
    current_a: float | None
    frequency_hz: float | None
    channels: tuple[MeterReading, ...] = ()
    """Per phase (L1, L2, L3), limited to the meter's ``phase_count``."""


@dataclass(frozen=True, slots=True)
class InverterDetail:
    """One active microinverter (``pcu``) from /ivp/pdm/device_data."""

    device_id: str
    serial: str
    watt_hours_today: float | None
    watt_hours_yesterday: float | None
    watt_hours_week: float | None
    watts_now: float | None
    watts_max: float | None
    last_report_date: int | None
    """``lastReading.endDate``: epoch seconds the last report interval ended."""
    report_duration_s: int | None
    energy_in_report_wh: float | None
    """Energy produced during the last report interval."""
    ac_voltage_v: float | None
    ac_current_a: float | None
    ac_frequency_hz: float | None
    dc_voltage_v: float | None
    dc_current_a: float | None
    temperature_c: float | None
    rssi: int | None
    issi: int | None
    lifetime_joules: int | None
    """The inverter's raw lifetime counter: 32 bits, wraps at 2**32 J."""

    @property
    def lifetime_energy_wh(self) -> float | None:
        """Return the raw lifetime counter in Wh (wraps every ~1.193 MWh)."""
        if self.lifetime_joules is None:
            return None
        return self.lifetime_joules / 3600


@dataclass(frozen=True, slots=True)
class DeviceData:
    """Inverter detail from /ivp/pdm/device_data, keyed by inverter serial."""

    inverters: dict[str, InverterDetail]
    device_count: int | None
    device_data_limit: int | None
    """At most this many devices are listed (eim entries count too)."""
    gone_serials: frozenset[str] = frozenset()
    """Microinverters listed as removed (``modGone``): they linger in the
    inverter list with old report dates."""


@dataclass(frozen=True, slots=True)
class Inverter:
    """One inverter: basic data for all, detail where device_data lists it."""

    serial: str
    dev_type: int | None
    last_report_date: int
    last_report_watts: float
    max_report_watts: float | None
    detail: InverterDetail | None = None
    gone: bool = False
    """device_data says this inverter was removed (``modGone``)."""

    @property
    def is_ac_battery(self) -> bool:
        """Return whether this entry is a first-generation AC Battery."""
        return self.dev_type == AC_BATTERY_DEV_TYPE


@dataclass(frozen=True, slots=True)
class EimLine:
    """Electricity meter values from production.json (an entry or one phase)."""

    watts_now: float | None
    wh_lifetime: float | None
    wh_today: float | None
    wh_last_seven_days: float | None
    vah_lifetime: float | None
    varh_lead_lifetime: float | None
    varh_lag_lifetime: float | None
    rms_voltage_v: float | None
    rms_current_a: float | None
    reactive_power_var: float | None
    apparent_power_va: float | None
    power_factor: float | None


@dataclass(frozen=True, slots=True)
class EimEntry:
    """A ``type: eim`` entry of production.json."""

    measurement_type: str
    active_count: int
    reading_time: int | None
    values: EimLine
    lines: tuple[EimLine, ...] = ()
    """Per phase; only with ``?details=1``."""


@dataclass(frozen=True, slots=True)
class InvertersSummary:
    """The ``type: inverters`` entry of production.json."""

    active_count: int
    reading_time: int | None
    watts_now: float | None
    wh_lifetime: float | None


@dataclass(frozen=True, slots=True)
class StorageSummary:
    """A ``storage[]`` entry of production.json (``type: acb``)."""

    type: str
    active_count: int
    reading_time: int | None
    watts_now: float | None
    wh_now: float | None
    state: str | None
    percent_full: float | None


@dataclass(frozen=True, slots=True)
class ProductionReport:
    """/production.json or /production, entries matched by type, not position."""

    inverters: InvertersSummary | None
    production: EimEntry | None
    total_consumption: EimEntry | None
    net_consumption: EimEntry | None
    storage: tuple[StorageSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class EnvoyCapabilities:
    """What this gateway offers and which production source to trust."""

    endpoints: frozenset[Endpoint]
    production_source: ProductionSource
    ct_meters: tuple[MeterConfig, ...] = ()
    """Enabled CT meters."""
    device_data_limit: int | None = None
    notes: tuple[str, ...] = field(default=())
    """Why endpoints or sources were ruled out, for diagnostics."""
    refused: frozenset[Endpoint] = frozenset()
    """Endpoints that refused the credentials while others worked."""
    ac_batteries: bool = False
    """First-generation AC batteries: read from production.json's storage[]."""

    def has(self, endpoint: Endpoint) -> bool:
        """Return True when the gateway serves ``endpoint``."""
        return endpoint in self.endpoints


@dataclass(frozen=True, slots=True)
class DevicePart:
    """One device of /inventory.json: what it is and what it runs."""

    serial: str
    part_number: str | None
    """``part_num``, e.g. ``800-01714-r02``."""
    firmware: str | None
    """``img_pnum_running``: the firmware image the device runs."""


@dataclass(frozen=True, slots=True)
class ProductionPage:
    """The HTML /production page of old firmware (three significant digits)."""

    watts_now: float | None
    wh_today: float | None
    wh_last_seven_days: float | None
    wh_lifetime: float | None
    lifetime_resolution_wh: float
    """How far the rounded lifetime may be below the true one."""


@dataclass(slots=True)
class EndpointStats:
    """Request statistics of one endpoint, for diagnostics (mutable, live)."""

    requests: int = 0
    """HTTP attempts sent, retries included."""
    failures: int = 0
    """Attempts that ended in an error (transport, HTTP status or bad data)."""
    last_status: int | None = None
    last_latency_s: float | None = None
    total_latency_s: float = 0.0
    last_error: str | None = None
    """The last error's message (never a secret)."""
    last_success: float | None = None
    """Epoch seconds of the last usable answer."""
