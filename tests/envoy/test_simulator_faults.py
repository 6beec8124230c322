"""The client against the Envoy simulator's injected faults, over real sockets."""

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from custom_components.enphase_local.envoy import (
    CloudEndpoints,
    EnlightenAuthenticationError,
    EnlightenClient,
    EnlightenError,
    EnlightenMultiFactorError,
    Envoy,
    EnvoyAuthenticationError,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyError,
    EnvoyNotReadyError,
    EnvoyTimeoutError,
    decode_token,
)
from envoy_simulator import EnvoySimulator, FakeClock

START = 1753721600.0
PASSWORD = "correct-horse-battery"


@pytest.fixture
def clock() -> FakeClock:
    """Return the simulator's clock."""
    return FakeClock(start=START)


@pytest.fixture
async def simulator(clock: FakeClock) -> AsyncIterator[EnvoySimulator]:
    """Run a fw 8.2 three-phase gateway with storage CT and device_data."""
    async with EnvoySimulator(
        "metered_three_phase_storage", clock=clock, port=0, cloud_port=0, seed=1
    ) as running:
        yield running


@pytest.fixture
async def envoy(simulator: EnvoySimulator, session: aiohttp.ClientSession) -> Envoy:
    """Return a probed client with a token: short timeouts, one fast retry."""
    client = Envoy(
        simulator.address,
        session=session,
        read_timeout=0.3,
        max_retries=1,
        retry_backoff=0,
    )
    await client.probe()
    client.use_token(simulator.mint_token())
    return client


@pytest.mark.parametrize(
    ("kind", "path", "read", "error", "message", "attempts"),
    [
        ("hang", "/ivp/meters/readings", "meter_readings", EnvoyTimeoutError,
         r"^GET /ivp/meters/readings timed out after 0\.3 s$", 2),
        ("http_500", "/ivp/meters", "meters", EnvoyConnectionError,
         r"^GET /ivp/meters answered HTTP 500", 2),
        ("http_503", "/api/v1/production", "api_production", EnvoyNotReadyError,
         r"^GET /api/v1/production answered HTTP 503", 2),
        ("reset", "/ivp/pdm/device_data", "device_data", EnvoyConnectionError,
         r"^GET /ivp/pdm/device_data failed: ", 2),
        ("outage", "*", "inverters", EnvoyConnectionError,
         r"^GET /api/v1/production/inverters failed: ", 2),
        ("malformed_json", "/ivp/meters/readings", "meter_readings", EnvoyDataError,
         r"^GET /ivp/meters/readings answered invalid JSON$", 1),
        ("html_page", "/api/v1/production/inverters", "inverters", EnvoyEndpointMissingError,
         r"^GET /api/v1/production/inverters answered an HTML page", 1),
        ("error_json", "/ivp/pdm/device_data", "device_data", EnvoyEndpointMissingError,
         r"^GET /ivp/pdm/device_data answered an error: ", 1),
        ("not_found", "/production.json", "production_report", EnvoyEndpointMissingError,
         r"^GET /production.json\?details=1 answered HTTP 404", 1),
        ("token_revoked", "*", "meters", EnvoyAuthenticationError,
         r"^GET /ivp/meters was refused \(HTTP 401\)", 1),
    ],
)  # fmt: skip
async def test_persistent_fault(
    simulator: EnvoySimulator,
    envoy: Envoy,
    *,
    kind: str,
    path: str,
    read: str,
    error: type[EnvoyError],
    message: str,
    attempts: int,
) -> None:
    simulator.inject(path, kind)  # type: ignore[arg-type]
    with pytest.raises(error, match=message) as err:
        await getattr(envoy, read)()
    assert type(err.value) is error
    stats = next(s for key, s in envoy.stats.items() if key != "/info")
    assert stats.requests == attempts
    assert stats.failures == attempts
    assert stats.last_error == str(err.value)
    assert stats.last_success is None


