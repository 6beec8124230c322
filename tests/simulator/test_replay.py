"""Replay directories: converting a diagnostics download and serving it over sockets."""

import argparse
import asyncio
import json
from pathlib import Path
import re

import aiohttp
import pytest

from envoy_simulator.__main__ import main as simulator_main, run_replay
from envoy_simulator.replay import ReplayGateway, convert, file_name, main

FIXTURE = Path(__file__).parent / "fixtures" / "replay_diagnostics.json"
CONVERTED = [
    "api_v1_production",
    "api_v1_production_inverters",
    "home.json",
    "home.json.meta.json",
    "info",
    "ivp_ensemble_inventory",
    "ivp_ensemble_inventory.meta.json",
    "ivp_meters",
    "ivp_meters_readings",
    "ivp_pdm_device_data",
    "production.json",
]


def _diagnostics() -> dict[str, object]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def replay_dir(tmp_path: Path) -> Path:
    """Return a replay directory converted from the fixture diagnostics."""
    convert(_diagnostics(), tmp_path / "replay")
    return tmp_path / "replay"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/info", "info"),
        ("/api/v1/production/inverters", "api_v1_production_inverters"),
        ("/production.json", "production.json"),
        ("/production.json?details=1", "production.json"),
        ("/ivp/meters/readings", "ivp_meters_readings"),
        ("/ivp/ensemble/inventory?x=1&y=2", "ivp_ensemble_inventory"),
    ],
)
def test_file_names(path: str, name: str) -> None:
    assert file_name(path) == name


def test_convert_writes_one_file_per_endpoint(tmp_path: Path) -> None:
    written = convert(_diagnostics(), tmp_path)
    assert sorted(p.name for p in written) == CONVERTED
    assert sorted(p.name for p in tmp_path.iterdir()) == CONVERTED
    assert json.loads((tmp_path / "home.json.meta.json").read_text()) == {"status": 503}
    assert json.loads((tmp_path / "ivp_ensemble_inventory.meta.json").read_text()) == {
        "status": 401
    }
    assert (tmp_path / "ivp_ensemble_inventory").read_bytes() == b""
    # The capture with ?details=1 carries the lines: it wins over the bare one.
    production = json.loads((tmp_path / "production.json").read_text())
    assert [e["type"] for e in production["production"]] == ["inverters", "eim"]


def test_convert_gives_each_pseudonym_its_own_serial(tmp_path: Path) -> None:
    convert(_diagnostics(), tmp_path)
    info = (tmp_path / "info").read_text()
    assert "<sn>990000000001</sn>" in info
    assert "<euaid>**REDACTED**</euaid>" in info
    inverters = json.loads((tmp_path / "api_v1_production_inverters").read_text())
    assert [i["serialNumber"] for i in inverters] == [
        "990000000002",
        "990000000003",
        "990000000012",
    ]
    device_data = json.loads((tmp_path / "ivp_pdm_device_data").read_text())
    assert [device_data[key]["sn"] for key in ("553648384", "553648640")] == [
        "990000000002",
        "990000000003",
    ]
    text = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "REDACTED_SERIAL" not in text
    assert set(re.findall(r"99\d{10}", text)) == {
        "990000000001",
        "990000000002",
        "990000000003",
        "990000000012",
    }


def test_convert_accepts_the_bare_data_object(tmp_path: Path) -> None:
    convert(_diagnostics(), tmp_path / "wrapped")
    convert(_diagnostics()["data"], tmp_path / "bare")  # type: ignore[arg-type]
    assert {path.name: path.read_bytes() for path in (tmp_path / "bare").iterdir()} == {
        path.name: path.read_bytes() for path in (tmp_path / "wrapped").iterdir()
    }


def test_convert_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(FIXTURE), str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == f"wrote 11 files to {tmp_path / 'out'}\n"
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")
    assert main(["convert", str(broken), str(tmp_path / "nothing")]) == 1
    assert "must hold a JSON object" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "absent.json"), str(tmp_path)]) == 1
    assert not (tmp_path / "nothing").exists()


