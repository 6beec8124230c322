"""Every profile serves every endpoint with the seed shapes, over real sockets."""

import xml.etree.ElementTree as ET

import aiohttp
import pytest

from envoy_simulator import PROFILES

from .conftest import SimulatorFactory
from .helpers import (
    ACB_KEYS,
    DEVICE_CHANNEL_KEYS,
    DEVICE_DATA_EXTRA_KEYS,
    DEVICE_KEYS,
    EIM_KEYS,
    INVERTER_KEYS,
    INVERTERS_BLOCK_KEYS,
    LAST_READING_KEYS,
    LIFETIME_KEYS,
    LINE_KEYS,
    METER_KEYS,
    PRODUCTION_JSON_KEYS,
    PRODUCTION_V1_KEYS,
    READING_CHANNEL_KEYS,
    READING_KEYS,
    WATT_HOURS_KEYS,
    WATTS_KEYS,
    fetch,
    media_type,
)

JSON = "application/json"
HTML = "text/html"
# What every endpoint answers on a gateway that has them all: (status, media type).
EVERYTHING: dict[str, tuple[int, str | None]] = {
    "/info": (200, None),
    "/api/v1/production": (200, JSON),
    "/api/v1/production/inverters": (200, JSON),
    "/ivp/meters": (200, None),
    "/ivp/meters/readings": (200, None),
    "/ivp/pdm/device_data": (200, None),
    "/production.json": (200, JSON),
    "/production.json?details=1": (200, JSON),
    "/production": (200, JSON),
    "/inventory.json": (200, JSON),
    "/home.json": (200, JSON),
}
_NO_IVP: dict[str, tuple[int, str | None]] = {
    "/ivp/meters": (404, JSON),
    "/ivp/meters/readings": (404, JSON),
    "/ivp/pdm/device_data": (404, JSON),
}
_PAGE_NOT_FOUND: tuple[int, str | None] = (404, HTML)
# Profile -> the answers that differ from EVERYTHING (envoy_s_39_quirk: its own test).
DIFFERENCES: dict[str, dict[str, tuple[int, str | None]]] = {
    "legacy_standard": _NO_IVP,
    "metered_split": {"/ivp/pdm/device_data": (401, JSON)},
    "metered_three_phase_storage": {},
    "metered_no_ct": {},
    "total_consumption": {},
    "large_site": {},
    "envoy_r_legacy": _NO_IVP
    | {
        "/production.json": (200, HTML),
        "/production.json?details=1": (200, HTML),
        "/production": (200, HTML),
    },
    "envoy_r_html_only": dict.fromkeys(EVERYTHING, _PAGE_NOT_FOUND)
    | {"/info": (200, None), "/production": (200, HTML)}
    # The "Page Not Found" page comes with status 200 and a JSON Content-Type.
    | {"/production.json": (200, JSON), "/production.json?details=1": (200, JSON)},
    "metered_7x_no_ct": {"/ivp/pdm/device_data": (401, JSON)},
    "no_inverter_list": {"/api/v1/production/inverters": (404, JSON)},
    "iq_meter_collar": {},
    "meters_missing_with_ct": _NO_IVP,
    "mod_gone_everywhere": {},
    "iq_battery_storage_ct": {},
    "iq_battery_no_ct": {},
    "acb_only": {"/ivp/pdm/device_data": (401, JSON)},
    "off_grid_event": {},
}
# Imeter and web-tokens as /info shows them (None: the element is absent).
INFO_FLAGS: dict[str, tuple[str | None, str | None]] = {
    "legacy_standard": ("false", "false"),
    "metered_split": ("true", "true"),
    "metered_three_phase_storage": ("true", "true"),
    "metered_no_ct": ("true", "true"),
    "total_consumption": ("true", "true"),
    "large_site": ("true", "true"),
    "envoy_r_legacy": (None, None),
    "envoy_r_html_only": (None, None),
    "metered_7x_no_ct": ("true", "true"),
    "no_inverter_list": ("false", "true"),
    "envoy_s_39_quirk": ("false", None),
    "iq_meter_collar": ("true", "true"),
    "meters_missing_with_ct": ("true", "true"),
    "mod_gone_everywhere": ("true", "true"),
    "iq_battery_storage_ct": ("true", "true"),
    "iq_battery_no_ct": ("true", "true"),
    "acb_only": ("true", "true"),
    "off_grid_event": ("true", "true"),
}
# Profiles whose every endpoint family answers in the seed shapes.
SEED_SHAPED = (
    "legacy_standard",
    "metered_split",
    "metered_three_phase_storage",
    "metered_no_ct",
    "total_consumption",
    "large_site",
    "envoy_r_legacy",
    "metered_7x_no_ct",
    "iq_meter_collar",
    "mod_gone_everywhere",
)


def test_every_profile_has_expectations() -> None:
    assert sorted(INFO_FLAGS) == sorted(PROFILES)
    assert sorted([*DIFFERENCES, "envoy_s_39_quirk"]) == sorted(PROFILES)


