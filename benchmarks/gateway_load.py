"""Gateway load per hour: our polling tiers against the incumbent's 60 s sweep.

Run from the repository root::

    python -m benchmarks.gateway_load            # every profile, about 2 minutes
    python -m benchmarks.gateway_load --quick    # smoke run, under 30 seconds

Method. For each simulator profile a simulated gateway runs with its latency
model on (each request holds the gateway, one at a time, for a service time
drawn from the per-endpoint ranges of PROTOCOL.md section 3) and the real
``Envoy`` client talks to it over loopback sockets. After set-up (probe,
authentication, capability detection, not counted) every polling tier runs a
handful of cycles back to back; the simulator's own statistics give the
requests the gateway served per path and the seconds it was busy serving
them. Each tier's requests per cycle are scaled to one hour by its nominal
frequency (3600 s / interval) and the tiers of a schedule are added up.

Busy seconds per hour multiply those requests by each path's mean service
time, pooled over every request of that path the whole run measured (all
profiles, all schedules): the simulator draws a request's service time from
its path alone, and pooling keeps one unlucky handful of slow production.json
draws from deciding a comparison (30 draws of it vary the mean by about 11%,
the pooled ~165 by about 5%). ``--breakdown`` also shows each profile's own
draws.

The schedules:

* ours: the integration's default tiers, as the coordinators poll them on
  this gateway (which tiers exist follows the client's capability detection):
  CT readings every 10 s (and 2 s, the fastest the options allow); inverters
  plus device_data every 60 s; system production every 60 s only when the
  production source is not a CT (production.json without details on metered
  gateways without CTs, /api/v1/production otherwise); /ivp/meters every
  10 minutes; /info every 4 hours.
* incumbent: Home Assistant's built-in enphase_envoy, all endpoints every
  60 s including production.json: /ivp/meters and /ivp/meters/readings when
  CTs are enabled, /production.json?details=1 on metered gateways
  (/api/v1/production on non-metered ones, as pyenphase does),
  /api/v1/production/inverters and /ivp/pdm/device_data where served. The
  same client issues these requests: the gateway's cost depends on what is
  asked of it, not on who asks.

CT data freshness follows Home Assistant's DataUpdateCoordinator, which
schedules the next poll one interval after the previous one finished. Ours:
interval + readings latency, at worst also waiting behind the longest other
request in flight (the client sends one request at a time). Incumbent: the CT
read opens each 60 s sweep, so the gap is 60 s plus the rest of a sweep.

Nothing here asserts: the numbers are printed (as Markdown tables) to be read.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
import os
import platform
import statistics
import sys
import time

from custom_components.enphase_local import const
from custom_components.enphase_local.connection import ClientSettings
from custom_components.enphase_local.coordinator import InfoTier, MetersTier
from custom_components.enphase_local.envoy import (
    Endpoint,
    Envoy,
    EnvoyCapabilities,
    EnvoyError,
    EnvoyInfo,
    ProductionSource,
)
from envoy_simulator import PROFILES, EnvoySimulator

HOUR_S = 3600.0
INCUMBENT_INTERVAL_S = 60.0
LIVE_INTERVALS_S = (float(const.DEFAULT_LIVE_INTERVAL), float(const.MIN_LIVE_INTERVAL))
PRODUCTION_INTERVAL_S = float(const.DEFAULT_PRODUCTION_INTERVAL)
METERS_INTERVAL_S = MetersTier.interval.total_seconds()
INFO_INTERVAL_S = InfoTier.interval.total_seconds()
CLIENT = ClientSettings()

LIVE = "live"
INVERTERS = "inverters"
PRODUCTION = "production"
DIAGNOSTIC = "production (diagnostic sensors)"
METERS = "meters"
INFO = "info"
INCUMBENT = "incumbent sweep"


@dataclass(frozen=True, slots=True)
class Cycles:
    """How many back-to-back cycles each kind of tier runs."""

    live: int
    minute: int
    slow: int
    incumbent: int


FULL = Cycles(live=60, minute=15, slow=5, incumbent=30)
QUICK = Cycles(live=10, minute=2, slow=1, incumbent=2)


@dataclass(frozen=True, slots=True)
class Call:
    """One client call a tier makes, labelled as the request it sends."""

    label: str
    run: Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Tier:
    """A polling tier: the calls of one cycle, and how often it would run."""

    name: str
    interval_s: float
    calls: tuple[Call, ...]


@dataclass(slots=True)
class EndpointLoad:
    """Requests and busy seconds the gateway spent on one path."""

    requests: float = 0.0
    busy_s: float = 0.0


@dataclass(slots=True)
class TierRun:
    """What running a tier for some cycles cost the gateway and the client."""

    tier: Tier
    cycles: int
    requests: int = 0
    busy_s: float = 0.0
    endpoints: dict[str, EndpointLoad] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    """Client-observed duration of every call."""
    cycle_s: list[float] = field(default_factory=list)
    """Client-observed duration of every cycle."""
    ct_done_s: list[float] = field(default_factory=list)
    """Per cycle, when the CT readings had arrived (seconds into the cycle)."""
    errors: list[str] = field(default_factory=list)

    def per_hour(self, interval_s: float) -> float:
        """Return how many cycles an hour holds at ``interval_s``."""
        return HOUR_S / interval_s / self.cycles


type Costs = dict[str, EndpointLoad]
"""Requests and busy seconds per path, pooled over a whole run."""


def mean_cost(costs: Costs, path: str) -> float:
    """Return the mean busy seconds of one request to ``path``."""
    load = costs[path]
    return load.busy_s / load.requests if load.requests else 0.0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A polling pattern: measured tiers, each with the interval it runs at."""

    name: str
    tiers: tuple[tuple[TierRun, float], ...]
    ct_gap_mean_s: float | None
    ct_gap_worst_s: float | None

    @property
    def requests_per_hour(self) -> float:
        """Return the gateway requests one hour of this schedule makes."""
        return sum(run.requests * run.per_hour(every) for run, every in self.tiers)

    def busy_s_per_hour(self, costs: Costs) -> float:
        """Return the seconds per hour the gateway spends serving this schedule."""
        return sum(
            load.requests * mean_cost(costs, path)
            for path, load in self.endpoints_per_hour().items()
        )

    @property
    def own_busy_s_per_hour(self) -> float:
        """Return the busy seconds per hour from this profile's own draws only."""
        return sum(run.busy_s * run.per_hour(every) for run, every in self.tiers)

    @property
    def worst_request_s(self) -> float:
        """Return the slowest single call observed by the client."""
        return max(
            (max(run.latencies_s) for run, _ in self.tiers if run.latencies_s),
            default=0.0,
        )

    def endpoints_per_hour(self) -> dict[str, EndpointLoad]:
        """Return requests and busy seconds per hour for every path."""
        total: dict[str, EndpointLoad] = {}
        for run, every in self.tiers:
            scale = run.per_hour(every)
            for path, load in run.endpoints.items():
                entry = total.setdefault(path, EndpointLoad())
                entry.requests += load.requests * scale
                entry.busy_s += load.busy_s * scale
        return dict(sorted(total.items()))


