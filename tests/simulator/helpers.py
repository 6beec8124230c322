"""Request helpers and the endpoint shapes from the seed samples (key names only)."""

from dataclasses import dataclass
import json
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from envoy_simulator import EnvoySimulator


@dataclass(frozen=True)
class Answer:
    """A response, fully read."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """Parse the body as JSON (whatever the Content-Type)."""
        return json.loads(self.body)


async def fetch(
    session: aiohttp.ClientSession,
    sim: EnvoySimulator,
    path: str,
    *,
    token: str | None = None,
    authenticate: bool = True,
    user: str = "envoy",
    password: str | None = None,
    scheme: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    json_body: Any = None,
) -> Answer:
    """Request ``path`` the way a client of this firmware would (``json_body``: send it)."""
    secure = sim.profile.web_tokens
    scheme = scheme or ("https" if secure else "http")
    request_headers = dict(headers or {})
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if authenticate and secure and "Authorization" not in request_headers:
        request_headers["Authorization"] = f"Bearer {token or sim.mint_token()}"
    if authenticate and not secure:
        if password is None:
            password = sim.envoy_password if user == "envoy" else sim.installer_password
        middlewares = (aiohttp.DigestAuthMiddleware(user, password),)
    async with session.request(
        method,
        f"{scheme}://{sim.address}{path}",
        headers=request_headers,
        middlewares=middlewares,
        allow_redirects=False,
        json=json_body,
    ) as response:
        return Answer(response.status, response.headers, await response.read())


async def fetch_json(
    session: aiohttp.ClientSession, sim: EnvoySimulator, path: str, token: str
) -> Any:
    """Read ``path`` with ``token``; it must answer 200 with JSON."""
    answer = await fetch(session, sim, path, token=token)
    assert answer.status == 200, (path, answer.body)
    return answer.json()


def media_type(answer: Answer) -> str | None:
    """Return the answer's media type without parameters (None: no Content-Type)."""
    header = answer.headers.get("Content-Type")
    return None if header is None else header.split(";")[0].strip()


PRODUCTION_V1_KEYS = {
    "wattHoursToday",
    "wattHoursSevenDays",
    "wattHoursLifetime",
    "wattsNow",
}
INVERTER_KEYS = {
    "serialNumber",
    "lastReportDate",
    "devType",
    "lastReportWatts",
    "maxReportWatts",
}
METER_KEYS = {
    "eid",
    "state",
    "measurementType",
    "phaseMode",
    "phaseCount",
    "meteringStatus",
    "statusFlags",
}
READING_CHANNEL_KEYS = {
    "eid",
    "timestamp",
    "actEnergyDlvd",
    "actEnergyRcvd",
    "apparentEnergy",
    "reactEnergyLagg",
    "reactEnergyLead",
    "instantaneousDemand",
    "activePower",
    "apparentPower",
    "reactivePower",
    "pwrFactor",
    "voltage",
    "current",
    "freq",
}
READING_KEYS = READING_CHANNEL_KEYS | {"channels"}
DEVICE_KEYS = {"devName", "sn", "active", "modGone", "channels"}
DEVICE_CHANNEL_KEYS = {
    "chanEid",
    "created",
    "wattHours",
    "watts",
    "lastReading",
    "lifetime",
}
WATT_HOURS_KEYS = {"today", "yesterday", "week"}
WATTS_KEYS = {"now", "nowUsed", "max"}
LAST_READING_KEYS = {
    "eid",
    "interval_type",
    "endDate",
    "duration",
    "flags",
    "flags_hex",
    "joulesProduced",
    "acVoltageINmV",
    "acFrequencyINmHz",
    "dcVoltageINmV",
    "dcCurrentINmA",
    "channelTemp",
    "pwrConvErrSecs",
    "pwrConvMaxErrCycles",
    "joulesUsed",
    "leadingVArs",
    "laggingVArs",
    "acCurrentInmA",
    "l1NAcVoltageInmV",
    "l2NAcVoltageInmV",
    "l3NAcVoltageInmV",
    "rssi",
    "issi",
}
LIFETIME_KEYS = {"createdTime", "duration", "joulesProduced"}
DEVICE_DATA_EXTRA_KEYS = {"deviceCount", "deviceDataLimit"}
PRODUCTION_JSON_KEYS = {"production", "consumption", "storage"}
INVERTERS_BLOCK_KEYS = {"type", "activeCount", "readingTime", "wNow", "whLifetime"}
LINE_KEYS = {
    "wNow",
    "whLifetime",
    "varhLeadLifetime",
    "varhLagLifetime",
    "vahLifetime",
    "rmsCurrent",
    "rmsVoltage",
    "reactPwr",
    "apprntPwr",
    "pwrFactor",
    "whToday",
    "whLastSevenDays",
    "vahToday",
    "varhLeadToday",
    "varhLagToday",
}
EIM_KEYS = LINE_KEYS | {"type", "activeCount", "measurementType", "readingTime"}
ACB_KEYS = {"type", "activeCount", "readingTime", "wNow", "whNow", "state"}
ENCHARGE_KEYS = {
    "part_num",
    "serial_num",
    "installed",
    "device_status",
    "last_rpt_date",
    "admin_state",
    "admin_state_str",
    "img_pnum_running",
    "operating",
    "communicating",
    "sleep_enabled",
    "percentFull",
    "temperature",
    "maxCellTemp",
    "led_status",
    "dc_switch_off",
    "encharge_capacity",
    "phase",
    "reported_enc_grid_state",
}
ENPOWER_KEYS = {
    "part_num",
    "serial_num",
    "installed",
    "device_status",
    "last_rpt_date",
    "admin_state",
    "admin_state_str",
    "img_pnum_running",
    "communicating",
    "temperature",
    "mains_admin_state",
    "mains_oper_state",
    "Enpwr_grid_mode",
    "Enchg_grid_mode",
    "Enpwr_relay_state_bm",
    "Enpwr_curr_state_id",
}
SECCTRL_KEYS = {
    "agg_soc",
    "Max_energy",
    "ENC_agg_soc",
    "ENC_agg_soh",
    "ENC_agg_avail_energy",
    "ENC_agg_backup_energy",
    "ACB_agg_soc",
    "ACB_agg_energy",
    "configured_backup_soc",
    "adjusted_backup_soc",
    "freq_bias_hz",
    "voltage_bias_v",
    "freq_bias_hz_q8",
    "voltage_bias_v_q5",
    "shutdown",
}
ENSEMBLE_POWER_KEYS = {"serial_num", "real_power_mw", "apparent_power_mva", "soc"}
STORAGE_SETTINGS_KEYS = {
    "mode",
    "operation_mode_sub_type",
    "reserved_soc",
    "very_low_soc",
    "charge_from_grid",
    "date",
    "opt_schedules",
}
RELAY_SETTINGS_KEYS = {
    "id",
    "type",
    "grid_action",
    "micro_grid_action",
    "gen_action",
    "override",
    "load_name",
    "mode",
    "soc_low",
    "soc_high",
    "priority",
    "manual_override",
    "blocked",
    "essential_start_time",
    "essential_end_time",
    "black_s_start",
    "pv_serial_nb",
}
ACB_ENTRY_KEYS = ACB_KEYS | {"percentFull"}
ENSEMBLE_PATHS = (
    "/ivp/ensemble/inventory",
    "/ivp/ensemble/secctrl",
    "/ivp/ensemble/status",
    "/ivp/ensemble/power",
    "/admin/lib/tariff",
    "/ivp/ensemble/dry_contacts",
    "/ivp/ss/dry_contact_settings",
)
