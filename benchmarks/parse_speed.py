"""Client-side CPU per poll: how long the client's parsers take, and what they hold.

Run from the repository root::

    python -m benchmarks.parse_speed            # about half a minute
    python -m benchmarks.parse_speed --quick    # a few seconds

Payloads are fetched once from the simulator (latency off) through the real
``Envoy`` client, then the parsers of ``envoy/parsers.py`` run on those bytes
in a loop, exactly as the client and the coordinators chain them: JSON decode
(``body_to_json``), the endpoint's parser, then the step the coordinator adds
(``match_meter_readings`` for CT readings, ``merge_inverters`` for the 60 s
inverter tier). Every step is timed on its own with ``time.perf_counter``
over many repetitions (after a warm-up, garbage collector left on as in Home
Assistant), and so is the whole poll; medians and 95th percentiles are in
microseconds. Memory is measured with ``tracemalloc`` around one whole poll:
what stays allocated while its parsed result is held, and the peak during
parsing (the raw body, already in memory, is not counted).

Nothing here asserts: the numbers are printed (as Markdown tables) to be read.
"""

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc

from custom_components.enphase_local import const
from custom_components.enphase_local.envoy import (
    Endpoint,
    Envoy,
    MeterConfig,
    ProductionSource,
    match_meter_readings,
    merge_inverters,
)
from custom_components.enphase_local.envoy.parsers import (
    body_to_json,
    parse_device_data,
    parse_inverters,
    parse_meter_readings,
    parse_production_report,
)
from envoy_simulator import PROFILES, EnvoySimulator

LARGE_SITE = "large_site"
HOUR_S = 3600.0
LIVE_POLLS_PER_HOUR = HOUR_S / const.DEFAULT_LIVE_INTERVAL
MINUTE_POLLS_PER_HOUR = HOUR_S / const.DEFAULT_PRODUCTION_INTERVAL


@dataclass(frozen=True, slots=True)
class Budget:
    """Seconds of timing per step, and bounds on the repetitions that buys."""

    seconds: float
    min_repetitions: int
    max_repetitions: int


FULL = Budget(seconds=1.0, min_repetitions=500, max_repetitions=20000)
QUICK = Budget(seconds=0.1, min_repetitions=100, max_repetitions=2000)
WARM_UP = 20


@dataclass(frozen=True, slots=True)
class Step:
    """One stage of a poll, runnable on its own with prepared inputs."""

    name: str
    run: Callable[[], object]


@dataclass(frozen=True, slots=True)
class Case:
    """One poll's client-side work: its payloads, its stages and the whole."""

    name: str
    payload_bytes: int
    steps: tuple[Step, ...]
    poll: Callable[[], object]
    polls_per_hour: float


@dataclass(frozen=True, slots=True)
class Timing:
    """Timing of one step."""

    repetitions: int
    median_us: float
    p95_us: float


@dataclass(frozen=True, slots=True)
class CaseResult:
    """Everything measured for one case."""

    case: Case
    steps: tuple[tuple[str, Timing], ...]
    poll: Timing
    held_bytes: int
    peak_bytes: int


@dataclass(frozen=True, slots=True)
class Payloads:
    """Raw bodies fetched from one simulated gateway."""

    profile: str
    meters: list[MeterConfig]
    readings: bytes | None
    inverters: bytes | None
    device_data: bytes | None
    production_json: bytes | None


