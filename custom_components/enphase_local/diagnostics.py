"""Diagnostics for Enphase Local: raw captures and request statistics, redacted."""

from dataclasses import asdict, is_dataclass
import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_ENLIGHTEN_EMAIL, CONF_ENLIGHTEN_PASSWORD, CONF_TOKEN
from .coordinator import EnphaseLocalConfigEntry

REDACTED = "**REDACTED**"
TO_REDACT = {
    CONF_TOKEN,
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    "serial",
    "serial_number",
    "unique_id",
    "title",
    "username",
}
# Serials in raw bodies: JSON keys the gateway uses, and /info's XML tags.
_RAW_SERIAL_PATTERNS = (
    re.compile(r'("(?:serialNumber|sn|serial_num|serial)"\s*:\s*)"[^"]*"'),
    re.compile(r"(<(?:sn|euaid)>)[^<]*(?=</(?:sn|euaid)>)"),
)


def _redact_text(text: str, serials: set[str]) -> str:
    """Remove serial numbers from a raw response body."""
    for serial in sorted(serials, key=len, reverse=True):
        text = text.replace(serial, REDACTED)
    text = _RAW_SERIAL_PATTERNS[0].sub(rf'\1"{REDACTED}"', text)
    return _RAW_SERIAL_PATTERNS[1].sub(rf"\1{REDACTED}", text)


def _plain(value: Any) -> Any:
    """Return dataclasses and sets as JSON-friendly structures."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


def _redact_keys(value: Any, serials: set[str]) -> Any:
    """Replace serials used as dictionary keys (per-inverter state)."""
    if isinstance(value, dict):
        redacted: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            new_key = _redact_text(str(key), serials)
            if new_key in redacted:
                new_key = f"{new_key}#{index}"
            redacted[new_key] = _redact_keys(item, serials)
        return redacted
    if isinstance(value, list):
        return [_redact_keys(item, serials) for item in value]
    if isinstance(value, str):
        return _redact_text(value, serials)
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    runtime = entry.runtime_data
    serials = {runtime.info.serial}
    inverters = runtime.tiers.inverters
    if inverters is not None and inverters.data:
        serials.update(inverters.data.inverters)

    tiers = {
        coordinator.tier: {
            "update_interval_s": (
                None
                if coordinator.update_interval is None
                else coordinator.update_interval.total_seconds()
            ),
            "last_update_success": coordinator.last_update_success,
            "last_success": (
                None
                if coordinator.last_success is None
                else coordinator.last_success.isoformat()
            ),
            "last_exception": (
                None
                if coordinator.last_exception is None
                else str(coordinator.last_exception)
            ),
        }
        for coordinator in runtime.tiers
    }
    token: dict[str, Any] | None = None
    if (
        runtime.tokens is not None
        and (token_info := runtime.tokens.token_info) is not None
    ):
        token = {
            "role": token_info.role,
            "issued_at": None
            if token_info.issued_at is None
            else token_info.issued_at.isoformat(),
            "expires_at": token_info.expires_at.isoformat(),
            "for_this_gateway": token_info.serial == runtime.info.serial,
            "renewal_credentials_stored": runtime.tokens.has_credentials,
        }

    diagnostics = {
        "config_entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "gateway": async_redact_data(_plain(runtime.info), TO_REDACT),
        "capabilities": _plain(runtime.capabilities),
        "token": token,
        "reachable": runtime.connectivity.reachable,
        "site": _plain(runtime.site.data),
        "tiers": tiers,
        "raw_responses": dict(runtime.envoy.last_responses),
        "request_statistics": _plain(runtime.envoy.stats),
        "energy_state": runtime.energy.as_dict(),
    }
    return _redact_keys(diagnostics, serials)  # type: ignore[no-any-return]
