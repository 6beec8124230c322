"""The simulated gateway: listeners, request pipeline, faults and control API."""

import asyncio
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
import json
import logging
import socket
import ssl
import struct
from types import TracebackType
from typing import Any, Literal, Self, cast

from aiohttp import hdrs, web

from .auth import (
    INSTALLER_TOKEN_LIFETIME_S,
    OWNER_TOKEN_LIFETIME_S,
    DigestAuthenticator,
    SessionStore,
    TokenAuthority,
    TokenClaims,
    TokenError,
    envoy_password,
    installer_password,
)
from .clock import Clock, FakeClock, SystemClock
from .cloud import CloudAccount, CloudHooks, FakeCloud, TokenFormat, default_accounts
from .faults import ANY_ENDPOINT, RESPONSE_KINDS, Fault, FaultBook, FaultKind
from .model import SiteModel
from .noise import stream_key, unit
from .payloads import Json, PayloadBuilder, zero_active_counts, zero_counters
from .profiles import (
    METERING_STATUSES,
    NO_CONTENT_TYPE_PREFIXES,
    PROFILES,
    MeteringStatus,
    MeterSpec,
    Profile,
    get_profile,
)
from .stats import NO_RESPONSE, RequestRecord, StatsBook
from .tls import server_context

_LOGGER = logging.getLogger(__package__)

CONTROL_PREFIX = "/_sim"
_TLS_HANDSHAKE_BYTE = 0x16
_FIRST_BYTE_TIMEOUT_S = 30.0
_HANG_POLL_S = 0.05
_LATENCY_S: dict[str, tuple[float, float]] = {
    "/info": (0.02, 0.3),
    "/api/v1/production": (0.04, 0.4),
    "/api/v1/production/inverters": (0.03, 0.3),
    "/ivp/meters": (0.07, 0.3),
    "/ivp/meters/readings": (0.08, 0.3),
    "/ivp/pdm/device_data": (0.05, 0.35),
    "/production.json": (0.7, 5.4),
    "/production": (3.0, 11.0),
    "/inventory.json": (2.0, 9.0),
    "/home.json": (2.0, 9.0),
    "/auth/check_jwt": (0.05, 0.2),
}
_DEFAULT_LATENCY_S = (0.02, 0.1)
_DIGEST_PATHS = ("/api/v1/production/inverters", "/production")
_DAILY_OUTAGE_START = (23, 1)
_DAILY_OUTAGE_RESET_MINUTES = 2
_DAILY_OUTAGE_MINUTES = 3
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Envoy</title></head>"
    "<body><h1>Envoy</h1><p>Please wait while the gateway starts.</p></body></html>\n"
)
_CHECK_JWT_PAGE = "<!DOCTYPE html><h2>Valid token.</h2>"

type ListenerMode = Literal["dual", "http", "https"]


class _BareResponse(web.Response):
    """A response sent without any Content-Type header, like /info and /ivp/* on the gateway."""

    async def _write_headers(self) -> None:
        """Drop the Content-Type aiohttp adds by default, then write the headers."""
        self.headers.popall(hdrs.CONTENT_TYPE, None)
        await super()._write_headers()


@dataclass(slots=True)
class Reply:
    """A response the pipeline decided on, before it is sent."""

    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    payload: Json = None
    close: bool = False


def _json_reply(
    payload: Json, *, status: int = 200, content_type: str | None = "application/json"
) -> Reply:
    """Return a JSON reply that keeps its payload for later transforms."""
    return Reply(status, json.dumps(payload).encode(), content_type, payload=payload)


def _text_reply(
    text: str, *, status: int = 200, content_type: str | None = "text/html"
) -> Reply:
    """Return a text reply."""
    return Reply(status, text.encode(), content_type)


@dataclass(slots=True)
class _Listener:
    """A listening socket and its accept loop."""

    sock: socket.socket
    mode: ListenerMode
    port: int
    task: asyncio.Task[None] | None = None


class _AbortConnectionError(Exception):
    """The pipeline reset the connection instead of answering."""


