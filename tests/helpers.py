"""Helpers for tests that let time pass with the simulator behind Home Assistant."""

from datetime import timedelta
import json
from typing import Any

import aiohttp
from aiohttp import DigestAuthMiddleware
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from envoy_simulator import EnvoySimulator

DAYTIME = "2025-07-28T18:00:00+00:00"
"""A sunny summer morning in California (11:00), afternoon in Europe."""


async def advance(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    seconds: float,
    step: float = 10.0,
) -> None:
    """Let time pass in steps so every tier polls when it is due."""
    elapsed = 0.0
    while elapsed < seconds:
        freezer.tick(timedelta(seconds=step))
        async_fire_time_changed(hass)
        # Scheduled refreshes run as background tasks.
        await hass.async_block_till_done(wait_background_tasks=True)
        elapsed += step


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state, which must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up a config entry."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def gateway_json(sim: EnvoySimulator, path: str) -> Any:
    """Read an endpoint of the simulated gateway as its own client would."""
    token = int(sim.firmware.split(".")[0]) >= 7
    headers = {"Authorization": f"Bearer {sim.mint_token()}"} if token else {}
    middlewares = (
        () if token else (DigestAuthMiddleware("installer", sim.installer_password),)
    )
    scheme = "https" if token else "http"
    async with (
        aiohttp.ClientSession(middlewares=middlewares) as session,
        session.get(
            f"{scheme}://{sim.address}{path}", headers=headers, ssl=False
        ) as response,
    ):
        body = await response.text()
    return body if path == "/production" else json.loads(body)
