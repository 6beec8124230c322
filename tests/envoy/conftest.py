"""Fixtures for the Envoy client tests."""

from collections.abc import AsyncIterator

import aiohttp
import pytest

from .helpers import ScriptedServer


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Let these tests open sockets; connections stay limited to 127.0.0.1."""


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    """Return a running scripted loopback HTTP server."""
    server = ScriptedServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return an aiohttp session owned by the test."""
    client_session = aiohttp.ClientSession()
    yield client_session
    await client_session.close()
