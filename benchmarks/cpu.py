"""Home Assistant CPU per simulated minute: our integration against enphase_envoy.

Run from the repository root (after ``pip install -r requirements_bench.txt``)::

    python -m benchmarks.cpu            # every default site, about 10 minutes
    python -m benchmarks.cpu --quick    # metered_split, 5 simulated minutes

Every measurement is a job: one site (a simulator profile) and one integration,
``enphase_local`` (ours) or Home Assistant's built-in ``enphase_envoy`` (the
incumbent, on pyenphase), in a fresh process of its own.

* The job process runs a pytest session of one test, ``test_cpu_job`` below,
  so Home Assistant is the test plugin's ``hass`` fixture with every autouse
  fixture of the plugin (mocked network, zeroconf resolver and storage,
  sockets to 127.0.0.1 only, freezegun set up the plugin's way); logging
  stays at WARNING, as in a default installation. The test turns asyncio's
  debug mode off again (the plugin turns it on; Home Assistant does not run
  with it) and sets up one config entry holding what each integration's
  config flow stores: ours ``{"host"}`` plus ``{"token"}`` on firmware 7 and
  later; the incumbent's manual-token entry (``name``, ``host``, ``token``,
  ``use_manual_token``), or ``installer`` with a blank password (pyenphase
  derives it) on older firmware. Entities are the default-enabled ones.
* The simulated gateway (``EnvoySimulator(latency=True)``) runs in a child of
  the job process, so none of its CPU (aiohttp server, TLS, payloads) lands
  in the job's ``time.process_time()``. Its clock reads a shared double the
  job sets to Home Assistant's frozen time after every step; its latency
  sleeps are real ``asyncio.sleep`` calls in the child, unscaled: a request
  holds the gateway, one at a time, for a service time drawn per endpoint.
* Time moves as ``tests/helpers.py`` ``advance()`` moves it: freezegun jumps
  10 s, ``async_fire_time_changed`` runs the timers due, and
  ``async_block_till_done(wait_background_tasks=True)`` waits, in real time,
  for the polls they started. Set-up (with the first refresh) and one
  simulated warm-up minute are not measured; the simulated hour that follows
  is.
* CPU is ``time.process_time()`` of the job process over that hour, less a
  baseline job's (the harness stepping Home Assistant with no integration).
  The harness costs more where there is more to do: each timer
  ``async_fire_time_changed`` runs enters two ``mock.patch`` (a fraction of
  a millisecond), and each read of the frozen clock goes through freezegun
  (a few microseconds against a tenth). Both are counted and priced in the
  job's own process: the "excl. harness est." figures take them out.
* State writes are counted by event filters on ``state_changed`` and
  ``state_reported`` (a filter that returns False builds no event and runs
  no job); a ``state_reported`` is a write that changed nothing.
* Requests and gateway busy seconds are the simulator's ``stats()``, reset
  after the warm-up; set-up requests are its ``stats()`` right after set-up.
* The grid power interval is the mean simulated time between changes of the
  state of ours ``sensor.envoy_<serial>_grid_power`` and of the incumbent's
  ``<serial>_net_consumption`` sensor ("Current net power consumption").

Jobs run a few at a time (``--parallel``, default 4): a job mostly waits for
the gateway's service times, and CPU time is counted per process.
"""

# The test plugin swaps Home Assistant's time and JSON helpers for ones
# freezegun and its mock checks can see: that must happen before anything
# else from Home Assistant is imported (job processes import this module
# before their pytest session loads the plugin).
import pytest_homeassistant_custom_component.plugins  # noqa: F401

# isort: split

import argparse
import asyncio
from collections.abc import Callable, Iterable, Sequence
import contextlib
import cProfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import gc
import multiprocessing
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext, SpawnProcess
import os
from pathlib import Path
import platform
import sys
import time
import traceback
from typing import Any, Final, Literal
from unittest.mock import patch
from zoneinfo import ZoneInfo

