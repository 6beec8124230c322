"""The client against the Envoy simulator over real sockets: every profile."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from custom_components.enphase_local.envoy import (
    Endpoint,
    Envoy,
    EnvoyAuthenticationError,
    ProductionSource,
    match_meter_readings,
    merge_inverters,
)
from envoy_simulator import PROFILES, EnvoySimulator, FakeClock

# 2025-07-28 16:53 UTC: daylight on every profile's site.
START = 1753721600.0

type Authenticate = Callable[[Envoy, EnvoySimulator], None]


def token_auth(envoy: Envoy, simulator: EnvoySimulator) -> None:
    """Use an owner token minted by the simulator."""
    envoy.use_token(simulator.mint_token())


def digest_auth(envoy: Envoy, simulator: EnvoySimulator) -> None:
    """Use digest auth with the derived installer password."""
    envoy.use_digest()


@dataclass(frozen=True)
class Expected:
    """What the client must find on one simulator profile."""

    profile: str
    scheme: str
    firmware: str
    metered: bool | None
    authenticate: Authenticate
    source: ProductionSource
    endpoints: frozenset[Endpoint]
    ct_types: tuple[str, ...]
    phases: int
    device_data_limit: int | None
    inverters: int
    with_detail: int
    notes: int
    gone: int = 0


BASIC = frozenset({Endpoint.INFO, Endpoint.API_PRODUCTION, Endpoint.API_INVERTERS})
CT = BASIC | {Endpoint.METERS, Endpoint.METER_READINGS}
ENSEMBLE = frozenset(
    {
        Endpoint.ENSEMBLE_INVENTORY,
        Endpoint.ENSEMBLE_STATUS,
        Endpoint.ENSEMBLE_POWER,
        Endpoint.TARIFF,
        Endpoint.DRY_CONTACTS,
        Endpoint.DRY_CONTACT_SETTINGS,
    }
)

EXPECTED = [
    Expected(
        "legacy_standard", "http", "5.0.62", False, digest_auth,
        ProductionSource.API_PRODUCTION, BASIC, (), 0, None, 10, 0, 1,
    ),
    Expected(
        "metered_split", "https", "7.6.175", True, token_auth,
        ProductionSource.CT, CT, ("production", "net-consumption"), 2, None, 24, 0, 1,
    ),
    Expected(
        "metered_three_phase_storage", "https", "8.2.4345", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA} | ENSEMBLE,
        ("production", "net-consumption", "storage"), 3, 50, 31, 30, 0, 1,
    ),
    Expected(
        "metered_no_ct", "https", "8.2.4264", True, token_auth,
        ProductionSource.PRODUCTION_JSON_INVERTERS,
        BASIC | {Endpoint.METERS, Endpoint.DEVICE_DATA, Endpoint.PRODUCTION_JSON},
        (), 0, 50, 16, 16, 1,
    ),
    Expected(
        "total_consumption", "https", "8.3.5167", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA},
        ("production", "total-consumption"), 1, 50, 20, 20, 0,
    ),
    Expected(
        "large_site", "https", "8.3.5167", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA},
        ("production", "net-consumption"), 2, 50, 120, 49, 1,
    ),
    Expected(
        "envoy_r_legacy", "http", "3.9.36", None, digest_auth,
        ProductionSource.API_PRODUCTION, BASIC, (), 0, None, 12, 0, 2,
    ),
    Expected(
        "iq_battery_storage_ct", "https", "8.2.4286", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA} | ENSEMBLE,
        ("production", "net-consumption", "storage"), 2, 50, 26, 26, 0,
    ),
    Expected(
        "iq_battery_no_ct", "https", "8.2.4286", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA} | ENSEMBLE,
        ("production", "net-consumption"), 2, 50, 26, 26, 0,
    ),
    Expected(
        "off_grid_event", "https", "8.2.4286", True, token_auth,
        ProductionSource.CT, CT | {Endpoint.DEVICE_DATA} | ENSEMBLE,
        ("production", "net-consumption", "storage"), 2, 50, 24, 24, 0,
    ),
]  # fmt: skip


@pytest.fixture
async def clock() -> FakeClock:
    """Return the simulators' clock."""
    return FakeClock(start=START)


