"""Endpoint bodies built from the site model, in the shapes real gateways send."""

from dataclasses import dataclass
import math
from typing import Any
from xml.sax.saxutils import escape

from .curves import DayInfo
from .ensemble import EnsembleState
from .model import (
    JOULE_WRAP,
    REPORT_INTERVAL_S,
    CtMeter,
    CtValues,
    InverterReport,
    SiteModel,
)
from .noise import stream_key, unit
from .pages import production_page
from .profiles import MeasurementType, Profile

type Json = Any

_CT_CHANNEL_EID_BASE = 1778385169
_ID_STEP = 256
_GONE_AFTER_S = 180 * 86400.0
_RELAY_ID_BASE = 570425600
_RELAY_SERIAL_OFFSET = 900_000
_ACB_ID_BASE = 587202816
_ACB_SERIAL_OFFSET = 700_000
_ACB_DEV_TYPE = 11

COUNTER_KEYS = frozenset(
    {
        "wattHoursToday",
        "wattHoursSevenDays",
        "wattHoursLifetime",
        "whLifetime",
        "whToday",
        "whLastSevenDays",
        "vahLifetime",
        "varhLeadLifetime",
        "varhLagLifetime",
        "vahToday",
        "varhLeadToday",
        "varhLagToday",
        "actEnergyDlvd",
        "actEnergyRcvd",
        "apparentEnergy",
        "reactEnergyLagg",
        "reactEnergyLead",
        "joulesProduced",
        "today",
        "yesterday",
        "week",
        # Battery readings a restarting gateway also reports as zero.
        "whNow",
        "percentFull",
        "soc",
        "agg_soc",
        "ENC_agg_soc",
        "ENC_agg_avail_energy",
        "ENC_agg_backup_energy",
        "ACB_agg_soc",
        "ACB_agg_energy",
    }
)


@dataclass(frozen=True, slots=True)
class AcbReport:
    """What one AC Battery last reported."""

    index: int
    serial: str
    device_id: int
    report_time: int
    watts: int
    """Discharge power (W), 0 while charging or idle."""
    max_watts: int
    stored_wh: float
    percent_full: int
    discharged_j: float
    installed: int


def _r3(value: float) -> float:
    """Round to the gateway's three decimals."""
    return round(value, 3)