from freezegun import api as freezegun_api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import (
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er, event as event_helper
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import get_scheduled_timer_handles
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

# Home Assistant imports the repository's namespace package, not the test
# plugin's testing_config one, when it is imported first (as tests/conftest.py
# explains).
import custom_components  # noqa: F401
from envoy_simulator import PROFILES, EnvoySimulator, Profile

OURS: Final = "ours"
INCUMBENT: Final = "incumbent"
BASELINE: Final = "baseline"
type Integration = Literal["ours", "incumbent", "baseline"]
DOMAINS: dict[str, str] = {OURS: "enphase_local", INCUMBENT: "enphase_envoy"}

STEP_S = 10.0
"""Home Assistant's clock jumps this far per step (as tests/helpers.py advance())."""
WARMUP_MIN = 1
FULL_MIN = 60
QUICK_MIN = 5
START_DATE = (2025, 7, 28)
START_HOUR = 11
"""Each site starts at 11:00 its own local time, on a sunny summer day."""

DEFAULT_PROFILES = (
    "metered_split",
    "metered_three_phase_storage",
    "legacy_standard",
    "total_consumption",
    "iq_battery_storage_ct",
    "iq_battery_no_ct",
)
SIZE_BASE = "large_site"
DEFAULT_SIZES = (10, 30, 120, 300)
QUICK_PROFILE = "metered_split"
REPO_ROOT = Path(__file__).resolve().parent.parent
JOB_TIMEOUT_S = 900.0
"""A job that has not finished by then is stopped and reported as failed."""


# -- what is measured ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """A gateway to measure: a label and the simulator profile it plays."""

    label: str
    profile: Profile

    @property
    def inverters(self) -> int:
        """Return the site's inverter count."""
        return self.profile.inverter_count


@dataclass(frozen=True, slots=True)
class Job:
    """One site, one integration (or none: the harness baseline)."""

    site: Site
    integration: Integration
    minutes: int
    seed: int
    cprofile_dir: str | None = None
    """Where to write a cProfile of the measured period (inflates the CPU figures)."""

    @property
    def name(self) -> str:
        """Return a file-name friendly label."""
        return f"{self.site.label.replace(' ', '_')}-{self.integration}"


@dataclass(slots=True)
class GatewayInfo:
    """What the simulator child reports once it listens."""

    address: str
    serial: str
    firmware: str
    token: str | None


@dataclass(slots=True)
class Load:
    """Requests and busy seconds on one path."""

    requests: int = 0
    busy_s: float = 0.0


@dataclass(slots=True)
class GatewayStats:
    """The simulator's counters, and its own CPU time so far."""

    requests: int
    busy_s: float
    paths: dict[str, Load]
    cpu_s: float


@dataclass(slots=True)
class JobResult:
    """Everything one job measured."""

    job: Job
    error: str | None = None
    entities: int = 0
    numeric_states: int = 0
    setup_wall_s: float = 0.0
    setup_cpu_s: float = 0.0
    setup_requests: int = 0
    setup_paths: dict[str, Load] = field(default_factory=dict)
    cpu_s: float = 0.0
    loop_thread_cpu_s: float = 0.0
    simulator_cpu_s: float = 0.0
    wall_s: float = 0.0
    changed: int = 0
    attributes_only: int = 0
    reported: int = 0
    requests: int = 0
    busy_s: float = 0.0
    paths: dict[str, Load] = field(default_factory=dict)
    grid_entity: str | None = None
    grid_changes: list[float] = field(default_factory=list)
    timers_fired: int = 0
    clock_reads: int = 0
    patch_pair_s: float = 0.0
    clock_read_s: float = 0.0
    attempts: int = 1
    exceptions: list[str] = field(default_factory=list)

    @property
    def harness_s(self) -> float:
        """Return the estimated CPU the test harness itself spent in the period.

        async_fire_time_changed enters two ``mock.patch`` per timer it runs,
        and every read of the frozen clock goes through freezegun; both are
        counted, and priced at what they cost in this process.
        """
        return (
            self.timers_fired * self.patch_pair_s + self.clock_reads * self.clock_read_s
        )

    @property
    def writes(self) -> int:
        """Return every state write of the measured period."""
        return self.changed + self.reported

    @property
    def grid_interval_s(self) -> float | None:
        """Return the mean simulated seconds between grid power changes."""
        changes = self.grid_changes
        if len(changes) < 2:
            return None
        return (changes[-1] - changes[0]) / (len(changes) - 1)


def wall_clock() -> float:
    """Return real monotonic seconds (freezegun patches time.perf_counter)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# -- the gateway, in its own process ----------------------------------------


def _gateway_main(
    profile: Profile, seed: int, clock: Any, conn: Connection
) -> None:  # pragma: no cover - runs in a child process
    """Serve the simulated gateway until told to stop (or the job goes away)."""
    asyncio.run(_serve_gateway(profile, seed, clock, conn))


def _gateway_stats(sim: EnvoySimulator) -> GatewayStats:
    """Return the simulator's counters and this process's CPU time."""
    raw = sim.stats()
    return GatewayStats(
        requests=int(raw["total_requests"]),
        busy_s=float(raw["busy_seconds"]),
        paths={
            path: Load(int(counters["requests"]), float(counters["busy_seconds"]))
            for path, counters in raw["endpoints"].items()
        },
        cpu_s=time.process_time(),
    )


async def _serve_gateway(
    profile: Profile, seed: int, clock: Any, conn: Connection
) -> None:  # pragma: no cover - runs in a child process
    """Run the simulator; answer the job's requests for tokens and statistics."""
    sim = EnvoySimulator(
        profile,
        clock=lambda: float(clock.value),
        latency=True,
        port=0,
        cloud_port=0,
        seed=seed,
    )
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_command() -> None:
        try:
            command = conn.recv()
        except EOFError:
            command = "stop"
        if command == "stats":
            conn.send(_gateway_stats(sim))
        elif command == "reset":
            sim.reset_stats()
            conn.send(None)
        elif not done.done():
            done.set_result(None)

    async with sim:
        token = sim.mint_token() if int(sim.firmware.split(".")[0]) >= 7 else None
        conn.send(GatewayInfo(sim.address, sim.serial, sim.firmware, token))
        loop.add_reader(conn.fileno(), on_command)
        await done
        loop.remove_reader(conn.fileno())


class Gateway:
    """The simulated gateway in a child process, on a clock this process moves."""

    def __init__(
        self, ctx: SpawnContext, profile: Profile, seed: int, epoch: float
    ) -> None:
        """Start the child with its clock at ``epoch``; wait until it listens."""
        self.clock = ctx.RawValue("d", epoch)
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_gateway_main,
            args=(profile, seed, self.clock, child),
            name=f"gateway-{profile.name}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self.info: GatewayInfo = self._conn.recv()

    def follow(self, epoch: float) -> None:
        """Move the gateway's clock to Home Assistant's."""
        self.clock.value = epoch

    def stats(self) -> GatewayStats:
        """Return the gateway's counters (Home Assistant must be idle)."""
        self._conn.send("stats")
        stats: GatewayStats = self._conn.recv()
        return stats

    def reset(self) -> None:
        """Forget the gateway's counters."""
        self._conn.send("reset")
        self._conn.recv()

    def close(self) -> None:
        """Stop the child."""
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


# -- Home Assistant, stepped through simulated time ---------------------------


class WriteCounter:
    """Count state writes through bus event filters (which build no events)."""

    def __init__(self) -> None:
        """Start at zero, watching no grid power entity."""
        self.grid_entity: str | None = None
        self.changed = 0
        self.attributes_only = 0
        self.reported = 0
        self.grid_changes: list[float] = []

    def reset(self) -> None:
        """Forget what was counted."""
        self.changed = self.attributes_only = self.reported = 0
        self.grid_changes = []

    @callback
    def on_changed(self, data: EventStateChangedData) -> bool:
        """Count a write that changed the state or its attributes."""
        old, new = data["old_state"], data["new_state"]
        if new is None:
            return False
        self.changed += 1
        if old is not None and old.state == new.state:
            self.attributes_only += 1
        elif data["entity_id"] == self.grid_entity:
            self.grid_changes.append(new.last_changed_timestamp)
        return False

    @callback
    def on_reported(self, _data: EventStateReportedData) -> bool:
        """Count a write that changed nothing."""
        self.reported += 1
        return False


def _start_time(profile: Profile) -> datetime:
    """Return 11:00 local time at the site on the benchmark's summer day."""
    year, month, day = START_DATE
    return datetime(year, month, day, START_HOUR, tzinfo=ZoneInfo(profile.timezone))


def _entry(job: Job, info: GatewayInfo) -> MockConfigEntry:
    """Return the config entry each integration's config flow stores."""
    title = f"Envoy {info.serial}"
    data: dict[str, Any]
    if job.integration == OURS:
        data = {"host": info.address}
        if info.token is not None:
            data["token"] = info.token
    elif info.token is not None:
        # The flow's manual token mode: no Enlighten credentials, no cloud.
        data = {
            "name": title,
            "host": info.address,
            "token": info.token,
            "use_manual_token": True,
        }
    else:
        # Firmware < 7: "installer" with a blank password, which pyenphase
        # derives from the serial (as the flow's default username suggests).
        data = {
            "name": title,
            "host": info.address,
            "username": "installer",
            "password": "",
            "use_manual_token": False,
        }
    return MockConfigEntry(
        domain=DOMAINS[job.integration],
        unique_id=info.serial,
        title=title,
        data=data,
    )


def _grid_entity(hass: HomeAssistant, job: Job, serial: str) -> str | None:
    """Return the entity id of the integration's grid (net) power sensor."""
    registry = er.async_get(hass)
    if job.integration == OURS:
        entity_id = f"sensor.envoy_{serial}_grid_power"
        return entity_id if registry.async_get(entity_id) is not None else None
    return registry.async_get_entity_id(
        "sensor", DOMAINS[INCUMBENT], f"{serial}_net_consumption"
    )


def _numeric(value: str) -> bool:
    """Return whether a state reads as a number."""
    try:
        float(value)
    except ValueError:
        return False
    return True


_MONOTONIC_RESOLUTION = time.get_clock_info("monotonic").resolution


def _due_timers(hass: HomeAssistant) -> int:
    """Count the timers async_fire_time_changed is about to run (by its own test)."""
    ahead = event_helper.RANDOM_MICROSECOND_MAX / 1_000_000
    loop_now = hass.loop.time() + _MONOTONIC_RESOLUTION
    return sum(
        1
        for handle in get_scheduled_timer_handles(hass.loop)
        if isinstance(handle, asyncio.TimerHandle)
        and not handle.cancelled()
        and ahead >= handle.when() - loop_now
    )


class ClockReads:
    """Count reads of freezegun's frozen clock (wraps its get_current_time)."""

    def __init__(self) -> None:
        """Wrap freezegun's current clock reader (call install() to use)."""
        self.count = 0
        self._inner: Callable[[], datetime] = freezegun_api.get_current_time

    def __call__(self) -> datetime:
        """Count one read and return the frozen time."""
        self.count += 1
        return self._inner()

    def install(self) -> None:
        """Route freezegun's reads through this counter."""
        freezegun_api.get_current_time = self

    def remove(self) -> None:
        """Restore freezegun's reader."""
        freezegun_api.get_current_time = self._inner


def _unit_costs() -> tuple[float, float]:
    """Return the CPU of one fired timer's two patches and of one frozen clock read."""
    rounds = 50
    started = time.process_time()
    for _ in range(rounds):
        with (
            patch(
                "homeassistant.helpers.event.time_tracker_utcnow",
                return_value=dt_util.utcnow(),
            ),
            patch(
                "homeassistant.helpers.event.time_tracker_timestamp",
                return_value=0.0,
            ),
        ):
            pass
    patch_pair = (time.process_time() - started) / rounds
    reads = 2000
    started = time.process_time()
    for _ in range(reads):
        time.time()
        time.monotonic()
        dt_util.utcnow()
    frozen = (time.process_time() - started) / (3 * reads)
    started = time.process_time()
    for _ in range(reads):
        time.clock_gettime(time.CLOCK_REALTIME)
        time.clock_gettime(time.CLOCK_MONOTONIC)
        time.clock_gettime(time.CLOCK_REALTIME)
    real = (time.process_time() - started) / (3 * reads)
    return patch_pair, max(frozen - real, 0.0)


async def _advance(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gateway: Gateway,
    steps: int,
    fired: list[int] | None = None,
) -> None:
    """Let simulated time pass in steps, the gateway's clock following."""
    for _ in range(steps):
        freezer.tick(timedelta(seconds=STEP_S))
        gateway.follow(time.time())
        if fired is not None:
            fired[0] += _due_timers(hass)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


async def _measure(
    job: Job, gateway: Gateway, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> JobResult:
    """Set the integration up, warm up, then measure the simulated period."""
    result = JobResult(job=job)
    loop = asyncio.get_running_loop()
    # The plugin turns asyncio's debug mode on for every test; its checks
    # (a traceback per callback, slow-callback timing) would cost more CPU
    # than the integrations do. Home Assistant runs without it.
    loop.set_debug(False)
    handler = loop.get_exception_handler()

    def on_exception(
        event_loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        result.exceptions.append(str(context.get("exception") or context["message"]))
        if handler is not None:
            handler(event_loop, context)

    loop.set_exception_handler(on_exception)
    steps_per_minute = round(60 / STEP_S)
    await hass.config.async_set_time_zone(job.site.profile.timezone)
    gateway.follow(time.time())
    counter = WriteCounter()
    listening = [
        hass.bus.async_listen(
            EVENT_STATE_CHANGED, lambda _event: None, event_filter=counter.on_changed
        ),
        hass.bus.async_listen(
            EVENT_STATE_REPORTED, lambda _event: None, event_filter=counter.on_reported
        ),
    ]
    info = gateway.info
    entry = None
    if job.integration != BASELINE:
        entry = _entry(job, info)
        started_cpu, started = time.process_time(), wall_clock()
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        result.setup_cpu_s = time.process_time() - started_cpu
        result.setup_wall_s = wall_clock() - started
        if entry.state is not ConfigEntryState.LOADED:
            result.error = (
                f"config entry did not load: {entry.state.value} ({entry.reason})"
            )
            return result
        setup = gateway.stats()
        result.setup_requests, result.setup_paths = setup.requests, setup.paths
        counter.grid_entity = result.grid_entity = _grid_entity(hass, job, info.serial)

    await _advance(hass, freezer, gateway, WARMUP_MIN * steps_per_minute)
    gateway.reset()
    counter.reset()
    result.patch_pair_s, result.clock_read_s = _unit_costs()
    gc.collect()
    before = gateway.stats()
    fired, reads = [0], ClockReads()
    reads.install()
    started_cpu, started_thread = time.process_time(), time.thread_time()
    started = wall_clock()
    profiler = cProfile.Profile() if job.cprofile_dir else None
    if profiler is not None:
        profiler.enable()
    await _advance(hass, freezer, gateway, job.minutes * steps_per_minute, fired)
    if profiler is not None:
        profiler.disable()
    result.cpu_s = time.process_time() - started_cpu
    result.loop_thread_cpu_s = time.thread_time() - started_thread
    result.wall_s = wall_clock() - started
    reads.remove()
    result.timers_fired, result.clock_reads = fired[0], reads.count
    if profiler is not None:
        profiler.dump_stats(Path(job.cprofile_dir or ".") / f"{job.name}.pstats")
    after = gateway.stats()
    result.simulator_cpu_s = after.cpu_s - before.cpu_s
    result.requests, result.busy_s = after.requests, after.busy_s
    result.paths = after.paths
    result.changed, result.attributes_only = counter.changed, counter.attributes_only
    result.reported, result.grid_changes = counter.reported, list(counter.grid_changes)
    for unsubscribe in listening:
        unsubscribe()

    if entry is not None:
        registry = er.async_get(hass)
        states = [
            hass.states.get(registered.entity_id)
            for registered in er.async_entries_for_config_entry(
                registry, entry.entry_id
            )
            if registered.disabled_by is None
        ]
        result.entities = sum(state is not None for state in states)
        result.numeric_states = sum(
            state is not None and _numeric(state.state) for state in states
        )
        if result.numeric_states == 0 or result.requests == 0:
            result.error = (
                f"not polling: {result.numeric_states} numeric states, "
                f"{result.requests} requests in the measured period"
            )
    return result


class JobPlugin:
    """A pytest plugin handing one job to ``test_cpu_job`` and taking its result."""

    def __init__(self, job: Job, gateway: Gateway) -> None:
        """Carry ``job``, measured against ``gateway``."""
        self.job = job
        self.gateway = gateway
        self.result: JobResult | None = None
        self.failures: list[str] = []

    @pytest.fixture
    def cpu_job(self, freezer: FrozenDateTimeFactory) -> JobPlugin:
        """Move the frozen clock to the site's start, before hass is created."""
        freezer.move_to(_start_time(self.job.site.profile))
        return self

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep what failed, set-up and teardown included."""
        if report.failed:
            self.failures.append(f"{report.when}: {report.longreprtext}")


async def test_cpu_job(
    cpu_job: JobPlugin,
    socket_enabled: None,
    hass: HomeAssistant,
    enable_custom_integrations: None,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Measure one benchmark job (run only by ``python -m benchmarks.cpu``)."""
    cpu_job.result = await _measure(cpu_job.job, cpu_job.gateway, hass, freezer)


def _run_job(job: Job) -> JobResult:
    """Measure one job in this (fresh) process, in a pytest session of its own."""
    ctx = multiprocessing.get_context("spawn")
    start = _start_time(job.site.profile)
    gateway = Gateway(ctx, job.site.profile, job.seed, start.timestamp())
    plugin = JobPlugin(job, gateway)
    try:
        exit_code = pytest.main(
            [
                f"{Path(__file__).resolve()}::test_cpu_job",
                "-c",
                str(REPO_ROOT / "pyproject.toml"),
                "--rootdir",
                str(REPO_ROOT),
                "-qq",
                "--assert=plain",
                "-p",
                "no:cacheprovider",
                "--no-header",
                "-W",
                "ignore::DeprecationWarning",
            ],
            plugins=[plugin],
        )
    finally:
        gateway.close()
    result = plugin.result
    if result is None:
        return JobResult(
            job=job,
            error=f"pytest exit {exit_code}: " + "\n".join(plugin.failures)[-4000:],
        )
    # Teardown findings (lingering timers and the like) do not void the numbers.
    result.exceptions.extend(failure[:500] for failure in plugin.failures)
    return result


def _job_main(job: Job, conn: Connection) -> None:  # pragma: no cover - child
    """Run one job and send its result to the parent."""
    # pytest's own output goes to stderr; stdout carries only the tables.
    os.dup2(2, 1)
    try:
        result = _run_job(job)
    except Exception:  # noqa: BLE001 - reported in the tables, not raised
        result = JobResult(job=job, error=traceback.format_exc(limit=8))
    conn.send(result)
    conn.close()


# -- running jobs side by side ------------------------------------------------


@dataclass(slots=True)
class Running:
    """A job process in flight."""

    job: Job
    attempt: int
    process: SpawnProcess
    started: float


ATTEMPTS = 2
"""A failed job runs once more (the workspace is shared; a failure is reported)."""


def run_jobs(
    jobs: Sequence[Job], parallel: int, log: Callable[[str], None]
) -> list[JobResult]:
    """Run every job in its own process, ``parallel`` at a time."""
    ctx = multiprocessing.get_context("spawn")
    # The incumbent's jobs take longest (production.json every minute): first.
    pending = [
        (job, 1)
        for job in sorted(
            jobs, key=lambda job: (job.integration != INCUMBENT, -job.site.inverters)
        )
    ]
    results: list[JobResult] = []
    running: dict[Connection, Running] = {}
    began = wall_clock()

    def finish(flight: Running, result: JobResult) -> None:
        result.attempts = flight.attempt
        label = f"{flight.job.site.label} {flight.job.integration}"
        took = f"{wall_clock() - flight.started:.0f} s"
        if result.error is not None and flight.attempt < ATTEMPTS:
            log(f"{label} failed after {took}, running it again: {result.error[-300:]}")
            pending.insert(0, (flight.job, flight.attempt + 1))
            return
        results.append(result)
        log(
            f"[{len(results)}/{len(jobs)}] {label}: {took}"
            f"{' FAILED' if result.error else ''} (elapsed {wall_clock() - began:.0f} s)"
        )

    while pending or running:
        while pending and len(running) < parallel:
            job, attempt = pending.pop(0)
            conn, child = ctx.Pipe(duplex=False)
            process = ctx.Process(
                target=_job_main, args=(job, child), name=f"job-{job.name}"
            )
            process.start()
            child.close()
            running[conn] = Running(job, attempt, process, wall_clock())
        for ready in wait(list(running), timeout=10):
            assert isinstance(ready, Connection)
            flight = running.pop(ready)
            try:
                result: JobResult = ready.recv()
            except EOFError:
                result = JobResult(job=flight.job, error="the job process died")
            ready.close()
            flight.process.join()
            finish(flight, result)
        for conn, flight in list(running.items()):
            if wall_clock() - flight.started > JOB_TIMEOUT_S:
                flight.process.kill()
                flight.process.join()
                conn.close()
                del running[conn]
                flight.attempt = ATTEMPTS  # a hang would hang again: no retry
                finish(flight, JobResult(job=flight.job, error="timed out"))
    return results


# -- sites and command line ----------------------------------------------------


def sized_site(inverters: int) -> Site:
    """Return the large site (firmware 8.3, two CTs) with ``inverters`` inverters."""
    profile = replace(
        PROFILES[SIZE_BASE],
        name=f"{SIZE_BASE}_{inverters}",
        inverter_count=inverters,
    )
    return Site(f"{SIZE_BASE} x{inverters}", profile)


def choose_sites(args: argparse.Namespace) -> list[Site]:
    """Return the sites the command line asks for."""
    profiles: list[str] | None = args.profile
    sizes: list[int] | None = args.inverters
    if profiles is None and sizes is None:
        if args.quick:
            profiles, sizes = [QUICK_PROFILE], []
        else:
            profiles, sizes = list(DEFAULT_PROFILES), list(DEFAULT_SIZES)
    sites = [Site(name, PROFILES[name]) for name in profiles or ()]
    sites.extend(sized_site(count) for count in sizes or ())
    return sites


def build_jobs(
    sites: Iterable[Site], minutes: int, seed: int, cprofile_dir: str | None = None
) -> list[Job]:
    """Return ours and the incumbent's job per site, and one harness baseline."""
    jobs: list[Job] = []
    sites = list(sites)
    for index, site in enumerate(sites):
        # Both integrations see the same gateway: same seed, same start time.
        jobs.extend(
            Job(site, integration, minutes, seed + index, cprofile_dir)
            for integration in (OURS, INCUMBENT)
        )
    if sites:
        jobs.append(Job(sites[0], BASELINE, minutes, seed))
    return jobs


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu",
        description=(
            "Home Assistant CPU, state writes and gateway load per simulated hour: "
            "enphase_local against the built-in enphase_envoy."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_MIN} simulated minutes; only {QUICK_PROFILE} unless sites are chosen",
    )
    parser.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="measure this simulator profile (repeatable)",
    )
    parser.add_argument(
        "--inverters",
        action="append",
        type=int,
        metavar="N",
        help=f"measure {SIZE_BASE} with N inverters (repeatable)",
    )
    parser.add_argument(
        "--minutes",
        type=int,
        default=None,
        help=f"simulated minutes to measure (default {FULL_MIN}, --quick {QUICK_MIN})",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=4,
        help="jobs at a time (default 4; each job is two processes)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed")
    parser.add_argument(
        "--cprofile",
        metavar="DIR",
        default=None,
        help="write a cProfile .pstats per job to DIR (profiling inflates CPU figures)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also print requests per path (measured hour and set-up)",
    )
    return parser


# -- tables -------------------------------------------------------------------


def _ratio(ours: float | None, incumbent: float | None) -> str:
    """Format ours / incumbent."""
    if ours is None or incumbent is None or incumbent == 0:
        return "-"
    return f"{ours / incumbent:.2f}"


def _optional(value: float | None, digits: int = 1) -> str:
    """Format a value that may be missing."""
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True, slots=True)
class Row:
    """One job's numbers, per simulated minute or hour."""

    result: JobResult
    baseline: JobResult | None
    """The harness stepped without an integration: subtracted from the CPU figures."""

    @property
    def minutes(self) -> int:
        """Return the measured simulated minutes."""
        return self.result.job.minutes

    def _baseline_per_min(self, value: Callable[[JobResult], float]) -> float:
        """Return a baseline figure per simulated minute (0 without a baseline)."""
        base = self.baseline
        return value(base) / base.job.minutes if base is not None else 0.0

    @property
    def cpu_per_min(self) -> float:
        """Return CPU seconds per simulated minute, the baseline's subtracted."""
        base = self._baseline_per_min(lambda r: r.cpu_s)
        return max(self.result.cpu_s / self.minutes - base, 0.0)

    @property
    def harness_per_min(self) -> float:
        """Return the harness's estimated CPU per minute beyond the baseline's."""
        base = self._baseline_per_min(lambda r: r.harness_s)
        return max(self.result.harness_s / self.minutes - base, 0.0)

    @property
    def net_cpu_per_min(self) -> float:
        """Return CPU seconds per simulated minute without the harness estimate."""
        return max(self.cpu_per_min - self.harness_per_min, 0.0)

    @property
    def writes_per_min(self) -> float:
        """Return state writes per simulated minute."""
        return self.result.writes / self.minutes

    @property
    def unchanged_share(self) -> float | None:
        """Return the share of writes that changed nothing."""
        writes = self.result.writes
        return self.result.reported / writes if writes else None

    @property
    def requests_per_hour(self) -> float:
        """Return gateway requests per simulated hour."""
        return self.result.requests * 60 / self.minutes

    @property
    def busy_per_hour(self) -> float:
        """Return gateway busy seconds per simulated hour."""
        return self.result.busy_s * 60 / self.minutes


