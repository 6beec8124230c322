"""Prepare and check the Home Assistant that scripts/develop runs against the simulator.

    python scripts/demo_setup.py serial --profile NAME
    python scripts/demo_setup.py plan --config .demo/config --profile NAME ...
    python scripts/demo_setup.py prepare --config .demo/config --profile NAME ...
    python scripts/demo_setup.py check --config .demo/config --port 8123 ...
    python scripts/demo_setup.py history --config .demo/config --port 8123 ...
    python scripts/demo_setup.py announce --port 8123 --hass-pid PID

``plan`` runs before the simulator starts: it starts the configuration afresh when
asked to (or when it was made for another profile), picks the simulator's history
start once per configuration and keeps its clock from running backwards between
runs, and prints the simulator's extra arguments, one a line. ``prepare`` waits
for the simulator, installs what Home Assistant would otherwise fetch at its first
start, then writes a configuration directory in which Home Assistant starts
onboarded, with a ``demo`` / ``demo`` login, the Enphase Local config entry
pointing at the simulator and the Energy dashboard wired to the gateway's meters
and batteries. ``check`` waits for a started Home Assistant, logs in as the demo
user, verifies the integration's entities and the energy preferences, and imports
the simulator's last week into the energy sensors' statistics. ``history`` does
that import in the background of an interactive demo and joins it exactly to
the statistics the recorder compiles from the live sensors. ``announce`` prints
the address once Home Assistant answers.

Run it with the repository root on ``PYTHONPATH`` and Home Assistant installed.
"""

import argparse
import asyncio
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
import json
import math
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from homeassistant import bootstrap, requirements as ha_requirements
from homeassistant.const import BASE_PLATFORMS
from homeassistant.util.ulid import ulid_now
from homeassistant.util.unit_conversion import EnergyConverter
from packaging.requirements import Requirement

from envoy_simulator.clock import ShiftedClock
from envoy_simulator.profiles import PROFILES, Profile

DOMAIN = "enphase_local"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published login
SIMULATOR_START_S = 120.0
"""The simulator integrates its counters from the history start before it answers."""
COMMAND_TIMEOUT_S = 120.0
HASS_ARGS = ".hass_args"
MARKER = ".enphase_demo.json"
"""Remembers what a configuration directory was set up for (see ``plan``)."""
REPOSITORY = Path(__file__).resolve().parent.parent

# The integrations configuration.yaml names; Home Assistant adds its defaults.
CONFIG_DOMAINS = (
    "homeassistant",
    "frontend",
    "config",
    "energy",
    "history",
    "logbook",
    "recorder",
    "logger",
)

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
    "America/Detroit": ("US", 42.33, -83.05),
    "America/Edmonton": ("CA", 53.55, -113.49),
    "America/Los_Angeles": ("US", 34.05, -118.24),
    "America/New_York": ("US", 40.71, -74.01),
    "America/Phoenix": ("US", 33.45, -112.07),
    "America/Toronto": ("CA", 43.65, -79.38),
    "Australia/Sydney": ("AU", -33.87, 151.21),
    "Europe/Amsterdam": ("NL", 52.37, 4.90),
    "Europe/Berlin": ("DE", 52.52, 13.40),
    "Europe/Paris": ("FR", 48.86, 2.35),
}

CURRENCIES = {"AU": "AUD", "CA": "CAD", "US": "USD"}

# Energy-preference issues that only mean the recorder has not compiled its first
# statistics yet (it does every 5 minutes).
PENDING_ENERGY_ISSUES = frozenset({"statistics_not_defined"})

LOG_LINE = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]+) \((?P<thread>[^)]*)\) \[(?P<logger>[^\]]+)\]"
)

# The integration's lifetime energy sensors and the simulator's counters behind
# them (/_sim/history).
SIM_COUNTERS: dict[str, str] = {
    "production_energy": "production_wh",
    "consumption_energy": "consumption_wh",
    "grid_import_energy": "grid_import_wh",
    "grid_export_energy": "grid_export_wh",
    "battery_charge_energy": "battery_charge_wh",
    "battery_discharge_energy": "battery_discharge_wh",
}
HISTORY_HOURS = 168
"""How much of the simulator's past goes into the statistics: a week."""
SIM_HISTORY_MAX_HOURS = 9 * 24
"""The simulator keeps nine days before its history start."""
STATISTICS_WINDOW_S = 10 * 86400.0
"""How far back to look for statistics (the recorder keeps 5-minute ones 10 days)."""
BOUNDARY_SETTLE_S = 60.0
"""How long after a simulated hour starts its recorded states are read."""
CLOCK_SLACK_S = 5.0
CLOCK_JUMP_NOTE_S = 3600.0
JOIN_MARGIN = 1e-9
"""Relative: far above float rounding, far below anything the dashboard shows."""


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
    consumption: bool

    def sensor(self, key: str) -> str:
        """Return the entity id of the gateway's sensor ``key``."""
        return f"sensor.envoy_{self.serial}_{key}"

    @classmethod
    def of(cls, profile: Profile) -> SiteEntities:
        """Return which site sensors the integration creates for ``profile``.

        As custom_components/enphase_local/site.py decides: grid values need a
        net CT, or load and production CTs; consumption a load CT or a net CT;
        battery values a storage CT, or IQ Batteries or AC Batteries reporting
        their own power (then the integration integrates it). Production is
        always there (from the CTs or the inverters).
        """
        types = set(profile.enabled_meter_types)
        grid = (
            "net-consumption" in types or {"total-consumption", "production"} <= types
        )
        reporting = any(unit.kind in ("encharge", "acb") for unit in profile.batteries)
        return cls(
            serial=profile.serial,
            grid=grid,
            battery="storage" in types or reporting,
            consumption=bool({"net-consumption", "total-consumption"} & types),
        )

    def energy_sensors(self) -> list[str]:
        """Return the lifetime energy sensors of this site, production first."""
        keys = ["production_energy"]
        if self.grid:
            keys += ["grid_import_energy", "grid_export_energy"]
        if self.consumption:
            keys.append("consumption_energy")
        if self.battery:
            keys += ["battery_charge_energy", "battery_discharge_energy"]
        return [self.sensor(key) for key in keys]


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


