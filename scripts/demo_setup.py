"""Prepare and check the Home Assistant that scripts/develop runs against the simulator.

    python scripts/demo_setup.py serial --profile NAME
    python scripts/demo_setup.py prepare --config .demo/config --profile NAME ...
    python scripts/demo_setup.py check --config .demo/config --port 8123 ...
    python scripts/demo_setup.py announce --port 8123 --hass-pid PID

``prepare`` waits for the simulator, then writes a configuration directory in which
Home Assistant starts onboarded, with a ``demo`` / ``demo`` login, the Enphase Local
config entry pointing at the simulator and the Energy dashboard wired to the
gateway's meters. ``check`` waits for a started Home Assistant, logs in as the demo
user, and verifies the integration's entities and the energy preferences.
``announce`` prints the address once Home Assistant answers.

Run it with the repository root on ``PYTHONPATH`` and Home Assistant installed.
"""

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import aiohttp
from homeassistant.util.ulid import ulid_now
from packaging.requirements import Requirement

from envoy_simulator.profiles import PROFILES, Profile

DOMAIN = "enphase_local"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published login
SIMULATOR_START_S = 30.0
COMMAND_TIMEOUT_S = 120.0
HASS_ARGS = ".hass_args"
MARKER = ".enphase_demo.json"
"""Remembers which profile a configuration directory was set up for."""

# Storage formats written here, as Home Assistant 2026.10 reads them. A newer Home
# Assistant migrates them forward on load, like any other old store.
CONFIG_ENTRIES_VERSION = (1, 5)  # homeassistant/config_entries.py
ONBOARDING_VERSION = (4, 1)  # homeassistant/components/onboarding/__init__.py
ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")
ENERGY_VERSION = (1, 3)  # homeassistant/components/energy/data.py
HTTP_VERSION = (2, 2)  # homeassistant/components/http/config.py

# Where each simulated gateway's time zone is, for Home Assistant's core settings:
# country, latitude, longitude.
PLACES: dict[str, tuple[str, float, float]] = {
    "America/Chicago": ("US", 41.88, -87.63),
    "America/Denver": ("US", 39.74, -104.99),
    "America/Los_Angeles": ("US", 34.05, -118.24),
    "America/New_York": ("US", 40.71, -74.01),
    "America/Phoenix": ("US", 33.45, -112.07),
    "Europe/Amsterdam": ("NL", 52.37, 4.90),
    "Europe/Berlin": ("DE", 52.52, 13.40),
}

# Energy-preference issues that only mean the recorder has not compiled its first
# statistics yet (it does every 5 minutes).
PENDING_ENERGY_ISSUES = frozenset({"statistics_not_defined"})

LOG_LINE = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]+) \((?P<thread>[^)]*)\) \[(?P<logger>[^\]]+)\]"
)


class DemoError(Exception):
    """Something the demo needs is not there; the message says what."""


# --- Profiles and entities ---------------------------------------------------------


def profile_for(name: str) -> Profile:
    """Return the simulator profile called ``name``."""
    if name not in PROFILES:
        known = ", ".join(PROFILES)
        raise DemoError(f"unknown profile {name!r}; known profiles: {known}")
    return PROFILES[name]


@dataclass(frozen=True, slots=True)
class SiteEntities:
    """The integration's site sensors the Energy dashboard uses, for one gateway."""

    serial: str
    grid: bool
    battery: bool

    def sensor(self, key: str) -> str:
        """Return the entity id of the gateway's sensor ``key``."""
        return f"sensor.envoy_{self.serial}_{key}"

    @classmethod
    def of(cls, profile: Profile) -> SiteEntities:
        """Return which site sensors the integration creates for ``profile``.

        As custom_components/enphase_local/sensor.py decides: grid values need a
        net CT, or load and production CTs; battery values need a storage CT.
        Production is always there (from the CTs or the inverters).
        """
        types = set(profile.enabled_meter_types)
        grid = (
            "net-consumption" in types or {"total-consumption", "production"} <= types
        )
        return cls(serial=profile.serial, grid=grid, battery="storage" in types)


