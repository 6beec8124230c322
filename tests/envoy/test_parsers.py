"""Parsers against the seed payloads and the gateway's odd shapes."""

import copy
from typing import Any

import pytest

from custom_components.enphase_local.envoy import (
    DeviceData,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    InverterDetail,
    InverterProduction,
    MeterConfig,
    MeterReading,
    match_meter_readings,
    merge_inverters,
)
from custom_components.enphase_local.envoy.parsers import (
    body_to_json,
    parse_api_production,
    parse_device_data,
    parse_device_inventory,
    parse_info,
    parse_inverters,
    parse_meter_readings,
    parse_meters,
    parse_production_report,
)

from .helpers import fixture_bytes, load_fixture

INFO_XML = b"""<?xml version='1.0' encoding='UTF-8'?>
<envoy_info>
  <time>1753700000</time>
  <device>
    <sn>122112123456</sn>
    <pn>800-00654-r08</pn>
    <software>D8.2.4345</software>
    <euaid>4c8675</euaid>
    <seqnum>0</seqnum>
    <apiver>1</apiver>
    <imeter>true</imeter>
  </device>
  <web-tokens>true</web-tokens>
  <package name="rootfs"><pn>500-00001-r01</pn><version>02.00.00</version></package>
</envoy_info>
"""

ENVOY_R_INFO_XML = b"""<?xml version='1.0' encoding='UTF-8'?>
<envoy_info>
  <time>1753700000</time>
  <device>
    <sn>121500012345</sn>
    <pn>800-00069-r05</pn>
    <software>R3.9.36</software>
  </device>
</envoy_info>
"""


# body_to_json


def test_body_to_json_parses_bytes_without_content_type() -> None:
    assert body_to_json(fixture_bytes("api_production.json"), "/api/v1/production") == {
        "wattHoursToday": 17645,
        "wattHoursSevenDays": 217726,
        "wattHoursLifetime": 19229325,
        "wattsNow": 5326,
    }


