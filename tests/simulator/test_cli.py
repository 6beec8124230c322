"""The command line: profile list, startup output, a real run as a subprocess."""

import asyncio
from pathlib import Path
import re
import signal
import sys

import aiohttp
import pytest

from envoy_simulator import PROFILES
from envoy_simulator.__main__ import build_parser, main, run

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_list_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-profiles"]) == 0
    output = capsys.readouterr().out
    for name, profile in PROFILES.items():
        assert name in output
        assert profile.serial in output
        assert profile.firmware in output


def test_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


async def test_cli_runs_and_prints_a_working_token() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "envoy_simulator",
        "--profile",
        "metered_three_phase_storage",
        "--port",
        "0",
        "--cloud-port",
        "0",
        "--no-latency",
        "--no-daily-outage",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(20):
            while not lines or "Press Ctrl-C" not in lines[-1]:
                line = await process.stdout.readline()
                assert line, (
                    (await process.stderr.read()).decode() if process.stderr else ""
                )
                lines.append(line.decode())
        output = "".join(lines)
        assert "serial 202302019378" in output
        assert "firmware 8.2.4345" in output
        address = re.search(r"Home Assistant\): (\S+)", output)
        token = re.search(r"owner token \(valid 1 year\): (\S+)", output)
        cloud = re.search(r"fake cloud: (\S+)", output)
        assert address is not None
        assert token is not None
        assert cloud is not None
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as client,
            client.get(
                f"https://{address.group(1)}/ivp/meters/readings",
                headers={"Authorization": f"Bearer {token.group(1)}"},
            ) as response,
        ):
            assert response.status == 200
            assert len(await response.read()) > 1000
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            await process.wait()
    assert process.returncode == 0


def test_time_and_history_start_options() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["--time", "06:45", "--history-start", "2025-07-27T00:00:00+02:00"]
    )
    assert args.time == (6, 45)
    assert args.history_start == 1753567200.0
    assert parser.parse_args(["--history-start", "1753567200"]).history_start == (
        1753567200.0
    )
    assert parser.parse_args(["--history-start", "2025-07-27"]).history_start == (
        1753574400.0
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--time", "25:00"], "'25:00' is not HH:MM"),
        (["--time", "7:5"], "'7:5' is not HH:MM"),
        (["--time", "noon"], "'noon' is not HH:MM"),
        (
            ["--history-start", "yesterday"],
            "'yesterday' is neither epoch seconds nor an ISO date/time",
        ),
    ],
)
def test_bad_time_options_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


async def test_run_at_a_chosen_local_time(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["--profile", "iq_battery_storage_ct", "--time", "14:30", "--no-latency"]
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run(args, stop))
    output = ""
    async with asyncio.timeout(20):
        while "Press Ctrl-C" not in output:
            await asyncio.sleep(0.05)
            output += capsys.readouterr().out
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert re.search(
        r"site time now: \d{4}-\d\d-\d\d 14:30 P[SD]T \(clock shifted", output
    )