@dataclass(slots=True)
class ProfileResult:
    """Everything measured on one profile."""

    name: str
    description: str
    source: ProductionSource
    schedules: list[Schedule]
    diagnostic: TierRun | None
    runs: list[TierRun]
    """Every tier run on this profile, for pooling service times."""
    wall_s: float
    errors: list[str]


def our_tiers(envoy: Envoy, capabilities: EnvoyCapabilities) -> list[Tier]:
    """Return the tiers the integration polls on this gateway (see __init__.py)."""
    tiers: list[Tier] = []
    has_meters = capabilities.has(Endpoint.METERS)
    if has_meters and capabilities.has(Endpoint.METER_READINGS):
        tiers.append(
            Tier(
                LIVE,
                LIVE_INTERVALS_S[0],
                (Call(Endpoint.METER_READINGS, envoy.meter_readings),),
            )
        )
    if capabilities.has(Endpoint.API_INVERTERS):
        calls = [Call(Endpoint.API_INVERTERS, envoy.inverters)]
        if capabilities.has(Endpoint.DEVICE_DATA):
            calls.append(Call(Endpoint.DEVICE_DATA, envoy.device_data))
        tiers.append(Tier(INVERTERS, PRODUCTION_INTERVAL_S, tuple(calls)))
    # The production tier's entities exist only for non-CT sources; with a CT
    # source its only sensors are diagnostic ones, disabled by default, and a
    # coordinator without listeners does not poll.
    source = capabilities.production_source
    if source is ProductionSource.PRODUCTION_JSON_INVERTERS:
        tiers.append(
            Tier(
                PRODUCTION,
                PRODUCTION_INTERVAL_S,
                (
                    Call(
                        Endpoint.PRODUCTION_JSON,
                        lambda: envoy.production_report(details=False),
                    ),
                ),
            )
        )
    elif source is not ProductionSource.CT and capabilities.has(
        Endpoint.API_PRODUCTION
    ):
        tiers.append(
            Tier(
                PRODUCTION,
                PRODUCTION_INTERVAL_S,
                (Call(Endpoint.API_PRODUCTION, envoy.api_production),),
            )
        )
    if has_meters:
        tiers.append(
            Tier(METERS, METERS_INTERVAL_S, (Call(Endpoint.METERS, envoy.meters),))
        )
    tiers.append(Tier(INFO, INFO_INTERVAL_S, (Call(Endpoint.INFO, envoy.probe),)))
    return tiers