@pytest.fixture
async def simulator(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[EnvoySimulator]:
    """Run the profile named by the test's ``expected`` parameter."""
    expected: Expected = request.getfixturevalue("expected")
    async with EnvoySimulator(
        expected.profile, clock=clock, latency=False, port=0, cloud_port=0, seed=1
    ) as running:
        yield running


# Profiles whose shape does not fit the generic client checks below (no
# /api/v1/production, no inverter list, JSON refused, AC Batteries among the
# inverters): each is checked end to end, with its production truth, where named.
COVERED_END_TO_END = {
    "envoy_r_html_only": "test_real_gateways",
    "metered_7x_no_ct": "test_real_gateways",
    "no_inverter_list": "test_real_gateways",
    "envoy_s_39_quirk": "test_real_gateways",
    "iq_meter_collar": "test_real_gateways",
    "meters_missing_with_ct": "test_real_gateways",
    "mod_gone_everywhere": "test_real_gateways",
    "acb_only": "test_batteries",
}


def test_every_profile_is_covered() -> None:
    """Each profile is in the table above or checked end to end where named."""
    covered = {case.profile for case in EXPECTED}
    assert sorted([*covered, *COVERED_END_TO_END]) == sorted(PROFILES)
    assert covered.isdisjoint(COVERED_END_TO_END)
    tests = Path(__file__).resolve().parent.parent
    for profile, module in COVERED_END_TO_END.items():
        source = (tests / f"{module}.py").read_text(encoding="utf-8")
        assert f'"{profile}"' in source, (profile, module)


@pytest.mark.parametrize("expected", EXPECTED, ids=[case.profile for case in EXPECTED])
async def test_profile(
    simulator: EnvoySimulator, session: aiohttp.ClientSession, expected: Expected
) -> None:
    envoy = Envoy(simulator.address, session=session, retry_backoff=0)
    info = await envoy.probe()
    assert envoy.base_url == f"{expected.scheme}://{simulator.address}"
    assert info.serial == simulator.serial
    assert info.part_number == simulator.part_number
    assert info.firmware == expected.firmware
    assert info.metered is expected.metered
    expected.authenticate(envoy, simulator)
    await envoy.check_token()

    capabilities = await envoy.detect_capabilities()
    assert capabilities.production_source is expected.source
    assert capabilities.endpoints == expected.endpoints
    assert (
        tuple(m.measurement_type for m in capabilities.ct_meters) == expected.ct_types
    )
    assert capabilities.device_data_limit == expected.device_data_limit
    assert len(capabilities.notes) == expected.notes

    production = await envoy.api_production()
    assert production.watt_hours_lifetime > 0
    inverters = await envoy.inverters()
    assert len(inverters) == expected.inverters
    assert len({inverter.serial for inverter in inverters}) == expected.inverters
    assert sum(inverter.last_report_watts for inverter in inverters) > 0
    assert envoy.stats["/api/v1/production/inverters"].failures == 0
    assert envoy.last_responses["/api/v1/production/inverters"].startswith("[")


@pytest.mark.parametrize(
    "expected",
    [case for case in EXPECTED if case.ct_types],
    ids=[case.profile for case in EXPECTED if case.ct_types],
)
async def test_ct_readings(
    simulator: EnvoySimulator, session: aiohttp.ClientSession, expected: Expected
) -> None:
    envoy = Envoy(simulator.address, session=session, retry_backoff=0)
    await envoy.probe()
    expected.authenticate(envoy, simulator)
    meters = await envoy.meters()
    readings = await envoy.meter_readings()
    matched = match_meter_readings(meters, readings)
    assert [meter.measurement_type for meter in meters if meter.eid in matched] == list(
        expected.ct_types
    )
    assert {len(reading.channels) for reading in matched.values()} == {expected.phases}
    production_ct = next(m for m in meters if m.measurement_type == "production")
    production_reading = matched[production_ct.eid]
    # With a production CT, /api/v1/production reports the CT's counter.
    production = await envoy.api_production()
    assert production_reading.active_energy_delivered_wh is not None
    assert production_reading.active_energy_delivered_wh == pytest.approx(
        production.watt_hours_lifetime, abs=1
    )
    report = await envoy.production_report()
    assert report.production is not None
    assert report.production.active_count == 1
    assert len(report.production.lines) == expected.phases


@pytest.mark.parametrize(
    "expected",
    [case for case in EXPECTED if case.device_data_limit],
    ids=[case.profile for case in EXPECTED if case.device_data_limit],
)
async def test_device_data_merge(
    simulator: EnvoySimulator, session: aiohttp.ClientSession, expected: Expected
) -> None:
    envoy = Envoy(simulator.address, session=session, retry_backoff=0)
    await envoy.probe()
    expected.authenticate(envoy, simulator)
    device_data = await envoy.device_data()
    merged = merge_inverters(await envoy.inverters(), device_data)
    assert len(merged) == expected.inverters
    detailed = [inverter for inverter in merged.values() if inverter.detail is not None]
    assert len(detailed) == expected.with_detail
    assert sum(inverter.gone for inverter in merged.values()) == expected.gone
    assert device_data.device_data_limit == 50
    sample = detailed[0].detail
    assert sample is not None
    assert sample.ac_voltage_v is not None
    assert 100 < sample.ac_voltage_v < 260
    assert sample.ac_frequency_hz is not None
    assert 49 < sample.ac_frequency_hz < 61
    assert sample.lifetime_joules is not None
    assert 0 <= sample.lifetime_joules < 2**32


@pytest.mark.parametrize("expected", [EXPECTED[1]], ids=["metered_split"])
async def test_own_session_and_verifying_injected_session(
    simulator: EnvoySimulator, expected: Expected
) -> None:
    async with Envoy(simulator.address) as envoy:
        assert (await envoy.probe()).serial == simulator.serial
    # A default session verifies certificates: the gateway's self-signed one
    # must still be accepted because the client passes its own SSL context.
    async with aiohttp.ClientSession() as verifying:
        envoy = Envoy(simulator.address, session=verifying)
        envoy.use_token(simulator.mint_token())
        await envoy.check_token()
        await envoy.close()
        assert verifying.closed is False


@pytest.mark.parametrize(
    "expected", [EXPECTED[0], EXPECTED[6]], ids=["legacy_standard", "envoy_r_legacy"]
)
async def test_digest_users(
    simulator: EnvoySimulator, session: aiohttp.ClientSession, expected: Expected
) -> None:
    envoy = Envoy(simulator.address, session=session, retry_backoff=0)
    await envoy.probe()
    envoy.use_digest("envoy")
    assert len(await envoy.inverters()) == expected.inverters
    envoy.use_digest("installer", "wrong-password")
    with pytest.raises(EnvoyAuthenticationError, match="inverters was refused"):
        await envoy.inverters()
    # Without credentials the open endpoints still answer.
    assert (await envoy.api_production()).watt_hours_lifetime > 0


@pytest.mark.parametrize("expected", [EXPECTED[3]], ids=["metered_no_ct"])
async def test_token_for_another_gateway(
    simulator: EnvoySimulator, session: aiohttp.ClientSession, expected: Expected
) -> None:
    envoy = Envoy(simulator.address, session=session, retry_backoff=0)
    await envoy.probe()
    token_info = envoy.use_token(simulator.mint_token(serial="999999999999"))
    assert token_info.serial == "999999999999"
    with pytest.raises(EnvoyAuthenticationError, match="/auth/check_jwt"):
        await envoy.check_token()
    with pytest.raises(EnvoyAuthenticationError):
        await envoy.detect_capabilities()
