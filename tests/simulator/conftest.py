"""Fixtures for the simulator tests: real sockets on 127.0.0.1, a fake clock."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from envoy_simulator import PROFILES, EnvoySimulator, FakeClock

type SimulatorFactory = Callable[..., Awaitable[EnvoySimulator]]


def local_epoch(profile: str, hour: int, minute: int = 0, *, day: int = 28) -> float:
    """Return the epoch of a July 2025 local time at the profile's site."""
    zone = ZoneInfo(PROFILES[profile].timezone)
    return datetime(2025, 7, day, hour, minute, tzinfo=zone).timestamp()


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Allow loopback sockets (Home Assistant's plugin blocks them by default)."""


@pytest.fixture
async def session(make_sim: SimulatorFactory) -> AsyncIterator[aiohttp.ClientSession]:
    """Return a client session that accepts the gateway's self-signed certificate.

    It depends on make_sim so it closes before the simulators stop.
    """
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=False)
    ) as client:
        yield client


@pytest.fixture
async def make_sim() -> AsyncIterator[SimulatorFactory]:
    """Start simulators on demand and stop them all at the end of the test."""
    started: list[EnvoySimulator] = []

    async def factory(
        profile: str = "metered_split", **kwargs: object
    ) -> EnvoySimulator:
        kwargs.setdefault("clock", FakeClock(local_epoch(profile, 13)))
        sim = EnvoySimulator(profile, **kwargs)  # type: ignore[arg-type]
        await sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.stop()