def diagnostic_tier(envoy: Envoy, capabilities: EnvoyCapabilities) -> Tier | None:
    """Return the production tier a CT site polls once a diagnostic sensor is enabled."""
    if capabilities.production_source is not ProductionSource.CT or not (
        capabilities.has(Endpoint.API_PRODUCTION)
    ):
        return None
    return Tier(
        DIAGNOSTIC,
        PRODUCTION_INTERVAL_S,
        (Call(Endpoint.API_PRODUCTION, envoy.api_production),),
    )


def incumbent_tier(
    envoy: Envoy, info: EnvoyInfo, capabilities: EnvoyCapabilities
) -> Tier:
    """Return the incumbent's sweep on this gateway, in pyenphase's updater order."""
    calls: list[Call] = []
    if capabilities.ct_meters:
        calls.extend(
            (
                Call(Endpoint.METERS, envoy.meters),
                Call(Endpoint.METER_READINGS, envoy.meter_readings),
            )
        )
    if info.metered:
        calls.append(
            Call(
                f"{Endpoint.PRODUCTION_JSON}?details=1",
                lambda: envoy.production_report(details=True),
            )
        )
    elif capabilities.has(Endpoint.API_PRODUCTION):
        calls.append(Call(Endpoint.API_PRODUCTION, envoy.api_production))
    if capabilities.has(Endpoint.API_INVERTERS):
        calls.append(Call(Endpoint.API_INVERTERS, envoy.inverters))
    if capabilities.has(Endpoint.DEVICE_DATA):
        calls.append(Call(Endpoint.DEVICE_DATA, envoy.device_data))
    return Tier(INCUMBENT, INCUMBENT_INTERVAL_S, tuple(calls))


async def run_tier(sim: EnvoySimulator, tier: Tier, cycles: int) -> TierRun:
    """Run ``cycles`` cycles of ``tier`` back to back; read the gateway's counters."""
    run = TierRun(tier=tier, cycles=cycles)
    sim.reset_stats()
    for _ in range(cycles):
        cycle_started = time.perf_counter()
        for call in tier.calls:
            started = time.perf_counter()
            try:
                await call.run()
            except EnvoyError as err:
                run.errors.append(f"{tier.name}: {call.label}: {err}")
            finished = time.perf_counter()
            run.latencies_s.append(finished - started)
            if call.label == Endpoint.METER_READINGS:
                run.ct_done_s.append(finished - cycle_started)
        run.cycle_s.append(time.perf_counter() - cycle_started)
    stats = sim.stats()
    run.requests = int(stats["total_requests"])
    run.busy_s = float(stats["busy_seconds"])
    for path, counters in stats["endpoints"].items():
        run.endpoints[path] = EndpointLoad(
            requests=float(counters["requests"]), busy_s=float(counters["busy_seconds"])
        )
    return run


def readings_latencies(run: TierRun) -> list[float]:
    """Return the client-observed durations of the CT readings calls of ``run``."""
    per_cycle = len(run.tier.calls)
    return [
        latency
        for index, latency in enumerate(run.latencies_s)
        if run.tier.calls[index % per_cycle].label == Endpoint.METER_READINGS
    ]


def our_schedule(runs: list[TierRun], live_interval_s: float | None) -> Schedule:
    """Combine our measured tiers, the live one at ``live_interval_s``."""
    tiers = tuple(
        (
            run,
            live_interval_s
            if run.tier.name == LIVE and live_interval_s
            else run.tier.interval_s,
        )
        for run in runs
    )
    live = next((run for run in runs if run.tier.name == LIVE), None)
    if live is None or live_interval_s is None:
        return Schedule("ours (no CT tier)", tiers, None, None)
    readings = readings_latencies(live)
    others = [latency for run in runs if run is not live for latency in run.latencies_s]
    # The next poll starts one interval after the last one finished; at worst
    # it also waits for the longest request of another tier to finish first.
    mean_gap = live_interval_s + statistics.fmean(readings)
    worst_gap = live_interval_s + max(readings) + max(others, default=0.0)
    return Schedule(f"ours, CT every {live_interval_s:g} s", tiers, mean_gap, worst_gap)


