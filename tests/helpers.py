"""Helpers for tests that let time pass with the simulator behind Home Assistant."""

from collections.abc import Mapping
import dataclasses
from datetime import timedelta
import json
from typing import Any, Final

import aiohttp
from aiohttp import DigestAuthMiddleware
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_local.const import (
    CONF_ENLIGHTEN_EMAIL,
    CONF_ENLIGHTEN_PASSWORD,
    CONF_TOKEN,
    DOMAIN,
)
from envoy_simulator import PROFILES, EnvoySimulator, Profile

DAYTIME = "2025-07-28T18:00:00+00:00"
"""A sunny summer morning in California (11:00), afternoon in Europe."""

OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct-horse-battery"
"""The simulator's fake cloud account (envoy_simulator/cloud.py)."""

SMALL_BATTERY_SITE: Final[Profile] = dataclasses.replace(
    PROFILES["iq_battery_storage_ct"],
    name="small_battery_site",
    inverter_count=2,
    phase_mode="single",
    phase_count=1,
)
"""A battery site with storage CT, system controller and relays, but only two
inverters on one phase: every kind of entity, in a small snapshot."""


class _Minted:
    """The token a finished flow stores: minted when the firmware wants one."""


MINTED: Final = _Minted()


def needs_token(simulator: EnvoySimulator) -> bool:
    """Return True when the simulated firmware wants a JWT."""
    return int(simulator.firmware.split(".")[0]) >= 7


def make_entry(
    simulator: EnvoySimulator | None,
    *,
    host: str | None = None,
    token: str | _Minted | None = MINTED,
    enlighten: bool = False,
    unique_id: str | None = None,
    data: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    entry_id: str | None = None,
) -> MockConfigEntry:
    """Return a config entry like the one a finished flow stores for a gateway.

    By default it points at ``simulator`` under its serial, with a fresh owner
    token when the firmware wants one. ``token`` gives another token (None:
    none at all), ``enlighten`` stores the fake cloud's account for renewals,
    ``data`` adds or overrides entry data. Without a simulator, ``host`` and
    ``unique_id`` say which gateway the entry is for.
    """
    if simulator is not None:
        host = simulator.address if host is None else host
        unique_id = simulator.serial if unique_id is None else unique_id
        if isinstance(token, _Minted):
            token = simulator.mint_token() if needs_token(simulator) else None
    assert host is not None, "an entry without a simulator needs a host"
    assert unique_id is not None, "an entry without a simulator needs a serial"
    assert not isinstance(token, _Minted), "no simulator to mint a token with"
    entry_data: dict[str, Any] = {CONF_HOST: host}
    if token is not None:
        entry_data[CONF_TOKEN] = token
    if enlighten:
        entry_data[CONF_ENLIGHTEN_EMAIL] = OWNER_EMAIL
        entry_data[CONF_ENLIGHTEN_PASSWORD] = OWNER_PASSWORD
    entry_data.update(data or {})
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=unique_id,
        title=f"Envoy {unique_id}",
        data=entry_data,
        options=dict(options or {}),
        entry_id=entry_id,
    )


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
    token = needs_token(sim)
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