async def test_replay_serves_captures_over_http_and_https(replay_dir: Path) -> None:
    async with (
        ReplayGateway(replay_dir, port=0) as gateway,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as client,
    ):
        answers = {}
        for scheme, path, headers in (
            ("https", "/info", {}),
            ("http", "/info", {}),
            (
                "https",
                "/api/v1/production/inverters",
                {"Authorization": "Bearer x.y.z"},
            ),
            ("http", "/api/v1/production/inverters", {}),
            ("https", "/ivp/meters/readings", {"Authorization": "Bearer nonsense"}),
            ("https", "/production.json?details=1", {}),
            ("https", "/home.json", {}),
            ("https", "/ivp/ensemble/inventory", {}),
            ("https", "/ivp/livedata/status", {}),
        ):
            async with client.get(
                f"{scheme}://{gateway.address}{path}", headers=headers
            ) as response:
                answers[scheme, path] = (
                    response.status,
                    response.headers.get("Content-Type"),
                    "WWW-Authenticate" in response.headers,
                    await response.read(),
                )
        stats = gateway.stats()
    info = (replay_dir / "info").read_bytes()
    inverters = (replay_dir / "api_v1_production_inverters").read_bytes()
    assert answers == {
        ("https", "/info"): (200, None, False, info),
        ("http", "/info"): (200, None, False, info),
        ("https", "/api/v1/production/inverters"): (
            200,
            "application/json",
            False,
            inverters,
        ),
        ("http", "/api/v1/production/inverters"): (
            200,
            "application/json",
            False,
            inverters,
        ),
        ("https", "/ivp/meters/readings"): (
            200,
            None,
            False,
            (replay_dir / "ivp_meters_readings").read_bytes(),
        ),
        ("https", "/production.json?details=1"): (
            200,
            "application/json",
            False,
            (replay_dir / "production.json").read_bytes(),
        ),
        ("https", "/home.json"): (
            503,
            "application/json",
            False,
            b'{"error": "Service Unavailable"}',
        ),
        ("https", "/ivp/ensemble/inventory"): (401, None, False, b""),
        ("https", "/ivp/livedata/status"): (
            404,
            "application/json; charset=utf-8",
            False,
            b'{"error": "404 - Not Found"}',
        ),
    }
    assert stats["total_requests"] == 9
    assert stats["endpoints"]["/info"]["status"] == {"200": 2}
    assert stats["endpoints"]["/ivp/ensemble/inventory"]["status"] == {"401": 1}


async def test_replay_sidecar_headers_and_control_api(tmp_path: Path) -> None:
    (tmp_path / "production").write_text("<html><body>Currently 6.63 kW</body></html>")
    (tmp_path / "production.meta.json").write_text(
        json.dumps({"headers": {"Content-Type": "text/html", "X-Gateway": "replay"}})
    )
    (tmp_path / "ivp_meters").write_text("[]")
    (tmp_path / "ivp_meters.meta.json").write_text('{"status": "teapot"}')
    (tmp_path / ".hidden").write_text("not an endpoint")
    async with (
        ReplayGateway(tmp_path) as gateway,
        aiohttp.ClientSession() as client,
    ):
        async with client.get(f"http://{gateway.address}/production") as page:
            assert page.status == 200
            assert page.headers["Content-Type"] == "text/html"
            assert page.headers["X-Gateway"] == "replay"
            assert await page.text() == "<html><body>Currently 6.63 kW</body></html>"
        async with client.get(f"http://{gateway.address}/ivp/meters") as broken:
            assert broken.status == 500
            assert (
                "status must be an HTTP status code" in (await broken.json())["error"]
            )
        for hidden in ("/production.meta.json", "/", "/.hidden"):
            async with client.get(f"http://{gateway.address}{hidden}") as response:
                assert response.status == 404, hidden
        async with client.get(f"http://{gateway.address}/_sim/stats") as response:
            stats = await response.json()
        async with client.get(f"http://{gateway.address}/_sim/log?limit=1") as response:
            log = await response.json()
    assert stats["total_requests"] == 5
    assert stats["endpoints"]["/production"] == {
        "requests": 1,
        "status": {"200": 1},
        "busy_seconds": 0.0,
    }
    assert [entry["path"] for entry in log] == ["/.hidden"]


async def test_replay_command(
    replay_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = asyncio.Event()
    args = argparse.Namespace(replay=replay_dir, host="127.0.0.1", port=0)
    task = asyncio.create_task(run_replay(args, stop))
    output = ""
    async with asyncio.timeout(10):
        while "Press Ctrl-C" not in output:
            await asyncio.sleep(0.01)
            output += capsys.readouterr().out
    address = re.search(r"Home Assistant\): (\S+)", output)
    assert address is not None
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as client,
        client.get(f"https://{address.group(1)}/api/v1/production") as response,
    ):
        assert (await response.json())["wattHoursLifetime"] == 8123456
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert f"Envoy replay of {replay_dir}" in output


def test_replay_command_needs_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert simulator_main(["--replay", str(tmp_path / "absent")]) == 2
    assert "no capture directory" in capsys.readouterr().err
