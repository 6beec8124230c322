"""The system controller's side: IQ Batteries, the Enpower, the tariff and the dry contacts.

EnsembleState keeps what the gateway stores and clients may write (the tariff
document over time, the relays' settings and their manual switching); the
payload methods read everything that evolves (state of charge, power, grid
state) from the site model. Shapes follow /ivp/ensemble/inventory, secctrl,
status and power, /admin/lib/tariff, /ivp/ensemble/dry_contacts and
/ivp/ss/dry_contact_settings as real gateways send them.
"""

from bisect import insort
import copy
from dataclasses import dataclass
import math
from typing import Any

from .battery import StorageSettings
from .model import SiteModel
from .noise import stream_key, unit
from .profiles import STORAGE_MODES, BatteryModel, RelaySpec

type Json = Any

ENPOWER_PART = "860-00276-r28"
ENPOWER_FIRMWARE = "1.2.2064_release/20.34"
INCOMPLETE_TARIFF = {"error": "incomplete tariff document"}
_ENCHARGE_SERIAL_OFFSET = 600_000
_ENPOWER_SERIAL_OFFSET = 650_000
_REPORT_S = 900
_PHASES = ("ph-a", "ph-b", "ph-c")
_RELAY_STATUSES = ("open", "closed")
_RELAY_MODES = ("manual", "soc")
# How far back a relay in state-of-charge mode looks for its last switch.
_RELAY_LOOKBACK_S = 86400
_RELAY_SCAN_S = 300


def _currency(timezone: str) -> str:
    """Return the tariff's currency for a site in ``timezone``."""
    if timezone.startswith("Europe/"):
        return "EUR"
    if timezone.startswith("Australia/"):
        return "AUD"
    return "USD"


def _settings_of(document: Json) -> StorageSettings:
    """Return the storage settings a (validated) tariff document asks for."""
    storage = document["tariff"]["storage_settings"]
    return StorageSettings(
        mode=storage["mode"],
        reserve_pct=float(storage["reserved_soc"]),
        very_low_pct=float(storage["very_low_soc"]),
        charge_from_grid=bool(storage["charge_from_grid"]),
    )


def _dated(document: Json, t: float) -> Json:
    """Stamp the tariff with ``t`` and make its schedule follow its storage settings."""
    stamp = str(int(t))
    tariff = document["tariff"]
    tariff["date"] = stamp
    storage = tariff["storage_settings"]
    storage["date"] = stamp
    schedule = document.get("schedule")
    if isinstance(schedule, dict):
        schedule.update(
            date=stamp,
            reserved_soc=storage["reserved_soc"],
            very_low_soc=storage["very_low_soc"],
            charge_from_grid=storage["charge_from_grid"],
            battery_mode=storage["mode"],
        )
    return document