def energy_preferences(site: SiteEntities) -> dict[str, Any]:
    """Return Energy dashboard preferences wired to the gateway's sensors."""
    sources: list[dict[str, Any]] = [
        {
            "type": "solar",
            "stat_energy_from": site.sensor("production_energy"),
            "stat_rate": site.sensor("production_power"),
            "config_entry_solar_forecast": None,
        }
    ]
    if site.grid:
        sources.append(
            {
                "type": "grid",
                "stat_energy_from": site.sensor("grid_import_energy"),
                "stat_energy_to": site.sensor("grid_export_energy"),
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "stat_rate": site.sensor("grid_power"),
                "power_config": {"stat_rate": site.sensor("grid_power")},
                "cost_adjustment_day": 0.0,
            }
        )
    if site.battery:
        sources.append(
            {
                "type": "battery",
                "stat_energy_from": site.sensor("battery_discharge_energy"),
                "stat_energy_to": site.sensor("battery_charge_energy"),
                "stat_rate": site.sensor("battery_power"),
                "power_config": {"stat_rate": site.sensor("battery_power")},
            }
        )
    return {
        "energy_sources": sources,
        "device_consumption": [],
        "device_consumption_water": [],
    }


def energy_statistics(preferences: dict[str, Any]) -> list[str]:
    """Return every statistic (entity) the energy preferences refer to."""
    found: list[str] = []
    for source in preferences.get("energy_sources", []):
        for key in ("stat_energy_from", "stat_energy_to", "stat_rate"):
            if (stat := source.get(key)) and stat not in found:
                found.append(stat)
    return found


# --- Storage files -----------------------------------------------------------------


def read_store(path: Path) -> dict[str, Any] | None:
    """Return a Home Assistant storage file's content, or None if there is none."""
    if not path.exists():
        return None
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def write_store(path: Path, key: str, version: tuple[int, int], data: Any) -> None:
    """Write a storage file the way Home Assistant's Store does."""
    write_json(
        path,
        {"version": version[0], "minor_version": version[1], "key": key, "data": data},
    )


def write_json(path: Path, content: Any) -> None:
    """Write JSON atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def configuration_yaml(profile: Profile) -> str:
    """Return configuration.yaml: the few integrations a usable UI needs."""
    country, latitude, longitude = PLACES.get(profile.timezone, ("", 0.0, 0.0))
    us = country == "US"
    place = (
        f"  country: {country}\n  latitude: {latitude}\n  longitude: {longitude}\n"
        if country
        else ""
    )
    return f"""\
# Written by scripts/develop on every start: edits here are lost.
# A minimal Home Assistant for the Enphase Local demo ({profile.name}).
homeassistant:
  name: Enphase Local demo
  time_zone: {profile.timezone}
  unit_system: {"us_customary" if us else "metric"}
  currency: {"USD" if us else "EUR"}
{place}
frontend:
config:
energy:
history:
logbook:
recorder:
  purge_keep_days: 14
# HTTP settings (127.0.0.1, --port) live in .storage/http since Home Assistant 2026.10.

logger:
  default: warning
  logs:
    custom_components.{DOMAIN}: debug
    # Camera extras the demo has no use for complain when the ffmpeg binary or
    # libturbojpeg is missing.
    haffmpeg: critical
    homeassistant.components.camera.img_util: critical
"""


# --- prepare -----------------------------------------------------------------------


async def wait_for_simulator(port: int, pid: int | None) -> dict[str, Any]:
    """Wait until the simulator's control API answers; return what it plays."""
    url = f"http://127.0.0.1:{port}/_sim/info"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        try:
            async with asyncio.timeout(SIMULATOR_START_S):
                while True:
                    try:
                        async with session.get(url) as response:
                            if response.status == 200:
                                info: dict[str, Any] = await response.json()
                                return info
                    except aiohttp.ClientError, TimeoutError:
                        pass
                    if pid is not None and not process_alive(pid):
                        raise DemoError(
                            "the simulator exited (see .demo/simulator.log)"
                        )
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise DemoError(
                f"the simulator did not answer at {url} in {SIMULATOR_START_S:.0f} s"
            ) from None


