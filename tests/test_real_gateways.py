"""Every real-gateway shape (PROTOCOL.md 4.4 and 6) sets up and shows all its data.

Each profile plays a shape seen on real gateways. The expected values are
read from the simulated gateway itself, over HTTP, at the same frozen
instant: the production a user sees must be the gateway's true source, the
lifetime its real lifetime (never a counter that restarted), and every
inverter must have its device.
"""

from dataclasses import dataclass
import re

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local.const import DOMAIN
from envoy_simulator import EnvoySimulator

from .helpers import advance, gateway_json, state_of

DAY = "2025-07-28T19:00:00+00:00"
NIGHT = "2025-07-28T09:00:00+00:00"


@dataclass(frozen=True)
class Shape:
    """What a profile's production comes from, and where its truth is read."""

    source: str
    """The production source the integration must settle on."""
    truth_path: str
    """The endpoint whose lifetime and power are the gateway's truth."""
    inverters: int
    """Inverter devices a user sees."""
    cts: int = 0


SHAPES: dict[str, Shape] = {
    "legacy_standard": Shape("api_production", "/api/v1/production", 10),
    "metered_split": Shape("ct", "/ivp/meters/readings", 24, 2),
    "metered_no_ct": Shape("inverter_detail_sum", "/production.json", 16),
    "total_consumption": Shape("ct", "/ivp/meters/readings", 20, 2),
    "envoy_r_legacy": Shape("api_production", "/api/v1/production", 12),
    "envoy_r_html_only": Shape("production_page", "/production", 0),
    "metered_7x_no_ct": Shape("api_production", "/api/v1/production", 12),
    "no_inverter_list": Shape("inverter_detail_sum", "/api/v1/production", 18),
    "envoy_s_39_quirk": Shape("production_json_inverters", "/production.json", 0),
    "iq_meter_collar": Shape("ct", "/ivp/meters/readings", 22, 4),
    "meters_missing_with_ct": Shape("api_production", "/api/v1/production", 20),
    "mod_gone_everywhere": Shape("ct", "/ivp/meters/readings", 16, 2),
}


_PAGE_UNITS = {"W": 1, "kW": 1e3, "MW": 1e6, "Wh": 1, "kWh": 1e3, "MWh": 1e6}


def _page_value(page: str, label: str) -> float:
    """Return a figure of the HTML production page in W or Wh."""
    text = re.sub(r"<[^>]*>", " ", page)
    match = re.search(rf"{label}\W*([\d.]+)\s*(MWh|kWh|Wh|MW|kW|W)\b", text)
    assert match is not None, label
    return float(match.group(1)) * _PAGE_UNITS[match.group(2)]


async def _truth(sim: EnvoySimulator, shape: Shape) -> tuple[float, float]:
    """Return the gateway's own production power (W) and lifetime (Wh)."""
    body = await gateway_json(sim, shape.truth_path)
    if shape.truth_path == "/ivp/meters/readings":
        meters = await gateway_json(sim, "/ivp/meters")
        eid = next(
            meter["eid"]
            for meter in meters
            if meter["measurementType"] == "production" and meter["state"] == "enabled"
        )
        reading = next(entry for entry in body if entry["eid"] == eid)
        return max(reading["activePower"], 0.0), reading["actEnergyDlvd"]
    if shape.truth_path == "/production.json":
        block = next(
            entry for entry in body["production"] if entry["type"] == "inverters"
        )
        return block["wNow"], block["whLifetime"]
    if shape.truth_path == "/production":
        return _page_value(body, "Currently"), _page_value(body, "Since Installation")
    return body["wattsNow"], body["wattHoursLifetime"]


@pytest.mark.parametrize("when", [DAY, NIGHT])
@pytest.mark.parametrize("profile", list(SHAPES))
async def test_every_shape_sets_up_with_its_true_production(
    hass: HomeAssistant,
    *,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    profile: str,
    when: str,
) -> None:
    """Loaded, the true production source, its power and lifetime, every device."""
    shape = SHAPES[profile]
    freezer.move_to(when)
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 70)

    assert config_entry.state is ConfigEntryState.LOADED
    site = config_entry.runtime_data.site.data
    assert site is not None
    assert site.production_source == shape.source
    power, lifetime_wh = await _truth(simulator, shape)
    serial = simulator.serial
    shown_kwh = float(state_of(hass, f"sensor.envoy_{serial}_production_energy"))
    resolution_kwh = 1_000.0 if shape.source == "production_page" else 0.005
    assert shown_kwh == pytest.approx(lifetime_wh / 1000, abs=resolution_kwh, rel=1e-3)
    assert float(state_of(hass, f"sensor.envoy_{serial}_production_power")) == (
        # Polled up to a minute before the truth was read: power moves meanwhile.
        pytest.approx(power, rel=0.02, abs=10.0)
    )
    devices = dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
    assert sum(device.model == "Microinverter" for device in devices) == shape.inverters
    assert sum((device.model or "").startswith("CT (") for device in devices) == (
        shape.cts
    )


@pytest.mark.parametrize("profile", ["envoy_s_39_quirk"])
async def test_refused_endpoints_are_named_in_a_repair(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Fw 3.9 refusing digest on /api/v1/*: set up with production.json, and say so."""
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert config_entry.state is ConfigEntryState.LOADED
    issue = issue_registry.async_get_issue(
        DOMAIN, f"endpoints_refused_{config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": config_entry.title,
        "endpoints": "/api/v1/production, /api/v1/production/inverters",
    }


@pytest.mark.parametrize("profile", ["iq_meter_collar"])
async def test_meter_collar_shows_every_enabled_ct_and_ignores_stray_readings(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Backfeed next to production, net and storage; disabled slots stay away."""
    freezer.move_to(DAY)
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    devices = dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
    models = sorted(
        device.model or ""
        for device in devices
        if (device.model or "").startswith("CT (")
    )
    assert models == [
        "CT (backfeed, 2 phase)",
        "CT (net-consumption, 2 phase)",
        "CT (production, 2 phase)",
        "CT (storage, 2 phase)",
    ]
    readings = await gateway_json(simulator, "/ivp/meters/readings")
    meters = {
        meter["eid"]: meter for meter in await gateway_json(simulator, "/ivp/meters")
    }
    backfeed_eid = next(
        eid for eid, meter in meters.items() if meter["measurementType"] == "backfeed"
    )
    backfeed = next(entry for entry in readings if entry["eid"] == backfeed_eid)
    assert float(
        state_of(hass, f"sensor.envoy_{simulator.serial}_backfeed_ct_power")
    ) == pytest.approx(backfeed["activePower"], abs=0.01)