class EnvoySimulator:
    """A fake Enphase Envoy / IQ Gateway served over real sockets."""

    def __init__(
        self,
        profile: str | Profile = "metered_split",
        *,
        clock: Clock | None = None,
        latency: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int | None = None,
        https_port: int | None = None,
        cloud_port: int | None = 0,
        seed: int = 1,
        daily_outage: bool = False,
    ) -> None:
        """Prepare a gateway playing ``profile``; nothing listens until start()."""
        hardware = get_profile(profile) if isinstance(profile, str) else profile
        self._hardware = hardware
        self._gateway = hardware
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.latency = latency
        self.daily_outage = daily_outage
        self.host = host
        self.seed = seed
        self.serial = hardware.serial
        self.part_number = hardware.part_number
        self._requested_ports = (port, http_port, https_port, cloud_port)
        self._tokens = TokenAuthority(seed)
        self._digest = DigestAuthenticator(hardware.serial)
        self._sessions = SessionStore()
        self._faults = FaultBook()
        self._stats = StatsBook()
        self.cloud_accounts: dict[str, CloudAccount] = default_accounts()
        self._model: SiteModel | None = None
        self._builder: PayloadBuilder | None = None
        self._pending_upgrade: tuple[Profile, float] | None = None
        self._latency_key = stream_key(seed, "latency")
        self._latency_draws = 0
        self._lock: asyncio.Lock | None = None
        self._runner: web.AppRunner | None = None
        self._cloud_runner: web.AppRunner | None = None
        self._cloud: FakeCloud | None = None
        self._listeners: list[_Listener] = []
        self._connection_tasks: set[asyncio.Task[None]] = set()
        self._hanging: set[Fault] = set()
        self._transports: set[asyncio.Transport] = set()
        self._ssl_context: ssl.SSLContext | None = None
        self._stopping = False
        self._started = False
        self.port = 0
        self.http_port: int | None = None
        self.https_port: int | None = None
        self.cloud_port: int | None = None

    # -- identity -----------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """Return the gateway as it is now: its hardware running its current firmware."""
        self._apply_due_upgrade(self.now())
        return self._gateway

    @property
    def firmware(self) -> str:
        """Return the current firmware version (no letter prefix)."""
        return self.profile.firmware

    @property
    def address(self) -> str:
        """Return ``host:port`` of the main listener, as a user would type it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def cloud_url(self) -> str:
        """Return the fake cloud's base URL."""
        if self.cloud_port is None:
            raise RuntimeError(
                "the fake cloud is not running (cloud_port=None or not started)"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.cloud_port}"

    @property
    def login_url(self) -> str:
        """Return the fake Enlighten login URL."""
        return f"{self.cloud_url}/login/login.json"

    @property
    def tokens_url(self) -> str:
        """Return the fake Entrez token URL."""
        return f"{self.cloud_url}/tokens"

    @property
    def envoy_password(self) -> str:
        """Return the ``envoy`` user's digest password."""
        return envoy_password(self.serial)

    @property
    def installer_password(self) -> str:
        """Return the ``installer`` user's digest password."""
        return installer_password(self.serial)

    @property
    def model(self) -> SiteModel:
        """Return the site physics model (created on first use)."""
        if self._model is None:
            self._model = SiteModel(self._hardware, self.seed, self.now())
            self._builder = PayloadBuilder(self._model, self.serial)
        return self._model

    @property
    def builder(self) -> PayloadBuilder:
        """Return the payload builder."""
        self.model  # noqa: B018 - creates the builder with the model
        assert self._builder is not None
        return self._builder

    @property
    def clock(self) -> Clock:
        """Return the clock the simulator reads."""
        return self._clock

    def now(self) -> float:
        """Return the simulator clock's reading (epoch seconds)."""
        return self._clock()

    # -- lifecycle ----------------------------------------------------------

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
        """Open the listeners and the fake cloud."""
        if self._started:
            raise RuntimeError("simulator already started")
        self._started = True
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._ssl_context = await _shared_ssl_context(loop)
        self.model  # noqa: B018 - build the site before the first request arrives
        self._lock = asyncio.Lock()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        port, http_port, https_port, cloud_port = self._requested_ports
        try:
            main = self._listen(port, "dual")
            self.port = main.port
            if http_port is not None:
                self.http_port = self._listen(http_port, "http").port
            if https_port is not None:
                self.https_port = self._listen(https_port, "https").port
            if cloud_port is not None:
                self.cloud_port = await self._start_cloud(cloud_port)
        except BaseException:
            await self.stop()
            raise

    def _listen(self, port: int, mode: ListenerMode) -> _Listener:
        """Bind a listening socket and start accepting on it."""
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        listener = _Listener(sock=sock, mode=mode, port=sock.getsockname()[1])
        listener.task = asyncio.get_running_loop().create_task(
            self._accept_loop(listener), name=f"envoy-simulator-accept-{listener.port}"
        )
        self._listeners.append(listener)
        return listener

    async def _start_cloud(self, port: int) -> int:
        """Start the fake Enlighten/Entrez service and return its port."""
        hooks = CloudHooks(
            mint=lambda serial, username: self.mint_token(
                serial=serial, username=username
            ),
            known_serials=self._known_serials,
            now=self.now,
            intercept=self._cloud_intercept,
        )
        cloud = FakeCloud(self.cloud_accounts, hooks)
        self._cloud = cloud
        runner = web.AppRunner(
            cloud.application(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._cloud_runner = runner
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every listener, connection and background task."""
        self._stopping = True
        for listener in self._listeners:
            if listener.task is not None:
                listener.task.cancel()
        for listener in self._listeners:
            if listener.task is not None:
                with suppress(asyncio.CancelledError):
                    await listener.task
            listener.sock.close()
        self._listeners.clear()
        pending = list(self._connection_tasks)
        for task in pending:
            task.cancel()
        for task in pending:
            with suppress(asyncio.CancelledError):
                await task
        for transport in list(self._transports):
            # abort() rather than close(): no TLS close_notify wait, no timers left.
            transport.abort()
        self._transports.clear()
        for _ in range(3):
            await asyncio.sleep(0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._cloud_runner is not None:
            await self._cloud_runner.cleanup()
            self._cloud_runner = None
        self._started = False

    # -- accepting ----------------------------------------------------------

    async def _accept_loop(self, listener: _Listener) -> None:
        """Accept connections and hand each to its own task."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener.sock)
            except OSError as err:
                if self._stopping:
                    return
                _LOGGER.debug("accept failed on port %s: %s", listener.port, err)
                await asyncio.sleep(0.01)
                continue
            conn.setblocking(False)
            task = loop.create_task(self._serve_socket(conn, listener))
            self._connection_tasks.add(task)
            task.add_done_callback(self._connection_tasks.discard)

    async def _serve_socket(self, conn: socket.socket, listener: _Listener) -> None:
        """Decide between TLS and plain HTTP for one connection and start serving it."""
        loop = asyncio.get_running_loop()
        try:
            if listener.mode == "dual":
                first = await _peek_first_byte(loop, conn)
                if first is None:
                    conn.close()
                    return
                use_tls = first == _TLS_HANDSHAKE_BYTE
            else:
                use_tls = listener.mode == "https"
            if use_tls and not self.profile.web_tokens:
                # Firmware < 7 serves no TLS: clients trying HTTPS must fall back.
                conn.close()
                return
            server = self._runner.server if self._runner is not None else None
            if server is None:
                conn.close()
                return
            transport, _ = await loop.connect_accepted_socket(
                server,
                conn,
                ssl=self._ssl_context if use_tls else None,
                ssl_handshake_timeout=10.0 if use_tls else None,
            )
        except asyncio.CancelledError:
            conn.close()
            raise
        except (OSError, ssl.SSLError, TimeoutError) as err:
            _LOGGER.debug("connection dropped before HTTP: %s", err)
            conn.close()
            return
        self._transports = {t for t in self._transports if not t.is_closing()}
        self._transports.add(transport)

    # -- request pipeline ---------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request the way the gateway would."""
        if request.path == CONTROL_PREFIX or request.path.startswith(
            CONTROL_PREFIX + "/"
        ):
            return await self._control(request)
        started = asyncio.get_running_loop().time()
        try:
            return await self._pipeline(request, started)
        except _AbortConnectionError:
            self._record(request, NO_RESPONSE, started, 0.0)
            _abort(request)
            return web.Response(status=500)
        except asyncio.CancelledError:
            # The client gave up (a hang, or a timeout during latency): still count it.
            self._record(request, NO_RESPONSE, started, 0.0)
            raise

    async def _pipeline(
        self, request: web.Request, started: float
    ) -> web.StreamResponse:
        """Apply outages, redirects, faults, latency and auth, then answer."""
        path = request.path
        now = self.now()
        self._apply_due_upgrade(now)
        gateway = self._gateway
        outage = self._outage(path, now)
        if outage == "reset":
            raise _AbortConnectionError
        if outage == "unavailable":
            return self._send(
                request,
                _json_reply({"error": "Service Unavailable"}, status=503),
                started,
                0.0,
            )
        if gateway.web_tokens and not request.secure:
            return self._send(request, self._redirect(request), started, 0.0)
        if request.secure and not gateway.web_tokens:
            raise _AbortConnectionError
        faults = self._faults.matching(path, now)
        for fault in faults:
            fault.hits += 1
        response_fault = next((f for f in faults if f.kind in RESPONSE_KINDS), None)
        if response_fault is not None:
            if response_fault.kind == "hang":
                await self._hang(response_fault)
            else:
                return self._send(
                    request, self._fault_reply(response_fault), started, 0.0
                )
        assert self._lock is not None
        async with self._lock:
            busy = self._draw_latency(path) if self.latency else 0.0
            if busy:
                await asyncio.sleep(busy)
            reply = self._serve(request, path, self._gateway, self.now(), faults)
        return self._send(request, reply, started, busy)

    def _send(
        self, request: web.Request, reply: Reply, started: float, busy: float
    ) -> web.StreamResponse:
        """Turn a Reply into an aiohttp response and count it."""
        response: web.Response
        if reply.content_type is None:
            response = _BareResponse(
                body=reply.body, status=reply.status, headers=reply.headers
            )
        else:
            response = web.Response(
                body=reply.body,
                status=reply.status,
                headers=reply.headers,
                content_type=reply.content_type,
            )
        for name, value in reply.cookies.items():
            response.set_cookie(
                name, value, path="/", httponly=True, secure=request.secure
            )
        if reply.close:
            response.force_close()
        self._record(request, reply.status, started, busy)
        return response

    def _record(
        self, request: web.Request, status: int, started: float, busy: float
    ) -> None:
        """Add the request to the log and the statistics."""
        duration = asyncio.get_running_loop().time() - started
        self._stats.record(
            RequestRecord(self.now(), request.method, request.path, status, duration),
            busy,
        )

    def _redirect(self, request: web.Request) -> Reply:
        """Send plain HTTP to HTTPS, as firmware >= 7 does for every path."""
        host = (
            request.host.rsplit(":", 1)[0]
            if not request.host.endswith("]")
            else request.host
        )
        local_port = _local_port(request)
        target_port = self.port
        if local_port is not None and local_port == self.http_port:
            target_port = self.https_port if self.https_port is not None else self.port
        netloc = host if target_port == 443 else f"{host}:{target_port}"
        location = f"https://{netloc}{request.path_qs}"
        reply = _text_reply(
            f"<html><head><title>301 Moved Permanently</title></head><body>"
            f'<h1>301 Moved Permanently</h1><a href="{location}">{location}</a></body></html>',
            status=301,
        )
        reply.headers["Location"] = location
        return reply

    def _outage(self, path: str, now: float) -> Literal["reset", "unavailable"] | None:
        """Return how an outage (upgrade, fault, 23:00 restart) affects this request."""
        if self._pending_upgrade is not None:
            return "reset"
        outages = [f for f in self._faults.matching(path, now) if f.kind == "outage"]
        if outages:
            for fault in outages:
                fault.hits += 1
            return "reset"
        if self.daily_outage:
            local = self.model.calendar.local_time(now)
            start_hour, start_minute = _DAILY_OUTAGE_START
            minutes = (local.hour - start_hour) * 60 + local.minute - start_minute
            if 0 <= minutes < _DAILY_OUTAGE_RESET_MINUTES:
                return "reset"
            if _DAILY_OUTAGE_RESET_MINUTES <= minutes < _DAILY_OUTAGE_MINUTES:
                return "unavailable"
        return None

    async def _hang(self, fault: Fault) -> None:
        """Hold the request until the fault ends (or for ``params['seconds']`` real seconds)."""
        seconds = fault.params.get("seconds")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(seconds) if seconds is not None else None
        self._hanging.add(fault)
        try:
            while not self._stopping and not fault.cleared:
                if deadline is not None and loop.time() >= deadline:
                    return
                ends_at = fault.ends_at
                if ends_at is not None and self.now() >= ends_at:
                    return
                await asyncio.sleep(_HANG_POLL_S)
        finally:
            self._hanging.discard(fault)
        if self._stopping:
            raise _AbortConnectionError

    def _fault_reply(self, fault: Fault) -> Reply:
        """Return the answer a response-replacing fault gives."""
        kind = fault.kind
        if kind == "reset":
            raise _AbortConnectionError
        if kind == "http_500":
            return _text_reply(
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
                status=500,
            )
        if kind == "http_503":
            return _json_reply({"error": "Service Unavailable"}, status=503)
        if kind == "html_page":
            return _text_reply(_HTML_PAGE)
        if kind == "error_json":
            message = str(
                fault.params.get("message", "Internal error, please try again")
            )
            return _json_reply({"error": message})
        return _json_reply({"error": "404 - Not Found"}, status=404)

    def _draw_latency(self, path: str) -> float:
        """Return this request's service time, skewed toward the fast end of the range."""
        low, high = _LATENCY_S.get(path, _DEFAULT_LATENCY_S)
        self._latency_draws += 1
        draw = unit(self._latency_key, self._latency_draws)
        return low + (high - low) * draw * draw

    def _serve(
        self,
        request: web.Request,
        path: str,
        gateway: Profile,
        now: float,
        faults: list[Fault],
    ) -> Reply:
        """Authenticate and build the endpoint's answer, applying payload faults."""
        builder = self._endpoint(path, gateway)
        if builder is None:
            status = gateway.missing_endpoint_status
            if status == 401:
                return _json_reply({"error": "401 - Unauthorized"}, status=401)
            return _json_reply({"error": "404 - Not Found"}, status=404)
        if gateway.web_tokens:
            if path != "/info":
                claims_or_reply = self._check_jwt(request, path, faults, now)
                if isinstance(claims_or_reply, Reply):
                    return claims_or_reply
                if path == "/auth/check_jwt":
                    if claims_or_reply is None:
                        return _json_reply(
                            {"error": "Bearer token required"}, status=401
                        )
                    reply = _text_reply(_CHECK_JWT_PAGE)
                    reply.cookies["sessionId"] = self._sessions.create(
                        claims_or_reply, now
                    )
                    return reply
        elif path in _DIGEST_PATHS or path.startswith("/ivp/"):
            denied = any(f.kind == "token_revoked" for f in faults)
            user = self._digest.verify(
                request.headers.get(hdrs.AUTHORIZATION),
                request.method,
                request.raw_path,
            )
            if user is None or denied:
                reply = _text_reply(
                    "<html><body><h1>401 Unauthorized</h1></body></html>", status=401
                )
                reply.headers["WWW-Authenticate"] = self._digest.challenge()
                # Envoy-R drops the connection during digest auth; clients must reconnect.
                reply.close = gateway.major < 4
                return reply
        frozen_by = next((f for f in faults if f.kind == "stale"), None)
        cache_key = request.path_qs
        if frozen_by is not None and cache_key in frozen_by.frozen_bodies:
            body = frozen_by.frozen_bodies[cache_key]
            reply = Reply(200, body, _content_type(path, gateway))
        else:
            reply = builder(now, request)
            if reply.payload is not None:
                payload = reply.payload
                for fault in faults:
                    if fault.kind == "zero_glitch":
                        keys = fault.params.get("keys")
                        payload = (
                            zero_counters(payload, frozenset(keys))
                            if keys
                            else zero_counters(payload)
                        )
                    elif fault.kind == "active_count_zero":
                        payload = zero_active_counts(payload)
                if payload is not reply.payload:
                    reply.body = json.dumps(payload).encode()
            if frozen_by is not None and reply.status == 200:
                frozen_by.frozen_bodies[cache_key] = reply.body
        if any(f.kind == "malformed_json" for f in faults):
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        return reply

    def _check_jwt(
        self, request: web.Request, path: str, faults: list[Fault], now: float
    ) -> TokenClaims | Reply | None:
        """Return the verified claims, None for a live session cookie, or a 401 reply."""
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, token = header.partition(" ")
        revoked: set[str] = set()
        for fault in faults:
            if fault.kind == "token_revoked":
                revoked |= fault.revoked_token_ids
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = self._tokens.verify(token.strip(), serial=self.serial, now=now)
            except TokenError as err:
                return _json_reply({"error": f"Unauthorized: {err}"}, status=401)
            if claims.token_id in revoked:
                return _json_reply({"error": "Unauthorized: token revoked"}, status=401)
            return claims
        session_id = request.cookies.get("sessionId")
        if (
            path != "/auth/check_jwt"
            and session_id
            and not revoked
            and self._sessions.check(session_id, now, self._tokens)
        ):
            return None
        return _json_reply({"error": "Unauthorized: no valid token"}, status=401)

    def _endpoint(
        self, path: str, gateway: Profile
    ) -> Callable[[float, web.Request], Reply] | None:
        """Return the body builder for ``path`` on this firmware, or None if it is absent."""
        builder = self.builder
        bare = None
        if path == "/info":
            return lambda now, _: _text_reply(
                builder.info_xml(gateway, now), content_type=bare
            )
        if path == "/api/v1/production":
            return lambda now, _: _json_reply(builder.production_v1(gateway, now))
        if path == "/api/v1/production/inverters":
            return lambda now, _: _json_reply(builder.inverters_v1(gateway, now))
        if path == "/ivp/meters" and gateway.has_meters_endpoint:
            return lambda now, _: _json_reply(
                builder.meters(gateway), content_type=bare
            )
        if path == "/ivp/meters/readings" and gateway.has_meters_endpoint:
            return lambda now, _: _json_reply(
                builder.meter_readings(now), content_type=bare
            )
        if path == "/ivp/pdm/device_data" and gateway.has_device_data:
            return lambda now, _: _json_reply(
                builder.device_data(now), content_type=bare
            )
        if path == "/production.json":
            if gateway.production_json_is_html:
                return lambda now, _: _text_reply(builder.production_page_html(now))
            return lambda now, request: _json_reply(
                builder.production_json(
                    now, details=request.query.get("details") == "1"
                )
            )
        if path == "/production":
            if gateway.production_json_is_html:
                return lambda now, _: _text_reply(builder.production_page_html(now))
            return lambda now, _: _json_reply(
                builder.production_json(now, details=False)
            )
        if path == "/inventory.json":
            return lambda now, _: _json_reply(builder.inventory(gateway, now))
        if path == "/home.json":
            return lambda now, _: _json_reply(builder.home(gateway, now))
        if path == "/auth/check_jwt" and gateway.web_tokens:
            return lambda now, _: _text_reply(_CHECK_JWT_PAGE)
        return None

    # -- tokens -------------------------------------------------------------

    def mint_token(
        self,
        role: str = "owner",
        lifetime_seconds: float | None = None,
        serial: str | None = None,
        username: str = "owner@example.com",
    ) -> str:
        """Return an ES256 JWT this gateway (and any with ``serial``) accepts."""
        if lifetime_seconds is None:
            lifetime_seconds = (
                OWNER_TOKEN_LIFETIME_S
                if role == "owner"
                else INSTALLER_TOKEN_LIFETIME_S
            )
        return self._tokens.mint(
            serial=serial if serial is not None else self.serial,
            role=role,
            username=username,
            issued_at=self.now(),
            lifetime_s=lifetime_seconds,
        )

    def revoke_token(self, token: str) -> None:
        """Make the gateway refuse ``token`` from now on."""
        self._tokens.revoke(token)

    def revoke_all_tokens(self) -> None:
        """Make the gateway refuse every token issued so far (and drop sessions)."""
        self._tokens.revoke_all(self.now())
        self._sessions.clear()

    # -- cloud --------------------------------------------------------------

    def add_cloud_account(
        self,
        email: str,
        password: str,
        *,
        mfa: bool = False,
        token_format: TokenFormat = "raw",  # noqa: S107 - a format name
    ) -> CloudAccount:
        """Add (or replace) an Enlighten account on the fake cloud."""
        account = CloudAccount(email, password, mfa=mfa, token_format=token_format)
        self.cloud_accounts[email] = account
        return account

    def _known_serials(self) -> set[str]:
        """Return every serial the fake cloud will mint tokens for."""
        return {profile.serial for profile in PROFILES.values()} | {self.serial}

    async def _cloud_intercept(self, request: web.Request) -> web.StreamResponse | None:
        """Count a cloud request and apply faults injected on its path."""
        self._stats.record_cloud(request.path)
        now = self.now()
        faults = [
            f
            for f in self._faults.matching(request.path, now)
            if f.endpoint != ANY_ENDPOINT
        ]
        for fault in faults:
            fault.hits += 1
        chosen = next(
            (f for f in faults if f.kind in RESPONSE_KINDS or f.kind == "outage"), None
        )
        if chosen is None:
            return None
        try:
            reply = await self._cloud_fault_reply(chosen)
        except _AbortConnectionError:
            _abort(request)
            return web.Response(status=500)
        if reply is None:
            return None
        return web.Response(
            body=reply.body, status=reply.status, content_type=reply.content_type
        )

    async def _cloud_fault_reply(self, fault: Fault) -> Reply | None:
        """Return the cloud's answer under ``fault`` (None: answer normally after a hang)."""
        if fault.kind == "hang":
            await self._hang(fault)
            return None
        if fault.kind == "outage":
            raise _AbortConnectionError
        return self._fault_reply(fault)

    # -- faults -------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        kind: FaultKind,
        *,
        count: int | None = None,
        duration: float | None = None,
        **params: Any,
    ) -> Fault:
        """Inject a fault on ``endpoint`` (a path, or "*" for every gateway endpoint)."""
        if endpoint != ANY_ENDPOINT and not endpoint.startswith("/"):
            raise ValueError(f"endpoint must be a path or '*', not {endpoint!r}")
        now = self.now()
        fault = Fault(
            endpoint=endpoint,
            kind=kind,
            count=count,
            duration=duration,
            params=dict(params),
            started_at=now,
        )
        if kind == "counter_wrap":
            serial = params.get("serial", "all")
            serials = None if serial in (None, "all") else {str(serial)}
            mode = params.get("mode", "next")
            if mode not in ("next", "immediate"):
                raise ValueError("counter_wrap mode must be 'next' or 'immediate'")
            moved = self.model.push_to_wrap(serials, now, immediate=mode == "immediate")
            if not moved:
                raise ValueError(f"no inverter with serial {serial!r}")
            # A wrap is a state change, not an ongoing fault: record it as spent.
            fault.params["serials"] = moved
            fault.count = 1
            fault.hits = 1
            return fault
        if kind == "token_revoked":
            fault.revoked_token_ids = frozenset(self._tokens.minted)
        return self._faults.add(fault)

    def clear_faults(self, endpoint: str | None = None) -> int:
        """Clear injected faults (all, or those for ``endpoint``); return how many."""
        # A hang whose count is used up has left the book but still holds requests.
        for fault in self._hanging:
            if endpoint is None or fault.endpoint == endpoint:
                fault.cleared = True
        return self._faults.clear(endpoint)

    @property
    def faults(self) -> list[Fault]:
        """Return the active faults."""
        return self._faults.active(self.now())

    # -- firmware upgrade ---------------------------------------------------

    def upgrade_firmware(
        self, profile_name: str, *, outage_seconds: float = 60.0
    ) -> None:
        """Install ``profile_name``'s firmware: an outage, then new firmware, same hardware."""
        target = get_profile(profile_name)
        self._pending_upgrade = (
            self._hardware.with_firmware(target),
            self.now() + outage_seconds,
        )
        self._apply_due_upgrade(self.now())

    def _apply_due_upgrade(self, now: float) -> None:
        """Finish a pending upgrade once its outage is over."""
        pending = self._pending_upgrade
        if pending is None or now < pending[1]:
            return
        self._pending_upgrade = None
        self._gateway = pending[0]
        # The gateway restarted: sessions are gone, counters carry on.
        self._sessions.clear()

    # -- site changes -------------------------------------------------------

    def silence_inverter(self, serial: str) -> None:
        """Make inverter ``serial`` stop producing and reporting from now on.

        Its last report stays in every payload and its energy stops counting
        (in its own counters and in the site's) until it is resumed.
        """
        self.model.silence(_serial(serial), self.now())

    def resume_inverter(self, serial: str) -> None:
        """Make a silenced inverter produce again; it reports at its next 5-minute slot."""
        self.model.resume(_serial(serial), self.now())

    def add_inverters(self, count: int = 1) -> list[str]:
        """Add ``count`` new microinverters to the site now; return their serials.

        Serials continue the profile's range after the present and removed
        inverters. A new inverter reports (0 W) as it joins, then on its own
        5-minute slot, and the production meters include it from now on.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count must be an integer, not {count!r}")
        return [spec.serial for spec in self.model.add_inverters(count, self.now())]

    def set_meter(
        self,
        measurement_type: str,
        *,
        enabled: bool | None = None,
        metering_status: str | None = None,
        status_flags: list[str] | None = None,
    ) -> None:
        """Change the CT slot measuring ``measurement_type`` now.

        ``enabled`` switches the CT on or off (/ivp/meters ``state``; a
        disabled CT leaves /ivp/meters/readings and production.json, and the
        gateway falls back as it does without that CT). ``metering_status``
        ("normal", "not-metering", "check-wiring") and ``status_flags`` are
        what /ivp/meters reports; switching ``enabled`` without a status
        resets the status to the usual one for the new state.
        """
        hardware = self._hardware
        slot = next(
            (
                index
                for index, meter in enumerate(hardware.meters)
                if meter.measurement_type == measurement_type
            ),
            None,
        )
        if slot is None:
            known = ", ".join(m.measurement_type for m in hardware.meters) or "none"
            raise ValueError(
                f"profile {hardware.name} has no {measurement_type!r} CT slot "
                f"(its slots: {known})"
            )
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError(f"enabled must be true or false, not {enabled!r}")
        if metering_status is not None and metering_status not in METERING_STATUSES:
            raise ValueError(
                f"metering_status must be one of {', '.join(METERING_STATUSES)}, "
                f"not {metering_status!r}"
            )
        if status_flags is not None and (
            not isinstance(status_flags, list)
            or not all(isinstance(flag, str) for flag in status_flags)
        ):
            raise TypeError("status_flags must be a list of strings")
        meter = hardware.meters[slot]
        now_enabled = meter.enabled if enabled is None else enabled
        status = meter.metering_status if now_enabled == meter.enabled else None
        if metering_status is not None:
            status = cast("MeteringStatus", metering_status)
        meters = list(hardware.meters)
        meters[slot] = MeterSpec(
            meter.measurement_type,
            enabled=now_enabled,
            metering_status=status,
            status_flags=meter.status_flags
            if status_flags is None
            else tuple(status_flags),
        )
        self._set_hardware(replace(hardware, meters=tuple(meters)))

    def _set_hardware(self, hardware: Profile) -> None:
        """Change the hardware, keeping the firmware it runs (and any pending upgrade)."""
        self._hardware = hardware
        self._gateway = replace(hardware, firmware=self._gateway.firmware)
        pending = self._pending_upgrade
        if pending is not None:
            self._pending_upgrade = (
                replace(hardware, firmware=pending[0].firmware),
                pending[1],
            )
        if self._model is not None:
            self._model.profile = hardware
            self._model.sampler.profile = hardware

    # -- statistics ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return per-endpoint request counts, statuses and simulated busy time."""
        return self._stats.snapshot()

    @property
    def request_log(self) -> list[RequestRecord]:
        """Return the requests handled so far, oldest first."""
        return list(self._stats.log)

    def reset_stats(self) -> None:
        """Forget the statistics and the request log."""
        self._stats.reset()

    # -- control API --------------------------------------------------------

    async def _control(self, request: web.Request) -> web.StreamResponse:
        """Serve the simulator's own control endpoints under /_sim."""
        route = request.path[len(CONTROL_PREFIX) :].strip("/")
        method = request.method
        try:
            if route == "stats" and method == "GET":
                return web.json_response(self.stats())
            if route == "log" and method == "GET":
                limit = request.query.get("limit")
                return web.json_response(
                    self._stats.log_entries(int(limit) if limit else None)
                )
            if route == "reset_stats" and method == "POST":
                self.reset_stats()
                return web.json_response({"ok": True})
            if route == "fault":
                return await self._control_fault(request)
            if route == "upgrade" and method == "POST":
                body = await _json_body(request)
                self.upgrade_firmware(
                    str(body["profile"]),
                    outage_seconds=float(body.get("outage_seconds", 60.0)),
                )
                return web.json_response(
                    {
                        "ok": True,
                        "firmware_after": get_profile(str(body["profile"])).firmware,
                    }
                )
            if route == "token" and method == "GET":
                return web.json_response(self._control_token(request.query))
            if route == "clock" and method == "POST":
                return await self._control_clock(request)
            if route == "inverter" and method == "POST":
                return await self._control_inverter(request)
            if route == "inverters" and method == "POST":
                body = await _json_body(request)
                serials = self.add_inverters(body.get("count", 1))
                return web.json_response({"ok": True, "serials": serials})
            if route == "meter" and method == "POST":
                return await self._control_meter(request)
            if route in ("", "info") and method == "GET":
                return web.json_response(self._describe())
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(
            {"error": f"no control endpoint {method} {request.path}"}, status=404
        )

    def _control_token(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Mint a token for the control API."""
        role = query.get("role", "owner")
        if role not in ("owner", "installer"):
            raise ValueError("role must be owner or installer")
        lifetime = query.get("lifetime")
        seconds = float(lifetime) if lifetime else None
        token = self.mint_token(role=role, lifetime_seconds=seconds)
        if seconds is None:
            seconds = (
                OWNER_TOKEN_LIFETIME_S
                if role == "owner"
                else INSTALLER_TOKEN_LIFETIME_S
            )
        return {"token": token, "role": role, "expires_at": int(self.now() + seconds)}

    async def _control_fault(self, request: web.Request) -> web.StreamResponse:
        """Inject, list or clear faults."""
        now = self.now()
        if request.method == "GET":
            return web.json_response([f.as_dict(now) for f in self.faults])
        if request.method == "DELETE":
            cleared = self.clear_faults(request.query.get("endpoint"))
            return web.json_response({"cleared": cleared})
        if request.method == "POST":
            body = await _json_body(request)
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError("params must be an object")
            count = body.get("count")
            duration = body.get("duration")
            fault = self.inject(
                str(body.get("endpoint", ANY_ENDPOINT)),
                body["kind"],
                count=int(count) if count is not None else None,
                duration=float(duration) if duration is not None else None,
                **params,
            )
            return web.json_response(fault.as_dict(now))
        return web.json_response({"error": "method not allowed"}, status=405)

    async def _control_clock(self, request: web.Request) -> web.StreamResponse:
        """Move a FakeClock."""
        clock = self._clock
        if not isinstance(clock, FakeClock):
            return web.json_response(
                {"error": "the simulator runs on the real clock"}, status=409
            )
        body = await _json_body(request)
        if "advance" in body:
            clock.advance(float(body["advance"]))
        if "set" in body:
            clock.set(float(body["set"]))
        return web.json_response({"now": clock()})

    async def _control_inverter(self, request: web.Request) -> web.StreamResponse:
        """Silence or resume one inverter."""
        body = await _json_body(request)
        serial = _serial(body["serial"])
        action = body.get("action")
        if action == "silence":
            self.silence_inverter(serial)
        elif action == "resume":
            self.resume_inverter(serial)
        else:
            raise ValueError(f"action must be 'silence' or 'resume', not {action!r}")
        return web.json_response({"ok": True, "serial": serial, "action": action})

    async def _control_meter(self, request: web.Request) -> web.StreamResponse:
        """Change one CT slot and describe it as it is now."""
        body = await _json_body(request)
        measurement_type = body["measurement_type"]
        if not isinstance(measurement_type, str):
            raise TypeError("measurement_type must be a string")
        status = body.get("metering_status")
        if status is not None and not isinstance(status, str):
            raise TypeError("metering_status must be a string")
        self.set_meter(
            measurement_type,
            enabled=body.get("enabled"),
            metering_status=status,
            status_flags=body.get("status_flags"),
        )
        meter = next(
            m for m in self._hardware.meters if m.measurement_type == measurement_type
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

    def _describe(self) -> dict[str, Any]:
        """Return what the simulator is playing."""
        gateway = self.profile
        return {
            "profile": self._hardware.name,
            "serial": self.serial,
            "part_number": self.part_number,
            "firmware": gateway.firmware,
            "address": self.address,
            "cloud_url": self.cloud_url if self.cloud_port is not None else None,
            "now": self.now(),
            "upgrade_pending": self._pending_upgrade is not None,
            "latency": self.latency,
            "daily_outage": self.daily_outage,
            "silenced_inverters": self.model.silenced(self.now()),
            "added_inverters": self.model.added(self.now()),
        }


_SSL_CONTEXT: list[ssl.SSLContext] = []


async def _shared_ssl_context(loop: asyncio.AbstractEventLoop) -> ssl.SSLContext:
    """Return the process-wide TLS context, creating it off the event loop once."""
    if not _SSL_CONTEXT:
        # Certificate files are written and read in the executor, not the loop.
        context = await loop.run_in_executor(None, server_context)
        if not _SSL_CONTEXT:
            _SSL_CONTEXT.append(context)
    return _SSL_CONTEXT[0]


def _content_type(path: str, gateway: Profile) -> str | None:
    """Return the Content-Type the gateway sends for ``path``."""
    if path.startswith(NO_CONTENT_TYPE_PREFIXES):
        return None
    if path in ("/production.json", "/production") and gateway.production_json_is_html:
        return "text/html"
    return "application/json"


def _local_port(request: web.Request) -> int | None:
    """Return the local port the request arrived on."""
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    return int(sockname[1]) if isinstance(sockname, tuple) else None


def _abort(request: web.Request) -> None:
    """Reset the request's connection (RST, no answer)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            # Linger 0 makes close send RST: clients see "connection reset by peer".
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    transport.abort()


async def _peek_first_byte(
    loop: asyncio.AbstractEventLoop, conn: socket.socket
) -> int | None:
    """Wait for the client's first byte without consuming it; None if it hung up."""
    while True:
        ready = loop.create_future()

        def _readable(future: asyncio.Future[None] = ready) -> None:
            if not future.done():
                future.set_result(None)

        loop.add_reader(conn.fileno(), _readable)
        try:
            async with asyncio.timeout(_FIRST_BYTE_TIMEOUT_S):
                await ready
        finally:
            loop.remove_reader(conn.fileno())
        try:
            data = conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            continue
        except OSError:
            return None
        return data[0] if data else None


def _serial(serial: object) -> str:
    """Return an inverter serial given as text or a number."""
    if isinstance(serial, bool) or not isinstance(serial, str | int):
        raise TypeError(f"serial must be text, not {serial!r}")
    return str(serial)


async def _json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object body."""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as err:
        raise ValueError("body must be JSON") from err
    if not isinstance(body, dict):
        raise TypeError("body must be a JSON object")
    return body
