"""Capability detection against scripted gateways with unusual answers."""

import aiohttp
import pytest

from custom_components.enphase_local.envoy import (
    Endpoint,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyConnectionError,
    EnvoyNotReadyError,
    EnvoyTimeoutError,
    ProductionSource,
)

from .helpers import (
    Reply,
    ScriptedServer,
    fixture_bytes,
    info_xml,
    json_reply,
    load_fixture,
    make_token,
)

TOKEN = make_token({"aud": "122112123456", "exp": 1785236000, "enphaseUser": "owner"})
ZERO_PRODUCTION = {
    "wattsNow": 0,
    "wattHoursToday": 0,
    "wattHoursSevenDays": 0,
    "wattHoursLifetime": 0,
}
DISABLED_METERS = [
    meter | {"state": "disabled"} for meter in load_fixture("ivp_meters.json")[:2]
]
STALLED_PRODUCTION = {
    "wattsNow": 3,
    "wattHoursToday": 0,
    "wattHoursSevenDays": 0,
    "wattHoursLifetime": 3_200,
}
NOT_FOUND = Reply(404, b'{"error": "404 - Not Found"}')
HTML = Reply(200, b"<html><body>Envoy</body></html>")


def _serve(scripted: ScriptedServer, **replies: Reply) -> None:
    """Script a metered fw 7.6 gateway with two CTs; ``replies`` override paths."""
    defaults = {
        "info": Reply(200, info_xml()),
        "api_production": Reply(200, fixture_bytes("api_production.json")),
        "inverters": Reply(200, fixture_bytes("api_inverters.json")),
        "meters": json_reply(load_fixture("ivp_meters.json")[:2]),
        "readings": Reply(200, fixture_bytes("ivp_meters_readings.json")),
        "device_data": NOT_FOUND,
        "production_json": Reply(200, fixture_bytes("production.json")),
    }
    paths = {
        "info": "/info",
        "api_production": "/api/v1/production",
        "inverters": "/api/v1/production/inverters",
        "meters": "/ivp/meters",
        "readings": "/ivp/meters/readings",
        "device_data": "/ivp/pdm/device_data",
        "production_json": "/production.json",
    }
    for name, path in paths.items():
        scripted.add(path, replies.get(name, defaults[name]))


def _envoy(scripted: ScriptedServer, session: aiohttp.ClientSession) -> Envoy:
    """Return a token client for the scripted gateway, fast retries."""
    envoy = Envoy(
        scripted.address,
        session=session,
        read_timeout=0.3,
        max_retries=1,
        retry_backoff=0,
    )
    envoy.use_token(TOKEN)
    return envoy


async def test_ct_gateway(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted)
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.CT
    assert capabilities.endpoints == {
        Endpoint.INFO,
        Endpoint.API_PRODUCTION,
        Endpoint.API_INVERTERS,
        Endpoint.METERS,
        Endpoint.METER_READINGS,
    }
    assert capabilities.has(Endpoint.METER_READINGS) is True
    assert capabilities.has(Endpoint.DEVICE_DATA) is False
    assert [meter.eid for meter in capabilities.ct_meters] == [704643328, 704643584]
    assert capabilities.device_data_limit is None
    assert capabilities.notes == (
        (
            "/ivp/pdm/device_data unavailable: GET /ivp/pdm/device_data answered HTTP 404: "
            "the gateway lacks this endpoint"
        ),
    )
    assert "/production.json" not in scripted.paths()


