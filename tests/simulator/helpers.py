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
) -> Answer:
    """Request ``path`` the way a client of this firmware would."""
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
    ) as response:
        return Answer(response.status, response.headers, await response.read())


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