def merge_energy_preferences(
    stored: dict[str, Any], wanted: dict[str, Any]
) -> dict[str, Any] | None:
    """Return ``stored`` with the kinds of source it lacks added from ``wanted``.

    A configuration made before the demo knew the site's batteries gets its
    battery; sources someone set up or changed in the UI stay as they are.
    Returns None when nothing is missing.
    """
    have = {source.get("type") for source in stored.get("energy_sources", [])}
    missing = [
        source for source in wanted["energy_sources"] if source["type"] not in have
    ]
    if not missing:
        return None
    merged = dict(stored)
    merged["energy_sources"] = [*stored.get("energy_sources", []), *missing]
    return merged


def energy_statistics(preferences: dict[str, Any]) -> list[str]:
    """Return every statistic (entity) the energy preferences refer to."""
    found: list[str] = []
    for source in preferences.get("energy_sources", []):
        for key in ("stat_energy_from", "stat_energy_to", "stat_rate"):
            if (stat := source.get(key)) and stat not in found:
                found.append(stat)
    return found


def history_sensors(
    serial: str, preferences: dict[str, Any], states: Mapping[str, Any]
) -> dict[str, str]:
    """Return the energy sensors to give a history, each with its simulator counter.

    The gateway's lifetime energy sensors the Energy dashboard uses, and its
    consumption sensor when it has one.
    """
    prefix = f"sensor.envoy_{serial}_"
    candidates = [
        stat
        for source in preferences.get("energy_sources", [])
        for key in ("stat_energy_from", "stat_energy_to")
        if (stat := source.get(key))
    ]
    candidates.append(f"{prefix}consumption_energy")
    found: dict[str, str] = {}
    for stat in candidates:
        key = stat.removeprefix(prefix)
        if stat.startswith(prefix) and key in SIM_COUNTERS and stat in states:
            found[stat] = SIM_COUNTERS[key]
    return found


# --- Addresses and the clock --------------------------------------------------------


def connect_host(host: str) -> str:
    """Return the address to connect to for a server listening on ``host``."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - compared, never bound


def url_host(host: str) -> str:
    """Return ``host`` as it goes into a URL (IPv6 addresses in brackets)."""
    address = connect_host(host)
    return f"[{address}]" if ":" in address else address


def local_midnight(timezone: str, now: float) -> float:
    """Return the epoch of the last local midnight in ``timezone``."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def parse_time_of_day(text: str) -> tuple[int, int]:
    """Parse ``HH:MM``."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise DemoError(f"--time wants HH:MM (00:00 to 23:59), not {text!r}")
    return int(match[1]), int(match[2])


def clock_argument(
    timezone: str,
    requested: str | None,
    reached: float | None,
    now: float,
    previous_offset: float = 0.0,
) -> tuple[str | None, str | None]:
    """Return the simulator's ``--time`` (or None for real time) and a note.

    The simulator's counters are functions of its clock, so its clock must not
    run backwards from where an earlier run left it (``reached``, simulator
    epoch): Home Assistant would see every energy total drop. ``--time`` (a
    local time of the site today) that would do so is refused; without it the
    clock is real time again, or, while an earlier ``--time`` still has it
    ahead of real time, goes on from where it stopped. ``previous_offset`` is
    how far the clock was ahead of real time in the run before.
    """
    zone = ZoneInfo(timezone)
    if requested is not None:
        hour, minute = parse_time_of_day(requested)
        offset = ShiftedClock.local_time(timezone, hour, minute, now=now).offset_s
        if reached is not None and now + offset < reached - CLOCK_SLACK_S:
            stopped = datetime.fromtimestamp(reached, zone)
            raise DemoError(
                f"the simulated site's clock already reached {stopped:%Y-%m-%d %H:%M} "
                f"(site time); --time {requested} would turn it back, and every energy "
                "counter with it. Pick a later time, or start afresh with --reset."
            )
        note = None
        if reached is not None and offset > previous_offset + CLOCK_JUMP_NOTE_S:
            note = (
                f"==> --time moves the simulated clock {(offset - previous_offset) / 3600:.1f} "
                "hours further ahead: the energy totals jump by what the site makes in "
                "those hours, and the recorder counts that in the first hour (--reset "
                "starts afresh)"
            )
        return f"{hour:02d}:{minute:02d}", note
    if reached is None or now >= reached - CLOCK_SLACK_S:
        return None, None
    resume = datetime.fromtimestamp(math.ceil(reached / 60.0) * 60.0, zone)
    if resume.date() != datetime.fromtimestamp(now, zone).date():
        raise DemoError(
            f"the simulated site's clock is at {resume:%Y-%m-%d %H:%M} (site time), "
            "another day than today there (an earlier --time): start afresh with --reset"
        )
    return f"{resume:%H:%M}", (
        f"==> the simulated clock is ahead of real time (an earlier --time): "
        f"it goes on from {resume:%H:%M} site time"
    )


def clock_reached(config: Path, marker: Mapping[str, Any]) -> float | None:
    """Return how far the simulator's clock got while Home Assistant last watched it.

    The recorder writes its database every few seconds while Home Assistant
    runs, and the integration logs every poll at debug level; the last write,
    on the clock of the run that made it, is as far as any energy total Home
    Assistant keeps has seen.
    """
    offset = marker.get("clock_offset_s")
    if not isinstance(offset, int | float):
        return None
    written = [
        path.stat().st_mtime
        for pattern in ("home-assistant_v2.db*", "home-assistant.log")
        for path in config.glob(pattern)
    ]
    return max(written) + offset if written else None


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
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def read_marker(config: Path) -> dict[str, Any]:
    """Return what the configuration directory was set up for ({} if nothing)."""
    path = config / MARKER
    if not path.exists():
        return {}
    content = json.loads(path.read_text(encoding="utf-8"))
    return content if isinstance(content, dict) else {}


def update_marker(config: Path, **changes: Any) -> None:
    """Change some of the marker's fields."""
    marker = read_marker(config)
    marker.update(changes)
    write_json(config / MARKER, marker)