async def test_early_7x_401_on_optional_endpoints(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        info=Reply(200, info_xml(metered=False)),
        meters=Reply(401),
        device_data=Reply(401),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.API_PRODUCTION
    assert capabilities.endpoints == {
        Endpoint.INFO,
        Endpoint.API_PRODUCTION,
        Endpoint.API_INVERTERS,
    }
    assert capabilities.ct_meters == ()
    assert capabilities.refused == frozenset()
    assert capabilities.notes == (
        (
            "/ivp/pdm/device_data unavailable: GET /ivp/pdm/device_data was refused "
            "(HTTP 401): credentials rejected"
        ),
    )
    # A gateway without metering hardware is not asked for its meters.
    assert "/ivp/meters" not in scripted.paths()


async def test_token_rejected(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        api_production=Reply(401),
        inverters=Reply(401),
        meters=Reply(401),
        device_data=Reply(401),
        production_json=Reply(401),
    )
    with pytest.raises(EnvoyAuthenticationError, match="was refused"):
        await _envoy(scripted, session).detect_capabilities()


async def test_401_on_one_endpoint_while_the_token_works_elsewhere(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    """A token the CTs accept is good: a 401 elsewhere means that endpoint is absent."""
    _serve(scripted, api_production=HTML, inverters=Reply(401))
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.CT
    assert Endpoint.API_INVERTERS not in capabilities.endpoints
    assert capabilities.notes[-1].startswith(
        "/api/v1/production/inverters unavailable: GET /api/v1/production/inverters "
        "was refused"
    )


async def test_booting_gateway(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted, api_production=Reply(503))
    with pytest.raises(EnvoyNotReadyError):
        await _envoy(scripted, session).detect_capabilities()


async def test_metered_without_ct_uses_production_json_inverters(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        info=Reply(200, info_xml(software="D8.2.4264")),
        api_production=json_reply(STALLED_PRODUCTION),
        meters=json_reply(DISABLED_METERS),
        device_data=Reply(200, fixture_bytes("ivp_pdm_device_data.json")),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.PRODUCTION_JSON_INVERTERS
    assert capabilities.endpoints == {
        Endpoint.INFO,
        Endpoint.API_PRODUCTION,
        Endpoint.API_INVERTERS,
        Endpoint.METERS,
        Endpoint.DEVICE_DATA,
        Endpoint.PRODUCTION_JSON,
    }
    assert capabilities.ct_meters == ()
    assert capabilities.device_data_limit == 50
    assert capabilities.notes == ("/api/v1/production is stalled on this gateway",)
    assert "/production.json" in scripted.paths()


async def test_inverters_block_that_restarted_loses_to_api_production(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    """Firmware 7.x without CTs: the block restarted (390 kWh) far below the lifetime (19 MWh)."""
    _serve(scripted, meters=json_reply(DISABLED_METERS))
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.API_PRODUCTION
    assert capabilities.notes[-1] == (
        "/production.json inverters block lifetime 390554 Wh is far below "
        "/api/v1/production's 19229325 Wh: it restarted"
    )


async def test_production_ct_without_meters_endpoint_is_trusted(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    """/ivp/meters missing, production.json's eim CT active: the CT's lifetime wins."""
    _serve(
        scripted,
        meters=NOT_FOUND,
        readings=NOT_FOUND,
        api_production=json_reply(STALLED_PRODUCTION),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.PRODUCTION_JSON_EIM
    assert Endpoint.METERS not in capabilities.endpoints


async def test_production_ct_without_meters_endpoint_prefers_a_matching_api(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    """When /api/v1/production counts the same as the eim CT, read the cheap one."""
    _serve(
        scripted,
        meters=NOT_FOUND,
        api_production=json_reply(
            ZERO_PRODUCTION | {"wattsNow": 5305, "wattHoursLifetime": 569_100}
        ),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.API_PRODUCTION


async def test_html_only_gateway_uses_the_production_page(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    """Envoy-R fw 3.7: no JSON anywhere, only the HTML /production page."""
    scripted.add(
        "/info",
        Reply(200, info_xml(software="R3.7.41", metered=False, web_tokens=False)),
    )
    scripted.add("/production.json", HTML)
    scripted.add(
        "/production",
        Reply(
            200,
            b"<html><table><tr><td>Currently</td><td>6.63 kW</td></tr>"
            b"<tr><td>Today</td><td>53.6 kWh</td></tr>"
            b"<tr><td>Since Installation</td><td>133 MWh</td></tr></table></html>",
        ),
    )
    envoy = _envoy(scripted, session)
    capabilities, reads = await envoy.detect()
    assert capabilities.production_source is ProductionSource.PRODUCTION_PAGE
    assert reads.page is not None
    assert (reads.page.watts_now, reads.page.wh_today) == (6630.0, 53_600.0)
    assert reads.page.lifetime_resolution_wh == 1_000_000.0


async def test_metered_without_ct_and_no_inverters_block(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        api_production=json_reply(ZERO_PRODUCTION),
        meters=json_reply(DISABLED_METERS),
        production_json=HTML,
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    # The inverters report: zeros are a quirk of this endpoint, not a boot.
    assert capabilities.production_source is ProductionSource.API_PRODUCTION
    assert Endpoint.API_PRODUCTION in capabilities.endpoints
    assert Endpoint.PRODUCTION_JSON not in capabilities.endpoints
    assert capabilities.notes == (
        (
            "/ivp/pdm/device_data unavailable: GET /ivp/pdm/device_data answered HTTP 404: "
            "the gateway lacks this endpoint"
        ),
        "/api/v1/production reports all zeros",
        "/production.json unavailable: GET /production.json answered an HTML page instead of JSON",
        "/production unavailable: GET /production answered HTTP 404: the gateway lacks this endpoint",
    )


async def test_metered_without_ct_falls_back_to_api_production(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    report = load_fixture("production.json")
    report["production"] = report["production"][1:]
    _serve(scripted, meters=json_reply([]), production_json=json_reply(report))
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.API_PRODUCTION
    assert capabilities.notes[-1] == "/production.json has no inverters block"


async def test_production_ct_without_readings(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted, readings=json_reply({"error": "not ready"}))
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.API_PRODUCTION
    assert len(capabilities.ct_meters) == 2
    assert Endpoint.METER_READINGS not in capabilities.endpoints
    assert "/production.json" not in scripted.paths()


async def test_unreadable_api_production(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        info=Reply(200, info_xml(metered=False)),
        api_production=json_reply({"wattsNow": "many"}),
        meters=json_reply([]),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    # /api/v1/production is unreadable: the inverters block answers instead.
    assert capabilities.production_source is ProductionSource.PRODUCTION_JSON_INVERTERS
    assert capabilities.notes[0] == (
        "/api/v1/production unavailable: GET /api/v1/production: 'wattsNow' is not a number"
    )
    assert Endpoint.API_PRODUCTION not in capabilities.endpoints


async def test_nothing_usable(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        info=Reply(200, info_xml(metered=False)),
        api_production=json_reply({"wattsNow": "many"}),
        inverters=NOT_FOUND,
        production_json=HTML,
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.NONE


async def test_zero_production_on_non_metered(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(
        scripted,
        info=Reply(200, info_xml(metered=False)),
        api_production=json_reply(ZERO_PRODUCTION),
        meters=json_reply([]),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.PRODUCTION_JSON_INVERTERS
    assert "/api/v1/production reports all zeros" in capabilities.notes


async def test_device_data_hang_is_tolerated(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted, device_data=Reply(200, b"{}", delay=1.0))
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.production_source is ProductionSource.CT
    assert capabilities.notes == (
        (
            "/ivp/pdm/device_data unavailable for now: "
            "GET /ivp/pdm/device_data timed out after 0.3 s"
        ),
    )
    # Still polled later: it answers again once the gateway has settled.
    assert Endpoint.DEVICE_DATA in capabilities.endpoints


async def test_meters_hang_fails_detection(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted, meters=Reply(200, b"[]", delay=1.0))
    with pytest.raises(EnvoyTimeoutError, match="GET /ivp/meters timed out"):
        await _envoy(scripted, session).detect_capabilities()


async def test_redirect_fails_detection(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    _serve(scripted, device_data=Reply(301, b"", {"Location": "https://envoy/"}))
    with pytest.raises(EnvoyConnectionError, match="redirected"):
        await _envoy(scripted, session).detect_capabilities()


async def test_partial_device_data_is_noted(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    inverters = load_fixture("api_inverters.json")
    inverters.append(inverters[0] | {"serialNumber": "202020202099"})
    inverters.append(inverters[0] | {"serialNumber": "202020202098"})
    device_data = load_fixture("ivp_pdm_device_data.json")
    device_data["1"] = {"devName": "pcu", "sn": "202020202098", "modGone": True}
    _serve(
        scripted,
        inverters=json_reply(inverters),
        device_data=json_reply(device_data),
    )
    capabilities = await _envoy(scripted, session).detect_capabilities()
    assert capabilities.device_data_limit == 50
    assert capabilities.notes == (
        "/ivp/pdm/device_data lists 2 of 3 inverters (limit 50)",
    )