def test_body_to_json_skips_bom_and_whitespace() -> None:
    assert body_to_json(b'\xef\xbb\xbf \n[{"eid": 1}]', "/ivp/meters") == [{"eid": 1}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Envoy</body></html>", "HTML page"),
        (b"  <html><body>Not here</body></html>", "HTML page"),
        (b'{"error": "404 - Not Found"}', "error: 404 - Not Found"),
        (b'{"error": {"code": 1}}', "answered an error"),
    ],
)
def test_body_to_json_missing_endpoint(body: bytes, message: str) -> None:
    with pytest.raises(EnvoyEndpointMissingError, match=message) as err:
        body_to_json(body, "/ivp/pdm/device_data")
    assert err.value.endpoint == "/ivp/pdm/device_data"
    assert "/ivp/pdm/device_data" in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"  \r\n", "empty body"),
        (b"{not json", "invalid JSON"),
        (b'{"wattsNow": NaN}', "invalid JSON"),
        (b'{"wattsNow": Infinity}', "invalid JSON"),
        (b"\xff\xfe\x00garbage", "invalid JSON"),
        (b'[{"eid": 1}', "invalid JSON"),
    ],
)
def test_body_to_json_bad_data(body: bytes, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        body_to_json(body, "/ivp/meters/readings")
    assert err.value.endpoint == "/ivp/meters/readings"


# /info


def test_parse_info_metered_gateway() -> None:
    info = parse_info(INFO_XML)
    assert info.serial == "122112123456"
    assert info.part_number == "800-00654-r08"
    assert info.firmware == "8.2.4345"
    assert info.firmware_version == (8, 2, 4345)
    assert info.metered is True
    assert info.web_tokens is True
    assert info.requires_token is True


def test_parse_info_envoy_r_without_imeter() -> None:
    info = parse_info(b"\n  " + ENVOY_R_INFO_XML)
    assert info.serial == "121500012345"
    assert info.part_number == "800-00069-r05"
    assert info.firmware == "3.9.36"
    assert info.firmware_version == (3, 9, 36)
    assert info.metered is None
    assert info.web_tokens is None
    assert info.requires_token is False


@pytest.mark.parametrize(
    ("software", "firmware", "version"),
    [
        ("D7.6.175_f0a3", "7.6.175_f0a3", (7, 6, 175)),
        ("D5.0.62", "5.0.62", (5, 0, 62)),
        ("R4.10.35", "4.10.35", (4, 10, 35)),
        ("8.3.5167", "8.3.5167", (8, 3, 5167)),
        ("D8", "8", (8,)),
        ("Dbeta", "beta", ()),
    ],
)
def test_parse_info_firmware_strings(
    software: str, firmware: str, version: tuple[int, ...]
) -> None:
    body = (
        b"<envoy_info><device><sn>1</sn><software>"
        + software.encode()
        + b"</software><imeter>false</imeter></device>"
        b"<web-tokens>maybe</web-tokens></envoy_info>"
    )
    info = parse_info(body)
    assert info.firmware == firmware
    assert info.firmware_version == version
    assert info.metered is False
    assert info.web_tokens is None
    assert info.part_number is None


def test_parse_info_token_flag_alone_requires_token() -> None:
    info = parse_info(
        b"<envoy_info><device><sn>1</sn><software>Dbeta</software></device>"
        b"<web-tokens>TRUE</web-tokens></envoy_info>"
    )
    assert info.requires_token is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not xml at all", "not XML"),
        (b"", "not XML"),
        (b"<html><body><h1>Router login</h1></body></html>", "not an Envoy"),
        (b"<envoy_info><device><pn>800</pn></device></envoy_info>", "not an Envoy"),
        (b"<envoy_info><sn>1</sn></envoy_info>", "not an Envoy"),
        (b"<envoy_info><device><sn> </sn></device></envoy_info>", "not an Envoy"),
        (b"<envoy_info><device><sn>1</sn></device></envoy_info>", "no firmware"),
        (
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><envoy_info>&a;</envoy_info>',
            "DTD",
        ),
        (b"<!DOCTYPE html><html></html>", "DTD"),
    ],
)
def test_parse_info_not_an_envoy(body: bytes, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_info(body)
    assert err.value.endpoint == "/info"


# /api/v1/production


def test_parse_api_production_seed() -> None:
    production = parse_api_production(load_fixture("api_production.json"))
    assert production.watts_now == 5326
    assert production.watt_hours_today == 17645
    assert production.watt_hours_seven_days == 217726
    assert production.watt_hours_lifetime == 19229325


def test_parse_api_production_floats_and_unknown_fields() -> None:
    production = parse_api_production(
        {
            "wattsNow": 12.5,
            "wattHoursToday": 0,
            "wattHoursSevenDays": 1.0,
            "wattHoursLifetime": 99,
            "newField": "ignored",
        }
    )
    assert production.watts_now == 12.5
    assert production.watt_hours_seven_days == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"wattsNow": True}, "'wattsNow' is not a number"),
        ({"wattsNow": "5326"}, "'wattsNow' is not a number"),
        ({"wattHoursLifetime": None}, "'wattHoursLifetime' is missing"),
        ({"wattHoursToday": [1]}, "'wattHoursToday' is not a number"),
    ],
)
def test_parse_api_production_bad_fields(change: dict[str, Any], message: str) -> None:
    payload = load_fixture("api_production.json") | change
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_api_production(payload)
    assert err.value.endpoint == "/api/v1/production"


@pytest.mark.parametrize("payload", [[], "text", None, 5])
def test_parse_api_production_not_an_object(payload: object) -> None:
    with pytest.raises(EnvoyDataError, match="payload is not a JSON object"):
        parse_api_production(payload)


# /api/v1/production/inverters


