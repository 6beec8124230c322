"""Run the simulator from the command line.

``python -m envoy_simulator --profile NAME`` plays a simulated site (see
``--list-profiles``); ``--time HH:MM`` starts it at that local time of the
site and ``--history-start WHEN`` makes restarts continue every counter;
``python -m envoy_simulator --replay DIR`` serves a directory of captured
answers instead (see envoy_simulator.replay, which also converts a
diagnostics download into such a directory).
"""

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
from datetime import UTC, datetime
from pathlib import Path
import signal
import sys

from .clock import ShiftedClock
from .faults import FAULT_KINDS
from .profiles import PROFILES
from .replay import ReplayGateway
from .server import EnvoySimulator

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # noqa: S104 - only compared, never bound


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m envoy_simulator",
        description="Run a fake Enphase Envoy / IQ Gateway (and a fake Enlighten cloud), "
        "or replay captured answers with --replay.",
        epilog="Faults are injected over the control API: POST /_sim/fault "
        '{"endpoint": "/ivp/meters", "kind": "trickle", "count": 1, "params": {...}}; '
        f"kinds: {', '.join(FAULT_KINDS)} "
        "(params and effects in envoy_simulator/faults.py). "
        "Make a replay directory from a diagnostics download with: "
        "python -m envoy_simulator.replay convert DIAGNOSTICS.json OUTDIR",
    )
    parser.add_argument(
        "--profile",
        default="metered_split",
        help="gateway profile (see --list-profiles)",
    )
    parser.add_argument(
        "--list-profiles", action="store_true", help="list the profiles and exit"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve the captured answers in DIR instead of a simulated site "
        "(uses --host and --port only)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="main port, HTTP and HTTPS (default: any free port)",
    )
    parser.add_argument(
        "--http-port", type=int, default=None, help="extra plain-HTTP port (e.g. 80)"
    )
    parser.add_argument(
        "--https-port", type=int, default=None, help="extra HTTPS port (e.g. 443)"
    )
    parser.add_argument(
        "--cloud-port",
        type=int,
        default=0,
        help="fake Enlighten/Entrez port (default: any free port)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed for values and latency"
    )
    parser.add_argument(
        "--no-latency",
        action="store_true",
        help="answer immediately instead of like a real gateway",
    )
    parser.add_argument(
        "--no-daily-outage",
        action="store_true",
        help="skip the gateway's 23:00 restart",
    )
    parser.add_argument(
        "--time",
        type=_time_of_day,
        default=None,
        metavar="HH:MM",
        help="start at this local time of the site (today), then run in real time",
    )
    parser.add_argument(
        "--history-start",
        type=_instant,
        default=None,
        metavar="WHEN",
        help="integrate the grid and battery counters from this instant (epoch "
        "seconds or ISO date/time) so restarts continue them exactly; "
        "start-up takes about 0.15 s per day since; "
        "default: local midnight of the start day",
    )
    return parser


def _time_of_day(text: str) -> tuple[int, int]:
    """Parse ``HH:MM``."""
    hour, _, minute = text.partition(":")
    try:
        parsed = (int(hour), int(minute))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HH:MM") from None
    if not (0 <= parsed[0] <= 23 and 0 <= parsed[1] <= 59) or len(minute) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not HH:MM")
    return parsed