async def mint_token(port: int) -> str:
    """Return a fresh owner token from the simulator's control API."""
    url = f"http://127.0.0.1:{port}/_sim/token?role=owner"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(url) as response,
    ):
        response.raise_for_status()
        body: dict[str, Any] = await response.json()
    return str(body["token"])


def process_alive(pid: int) -> bool:
    """Return whether process ``pid`` still runs (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/stat")
    try:
        return status.read_text(encoding="utf-8").split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def missing_requirements(component: str) -> list[str]:
    """Return the requirements of a Home Assistant component that are not installed."""
    # Read the manifest without importing the component (its requirements may be
    # what is missing).
    manifest = (
        resources.files("homeassistant") / "components" / component / "manifest.json"
    )
    missing: list[str] = []
    for line in json.loads(manifest.read_text(encoding="utf-8"))["requirements"]:
        requirement = Requirement(line)
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(line)
    return missing


def pip_install(*args: str) -> subprocess.CompletedProcess[str]:
    """Run pip install in this interpreter's environment; return how it went."""
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pip", "install", "-q", *args],
        check=False,
        capture_output=True,
        text=True,
    )


def install_requirements() -> list[str]:
    """Install what Home Assistant would otherwise fetch at its first start.

    The frontend, so the download shows here once and the first start is short.
    The Assist pipeline's audio packages, because the UI's service list imports
    them: Home Assistant 2026.10 pins versions that have no Python 3.14 wheels, and
    without a C++ compiler to build them the frontend never finishes loading. Then
    the newest wheels stand in, and the returned package names go to
    ``--skip-pip-packages`` so Home Assistant does not try to build them at each start.
    """
    constraints = str(resources.files("homeassistant") / "package_constraints.txt")
    if missing := missing_requirements("frontend"):
        print(f"==> installing {' '.join(missing)} (the first time only)", flush=True)
        if (result := pip_install("--constraint", constraints, *missing)).returncode:
            raise DemoError(f"could not install the frontend:\n{result.stderr}")
    if not (missing := missing_requirements("assist_pipeline")):
        return []
    names = [Requirement(line).name for line in missing]
    compiler = shutil.which("c++") or shutil.which("g++")
    pinned: tuple[str, ...] = ("--constraint", constraints, *missing)
    if not compiler and all(_installed(name) for name in names):
        return names  # the stand-ins from an earlier run
    print(f"==> installing {' '.join(missing)} (the first time only)", flush=True)
    if not compiler:
        pinned = ("--only-binary=:all:", *pinned)
    if not pip_install(*pinned).returncode:
        return []
    result = pip_install("--only-binary=:all:", *names)
    if result.returncode:
        raise DemoError(f"could not install {' '.join(names)}:\n{result.stderr}")
    print(
        f"    no C++ compiler to build {' '.join(missing)} for Python "
        f"{sys.version_info.major}.{sys.version_info.minor}: using the newest wheels "
        "instead (only Assist uses them; install g++ and run --reset for the pinned ones)",
        flush=True,
    )
    return names


def _installed(name: str) -> bool:
    """Return whether a distribution is installed."""
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def ensure_demo_user(config: Path) -> None:
    """Create the demo login with Home Assistant's own auth script, once."""
    store = read_store(config / ".storage" / "auth_provider.homeassistant")
    users = (store or {}).get("data", {}).get("users", [])
    if any(user.get("username") == DEMO_USER for user in users):
        return
    print(f"==> creating the login {DEMO_USER} / {DEMO_PASSWORD}", flush=True)
    subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "homeassistant",
            "--script",
            "auth",
            "-c",
            str(config),
            "add",
            DEMO_USER,
            DEMO_PASSWORD,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def mark_onboarded(storage: Path) -> None:
    """Mark every onboarding step done so the UI goes straight to the login."""
    path = storage / "onboarding"
    store = read_store(path)
    done: list[str] = list((store or {}).get("data", {}).get("done", []))
    if store is not None and set(ONBOARDING_STEPS) <= set(done):
        return
    done.extend(step for step in ONBOARDING_STEPS if step not in done)
    write_store(path, "onboarding", ONBOARDING_VERSION, {"done": done})