def test_parse_inverters_seed() -> None:
    assert parse_inverters(load_fixture("api_inverters.json")) == [
        InverterProduction(
            serial="202020202020",
            last_report_date=1748576887,
            last_report_watts=255,
            max_report_watts=371,
            dev_type=1,
        ),
        InverterProduction(
            serial="202020202021",
            last_report_date=1748576917,
            last_report_watts=78,
            max_report_watts=309,
            dev_type=1,
        ),
    ]


def test_parse_inverters_fw3_without_dev_type() -> None:
    inverters = parse_inverters(
        [
            {
                "serialNumber": "121212121212",
                "lastReportDate": 1400000000.0,
                "lastReportWatts": 0,
                "unknown": {"nested": True},
            }
        ]
    )
    assert inverters == [
        InverterProduction(
            serial="121212121212",
            last_report_date=1400000000,
            last_report_watts=0,
            max_report_watts=None,
            dev_type=None,
        )
    ]
    assert isinstance(inverters[0].last_report_date, int)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"serialNumber": "1"}, "payload is not a JSON array"),
        (["202020202020"], "entry 0 of the payload is not a JSON object"),
        (
            [{"lastReportDate": 1, "lastReportWatts": 1}],
            "'serialNumber' is missing",
        ),
        (
            [{"serialNumber": "", "lastReportDate": 1, "lastReportWatts": 1}],
            "'serialNumber' is missing",
        ),
        (
            [{"serialNumber": 12, "lastReportDate": 1, "lastReportWatts": 1}],
            "'serialNumber' is not a string",
        ),
        (
            [{"serialNumber": "1", "lastReportDate": 1.5, "lastReportWatts": 1}],
            "'lastReportDate' is not a whole number",
        ),
        (
            [{"serialNumber": "1", "lastReportDate": False, "lastReportWatts": 1}],
            "'lastReportDate' is not a number",
        ),
        (
            [
                {
                    "serialNumber": "1",
                    "lastReportDate": 1,
                    "lastReportWatts": 1,
                    "devType": "1",
                }
            ],
            "'devType' is not a number",
        ),
    ],
)
def test_parse_inverters_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_inverters(payload)
    assert err.value.endpoint == "/api/v1/production/inverters"


# /ivp/meters and readings


def test_parse_meters_seed() -> None:
    meters = parse_meters(load_fixture("ivp_meters.json"))
    assert [meter.eid for meter in meters] == [704643328, 704643584, 704643840]
    assert [meter.measurement_type for meter in meters] == [
        "production",
        "net-consumption",
        "storage",
    ]
    assert meters[0] == MeterConfig(
        eid=704643328,
        state="enabled",
        measurement_type="production",
        phase_mode="split",
        phase_count=2,
        metering_status="normal",
        status_flags=(),
    )
    assert all(meter.enabled for meter in meters)


def test_parse_meters_non_metered_is_empty() -> None:
    assert parse_meters([]) == []


def test_parse_meters_old_firmware_shapes() -> None:
    meters = parse_meters(
        [
            {"eid": 1, "state": "disabled", "measurementType": "production"},
            {
                "eid": 2,
                "state": "enabled",
                "measurementType": "pv3p",
                "phaseMode": "split",
                "statusFlags": ["production-imbalance", 7, "negative-production"],
                "extra": "ignored",
            },
            {
                "eid": 3,
                "state": "enabled",
                "measurementType": "backfeed",
                "phaseMode": "single",
            },
        ]
    )
    assert meters[0].enabled is False
    assert meters[0].phase_mode is None
    assert meters[0].phase_count == 3
    assert meters[0].metering_status is None
    assert meters[0].status_flags is None
    assert meters[1].phase_count == 2
    assert meters[1].status_flags == ("production-imbalance", "negative-production")
    assert meters[2].phase_count == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([{"state": "enabled", "measurementType": "production"}], "'eid' is missing"),
        ([{"eid": 1, "measurementType": "production"}], "'state' is missing"),
        ([{"eid": 1, "state": "enabled"}], "'measurementType' is missing"),
        (
            [
                {
                    "eid": 1,
                    "state": "enabled",
                    "measurementType": "x",
                    "statusFlags": "ok",
                }
            ],
            "statusFlags is not a JSON array",
        ),
        (
            [{"eid": 1, "state": "enabled", "measurementType": "x", "phaseCount": "2"}],
            "'phaseCount' is not a number",
        ),
    ],
)
def test_parse_meters_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_meters(payload)
    assert err.value.endpoint == "/ivp/meters"