def _instant(text: str) -> float:
    """Parse epoch seconds or an ISO 8601 date/time (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither epoch seconds nor an ISO date/time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def describe_profiles() -> str:
    """Return the profile table printed by --list-profiles."""
    rows = [f"{'profile':30} {'serial':12}  {'firmware':9} description"]
    rows.extend(
        f"{name:30} {profile.serial:12}  {profile.firmware:9} {profile.description}"
        for name, profile in PROFILES.items()
    )
    return "\n".join(rows)


def describe(sim: EnvoySimulator) -> str:
    """Return what to type where to use the running simulator."""
    profile = sim.profile
    lines = [
        f"Envoy simulator: profile {profile.name}, serial {sim.serial}, firmware {sim.firmware}, part {sim.part_number}",
        f"  gateway address (host:port for Home Assistant): {sim.address}"
        + (" (use this machine's IP address)" if sim.host in _WILDCARD_HOSTS else ""),
        f"  main port speaks {'HTTPS (plain HTTP redirects)' if profile.web_tokens else 'plain HTTP (TLS is refused)'}",
    ]
    if sim.http_port is not None:
        lines.append(f"  extra HTTP port: {sim.http_port}")
    if sim.https_port is not None:
        lines.append(f"  extra HTTPS port: {sim.https_port}")
    if sim.cloud_port is not None:
        lines.extend(
            (
                f"  fake cloud: {sim.cloud_url}",
                f"    login URL:  {sim.login_url}",
                f"    tokens URL: {sim.tokens_url}",
                "    accounts: owner@example.com / correct-horse-battery (raw token),",
                "              owner-json@example.com / correct-horse-battery (JSON token),",
                "              mfa@example.com / correct-horse-battery (multi-factor)",
            )
        )
    if profile.batteries:
        units = profile.batteries
        storage = f"{len(units)} x {units[0].name}, {profile.battery_capacity_wh / 1000:.1f} kWh"
        if profile.enpower:
            storage += f", system controller with {len(profile.relays)} dry contacts"
        if profile.off_grid_daily is not None:
            (start_h, start_m), (end_h, end_m) = profile.off_grid_daily
            storage += f"; the grid fails daily {start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"
        lines.append(f"  batteries: {storage}")
    if profile.web_tokens:
        lines.append(f"  owner token (valid 1 year): {sim.mint_token()}")
    else:
        lines.append(
            f"  digest users: envoy / {sim.envoy_password}, installer / {sim.installer_password}"
        )
    lines.extend(
        (
            f"  control API: http://{sim.address}/_sim/stats (also /_sim/log, /_sim/fault, /_sim/upgrade, /_sim/token, /_sim/grid, /_sim/battery, /_sim/history)",
            f"  latency {'on' if sim.latency else 'off'}, daily 23:00 outage {'on' if sim.daily_outage else 'off'}",
            f"  site time now: {sim.model.calendar.local_time(sim.now()):%Y-%m-%d %H:%M %Z}"
            + (
                f" (clock shifted {sim.clock!r})"
                if isinstance(sim.clock, ShiftedClock)
                else ""
            ),
            "Press Ctrl-C to stop.",
        )
    )
    return "\n".join(lines)


def describe_replay(gateway: ReplayGateway) -> str:
    """Return what to type where to use the running replay."""
    return "\n".join(
        (
            f"Envoy replay of {gateway.directory}",
            f"  gateway address (host:port for Home Assistant): {gateway.address}"
            + (
                " (use this machine's IP address)"
                if gateway.host in _WILDCARD_HOSTS
                else ""
            ),
            "  HTTP and HTTPS on that port; any token or none is accepted",
            f"  request counts: http://{gateway.address}/_sim/stats",
            "Press Ctrl-C to stop.",
        )
    )


async def _serve_until(stop: asyncio.Event | None, started: str) -> None:
    """Print ``started`` and wait for ``stop`` or SIGINT/SIGTERM."""
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        print(started, flush=True)
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def run_replay(
    args: argparse.Namespace, stop: asyncio.Event | None = None
) -> None:
    """Serve ``args.replay`` until ``stop`` is set or the process is interrupted."""
    async with ReplayGateway(args.replay, host=args.host, port=args.port) as gateway:
        await _serve_until(stop, describe_replay(gateway))


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run the simulator until ``stop`` is set or the process is interrupted."""
    clock = None
    if args.time is not None:
        hour, minute = args.time
        clock = ShiftedClock.local_time(PROFILES[args.profile].timezone, hour, minute)
    sim = EnvoySimulator(
        args.profile,
        clock=clock,
        history_start=args.history_start,
        latency=not args.no_latency,
        daily_outage=not args.no_daily_outage,
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        https_port=args.https_port,
        cloud_port=args.cloud_port,
        seed=args.seed,
    )
    async with sim:
        await _serve_until(stop, describe(sim))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.list_profiles:
        print(describe_profiles())
        return 0
    if args.replay is not None:
        if not args.replay.is_dir():
            print(f"no capture directory {args.replay}", file=sys.stderr)
            return 2
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_replay(args))
        return 0
    if args.profile not in PROFILES:
        print(
            f"unknown profile {args.profile!r}\n\n{describe_profiles()}",
            file=sys.stderr,
        )
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