def write_http_config(storage: Path, port: int) -> None:
    """Make Home Assistant listen on 127.0.0.1:``port``.

    Home Assistant 2026.10 keeps its HTTP settings in storage (YAML ``http:`` is
    migrated once, then only raises a repair issue), as a confirmed ``stable``
    slot and a ``pending`` one it reverts after 5 minutes unless confirmed.
    Writing ``stable`` directly starts it on the right address without that
    dialog.
    """
    path = storage / "http"
    store = read_store(path)
    if (
        store is None
        or tuple(store[key] for key in ("version", "minor_version")) != HTTP_VERSION
    ):
        stable: dict[str, Any] = {
            "cors_allowed_origins": ["https://cast.home-assistant.io"],
            "login_attempts_threshold": -1,
            "ip_ban_enabled": True,
            "ssl_profile": "modern",
            "use_x_frame_options": True,
            "created_at": datetime.now(UTC).isoformat(),
            "error": None,
            "error_message": None,
        }
    else:
        stable = store["data"]["stable"]
    if stable.get("server_port") == port and stable.get("server_host") == ["127.0.0.1"]:
        return
    stable.update(server_port=port, server_host=["127.0.0.1"])
    data = {"stable": stable, "pending": None, "yaml_migration_done": True}
    write_store(path, "http", HTTP_VERSION, data)


def write_config_entry(storage: Path, profile: Profile, data: dict[str, Any]) -> None:
    """Add the gateway's config entry, or give the existing one a fresh token."""
    path = storage / "core.config_entries"
    store = read_store(path)
    now = datetime.now(UTC).isoformat()
    entries: list[dict[str, Any]] = [] if store is None else store["data"]["entries"]
    for entry in entries:
        if entry["domain"] == DOMAIN and entry["unique_id"] == profile.serial:
            entry["data"] = data
            entry["modified_at"] = now
            break
    else:
        entries.append(
            {
                "created_at": now,
                "data": data,
                "discovery_keys": {},
                "disabled_by": None,
                "domain": DOMAIN,
                "entry_id": ulid_now(),
                "minor_version": 1,
                "modified_at": now,
                "options": {},
                "pref_disable_new_entities": False,
                "pref_disable_polling": False,
                "source": "user",
                "subentries": [],
                "title": f"Envoy {profile.serial}",
                "unique_id": profile.serial,
                "version": 1,
            }
        )
    if store is None:
        write_store(
            path, "core.config_entries", CONFIG_ENTRIES_VERSION, {"entries": entries}
        )
    else:
        write_json(path, store)


def prepare(args: argparse.Namespace) -> None:
    """Wait for the simulator and write the configuration directory."""
    profile = profile_for(args.profile)
    config: Path = args.config.resolve()
    marker = config / MARKER
    if args.reset and config.exists():
        print(f"==> --reset: removing {config}", flush=True)
        shutil.rmtree(config)
    elif marker.exists():
        previous = json.loads(marker.read_text(encoding="utf-8")).get("profile")
        if previous != profile.name:
            print(
                f"==> {config} was set up for {previous}, not {profile.name}: starting afresh",
                flush=True,
            )
            shutil.rmtree(config)

    info = asyncio.run(wait_for_simulator(args.sim_port, args.sim_pid))
    if info.get("serial") != profile.serial:
        raise DemoError(
            f"port {args.sim_port} serves gateway {info.get('serial')} "
            f"({info.get('profile')}), not {profile.serial} ({profile.name})"
        )
    skip_pip = install_requirements()

    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text(
        configuration_yaml(profile), encoding="utf-8"
    )
    link = config / "custom_components" / DOMAIN
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.resolve() != (Path.cwd() / "custom_components" / DOMAIN).resolve():
            raise DemoError(f"{link} is not a link to this repository's integration")
    else:
        link.symlink_to(Path("..", "..", "..", "custom_components", DOMAIN))

    ensure_demo_user(config)
    mark_onboarded(storage)
    write_http_config(storage, args.port)

    data: dict[str, Any] = {"host": f"127.0.0.1:{args.sim_port}"}
    if profile.web_tokens:
        data["token"] = asyncio.run(mint_token(args.sim_port))
    write_config_entry(storage, profile, data)

    if not (storage / "energy").exists():
        write_store(
            storage / "energy",
            "energy",
            ENERGY_VERSION,
            energy_preferences(SiteEntities.of(profile)),
        )
    # Extra arguments for Home Assistant, one a line (scripts/develop reads them).
    hass_args = ["--skip-pip-packages", ",".join(skip_pip)] if skip_pip else []
    (config / HASS_ARGS).write_text(
        "".join(f"{arg}\n" for arg in hass_args), encoding="utf-8"
    )
    write_json(marker, {"profile": profile.name})
    print(
        f"==> {config.relative_to(Path.cwd())} is ready: Envoy {profile.serial} "
        f"(firmware {profile.firmware}) at 127.0.0.1:{args.sim_port}",
        flush=True,
    )