def test_parse_meter_readings_seed_untrimmed() -> None:
    readings = parse_meter_readings(load_fixture("ivp_meters_readings.json"))
    assert [reading.eid for reading in readings] == [704643328, 704643584, 704643840]
    production = readings[0]
    assert production.timestamp == 1722967007
    assert production.active_energy_delivered_wh == 13431336.968
    assert production.active_energy_received_wh == 164.852
    assert production.apparent_energy_vah == 17695037.667
    assert production.reactive_energy_lagging_varh == 2870787.07
    assert production.reactive_energy_leading_varh == 197885.914
    assert production.active_power_w == 7131.017
    assert production.apparent_power_va == 7237.365
    assert production.reactive_power_var == -3.719
    assert production.power_factor == 0.985
    assert production.voltage_v == 247.307
    assert production.current_a == 58.537
    assert production.frequency_hz == 60.0
    assert len(production.channels) == 3
    assert production.channels[1].eid == 1778385170
    assert production.channels[1].voltage_v == 123.736
    assert production.channels[2].active_power_w == 0.0
    assert readings[1].channels[2].active_power_w == -3545.209


def test_parse_meter_readings_sparse_entry() -> None:
    readings = parse_meter_readings([{"eid": 5, "activePower": 1, "future": "x"}])
    assert readings == [
        MeterReading(
            eid=5,
            timestamp=None,
            active_energy_delivered_wh=None,
            active_energy_received_wh=None,
            apparent_energy_vah=None,
            reactive_energy_lagging_varh=None,
            reactive_energy_leading_varh=None,
            active_power_w=1,
            apparent_power_va=None,
            reactive_power_var=None,
            power_factor=None,
            voltage_v=None,
            current_a=None,
            frequency_hz=None,
        )
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"eid": 1}, "payload is not a JSON array"),
        ([{"activePower": 1}], "'eid' is missing"),
        ([{"eid": 1, "activePower": True}], "'activePower' is not a number"),
        ([{"eid": 1, "channels": {"eid": 2}}], "channels is not a JSON array"),
        ([{"eid": 1, "channels": [{"voltage": 1}]}], "'eid' is missing"),
    ],
)
def test_parse_meter_readings_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_meter_readings(payload)
    assert err.value.endpoint == "/ivp/meters/readings"


def _reading(
    eid: int, power: float, channel_powers: tuple[float, ...]
) -> dict[str, Any]:
    """Return a readings entry with one channel per power given."""
    return {
        "eid": eid,
        "activePower": power,
        "channels": [
            {"eid": eid * 10 + index, "activePower": channel_power}
            for index, channel_power in enumerate(channel_powers)
        ],
    }