def incumbent_schedule(run: TierRun) -> Schedule:
    """Turn the measured incumbent sweep into a schedule."""
    tiers = ((run, run.tier.interval_s),)
    if not run.ct_done_s:
        return Schedule("incumbent, all every 60 s", tiers, None, None)
    interval = run.tier.interval_s
    # Cycle k+1 starts one interval after cycle k ended; the CT read lands
    # ct_done[k+1] into it.
    gaps = [
        interval + run.cycle_s[k] - run.ct_done_s[k] + run.ct_done_s[k + 1]
        for k in range(len(run.cycle_s) - 1)
    ] or [interval + run.cycle_s[0]]
    return Schedule(
        "incumbent, all every 60 s", tiers, statistics.fmean(gaps), max(gaps)
    )


async def connect(
    sim: EnvoySimulator, envoy: Envoy
) -> tuple[EnvoyInfo, EnvoyCapabilities]:
    """Probe, authenticate and detect capabilities, as the integration's set-up does."""
    info = await envoy.probe()
    if info.requires_token:
        envoy.use_token(sim.mint_token())
    else:
        envoy.use_digest()
    capabilities = await envoy.detect_capabilities()
    return info, capabilities


async def measure_profile(name: str, cycles: Cycles, seed: int) -> ProfileResult:
    """Measure every schedule on one simulated gateway."""
    started = time.perf_counter()
    async with (
        EnvoySimulator(name, latency=True, seed=seed, cloud_port=None) as sim,
        Envoy(
            sim.address,
            max_retries=CLIENT.retries,
            retry_backoff=CLIENT.retry_backoff_s,
        ) as envoy,
    ):
        info, capabilities = await connect(sim, envoy)
        counts = {LIVE: cycles.live, METERS: cycles.slow, INFO: cycles.slow}
        runs = [
            await run_tier(sim, tier, counts.get(tier.name, cycles.minute))
            for tier in our_tiers(envoy, capabilities)
        ]
        extra = diagnostic_tier(envoy, capabilities)
        diagnostic = (
            await run_tier(sim, extra, cycles.minute) if extra is not None else None
        )
        incumbent = await run_tier(
            sim, incumbent_tier(envoy, info, capabilities), cycles.incumbent
        )
    has_live = any(run.tier.name == LIVE for run in runs)
    schedules = [incumbent_schedule(incumbent)]
    if has_live:
        schedules.extend(our_schedule(runs, every) for every in LIVE_INTERVALS_S)
    else:
        schedules.append(our_schedule(runs, None))
    every_run = [*runs, incumbent, *([diagnostic] if diagnostic else [])]
    errors = [error for run in every_run for error in run.errors]
    return ProfileResult(
        name=name,
        description=PROFILES[name].description,
        source=capabilities.production_source,
        schedules=schedules,
        diagnostic=diagnostic,
        runs=every_run,
        wall_s=time.perf_counter() - started,
        errors=errors,
    )


def pooled_costs(results: Sequence[ProfileResult]) -> Costs:
    """Return requests and busy seconds per path over every run of every profile."""
    costs: Costs = {}
    for result in results:
        for run in result.runs:
            for path, load in run.endpoints.items():
                entry = costs.setdefault(path, EndpointLoad())
                entry.requests += load.requests
                entry.busy_s += load.busy_s
    return dict(sorted(costs.items()))


def _seconds(value: float | None) -> str:
    """Format a duration for a table cell."""
    return "no CTs" if value is None else f"{value:.1f}"