# --- check -------------------------------------------------------------------------


class HomeAssistantClient:
    """Just enough of Home Assistant's HTTP and WebSocket APIs for the check."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        """Talk to Home Assistant on loopback ``port``."""
        self.session = session
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = 0

    async def answers(self) -> bool:
        """Return whether the HTTP server answers (without a failed-login warning)."""
        try:
            async with self.session.get(f"{self.base}/auth/providers") as response:
                return response.status == 200
        except aiohttp.ClientError, TimeoutError:
            return False

    async def log_in(self, username: str, password: str) -> None:
        """Log in the way the frontend does and keep the access token."""
        client_id = f"{self.base}/"
        async with self.session.post(
            f"{self.base}/auth/login_flow",
            json={
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base}/?auth_callback=1",
            },
        ) as response:
            response.raise_for_status()
            flow = await response.json()
        async with self.session.post(
            f"{self.base}/auth/login_flow/{flow['flow_id']}",
            json={"client_id": client_id, "username": username, "password": password},
        ) as response:
            response.raise_for_status()
            result = await response.json()
        if result.get("type") != "create_entry":
            raise DemoError(f"logging in as {username} failed: {result.get('errors')}")
        async with self.session.post(
            f"{self.base}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": client_id,
            },
        ) as response:
            response.raise_for_status()
            self.token = str((await response.json())["access_token"])

    async def get(self, path: str) -> Any:
        """Return a REST API answer."""
        async with self.session.get(
            f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"}
        ) as response:
            response.raise_for_status()
            return await response.json()

    async def command(self, kind: str) -> Any:
        """Return the result of one WebSocket command."""
        if self._ws is None:
            self._ws = await self.session.ws_connect(f"{self.base}/api/websocket")
            await self._ws.receive_json()  # auth_required
            await self._ws.send_json({"type": "auth", "access_token": self.token})
            if (reply := await self._ws.receive_json())["type"] != "auth_ok":
                raise DemoError(f"WebSocket authentication failed: {reply}")
        self._ids += 1
        await self._ws.send_json({"id": self._ids, "type": kind})
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                while True:
                    reply = await self._ws.receive_json()
                    if reply.get("id") == self._ids and reply.get("type") == "result":
                        break
        except TimeoutError:
            raise DemoError(
                f"{kind} got no answer in {COMMAND_TIMEOUT_S:.0f} s"
            ) from None
        if not reply["success"]:
            raise DemoError(f"{kind} failed: {reply['error']}")
        return reply["result"]

    async def close(self) -> None:
        """Close the WebSocket."""
        if self._ws is not None:
            await self._ws.close()


def numeric(state: dict[str, Any] | None) -> bool:
    """Return whether an entity state is a number."""
    if state is None:
        return False
    try:
        float(state["state"])
    except ValueError:
        return False
    return True


def show(state: dict[str, Any]) -> str:
    """Return an entity state with its unit."""
    unit = state["attributes"].get("unit_of_measurement")
    return f"{state['state']} {unit}" if unit else str(state["state"])


def log_problems(log: Path) -> tuple[list[str], list[str]]:
    """Return the log's errors about the integration, and its other errors."""
    ours: list[str] = []
    others: list[str] = []
    if not log.exists():
        return ours, others
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match is None or match["level"] not in ("ERROR", "CRITICAL"):
            continue
        (ours if DOMAIN in line else others).append(line)
    return ours, others