def configuration_yaml(profile: Profile) -> str:
    """Return configuration.yaml: the few integrations a usable UI needs."""
    country, latitude, longitude = PLACES.get(profile.timezone, ("", 0.0, 0.0))
    us = country == "US"
    place = (
        f"  country: {country}\n  latitude: {latitude}\n  longitude: {longitude}\n"
        if country
        else ""
    )
    plain = "".join(
        f"{domain}:\n"
        for domain in CONFIG_DOMAINS
        if domain not in ("homeassistant", "recorder", "logger")
    )
    return f"""\
# Written by scripts/develop on every start: edits here are lost.
# A minimal Home Assistant for the Enphase Local demo ({profile.name}).
homeassistant:
  name: Enphase Local demo
  time_zone: {profile.timezone}
  unit_system: {"us_customary" if us else "metric"}
  currency: {CURRENCIES.get(country, "EUR")}
{place}
{plain}recorder:
  purge_keep_days: 14
# HTTP settings (--host, --port) live in .storage/http since Home Assistant 2026.10.

logger:
  default: warning
  logs:
    custom_components.{DOMAIN}: debug
    # Camera extras the demo has no use for complain when the ffmpeg binary or
    # libturbojpeg is missing.
    haffmpeg: critical
    homeassistant.components.camera.img_util: critical
"""


# --- Requirements ------------------------------------------------------------------


def read_manifest(domain: str) -> dict[str, Any] | None:
    """Return an integration's manifest (ours or a built-in one), None if unknown."""
    ours = REPOSITORY / "custom_components" / domain / "manifest.json"
    if ours.is_file():
        text = ours.read_text(encoding="utf-8")
    else:
        built_in = (
            resources.files("homeassistant") / "components" / domain / "manifest.json"
        )
        if not built_in.is_file():
            return None
        text = built_in.read_text(encoding="utf-8")
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def demo_domains(configured: Iterable[str]) -> set[str]:
    """Return every integration whose requirements Home Assistant installs for the demo.

    What bootstrap sets up (the configured integrations and config entries, its
    default integrations, every base platform) and, as
    homeassistant/requirements.py walks them, their dependencies, after
    dependencies and the discovery integrations their manifests ask for.
    Manifests are read without importing anything (the imports may need the
    very requirements that are missing).
    """
    pending = [
        *configured,
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *BASE_PLATFORMS,
    ]
    found: set[str] = set()
    while pending:
        domain = pending.pop()
        if domain in found or (manifest := read_manifest(domain)) is None:
            continue
        found.add(domain)
        pending.extend(manifest.get("dependencies", []))
        pending.extend(manifest.get("after_dependencies", []))
        pending.extend(
            discovery
            for discovery, keys in ha_requirements.DISCOVERY_INTEGRATIONS.items()
            if any(key in manifest for key in keys)
        )
    return found


def demo_requirements(domains: Iterable[str]) -> list[str]:
    """Return the requirement lines of ``domains``, sorted, each once."""
    lines: set[str] = set()
    for domain in domains:
        lines.update((read_manifest(domain) or {}).get("requirements", []))
    return sorted(lines, key=str.lower)


def satisfied(line: str) -> bool:
    """Return whether a requirement is installed in a version it accepts."""
    requirement = Requirement(line)
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return False
    return requirement.specifier.contains(installed, prereleases=True)


def missing_requirements(component: str) -> list[str]:
    """Return the requirements of a Home Assistant component that are not installed."""
    return [
        line
        for line in (read_manifest(component) or {}).get("requirements", [])
        if not satisfied(line)
    ]


def pip_install(*args: str) -> subprocess.CompletedProcess[str]:
    """Run pip install in this interpreter's environment; return how it went."""
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pip", "install", "-q", *args],
        check=False,
        capture_output=True,
        text=True,
    )


def install_requirements(domains: Iterable[str]) -> list[str]:
    """Install what Home Assistant would otherwise fetch at its first start.

    Every requirement of every integration the demo loads (``demo_domains``):
    the frontend, so the download shows here once and the first start is
    short, and the rest so that the first start finds everything already there
    (the UI's service list imports camera, conversation and the Assist
    pipeline, whose requirements Home Assistant would only install as they set
    up). Home Assistant 2026.10 pins some packages (Assist's audio packages)
    in versions without Python 3.14 wheels; without a C++ compiler to build
    them the newest wheels stand in, and their names are returned for
    ``--skip-pip-packages`` so Home Assistant does not try to build them at
    each start.
    """
    constraints = str(resources.files("homeassistant") / "package_constraints.txt")
    missing = [line for line in demo_requirements(domains) if not satisfied(line)]
    compiler = shutil.which("c++") or shutil.which("g++")
    # Stand-ins from an earlier run: installed, in another version, and still
    # nothing to build the pinned one with.
    stand_ins = [
        line for line in missing if not compiler and _installed(Requirement(line).name)
    ]
    wanted = [line for line in missing if line not in stand_ins]
    if wanted:
        print(
            f"==> installing what Home Assistant needs for the demo: {' '.join(wanted)} "
            "(the first time only)",
            flush=True,
        )
    if wanted and pip_install("--constraint", constraints, *wanted).returncode:
        # One at a time, to find those that cannot be had as pinned.
        for line in wanted:
            if not pip_install("--constraint", constraints, line).returncode:
                continue
            name = Requirement(line).name
            result = pip_install("--only-binary=:all:", name)
            if result.returncode:
                raise DemoError(f"could not install {line}:\n{result.stderr}")
            stand_ins.append(line)
            print(
                f"    could not build {line} for Python {sys.version_info.major}."
                f"{sys.version_info.minor}"
                + ("" if compiler else " (no C++ compiler)")
                + ": using the newest wheel instead (install g++ and run --reset for "
                "the pinned one)",
                flush=True,
            )
    return [Requirement(line).name for line in stand_ins]


def _installed(name: str) -> bool:
    """Return whether a distribution is installed."""
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