def _invalid_storage(storage: dict[str, Any]) -> str | None:
    """Return why a storage_settings object cannot be taken, or None."""
    if storage["mode"] not in STORAGE_MODES:
        return f"mode must be one of {', '.join(STORAGE_MODES)}"
    for key in ("reserved_soc", "very_low_soc"):
        value = storage[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{key} must be a number"
        if not 0 <= value <= 100:
            return f"{key} must be between 0 and 100"
    if not isinstance(storage["charge_from_grid"], bool):
        return "charge_from_grid must be true or false"
    return None


class TariffStore:
    """The tariff document over time: as installed, as written, as the cloud pushes it back."""

    def __init__(self, model: SiteModel) -> None:
        """Start with the profile's storage settings."""
        self._model = model
        profile = model.profile
        defaults = profile.storage
        stamp = str(int(profile.installed_epoch))
        first = {
            "tariff": {
                "currency": {"code": _currency(profile.timezone)},
                "logger": "mylogger",
                "date": stamp,
                "storage_settings": {
                    "mode": defaults.mode,
                    "operation_mode_sub_type": "",
                    "reserved_soc": float(defaults.reserve_pct),
                    "very_low_soc": round(defaults.very_low_pct),
                    "charge_from_grid": defaults.charge_from_grid,
                    "date": stamp,
                    "opt_schedules": True,
                },
                "single_rate": {"rate": 0.0, "sell": 0.0},
                "seasons": [],
                "seasons_sell": [],
            },
            "schedule": {
                "source": "Tariff",
                "date": stamp,
                "version": "00.00.02",
                "reserved_soc": float(defaults.reserve_pct),
                "very_low_soc": round(defaults.very_low_pct),
                "charge_from_grid": defaults.charge_from_grid,
                "battery_mode": defaults.mode,
                "schedule": {},
            },
        }
        self._versions: list[tuple[float, int, Json]] = [(-math.inf, 0, first)]
        self._count = 1

    def document(self, t: float) -> Json:
        """Return the tariff in force at ``t`` (a copy)."""
        chosen = self._versions[0][2]
        for effective, _order, document in self._versions:
            if effective > t:
                break
            chosen = document
        return copy.deepcopy(chosen)

    def _store(self, t: float, document: Json) -> None:
        """Keep ``document`` from ``t`` on and make the battery follow it from then."""
        insort(self._versions, (t, self._count, document), key=lambda v: v[:2])
        self._count += 1
        self._model.timeline.set_settings(t, _settings_of(document))

    def put(
        self, body: Json, t: float, overwrite_after: float | None
    ) -> tuple[int, Json]:
        """Take a written tariff; return the status and answer.

        Only a whole document is taken (every key the stored one has, in the
        document, in its tariff and in its storage_settings). ``overwrite_after``:
        the cloud pushes back the storage settings this many seconds later.
        """
        current = self.document(t)
        if not isinstance(body, dict) or not set(current) <= set(body):
            return 400, INCOMPLETE_TARIFF
        tariff = body.get("tariff")
        if not isinstance(tariff, dict) or not set(current["tariff"]) <= set(tariff):
            return 400, INCOMPLETE_TARIFF
        storage = tariff.get("storage_settings")
        known = current["tariff"]["storage_settings"]
        if not isinstance(storage, dict) or not set(known) <= set(storage):
            return 400, INCOMPLETE_TARIFF
        problem = _invalid_storage(storage)
        if problem is not None:
            return 400, {"error": f"invalid storage_settings: {problem}"}
        stored = _dated(copy.deepcopy(body), t)
        self._store(t, stored)
        if overwrite_after is not None:
            due = t + overwrite_after
            pushed = copy.deepcopy(stored)
            for key in ("mode", "reserved_soc", "charge_from_grid"):
                pushed["tariff"]["storage_settings"][key] = known[key]
            self._store(due, _dated(pushed, due))
        self._model.storage_changed(t)
        return 200, copy.deepcopy(stored)

    def change(
        self,
        t: float,
        *,
        mode: str | None = None,
        reserve_pct: float | None = None,
        very_low_pct: float | None = None,
        charge_from_grid: bool | None = None,
    ) -> Json:
        """Change the storage settings at ``t`` (as Enlighten would); return the new tariff."""
        document = self.document(t)
        storage = document["tariff"]["storage_settings"]
        if mode is not None:
            storage["mode"] = mode
        if reserve_pct is not None:
            storage["reserved_soc"] = float(reserve_pct)
        if very_low_pct is not None:
            storage["very_low_soc"] = very_low_pct
        if charge_from_grid is not None:
            storage["charge_from_grid"] = charge_from_grid
        problem = _invalid_storage(storage)
        if problem is not None:
            raise ValueError(problem)
        stored = _dated(document, t)
        self._store(t, stored)
        self._model.storage_changed(t)
        return copy.deepcopy(stored)


def _relay_record(spec: RelaySpec) -> dict[str, Any]:
    """Return a relay's settings record as /ivp/ss/dry_contact_settings shows it."""
    load = spec.kind != "NONE"
    return {
        "id": spec.id,
        "type": spec.kind,
        "grid_action": "apply" if load else "none",
        "micro_grid_action": ("shed" if spec.mode == "soc" else "apply")
        if load
        else "none",
        "gen_action": "shed" if load else "none",
        "override": "false",
        "load_name": spec.load_name,
        "mode": spec.mode,
        "soc_low": spec.soc_low,
        "soc_high": spec.soc_high,
        "priority": spec.priority,
        "manual_override": "true",
        "blocked": "false",
        "essential_start_time": 0,
        "essential_end_time": 0,
        "black_s_start": 0,
        # The PV serials a relay sheds (none here): real gateways send the key.
        "pv_serial_nb": [],
    }


def _as_int(value: object, default: int) -> int:
    """Return a record's number (written as text or a number)."""
    try:
        return round(float(value))  # type: ignore[arg-type]
    except TypeError, ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a write, and whether it crashes the gateway."""

    status: int
    payload: Json
    crash: bool = False


class Relays:
    """The system controller's dry-contact relays: settings and manual switching over time."""

    def __init__(self, model: SiteModel, specs: tuple[RelaySpec, ...]) -> None:
        """Install ``specs``."""
        self._model = model
        self._records = {spec.id: _relay_record(spec) for spec in specs}
        self._switched: dict[str, list[tuple[float, int, str]]] = {
            spec.id: [(-math.inf, 0, "closed" if spec.closed else "open")]
            for spec in specs
        }
        self._count = 1

    @property
    def ids(self) -> list[str]:
        """Return the relay ids in order."""
        return list(self._records)

    def records(self) -> list[dict[str, Any]]:
        """Return every relay's settings record (copies)."""
        return [dict(record) for record in self._records.values()]

    def status(self, relay_id: str, t: float) -> str:
        """Return whether a relay is ``open`` or ``closed`` at ``t``."""
        record = self._records[relay_id]
        if record["mode"] != "soc" or record["type"] == "NONE":
            return self._manual(relay_id, t)
        model = self._model
        if model.grid_on(t):
            return "closed"
        # Off grid a state-of-charge relay sheds its load below soc_low and
        # brings it back above soc_high: find the last threshold crossed.
        low = _as_int(record["soc_low"], 25)
        high = _as_int(record["soc_high"], 70)
        moment = t
        while moment > t - _RELAY_LOOKBACK_S and not model.grid_on(moment):
            state = model.battery(moment)
            if state is None:
                break
            if state.percent_full <= low:
                return "open"
            if state.percent_full >= high:
                return "closed"
            moment -= _RELAY_SCAN_S
        return "closed"

    def _manual(self, relay_id: str, t: float) -> str:
        """Return a relay's manually switched state at ``t``."""
        chosen = self._switched[relay_id][0][2]
        for when, _order, status in self._switched[relay_id]:
            if when > t:
                break
            chosen = status
        return chosen

    def _switch(self, relay_id: str, t: float, status: str) -> None:
        """Record a manual switch."""
        insort(self._switched[relay_id], (t, self._count, status), key=lambda v: v[:2])
        self._count += 1

    def write_settings(self, body: Json, t: float) -> Outcome:
        """Take one relay's settings record (POST /ivp/ss/dry_contact_settings)."""
        record = body.get("dry_contacts") if isinstance(body, dict) else None
        if not isinstance(record, dict) or record.get("id") not in self._records:
            return Outcome(400, {"error": "dry_contacts must name a known relay"})
        relay_id = str(record["id"])
        stored = self._records[relay_id]
        if not set(stored) <= set(record):
            # Real gateways crash on a partial record (and restart).
            return Outcome(500, {"error": "Internal Server Error"}, crash=True)
        if record["mode"] not in _RELAY_MODES:
            return Outcome(400, {"error": "mode must be manual or soc"})
        was = self.status(relay_id, t)
        self._records[relay_id] = {**stored, **record}
        if record["mode"] == "manual":
            # A relay taken to manual stays as it was until switched.
            self._switch(relay_id, t, was)
        return Outcome(200, {"message": "success"})

    def write_status(self, body: Json, t: float) -> Outcome:
        """Switch a relay in manual mode (POST /ivp/ensemble/dry_contacts)."""
        command = body.get("dry_contacts") if isinstance(body, dict) else None
        if not isinstance(command, dict) or command.get("id") not in self._records:
            return Outcome(400, {"error": "dry_contacts must name a known relay"})
        relay_id = str(command["id"])
        status = command.get("status")
        if status not in _RELAY_STATUSES:
            return Outcome(400, {"error": "status must be open or closed"})
        if self._records[relay_id]["mode"] != "manual":
            return Outcome(
                400, {"error": f"dry contact {relay_id} is not in manual mode"}
            )
        self._switch(relay_id, t, str(status))
        return Outcome(200, {"message": "success"})


@dataclass(frozen=True, slots=True)
class _Unit:
    """One IQ Battery as the system controller knows it."""

    index: int
    model: BatteryModel
    serial: str
    report_offset_s: int
    temperature_trim: float


class EnsembleState:
    """What the system controller stores and reports for one site."""

    def __init__(self, model: SiteModel, serial: str) -> None:
        """Serve ``model``'s batteries for the gateway with ``serial``."""
        self.model = model
        profile = model.profile
        self.tariff = TariffStore(model)
        self.relays = Relays(model, profile.relays if profile.enpower else ())
        key = stream_key(model.seed, "ensemble", serial)
        start = profile.inverter_serial_start
        self.units = [
            _Unit(
                index=index,
                model=unit_model,
                serial=str(start + _ENCHARGE_SERIAL_OFFSET + index),
                report_offset_s=int(unit(key, index) * _REPORT_S),
                temperature_trim=1.5 * unit(key, 100 + index),
            )
            for index, unit_model in enumerate(profile.encharge_units)
        ]
        self.enpower_serial = str(start + _ENPOWER_SERIAL_OFFSET)
        self._enpower_offset = int(unit(key, 200) * _REPORT_S)

    # -- helpers --------------------------------------------------------------

    def _last_report(self, offset: int, t: float) -> int:
        """Return a device's latest 15-minute report time by ``t``."""
        return math.floor((t - offset) / _REPORT_S) * _REPORT_S + offset

    def _unit_power_w(self, t: float) -> float:
        """Return each IQ Battery's share of the site's battery power (W, + discharging)."""
        state = self.model.battery(t)
        if state is None or not self.units:
            return 0.0
        return state.power_w / len(self.units)

    def _ambient_c(self, t: float) -> float:
        """Return the temperature where the equipment hangs (a garage wall)."""
        day = self.model.calendar.day(t)
        hour = (t - day.midnight) / 3600.0
        return 21.0 + 5.0 * math.sin(2 * math.pi * (hour - 10.0) / 24.0)

    def soc(self, t: float) -> int:
        """Return the site's state of charge (%)."""
        state = self.model.battery(t)
        return 0 if state is None else state.percent_full

    def health_pct(self, t: float) -> int:
        """Return the batteries' state of health: a point and a half lost a year."""
        years = max(0.0, (t - self.model.profile.installed_epoch) / (365.25 * 86400))
        return max(70, round(100.0 - 1.5 * years))

    # -- /ivp/ensemble/inventory ------------------------------------------------

    def inventory(self, t: float) -> list[dict[str, Any]]:
        """Return /ivp/ensemble/inventory: the ENCHARGE and ENPOWER groups that exist."""
        groups: list[dict[str, Any]] = []
        if self.units:
            groups.append(
                {
                    "type": "ENCHARGE",
                    "devices": [self._encharge(unit_, t) for unit_ in self.units],
                }
            )
        if self.model.profile.enpower:
            groups.append({"type": "ENPOWER", "devices": [self._enpower(t)]})
        return groups

    def _encharge(self, battery: _Unit, t: float) -> dict[str, Any]:
        """Return one IQ Battery's inventory entry, as of its latest report."""
        model = self.model
        profile = model.profile
        reported = self._last_report(battery.report_offset_s, t)
        state = model.battery(reported)
        assert state is not None
        power = self._unit_power_w(reported)
        load = abs(power) / battery.model.max_power_w
        temperature = round(
            self._ambient_c(reported) + 6.0 * load + battery.temperature_trim
        )
        if state.state == "charging":
            led = 12
        elif state.state == "discharging":
            led = 13
        else:
            led = 17
        installed = int(profile.installed_epoch) + 60 * battery.index
        return {
            "part_num": battery.model.part_number,
            "installed": installed,
            "serial_num": battery.serial,
            "device_status": ["envoy.global.ok", "prop.done"],
            "last_rpt_date": reported,
            "admin_state": 6,
            "admin_state_str": "ENCHG_STATE_READY",
            "created_date": installed,
            "img_load_date": installed,
            "img_pnum_running": battery.model.firmware,
            "bmu_fw_version": "2.1.34",
            "communicating": True,
            "sleep_enabled": False,
            "percentFull": state.percent_full,
            "temperature": temperature,
            "maxCellTemp": temperature + 1,
            "comm_level_sub_ghz": 4,
            "comm_level_2_4_ghz": 4,
            "led_status": led,
            "dc_switch_off": False,
            "encharge_rev": 2,
            "encharge_capacity": round(battery.model.capacity_wh),
            "phase": _PHASES[battery.index % profile.phase_count],
            "der_index": battery.index + 1,
            "operating": True,
            "reported_enc_grid_state": "grid-tied" if state.grid_on else "grid-forming",
        }

    def _enpower(self, t: float) -> dict[str, Any]:
        """Return the system controller's inventory entry, as of its latest report."""
        model = self.model
        reported = self._last_report(self._enpower_offset, t)
        grid_on = model.grid_on(t)
        installed = int(model.profile.installed_epoch)
        # The Enpower reports its temperature in Fahrenheit, unlike the batteries.
        celsius = self._ambient_c(reported) + (2.0 if grid_on else 4.0)
        mode = "multimode-ongrid" if grid_on else "multimode-offgrid"
        return {
            "part_num": ENPOWER_PART,
            "installed": installed,
            "serial_num": self.enpower_serial,
            "device_status": ["envoy.global.ok", "prop.done"],
            "last_rpt_date": reported,
            "admin_state": 24 if grid_on else 25,
            "admin_state_str": "ENPWR_STATE_OPER_CLOSED"
            if grid_on
            else "ENPWR_STATE_OPER_OPEN",
            "created_date": installed,
            "img_load_date": installed,
            "img_pnum_running": ENPOWER_FIRMWARE,
            "communicating": True,
            "temperature": round(celsius * 9.0 / 5.0 + 32.0),
            "comm_level_sub_ghz": 5,
            "comm_level_2_4_ghz": 5,
            "mains_admin_state": "closed",
            "mains_oper_state": "closed" if grid_on else "open",
            "Enpwr_grid_mode": mode,
            "Enchg_grid_mode": mode,
            "Enpwr_relay_state_bm": 496 if grid_on else 464,
            "Enpwr_curr_state_id": 16 if grid_on else 15,
        }

    # -- /ivp/ensemble/secctrl and status ----------------------------------------

    def secctrl(self, t: float) -> dict[str, Any]:
        """Return /ivp/ensemble/secctrl: the site's battery aggregates and grid-forming biases."""
        model = self.model
        profile = model.profile
        state = model.battery(t)
        capacity = sum(unit_.model.capacity_wh for unit_ in self.units)
        stored = state.stored_wh if state is not None else 0.0
        settings = state.settings if state is not None else model.timeline.initial
        soc = self.soc(t) if self.units else 0
        frequency_bias = model.frequency_bias_hz(t)
        voltage_bias = round(0.4 * frequency_bias, 3)
        reserve = round(settings.reserve_pct)
        return {
            "shutdown": False,
            "freq_bias_hz": frequency_bias,
            "voltage_bias_v": voltage_bias,
            "freq_bias_hz_q8": round(frequency_bias * 256),
            "voltage_bias_v_q5": round(voltage_bias * 32),
            "freq_bias_hz_phaseb": frequency_bias if profile.phase_count == 3 else 0.0,
            "voltage_bias_v_phaseb": voltage_bias if profile.phase_count == 3 else 0.0,
            "freq_bias_hz_q8_phaseb": round(frequency_bias * 256)
            if profile.phase_count == 3
            else 0,
            "voltage_bias_v_q5_phaseb": round(voltage_bias * 32)
            if profile.phase_count == 3
            else 0,
            "configured_backup_soc": reserve,
            "adjusted_backup_soc": reserve,
            "agg_soc": soc,
            "Max_energy": round(capacity),
            "ENC_agg_soc": soc,
            "ENC_agg_soh": self.health_pct(t),
            "ENC_agg_backup_energy": round(capacity * reserve / 100.0),
            "ENC_agg_avail_energy": round(stored) if self.units else 0,
            "Enc_commissioned_capacity": round(capacity),
            "Enc_max_available_capacity": round(capacity),
            "ACB_agg_soc": 0,
            "ACB_agg_energy": 0,
            "VLS_Limit": 0,
            "ENC_charge_rate_limit_w": round(
                sum(u.model.max_power_w for u in self.units)
            ),
        }

    def status(self, t: float, restarted_at: float) -> dict[str, Any]:
        """Return /ivp/ensemble/status: inventory summary, counters, secctrl and relay."""
        model = self.model
        grid_on = model.grid_on(t)
        serials: dict[str, Any] = {
            battery.serial: {
                "device_type": "ENCHARGE",
                "comm_level_sub_ghz": 4,
                "comm_level_2_4_ghz": 4,
                "signal_strength": 4,
                "partNumber": battery.model.part_number,
                "admin_state": 6,
                "admin_state_str": "ENCHG_STATE_READY",
                "msg_retries": 0,
                "sleep_enabled": False,
                "percent_full": self.soc(t),
                "dc_switch_off": False,
            }
            for battery in self.units
        }
        if model.profile.enpower:
            serials[self.enpower_serial] = {
                "device_type": "ENPOWER",
                "comm_level_sub_ghz": 5,
                "comm_level_2_4_ghz": 5,
                "signal_strength": 5,
                "partNumber": ENPOWER_PART,
                "admin_state": 24 if grid_on else 25,
                "admin_state_str": "ENPWR_STATE_OPER_CLOSED"
                if grid_on
                else "ENPWR_STATE_OPER_OPEN",
                "msg_retries": 0,
            }
        mode = "multimode-ongrid" if grid_on else "multimode-offgrid"
        return {
            "inventory": {
                "serial_nums": serials,
                "encharge_count": len(self.units),
                "enpower_count": 1 if model.profile.enpower else 0,
            },
            "counters": {
                "main_taskUptime": max(0, int(t - restarted_at)),
                "main_CfgLoad": 1,
                "main_CfgChanged": 0,
                "extZbRemove": 0,
                "extZbRemoveErr": 0,
            },
            "secctrl": self.secctrl(t),
            "relay": {
                "mains_admin_state": "closed",
                "mains_oper_state": "closed" if grid_on else "open",
                "der1_state": 1,
                "der2_state": 0,
                "der3_state": 0,
                "Enpwr_grid_mode": mode,
                "Enchg_grid_mode": mode,
                "Solar_grid_mode": mode,
            },
        }

    # -- /ivp/ensemble/power -------------------------------------------------------

    def power(self, t: float) -> dict[str, Any]:
        """Return /ivp/ensemble/power (its key really is ``devices:``, colon included)."""
        watts = self._unit_power_w(t)
        soc = self.soc(t)
        return {
            "devices:": [
                {
                    "serial_num": battery.serial,
                    "real_power_mw": round(watts * 1000),
                    "apparent_power_mva": round(abs(watts) * 1020),
                    "soc": soc,
                }
                for battery in self.units
            ]
        }

    # -- dry contacts -----------------------------------------------------------------

    def dry_contacts(self, t: float) -> dict[str, Any]:
        """Return /ivp/ensemble/dry_contacts: each relay's state."""
        relays = self.relays
        return {
            "dry_contacts": [
                {"id": relay_id, "status": relays.status(relay_id, t)}
                for relay_id in relays.ids
            ]
        }

    def dry_contact_settings(self) -> dict[str, Any]:
        """Return /ivp/ss/dry_contact_settings: each relay's settings record."""
        return {"dry_contacts": self.relays.records()}