def _count(value: float) -> str:
    """Format a per-hour count: whole numbers, a decimal for rare requests."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def summary_table(results: Sequence[ProfileResult], costs: Costs) -> str:
    """Return the main results as a Markdown table."""
    lines = [
        (
            "| profile | schedule | requests/h | gateway busy s/h | % of hour "
            "| vs incumbent | worst request s | CT update every s (mean / worst) |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        baseline = result.schedules[0].busy_s_per_hour(costs)
        for schedule in result.schedules:
            busy = schedule.busy_s_per_hour(costs)
            ratio = f"{busy / baseline:.0%}" if baseline else "-"
            freshness = (
                "no CTs"
                if schedule.ct_gap_mean_s is None
                else f"{_seconds(schedule.ct_gap_mean_s)} / {_seconds(schedule.ct_gap_worst_s)}"
            )
            lines.append(
                f"| {result.name} | {schedule.name} | {_count(schedule.requests_per_hour)} "
                f"| {busy:.1f} | {busy / HOUR_S:.2%} | {ratio} "
                f"| {schedule.worst_request_s:.2f} | {freshness} |"
            )
    return "\n".join(lines)


def costs_table(costs: Costs) -> str:
    """Return the pooled service time per path as a Markdown table."""
    lines = [
        "| path | requests measured | mean gateway busy s/request |",
        "|---|--:|--:|",
    ]
    lines.extend(
        f"| {path} | {load.requests:.0f} | {mean_cost(costs, path):.3f} |"
        for path, load in costs.items()
    )
    return "\n".join(lines)


def diagnostic_lines(results: Sequence[ProfileResult], costs: Costs) -> list[str]:
    """Return what enabling the diagnostic production sensors adds on CT sites."""
    lines: list[str] = []
    for result in results:
        run = result.diagnostic
        if run is None:
            continue
        scale = run.per_hour(run.tier.interval_s)
        busy = sum(
            load.requests * scale * mean_cost(costs, path)
            for path, load in run.endpoints.items()
        )
        lines.append(
            f"- {result.name}: +{run.requests * scale:.0f} requests/h, "
            f"+{busy:.1f} gateway busy s/h "
            f"(/api/v1/production every {run.tier.interval_s:g} s)"
        )
    return lines


def breakdown_table(results: Sequence[ProfileResult], costs: Costs) -> str:
    """Return requests and busy seconds per hour for every path of every schedule."""
    lines = [
        (
            "| profile | schedule | path | requests/h | busy s/h (pooled) "
            "| busy s/h (own draws) | own mean busy s/request |"
        ),
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for result in results:
        for schedule in result.schedules:
            for path, load in schedule.endpoints_per_hour().items():
                own = load.busy_s / load.requests if load.requests else 0.0
                lines.append(
                    f"| {result.name} | {schedule.name} | {path} | {_count(load.requests)} "
                    f"| {load.requests * mean_cost(costs, path):.1f} "
                    f"| {load.busy_s:.1f} | {own:.3f} |"
                )
            lines.append(
                f"| {result.name} | {schedule.name} | **total** "
                f"| {_count(schedule.requests_per_hour)} "
                f"| {schedule.busy_s_per_hour(costs):.1f} "
                f"| {schedule.own_busy_s_per_hour:.1f} | |"
            )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gateway_load",
        description="Gateway busy time per hour: our polling tiers vs the incumbent's.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few cycles per tier: a smoke run"
    )
    parser.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="measure only this profile (repeatable; default: all)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="simulator seed (values and latency draws)"
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="one profile at a time (slower; no event-loop sharing between profiles)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also print per-path numbers, with each profile's own draws",
    )
    return parser


async def run(args: argparse.Namespace) -> list[ProfileResult]:
    """Measure the chosen profiles, concurrently unless told otherwise."""
    cycles = QUICK if args.quick else FULL
    names: list[str] = args.profile or list(PROFILES)
    # A seed per profile, so profiles do not replay one latency sequence.
    seeds = {name: args.seed + index for index, name in enumerate(PROFILES)}
    if args.sequential:
        return [await measure_profile(name, cycles, seeds[name]) for name in names]
    # Each profile is its own gateway; running them side by side only shares
    # this process's event loop, not any gateway's busy time.
    return list(
        await asyncio.gather(
            *(measure_profile(name, cycles, seeds[name]) for name in names)
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = build_parser().parse_args(argv)
    cycles = QUICK if args.quick else FULL
    started = time.perf_counter()
    results = asyncio.run(run(args))
    wall = time.perf_counter() - started
    costs = pooled_costs(results)
    print("# Gateway load per hour (simulator latency model, real sockets)")
    print()
    print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"seed {args.seed} + profile index; cycles per tier: live {cycles.live}, "
        f"60 s tiers {cycles.minute}, 10 min/4 h tiers {cycles.slow}, "
        f"incumbent {cycles.incumbent}{' (--quick)' if args.quick else ''}; "
        f"{'sequential' if args.sequential else 'profiles in parallel'}; wall {wall:.0f} s"
    )
    print()
    print(summary_table(results, costs))
    extra = diagnostic_lines(results, costs)
    if extra:
        print()
        print("Enabling the diagnostic production sensors on a CT site adds:")
        print("\n".join(extra))
    print()
    print("Gateway service time per request, pooled over this run:")
    print()
    print(costs_table(costs))
    if args.breakdown:
        print()
        print(breakdown_table(results, costs))
    errors = [error for result in results for error in result.errors]
    if errors:
        print()
        print(f"{len(errors)} calls failed (counted in the numbers above):")
        print("\n".join(f"- {error}" for error in errors[:20]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
