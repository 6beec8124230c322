"""The request layer against a scripted loopback gateway (plain HTTP)."""

import asyncio
import dataclasses
import time

import aiohttp
import pytest

from custom_components.enphase_local.envoy import (
    Envoy,
    EnvoyAuthenticationError,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyNotReadyError,
    EnvoyRedirectError,
    EnvoyTimeoutError,
    EnvoyTokenError,
    installer_password,
    parse_host,
)

from .helpers import (
    Reply,
    ScriptedServer,
    closed_port,
    fixture_bytes,
    info_xml,
    json_reply,
    load_fixture,
    make_token,
)

SERIAL = "122112123456"
TOKEN = make_token({"aud": SERIAL, "exp": 1785236000, "enphaseUser": "owner"})
ZERO_PRODUCTION = {
    "wattsNow": 0,
    "wattHoursToday": 0,
    "wattHoursSevenDays": 0,
    "wattHoursLifetime": 0,
}


def _envoy(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession | None,
    *,
    read_timeout: float = 2.0,
    max_retries: int = 2,
    retry_backoff: float = 0.0,
) -> Envoy:
    """Return a client for the scripted gateway."""
    return Envoy(
        scripted.address,
        session=session,
        read_timeout=read_timeout,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
    )


async def _probed(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession | None,
    info: bytes = info_xml(),
    **kwargs: float,
) -> Envoy:
    """Return a client that has probed the scripted gateway (over HTTP)."""
    scripted.add("/info", Reply(200, info))
    envoy = _envoy(scripted, session, **kwargs)  # type: ignore[arg-type]
    await envoy.probe()
    scripted.requests.clear()
    return envoy


# Hosts


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        ("192.168.1.5", "192.168.1.5", None),
        (" envoy.local ", "envoy.local", None),
        ("192.168.1.5:8443", "192.168.1.5", 8443),
        ("[fe80::1]", "fe80::1", None),
        ("[fe80::1]:8443", "fe80::1", 8443),
        ("fe80::1", "fe80::1", None),
        ("2001:db8::5", "2001:db8::5", None),
        ("https://192.168.1.5/", "192.168.1.5", None),
        ("http://envoy.local:8080", "envoy.local", 8080),
        ("envoy.local/", "envoy.local", None),
    ],
)
def test_parse_host(host: str, address: str, port: int | None) -> None:
    assert parse_host(host) == (address, port)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "  ",
        ":80",
        "[fe80::1",
        "[fe80::1]8443",
        "[]:80",
        "envoy:port",
        "envoy:0",
        "envoy:70000",
    ],
)
def test_parse_host_invalid(host: str) -> None:
    with pytest.raises(EnvoyConnectionError, match="Invalid"):
        Envoy(host)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("192.168.1.5", "https://192.168.1.5"),
        ("[fe80::1]:8443", "https://[fe80::1]:8443"),
        ("fe80::1", "https://[fe80::1]"),
        ("envoy.local:80", "https://envoy.local:80"),
    ],
)
def test_base_url_for_hosts(host: str, url: str) -> None:
    envoy = Envoy(host)
    assert envoy.host == host
    assert envoy.base_url is None
    assert envoy.info is None
    assert envoy._url_for("https") == url


# Probe


