"""The simulator's own HTTP control API under /_sim (plain HTTP or HTTPS, no auth)."""

from collections.abc import Awaitable, Callable, Mapping
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import INSTALLER_TOKEN_LIFETIME_S, OWNER_TOKEN_LIFETIME_S
from .clock import FakeClock
from .faults import ANY_ENDPOINT
from .profiles import get_profile
from .stats import StatsBook

if TYPE_CHECKING:
    from .server import EnvoySimulator

CONTROL_PREFIX = "/_sim"

type Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_control(path: str) -> bool:
    """Return whether ``path`` belongs to the control API."""
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


class StatsControl:
    """Serve request statistics: ``GET stats``, ``GET log?limit=N``, ``POST reset_stats``."""

    def __init__(self, stats: StatsBook) -> None:
        """Report ``stats``."""
        self._stats = stats
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "stats"): self._get_stats,
            ("GET", "log"): self._get_log,
            ("POST", "reset_stats"): self._reset_stats,
        }

    def add(self, method: str, route: str, handler: Route) -> None:
        """Serve ``method route`` with ``handler``."""
        self._routes[method, route] = handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one control request."""
        route = request.path[len(CONTROL_PREFIX) :].strip("/")
        handler = self._routes.get((request.method, route))
        if handler is None:
            handler = self._routes.get(("*", route))
        if handler is None:
            return web.json_response(
                {"error": f"no control endpoint {request.method} {request.path}"},
                status=404,
            )
        try:
            return await handler(request)
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"error": str(err)}, status=400)

    async def _get_stats(self, _request: web.Request) -> web.StreamResponse:
        """Return the statistics."""
        return web.json_response(self._stats.snapshot())

    async def _get_log(self, request: web.Request) -> web.StreamResponse:
        """Return the newest log records."""
        limit = request.query.get("limit")
        return web.json_response(self._stats.log_entries(int(limit) if limit else None))

    async def _reset_stats(self, _request: web.Request) -> web.StreamResponse:
        """Forget the statistics."""
        self._stats.reset()
        return web.json_response({"ok": True})


class SimulatorControl(StatsControl):
    """The full control API: faults, clock, tokens, upgrades and site changes."""

    def __init__(self, sim: EnvoySimulator, stats: StatsBook) -> None:
        """Control ``sim``."""
        super().__init__(stats)
        self._sim = sim
        for method, route, handler in (
            ("*", "fault", self._fault),
            ("POST", "upgrade", self._upgrade),
            ("GET", "token", self._token),
            ("POST", "clock", self._clock),
            ("POST", "inverter", self._inverter),
            ("POST", "inverters", self._inverters),
            ("POST", "meter", self._meter),
            ("POST", "grid", self._grid),
            ("*", "battery", self._battery),
            ("GET", "history", self._history),
            ("GET", "", self._info),
            ("GET", "info", self._info),
        ):
            self.add(method, route, handler)

    async def _fault(self, request: web.Request) -> web.StreamResponse:
        """Inject, list or clear faults."""
        sim = self._sim
        now = sim.now()
        if request.method == "GET":
            return web.json_response([f.as_dict(now) for f in sim.faults])
        if request.method == "DELETE":
            cleared = sim.clear_faults(request.query.get("endpoint"))
            return web.json_response({"cleared": cleared})
        if request.method == "POST":
            body = await json_body(request)
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError("params must be an object")
            count = body.get("count")
            duration = body.get("duration")
            fault = sim.inject(
                str(body.get("endpoint", ANY_ENDPOINT)),
                body["kind"],
                count=int(count) if count is not None else None,
                duration=float(duration) if duration is not None else None,
                **params,
            )
            return web.json_response(fault.as_dict(now))
        return web.json_response({"error": "method not allowed"}, status=405)

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        """Start a firmware upgrade."""
        body = await json_body(request)
        self._sim.upgrade_firmware(
            str(body["profile"]),
            outage_seconds=float(body.get("outage_seconds", 60.0)),
        )
        firmware = get_profile(str(body["profile"])).firmware
        return web.json_response({"ok": True, "firmware_after": firmware})

    async def _token(self, request: web.Request) -> web.StreamResponse:
        """Mint a token."""
        return web.json_response(self._mint(request.query))

    def _mint(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Return a token of the role and lifetime ``query`` asks for."""
        role = query.get("role", "owner")
        if role not in ("owner", "installer"):
            raise ValueError("role must be owner or installer")
        lifetime = query.get("lifetime")
        seconds = float(lifetime) if lifetime else None
        token = self._sim.mint_token(role=role, lifetime_seconds=seconds)
        if seconds is None:
            seconds = (
                OWNER_TOKEN_LIFETIME_S
                if role == "owner"
                else INSTALLER_TOKEN_LIFETIME_S
            )
        return {
            "token": token,
            "role": role,
            "expires_at": int(self._sim.now() + seconds),
        }

    async def _clock(self, request: web.Request) -> web.StreamResponse:
        """Move a FakeClock."""
        clock = self._sim.clock
        if not isinstance(clock, FakeClock):
            return web.json_response(
                {"error": "the simulator runs on the real clock"}, status=409
            )
        body = await json_body(request)
        if "advance" in body:
            clock.advance(float(body["advance"]))
        if "set" in body:
            clock.set(float(body["set"]))
        return web.json_response({"now": clock()})

    async def _inverter(self, request: web.Request) -> web.StreamResponse:
        """Silence or resume one inverter."""
        body = await json_body(request)
        serial = serial_text(body["serial"])
        action = body.get("action")
        if action == "silence":
            self._sim.silence_inverter(serial)
        elif action == "resume":
            self._sim.resume_inverter(serial)
        else:
            raise ValueError(f"action must be 'silence' or 'resume', not {action!r}")
        return web.json_response({"ok": True, "serial": serial, "action": action})

    async def _inverters(self, request: web.Request) -> web.StreamResponse:
        """Add inverters."""
        body = await json_body(request)
        serials = self._sim.add_inverters(body.get("count", 1))
        return web.json_response({"ok": True, "serials": serials})

    async def _meter(self, request: web.Request) -> web.StreamResponse:
        """Change one CT slot and describe it as it is now."""
        body = await json_body(request)
        measurement_type = body["measurement_type"]
        if not isinstance(measurement_type, str):
            raise TypeError("measurement_type must be a string")
        status = body.get("metering_status")
        if status is not None and not isinstance(status, str):
            raise TypeError("metering_status must be a string")
        self._sim.set_meter(
            measurement_type,
            enabled=body.get("enabled"),
            metering_status=status,
            status_flags=body.get("status_flags"),
        )
        meter = next(
            m
            for m in self._sim.profile.meters
            if m.measurement_type == measurement_type
        )
        return web.json_response(
            {
                "ok": True,
                "measurement_type": meter.measurement_type,
                "enabled": meter.enabled,
                "metering_status": meter.status,
                "status_flags": list(meter.status_flags),
            }
        )

    async def _grid(self, request: web.Request) -> web.StreamResponse:
        """Make the grid fail or come back."""
        body = await json_body(request)
        self._sim.set_grid(body["on"])
        return web.json_response({"ok": True, "grid_on": body["on"]})

    async def _battery(self, request: web.Request) -> web.StreamResponse:
        """Read the true battery energy, or change the storage settings."""
        sim = self._sim
        if request.method == "POST":
            body = await json_body(request)
            sim.set_battery_mode(
                body.get("mode"),
                reserve=body.get("reserve"),
                charge_from_grid=body.get("charge_from_grid"),
                very_low=body.get("very_low"),
            )
        elif request.method != "GET":
            return web.json_response({"error": "method not allowed"}, status=405)
        return web.json_response(sim.true_battery_energy())

    async def _history(self, request: web.Request) -> web.StreamResponse:
        """Return the site's counters at the start of each of the last hours."""
        hours = int(request.query.get("hours", "168"))
        return web.json_response(
            [counters.as_dict() for counters in self._sim.hourly_history(hours)]
        )

    async def _info(self, _request: web.Request) -> web.StreamResponse:
        """Describe what the simulator is playing."""
        sim = self._sim
        gateway = sim.profile
        now = sim.now()
        return web.json_response(
            {
                "profile": gateway.name,
                "serial": sim.serial,
                "part_number": sim.part_number,
                "firmware": gateway.firmware,
                "address": sim.address,
                "cloud_url": sim.cloud_url if sim.cloud_port is not None else None,
                "now": now,
                "upgrade_pending": sim.upgrade_pending,
                "latency": sim.latency,
                "daily_outage": sim.daily_outage,
                "silenced_inverters": sim.model.silenced(now),
                "added_inverters": sim.model.added(now),
                "grid_on": sim.model.grid_on(now),
                "history_start": sim.history_start,
            }
        )


def serial_text(serial: object) -> str:
    """Return an inverter serial given as text or a number."""
    if isinstance(serial, bool) or not isinstance(serial, str | int):
        raise TypeError(f"serial must be text, not {serial!r}")
    return str(serial)


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object body."""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as err:
        raise ValueError("body must be JSON") from err
    if not isinstance(body, dict):
        raise TypeError("body must be a JSON object")
    return body