class PayloadBuilder:
    """Build every endpoint's body for one site at one instant."""

    def __init__(self, model: SiteModel, serial: str) -> None:
        """Serve ``model`` as the gateway with ``serial``."""
        self.model = model
        self.serial = serial
        self._noise_key = stream_key(model.seed, "no-ct-noise")
        self.ensemble = EnsembleState(model, serial)

    def restarted_at(self, t: float) -> float:
        """Return when the gateway last restarted (its nightly restart at 23:01)."""
        calendar = self.model.calendar
        day = calendar.day(t)
        when = calendar.local_time(day.midnight).date()
        restart = calendar.at(when, 23, 1)
        if restart > t:
            previous = calendar.by_ordinal(day.ordinal - 1)
            restart = calendar.at(calendar.local_time(previous.midnight).date(), 23, 1)
        return restart

    @property
    def hardware(self) -> Profile:
        """Return the site's hardware profile."""
        return self.model.profile

    # -- /info --------------------------------------------------------------

    def info_xml(self, gateway: Profile, t: float) -> str:
        """Return /info as the gateway's XML."""
        hardware = self.hardware
        euaid = f"{int(unit(stream_key(self.model.seed, 'euaid', self.serial), 0) * 0xFFFFFF):06x}"
        version = ".".join(f"{part:02d}" for part in gateway.firmware_version)
        lines = [
            "<?xml version='1.0' encoding='UTF-8'?>",
            "<envoy_info>",
            f"  <time>{int(t)}</time>",
            "  <device>",
            f"    <sn>{escape(self.serial)}</sn>",
            f"    <pn>{escape(hardware.part_number)}</pn>",
            f"    <software>{escape(gateway.software)}</software>",
            f"    <euaid>{euaid}</euaid>",
            "    <seqnum>0</seqnum>",
            "    <apiver>1</apiver>",
        ]
        if not hardware.envoy_r:
            lines.append(
                f"    <imeter>{'true' if hardware.metered else 'false'}</imeter>"
            )
        lines.append("  </device>")
        if gateway.major >= 4:
            lines.append(
                f"  <web-tokens>{'true' if gateway.web_tokens else 'false'}</web-tokens>"
            )
        for kind, part in (
            ("app", "500-00002-r01"),
            ("rootfs", "500-00001-r01"),
            ("boot", "590-00019-r01"),
        ):
            lines.extend(
                (
                    f'  <package pkg_type="{kind}">',
                    f"    <pn>{part}</pn>",
                    f"    <version>{version}</version>",
                    f"    <build>{gateway.firmware.replace('.', '')}</build>",
                    "  </package>",
                )
            )
        lines.extend(
            (
                "  <build_info>",
                f"    <build_id>release-{gateway.major}.x-{gateway.firmware}</build_id>",
                f"    <release_ver>{gateway.firmware}</release_ver>",
                "    <release_stage>GA</release_stage>",
                "  </build_info>",
                "</envoy_info>",
            )
        )
        return "\n".join(lines) + "\n"

    # -- /api/v1/production -------------------------------------------------

    def production_v1(self, gateway: Profile, t: float) -> dict[str, int]:
        """Return /api/v1/production as ``gateway`` (hardware plus current firmware) serves it."""
        hardware = self.hardware
        if gateway.production_stalled:
            return self.stalled_production()
        if gateway.quirks.zero_production_at_night and self.model.is_night(t):
            return {
                "wattHoursToday": 0,
                "wattHoursSevenDays": 0,
                "wattHoursLifetime": 0,
                "wattsNow": 0,
            }
        if "production" in hardware.enabled_meter_types:
            now = self.model.ct_meter("production", t).total
            day = self.model.calendar.day(t)
            midnight = self.model.ct_meter("production", day.midnight).total
            week_ago = self.model.calendar.by_ordinal(day.ordinal - 7).midnight
            earlier = self.model.ct_meter("production", week_ago).total
            return {
                "wattHoursToday": round(now.delivered_wh - midnight.delivered_wh),
                "wattHoursSevenDays": round(
                    midnight.delivered_wh - earlier.delivered_wh
                ),
                "wattHoursLifetime": round(now.delivered_wh),
                "wattsNow": max(0, round(now.active_w)),
            }
        totals = self.model.inverter_totals(self.model.inverter_reports(t), t)
        return {
            "wattHoursToday": totals.today_wh,
            "wattHoursSevenDays": totals.seven_days_wh,
            "wattHoursLifetime": totals.lifetime_wh,
            "wattsNow": totals.watts_now,
        }

    def stalled_production(self) -> dict[str, int]:
        """Return the frozen snapshot a metered gateway without CTs keeps serving."""
        key = stream_key(self.model.seed, "stalled", self.serial)
        peak = self.model.peak_total_w
        age_days = 200 + int(300 * unit(key, 0))
        return {
            "wattHoursToday": int(peak * (2.0 + 2.0 * unit(key, 1))),
            "wattHoursSevenDays": int(peak * (20.0 + 10.0 * unit(key, 2))),
            "wattHoursLifetime": int(peak * 4.0 * age_days),
            "wattsNow": int(peak * 0.4 * unit(key, 3)),
        }

    # -- /api/v1/production/inverters ---------------------------------------

    def inverters_v1(self, gateway: Profile, t: float) -> list[dict[str, Any]]:
        """Return /api/v1/production/inverters."""
        with_dev_type = gateway.inverters_have_dev_type

        def entry(serial: str, report_time: int, watts: int, most: int) -> Json:
            fields: dict[str, Any] = {
                "serialNumber": serial,
                "lastReportDate": report_time,
            }
            if with_dev_type:
                fields["devType"] = 1
            fields["lastReportWatts"] = watts
            fields["maxReportWatts"] = most
            return fields

        built, added = self._reports_by_age(t)
        listed = [
            *(entry(r.spec.serial, r.report_time, r.watts, r.max_watts) for r in built),
            *(entry(serial, gone_time, 0, 0) for serial, gone_time, _ in self._gone()),
            *(entry(r.spec.serial, r.report_time, r.watts, r.max_watts) for r in added),
        ]
        for report in self.acb_reports(t):
            fields = entry(
                report.serial, report.report_time, report.watts, report.max_watts
            )
            if with_dev_type:
                fields["devType"] = _ACB_DEV_TYPE
            listed.append(fields)
        return listed

    def acb_reports(self, t: float) -> list[AcbReport]:
        """Return what each AC Battery last reported (every 5 minutes, day and night)."""
        model = self.model
        hardware = self.hardware
        units = hardware.acb_units
        if not units:
            return []
        key = stream_key(model.seed, "acb", self.serial)
        day = model.calendar.day(t)
        reports = []
        for index, unit_model in enumerate(units):
            offset = int(unit(key, index) * REPORT_INTERVAL_S)
            report_time = (
                math.floor((t - offset) / REPORT_INTERVAL_S) * REPORT_INTERVAL_S
                + offset
            )
            state = model.battery(report_time)
            assert state is not None
            share = unit_model.capacity_wh / hardware.battery_capacity_wh
            reports.append(
                AcbReport(
                    index=index,
                    serial=str(
                        hardware.inverter_serial_start + _ACB_SERIAL_OFFSET + index
                    ),
                    device_id=_ACB_ID_BASE + _ID_STEP * index,
                    report_time=report_time,
                    watts=max(0, round(share * state.power_w)),
                    max_watts=self._acb_max_today(share, offset, report_time, day),
                    stored_wh=share * state.stored_wh,
                    percent_full=state.percent_full,
                    discharged_j=share * state.discharged_wh * 3600.0,
                    installed=int(hardware.installed_epoch) + 60 * index,
                )
            )
        return reports

    def _acb_max_today(
        self, share: float, offset: int, report_time: int, day: DayInfo
    ) -> int:
        """Return the highest discharge an AC Battery reported since local midnight."""
        model = self.model
        first = (
            math.ceil((day.midnight - offset) / REPORT_INTERVAL_S) * REPORT_INTERVAL_S
            + offset
        )
        best = 0.0
        for moment in range(first, report_time + 1, REPORT_INTERVAL_S):
            state = model.battery(moment)
            assert state is not None
            best = max(best, share * state.power_w)
        return round(best)

    def _reports_by_age(
        self, t: float
    ) -> tuple[list[InverterReport], list[InverterReport]]:
        """Return the reports of the inverters the site was built with, and of added ones.

        The gateway lists devices by id: the original inverters, the removed
        ones that linger, then those added at run time.
        """
        count = self.hardware.inverter_count
        reports = self.model.inverter_reports(t)
        return (
            [r for r in reports if r.spec.index < count],
            [r for r in reports if r.spec.index >= count],
        )

    def _gone(self) -> list[tuple[str, int, int]]:
        """Return (serial, last report, device id) of removed inverters that linger."""
        hardware = self.hardware
        count = hardware.inverter_count
        gone_time = int(hardware.installed_epoch + _GONE_AFTER_S)
        return [
            (
                str(hardware.inverter_serial_start + count + index),
                gone_time,
                553648384 + _ID_STEP * (count + index),
            )
            for index in range(hardware.gone_inverters)
        ]

    # -- /ivp/meters --------------------------------------------------------

    def meters(self, gateway: Profile) -> list[dict[str, Any]]:
        """Return /ivp/meters."""
        hardware = self.hardware
        if not hardware.metered:
            return []
        entries: list[dict[str, Any]] = []
        for slot, meter in enumerate(hardware.meters):
            entry: dict[str, Any] = {
                "eid": hardware.meter_eid(slot),
                "state": "enabled" if meter.enabled else "disabled",
                "measurementType": meter.measurement_type,
                "phaseMode": hardware.phase_mode,
                "phaseCount": hardware.phase_count,
                "meteringStatus": meter.status,
            }
            if gateway.major >= 7:
                entry["statusFlags"] = list(meter.status_flags)
            entries.append(entry)
        return entries

    def meter_readings(self, t: float) -> list[dict[str, Any]]:
        """Return /ivp/meters/readings (enabled meters, plus phantom zero entries).

        Disabled slots listed in ``disabled_readings`` keep a live entry too.
        """
        hardware = self.hardware
        if not hardware.metered:
            return []
        now = math.floor(t)
        entries: list[dict[str, Any]] = []
        for slot, meter in enumerate(hardware.meters):
            if not (
                meter.enabled or meter.measurement_type in hardware.disabled_readings
            ):
                continue
            reading = self.model.ct_meter(meter.measurement_type, now)
            entries.append(self._reading(hardware.meter_eid(slot), slot, reading, now))
        for eid in hardware.phantom_reading_eids:
            slot = (eid - hardware.meter_eid(0)) // _ID_STEP
            entries.append(self._zero_reading(eid, slot, now))
        return entries

    def _reading(self, eid: int, slot: int, meter: CtMeter, now: int) -> dict[str, Any]:
        """Return one meter's reading with its three channels."""
        hardware = self.hardware
        channels = [
            {
                "eid": _CT_CHANNEL_EID_BASE + _ID_STEP * slot + phase,
                "timestamp": now,
                **_reading_fields(values),
            }
            for phase, values in enumerate(meter.phases)
        ]
        unused_frequency = (
            0.0 if meter.measurement_type == "storage" else hardware.frequency_hz
        )
        channels.extend(
            {
                "eid": _CT_CHANNEL_EID_BASE + _ID_STEP * slot + phase,
                "timestamp": now,
                **_zero_fields(unused_frequency),
            }
            for phase in range(len(meter.phases), 3)
        )
        total = _sum_fields(channels[: len(meter.phases)])
        return {"eid": eid, "timestamp": now, **total, "channels": channels}

    def _zero_reading(self, eid: int, slot: int, now: int) -> dict[str, Any]:
        """Return an all-zero reading for an eid no meter is configured on."""
        channels = [
            {
                "eid": _CT_CHANNEL_EID_BASE + _ID_STEP * slot + phase,
                "timestamp": now,
                **_zero_fields(0.0),
            }
            for phase in range(3)
        ]
        return {"eid": eid, "timestamp": now, **_zero_fields(0.0), "channels": channels}

    # -- /ivp/pdm/device_data -----------------------------------------------

    def device_data(self, t: float, gateway: Profile | None = None) -> dict[str, Any]:
        """Return /ivp/pdm/device_data, cut at the gateway's device limit."""
        hardware = self.hardware
        entries: list[tuple[str, dict[str, Any]]] = []
        if "production" in hardware.enabled_meter_types:
            entries.append((str(hardware.meter_eid(0)), self._eim_device(t)))
        built, added = self._reports_by_age(t)
        entries.extend((str(r.spec.device_id), _pcu_device(r)) for r in built)
        entries.extend(
            (
                str(device_id),
                _gone_device(serial, gone_time, device_id, hardware.installed_epoch),
            )
            for serial, gone_time, device_id in self._gone()
        )
        entries.extend((str(r.spec.device_id), _pcu_device(r)) for r in added)
        entries.extend(
            (str(report.device_id), _acb_device(report))
            for report in self.acb_reports(t)
        )
        entries.extend(self._relay_devices(math.floor(t)))
        if (gateway or hardware).quirks.mod_gone_everywhere:
            # Some firmware marks every device gone, though they still report.
            entries = [(key, {**device, "modGone": True}) for key, device in entries]
        body: dict[str, Any] = dict(entries[: hardware.device_data_limit])
        body["deviceCount"] = len(entries)
        body["deviceDataLimit"] = hardware.device_data_limit
        return body

    def _relay_devices(self, now: int) -> list[tuple[str, dict[str, Any]]]:
        """Return device_data entries of the relays (nsrb): no energy of their own."""
        hardware = self.hardware
        installed = int(hardware.installed_epoch)
        devices: list[tuple[str, dict[str, Any]]] = []
        for index in range(hardware.nsrb_relays):
            device_id = _RELAY_ID_BASE + _ID_STEP * index
            report = now - now % 900
            devices.append(
                (
                    str(device_id),
                    {
                        "devName": "nsrb",
                        "sn": str(
                            hardware.inverter_serial_start
                            + _RELAY_SERIAL_OFFSET
                            + index
                        ),
                        "active": True,
                        "modGone": False,
                        "channels": [
                            {
                                "chanEid": device_id + 17,
                                "created": report,
                                "wattHours": {"today": 0, "yesterday": 0, "week": 0},
                                "watts": {"now": 0, "nowUsed": 0, "max": 0},
                                "lastReading": {
                                    "eid": device_id + 17,
                                    "interval_type": 0,
                                    "endDate": report,
                                    "duration": 900,
                                    "flags": 0,
                                    "flags_hex": "0x0000000000000000",
                                    "joulesProduced": 0,
                                    "joulesUsed": 0,
                                },
                                "lifetime": {
                                    "createdTime": installed,
                                    "duration": report - installed,
                                    "joulesProduced": 0,
                                },
                            }
                        ],
                    },
                )
            )
        return devices

    def _eim_device(self, t: float) -> dict[str, Any]:
        """Return the production CT's device_data entry."""
        model = self.model
        now = math.floor(t)
        day = model.calendar.day(now)
        current = model.ct_meter("production", now).total
        midnight = model.ct_meter("production", day.midnight).total
        yesterday = model.ct_meter(
            "production", model.calendar.by_ordinal(day.ordinal - 1).midnight
        ).total
        week = model.ct_meter(
            "production", model.calendar.by_ordinal(day.ordinal - 6).midnight
        ).total
        eid = self.hardware.meter_eid(0)
        watts = max(0, round(current.active_w))
        return {
            "devName": "eim",
            "sn": f"{self.serial}EIM1",
            "active": True,
            "modGone": False,
            "channels": [
                {
                    "chanEid": eid,
                    "created": now,
                    "wattHours": {
                        "today": round(current.delivered_wh - midnight.delivered_wh),
                        "yesterday": round(
                            midnight.delivered_wh - yesterday.delivered_wh
                        ),
                        "week": round(current.delivered_wh - week.delivered_wh),
                    },
                    "watts": {"now": watts, "nowUsed": 0, "max": watts},
                    "lastReading": {
                        "eid": eid,
                        "interval_type": 0,
                        "endDate": now,
                        "duration": 60,
                        "flags": 0,
                        "flags_hex": "0x0000000000000000",
                        "joulesProduced": watts * 60,
                        "joulesUsed": 0,
                    },
                    "lifetime": {
                        "createdTime": int(self.hardware.installed_epoch),
                        "duration": int(now - self.hardware.installed_epoch),
                        "joulesProduced": int(current.delivered_wh * 3600) % JOULE_WRAP,
                    },
                }
            ],
        }

    # -- production.json / production ---------------------------------------

    def production_json(
        self, t: float, gateway: Profile | None = None, *, details: bool
    ) -> dict[str, Any]:
        """Return /production.json (``details``: with per-phase ``lines``)."""
        model = self.model
        hardware = self.hardware
        reports = model.inverter_reports(t)
        totals = model.inverter_totals(reports, t)
        restart_days = (gateway or hardware).quirks.inverters_block_restart_days
        if restart_days is None:
            lifetime_wh = totals.lifetime_wh
        else:
            # The block restarts on a fixed calendar, whenever a simulator started.
            period = restart_days * 86400.0
            installed = hardware.installed_epoch
            restarted = installed + math.floor((t - installed) / period) * period
            lifetime_wh = model.energy_since_wh(reports, restarted)
        production: list[dict[str, Any]] = [
            {
                "type": "inverters",
                "activeCount": totals.active_count,
                "readingTime": totals.reading_time,
                "wNow": totals.watts_now,
                "whLifetime": lifetime_wh,
            }
        ]
        consumption: list[dict[str, Any]] = []
        if hardware.metered:
            now = math.floor(t)
            enabled = set(hardware.enabled_meter_types)
            production.append(self._eim("production", enabled, now, details))
            consumption.extend(
                self._eim(kind, enabled, now, details)
                for kind in ("total-consumption", "net-consumption")
            )
        return {
            "production": production,
            "consumption": consumption,
            "storage": [self._acb(t)],
        }

    def _acb(self, t: float) -> dict[str, Any]:
        """Return the storage block: the AC Batteries (or a battery some firmware lists there)."""
        hardware = self.hardware
        battery = self.model.battery(t)
        units = hardware.acb_units
        if battery is not None and units:
            return {
                "type": "acb",
                "activeCount": len(units),
                "readingTime": math.floor(t),
                "wNow": round(battery.power_w),
                "whNow": round(battery.stored_wh),
                "state": battery.state,
                "percentFull": battery.percent_full,
            }
        if battery is None or not hardware.battery_in_storage_block:
            return {
                "type": "acb",
                "activeCount": 0,
                "readingTime": 0,
                "wNow": 0,
                "whNow": 0,
                "state": "idle",
            }
        return {
            "type": "acb",
            "activeCount": 1,
            "readingTime": math.floor(t),
            "wNow": round(battery.power_w),
            "whNow": round(battery.stored_wh),
            "state": battery.state,
        }

    def _eim(
        self,
        kind: MeasurementType,
        enabled: set[MeasurementType],
        now: int,
        details: bool,
    ) -> dict[str, Any]:
        """Return one eim entry: measured, computed from other CTs, or noise."""
        day = self.model.calendar.day(now)
        midnight = day.midnight
        week_start = self.model.calendar.by_ordinal(day.ordinal - 6).midnight
        phases = self._eim_phases(kind, enabled, now)
        if phases is None:
            active = 0
            lines = [
                self._noise_line(phase, now)
                for phase in range(self.hardware.phase_count)
            ]
        else:
            active = 1
            at_midnight = self._eim_phases(kind, enabled, midnight)
            at_week_start = self._eim_phases(kind, enabled, week_start)
            assert at_midnight is not None
            assert at_week_start is not None
            keep_daily = kind != "net-consumption"
            lines = [
                _line(values, midnight_values, week_values, keep_daily=keep_daily)
                for values, midnight_values, week_values in zip(
                    phases, at_midnight, at_week_start, strict=True
                )
            ]
        entry: dict[str, Any] = {
            "type": "eim",
            "activeCount": active,
            "measurementType": kind,
            "readingTime": now,
            **_sum_lines(lines),
        }
        if details:
            entry["lines"] = lines
        return entry

    def _eim_phases(
        self, kind: MeasurementType, enabled: set[MeasurementType], t: float
    ) -> list[_LineValues] | None:
        """Return per-phase values for an eim entry, or None when nothing measures it."""
        model = self.model
        phase_range = range(self.hardware.phase_count)
        if kind in enabled:
            return [
                _LineValues.measured(model.ct_phase(kind, p, t), kind)
                for p in phase_range
            ]
        if "production" not in enabled:
            return None
        production = [model.ct_phase("production", p, t) for p in phase_range]
        if kind == "net-consumption" and "total-consumption" in enabled:
            total = [model.ct_phase("total-consumption", p, t) for p in phase_range]
            return [
                _LineValues.difference(a, b)
                for a, b in zip(total, production, strict=True)
            ]
        if kind == "total-consumption" and "net-consumption" in enabled:
            # What the house used = grid import + solar + battery discharge.
            kinds: tuple[MeasurementType, ...] = (
                ("net-consumption", "storage")
                if "storage" in enabled
                else ("net-consumption",)
            )
            return [
                _LineValues.sum_of(
                    (production[p], *(model.ct_phase(k, p, t) for k in kinds))
                )
                for p in phase_range
            ]
        return None

    def _noise_line(self, phase: int, now: int) -> dict[str, Any]:
        """Return a line for an absent CT: voltage is real, the rest is noise."""
        key = self._noise_key
        index = now * 8 + phase
        watts = 6.0 * (unit(key, index) - 0.5)
        voltage = self.model.voltage(phase, now)
        return {
            "wNow": _r3(watts),
            "whLifetime": _r3(3.0 * unit(key, phase)),
            "varhLeadLifetime": 0.0,
            "varhLagLifetime": 0.0,
            "vahLifetime": _r3(40.0 * unit(key, phase + 3)),
            "rmsCurrent": _r3(0.05 * (unit(key, index + 1) - 0.5)),
            "rmsVoltage": _r3(voltage),
            "reactPwr": _r3(4.0 * (unit(key, index + 2) - 0.5)),
            "apprntPwr": _r3(abs(watts) + 2.0),
            "pwrFactor": 0.0,
            "whToday": 0.0,
            "whLastSevenDays": 0.0,
            "vahToday": 0.0,
            "varhLeadToday": 0.0,
            "varhLagToday": 0.0,
        }

    def production_page_html(self, t: float) -> str:
        """Return the old (firmware 3.x) HTML production page."""
        totals = self.model.inverter_totals(self.model.inverter_reports(t), t)
        return production_page(totals)

    # -- inventory.json / home.json -----------------------------------------

    def inventory(self, gateway: Profile, t: float) -> list[dict[str, Any]]:
        """Return a minimal /inventory.json."""
        devices = [
            {
                "part_num": "800-01714-r02",
                "installed": str(int(r.spec.installed_epoch)),
                "serial_num": r.spec.serial,
                "device_status": ["envoy.global.ok"],
                "last_rpt_date": str(r.report_time),
                "admin_state": 1,
                "dev_type": 1,
                "created_date": str(int(r.spec.installed_epoch)),
                "img_pnum_running": f"520-00082-r01-v{gateway.major:02d}.30.32",
                "chaneid": r.spec.channel_eid,
                "producing": self.model.producing(r.spec, t)
                and r.report_time >= t - 2 * REPORT_INTERVAL_S,
                "communicating": self.model.producing(r.spec, t),
                "provisioned": True,
                "operating": True,
            }
            for r in self.model.inverter_reports(t)
        ]
        batteries = [
            {
                "part_num": self.hardware.acb_units[report.index].part_number,
                "installed": str(report.installed),
                "serial_num": report.serial,
                "device_status": ["envoy.global.ok"],
                "last_rpt_date": str(report.report_time),
                "admin_state": 1,
                "dev_type": _ACB_DEV_TYPE,
                "created_date": str(report.installed),
                "img_pnum_running": self.hardware.acb_units[report.index].firmware,
                "producing": report.watts > 0,
                "communicating": True,
                "provisioned": True,
                "operating": True,
                "sleep_enabled": False,
                "percentFull": report.percent_full,
                "maxCellTemp": 28,
                "sleep_min_soc": 25,
                "sleep_max_soc": 30,
                "charge_status": "discharging" if report.watts > 0 else "idle",
            }
            for report in self.acb_reports(t)
        ]
        return [
            {"type": "PCU", "devices": devices},
            {"type": "ACB", "devices": batteries},
            {"type": "NSRB", "devices": []},
        ]

    def home(self, gateway: Profile, t: float) -> dict[str, Any]:
        """Return a minimal /home.json."""
        local = self.model.calendar.local_time(t)
        count = sum(
            1
            for spec in self.model.inverters
            if self.model.present(spec, t) and self.model.producing(spec, t)
        )
        return {
            "software_build_epoch": int(self.hardware.installed_epoch),
            "is_nonvoy": False,
            "timezone": self.hardware.timezone,
            "current_date": local.strftime("%m/%d/%Y"),
            "current_time": local.strftime("%H:%M"),
            "network": {
                "web_comm": True,
                "ever_reported_to_enlighten": True,
                "last_enlighten_report_time": int(t) - int(t) % 900,
                "primary_interface": "eth0",
            },
            "comm": {
                "num": count,
                "level": 5,
                "pcu": {"num": count, "level": 5},
                "acb": {
                    "num": len(self.hardware.acb_units),
                    "level": 5 if self.hardware.acb_units else 0,
                },
                "nsrb": {"num": 0, "level": 0},
            },
            "alerts": [],
            "update_status": "satisfied",
            "firmware": gateway.firmware,
        }