async def test_probe_falls_back_to_http(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/info", Reply(200, info_xml(software="D5.0.62", web_tokens=False)))
    envoy = _envoy(scripted, session)
    info = await envoy.probe()
    assert info.serial == SERIAL
    assert info.firmware == "5.0.62"
    assert envoy.info is info
    assert envoy.base_url == f"http://{scripted.address}"
    # The HTTPS attempt never reaches the plain-HTTP handler.
    assert scripted.paths() == ["/info"]
    stats = envoy.stats["/info"]
    assert stats.requests == 2
    assert stats.failures == 1
    assert stats.last_status == 200
    assert stats.last_error is not None
    assert stats.last_error.startswith("GET /info failed")
    assert stats.last_success is not None
    assert envoy.last_responses["/info"].startswith("<?xml")
    # Once HTTP worked it is tried first.
    await envoy.probe()
    assert envoy.stats["/info"].requests == 3


async def test_probe_not_an_envoy(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/info", Reply(200, b"<html><body>Router</body></html>"))
    with pytest.raises(EnvoyDataError, match="not an Envoy"):
        await _envoy(scripted, session).probe()


async def test_probe_redirect_to_https_that_fails(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add(
        "/info", Reply(301, b"", {"Location": f"https://{scripted.address}/info"})
    )
    envoy = _envoy(scripted, session, max_retries=1)
    with pytest.raises(EnvoyConnectionError, match="GET /info failed") as err:
        await envoy.probe()
    assert err.value.endpoint == "/info"
    assert envoy.base_url is None
    # HTTPS once, HTTP (redirect, not retried), then HTTPS with its retry.
    assert envoy.stats["/info"].requests == 4


async def test_probe_unreachable(session: aiohttp.ClientSession) -> None:
    envoy = Envoy(f"127.0.0.1:{closed_port()}", session=session, retry_backoff=0)
    with pytest.raises(EnvoyConnectionError, match="GET /info failed") as err:
        await envoy.probe()
    assert err.value.endpoint == "/info"
    assert envoy.stats["/info"].requests == 4
    assert envoy.stats["/info"].failures == 4
    assert envoy.stats["/info"].last_status is None


async def test_reads_probe_first_with_own_session(scripted: ScriptedServer) -> None:
    scripted.add("/info", Reply(200, info_xml(metered=False)))
    scripted.add("/api/v1/production", Reply(200, fixture_bytes("api_production.json")))
    async with _envoy(scripted, None) as envoy:
        envoy.use_token(TOKEN)
        production = await envoy.api_production()
        assert production.watts_now == 5326
        assert envoy.info is not None
        assert envoy.info.serial == SERIAL
    assert envoy._session is None
    await envoy.close()


# Endpoints and headers


async def test_every_endpoint_with_bearer(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session)
    token_info = envoy.use_token(f" {TOKEN} ")
    assert token_info.serial == SERIAL
    assert envoy.token_info == token_info
    scripted.add(
        "/api/v1/production/inverters", Reply(200, fixture_bytes("api_inverters.json"))
    )
    scripted.add("/ivp/meters", Reply(200, fixture_bytes("ivp_meters.json")))
    scripted.add(
        "/ivp/meters/readings", Reply(200, fixture_bytes("ivp_meters_readings.json"))
    )
    scripted.add(
        "/ivp/pdm/device_data", Reply(200, fixture_bytes("ivp_pdm_device_data.json"))
    )
    scripted.add(
        "/production.json?details=1",
        Reply(200, fixture_bytes("production_json_details.json")),
    )
    scripted.add("/production.json", Reply(200, fixture_bytes("production.json")))
    scripted.add(
        "/production",
        Reply(
            200,
            b"<html><body><table><tr><td>Currently</td><td>6.63 kW</td></tr>"
            b"<tr><td>Since Installation</td><td>133 MWh</td></tr></table></body></html>",
        ),
    )
    assert [i.serial for i in await envoy.inverters()] == [
        "202020202020",
        "202020202021",
    ]
    assert len(await envoy.meters()) == 3
    assert len((await envoy.meter_readings())[0].channels) == 3
    assert (await envoy.device_data()).device_data_limit == 50
    detailed = await envoy.production_report()
    assert detailed.production is not None
    assert len(detailed.production.lines) == 3
    plain = await envoy.production_report(details=False)
    assert plain.production is not None
    assert plain.production.lines == ()
    page = await envoy.production_page()
    assert (page.watts_now, page.wh_lifetime) == (6630.0, 133_000_000.0)
    assert scripted.paths() == [
        "/api/v1/production/inverters",
        "/ivp/meters",
        "/ivp/meters/readings",
        "/ivp/pdm/device_data",
        "/production.json?details=1",
        "/production.json",
        "/production",
    ]
    assert {r.headers["Authorization"] for r in scripted.requests} == {
        f"Bearer {TOKEN}"
    }
    assert {r.headers.get("Connection") for r in scripted.requests} == {None}
    assert sorted(envoy.stats) == [
        "/api/v1/production/inverters",
        "/info",
        "/ivp/meters",
        "/ivp/meters/readings",
        "/ivp/pdm/device_data",
        "/production",
        "/production.json",
    ]
    assert envoy.stats["/production.json"].requests == 2
    assert (
        envoy.last_responses["/production.json"]
        == fixture_bytes("production.json").decode()
    )


async def test_old_firmware_closes_connections(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(
        scripted, session, info_xml(software="R3.9.36", web_tokens=False)
    )
    scripted.add("/api/v1/production", json_reply(load_fixture("api_production.json")))
    await envoy.api_production()
    assert scripted.requests[0].headers["Connection"] == "close"
    assert "Authorization" not in scripted.requests[0].headers


async def test_bad_token_is_refused_locally(session: aiohttp.ClientSession) -> None:
    envoy = Envoy("127.0.0.1", session=session)
    with pytest.raises(EnvoyTokenError, match="not a JWT"):
        envoy.use_token("paste-error")
    assert envoy.token_info is None


async def test_all_zero_production_is_not_ready(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session)
    scripted.add("/api/v1/production", json_reply(ZERO_PRODUCTION))
    with pytest.raises(EnvoyNotReadyError, match="all zeros") as err:
        await envoy.api_production()
    assert err.value.endpoint == "/api/v1/production"
    stats = envoy.stats["/api/v1/production"]
    assert (stats.requests, stats.failures, stats.last_status) == (1, 1, 200)
    assert stats.last_success is None


# Statuses, retries and timeouts


@pytest.mark.parametrize(
    ("reply", "error", "message", "requests"),
    [
        (Reply(401, b"Unauthorized"), EnvoyAuthenticationError, r"HTTP 401", 1),
        (Reply(403, b"Forbidden"), EnvoyAuthenticationError, r"HTTP 403", 1),
        (
            Reply(404, b'{"error": "404 - Not Found"}'),
            EnvoyEndpointMissingError,
            r"HTTP 404",
            1,
        ),
        (Reply(200, b"<html>home</html>"), EnvoyEndpointMissingError, r"HTML page", 1),
        (
            Reply(200, b'{"error": "nope"}'),
            EnvoyEndpointMissingError,
            r"an error: nope",
            1,
        ),
        (Reply(200, b'{"eid": '), EnvoyDataError, r"invalid JSON", 1),
        (Reply(200, b'{"eid": 1}'), EnvoyDataError, r"not a JSON array", 1),
        (Reply(418, b"teapot"), EnvoyDataError, r"unexpected HTTP 418", 1),
        (
            Reply(302, b"", {"Location": "/home"}),
            EnvoyRedirectError,
            r"redirected \(HTTP 302\) to /home",
            1,
        ),
        (Reply(307, b""), EnvoyRedirectError, r"redirected \(HTTP 307\) to nowhere", 1),
        (Reply(500, b"oops"), EnvoyConnectionError, r"HTTP 500: gateway error", 3),
        (Reply(503, b"busy"), EnvoyNotReadyError, r"HTTP 503", 3),
    ],
)
async def test_status_mapping(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession,
    *,
    reply: Reply,
    error: type[Exception],
    message: str,
    requests: int,
) -> None:
    envoy = await _probed(scripted, session)
    scripted.add("/ivp/meters", reply)
    with pytest.raises(error, match=message) as err:
        await envoy.meters()
    assert type(err.value) is error
    assert str(err.value).startswith("GET /ivp/meters")
    assert len(scripted.requests) == requests
    stats = envoy.stats["/ivp/meters"]
    assert stats.requests == requests
    assert stats.failures == requests
    assert stats.last_status == reply.status
    assert stats.last_error == str(err.value)
    assert envoy.last_responses["/ivp/meters"] == reply.body.decode()


async def test_transient_failures_recover(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session, retry_backoff=0.05)
    scripted.add("/ivp/meters", Reply(503), Reply(500), json_reply([]))
    started = time.monotonic()
    assert await envoy.meters() == []
    # Exponential backoff: 0.05 s, then 0.1 s.
    assert time.monotonic() - started >= 0.15
    stats = envoy.stats["/ivp/meters"]
    assert (stats.requests, stats.failures, stats.last_status) == (3, 2, 200)
    assert stats.total_latency_s >= stats.last_latency_s > 0  # type: ignore[operator]
    assert stats.last_success is not None
    assert dataclasses.asdict(stats)["requests"] == 3


async def test_read_timeout(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session, read_timeout=0.2, max_retries=1)
    scripted.add("/ivp/pdm/device_data", Reply(200, b"{}", delay=1.0))
    with pytest.raises(EnvoyTimeoutError) as err:
        await envoy.device_data()
    assert str(err.value) == "GET /ivp/pdm/device_data timed out after 0.2 s"
    assert err.value.endpoint == "/ivp/pdm/device_data"
    assert envoy.stats["/ivp/pdm/device_data"].requests == 2
    assert envoy.stats["/ivp/pdm/device_data"].last_status is None


async def test_connect_timeout(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    scripted.add("/info", Reply(200, info_xml()))
    envoy = Envoy(
        scripted.address, session=session, connect_timeout=1e-9, max_retries=0
    )
    with pytest.raises(EnvoyTimeoutError, match="could not connect within 1e-09 s"):
        await envoy.probe()


async def test_one_request_at_a_time_and_backoff_outside_the_lock(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session, retry_backoff=0.3)
    scripted.add("/ivp/meters", Reply(503, delay=0.05), json_reply([], 200))
    scripted.add("/ivp/meters/readings", json_reply([]))
    scripted.add("/api/v1/production/inverters", Reply(200, b"[]", delay=0.05))
    meters = asyncio.create_task(envoy.meters())
    await asyncio.sleep(0.01)
    results = await asyncio.gather(
        envoy.meter_readings(), envoy.inverters(), envoy.meter_readings()
    )
    assert list(results) == [[], [], []]
    assert await meters == []
    assert scripted.max_in_flight == 1
    # The readings got in while meters waited out its backoff.
    assert scripted.paths() == [
        "/ivp/meters",
        "/ivp/meters/readings",
        "/api/v1/production/inverters",
        "/ivp/meters/readings",
        "/ivp/meters",
    ]


# Credentials


async def test_check_token_valid(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session)
    envoy.use_token(TOKEN)
    scripted.add("/auth/check_jwt", Reply(200, b"<!DOCTYPE html><h2>Valid token.</h2>"))
    await envoy.check_token()
    assert scripted.paths() == ["/auth/check_jwt"]
    assert scripted.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert envoy.stats["/auth/check_jwt"].last_success is not None


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<!DOCTYPE html><h2>Invalid token.</h2>"),
        Reply(401, b""),
        Reply(403, b""),
    ],
)
async def test_check_token_rejected(
    scripted: ScriptedServer, session: aiohttp.ClientSession, reply: Reply
) -> None:
    envoy = await _probed(scripted, session)
    envoy.use_token(TOKEN)
    scripted.add("/auth/check_jwt", reply)
    with pytest.raises(EnvoyAuthenticationError) as err:
        await envoy.check_token()
    assert err.value.endpoint == "/auth/check_jwt"
    assert TOKEN not in str(err.value)


async def test_check_token_without_check_endpoint(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(scripted, session)
    envoy.use_token(TOKEN)
    scripted.add("/api/v1/production/inverters", Reply(401))
    with pytest.raises(
        EnvoyAuthenticationError, match="GET /api/v1/production/inverters"
    ):
        await envoy.check_token()
    assert scripted.paths() == ["/auth/check_jwt", "/api/v1/production/inverters"]
    scripted.add("/api/v1/production/inverters", json_reply([]))
    await envoy.check_token()


async def test_check_token_without_credentials(session: aiohttp.ClientSession) -> None:
    with pytest.raises(EnvoyAuthenticationError, match="No token or digest"):
        await Envoy("127.0.0.1", session=session).check_token()


async def test_digest_defaults_need_the_serial(session: aiohttp.ClientSession) -> None:
    envoy = Envoy("127.0.0.1", session=session)
    with pytest.raises(EnvoyAuthenticationError, match="probe the gateway first"):
        envoy.use_digest()
    envoy.use_digest("installer", "given")


async def test_digest_user_name_with_colon(session: aiohttp.ClientSession) -> None:
    envoy = Envoy("127.0.0.1", session=session)
    with pytest.raises(EnvoyAuthenticationError, match="Unusable digest user name"):
        envoy.use_digest("in:staller", "secret")
    assert envoy._digest is None


async def test_digest_unknown_user_needs_password(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(
        scripted, session, info_xml(software="D5.0.62", web_tokens=False)
    )
    with pytest.raises(EnvoyAuthenticationError, match="A password is needed"):
        envoy.use_digest("admin")


@pytest.mark.parametrize(
    ("username", "password", "expected_user", "expected_password"),
    [
        (None, None, "installer", installer_password(SERIAL)),
        ("envoy", None, "envoy", "123456"),
        ("installer", "secret", "installer", "secret"),
    ],
)
async def test_digest_credentials(
    scripted: ScriptedServer,
    session: aiohttp.ClientSession,
    *,
    username: str | None,
    password: str | None,
    expected_user: str,
    expected_password: str,
) -> None:
    envoy = await _probed(
        scripted, session, info_xml(software="D5.0.62", web_tokens=False)
    )
    envoy.use_token(TOKEN)
    envoy.use_digest(username, password)
    assert envoy.token_info is None
    assert envoy._digest is not None
    assert envoy._digest._login_str == expected_user
    assert envoy._digest._password_bytes == expected_password.encode()
    scripted.add("/api/v1/production/inverters", json_reply([]))
    await envoy.check_token()
    assert "Authorization" not in scripted.requests[0].headers
    assert scripted.paths() == ["/api/v1/production/inverters"]


async def test_probe_after_upgrade_follows_http_redirect(
    scripted: ScriptedServer, session: aiohttp.ClientSession
) -> None:
    envoy = await _probed(
        scripted, session, info_xml(software="D5.0.62", web_tokens=False)
    )
    scripted.add(
        "/info", Reply(301, b"", {"Location": f"https://{scripted.address}/info"})
    )
    with pytest.raises(EnvoyConnectionError, match="GET /info failed"):
        await envoy.probe()
    # HTTP first (it worked last time), then HTTPS with its retries.
    assert scripted.paths() == ["/info"]
    assert envoy.stats["/info"].requests == 6
    assert envoy.base_url == f"http://{scripted.address}"