# --- plan --------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> None:
    """Settle the configuration directory and print the simulator's extra arguments."""
    profile = profile_for(args.profile)
    config: Path = args.config.resolve()
    marker = read_marker(config)
    if args.reset and config.exists():
        print(f"==> --reset: removing {config}", file=sys.stderr, flush=True)
        shutil.rmtree(config)
        marker = {}
    elif marker and marker.get("profile") != profile.name:
        print(
            f"==> {config} was set up for {marker.get('profile')}, not {profile.name}: "
            "starting afresh",
            file=sys.stderr,
            flush=True,
        )
        shutil.rmtree(config)
        marker = {}
    now = time.time()
    start = marker.get("history_start")
    if not isinstance(start, int | float):
        # The simulator's own default for its first day, kept from now on.
        start = local_midnight(profile.timezone, now)
    previous = marker.get("clock_offset_s")
    time_arg, note = clock_argument(
        profile.timezone,
        args.time,
        clock_reached(config, marker),
        now,
        float(previous) if isinstance(previous, int | float) else 0.0,
    )
    if note:
        print(note, file=sys.stderr, flush=True)
    config.mkdir(parents=True, exist_ok=True)
    update_marker(config, profile=profile.name, history_start=start)
    lines = ["--history-start", f"{start:.0f}"]
    if time_arg is not None:
        lines += ["--time", time_arg]
    print("\n".join(lines))


# --- prepare -----------------------------------------------------------------------


async def wait_for_simulator(base: str, pid: int | None) -> dict[str, Any]:
    """Wait until the simulator's control API answers; return what it plays."""
    url = f"{base}/_sim/info"
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


async def mint_token(base: str) -> str:
    """Return a fresh owner token from the simulator's control API."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"{base}/_sim/token?role=owner") as response,
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


def write_http_config(storage: Path, port: int, host: str = "127.0.0.1") -> None:
    """Make Home Assistant listen on ``host``:``port``.

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
    if stable.get("server_port") == port and stable.get("server_host") == [host]:
        return
    stable.update(server_port=port, server_host=[host])
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


def write_energy_preferences(storage: Path, site: SiteEntities) -> None:
    """Wire the Energy dashboard to the gateway, or add what an older setup lacks."""
    path = storage / "energy"
    wanted = energy_preferences(site)
    store = read_store(path)
    if store is None:
        write_store(path, "energy", ENERGY_VERSION, wanted)
        return
    merged = merge_energy_preferences(store.get("data", {}), wanted)
    if merged is not None:
        added = len(merged["energy_sources"]) - len(
            store.get("data", {}).get("energy_sources", [])
        )
        print(f"==> adding {added} source(s) to the Energy dashboard", flush=True)
        store["data"] = merged
        write_json(path, store)


def prepare(args: argparse.Namespace) -> None:
    """Wait for the simulator and write the configuration directory."""
    profile = profile_for(args.profile)
    config: Path = args.config.resolve()
    if read_marker(config).get("profile") != profile.name:
        raise DemoError(f"{config} is not planned for {profile.name}: run plan first")
    sim_base = f"http://{url_host(args.host)}:{args.sim_port}"
    info = asyncio.run(wait_for_simulator(sim_base, args.sim_pid))
    if info.get("serial") != profile.serial:
        raise DemoError(
            f"{sim_base} serves gateway {info.get('serial')} "
            f"({info.get('profile')}), not {profile.serial} ({profile.name})"
        )
    clock_offset = float(info["now"]) - time.time()
    skip_pip = install_requirements(demo_domains([*CONFIG_DOMAINS, DOMAIN]))

    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text(
        configuration_yaml(profile), encoding="utf-8"
    )
    link = config / "custom_components" / DOMAIN
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.resolve() != (REPOSITORY / "custom_components" / DOMAIN).resolve():
            raise DemoError(f"{link} is not a link to this repository's integration")
    else:
        link.symlink_to(Path("..", "..", "..", "custom_components", DOMAIN))

    ensure_demo_user(config)
    mark_onboarded(storage)
    write_http_config(storage, args.port, args.host)

    gateway = f"{url_host(args.host)}:{args.sim_port}"
    data: dict[str, Any] = {"host": gateway}
    if profile.web_tokens:
        data["token"] = asyncio.run(mint_token(sim_base))
    write_config_entry(storage, profile, data)
    write_energy_preferences(storage, SiteEntities.of(profile))

    # Extra arguments for Home Assistant, one a line (scripts/develop reads them).
    hass_args = ["--skip-pip-packages", ",".join(skip_pip)] if skip_pip else []
    (config / HASS_ARGS).write_text(
        "".join(f"{arg}\n" for arg in hass_args), encoding="utf-8"
    )
    update_marker(config, clock_offset_s=round(clock_offset, 3))
    try:
        shown = config.relative_to(Path.cwd())
    except ValueError:
        shown = config
    print(
        f"==> {shown} is ready: Envoy {profile.serial} "
        f"(firmware {profile.firmware}) at {gateway}",
        flush=True,
    )


# --- Talking to Home Assistant and the simulator ------------------------------------


class HomeAssistantClient:
    """Just enough of Home Assistant's HTTP and WebSocket APIs for the demo."""

    def __init__(
        self, session: aiohttp.ClientSession, port: int, host: str = "127.0.0.1"
    ) -> None:
        """Talk to Home Assistant listening on ``host``:``port``."""
        self.session = session
        self.base = f"http://{url_host(host)}:{port}"
        self.token = ""
        self.refresh_token = ""
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
        """Log in the way the frontend does and keep the tokens."""
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
            tokens = await response.json()
        self.token = str(tokens["access_token"])
        self.refresh_token = str(tokens.get("refresh_token", ""))

    async def get(self, path: str) -> Any:
        """Return a REST API answer."""
        async with self.session.get(
            f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"}
        ) as response:
            response.raise_for_status()
            return await response.json()

    async def states(self) -> dict[str, dict[str, Any]]:
        """Return every entity's state by entity id."""
        return {state["entity_id"]: state for state in await self.get("/api/states")}

    async def command(self, kind: str, **fields: Any) -> Any:
        """Return the result of one WebSocket command."""
        if self._ws is None:
            self._ws = await self.session.ws_connect(
                f"{self.base}/api/websocket", max_msg_size=0
            )
            await self._ws.receive_json()  # auth_required
            await self._ws.send_json({"type": "auth", "access_token": self.token})
            if (reply := await self._ws.receive_json())["type"] != "auth_ok":
                raise DemoError(f"WebSocket authentication failed: {reply}")
        self._ids += 1
        await self._ws.send_json({"id": self._ids, "type": kind, **fields})
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
            self._ws = None