class _LineValues:
    """One phase of an eim entry in production.json terms."""

    __slots__ = (
        "apparent_va",
        "current",
        "lag",
        "lead",
        "reactive",
        "vah",
        "voltage",
        "watts",
        "wh",
    )

    def __init__(
        self,
        *,
        watts: float,
        wh: float,
        lead: float,
        lag: float,
        vah: float,
        current: float,
        voltage: float,
        reactive: float,
        apparent_va: float | None = None,
    ) -> None:
        """Hold the values (``apparent_va``: measured; otherwise from P and Q)."""
        self.watts = watts
        self.wh = wh
        self.lead = lead
        self.lag = lag
        self.vah = vah
        self.current = current
        self.voltage = voltage
        self.reactive = reactive
        self.apparent_va = apparent_va

    @property
    def apparent(self) -> float:
        """Return apparent power, signed like the active power (as the gateway does)."""
        magnitude = (
            self.apparent_va
            if self.apparent_va is not None
            else math.hypot(self.watts, self.reactive)
        )
        return -magnitude if self.watts < 0 else magnitude

    @classmethod
    def measured(cls, values: CtValues, kind: MeasurementType) -> _LineValues:
        """Convert a measured CT phase."""
        net_energy = kind == "net-consumption"
        sign = -1.0 if values.active_w < 0 else 1.0
        return cls(
            watts=values.active_w,
            wh=values.delivered_wh - values.received_wh
            if net_energy
            else values.delivered_wh,
            lead=values.leading_varh,
            lag=values.lagging_varh,
            vah=values.apparent_vah,
            current=sign * values.current_a,
            voltage=values.voltage_v,
            reactive=values.reactive_var,
            apparent_va=values.apparent_va,
        )

    @classmethod
    def difference(cls, total: CtValues, production: CtValues) -> _LineValues:
        """Compute net consumption from total consumption minus production."""
        watts = total.active_w - production.active_w
        return cls(
            watts=watts,
            wh=total.delivered_wh - (production.delivered_wh - production.received_wh),
            lead=total.leading_varh + production.lagging_varh,
            lag=total.lagging_varh + production.leading_varh,
            vah=total.apparent_vah + production.apparent_vah,
            current=watts / total.voltage_v,
            voltage=total.voltage_v,
            reactive=total.reactive_var - production.reactive_var,
        )

    @classmethod
    def sum_of(cls, parts: tuple[CtValues, ...]) -> _LineValues:
        """Compute total consumption as net + production (+ battery discharge)."""
        watts = sum(part.active_w for part in parts)
        voltage = parts[0].voltage_v
        return cls(
            watts=watts,
            wh=sum(part.delivered_wh - part.received_wh for part in parts),
            lead=sum(part.leading_varh for part in parts),
            lag=sum(part.lagging_varh for part in parts),
            vah=sum(part.apparent_vah for part in parts),
            current=watts / voltage,
            voltage=voltage,
            reactive=sum(part.reactive_var for part in parts),
        )