async def fetch(name: str) -> Payloads:
    """Fetch the bodies our schedule polls on ``name``, through the real client."""
    async with (
        EnvoySimulator(name, latency=False, cloud_port=None) as sim,
        Envoy(sim.address, max_retries=0) as envoy,
    ):
        info = await envoy.probe()
        if info.requires_token:
            envoy.use_token(sim.mint_token())
        else:
            envoy.use_digest()
        capabilities = await envoy.detect_capabilities()
        # last_responses holds each body as text; the simulator sends ASCII
        # JSON, so encoding it again gives back the exact bytes received.
        raw = envoy.last_responses
        meters = list(capabilities.ct_meters)
        readings = inverters = device_data = production_json = None
        if capabilities.has(Endpoint.METER_READINGS):
            await envoy.meter_readings()
            readings = raw[Endpoint.METER_READINGS].encode()
        if capabilities.has(Endpoint.API_INVERTERS):
            await envoy.inverters()
            inverters = raw[Endpoint.API_INVERTERS].encode()
        if capabilities.has(Endpoint.DEVICE_DATA):
            await envoy.device_data()
            device_data = raw[Endpoint.DEVICE_DATA].encode()
        if capabilities.production_source is ProductionSource.PRODUCTION_JSON_INVERTERS:
            await envoy.production_report(details=False)
            production_json = raw[Endpoint.PRODUCTION_JSON].encode()
    return Payloads(name, meters, readings, inverters, device_data, production_json)


def readings_case(payloads: Payloads) -> Case | None:
    """Return the live tier's work: decode, parse and match CT readings."""
    body = payloads.readings
    if body is None:
        return None
    meters = payloads.meters
    endpoint = Endpoint.METER_READINGS
    decoded = body_to_json(body, endpoint)
    parsed = parse_meter_readings(decoded)

    def poll() -> object:
        return match_meter_readings(
            meters, parse_meter_readings(body_to_json(body, endpoint))
        )

    return Case(
        name=f"/ivp/meters/readings, {payloads.profile} ({len(meters)} CTs)",
        payload_bytes=len(body),
        steps=(
            Step("JSON decode", lambda: body_to_json(body, endpoint)),
            Step("parse_meter_readings", lambda: parse_meter_readings(decoded)),
            Step("match_meter_readings", lambda: match_meter_readings(meters, parsed)),
        ),
        poll=poll,
        polls_per_hour=LIVE_POLLS_PER_HOUR,
    )


def inverters_case(payloads: Payloads) -> Case | None:
    """Return the 60 s inverter tier's work: both endpoints and the merge."""
    inverters_body, device_body = payloads.inverters, payloads.device_data
    if inverters_body is None or device_body is None:
        return None
    inverters_decoded = body_to_json(inverters_body, Endpoint.API_INVERTERS)
    device_decoded = body_to_json(device_body, Endpoint.DEVICE_DATA)
    basic = parse_inverters(inverters_decoded)
    detail = parse_device_data(device_decoded)

    def poll() -> object:
        return merge_inverters(
            parse_inverters(body_to_json(inverters_body, Endpoint.API_INVERTERS)),
            parse_device_data(body_to_json(device_body, Endpoint.DEVICE_DATA)),
        )

    merged = merge_inverters(basic, detail)
    with_detail = sum(1 for inverter in merged.values() if inverter.detail is not None)
    return Case(
        name=(
            f"inverters + device_data + merge, {payloads.profile} "
            f"({len(merged)} inverters, {with_detail} with detail)"
        ),
        payload_bytes=len(inverters_body) + len(device_body),
        steps=(
            Step(
                "inverters JSON decode",
                lambda: body_to_json(inverters_body, Endpoint.API_INVERTERS),
            ),
            Step("parse_inverters", lambda: parse_inverters(inverters_decoded)),
            Step(
                "device_data JSON decode",
                lambda: body_to_json(device_body, Endpoint.DEVICE_DATA),
            ),
            Step("parse_device_data", lambda: parse_device_data(device_decoded)),
            Step("merge_inverters", lambda: merge_inverters(basic, detail)),
        ),
        poll=poll,
        polls_per_hour=MINUTE_POLLS_PER_HOUR,
    )


def production_case(payloads: Payloads) -> Case | None:
    """Return the production tier's work on a metered gateway without CTs."""
    body = payloads.production_json
    if body is None:
        return None
    endpoint = Endpoint.PRODUCTION_JSON
    decoded = body_to_json(body, endpoint)

    def poll() -> object:
        return parse_production_report(body_to_json(body, endpoint))

    return Case(
        name=f"/production.json (details=0), {payloads.profile}",
        payload_bytes=len(body),
        steps=(
            Step("JSON decode", lambda: body_to_json(body, endpoint)),
            Step("parse_production_report", lambda: parse_production_report(decoded)),
        ),
        poll=poll,
        polls_per_hour=MINUTE_POLLS_PER_HOUR,
    )