class SimulatorClient:
    """The simulator's control API (/_sim/...)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        """Talk to the simulator at ``base`` (http://host:port)."""
        self.session = session
        self.base = base

    async def get(self, path: str) -> Any:
        """Return a control API answer."""
        async with self.session.get(f"{self.base}/_sim/{path}") as response:
            if response.status != 200:
                raise DemoError(
                    f"the simulator answered {response.status} to /_sim/{path}: "
                    f"{await response.text()}"
                )
            return await response.json()


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
    hass_pid: int | None,
    interval: float = 2.0,
) -> T:
    """Call ``probe`` until it returns something other than None; return that."""
    while True:
        result = await probe()
        if result is not None:
            return result
        if hass_pid is not None and not process_alive(hass_pid):
            raise DemoError(f"Home Assistant exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


# --- Energy history ----------------------------------------------------------------


def floor_hour(t: float) -> float:
    """Return the start of the (UTC) hour ``t`` is in."""
    return math.floor(t / 3600.0) * 3600.0


def ceil_hour(t: float) -> float:
    """Return the start of the first (UTC) hour at or after ``t``."""
    return math.ceil(t / 3600.0) * 3600.0


def iso(t: float) -> str:
    """Return epoch seconds as an ISO 8601 UTC time."""
    return datetime.fromtimestamp(t, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class CounterSeries:
    """One simulator counter (Wh) at the start of consecutive simulated hours."""

    times: tuple[float, ...]
    """Simulator epoch, ascending."""
    values: tuple[float, ...]

    @classmethod
    def from_history(
        cls, history: Sequence[Mapping[str, Any]], key: str
    ) -> CounterSeries | None:
        """Return ``key``'s series from /_sim/history, None if the site has no such flow."""
        points = [
            (float(row["start"]), float(row[key]))
            for row in history
            if row.get(key) is not None
        ]
        if len(points) < 2 or len(points) != len(history):
            return None
        return cls(tuple(t for t, _ in points), tuple(v for _, v in points))

    def at(self, t: float) -> float:
        """Return the counter at simulator time ``t``.

        Linear between the hours; after the last one, the last hour's rate goes on.
        """
        times, values = self.times, self.values
        if t < times[0]:
            raise ValueError(f"the simulator's history starts after {t}")
        index = bisect_right(times, t) - 1
        if index >= len(times) - 1:
            rate = max(values[-1] - values[-2], 0.0) / (times[-1] - times[-2])
            return values[-1] + rate * (t - times[-1])
        fraction = (t - times[index]) / (times[index + 1] - times[index])
        return values[index] + fraction * (values[index + 1] - values[index])


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The hours to import for one sensor and how to join the live statistics to them."""

    rows: list[dict[str, Any]]
    """``start`` (epoch), ``state`` and ``sum`` in the statistic's unit."""
    first_hour: float
    """The first imported hour (epoch); the sums count from its start."""
    base: float
    """``state - sum`` of every imported row."""
    live_base: float
    """``state - sum`` of every live row once joined: ``base`` less a hair, so
    that rounding never makes the first live hour a tiny negative ("-0 kWh")."""
    adjustment: float | None
    """What to add to the live sums, from the first live hour on; None: no live ones."""


def plan_import(
    series: CounterSeries,
    *,
    offset_s: float,
    first_live_hour: float,
    first_hour: float | None,
    hours: int,
    delta_wh: float,
    factor: float,
    earliest_live: tuple[float, float] | None,
) -> ImportPlan:
    """Plan the hourly statistics that lead into a sensor's live ones.

    Home Assistant's hours are real time; the simulator's clock is real time
    plus ``offset_s`` (``--time``). The hours before ``first_live_hour`` (the
    first one the recorder compiled from the live sensor) are imported, back
    to ``first_hour`` when an earlier import started there (so its sums stay
    valid) or ``hours`` back. The sums count from the start of the first
    imported hour; the states are the sensor's, which reads the simulator's
    counter plus ``delta_wh``. The recorder compiles each live sum as the
    previous one plus what the state grew (homeassistant/components/sensor/
    recorder.py) from a zero point of its own; ``adjustment`` moves the live
    sums so that ``state - sum`` is ``base`` for every row, which makes the
    sums of the imported and the live hours one continuous series.
    ``earliest_live`` is the first live 5-minute statistic's (state, sum).
    (The live sums end up a hair above: see ``ImportPlan.live_base``.)
    ``factor`` converts Wh to the statistic's unit.
    """
    earliest = ceil_hour(series.times[0] - offset_s)
    start = max(first_live_hour - hours * 3600.0, earliest)
    if first_hour is not None and earliest <= first_hour < start:
        start = first_hour
    zero = series.at(start + offset_s)
    rows: list[dict[str, Any]] = []
    hour = start
    while hour < first_live_hour:
        counter = series.at(hour + 3600.0 + offset_s)
        rows.append(
            {
                "start": hour,
                "state": (counter + delta_wh) * factor,
                "sum": (counter - zero) * factor,
            }
        )
        hour += 3600.0
    base = (zero + delta_wh) * factor
    live_base = base - JOIN_MARGIN * max(1.0, abs(base))
    adjustment = None
    if earliest_live is not None:
        state, total = earliest_live
        adjustment = state - live_base - total
    return ImportPlan(
        rows=rows,
        first_hour=start,
        base=base,
        live_base=live_base,
        adjustment=adjustment,
    )


def first_live_hour(
    stored: Mapping[str, Any] | None,
    earliest_short: float | None,
    earliest_hourly: float | None,
    first_state: float | None,
) -> tuple[float, bool] | None:
    """Return the first hour the recorder compiles from the live sensor, and whether that is sure.

    Imported hours must stay before it: the recorder's own hourly statistic
    for an hour would collide with an imported one. The recorder keeps no
    5-minute statistics for imported hours, so the earliest 5-minute one is
    live. Before the first import (nothing ``stored``) any hourly statistic
    is live too (a configuration older than the import); after it, imported
    hours are there. Without any statistic yet, the recorder's first one will
    be in the hour of the sensor's first recorded state, or later: sure
    enough to import up to it, not sure enough to keep.
    """
    if stored is not None and stored.get("confirmed"):
        return float(stored["first_live_hour"]), True
    candidates = [floor_hour(earliest_short)] if earliest_short is not None else []
    if stored is None and earliest_hourly is not None:
        candidates.append(floor_hour(earliest_hourly))
    if candidates:
        return min(candidates), True
    if first_state is None:
        return None
    return floor_hour(first_state), False


@dataclass(slots=True)
class HistoryOutcome:
    """What ``sync_history`` did."""

    sensors: list[str]
    hours: int = 0
    """The most hours imported for one sensor."""
    until: float | None = None
    """The first live hour (epoch) of the production sensor."""
    joined: bool = False
    """Every sensor's live statistics are joined to the imported ones."""
    exact: bool = False
    """...at a simulated hour the live sensors were seen through."""
    done: bool = False


async def recorder_statistics(
    hass: HomeAssistantClient,
    ids: list[str],
    start: float,
    period: str,
    *,
    units: dict[str, str] | None = None,
    end: float | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Return the recorder's statistics of ``ids`` from ``start`` (rows' times in s)."""
    fields: dict[str, Any] = {
        "start_time": iso(start),
        "statistic_ids": ids,
        "period": period,
        "types": ["state", "sum"],
    }
    if end is not None:
        fields["end_time"] = iso(end)
    if units:
        fields["units"] = units
    result: dict[str, list[dict[str, Any]]] = await hass.command(
        "recorder/statistics_during_period", **fields
    )
    for rows in result.values():
        for row in rows:
            row["start"] = row["start"] / 1000.0
    return result


async def _first_states(
    hass: HomeAssistantClient, ids: list[str], start: float
) -> dict[str, float]:
    """Return when each entity first had a state recorded since ``start``."""
    history: dict[str, list[dict[str, Any]]] = await hass.command(
        "history/history_during_period",
        start_time=iso(start),
        entity_ids=ids,
        include_start_time_state=False,
        significant_changes_only=True,
        minimal_response=True,
        no_attributes=True,
    )
    return {
        entity: float(rows[0].get("lu", rows[0].get("lc", 0.0)))
        for entity, rows in history.items()
        if rows
    }


async def _states_at(
    hass: HomeAssistantClient, ids: list[str], when: float
) -> dict[str, float]:
    """Return each entity's recorded numeric state at ``when``."""
    history: dict[str, list[dict[str, Any]]] = await hass.command(
        "history/history_during_period",
        start_time=iso(when),
        end_time=iso(when + 1.0),
        entity_ids=ids,
        include_start_time_state=True,
        significant_changes_only=False,
        minimal_response=True,
        no_attributes=True,
    )
    found: dict[str, float] = {}
    for entity, rows in history.items():
        if rows:
            try:
                found[entity] = float(rows[0]["s"])
            except KeyError, ValueError:
                continue
    return found


def next_boundary(after: float, offset_s: float) -> float:
    """Return the real time at which the first simulated hour at or after ``after`` starts."""
    return ceil_hour(after + offset_s) - offset_s


async def sync_history(
    hass: HomeAssistantClient,
    sim: SimulatorClient,
    sensors: Mapping[str, str],
    config: Path,
    *,
    boundary: float | None = None,
) -> HistoryOutcome:
    """Import the simulator's last week into the sensors' statistics and join the live ones.

    Idempotent: imported hours are written again (the recorder updates them),
    the live sums are moved only by what they still lack. The sensor's scale
    (``state`` less the simulator's counter) is measured at ``boundary``, the
    real time a simulated hour started while the live sensors were watched,
    where the simulator's counter is exact; without one, from the sensor now
    and the counter carried on from the start of the simulator's hour (a
    small error in the first live hour until a run sees a boundary). The
    progress is kept in the marker; once joined at a boundary it is done.
    """
    ids = list(sensors)
    outcome = HistoryOutcome(sensors=ids)
    marker = read_marker(config)
    record: dict[str, Any] = dict(marker.get("history") or {})
    if record.get("done"):
        outcome.done = outcome.joined = outcome.exact = True
        return outcome
    info = await sim.get("info")
    now = time.time()
    offset = float(info["now"]) - now
    states = await hass.states()
    metadata_rows: list[dict[str, Any]] = await hass.command(
        "recorder/get_statistics_metadata", statistic_ids=ids
    )
    stat_units = {
        row["statistic_id"]: row.get("statistics_unit_of_measurement")
        for row in metadata_rows
    }
    units = {
        entity: stat_units.get(entity)
        or states[entity]["attributes"].get("unit_of_measurement")
        or "Wh"
        for entity in ids
    }
    window = now - STATISTICS_WINDOW_S
    short: dict[str, list[dict[str, Any]]] = {}
    for entity in ids:
        rows = await recorder_statistics(
            hass, [entity], window, "5minute", units={"energy": units[entity]}
        )
        short[entity] = rows.get(entity, [])
    hourly = await recorder_statistics(hass, ids, window, "hour")
    stored: dict[str, Any] = dict(record.get("sensors") or {})
    # Only where no statistic tells yet (the states of a long-lived
    # configuration are many).
    unknown = [
        entity
        for entity in ids
        if not short[entity] and not (stored.get(entity) or {}).get("confirmed")
    ]
    first_states = await _first_states(hass, unknown, window) if unknown else {}
    first_hours: dict[str, tuple[float, bool]] = {}
    for entity in ids:
        live_rows, hour_rows = short[entity], hourly.get(entity, [])
        found = first_live_hour(
            stored.get(entity) if record else None,
            live_rows[0]["start"] if live_rows else None,
            hour_rows[0]["start"] if hour_rows else None,
            first_states.get(entity),
        )
        if found is not None:
            first_hours[entity] = found
    if not first_hours:
        return outcome

    earliest_needed = min(
        [
            min(hour for hour, _sure in first_hours.values()) - HISTORY_HOURS * 3600.0,
            *(
                float(item["first_hour"])
                for item in stored.values()
                if item.get("first_hour") is not None
            ),
        ]
    )
    wanted_hours = math.ceil((now - earliest_needed) / 3600.0) + 2
    history: list[dict[str, Any]] = await sim.get(
        f"history?hours={min(wanted_hours, SIM_HISTORY_MAX_HOURS)}"
    )
    scale_at: dict[str, float] = {}
    exact = boundary is not None
    if boundary is not None:
        scale_at = await _states_at(hass, ids, boundary)

    joined = True
    for entity, counter_key in sensors.items():
        series = CounterSeries.from_history(history, counter_key)
        if series is None:
            continue  # the simulator has no such flow to tell
        if entity not in first_hours or not numeric(states[entity]):
            joined = False
            continue
        hour, sure = first_hours[entity]
        unit = units[entity]
        state_unit = states[entity]["attributes"].get("unit_of_measurement") or unit
        factor = EnergyConverter.convert(1.0, "Wh", unit)
        if boundary is not None and entity in scale_at:
            delta = scale_at[entity] / EnergyConverter.convert(
                1.0, "Wh", state_unit
            ) - series.at(boundary + offset)
        else:
            exact = False
            delta = float(states[entity]["state"]) / EnergyConverter.convert(
                1.0, "Wh", state_unit
            ) - series.at(now + offset)
        live_rows = short[entity]
        previous = stored.get(entity) or {}
        planned = plan_import(
            series,
            offset_s=offset,
            first_live_hour=hour,
            first_hour=previous.get("first_hour"),
            hours=HISTORY_HOURS,
            delta_wh=delta,
            factor=factor,
            earliest_live=(
                (float(live_rows[0]["state"]), float(live_rows[0]["sum"]))
                if live_rows
                else None
            ),
        )
        if planned.rows:
            await hass.command(
                "recorder/import_statistics",
                metadata={
                    "has_mean": False,
                    "mean_type": 0,
                    "has_sum": True,
                    "name": None,
                    "source": "recorder",
                    "statistic_id": entity,
                    "unit_class": "energy",
                    "unit_of_measurement": unit,
                },
                stats=[
                    {
                        "start": iso(row["start"]),
                        "state": row["state"],
                        "sum": row["sum"],
                    }
                    for row in planned.rows
                ],
            )
        adjust = planned.adjustment
        if adjust is not None and abs(adjust) > 1e-3 * JOIN_MARGIN * max(
            1.0, abs(planned.base)
        ):
            await hass.command(
                "recorder/adjust_sum_statistics",
                statistic_id=entity,
                start_time=iso(hour),
                adjustment=adjust,
                adjustment_unit_of_measurement=unit,
            )
        await _wait_for_import(hass, entity, planned, hour, unit)
        joined = joined and planned.adjustment is not None
        stored[entity] = {
            "first_live_hour": hour,
            "confirmed": sure,
            "first_hour": planned.first_hour,
        }
        outcome.hours = max(outcome.hours, len(planned.rows))
        if entity.endswith("_production_energy"):
            outcome.until = hour
    outcome.joined = joined
    outcome.exact = exact and joined
    outcome.done = outcome.exact and all(
        first_hours.get(entity, (0.0, False))[1] for entity in ids
    )
    update_marker(
        config,
        history={
            "sensors": stored,
            "done": outcome.done,
            "exact": outcome.exact,
            "updated": iso(time.time()),
        },
    )
    return outcome


async def _wait_for_import(
    hass: HomeAssistantClient,
    entity: str,
    planned: ImportPlan,
    first_live: float,
    unit: str,
) -> None:
    """Wait until the recorder has written the imported hours and moved the live sums."""
    deadline = time.monotonic() + 60.0

    async def written() -> bool | None:
        if planned.rows:
            rows = (
                await recorder_statistics(
                    hass,
                    [entity],
                    planned.rows[0]["start"],
                    "hour",
                    units={"energy": unit},
                    end=first_live,
                )
            ).get(entity, [])
            if len(rows) < len(planned.rows) or not math.isclose(
                float(rows[-1]["sum"]), planned.rows[-1]["sum"], abs_tol=1e-6
            ):
                return None
        if planned.adjustment is not None:
            live = (
                await recorder_statistics(
                    hass, [entity], first_live, "5minute", units={"energy": unit}
                )
            ).get(entity, [])
            if live and not math.isclose(
                float(live[0]["state"]) - float(live[0]["sum"]),
                planned.live_base,
                abs_tol=1e-3 * JOIN_MARGIN * max(1.0, abs(planned.base)),
            ):
                return None
        return True

    await wait_until(
        f"the recorder to take {entity}'s history", written, deadline, None, 1.0
    )


async def energy_sensors_ready(
    hass: HomeAssistantClient, serial: str, deadline: float, hass_pid: int | None
) -> dict[str, str]:
    """Wait until the history sensors have numeric states; return them.

    Home Assistant answers before it has set up the Energy integration: until
    then ``energy/get_prefs`` is an unknown command.
    """

    async def ready() -> dict[str, str] | None:
        try:
            preferences: dict[str, Any] = await hass.command("energy/get_prefs")
        except DemoError:
            return None
        states = await hass.states()
        sensors = history_sensors(serial, preferences, states)
        if sensors and all(numeric(states.get(entity)) for entity in sensors):
            return sensors
        return None

    return await wait_until(
        "numeric states of the energy sensors", ready, deadline, hass_pid
    )


def describe_history(outcome: HistoryOutcome, timezone: str) -> str:
    """Return one line about an import."""
    if outcome.done and not outcome.hours:
        return "==> Energy dashboard history: imported before"
    until = (
        f" up to {datetime.fromtimestamp(outcome.until, ZoneInfo(timezone)):%H:%M}"
        if outcome.until is not None
        else ""
    )
    state = (
        "joined exactly to the live statistics"
        if outcome.exact
        else "joined to the live statistics"
        if outcome.joined
        else "the live statistics join it once the recorder compiles them"
    )
    return (
        f"==> Energy dashboard history: {outcome.hours} hours{until} from the simulator "
        f"for {len(outcome.sensors)} sensors; {state}"
    )


async def follow_history(args: argparse.Namespace) -> None:
    """Import the history for an interactive demo and join it exactly, in the background."""
    config: Path = args.config.resolve()
    if read_marker(config).get("history", {}).get("done"):
        return
    profile = profile_for(read_marker(config)["profile"])
    sim_base = f"http://{url_host(args.host)}:{args.sim_port}"
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        hass = HomeAssistantClient(session, args.port, args.host)
        sim = SimulatorClient(session, sim_base)

        async def api_up() -> bool | None:
            return True if await hass.answers() else None

        await wait_until("Home Assistant", api_up, float("inf"), args.hass_pid, 2.0)
        await hass.log_in(DEMO_USER, DEMO_PASSWORD)
        sensors = await energy_sensors_ready(
            hass, profile.serial, time.monotonic() + 1800.0, args.hass_pid
        )
        watched_from = time.time()
        outcome = await sync_history(hass, sim, sensors, config)
        print(describe_history(outcome, profile.timezone), flush=True)
        # The recorder compiles its first 5-minute statistics within minutes.
        for _attempt in range(20):
            if outcome.joined:
                break
            await _sleep_while_alive(60.0, args.hass_pid)
            outcome = await sync_history(hass, sim, sensors, config)
        else:
            print(
                "scripts/demo_setup.py: the recorder compiled no statistics of "
                "the energy sensors in 20 minutes; the history stays unjoined",
                file=sys.stderr,
            )
            return
        if outcome.done:
            return
        offset = float((await sim.get("info"))["now"]) - time.time()
        boundary = next_boundary(watched_from + 5.0, offset)
        await _sleep_while_alive(
            boundary + BOUNDARY_SETTLE_S - time.time(), args.hass_pid
        )
        outcome = await sync_history(hass, sim, sensors, config, boundary=boundary)
        await hass.close()


async def _sleep_while_alive(seconds: float, hass_pid: int) -> None:
    """Sleep, or end the program quietly when Home Assistant stops meanwhile."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        if not process_alive(hass_pid):
            raise SystemExit(0)
        await asyncio.sleep(min(left, 5.0))


# --- check -------------------------------------------------------------------------


async def run_check(args: argparse.Namespace) -> None:
    """Wait for Home Assistant and check what the demo promises."""
    config: Path = args.config.resolve()
    profile = profile_for(read_marker(config)["profile"])
    started = time.monotonic()
    deadline = started + args.timeout
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        hass = HomeAssistantClient(session, args.port, args.host)

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
        lacking = [
            sensor
            for sensor in SiteEntities.of(profile).energy_sensors()
            if sensor not in statistics and not sensor.endswith("_consumption_energy")
        ]
        if lacking:
            raise DemoError(
                "the Energy dashboard is not wired to " + ", ".join(lacking)
            )

        async def energy_states() -> dict[str, dict[str, Any]] | None:
            states = await hass.states()
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
            states = await hass.states()
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

        sensors = history_sensors(profile.serial, preferences, states)
        sim = SimulatorClient(session, f"http://{url_host(args.host)}:{args.sim_port}")
        outcome = await sync_history(hass, sim, sensors, config)
        print(describe_history(outcome, profile.timezone), flush=True)
        if not outcome.done:
            week = await recorder_statistics(
                hass, list(sensors), time.time() - 8 * 86400.0, "hour"
            )
            short_of = [
                entity
                for entity in sensors
                if len(week.get(entity, [])) < HISTORY_HOURS
            ]
            if short_of:
                raise DemoError(
                    "the imported history is missing for " + ", ".join(short_of)
                )

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
        hass = HomeAssistantClient(session, args.port, args.host)

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

    planner = commands.add_parser(
        "plan", help="settle the configuration, print the simulator's extra arguments"
    )
    planner.add_argument("--config", type=Path, required=True)
    planner.add_argument("--profile", required=True)
    planner.add_argument("--time", default=None, metavar="HH:MM")
    planner.add_argument("--reset", action="store_true")

    setup = commands.add_parser("prepare", help="write the configuration directory")
    setup.add_argument("--config", type=Path, required=True)
    setup.add_argument("--profile", required=True)
    setup.add_argument("--port", type=int, default=8123, help="Home Assistant's port")
    setup.add_argument("--sim-port", type=int, default=8443)
    setup.add_argument("--sim-pid", type=int, default=None)

    check = commands.add_parser("check", help="check a started Home Assistant")
    check.add_argument("--config", type=Path, required=True)
    check.add_argument("--port", type=int, default=8123)
    check.add_argument("--sim-port", type=int, default=8443)
    check.add_argument("--hass-pid", type=int, required=True)
    check.add_argument("--timeout", type=float, default=900.0)

    history = commands.add_parser(
        "history", help="import the energy history in the background"
    )
    history.add_argument("--config", type=Path, required=True)
    history.add_argument("--port", type=int, default=8123)
    history.add_argument("--sim-port", type=int, default=8443)
    history.add_argument("--hass-pid", type=int, required=True)

    ready = commands.add_parser("announce", help="say when Home Assistant answers")
    ready.add_argument("--port", type=int, default=8123)
    ready.add_argument("--hass-pid", type=int, required=True)
    for command in (setup, check, history, ready):
        command.add_argument(
            "--host",
            default="127.0.0.1",
            help="where Home Assistant and the simulator listen",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serial":
            print(profile_for(args.profile).serial)
        elif args.command == "plan":
            plan(args)
        elif args.command == "prepare":
            prepare(args)
        elif args.command == "announce":
            asyncio.run(announce(args))
        elif args.command == "history":
            asyncio.run(follow_history(args))
        else:
            asyncio.run(check(args))
    except DemoError as err:
        print(f"scripts/demo_setup.py: {err}", file=sys.stderr)
        return 2 if args.command in ("serial", "plan") else 1
    except (OSError, aiohttp.ClientError, subprocess.CalledProcessError) as err:
        print(f"scripts/demo_setup.py: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