def _line(
    now: _LineValues,
    midnight: _LineValues,
    week_start: _LineValues,
    *,
    keep_daily: bool,
) -> dict[str, Any]:
    """Return one production.json line."""
    apparent = now.apparent
    line: dict[str, Any] = {
        "wNow": _r3(now.watts),
        "whLifetime": _r3(now.wh),
        "varhLeadLifetime": _r3(now.lead),
        "varhLagLifetime": _r3(now.lag),
        "vahLifetime": _r3(now.vah),
        "rmsCurrent": _r3(now.current),
        "rmsVoltage": _r3(now.voltage),
        "reactPwr": _r3(now.reactive),
        "apprntPwr": _r3(apparent),
        "pwrFactor": round(now.watts / abs(apparent), 2) if apparent else 0.0,
    }
    if keep_daily:
        line |= {
            "whToday": _r3(now.wh - midnight.wh),
            "whLastSevenDays": _r3(now.wh - week_start.wh),
            "vahToday": _r3(now.vah - midnight.vah),
            "varhLeadToday": _r3(now.lead - midnight.lead),
            "varhLagToday": _r3(now.lag - midnight.lag),
        }
    else:
        # The gateway never fills net consumption's daily counters.
        line |= {
            "whToday": 0,
            "whLastSevenDays": 0,
            "vahToday": 0,
            "varhLeadToday": 0,
            "varhLagToday": 0,
        }
    return line