@pytest.mark.parametrize(
    ("kind", "path", "read", "endpoint", "attempts", "failures"),
    [
        (
            "hang",
            "/ivp/meters/readings",
            "meter_readings",
            "/ivp/meters/readings",
            2,
            1,
        ),
        ("http_500", "/ivp/meters", "meters", "/ivp/meters", 2, 1),
        (
            "http_503",
            "/api/v1/production",
            "api_production",
            "/api/v1/production",
            2,
            1,
        ),
        # aiohttp itself resends an idempotent request once when a pooled
        # keep-alive connection turns out to be dead: one attempt for us.
        ("reset", "/ivp/pdm/device_data", "device_data", "/ivp/pdm/device_data", 1, 0),
        ("outage", "*", "inverters", "/api/v1/production/inverters", 1, 0),
    ],
)
async def test_transient_fault_is_retried(
    simulator: EnvoySimulator,
    envoy: Envoy,
    *,
    kind: str,
    path: str,
    read: str,
    endpoint: str,
    attempts: int,
    failures: int,
) -> None:
    simulator.inject(path, kind, count=1)  # type: ignore[arg-type]
    assert await getattr(envoy, read)()
    stats = envoy.stats[endpoint]
    assert (stats.requests, stats.failures, stats.last_status) == (
        attempts,
        failures,
        200,
    )
    assert stats.last_success is not None
    assert [record.path for record in simulator.request_log].count(endpoint) == 2


async def test_token_revoked_then_replaced(
    simulator: EnvoySimulator, envoy: Envoy
) -> None:
    await envoy.check_token()
    simulator.revoke_all_tokens()
    with pytest.raises(EnvoyAuthenticationError, match="/auth/check_jwt"):
        await envoy.check_token()
    with pytest.raises(EnvoyAuthenticationError):
        await envoy.detect_capabilities()
    envoy.use_token(simulator.mint_token(role="installer"))
    assert envoy.token_info is not None
    assert envoy.token_info.role == "installer"
    await envoy.check_token()


async def test_zero_glitch_is_passed_on_raw(
    simulator: EnvoySimulator, envoy: Envoy
) -> None:
    before = await envoy.api_production()
    simulator.inject("/api/v1/production", "zero_glitch", count=1)
    glitch = await envoy.api_production()
    assert before.watt_hours_lifetime > 0
    assert glitch.watt_hours_lifetime == 0
    assert glitch.watts_now == before.watts_now
    after = await envoy.api_production()
    assert after.watt_hours_lifetime == before.watt_hours_lifetime


async def test_counter_wrap_is_kept_raw(
    simulator: EnvoySimulator, envoy: Envoy
) -> None:
    device_data = await envoy.device_data()
    serial = min(device_data.inverters)
    before = device_data.inverters[serial].lifetime_joules
    simulator.inject(
        "/ivp/pdm/device_data", "counter_wrap", serial=serial, mode="immediate"
    )
    after = (await envoy.device_data()).inverters[serial].lifetime_joules
    assert before is not None
    assert after is not None
    assert after < before
    assert 0 <= after < 2**32


async def test_active_count_zero(simulator: EnvoySimulator, envoy: Envoy) -> None:
    simulator.inject("/production.json", "active_count_zero", count=1)
    report = await envoy.production_report()
    assert report.production is not None
    assert report.production.active_count == 0
    assert report.net_consumption is not None
    assert report.net_consumption.active_count == 0
    assert report.inverters is not None
    assert report.inverters.active_count == 30


async def test_stale_readings(
    simulator: EnvoySimulator, envoy: Envoy, clock: FakeClock
) -> None:
    simulator.inject("/ivp/meters/readings", "stale")
    first = await envoy.meter_readings()
    clock.advance(60)
    assert await envoy.meter_readings() == first
    simulator.clear_faults()
    fresh = await envoy.meter_readings()
    assert fresh[0].timestamp == first[0].timestamp + 60  # type: ignore[operator]


