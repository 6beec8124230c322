"""The request pipeline: outages, redirects, faults, latency, auth, then the answer."""

import asyncio
from dataclasses import replace
import json
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from .control import StatsControl, is_control
from .faults import ANY_ENDPOINT, Fault, FaultBook, FaultContext, moved_permanently
from .gatekeeper import Gatekeeper
from .listeners import abort, local_port
from .noise import stream_key, unit
from .profiles import Profile
from .replies import AbortConnectionError, Reply, json_reply, to_response
from .routes import (
    DEFAULT_LATENCY_S,
    INVALID_BODY,
    LATENCY_S,
    METHOD_NOT_ALLOWED_JSON,
    WriteRequest,
    missing,
    route,
)
from .stats import NO_RESPONSE, RequestRecord, StatsBook

if TYPE_CHECKING:
    from collections.abc import Callable

    from .server import EnvoySimulator

_HANG_POLL_S = 0.05
_DAILY_OUTAGE_START = (23, 1)
_DAILY_OUTAGE_RESET_MINUTES = 2
_DAILY_OUTAGE_MINUTES = 3
# Marks a request already counted, so a dropped delivery is not counted twice.
_RECORDED = "envoy_simulator.recorded"


class Pipeline:
    """Serve the gateway's requests for one simulator."""

    def __init__(
        self,
        sim: EnvoySimulator,
        *,
        faults: FaultBook,
        gate: Gatekeeper,
        stats: StatsBook,
        control: StatsControl,
        stopping: Callable[[], bool],
    ) -> None:
        """Serve ``sim`` with its faults, credentials, statistics and control API."""
        self._sim = sim
        self._faults = faults
        self._gate = gate
        self._stats = stats
        self._control = control
        self._stopping = stopping
        self._latency_key = stream_key(sim.seed, "latency")
        self._latency_draws = 0
        self._hanging: set[Fault] = set()
        # One request at a time, as the gateway's web server does.
        self.lock = asyncio.Lock()

    def release(self, endpoint: str | None) -> None:
        """Let go of held requests whose fault targets ``endpoint`` (None: all)."""
        # A hang whose count is used up has left the book but still holds requests.
        for fault in self._hanging:
            if endpoint is None or fault.endpoint == endpoint:
                fault.cleared = True

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request the way the gateway would."""
        if is_control(request.path):
            return await self._control.handle(request)
        started = asyncio.get_running_loop().time()
        try:
            return await self._pipeline(request, started)
        except AbortConnectionError:
            self._record(request, NO_RESPONSE, started, 0.0)
            abort(request)
            return web.Response(status=500)
        except asyncio.CancelledError:
            # The client gave up (a hang, or a timeout during latency): still count it.
            self._record(request, NO_RESPONSE, started, 0.0)
            raise

    async def _pipeline(
        self, request: web.Request, started: float
    ) -> web.StreamResponse:
        """Apply outages, redirects, faults, latency and auth, then answer."""
        sim = self._sim
        path = request.path
        now = sim.now()
        gateway = sim.profile
        outage = self._outage(path, now)
        if outage == "reset":
            raise AbortConnectionError
        if outage == "unavailable":
            return self._send(
                request,
                json_reply({"error": "Service Unavailable"}, status=503),
                started,
                0.0,
            )
        if gateway.web_tokens and not request.secure:
            # Firmware >= 7 sends plain HTTP to HTTPS, whatever the path.
            location = self._https_location(request)
            return self._send(request, moved_permanently(location), started, 0.0)
        if request.secure and not gateway.web_tokens:
            raise AbortConnectionError
        faults = self._faults.matching(path, now)
        for fault in faults:
            fault.hits += 1
        context = self._fault_context(request, gateway)
        answering = next((f for f in faults if f.handler.answer is not None), None)
        reply: Reply | None = None
        if answering is not None and answering.handler.answer is not None:
            reply = await answering.handler.answer(answering, context)
        busy = 0.0
        if reply is None:
            body = await request.read() if request.can_read_body else b""
            async with self.lock:
                busy = self._draw_latency(path) if sim.latency else 0.0
                if busy:
                    await asyncio.sleep(busy)
                reply = self._serve(request, sim.profile, sim.now(), faults, body)
            if reply.outage_s is not None:
                # The gateway crashed: this answer goes out, then it restarts.
                sim.inject(ANY_ENDPOINT, "outage", duration=reply.outage_s)
        delivering = next((f for f in faults if f.handler.deliver is not None), None)
        if delivering is None or delivering.handler.deliver is None:
            return self._send(request, reply, started, busy)
        # The status line goes out now, whatever happens to the body later.
        self._record(request, reply.status, started, busy)
        self._hanging.add(delivering)
        try:
            return await delivering.handler.deliver(delivering, reply, context)
        finally:
            self._hanging.discard(delivering)

    def _fault_context(self, request: web.Request, gateway: Profile) -> FaultContext:
        """Return what fault handlers may use for ``request``."""
        return FaultContext(
            request=request,
            gateway=gateway,
            digest_challenge=self._gate.digest.challenge,
            https_location=lambda: self._https_location(request),
            hold=self._hold,
            holding=self._holding,
        )

    def _send(
        self, request: web.Request, reply: Reply, started: float, busy: float
    ) -> web.StreamResponse:
        """Turn a Reply into an aiohttp response and count it."""
        self._record(request, reply.status, started, busy)
        return to_response(reply, secure=request.secure)

    def _record(
        self, request: web.Request, status: int, started: float, busy: float
    ) -> None:
        """Add the request to the log and the statistics (once)."""
        if request.get(_RECORDED):
            return
        request[_RECORDED] = True
        duration = asyncio.get_running_loop().time() - started
        self._stats.record(
            RequestRecord(
                self._sim.now(), request.method, request.path, status, duration
            ),
            busy,
        )

    def _https_location(self, request: web.BaseRequest) -> str:
        """Return the HTTPS URL a plain-HTTP request is sent to."""
        host = (
            request.host.rsplit(":", 1)[0]
            if not request.host.endswith("]")
            else request.host
        )
        sim = self._sim
        arrived_on = local_port(request)
        target_port = sim.port
        if arrived_on is not None and arrived_on == sim.http_port:
            target_port = sim.https_port if sim.https_port is not None else sim.port
        netloc = host if target_port == 443 else f"{host}:{target_port}"
        return f"https://{netloc}{request.path_qs}"

    def _outage(self, path: str, now: float) -> Literal["reset", "unavailable"] | None:
        """Return how an outage (upgrade, fault, 23:00 restart) affects this request."""
        if self._sim.upgrade_pending:
            return "reset"
        outages = [f for f in self._faults.matching(path, now) if f.handler.outage]
        if outages:
            for fault in outages:
                fault.hits += 1
            return "reset"
        if self._sim.daily_outage:
            local = self._sim.model.calendar.local_time(now)
            start_hour, start_minute = _DAILY_OUTAGE_START
            minutes = (local.hour - start_hour) * 60 + local.minute - start_minute
            if 0 <= minutes < _DAILY_OUTAGE_RESET_MINUTES:
                return "reset"
            if _DAILY_OUTAGE_RESET_MINUTES <= minutes < _DAILY_OUTAGE_MINUTES:
                return "unavailable"
        return None

    def _holding(self, fault: Fault) -> bool:
        """Return whether ``fault`` still holds requests (a spent count does not release)."""
        if self._stopping() or fault.cleared:
            return False
        ends_at = fault.ends_at
        return ends_at is None or self._sim.now() < ends_at

    async def _hold(self, fault: Fault, seconds: float | None) -> None:
        """Wait while ``fault`` holds, or for ``seconds`` real seconds at most."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds is not None else None
        self._hanging.add(fault)
        try:
            while self._holding(fault):
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return
                await asyncio.sleep(
                    _HANG_POLL_S if remaining is None else min(_HANG_POLL_S, remaining)
                )
        finally:
            self._hanging.discard(fault)
        if self._stopping():
            raise AbortConnectionError

    def _draw_latency(self, path: str) -> float:
        """Return this request's service time, skewed toward the fast end of the range."""
        low, high = LATENCY_S.get(path, DEFAULT_LATENCY_S)
        self._latency_draws += 1
        draw = unit(self._latency_key, self._latency_draws)
        return low + (high - low) * draw * draw

    def _serve(
        self,
        request: web.Request,
        gateway: Profile,
        now: float,
        faults: list[Fault],
        body: bytes,
    ) -> Reply:
        """Authenticate and build the endpoint's answer, applying payload faults."""
        found = route(request.path, gateway)
        if found is None:
            return missing(gateway)
        refused = self._gate.check(request, found, gateway, faults, now)
        if refused is not None:
            return refused
        method = request.method
        if found.methods and method not in found.methods:
            return json_reply(METHOD_NOT_ALLOWED_JSON, status=405)
        if found.write is not None and method != "GET":
            reply = found.write(
                self._sim.builder, now, _write_request(method, body, faults)
            )
            _transform_payload(reply, faults)
            for fault in faults:
                hook = fault.handler.body
                if hook is not None:
                    hook(fault, reply)
            return reply
        frozen_by = next((f for f in faults if f.handler.freezes), None)
        key = request.path_qs
        kept = frozen_by.frozen_replies.get(key) if frozen_by is not None else None
        if kept is not None:
            reply = replace(kept, headers=dict(kept.headers))
        else:
            reply = found.build(self._sim.builder, gateway, now, request)
            _transform_payload(reply, faults)
            if frozen_by is not None and reply.status == 200:
                frozen_by.frozen_replies[key] = replace(
                    reply, headers=dict(reply.headers)
                )
        for fault in faults:
            hook = fault.handler.body
            if hook is not None:
                hook(fault, reply)
        return reply

    async def cloud_intercept(self, request: web.Request) -> web.StreamResponse | None:
        """Count a cloud request and apply the answering faults injected on its path."""
        self._stats.record_cloud(request.path)
        faults = [
            f
            for f in self._faults.matching(request.path, self._sim.now())
            if f.endpoint != ANY_ENDPOINT
        ]
        for fault in faults:
            fault.hits += 1
        chosen = next(
            (f for f in faults if f.handler.outage or f.handler.answer is not None),
            None,
        )
        if chosen is None:
            return None
        answer = chosen.handler.answer
        try:
            reply = (
                await answer(chosen, self._fault_context(request, self._sim.profile))
                if answer is not None
                else _reset()
            )
        except AbortConnectionError:
            abort(request)
            return web.Response(status=500)
        if reply is None:
            return None
        return to_response(reply, secure=False)


def _transform_payload(reply: Reply, faults: list[Fault]) -> None:
    """Apply the payload faults to a JSON reply and write its body again if they did."""
    if reply.payload is None:
        return
    payload = reply.payload
    for fault in faults:
        hook = fault.handler.payload
        if hook is not None:
            payload = hook(fault, payload)
    renderer = next((f for f in faults if f.handler.render is not None), None)
    if renderer is not None and renderer.handler.render is not None:
        reply.body = renderer.handler.render(renderer, payload)
    elif payload is not reply.payload:
        reply.body = json.dumps(payload).encode()
    reply.payload = payload


def _write_request(method: str, body: bytes, faults: list[Fault]) -> WriteRequest:
    """Return what a write endpoint needs: the parsed body and any cloud re-push."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = INVALID_BODY
    overwrite = next((f for f in faults if f.handler.overwrites_tariff), None)
    delay = None
    if overwrite is not None:
        delay = float(overwrite.params.get("delay", 120.0))
    return WriteRequest(method, parsed, delay)


def _reset() -> Reply:
    """Reset the connection (an outage)."""
    raise AbortConnectionError