def test_match_meter_readings_by_eid_not_position() -> None:
    meters = parse_meters(
        [
            {
                "eid": 704643328,
                "state": "enabled",
                "measurementType": "production",
                "phaseMode": "three",
                "phaseCount": 1,
            },
            {
                "eid": 704643584,
                "state": "enabled",
                "measurementType": "net-consumption",
                "phaseMode": "split",
                "phaseCount": 2,
            },
            {
                "eid": 704643840,
                "state": "disabled",
                "measurementType": "storage",
                "phaseCount": 2,
            },
            {
                "eid": 704644096,
                "state": "enabled",
                "measurementType": "evse",
                "phaseCount": 1,
            },
        ]
    )
    readings = parse_meter_readings(
        [
            _reading(1, 0, (0, 0, 0)),
            _reading(704643584, -800.5, (-400.0, -400.5, 3.0)),
            _reading(704643840, 10, (5, 5, 0)),
            _reading(704643328, 2100.0, (2100.0, 7.0, 9.0)),
            _reading(2, 0, (0, 0, 0)),
        ]
    )
    matched = match_meter_readings(meters, readings)
    assert sorted(matched) == [704643328, 704643584]
    assert matched[704643328].active_power_w == 2100.0
    assert [c.active_power_w for c in matched[704643328].channels] == [2100.0]
    assert matched[704643584].active_power_w == -800.5
    assert [c.active_power_w for c in matched[704643584].channels] == [-400.0, -400.5]


def test_match_meter_readings_seed_trims_to_phase_count() -> None:
    matched = match_meter_readings(
        parse_meters(load_fixture("ivp_meters.json")),
        parse_meter_readings(load_fixture("ivp_meters_readings.json")),
    )
    assert [len(reading.channels) for reading in matched.values()] == [2, 2, 2]
    assert matched[704643840].channels[1].eid == 1778385682


# /ivp/pdm/device_data


def test_parse_device_data_seed() -> None:
    data = parse_device_data(load_fixture("ivp_pdm_device_data.json"))
    assert data.device_count == 2
    assert data.device_data_limit == 50
    assert sorted(data.inverters) == ["202020202020", "202020202021"]
    assert data.inverters["202020202020"] == InverterDetail(
        device_id="553648384",
        serial="202020202020",
        watt_hours_today=1239,
        watt_hours_yesterday=455,
        watt_hours_week=7466,
        watts_now=255,
        watts_max=371,
        last_report_date=1748576887,
        report_duration_s=903,
        energy_in_report_wh=64.0,
        ac_voltage_v=248.156,
        ac_current_a=1.049,
        ac_frequency_hz=50.013,
        dc_voltage_v=32.363,
        dc_current_a=8.078,
        temperature_c=38,
        rssi=110,
        issi=68,
        lifetime_joules=354281850,
    )
    assert data.inverters["202020202020"].lifetime_energy_wh == pytest.approx(98411.625)
    assert data.inverters["202020202021"].ac_current_a == 0.435


def _pcu(serial: str, **changes: Any) -> dict[str, Any]:
    """Return a seed pcu entry for ``serial`` with top-level changes."""
    entry: dict[str, Any] = copy.deepcopy(
        load_fixture("ivp_pdm_device_data.json")["553648384"]
    )
    entry["sn"] = serial
    entry.update(changes)
    return entry


def test_parse_device_data_filters_entries() -> None:
    data = parse_device_data(
        {
            "1": _pcu("A1"),
            "2": _pcu("GONE", modGone=True, channels=[]),
            "3": _pcu("INACTIVE", active=False),
            "4": {"devName": "eim", "sn": "EIM1", "active": True, "modGone": False},
            "5": {"devName": "acb", "sn": "ACB1", "active": True},
            "6": {"devName": "nsrb", "sn": "NSRB1", "active": True},
            "7": {"sn": "NONAME"},
            "8": _pcu("NOFLAGS", channels=[]),
            "9": _pcu("GONE2", active=True, modGone=True),
            "10": _pcu("", modGone=True),
            "11": {"devName": "pcu", "modGone": True, "sn": 5},
            "deviceCount": 8,
            "deviceDataLimit": 50,
            "futureScalar": "x",
        }
    )
    assert sorted(data.inverters) == ["A1", "NOFLAGS"]
    assert data.gone_serials == {"GONE", "GONE2"}
    assert data.inverters["A1"].device_id == "1"
    empty = data.inverters["NOFLAGS"]
    assert empty.watts_now is None
    assert empty.last_report_date is None
    assert empty.energy_in_report_wh is None
    assert empty.ac_voltage_v is None
    assert empty.lifetime_joules is None
    assert empty.lifetime_energy_wh is None