_LINE_SUMMED = (
    "wNow",
    "whLifetime",
    "varhLeadLifetime",
    "varhLagLifetime",
    "vahLifetime",
    "rmsCurrent",
    "rmsVoltage",
    "reactPwr",
    "apprntPwr",
)
_LINE_DAILY = (
    "whToday",
    "whLastSevenDays",
    "vahToday",
    "varhLeadToday",
    "varhLagToday",
)


def _sum_lines(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the aggregate of production.json lines (sums; voltage too)."""
    total: dict[str, Any] = {
        key: _r3(sum(line[key] for line in lines)) for key in _LINE_SUMMED
    }
    apparent = total["apprntPwr"]
    total["pwrFactor"] = round(total["wNow"] / abs(apparent), 2) if apparent else 0.0
    for key in _LINE_DAILY:
        values = [line[key] for line in lines]
        total[key] = (
            _r3(sum(values)) if any(isinstance(v, float) for v in values) else 0
        )
    return total


_READING_SUMMED = (
    "actEnergyDlvd",
    "actEnergyRcvd",
    "apparentEnergy",
    "reactEnergyLagg",
    "reactEnergyLead",
    "instantaneousDemand",
    "activePower",
    "apparentPower",
    "reactivePower",
)


def _reading_fields(values: CtValues) -> dict[str, float]:
    """Return the /ivp/meters/readings fields of one CT phase."""
    active = _r3(values.active_w)
    return {
        "actEnergyDlvd": _r3(values.delivered_wh),
        "actEnergyRcvd": _r3(values.received_wh),
        "apparentEnergy": _r3(values.apparent_vah),
        "reactEnergyLagg": _r3(values.lagging_varh),
        "reactEnergyLead": _r3(values.leading_varh),
        "instantaneousDemand": active,
        "activePower": active,
        "apparentPower": _r3(values.apparent_va),
        "reactivePower": _r3(values.reactive_var),
        "pwrFactor": _r3(values.power_factor),
        "voltage": _r3(values.voltage_v),
        "current": _r3(values.current_a),
        "freq": round(values.frequency_hz, 2),
    }


def _sum_fields(channels: list[dict[str, Any]]) -> dict[str, float]:
    """Return a reading's aggregate from its real channels (voltage is their sum)."""
    total = {
        key: _r3(sum(channel[key] for channel in channels)) for key in _READING_SUMMED
    }
    apparent = total["apparentPower"]
    total["pwrFactor"] = _r3(total["activePower"] / apparent) if apparent else 0.0
    total["voltage"] = _r3(sum(channel["voltage"] for channel in channels))
    total["current"] = _r3(sum(channel["current"] for channel in channels))
    total["freq"] = round(
        sum(channel["freq"] for channel in channels) / len(channels), 2
    )
    return dict(sorted(total.items(), key=lambda item: _READING_ORDER.index(item[0])))


_READING_ORDER = (*_READING_SUMMED, "pwrFactor", "voltage", "current", "freq")


def _zero_fields(frequency: float) -> dict[str, float]:
    """Return reading fields of an unused channel."""
    fields = dict.fromkeys(_READING_ORDER, 0.0)
    fields["freq"] = frequency
    return fields


def _pcu_device(report: InverterReport) -> dict[str, Any]:
    """Return a microinverter's device_data entry."""
    spec = report.spec
    return {
        "devName": "pcu",
        "sn": spec.serial,
        "active": True,
        "modGone": False,
        "channels": [
            {
                "chanEid": spec.channel_eid,
                "created": report.report_time,
                "wattHours": {
                    "today": report.today_wh,
                    "yesterday": report.yesterday_wh,
                    "week": report.week_wh,
                },
                "watts": {"now": report.watts, "nowUsed": 0, "max": report.max_watts},
                "lastReading": {
                    "eid": spec.channel_eid,
                    "interval_type": 0,
                    "endDate": report.report_time,
                    "duration": report.duration_s,
                    "flags": 0,
                    "flags_hex": "0x0000000000000000",
                    "joulesProduced": report.interval_joules,
                    "acVoltageINmV": report.ac_voltage_mv,
                    "acFrequencyINmHz": report.frequency_mhz,
                    "dcVoltageINmV": report.dc_voltage_mv,
                    "dcCurrentINmA": report.dc_current_ma,
                    "channelTemp": report.temperature_c,
                    "pwrConvErrSecs": 0,
                    "pwrConvMaxErrCycles": 0,
                    "joulesUsed": 0,
                    "leadingVArs": report.leading_vars,
                    "laggingVArs": report.lagging_vars,
                    "acCurrentInmA": report.ac_current_ma,
                    "l1NAcVoltageInmV": 0,
                    "l2NAcVoltageInmV": 0,
                    "l3NAcVoltageInmV": 0,
                    "rssi": report.rssi,
                    "issi": report.issi,
                },
                "lifetime": {
                    "createdTime": int(spec.installed_epoch),
                    "duration": int(report.report_time - spec.installed_epoch),
                    "joulesProduced": report.lifetime_joules,
                },
            }
        ],
    }


def _acb_device(report: AcbReport) -> dict[str, Any]:
    """Return an AC Battery's device_data entry (it reports what it discharges)."""
    channel_eid = report.device_id + 17
    return {
        "devName": "acb",
        "sn": report.serial,
        "active": True,
        "modGone": False,
        "channels": [
            {
                "chanEid": channel_eid,
                "created": report.report_time,
                "wattHours": {"today": 0, "yesterday": 0, "week": 0},
                "watts": {"now": report.watts, "nowUsed": 0, "max": report.max_watts},
                "lastReading": {
                    "eid": channel_eid,
                    "interval_type": 0,
                    "endDate": report.report_time,
                    "duration": REPORT_INTERVAL_S,
                    "flags": 0,
                    "flags_hex": "0x0000000000000000",
                    "joulesProduced": report.watts * REPORT_INTERVAL_S,
                    "joulesUsed": 0,
                },
                "lifetime": {
                    "createdTime": report.installed,
                    "duration": report.report_time - report.installed,
                    "joulesProduced": int(report.discharged_j) % JOULE_WRAP,
                },
            }
        ],
    }


def _gone_device(
    serial: str, gone_time: int, device_id: int, installed: float
) -> dict[str, Any]:
    """Return the entry a removed inverter leaves behind (modGone, empty readings)."""
    channel_eid = 1627390225 + (device_id - 553648384)
    return {
        "devName": "pcu",
        "sn": serial,
        "active": False,
        "modGone": True,
        "channels": [
            {
                "chanEid": channel_eid,
                "created": gone_time,
                "wattHours": {"today": 0, "yesterday": 0, "week": 0},
                "watts": {"now": 0, "nowUsed": 0, "max": 0},
                "lastReading": {},
                "lifetime": {
                    "createdTime": int(installed),
                    "duration": int(gone_time - installed),
                    "joulesProduced": int((gone_time - installed) * 45.0) % JOULE_WRAP,
                },
            }
        ],
    }


def zero_counters(payload: Json, keys: frozenset[str] = COUNTER_KEYS) -> Json:
    """Return ``payload`` with every energy counter read as 0 (a reboot glitch)."""
    if isinstance(payload, dict):
        return {
            key: (
                0
                if key in keys
                and isinstance(value, int | float)
                and not isinstance(value, bool)
                else zero_counters(value, keys)
            )
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [zero_counters(item, keys) for item in payload]
    return payload


def zero_active_counts(payload: Json) -> Json:
    """Return production.json with every eim entry claiming ``activeCount: 0``."""
    if not isinstance(payload, dict):
        return payload
    result = dict(payload)
    for section in ("production", "consumption"):
        entries = payload.get(section)
        if isinstance(entries, list):
            result[section] = [
                {**entry, "activeCount": 0}
                if isinstance(entry, dict) and entry.get("type") == "eim"
                else entry
                for entry in entries
            ]
    return result