async def wait_until[T](
    what: str,
    probe: Callable[[], Awaitable[T | None]],
    deadline: float,
    hass_pid: int,
    interval: float = 2.0,
) -> T:
    """Call ``probe`` until it returns something other than None; return that."""
    while True:
        result = await probe()
        if result is not None:
            return result
        if not process_alive(hass_pid):
            raise DemoError(f"Home Assistant exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


async def run_check(args: argparse.Namespace) -> None:
    """Wait for Home Assistant and check what the demo promises."""
    config: Path = args.config.resolve()
    profile = profile_for(
        json.loads((config / MARKER).read_text(encoding="utf-8"))["profile"]
    )
    started = time.monotonic()
    deadline = started + args.timeout
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        hass = HomeAssistantClient(session, args.port)

        async def api_up() -> bool | None:
            return True if await hass.answers() else None

        await wait_until(f"{hass.base}/api/", api_up, deadline, args.hass_pid)
        print(
            f"==> Home Assistant answers after {time.monotonic() - started:.0f} s",
            flush=True,
        )
        await hass.log_in(DEMO_USER, DEMO_PASSWORD)
        api = await hass.get("/api/")
        print(
            f"==> logged in as {DEMO_USER}; /api/ says {api['message']!r}", flush=True
        )

        async def entry_loaded() -> dict[str, Any] | None:
            entries = await hass.get(
                f"/api/config/config_entries/entry?domain={DOMAIN}"
            )
            if len(entries) != 1:
                raise DemoError(
                    f"expected one {DOMAIN} config entry, found {len(entries)}"
                )
            entry: dict[str, Any] = entries[0]
            if entry["state"] == "loaded":
                return entry
            if entry["state"] in ("setup_error", "migration_error", "failed_unload"):
                raise DemoError(
                    f"the config entry is {entry['state']}: {entry.get('reason')}"
                )
            return None

        entry: dict[str, Any] = await wait_until(
            "the Enphase Local entry to load", entry_loaded, deadline, args.hass_pid
        )
        print(f"==> config entry {entry['title']!r} is loaded", flush=True)

        # The frontend stays on "Loading..." when either of these fails.
        await hass.command("get_services")
        panels: dict[str, Any] = await hass.command("get_panels")
        if "energy" not in panels:
            raise DemoError("the Energy panel is missing from the sidebar")

        preferences: dict[str, Any] = await hass.command("energy/get_prefs")
        statistics = energy_statistics(preferences)
        if not statistics:
            raise DemoError("the Energy dashboard has no sources")

        async def energy_states() -> dict[str, dict[str, Any]] | None:
            states = {
                state["entity_id"]: state for state in await hass.get("/api/states")
            }
            if all(numeric(states.get(stat)) for stat in statistics):
                return states
            return None

        try:
            states: dict[str, dict[str, Any]] = await wait_until(
                "numeric states of the Energy dashboard's sensors",
                energy_states,
                min(deadline, time.monotonic() + 120),
                args.hass_pid,
            )
        except DemoError:
            states = {
                state["entity_id"]: state for state in await hass.get("/api/states")
            }
            for stat in statistics:
                print(f"    {stat}: {states.get(stat, {}).get('state', 'missing')}")
            raise

        registry: list[dict[str, Any]] = await hass.command(
            "config/entity_registry/list"
        )
        ours = [
            item
            for item in registry
            if item.get("config_entry_id") == entry["entry_id"]
        ]
        enabled = [item for item in ours if item.get("disabled_by") is None]
        kinds = Counter(item["entity_id"].split(".")[0] for item in enabled)
        with_state = [
            states[item["entity_id"]] for item in enabled if item["entity_id"] in states
        ]
        unavailable = [
            s for s in with_state if s["state"] in ("unavailable", "unknown")
        ]
        numbers = sum(numeric(s) for s in with_state)
        print(
            f"==> {len(ours)} entities ({len(enabled)} enabled: "
            + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            + f"); {numbers} numeric, {len(unavailable)} unavailable or unknown"
        )
        for stat in statistics:
            print(f"    {stat} = {show(states[stat])}")
        reachable = f"binary_sensor.envoy_{profile.serial}_gateway_reachable"
        if reachable in states:
            print(f"    {reachable} = {show(states[reachable])}")
        if not enabled or numbers == 0:
            raise DemoError("the integration has no entities with numeric states")

        repairs: dict[str, Any] = await hass.command("repairs/list_issues")
        for issue in repairs["issues"]:
            if not issue.get("ignored"):
                print(f"    repair issue: {issue['domain']}.{issue['issue_id']}")

        validation = await hass.command("energy/validate")
        pending: set[str] = set()
        problems: list[str] = []
        for issues in validation["energy_sources"]:
            for issue in issues:
                affected = ", ".join(
                    str(entity) for entity, _detail in issue["affected_entities"]
                )
                if issue["type"] in PENDING_ENERGY_ISSUES:
                    pending.add(affected)
                else:
                    problems.append(f"{issue['type']}: {affected}")
        sources = ", ".join(source["type"] for source in preferences["energy_sources"])
        print(f"==> Energy dashboard sources: {sources}")
        if pending:
            print(
                "    (no long-term statistics yet: the recorder compiles them every 5 minutes)"
            )
        await hass.close()
        if problems:
            raise DemoError(
                "the energy preferences do not validate: " + "; ".join(problems)
            )

    ours_log, others_log = log_problems(config / "home-assistant.log")
    for line in others_log:
        print(f"    log: {line}")
    if ours_log:
        for line in ours_log:
            print(f"    log: {line}")
        raise DemoError(f"the log has {len(ours_log)} errors about {DOMAIN}")


async def announce(args: argparse.Namespace) -> None:
    """Say when Home Assistant answers: its start-up log buries the first banner."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        hass = HomeAssistantClient(session, args.port)

        async def api_up() -> bool | None:
            return True if await hass.answers() else None

        try:
            await wait_until("Home Assistant", api_up, float("inf"), args.hass_pid, 1.0)
        except DemoError:
            return  # it stopped before it answered: its log says why
    print(
        f"==> Home Assistant is ready: {hass.base} (log in as {DEMO_USER} / {DEMO_PASSWORD})",
        flush=True,
    )


async def check(args: argparse.Namespace) -> None:
    """Run the check within its time limit."""
    try:
        async with asyncio.timeout(args.timeout):
            await run_check(args)
    except TimeoutError:
        raise DemoError(f"the check did not finish in {args.timeout:.0f} s") from None


# --- entry point -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serial = commands.add_parser("serial", help="print a profile's gateway serial")
    serial.add_argument("--profile", required=True)

    setup = commands.add_parser("prepare", help="write the configuration directory")
    setup.add_argument("--config", type=Path, required=True)
    setup.add_argument("--profile", required=True)
    setup.add_argument("--port", type=int, default=8123, help="Home Assistant's port")
    setup.add_argument("--sim-port", type=int, default=8443)
    setup.add_argument("--sim-pid", type=int, default=None)
    setup.add_argument("--reset", action="store_true")

    check = commands.add_parser("check", help="check a started Home Assistant")
    check.add_argument("--config", type=Path, required=True)
    check.add_argument("--port", type=int, default=8123)
    check.add_argument("--hass-pid", type=int, required=True)
    check.add_argument("--timeout", type=float, default=900.0)
    ready = commands.add_parser("announce", help="say when Home Assistant answers")
    ready.add_argument("--port", type=int, default=8123)
    ready.add_argument("--hass-pid", type=int, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serial":
            print(profile_for(args.profile).serial)
        elif args.command == "prepare":
            prepare(args)
        elif args.command == "announce":
            asyncio.run(announce(args))
        else:
            asyncio.run(check(args))
    except DemoError as err:
        print(f"scripts/demo_setup.py: {err}", file=sys.stderr)
        return 2 if args.command == "serial" else 1
    except (OSError, aiohttp.ClientError, subprocess.CalledProcessError) as err:
        print(f"scripts/demo_setup.py: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