type Paired = list[tuple[Site, Row | None, Row | None]]


def pair_results(results: Sequence[JobResult]) -> tuple[Paired, JobResult | None]:
    """Pair ours and the incumbent's results per site; return the baseline too."""
    baseline = next(
        (
            r
            for r in results
            if r.job.integration == BASELINE and r.error is None and r.job.minutes
        ),
        None,
    )
    sites: dict[str, dict[str, JobResult]] = {}
    order: list[Site] = []
    for result in results:
        if result.job.integration == BASELINE:
            continue
        label = result.job.site.label
        if label not in sites:
            sites[label] = {}
            order.append(result.job.site)
        sites[label][result.job.integration] = result

    def row(result: JobResult | None) -> Row | None:
        if result is None or result.error is not None:
            return None
        return Row(result, baseline)

    paired = [
        (site, row(sites[site.label].get(OURS)), row(sites[site.label].get(INCUMBENT)))
        for site in order
    ]
    return paired, baseline


def main_table(paired: Paired) -> str:
    """Return the per-job numbers as a Markdown table."""
    lines = [
        (
            "| site | inverters | integration | entities | CPU s / sim min "
            "| ... excl. harness est. | state writes / min | changed nothing "
            "| requests / h | gateway busy s / h | grid power every s | set-up requests |"
        ),
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for site, *rows in paired:
        for name, row in zip((OURS, INCUMBENT), rows, strict=True):
            if row is None:
                lines.append(
                    f"| {site.label} | {site.inverters} | {name} | failed "
                    "| | | | | | | | |"
                )
                continue
            r = row.result
            unchanged = row.unchanged_share
            lines.append(
                f"| {site.label} | {site.inverters} | {name} | {r.entities} "
                f"| {row.cpu_per_min:.4f} | {row.net_cpu_per_min:.4f} "
                f"| {row.writes_per_min:.1f} "
                f"| {'-' if unchanged is None else f'{unchanged:.0%}'} "
                f"| {row.requests_per_hour:.0f} | {row.busy_per_hour:.1f} "
                f"| {_optional(r.grid_interval_s)} | {r.setup_requests} |"
            )
    return "\n".join(lines)


def ratio_table(paired: Paired) -> str:
    """Return ours / incumbent per site as a Markdown table."""
    lines = [
        (
            "| site | CPU | CPU excl. harness est. | state writes "
            "| changed-nothing writes | requests | gateway busy | grid power interval "
            "| set-up requests |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for site, ours, incumbent in paired:
        if ours is None or incumbent is None:
            lines.append(f"| {site.label} | - | - | - | - | - | - | - | - |")
            continue
        lines.append(
            f"| {site.label} | {_ratio(ours.cpu_per_min, incumbent.cpu_per_min)} "
            f"| {_ratio(ours.net_cpu_per_min, incumbent.net_cpu_per_min)} "
            f"| {_ratio(ours.writes_per_min, incumbent.writes_per_min)} "
            f"| {_ratio(ours.result.reported, incumbent.result.reported)} "
            f"| {_ratio(ours.requests_per_hour, incumbent.requests_per_hour)} "
            f"| {_ratio(ours.busy_per_hour, incumbent.busy_per_hour)} "
            f"| {_ratio(ours.result.grid_interval_s, incumbent.result.grid_interval_s)} "
            f"| {_ratio(ours.result.setup_requests, incumbent.result.setup_requests)} |"
        )
    return "\n".join(lines)


def detail_table(paired: Paired) -> str:
    """Return the secondary numbers (raw CPU, set-up, simulator) as a table."""
    lines = [
        (
            "| site | integration | CPU s (measured, raw) | loop thread CPU s "
            "| timers fired / min | frozen clock reads / min | harness est. s / min "
            "| attribute-only changes / min | set-up CPU s | set-up wall s "
            "| wall s (measured) | simulator CPU s / sim min (excluded) |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for site, *rows in paired:
        for name, row in zip((OURS, INCUMBENT), rows, strict=True):
            if row is None:
                continue
            r = row.result
            lines.append(
                f"| {site.label} | {name} | {r.cpu_s:.2f} | {r.loop_thread_cpu_s:.2f} "
                f"| {r.timers_fired / row.minutes:.1f} "
                f"| {r.clock_reads / row.minutes:.0f} "
                f"| {r.harness_s / row.minutes:.4f} "
                f"| {r.attributes_only / row.minutes:.1f} | {r.setup_cpu_s:.2f} "
                f"| {r.setup_wall_s:.1f} | {r.wall_s:.0f} "
                f"| {r.simulator_cpu_s / row.minutes:.4f} |"
            )
    return "\n".join(lines)


def breakdown_table(paired: Paired) -> str:
    """Return requests per path: per simulated hour, and during set-up."""
    lines = [
        "| site | integration | path | requests / h | busy s / h | set-up requests |",
        "|---|---|---|--:|--:|--:|",
    ]
    for site, *rows in paired:
        for name, row in zip((OURS, INCUMBENT), rows, strict=True):
            if row is None:
                continue
            r, scale = row.result, 60 / row.minutes
            for path in sorted(set(r.paths) | set(r.setup_paths)):
                load = r.paths.get(path, Load())
                setup = r.setup_paths.get(path, Load())
                lines.append(
                    f"| {site.label} | {name} | {path} | {load.requests * scale:.0f} "
                    f"| {load.busy_s * scale:.1f} | {setup.requests} |"
                )
    return "\n".join(lines)


def report(
    results: Sequence[JobResult], args: argparse.Namespace, minutes: int, wall_s: float
) -> str:
    """Return the whole printed report."""
    paired, baseline = pair_results(results)
    parts = [
        "# Home Assistant CPU per simulated minute: enphase_local vs enphase_envoy",
        "",
        (
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python "
            f"{platform.python_version()} on {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs; {minutes} simulated minutes per job after set-up "
            f"and a {WARMUP_MIN} min warm-up; {STEP_S:g} s steps; simulator latency on "
            f"(unscaled); seed {args.seed} + site index; {args.parallel} jobs at a time; "
            f"wall {wall_s:.0f} s"
        ),
        "",
    ]
    if baseline is not None:
        parts += [
            (
                "Harness baseline (Home Assistant stepped with no integration), "
                "subtracted from every CPU figure: "
                f"{baseline.cpu_s / baseline.job.minutes:.4f} CPU s / sim min "
                f"(harness estimate {baseline.harness_s / baseline.job.minutes:.4f}; "
                f"unit costs: {baseline.patch_pair_s * 1e6:.0f} us per fired timer, "
                f"{baseline.clock_read_s * 1e6:.1f} us per frozen clock read)"
            ),
            "",
        ]
    parts += [main_table(paired), "", "Ours / incumbent:", "", ratio_table(paired)]
    parts += ["", detail_table(paired)]
    if args.breakdown:
        parts += ["", breakdown_table(paired)]
    for noted in results:
        notes = [note for note in (noted.error, *noted.exceptions[:5]) if note]
        if noted.attempts > 1:
            notes.insert(0, f"attempt {noted.attempts}")
        if notes:
            parts += [
                "",
                f"{noted.job.site.label} {noted.job.integration}: " + "; ".join(notes),
            ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = build_parser().parse_args(argv)
    minutes: int = args.minutes or (QUICK_MIN if args.quick else FULL_MIN)
    sites = choose_sites(args)
    if args.cprofile:
        Path(args.cprofile).mkdir(parents=True, exist_ok=True)
    jobs = build_jobs(
        sites,
        minutes,
        args.seed,
        str(Path(args.cprofile).resolve()) if args.cprofile else None,
    )

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = wall_clock()
    results = run_jobs(jobs, max(1, args.parallel), log)
    print(report(results, args, minutes, wall_clock() - started))
    return 1 if any(result.error for result in results) else 0


if __name__ == "__main__":
    # Run as benchmarks.cpu, not __main__: job processes pickle this module's
    # classes and their pytest sessions import it under that name.
    from benchmarks import cpu  # noqa: PLW0406 - the point: one module, one name

    sys.exit(cpu.main())