def test_parse_device_data_active_flag_absent_counts_as_active() -> None:
    entry = _pcu("NOACTIVE")
    del entry["active"]
    del entry["modGone"]
    data = parse_device_data({"9": entry})
    assert list(data.inverters) == ["NOACTIVE"]
    assert data.device_count is None
    assert data.device_data_limit is None


def test_parse_device_data_unsigned_negatives() -> None:
    entry = _pcu("NEG")
    reading = entry["channels"][0]["lastReading"]
    reading["dcCurrentINmA"] = 4294967292
    reading["acCurrentInmA"] = 4294966296
    reading["channelTemp"] = 4294967291
    reading["joulesProduced"] = 4294963696
    entry["channels"][0]["watts"]["now"] = 4294967295
    entry["channels"][0]["lifetime"]["joulesProduced"] = 4294967000
    detail = parse_device_data({"1": entry}).inverters["NEG"]
    assert detail.dc_current_a == -0.004
    assert detail.ac_current_a == -1.0
    assert detail.temperature_c == -5
    assert detail.energy_in_report_wh == -1.0
    assert detail.watts_now == -1
    assert detail.lifetime_joules == 4294967000


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "payload is not a JSON object"),
        ({"1": _pcu("X", sn=None)}, "'sn' is missing"),
        ({"1": _pcu("X", channels={"0": {}})}, "X channels is not a JSON array"),
        ({"1": _pcu("X", channels=[[]])}, "entry 0 of X channels is not a JSON object"),
        ({"1": _pcu("X", channels=[{"watts": 5}])}, "'watts' is not a JSON object"),
        ({"1": _pcu("X", channels=[{"watts": {"now": "5"}}])}, "'now' is not a number"),
        ({"deviceDataLimit": "50"}, "'deviceDataLimit' is not a number"),
    ],
)
def test_parse_device_data_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_device_data(payload)
    assert err.value.endpoint == "/ivp/pdm/device_data"


# merge_inverters


def test_merge_inverters_detail_where_listed() -> None:
    basic = [
        *parse_inverters(load_fixture("api_inverters.json")),
        InverterProduction(
            serial="303030303030",
            last_report_date=1748576000,
            last_report_watts=12,
            max_report_watts=None,
            dev_type=11,
        ),
        InverterProduction(
            serial="505050505050",
            last_report_date=1600000000,
            last_report_watts=0,
            max_report_watts=0,
            dev_type=1,
        ),
    ]
    device_data = parse_device_data(
        load_fixture("ivp_pdm_device_data.json")
        | {"9": _pcu("404040404040"), "10": _pcu("505050505050", modGone=True)}
    )
    merged = merge_inverters(basic, device_data)
    assert list(merged) == [
        "202020202020",
        "202020202021",
        "303030303030",
        "505050505050",
        "404040404040",
    ]
    assert [serial for serial, inverter in merged.items() if inverter.gone] == [
        "505050505050"
    ]
    assert merged["505050505050"].detail is None
    first = merged["202020202020"]
    assert first.last_report_watts == 255
    assert first.detail is device_data.inverters["202020202020"]
    battery = merged["303030303030"]
    assert battery.dev_type == 11
    assert battery.detail is None
    only_detail = merged["404040404040"]
    assert only_detail.dev_type == 1
    assert only_detail.last_report_date == 1748576887
    assert only_detail.last_report_watts == 255
    assert only_detail.max_report_watts == 371
    assert only_detail.detail is device_data.inverters["404040404040"]


def test_merge_inverters_without_device_data() -> None:
    merged = merge_inverters(parse_inverters(load_fixture("api_inverters.json")), None)
    assert [inverter.detail for inverter in merged.values()] == [None, None]
    assert merged["202020202021"].max_report_watts == 309


