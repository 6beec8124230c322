"""Replay a directory of captured gateway answers, and make one from a diagnostics download.

Directory format: one file per endpoint path, named after the path without its
leading slash and with every other ``/`` replaced by ``_`` (``/info`` ->
``info``, ``/ivp/meters/readings`` -> ``ivp_meters_readings``,
``/production.json`` -> ``production.json``); the query string is ignored.
An optional sidecar ``<file>.meta.json`` holds ``{"status": 200, "headers":
{"Content-Type": "application/json"}}`` (both keys optional). Without one the
answer is 200, with no Content-Type for /info and /ivp/* and
``application/json`` otherwise. A path without a file answers 404
``{"error": "404 - Not Found"}``.

The replayed gateway speaks HTTP and HTTPS on one port, accepts any Bearer
token or none and never asks for digest credentials; ``/_sim/stats``,
``/_sim/log`` and ``/_sim/reset_stats`` count its requests.

Commands:
    python -m envoy_simulator --replay DIR [--port N] [--host H]
    python -m envoy_simulator.replay convert DIAGNOSTICS.json OUTDIR
"""

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import sys
import time
from types import TracebackType
from typing import Any, Self

from aiohttp import hdrs, web

from .control import StatsControl, is_control
from .listeners import ListenerSet
from .profiles import NO_CONTENT_TYPE_PREFIXES
from .replies import NOT_FOUND_JSON, BareResponse
from .stats import RequestRecord, StatsBook

SIDECAR_SUFFIX = ".meta.json"
_REDACTED_SERIAL = re.compile(r"REDACTED_SERIAL_(\d+)")
_FAKE_SERIAL_PREFIX = "99"


def file_name(path: str) -> str:
    """Return the capture file name of endpoint ``path`` (its query string ignored)."""
    bare = path.split("?", 1)[0]
    return bare.removeprefix("/").replace("/", "_")


def fake_serial(number: int) -> str:
    """Return the 12-digit stand-in for pseudonymised serial ``number``."""
    return f"{_FAKE_SERIAL_PREFIX}{number:010d}"


def unredact(text: str) -> str:
    """Replace each ``REDACTED_SERIAL_<n>`` with its own fake 12-digit serial."""
    return _REDACTED_SERIAL.sub(lambda match: fake_serial(int(match.group(1))), text)


@dataclass(frozen=True, slots=True)
class Capture:
    """One captured answer read from the directory."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def read_capture(directory: Path, path: str) -> Capture | None:
    """Return the capture serving ``path``, None if there is none."""
    name = file_name(path)
    if not name or name.startswith(".") or name.endswith(SIDECAR_SUFFIX):
        return None
    target = directory / name
    if not target.is_file():
        return None
    status = 200
    headers: dict[str, str] = {}
    sidecar = directory / (name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        status, headers = _parse_sidecar(meta, sidecar)
    return Capture(status, target.read_bytes(), headers)


def _parse_sidecar(meta: object, where: Path) -> tuple[int, dict[str, str]]:
    """Return (status, headers) from a sidecar's JSON, or raise TypeError/ValueError."""
    if not isinstance(meta, dict):
        raise TypeError(f"{where}: a sidecar must be a JSON object")
    status = meta.get("status", 200)
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 100 <= status <= 599
    ):
        raise ValueError(f"{where}: status must be an HTTP status code")
    headers = meta.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(key, str) and isinstance(value, str)
        for key, value in headers.items()
    ):
        raise TypeError(f"{where}: headers must map names to text")
    return status, dict(headers)


