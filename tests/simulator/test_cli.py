"""The command line: profile list, startup output, a real run as a subprocess."""

import asyncio
from pathlib import Path
import re
import signal
import sys

import aiohttp
import pytest

from envoy_simulator import PROFILES
from envoy_simulator.__main__ import main

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