def time_step(run: Callable[[], object], budget: Budget) -> Timing:
    """Time ``run`` over as many repetitions as the budget buys."""
    for _ in range(WARM_UP):
        run()
    started = time.perf_counter()
    for _ in range(WARM_UP):
        run()
    estimate = max((time.perf_counter() - started) / WARM_UP, 1e-9)
    repetitions = int(
        min(
            max(budget.seconds / estimate, budget.min_repetitions),
            budget.max_repetitions,
        )
    )
    samples: list[float] = []
    gc.collect()
    for _ in range(repetitions):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1e6)
    return Timing(
        repetitions=repetitions,
        median_us=statistics.median(samples),
        p95_us=statistics.quantiles(samples, n=20)[18],
    )


def memory(poll: Callable[[], object]) -> tuple[int, int]:
    """Return the bytes one poll's result holds, and the peak while parsing."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        result = poll()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return held - baseline, peak - baseline


def measure(case: Case, budget: Budget) -> CaseResult:
    """Time every step and the whole poll, then measure its memory."""
    steps = tuple((step.name, time_step(step.run, budget)) for step in case.steps)
    poll = time_step(case.poll, budget)
    held, peak = memory(case.poll)
    return CaseResult(case, steps, poll, held, peak)


def timing_table(results: Sequence[CaseResult]) -> str:
    """Return per-step and per-poll timings as a Markdown table."""
    lines = [
        "| poll | step | repetitions | median µs | p95 µs |",
        "|---|---|--:|--:|--:|",
    ]
    for result in results:
        for name, timing in (*result.steps, ("whole poll", result.poll)):
            label = f"**{name}**" if name == "whole poll" else name
            lines.append(
                f"| {result.case.name} | {label} | {timing.repetitions} "
                f"| {timing.median_us:.1f} | {timing.p95_us:.1f} |"
            )
    return "\n".join(lines)


def summary_table(results: Sequence[CaseResult]) -> str:
    """Return payload sizes, memory and CPU per hour as a Markdown table."""
    lines = [
        (
            "| poll | payload KiB | median µs | p95 µs | parsed data held KiB "
            "| peak while parsing KiB | polls/h (default) | CPU ms/h |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        case = result.case
        cpu_ms = result.poll.median_us * case.polls_per_hour / 1000
        lines.append(
            f"| {case.name} | {case.payload_bytes / 1024:.1f} "
            f"| {result.poll.median_us:.1f} | {result.poll.p95_us:.1f} "
            f"| {result.held_bytes / 1024:.1f} | {result.peak_bytes / 1024:.1f} "
            f"| {case.polls_per_hour:.0f} | {cpu_ms:.1f} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.parse_speed",
        description="Client-side CPU and memory of parsing one poll's payloads.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the timing budget"
    )
    return parser


async def fetch_all() -> list[Payloads]:
    """Fetch payloads from every profile."""
    return [await fetch(name) for name in PROFILES]


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch payloads, run the timings and print the tables."""
    args = build_parser().parse_args(argv)
    budget = QUICK if args.quick else FULL
    started = time.perf_counter()
    payloads = asyncio.run(fetch_all())
    cases = [
        case
        for builder in (readings_case, inverters_case, production_case)
        for item in payloads
        if (builder is not inverters_case or item.profile == LARGE_SITE)
        and (case := builder(item)) is not None
    ]
    results = [measure(case, budget) for case in cases]
    wall = time.perf_counter() - started
    print("# Client-side parse cost per poll")
    print()
    print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{budget.seconds:g} s of timing per step{' (--quick)' if args.quick else ''}; "
        f"wall {wall:.0f} s"
    )
    print()
    print(summary_table(results))
    print()
    print(timing_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
