"""Gateway profiles: the hardware and firmware combinations the simulator plays."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, cast, get_args

type MeasurementType = Literal[
    "production",
    "net-consumption",
    "total-consumption",
    "storage",
    "backfeed",
    "load",
    "evse",
    "pv3p",
]
type PhaseMode = Literal["single", "split", "three"]
type MeteringStatus = Literal["normal", "not-metering", "check-wiring"]
type StorageMode = Literal["backup", "self-consumption", "savings-mode", "economy"]
type BatteryKind = Literal["encharge", "acb", "storage"]
type RelayMode = Literal["manual", "soc"]

METERING_STATUSES: tuple[str, ...] = get_args(MeteringStatus.__value__)
STORAGE_MODES: tuple[str, ...] = get_args(StorageMode.__value__)

METER_EID_BASE = 704643328
METER_EID_STEP = 256
NO_CONTENT_TYPE_PREFIXES = ("/info", "/ivp/")


def _epoch(year: int, month: int, day: int) -> float:
    """Return the UTC epoch of a calendar date."""
    return datetime(year, month, day, 12, tzinfo=UTC).timestamp()


def parse_firmware(firmware: str) -> tuple[int, ...]:
    """Turn ``"8.2.4345"`` into ``(8, 2, 4345)``."""
    return tuple(int(part) for part in firmware.split(".") if part.isdigit())


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """One CT meter slot as listed by /ivp/meters."""

    measurement_type: MeasurementType
    enabled: bool = True
    metering_status: MeteringStatus | None = None
    """What /ivp/meters says; None: "normal" when enabled, else "not-metering"."""
    status_flags: tuple[str, ...] = ()

    @property
    def status(self) -> MeteringStatus:
        """Return the metering status /ivp/meters shows."""
        if self.metering_status is not None:
            return self.metering_status
        return "normal" if self.enabled else "not-metering"


@dataclass(frozen=True, slots=True)
class BatteryModel:
    """A kind of battery unit: what it stores and how fast it charges or discharges."""

    name: str
    kind: BatteryKind
    """``encharge`` (IQ Battery, in /ivp/ensemble/*), ``acb`` (first-generation
    AC Battery, in production.json and the inverter list) or ``storage`` (a
    battery the gateway only sees through its storage CT)."""
    part_number: str
    capacity_wh: float
    max_power_w: float
    firmware: str


IQ_BATTERY_3T = BatteryModel(
    "IQ Battery 3T", "encharge", "830-01760-r37", 3360.0, 1280.0, "2.6.5973_rel/22.11"
)
IQ_BATTERY_5P = BatteryModel(
    "IQ Battery 5P", "encharge", "830-01824-r02", 5000.0, 3840.0, "1.6.2290_rel/23.18"
)
AC_BATTERY = BatteryModel(
    "AC Battery", "acb", "800-00930-r02", 1200.0, 270.0, "520-00087-r01-v02.14.05"
)


def storage_only_battery(capacity_wh: float, max_power_w: float) -> BatteryModel:
    """Return a battery known to the gateway only through its storage CT."""
    return BatteryModel("Battery", "storage", "", capacity_wh, max_power_w, "")


@dataclass(frozen=True, slots=True)
class StorageDefaults:
    """The storage settings a site's tariff starts with."""

    mode: StorageMode = "self-consumption"
    reserve_pct: float = 30.0
    very_low_pct: float = 5.0
    charge_from_grid: bool = False


@dataclass(frozen=True, slots=True)
class RelaySpec:
    """One of the system controller's dry-contact relays as installed."""

    id: str
    load_name: str
    mode: RelayMode = "manual"
    kind: Literal["LOAD", "PV", "NONE"] = "LOAD"
    closed: bool = True
    soc_low: int = 25
    soc_high: int = 70
    priority: int = 1


_US_RELAYS = (
    RelaySpec("NC1", "Pool pump", "soc", soc_low=30, soc_high=60, priority=1),
    RelaySpec("NC2", "Hot water heater", "manual", priority=2),
    RelaySpec(
        "NO1", "Generator start", "manual", kind="NONE", closed=False, priority=3
    ),
    RelaySpec("NO2", "EV charger", "soc", soc_low=40, soc_high=80, priority=4),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirks:
    """Firmware behaviour its version number does not tell (it travels with the firmware)."""

    html_only: bool = False
    """Envoy-R 3.7: no JSON anywhere; /production.json is a 200 "Page Not Found"."""
    json_production: bool = False
    """production.json is JSON (inverters block) although the firmware is 3.x."""
    absent_paths: frozenset[str] = frozenset()
    """Endpoints this build lacks (they answer as missing endpoints do)."""
    garbled_auth_paths: frozenset[str] = frozenset()
    """Endpoints answering 401 with a broken WWW-Authenticate, whatever is sent."""
    zero_production_at_night: bool = False
    """/api/v1/production reads all zeros (lifetime too) while the sun is down."""
    inverters_block_restart_days: float | None = None
    """production.json's inverters block restarts its lifetime count every this many
    days (as after a reboot or a firmware update), on a fixed calendar."""
    mod_gone_everywhere: bool = False
    """device_data says ``modGone: true`` on every entry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A gateway: its hardware (serial, CTs, inverters) and its firmware."""

    name: str
    description: str
    serial: str
    part_number: str
    firmware: str
    timezone: str
    installed_epoch: float
    inverter_count: int
    inverter_peak_w: float
    inverter_serial_start: int
    metered: bool
    envoy_r: bool = False
    meters: tuple[MeterSpec, ...] = ()
    phase_mode: PhaseMode = "split"
    phase_count: int = 2
    nominal_voltage_v: float = 120.0
    frequency_hz: float = 60.0
    base_load_w: float = 300.0
    variable_load_w: float = 2000.0
    batteries: tuple[BatteryModel, ...] = ()
    enpower: bool = False
    """An IQ System Controller (Enpower): the site can run off grid."""
    relays: tuple[RelaySpec, ...] = ()
    """The system controller's dry-contact relays."""
    storage: StorageDefaults = StorageDefaults()
    off_grid_daily: tuple[tuple[int, int], tuple[int, int]] | None = None
    """A local (hour, minute) window the grid fails in every day."""
    battery_in_storage_block: bool = False
    """production.json's ``storage`` block shows the battery (as one acb entry)."""
    gone_inverters: int = 0
    phantom_reading_eids: tuple[int, ...] = ()
    disabled_readings: tuple[MeasurementType, ...] = ()
    """Disabled CT slots that still have a (non-zero) /ivp/meters/readings entry."""
    nsrb_relays: int = 0
    """Relays (nsrb devices) listed in device_data."""
    device_data_limit: int = 50
    quirks: Quirks = Quirks()

    @property
    def battery_capacity_wh(self) -> float:
        """Return what the site's batteries store when full (Wh)."""
        return sum(unit.capacity_wh for unit in self.batteries)

    @property
    def battery_max_w(self) -> float:
        """Return the site's battery power limit, all units together (W)."""
        return sum(unit.max_power_w for unit in self.batteries)

    @property
    def encharge_units(self) -> tuple[BatteryModel, ...]:
        """Return the IQ Batteries (Encharge)."""
        return tuple(unit for unit in self.batteries if unit.kind == "encharge")

    @property
    def acb_units(self) -> tuple[BatteryModel, ...]:
        """Return the first-generation AC Batteries."""
        return tuple(unit for unit in self.batteries if unit.kind == "acb")

    @property
    def has_ensemble(self) -> bool:
        """Return whether /ivp/ensemble/* and /admin/lib/tariff exist (fw >= 7)."""
        return self.web_tokens and bool(self.encharge_units or self.enpower)

    @property
    def firmware_version(self) -> tuple[int, ...]:
        """Return the firmware as a comparable tuple."""
        return parse_firmware(self.firmware)

    @property
    def software(self) -> str:
        """Return the firmware as /info shows it, with its letter prefix."""
        return ("D" if self.web_tokens else "R") + self.firmware

    @property
    def web_tokens(self) -> bool:
        """Return whether the firmware wants JWTs (and HTTPS)."""
        return self.firmware_version >= (7,)

    @property
    def major(self) -> int:
        """Return the firmware's major version."""
        return self.firmware_version[0]

    @property
    def has_meters_endpoint(self) -> bool:
        """Return whether /ivp/meters and /ivp/meters/readings exist."""
        if self.envoy_r:
            return False
        return self.web_tokens or self.metered

    @property
    def has_device_data(self) -> bool:
        """Return whether /ivp/pdm/device_data exists (firmware 8.2 and later)."""
        return self.firmware_version >= (8, 2)

    @property
    def production_json_is_html(self) -> bool:
        """Return whether production.json is the old HTML page (firmware 3.x)."""
        return self.major < 4 and not self.quirks.json_production

    @property
    def inverters_have_dev_type(self) -> bool:
        """Return whether /api/v1/production/inverters carries devType."""
        return self.major >= 4

    @property
    def missing_endpoint_status(self) -> int:
        """Return the status an absent endpoint answers with."""
        # Early 7.x builds answer 401 on endpoints they lack, even with a good token.
        return 401 if self.major == 7 else 404

    @property
    def enabled_meter_types(self) -> tuple[MeasurementType, ...]:
        """Return the measurement types of the enabled CTs."""
        return tuple(m.measurement_type for m in self.meters if m.enabled)

    @property
    def production_stalled(self) -> bool:
        """Return whether /api/v1/production is frozen (metered, no production CT)."""
        return (
            self.metered
            and "production" not in self.enabled_meter_types
            and self.firmware_version >= (8, 2, 4264)
        )

    def meter_eid(self, slot: int) -> int:
        """Return the eid of the meter in ``slot`` (0-based)."""
        return METER_EID_BASE + METER_EID_STEP * slot

    def with_meter(
        self,
        measurement_type: str,
        *,
        enabled: bool | None = None,
        metering_status: str | None = None,
        status_flags: list[str] | None = None,
    ) -> Profile:
        """Return this hardware with the ``measurement_type`` CT slot changed.

        Switching ``enabled`` without a status resets the status to the usual
        one for the new state.
        """
        slot = next(
            (
                index
                for index, meter in enumerate(self.meters)
                if meter.measurement_type == measurement_type
            ),
            None,
        )
        if slot is None:
            known = ", ".join(m.measurement_type for m in self.meters) or "none"
            raise ValueError(
                f"profile {self.name} has no {measurement_type!r} CT slot "
                f"(its slots: {known})"
            )
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError(f"enabled must be true or false, not {enabled!r}")
        if metering_status is not None and metering_status not in METERING_STATUSES:
            raise ValueError(
                f"metering_status must be one of {', '.join(METERING_STATUSES)}, "
                f"not {metering_status!r}"
            )
        if status_flags is not None and (
            not isinstance(status_flags, list)
            or not all(isinstance(flag, str) for flag in status_flags)
        ):
            raise TypeError("status_flags must be a list of strings")
        meter = self.meters[slot]
        now_enabled = meter.enabled if enabled is None else enabled
        status = meter.metering_status if now_enabled == meter.enabled else None
        if metering_status is not None:
            status = cast("MeteringStatus", metering_status)
        meters = list(self.meters)
        meters[slot] = MeterSpec(
            meter.measurement_type,
            enabled=now_enabled,
            metering_status=status,
            status_flags=meter.status_flags
            if status_flags is None
            else tuple(status_flags),
        )
        return replace(self, meters=tuple(meters))

    def with_firmware(self, other: Profile) -> Profile:
        """Return this hardware running ``other``'s firmware (and its quirks)."""
        return replace(self, firmware=other.firmware, quirks=other.quirks)


_SPLIT_CTS = (MeterSpec("production"), MeterSpec("net-consumption"))
_COLLAR_CTS = (
    *_SPLIT_CTS,
    MeterSpec("storage"),
    MeterSpec("backfeed"),
    MeterSpec("load", enabled=False),
    MeterSpec("evse", enabled=False),
    MeterSpec("pv3p", enabled=False),
)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="legacy_standard",
            description="Envoy-S standard, firmware 5, non-metered, 10 inverters, HTTP digest",
            serial="122112123456",
            part_number="800-00551-r02",
            firmware="5.0.62",
            timezone="America/New_York",
            installed_epoch=_epoch(2017, 5, 2),
            inverter_count=10,
            inverter_peak_w=250.0,
            inverter_serial_start=121703012340,
            metered=False,
            base_load_w=350.0,
            variable_load_w=1800.0,
        ),
        Profile(
            name="metered_split",
            description="IQ Gateway metered, firmware 7.6, split phase, production + net CTs, 24 inverters",
            serial="202215004821",
            part_number="800-00654-r08",
            firmware="7.6.175",
            timezone="America/Los_Angeles",
            installed_epoch=_epoch(2022, 6, 15),
            inverter_count=24,
            inverter_peak_w=295.0,
            inverter_serial_start=482219001100,
            metered=True,
            meters=_SPLIT_CTS,
            base_load_w=420.0,
            variable_load_w=2600.0,
        ),
        Profile(
            name="metered_three_phase_storage",
            description="IQ Gateway metered, firmware 8.2, three phase, production + net + storage CTs, 30 inverters, 3 IQ Battery 3T + system controller",
            serial="202302019378",
            part_number="800-00656-r06",
            firmware="8.2.4345",
            timezone="Europe/Amsterdam",
            installed_epoch=_epoch(2023, 3, 1),
            inverter_count=30,
            inverter_peak_w=300.0,
            inverter_serial_start=542302004400,
            metered=True,
            meters=(*_SPLIT_CTS, MeterSpec("storage")),
            phase_mode="three",
            phase_count=3,
            nominal_voltage_v=230.0,
            frequency_hz=50.0,
            base_load_w=380.0,
            variable_load_w=3200.0,
            batteries=(IQ_BATTERY_3T,) * 3,
            enpower=True,
            relays=_US_RELAYS[:2],
            storage=StorageDefaults(reserve_pct=10.0),
            battery_in_storage_block=True,
            gone_inverters=1,
        ),
        Profile(
            name="metered_no_ct",
            description="IQ Gateway metered hardware without CTs, firmware 8.2.4264 (stalled /api/v1/production), 16 inverters",
            serial="202104117652",
            part_number="800-00654-r08",
            firmware="8.2.4264",
            timezone="America/Denver",
            installed_epoch=_epoch(2021, 4, 20),
            inverter_count=16,
            inverter_peak_w=290.0,
            inverter_serial_start=482104007700,
            metered=True,
            meters=(
                MeterSpec("production", enabled=False),
                MeterSpec("net-consumption", enabled=False),
            ),
            base_load_w=300.0,
            variable_load_w=2000.0,
        ),
        Profile(
            name="total_consumption",
            description="IQ Gateway metered, firmware 8.3, single phase EU, production + total-consumption (load only) CTs, 20 inverters",
            serial="202409033310",
            part_number="800-00656-r06",
            firmware="8.3.5167",
            timezone="Europe/Berlin",
            installed_epoch=_epoch(2024, 9, 10),
            inverter_count=20,
            inverter_peak_w=300.0,
            inverter_serial_start=542409008800,
            metered=True,
            meters=(MeterSpec("production"), MeterSpec("total-consumption")),
            phase_mode="three",
            phase_count=1,
            nominal_voltage_v=230.0,
            frequency_hz=50.0,
            base_load_w=260.0,
            variable_load_w=2200.0,
        ),
        Profile(
            name="large_site",
            description="IQ Gateway metered, firmware 8.3, split phase, production + net CTs, 120 inverters (device_data lists 50)",
            serial="202311020577",
            part_number="800-00654-r08",
            firmware="8.3.5167",
            timezone="America/Chicago",
            installed_epoch=_epoch(2023, 11, 5),
            inverter_count=120,
            inverter_peak_w=320.0,
            inverter_serial_start=542311010000,
            metered=True,
            meters=_SPLIT_CTS,
            base_load_w=1500.0,
            variable_load_w=9000.0,
            phantom_reading_eids=(METER_EID_BASE + 2 * METER_EID_STEP,),
        ),
        Profile(
            name="envoy_r_legacy",
            description="Envoy-R, firmware 3.9, non-metered, 12 inverters, HTML production page",
            serial="121535011234",
            part_number="800-00069-r05",
            firmware="3.9.36",
            timezone="America/Phoenix",
            installed_epoch=_epoch(2015, 4, 1),
            inverter_count=12,
            inverter_peak_w=215.0,
            inverter_serial_start=121514055500,
            metered=False,
            envoy_r=True,
            base_load_w=450.0,
            variable_load_w=2500.0,
        ),
        Profile(
            name="envoy_r_html_only",
            description="Envoy-R, firmware 3.7, no JSON at all: only the HTML /production page (digest), production.json a 200 Page Not Found",
            serial="121338004417",
            part_number="800-00069-r05",
            firmware="3.7.41",
            timezone="America/Toronto",
            installed_epoch=_epoch(2013, 8, 20),
            inverter_count=14,
            inverter_peak_w=215.0,
            inverter_serial_start=121312066600,
            metered=False,
            envoy_r=True,
            base_load_w=500.0,
            variable_load_w=2400.0,
            quirks=Quirks(html_only=True),
        ),
        Profile(
            name="metered_7x_no_ct",
            description="IQ Gateway metered hardware, firmware 7.6, CTs disabled: /api/v1/production right, production.json inverters lifetime restarted",
            serial="202012086635",
            part_number="800-00654-r08",
            firmware="7.6.185",
            timezone="America/Edmonton",
            installed_epoch=_epoch(2024, 1, 15),
            inverter_count=12,
            inverter_peak_w=300.0,
            inverter_serial_start=482312003300,
            metered=True,
            meters=(
                MeterSpec("production", enabled=False),
                MeterSpec("net-consumption", enabled=False),
            ),
            quirks=Quirks(inverters_block_restart_days=45.0),
        ),
        Profile(
            name="no_inverter_list",
            description="Envoy-S standard, firmware 8.2, single phase EU: device_data but no /api/v1/production/inverters (404), 18 inverters",
            serial="202404150918",
            part_number="800-00553-r03",
            firmware="8.2.4382",
            timezone="Europe/Paris",
            installed_epoch=_epoch(2024, 4, 15),
            inverter_count=18,
            inverter_peak_w=300.0,
            inverter_serial_start=542404005500,
            metered=False,
            phase_mode="three",
            phase_count=1,
            nominal_voltage_v=230.0,
            frequency_hz=50.0,
            quirks=Quirks(absent_paths=frozenset({"/api/v1/production/inverters"})),
        ),
        Profile(
            name="envoy_s_39_quirk",
            description="Envoy-S standard, firmware 3.9: production.json JSON without auth, /api/v1/* 401 with a garbled digest challenge",
            serial="121645007731",
            part_number="800-00551-r02",
            firmware="3.9.18",
            timezone="America/Detroit",
            installed_epoch=_epoch(2016, 9, 30),
            inverter_count=10,
            inverter_peak_w=250.0,
            inverter_serial_start=121645020200,
            metered=False,
            quirks=Quirks(
                json_production=True,
                garbled_auth_paths=frozenset(
                    {"/api/v1/production", "/api/v1/production/inverters"}
                ),
            ),
        ),
        Profile(
            name="iq_meter_collar",
            description="IQ Gateway, firmware 8.3, IQ Meter Collar: production, net, storage, backfeed CTs (load, evse, pv3p off), battery, /api/v1/production zero at night",
            serial="202503107744",
            part_number="800-01736-r02",
            firmware="8.3.5286",
            timezone="America/Los_Angeles",
            installed_epoch=_epoch(2025, 3, 10),
            inverter_count=22,
            inverter_peak_w=350.0,
            inverter_serial_start=542503007000,
            metered=True,
            meters=_COLLAR_CTS,
            base_load_w=450.0,
            variable_load_w=3000.0,
            batteries=(storage_only_battery(10000.0, 3840.0),),
            storage=StorageDefaults(reserve_pct=10.0),
            battery_in_storage_block=True,
            phantom_reading_eids=(METER_EID_BASE + 7 * METER_EID_STEP,),
            disabled_readings=("evse",),
            nsrb_relays=1,
            quirks=Quirks(zero_production_at_night=True),
        ),
        Profile(
            name="meters_missing_with_ct",
            description="IQ Gateway metered, firmware 8.1, production + net CTs but /ivp/meters* missing (404): the CT shows in production.json only",
            serial="202209213390",
            part_number="800-00654-r08",
            firmware="8.1.41",
            timezone="America/New_York",
            installed_epoch=_epoch(2022, 9, 21),
            inverter_count=20,
            inverter_peak_w=295.0,
            inverter_serial_start=482209009900,
            metered=True,
            meters=_SPLIT_CTS,
            quirks=Quirks(
                absent_paths=frozenset({"/ivp/meters", "/ivp/meters/readings"})
            ),
        ),
        Profile(
            name="mod_gone_everywhere",
            description="IQ Gateway metered, firmware 8.2, single phase AU: modGone true on every device_data entry, inverters still reporting",
            serial="202306281142",
            part_number="800-00656-r06",
            firmware="8.2.4311",
            timezone="Australia/Sydney",
            installed_epoch=_epoch(2023, 6, 28),
            inverter_count=16,
            inverter_peak_w=300.0,
            inverter_serial_start=542306002200,
            metered=True,
            meters=_SPLIT_CTS,
            phase_mode="single",
            phase_count=1,
            nominal_voltage_v=230.0,
            frequency_hz=50.0,
            quirks=Quirks(mod_gone_everywhere=True),
        ),
        Profile(
            name="iq_battery_storage_ct",
            description="IQ Gateway metered, firmware 8.2, split phase, production + net + storage CTs, 26 inverters, 3 IQ Battery 5P + system controller with 4 dry contacts",
            serial="202406120455",
            part_number="800-00654-r08",
            firmware="8.2.4286",
            timezone="America/Los_Angeles",
            installed_epoch=_epoch(2024, 6, 12),
            inverter_count=26,
            inverter_peak_w=350.0,
            inverter_serial_start=542406011000,
            metered=True,
            meters=(*_SPLIT_CTS, MeterSpec("storage")),
            base_load_w=450.0,
            variable_load_w=2800.0,
            batteries=(IQ_BATTERY_5P,) * 3,
            enpower=True,
            relays=_US_RELAYS,
        ),
        Profile(
            name="iq_battery_no_ct",
            description="IQ Gateway metered, firmware 8.2, split phase, production + net CTs (no storage CT), 26 inverters, 3 IQ Battery 5P + system controller with 4 dry contacts",
            serial="202409185512",
            part_number="800-00654-r08",
            firmware="8.2.4286",
            timezone="America/Los_Angeles",
            installed_epoch=_epoch(2024, 9, 18),
            inverter_count=26,
            inverter_peak_w=350.0,
            inverter_serial_start=542409012000,
            metered=True,
            meters=_SPLIT_CTS,
            base_load_w=450.0,
            variable_load_w=2800.0,
            batteries=(IQ_BATTERY_5P,) * 3,
            enpower=True,
            relays=_US_RELAYS,
        ),
        Profile(
            name="acb_only",
            description="IQ Gateway metered, firmware 7.3, split phase, production + net CTs, 16 inverters, 2 first-generation AC Batteries, no Ensemble",
            serial="201910254471",
            part_number="800-00654-r06",
            firmware="7.3.130",
            timezone="America/New_York",
            installed_epoch=_epoch(2019, 10, 25),
            inverter_count=16,
            inverter_peak_w=290.0,
            inverter_serial_start=121943013300,
            metered=True,
            meters=_SPLIT_CTS,
            base_load_w=380.0,
            variable_load_w=2200.0,
            batteries=(AC_BATTERY,) * 2,
            storage=StorageDefaults(reserve_pct=5.0),
        ),
        Profile(
            name="off_grid_event",
            description="IQ Gateway metered, firmware 8.2, split phase, production + net + storage CTs, 3 IQ Battery 5P + system controller; the grid fails daily 14:00-14:45",
            serial="202407229918",
            part_number="800-00654-r08",
            firmware="8.2.4286",
            timezone="America/Chicago",
            installed_epoch=_epoch(2024, 7, 22),
            inverter_count=24,
            inverter_peak_w=350.0,
            inverter_serial_start=542407019000,
            metered=True,
            meters=(*_SPLIT_CTS, MeterSpec("storage")),
            base_load_w=500.0,
            variable_load_w=2600.0,
            batteries=(IQ_BATTERY_5P,) * 3,
            enpower=True,
            relays=_US_RELAYS,
            off_grid_daily=((14, 0), (14, 45)),
        ),
    )
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` or raise a helpful KeyError."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"unknown profile {name!r}; known profiles: {known}") from None