def test_merge_inverters_detail_only_without_readings() -> None:
    device_data = parse_device_data({"1": _pcu("EMPTY", channels=[])})
    merged = merge_inverters([], device_data)
    assert merged["EMPTY"].last_report_date == 0
    assert merged["EMPTY"].last_report_watts == 0
    assert merged["EMPTY"].max_report_watts is None


def test_merge_inverters_large_site() -> None:
    basic = [
        InverterProduction(
            serial=f"5000000{index:05d}",
            last_report_date=1753700000 + index,
            last_report_watts=index,
            max_report_watts=300,
            dev_type=1,
        )
        for index in range(120)
    ]
    device_data = DeviceData(
        inverters={
            serial: parse_device_data({"1": _pcu(serial)}).inverters[serial]
            for serial in [inverter.serial for inverter in basic[:48]]
        },
        device_count=50,
        device_data_limit=50,
    )
    merged = merge_inverters(basic, device_data)
    assert len(merged) == 120
    assert sum(1 for inverter in merged.values() if inverter.detail is not None) == 48
    assert merged["500000000119"].last_report_watts == 119
    assert merged["500000000119"].detail is None


# /production.json and /production


def test_parse_production_report_seed_details() -> None:
    report = parse_production_report(load_fixture("production_json_details.json"))
    assert report.inverters is not None
    assert report.inverters.active_count == 12
    assert report.inverters.reading_time == 1753703609
    assert report.inverters.watts_now == 3554
    assert report.inverters.wh_lifetime == 390554
    production = report.production
    assert production is not None
    assert production.measurement_type == "production"
    assert production.active_count == 1
    assert production.reading_time == 1753703631
    assert production.values.watts_now == 5305.189
    assert production.values.wh_lifetime == 569121.609
    assert production.values.wh_today == 19282.609
    assert production.values.wh_last_seven_days == 550554.609
    assert production.values.vah_lifetime == 639677.045
    assert production.values.varh_lead_lifetime == 654.214
    assert production.values.varh_lag_lifetime == 111284.568
    assert production.values.rms_voltage_v == 694.538
    assert production.values.rms_current_a == 22.387
    assert production.values.reactive_power_var == 66.542
    assert production.values.apparent_power_va == 5312.124
    assert production.values.power_factor == 1.0
    assert [line.rms_voltage_v for line in production.lines] == [
        237.874,
        229.76,
        226.904,
    ]
    assert report.total_consumption is not None
    assert report.total_consumption.values.watts_now == 324.922
    assert len(report.total_consumption.lines) == 3
    assert report.net_consumption is not None
    assert report.net_consumption.values.wh_lifetime == -315944.246
    assert report.net_consumption.lines[1].watts_now == -886.257
    assert len(report.storage) == 1
    storage = report.storage[0]
    assert storage.type == "acb"
    assert storage.active_count == 0
    assert storage.reading_time == 0
    assert storage.watts_now == 0
    assert storage.wh_now == 0
    assert storage.state == "idle"
    assert storage.percent_full is None


def test_parse_production_report_legacy_has_no_lines() -> None:
    report = parse_production_report(
        load_fixture("production.json"), endpoint="/production"
    )
    assert report.production is not None
    assert report.production.lines == ()
    assert report.net_consumption is not None
    assert report.net_consumption.lines == ()
    assert report.inverters is not None
    assert report.inverters.watts_now == 3554


def test_parse_production_report_matches_by_type_not_position() -> None:
    payload = load_fixture("production_json_details.json")
    payload["production"].reverse()
    payload["consumption"].reverse()
    payload["production"].append({"type": "rgms", "activeCount": 0})
    payload["consumption"].append(
        {"type": "eim", "measurementType": "load", "activeCount": 0}
    )
    report = parse_production_report(payload)
    assert report.inverters is not None
    assert report.inverters.active_count == 12
    assert report.production is not None
    assert report.production.values.watts_now == 5305.189
    assert report.total_consumption is not None
    assert report.total_consumption.measurement_type == "total-consumption"
    assert report.net_consumption is not None
    assert report.net_consumption.values.watts_now == -4980.266