class ReplayGateway:
    """Serve captured answers from a directory, like a gateway frozen in time."""

    def __init__(
        self, directory: str | Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Serve ``directory``; nothing listens until start()."""
        self.directory = Path(directory)
        self.host = host
        self.port = 0
        self._requested_port = port
        self._stats = StatsBook()
        self._control = StatsControl(self._stats)
        self._listeners = ListenerSet(host, lambda: True)
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        """Return ``host:port``, as a user would type it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def stats(self) -> dict[str, Any]:
        """Return per-endpoint request counts and statuses."""
        return self._stats.snapshot()

    async def __aenter__(self) -> Self:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()

    async def start(self) -> None:
        """Open the listener (HTTP and HTTPS on one port)."""
        if not self.directory.is_dir():
            raise FileNotFoundError(f"no capture directory {self.directory}")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await self._listeners.prepare(self._runner)
        try:
            self.port = self._listeners.listen(self._requested_port, "dual")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close the listener and every connection."""
        await self._listeners.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer from the capture for the request's path."""
        if is_control(request.path):
            return await self._control.handle(request)
        started = time.monotonic()
        try:
            capture = await asyncio.to_thread(
                read_capture, self.directory, request.path
            )
            response = _response(request.path, capture)
        except (OSError, TypeError, ValueError) as err:
            # A broken capture says so instead of looking like a gateway fault.
            response = web.json_response({"error": f"replay: {err}"}, status=500)
        self._stats.record(
            RequestRecord(
                time.time(),
                request.method,
                request.path,
                response.status,
                time.monotonic() - started,
            ),
            0.0,
        )
        return response


def _response(path: str, capture: Capture | None) -> web.Response:
    """Return the answer for ``capture`` (a JSON 404 when there is none)."""
    if capture is None:
        return web.json_response(NOT_FOUND_JSON, status=404)
    if any(name.lower() == hdrs.CONTENT_TYPE.lower() for name in capture.headers):
        return web.Response(
            body=capture.body, status=capture.status, headers=capture.headers
        )
    if path.startswith(NO_CONTENT_TYPE_PREFIXES):
        return BareResponse(
            body=capture.body, status=capture.status, headers=capture.headers
        )
    return web.Response(
        body=capture.body,
        status=capture.status,
        headers=capture.headers,
        content_type="application/json",
    )


def convert(diagnostics: Mapping[str, Any], directory: Path) -> list[Path]:
    """Write the raw answers of an integration diagnostics download into ``directory``.

    ``diagnostics`` is Home Assistant's download (``{"data": {...}, ...}``) or
    its bare ``data`` object. Pseudonymised serials become distinct fake ones;
    an endpoint whose last status was not 200 gets a sidecar with that status
    (endpoints counted but never captured get an empty body then). When a path
    was captured with and without a query string, the one with it is kept.
    Returns the files written.
    """
    data = diagnostics.get("data", diagnostics)
    if not isinstance(data, Mapping):
        raise TypeError("diagnostics 'data' must be an object")
    raw = data.get("raw_responses") or {}
    statistics = data.get("request_statistics") or {}
    if not isinstance(raw, Mapping) or not isinstance(statistics, Mapping):
        raise TypeError("raw_responses and request_statistics must be objects")
    if not raw and not statistics:
        raise ValueError("no raw_responses in these diagnostics")
    bodies: dict[str, tuple[str, str]] = {}
    for path, body in raw.items():
        if body is None:
            continue
        name = file_name(str(path))
        text = body if isinstance(body, str) else json.dumps(body)
        if name not in bodies or "?" in str(path):
            bodies[name] = (str(path), unredact(text))
    statuses: dict[str, int] = {}
    for path, numbers in statistics.items():
        status = numbers.get("last_status") if isinstance(numbers, Mapping) else None
        if isinstance(status, int) and not isinstance(status, bool) and status >= 100:
            statuses.setdefault(file_name(str(path)), status)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in sorted(set(bodies) | {n for n, s in statuses.items() if s != 200}):
        if not name or name.startswith("."):
            continue
        target = directory / name
        target.write_text(bodies.get(name, ("", ""))[1], encoding="utf-8")
        written.append(target)
        status = statuses.get(name, 200)
        if status != 200:
            sidecar = directory / (name + SIDECAR_SUFFIX)
            sidecar.write_text(json.dumps({"status": status}) + "\n", encoding="utf-8")
            written.append(sidecar)
    return written


def _object(document: object) -> Mapping[str, Any]:
    """Return ``document`` if it is a JSON object."""
    if not isinstance(document, dict):
        raise TypeError("the diagnostics file must hold a JSON object")
    return document


def build_parser() -> argparse.ArgumentParser:
    """Return the converter's command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m envoy_simulator.replay",
        description="Turn an Enphase Local diagnostics download into a replay directory "
        "(serve it with: python -m envoy_simulator --replay DIR).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    convert_command = commands.add_parser(
        "convert", help="write the raw answers of DIAGNOSTICS.json into OUTDIR"
    )
    convert_command.add_argument("diagnostics", type=Path, help="the diagnostics JSON")
    convert_command.add_argument("outdir", type=Path, help="the replay directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the converter; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        document = json.loads(args.diagnostics.read_text(encoding="utf-8"))
        written = convert(_object(document), args.outdir)
    except (OSError, TypeError, ValueError) as err:
        print(f"cannot convert {args.diagnostics}: {err}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"wrote {len(written)} files to {args.outdir}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