async def test_daily_outage(session: aiohttp.ClientSession) -> None:
    # 23:01:30 in New York, where the legacy_standard site is.
    outage = datetime(2025, 7, 28, 23, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    clock = FakeClock(start=outage.timestamp())
    async with EnvoySimulator(
        "legacy_standard", clock=clock, port=0, cloud_port=None, daily_outage=True
    ) as simulator:
        envoy = Envoy(
            simulator.address, session=session, max_retries=0, retry_backoff=0
        )
        with pytest.raises(EnvoyConnectionError, match="GET /info failed"):
            await envoy.probe()
        clock.advance(120)
        with pytest.raises(EnvoyNotReadyError, match="HTTP 503"):
            await envoy.probe()
        clock.advance(60)
        assert (await envoy.probe()).firmware == "5.0.62"


async def test_firmware_upgrade_to_tokens(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with EnvoySimulator(
        "legacy_standard", clock=clock, port=0, cloud_port=None
    ) as simulator:
        envoy = Envoy(
            simulator.address, session=session, max_retries=0, retry_backoff=0
        )
        await envoy.probe()
        envoy.use_digest()
        assert envoy.base_url == f"http://{simulator.address}"
        simulator.upgrade_firmware("metered_split", outage_seconds=60)
        with pytest.raises(EnvoyConnectionError):
            await envoy.inverters()
        with pytest.raises(EnvoyConnectionError, match="GET /info failed"):
            await envoy.probe()
        clock.advance(61)
        with pytest.raises(
            EnvoyConnectionError, match=r"redirected \(HTTP 301\) to https://"
        ):
            await envoy.inverters()
        info = await envoy.probe()
        assert info.firmware == "7.6.175"
        assert info.requires_token is True
        assert envoy.base_url == f"https://{simulator.address}"
        envoy.use_token(simulator.mint_token())
        assert len(await envoy.inverters()) == 10


# The fake Enphase cloud


def _cloud_endpoints(simulator: EnvoySimulator) -> CloudEndpoints:
    """Point the cloud client at the simulator's fake Enlighten and Entrez."""
    return CloudEndpoints(
        login_url=simulator.login_url, tokens_url=simulator.tokens_url
    )


async def test_cloud_token_formats(
    simulator: EnvoySimulator, session: aiohttp.ClientSession
) -> None:
    cloud = EnlightenClient(session, endpoints=_cloud_endpoints(simulator))
    raw = await cloud.fetch_token("owner@example.com", PASSWORD, simulator.serial)
    from_json = await cloud.fetch_token(
        "owner-json@example.com", PASSWORD, simulator.serial
    )
    assert decode_token(raw).serial == simulator.serial
    assert decode_token(from_json).serial == simulator.serial
    envoy = Envoy(simulator.address, session=session)
    await envoy.probe()
    assert envoy.use_token(from_json).role == "owner"
    await envoy.check_token()


@pytest.mark.parametrize(
    ("email", "password", "serial", "error", "message"),
    [
        ("mfa@example.com", PASSWORD, None, EnlightenMultiFactorError, "multi-factor"),
        ("owner@example.com", "wrong", None, EnlightenAuthenticationError, "rejected"),
        (
            "nobody@example.com",
            PASSWORD,
            None,
            EnlightenAuthenticationError,
            "rejected",
        ),
        (
            "owner@example.com",
            PASSWORD,
            "999999999999",
            EnlightenError,
            "HTTP 401 to the token",
        ),
    ],
)
async def test_cloud_refusals(
    simulator: EnvoySimulator,
    session: aiohttp.ClientSession,
    *,
    email: str,
    password: str,
    serial: str | None,
    error: type[EnlightenError],
    message: str,
) -> None:
    cloud = EnlightenClient(session, endpoints=_cloud_endpoints(simulator))
    with pytest.raises(error, match=message) as err:
        await cloud.fetch_token(email, password, serial or simulator.serial)
    assert type(err.value) is error
    assert email not in str(err.value)
    assert password not in str(err.value)


async def test_cloud_faults(
    simulator: EnvoySimulator, session: aiohttp.ClientSession
) -> None:
    cloud = EnlightenClient(
        session,
        endpoints=_cloud_endpoints(simulator),
        timeout=0.3,
    )
    simulator.inject("/login/login.json", "hang", count=1)
    with pytest.raises(EnlightenError, match="did not answer the login in time"):
        await cloud.fetch_token("owner@example.com", PASSWORD, simulator.serial)
    simulator.inject("/tokens", "http_503", count=1)
    with pytest.raises(EnlightenError, match="HTTP 503 to the token request"):
        await cloud.fetch_token("owner@example.com", PASSWORD, simulator.serial)
    simulator.inject("/tokens", "reset", count=1)
    with pytest.raises(
        EnlightenError, match="Could not reach the Enphase cloud for the token"
    ):
        await cloud.fetch_token("owner@example.com", PASSWORD, simulator.serial)
    token = await cloud.fetch_token("owner@example.com", PASSWORD, simulator.serial)
    assert decode_token(token).serial == simulator.serial
