"""Diagnostics for Enphase Local: raw captures and request statistics, redacted.

Serial numbers are replaced by stable pseudonyms (``REDACTED_SERIAL_1`` is the
gateway, the others numbered as they first appear), so a download still
tells inverters apart and can be turned into a replay directory
(``python -m envoy_simulator.replay convert``) that reproduces the gateway.
Tokens, passwords and the Enlighten e-mail address never appear.
"""

from dataclasses import asdict, is_dataclass
import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_ENLIGHTEN_EMAIL, CONF_ENLIGHTEN_PASSWORD, CONF_TOKEN
from .coordinator import EnphaseLocalConfigEntry

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
_JSON_SERIAL = re.compile(
    r'("(?:serialNumber|sn|serial_num|serial|pv_serial_nb)"\s*:\s*)"([^"]*)"'
)
_XML_SERIAL = re.compile(r"(<sn>)([^<]*)(?=</sn>)")
_XML_UNIT_ID = re.compile(r"(<euaid>)[^<]*(?=</euaid>)")


class Pseudonyms:
    """Give every serial a stable stand-in, numbered in order of appearance."""

    def __init__(self, gateway_serial: str, known: set[str]) -> None:
        """Give the gateway number 1, then the known serials in sorted order."""
        self._names: dict[str, str] = {}
        self.name(gateway_serial)
        for serial in sorted(known - {gateway_serial}):
            self.name(serial)

    def name(self, serial: str) -> str:
        """Return the pseudonym of ``serial``."""
        if not serial:
            return serial
        if serial not in self._names:
            self._names[serial] = f"REDACTED_SERIAL_{len(self._names) + 1}"
        return self._names[serial]

    def text(self, text: str) -> str:
        """Replace every serial in a raw response body or a key."""
        text = _JSON_SERIAL.sub(
            lambda match: f'{match.group(1)}"{self.name(match.group(2))}"', text
        )
        text = _XML_SERIAL.sub(
            lambda match: f"{match.group(1)}{self.name(match.group(2))}", text
        )
        text = _XML_UNIT_ID.sub(r"\1**REDACTED**", text)
        # Serials also appear inside other fields (device names, eim "sn"s).
        for serial in sorted(self._names, key=len, reverse=True):
            text = text.replace(serial, self._names[serial])
        return text

    def deep(self, value: Any) -> Any:
        """Replace serials in every key and string of ``value``."""
        if isinstance(value, dict):
            return {self.text(str(key)): self.deep(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.deep(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value


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


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnphaseLocalConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    runtime = entry.runtime_data
    known: set[str] = set()
    inverters = runtime.tiers.inverters
    if inverters is not None and inverters.data:
        known.update(inverters.data.inverters)
    pseudonyms = Pseudonyms(runtime.info.serial, known)
    # Bodies first: every serial they hold gets its number before the rest.
    raw_responses = {
        path: pseudonyms.text(body)
        for path, body in runtime.envoy.last_responses.items()
    }

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
        "tiers": tiers,
        "site": _plain(runtime.site.data),
        "request_statistics": _plain(runtime.envoy.stats),
        "energy_state": runtime.energy.as_dict(),
    }
    redacted: dict[str, Any] = pseudonyms.deep(diagnostics)
    redacted["raw_responses"] = raw_responses
    return redacted