def test_parse_production_report_non_metered_and_absent_ct() -> None:
    report = parse_production_report(
        {
            "production": [
                {"type": "inverters", "activeCount": 10, "wNow": 0, "whLifetime": 5},
                {
                    "type": "eim",
                    "activeCount": 0,
                    "measurementType": "production",
                    "wNow": 3.1,
                },
            ],
        }
    )
    assert report.inverters is not None
    assert report.inverters.reading_time is None
    assert report.production is not None
    assert report.production.active_count == 0
    assert report.production.values.wh_today is None
    assert report.total_consumption is None
    assert report.net_consumption is None
    assert report.storage == ()


def test_parse_production_report_inverters_only_from_production() -> None:
    report = parse_production_report(
        {"consumption": [{"type": "inverters", "activeCount": 3}]}
    )
    assert report.inverters is None
    assert report.production is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "payload is not a JSON object"),
        ({"storage": []}, "neither production nor consumption"),
        ({"production": {}}, "production is not a JSON array"),
        ({"production": [{"type": "inverters"}]}, "'activeCount' is missing"),
        (
            {"production": [{"type": "eim", "activeCount": 1}]},
            "'measurementType' is missing",
        ),
        (
            {
                "production": [
                    {
                        "type": "eim",
                        "measurementType": "production",
                        "activeCount": 1,
                        "lines": [3],
                    }
                ]
            },
            "entry 0 of production lines is not a JSON object",
        ),
        ({"consumption": [], "storage": [{"activeCount": 0}]}, "'type' is missing"),
        (
            {
                "production": [
                    {"type": "inverters", "activeCount": 1, "wNow": True},
                ]
            },
            "'wNow' is not a number",
        ),
    ],
)
def test_parse_production_report_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_production_report(payload, endpoint="/production")
    assert err.value.endpoint == "/production"


def test_parse_device_inventory_by_serial() -> None:
    """Microinverters and AC Batteries by serial; missing fields are None."""
    parts = parse_device_inventory(load_fixture("inventory.json"))

    assert sorted(parts) == [
        "121927009917",
        "482219001100",
        "482219001101",
        "482219001102",
    ]
    assert parts["482219001100"].part_number == "800-01391-r03"
    assert parts["482219001100"].firmware == "520-00082-r01-v04.30.32"
    assert parts["121927009917"].part_number == "800-00930-r02"
    assert parts["482219001102"].part_number is None
    assert parts["482219001102"].firmware is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([], {}),
        ([{"type": "NSRB"}], {}),
        ([{"type": "PCU", "devices": [{"part_num": "800-01391-r03"}]}], {}),
        ([{"type": "PCU", "devices": [{"serial_num": "", "part_num": "x"}]}], {}),
    ],
)
def test_parse_device_inventory_skips_what_names_no_device(
    payload: object, expected: dict[str, object]
) -> None:
    assert parse_device_inventory(payload) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "PCU"}, "the payload is not a JSON array"),
        ([{"type": "PCU", "devices": {}}], "'devices' is not a JSON array"),
        ([{"devices": [{"serial_num": 4}]}], "'serial_num' is not a string"),
        (
            [{"devices": [{"serial_num": "1", "img_pnum_running": ["v"]}]}],
            "'img_pnum_running' is not a string",
        ),
    ],
)
def test_parse_device_inventory_bad_shapes(payload: object, message: str) -> None:
    with pytest.raises(EnvoyDataError, match=message) as err:
        parse_device_inventory(payload)
    assert err.value.endpoint == "/inventory.json"