@pytest.mark.parametrize("profile", sorted(DIFFERENCES))
async def test_every_endpoint_status_and_content_type(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    sim = await make_sim(profile)
    answers = {path: await fetch(session, sim, path) for path in EVERYTHING}
    seen = {path: (a.status, media_type(a)) for path, a in answers.items()}
    assert seen == EVERYTHING | DIFFERENCES[profile]
    assert sim.stats()["endpoints"]["/info"]["status"] == {"200": 1}


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_info_xml(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    sim = await make_sim(profile)
    answer = await fetch(session, sim, "/info", authenticate=False)
    root = ET.fromstring(answer.body)  # noqa: S314 - our own XML
    device = root.find("device")
    assert device is not None
    assert device.findtext("sn") == PROFILES[profile].serial
    assert device.findtext("pn") == PROFILES[profile].part_number
    software = device.findtext("software")
    assert software is not None
    major = int(PROFILES[profile].firmware.split(".")[0])
    assert software == ("D" if major >= 7 else "R") + PROFILES[profile].firmware
    assert software[1:] == sim.firmware
    assert (device.findtext("imeter"), root.findtext("web-tokens")) == INFO_FLAGS[
        profile
    ]
    assert root.findtext("time") == str(int(sim.now()))
    assert device.findtext("seqnum") == "0"
    assert device.findtext("apiver") == "1"
    assert len(device.findtext("euaid") or "") == 6


@pytest.mark.parametrize("profile", SEED_SHAPED)
async def test_seed_shapes(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession, profile: str
) -> None:
    sim = await make_sim(profile)
    gateway = PROFILES[profile]

    production = (await fetch(session, sim, "/api/v1/production")).json()
    assert set(production) == PRODUCTION_V1_KEYS
    assert all(isinstance(value, int) for value in production.values())

    inverters = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    expected_inverter_keys = (
        INVERTER_KEYS if gateway.major >= 4 else INVERTER_KEYS - {"devType"}
    )
    assert len(inverters) == gateway.inverter_count + gateway.gone_inverters
    assert all(set(entry) == expected_inverter_keys for entry in inverters)
    assert len({entry["serialNumber"] for entry in inverters}) == len(inverters)
    assert all(len(entry["serialNumber"]) == 12 for entry in inverters)

    if gateway.has_meters_endpoint:
        meters = (await fetch(session, sim, "/ivp/meters")).json()
        assert all(set(meter) == METER_KEYS for meter in meters)
        assert [m["measurementType"] for m in meters] == [
            m.measurement_type for m in gateway.meters
        ]
        readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
        enabled = [m for m in meters if m["state"] == "enabled"]
        assert [r["eid"] for r in readings[: len(enabled)]] == [
            m["eid"] for m in enabled
        ]
        for reading in readings:
            assert set(reading) == READING_KEYS
            assert len(reading["channels"]) == 3
            assert all(
                set(channel) == READING_CHANNEL_KEYS for channel in reading["channels"]
            )

    if gateway.has_device_data:
        device_data = (await fetch(session, sim, "/ivp/pdm/device_data")).json()
        assert set(device_data) >= DEVICE_DATA_EXTRA_KEYS
        devices = {
            key: value
            for key, value in device_data.items()
            if key not in DEVICE_DATA_EXTRA_KEYS
        }
        assert devices
        for device in devices.values():
            assert set(device) == DEVICE_KEYS
            channel = device["channels"][0]
            assert set(channel) == DEVICE_CHANNEL_KEYS
            assert set(channel["wattHours"]) == WATT_HOURS_KEYS
            assert set(channel["watts"]) == WATTS_KEYS
            assert set(channel["lifetime"]) == LIFETIME_KEYS
            if device["devName"] == "pcu" and device["active"]:
                assert set(channel["lastReading"]) == LAST_READING_KEYS

    if not gateway.production_json_is_html:
        for path, with_lines in (
            ("/production.json?details=1", True),
            ("/production.json", False),
            ("/production", False),
        ):
            body = (await fetch(session, sim, path)).json()
            assert set(body) == PRODUCTION_JSON_KEYS
            assert set(body["production"][0]) == INVERTERS_BLOCK_KEYS
            assert body["production"][0]["type"] == "inverters"
            eims = [
                e
                for e in body["production"] + body["consumption"]
                if e["type"] == "eim"
            ]
            assert len(eims) == (3 if gateway.metered else 0)
            for eim in eims:
                assert set(eim) == (EIM_KEYS | {"lines"} if with_lines else EIM_KEYS)
                if with_lines:
                    assert len(eim["lines"]) == gateway.phase_count
                    assert all(set(line) == LINE_KEYS for line in eim["lines"])
            assert [set(entry) for entry in body["storage"]] == [ACB_KEYS]


async def test_envoy_r_serves_html_production_page(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("envoy_r_legacy")
    answer = await fetch(session, sim, "/production.json")
    assert answer.status == 200
    assert b"<h1>System Energy Production</h1>" in answer.body
    inverters = (await fetch(session, sim, "/api/v1/production/inverters")).json()
    assert "devType" not in inverters[0]


async def test_unknown_path_is_404_json(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_three_phase_storage")
    answer = await fetch(session, sim, "/ivp/ensemble/nothing_here")
    assert answer.status == 404
    assert answer.json() == {"error": "404 - Not Found"}


async def test_meters_of_no_ct_profile_are_disabled(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("metered_no_ct")
    meters = (await fetch(session, sim, "/ivp/meters")).json()
    assert {m["state"] for m in meters} == {"disabled"}
    assert (await fetch(session, sim, "/ivp/meters/readings")).json() == []
    body = (await fetch(session, sim, "/production.json?details=1")).json()
    eims = [e for e in body["production"] + body["consumption"] if e["type"] == "eim"]
    assert [e["activeCount"] for e in eims] == [0, 0, 0]
    assert body["production"][0]["activeCount"] == 16
    assert body["production"][0]["wNow"] > 0


async def test_large_site_phantom_reading_has_unknown_eid(
    make_sim: SimulatorFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim("large_site")
    meters = (await fetch(session, sim, "/ivp/meters")).json()
    readings = (await fetch(session, sim, "/ivp/meters/readings")).json()
    configured = {m["eid"] for m in meters}
    phantom = [r for r in readings if r["eid"] not in configured]
    assert len(phantom) == 1
    assert phantom[0]["activePower"] == 0.0
    assert phantom[0]["actEnergyDlvd"] == 0.0
