"""Fault injection: misbehaviour switched on per endpoint, by request count or time.

A fault targets one path (``/ivp/meters``) or every gateway endpoint (``*``)
and lasts for ``count`` matching requests, ``duration`` simulator seconds, or
until cleared. Each kind is one entry in ``FAULT_HANDLERS``, saying where in the
request pipeline it acts. The kinds, their params and effect:

Answers in place of the endpoint (the oldest active one wins; before auth):
- ``hang``: hold the request until the fault is cleared or its duration ends
  (a spent ``count`` does not release held requests); param ``seconds``: hold
  that many real seconds instead. Then answer normally.
- ``http_500``: 500 with an HTML error page.
- ``http_503``: 503 ``{"error": "Service Unavailable"}``.
- ``http_401``: 401 as the firmware says it: ``{"error": "401 - Unauthorized"}``
  on fw >= 7, a digest challenge on fw < 7 (a burst: use ``count``). Hits
  ``/auth/check_jwt`` too.
- ``redirect``: 301 to the same URL over https, for requests over plain HTTP
  (as after an unnoticed upgrade to fw >= 7; TLS is still refused on fw < 7).
- ``reset``: reset the connection (RST), no answer.
- ``html_page``: 200 with an HTML page.
- ``error_json``: 200 ``{"error": message}``; param ``message``.
- ``not_found``: 404 ``{"error": "404 - Not Found"}``.

Outage (before anything else, the control API excepted):
- ``outage``: reset every matching connection, as a restarting gateway does.

Authentication:
- ``token_revoked``: refuse every token minted before the fault (fw >= 7) or
  every digest login (fw < 7); tokens minted later work.

Transforms of the endpoint's own answer (they stack, in injection order;
refusals and missing endpoints are left alone):
- ``stale``: repeat the first answer given while the fault is on.
- ``zero_glitch``: every energy counter reads 0; param ``keys``: only those.
- ``active_count_zero``: production.json eim entries say ``activeCount: 0``.
- ``huge_numbers``: every JSON number is written as +/- 10**``digits`` in
  full (param ``digits``, default 400).
- ``infinite_numbers``: every JSON number is written as ``1e999`` / ``-1e999``.
- ``deep_nesting``: 200 body of ``depth`` nested arrays ``[[[...]]]`` (param
  ``depth``, default 100000) in place of the real one.
- ``unknown_encoding``: XML (/info) declares ``encoding`` (default
  ``x-no-such-codec``); any other body is re-encoded: param ``mode``
  ``utf-16`` (default: UTF-16 little endian, no BOM) or ``invalid-utf8``.
- ``malformed_json``: the body is cut in half.

Delivery:
- ``trickle``: send status line and headers, then the body ``bytes_per_second``
  at a time (param, default 2), holding back the last byte while the fault is
  on (a spent ``count`` does not release it); it finishes when the fault is
  cleared or its duration ends, and drops when the simulator stops.

Battery control (on /admin/lib/tariff):
- ``tariff_refused``: PUT answers with param ``status`` (default 500; 401 as
  the firmware says it, any other as JSON ``{"error": ...}``) and changes
  nothing; GET answers normally.
- ``cloud_overwrite``: each tariff PUT accepted while the fault is on is
  undone ``delay`` simulator seconds later (param, default 120): the storage
  settings' mode, reserve and charge-from-grid go back to what they were
  before the PUT, with a new ``date``, as when Enlighten re-pushes its tariff.

State changes at injection (the fault is spent at once):
- ``counter_wrap``: move inverters' 32-bit lifetime joule counters next to
  the wrap; params ``serial`` (one inverter, default all) and ``mode``
  (``next``: wraps at the next report; ``immediate``: already wrapped).
"""

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import count
import math
from typing import Any, Literal, get_args

from aiohttp import web

from . import hostile
from .payloads import zero_active_counts, zero_counters
from .profiles import Profile
from .replies import (
    NOT_FOUND_JSON,
    UNAUTHORIZED_JSON,
    AbortConnectionError,
    Json,
    Reply,
    json_reply,
    text_reply,
    to_stream,
)

type FaultKind = Literal[
    "hang",
    "http_500",
    "http_503",
    "http_401",
    "redirect",
    "reset",
    "malformed_json",
    "html_page",
    "error_json",
    "not_found",
    "token_revoked",
    "zero_glitch",
    "counter_wrap",
    "active_count_zero",
    "stale",
    "outage",
    "trickle",
    "deep_nesting",
    "huge_numbers",
    "infinite_numbers",
    "unknown_encoding",
    "tariff_refused",
    "cloud_overwrite",
]

FAULT_KINDS: tuple[str, ...] = get_args(FaultKind.__value__)
ANY_ENDPOINT = "*"
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Envoy</title></head>"
    "<body><h1>Envoy</h1><p>Please wait while the gateway starts.</p></body></html>\n"
)
_TRICKLE_TICK_S = 0.5

_ids = count(1)


@dataclass(eq=False)
class Fault:
    """One injected fault and how much of it is left."""

    endpoint: str
    kind: FaultKind
    count: int | None = None
    duration: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    hits: int = 0
    cleared: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    frozen_replies: dict[str, Reply] = field(default_factory=dict, repr=False)
    revoked_token_ids: frozenset[str] = field(default_factory=frozenset, repr=False)

    @property
    def ends_at(self) -> float | None:
        """Return the simulator time the fault stops, if it is timed."""
        return None if self.duration is None else self.started_at + self.duration

    @property
    def handler(self) -> FaultHandler:
        """Return how this fault's kind acts."""
        return FAULT_HANDLERS[self.kind]

    def active(self, now: float) -> bool:
        """Return whether the fault still applies at ``now``."""
        if self.cleared:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        ends_at = self.ends_at
        return ends_at is None or now < ends_at

    def matches(self, path: str) -> bool:
        """Return whether the fault targets ``path``."""
        return self.endpoint in (ANY_ENDPOINT, path)

    def as_dict(self, now: float) -> dict[str, Any]:
        """Describe the fault for the control API."""
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "count": self.count,
            "duration": self.duration,
            "params": self.params,
            "hits": self.hits,
            "active": self.active(now),
            "started_at": self.started_at,
        }


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What handlers may use while one request is served."""

    request: web.BaseRequest
    gateway: Profile
    digest_challenge: Callable[[], str]
    https_location: Callable[[], str]
    hold: Callable[[Fault, float | None], Awaitable[None]]
    """Wait while the fault holds (or for real seconds); raise AbortConnectionError on stop."""
    holding: Callable[[Fault], bool]
    """Return whether the fault still holds requests (not cleared, not over, not stopping)."""


@dataclass(frozen=True, slots=True)
class InjectContext:
    """What handlers may change when their fault is injected."""

    wrap_counters: Callable[[set[str] | None, bool], list[str]]
    """Move inverters (None: all) next to the joule wrap (True: past it); return serials."""
    minted_token_ids: Callable[[], frozenset[str]]


type AnswerHook = Callable[[Fault, FaultContext], Awaitable[Reply | None]]
type PayloadHook = Callable[[Fault, Json], Json]
type RenderHook = Callable[[Fault, Json], bytes]
type BodyHook = Callable[[Fault, Reply], None]
type DeliverHook = Callable[[Fault, Reply, FaultContext], Awaitable[web.StreamResponse]]
type InjectHook = Callable[[Fault, InjectContext], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultHandler:
    """Where one fault kind acts in the pipeline; hooks left None are not used."""

    outage: bool = False
    """Reset the connection before redirects, auth and everything else."""
    answer: AnswerHook | None = None
    """Answer in place of the endpoint; None from the hook: serve normally."""
    denies_auth: bool = False
    """Refuse the credentials that were valid when the fault was injected."""
    freezes: bool = False
    """Repeat the first answer given while the fault is on."""
    payload: PayloadHook | None = None
    """Alter the JSON payload."""
    render: RenderHook | None = None
    """Write the JSON payload as bytes its own way."""
    body: BodyHook | None = None
    """Alter the finished body (after stale answers are kept)."""
    deliver: DeliverHook | None = None
    """Send the answer its own way."""
    on_inject: InjectHook | None = None
    """Check params and act once at injection; False: the fault is spent at once."""
    overwrites_tariff: bool = False
    """Undo accepted tariff writes after the param ``delay`` (the cloud re-pushing)."""


# -- answers -----------------------------------------------------------------


async def _hang(fault: Fault, context: FaultContext) -> None:
    """Hold the request, then let it be served."""
    seconds = fault.params.get("seconds")
    await context.hold(fault, None if seconds is None else float(seconds))


async def _http_500(_fault: Fault, _context: FaultContext) -> Reply:
    """Answer the gateway's HTML 500 page."""
    return text_reply(
        "<html><body><h1>500 Internal Server Error</h1></body></html>", status=500
    )


async def _http_503(_fault: Fault, _context: FaultContext) -> Reply:
    """Answer 503 as a busy or booting gateway does."""
    return json_reply({"error": "Service Unavailable"}, status=503)


def unauthorized(gateway: Profile, challenge: Callable[[], str]) -> Reply:
    """Return the firmware's 401: JSON on fw >= 7, a digest challenge before."""
    if gateway.web_tokens:
        return json_reply(UNAUTHORIZED_JSON, status=401)
    reply = text_reply(
        "<html><body><h1>401 Unauthorized</h1></body></html>", status=401
    )
    reply.headers["WWW-Authenticate"] = challenge()
    # Envoy-R drops the connection during digest auth; clients must reconnect.
    reply.close = gateway.major < 4
    return reply


async def _http_401(_fault: Fault, context: FaultContext) -> Reply:
    """Answer 401 whatever the credentials."""
    return unauthorized(context.gateway, context.digest_challenge)


def moved_permanently(location: str) -> Reply:
    """Return a 301 to ``location``."""
    reply = text_reply(
        f"<html><head><title>301 Moved Permanently</title></head><body>"
        f'<h1>301 Moved Permanently</h1><a href="{location}">{location}</a></body></html>',
        status=301,
    )
    reply.headers["Location"] = location
    return reply


async def _redirect(_fault: Fault, context: FaultContext) -> Reply | None:
    """Send plain HTTP to HTTPS; HTTPS requests have nowhere better to go."""
    if context.request.secure:
        return None
    return moved_permanently(context.https_location())


async def _reset(_fault: Fault, _context: FaultContext) -> Reply:
    """Reset the connection."""
    raise AbortConnectionError


async def _html_page(_fault: Fault, _context: FaultContext) -> Reply:
    """Answer 200 with an HTML page where data was expected."""
    return text_reply(HTML_PAGE)


async def _error_json(fault: Fault, _context: FaultContext) -> Reply:
    """Answer 200 with a JSON error object."""
    message = str(fault.params.get("message", "Internal error, please try again"))
    return json_reply({"error": message})


async def _not_found(_fault: Fault, _context: FaultContext) -> Reply:
    """Answer the gateway's JSON 404."""
    return json_reply(NOT_FOUND_JSON, status=404)


async def _tariff_refused(fault: Fault, context: FaultContext) -> Reply | None:
    """Refuse tariff writes with the param ``status``; reads pass."""
    if context.request.method != "PUT":
        return None
    status = int(fault.params.get("status", 500))
    if status == 401:
        return unauthorized(context.gateway, context.digest_challenge)
    if status == 500:
        return await _http_500(fault, context)
    return json_reply({"error": f"{status} - tariff refused"}, status=status)


# -- transforms --------------------------------------------------------------


def _zero_glitch(fault: Fault, payload: Json) -> Json:
    """Zero the energy counters (or the ``keys`` param's)."""
    keys = fault.params.get("keys")
    return zero_counters(payload, frozenset(keys)) if keys else zero_counters(payload)


def _active_count_zero(_fault: Fault, payload: Json) -> Json:
    """Make production.json's eim entries claim no CT."""
    return zero_active_counts(payload)


def _huge_numbers(fault: Fault, payload: Json) -> bytes:
    """Write every number as a huge integer."""
    digits = int(fault.params.get("digits", 400))
    return hostile.dump_with_numbers(payload, hostile.huge_integer(digits)).encode()


def _infinite_numbers(_fault: Fault, payload: Json) -> bytes:
    """Write every number as an overflowing float literal."""
    return hostile.dump_with_numbers(payload, hostile.infinite).encode()


def _deep_nesting(fault: Fault, reply: Reply) -> None:
    """Put deeply nested arrays in place of the body."""
    reply.body = hostile.nested_arrays(int(fault.params.get("depth", 100_000)))


def _unknown_encoding(fault: Fault, reply: Reply) -> None:
    """Make the body undecodable by the encoding it claims or implies."""
    if hostile.is_xml(reply.body):
        encoding = str(fault.params.get("encoding", "x-no-such-codec"))
        reply.body = hostile.unknown_xml_encoding(reply.body, encoding)
    elif fault.params.get("mode", "utf-16") == "invalid-utf8":
        reply.body = hostile.invalid_utf8(reply.body)
    else:
        reply.body = hostile.utf16_without_bom(reply.body)


def _malformed_json(_fault: Fault, reply: Reply) -> None:
    """Cut the body in half."""
    reply.body = reply.body[: max(1, len(reply.body) // 2)]


# -- delivery ----------------------------------------------------------------


async def _trickle(
    fault: Fault, reply: Reply, context: FaultContext
) -> web.StreamResponse:
    """Send the answer a few bytes at a time, keeping the last byte while the fault holds."""
    rate = float(fault.params.get("bytes_per_second", 2))
    chunk = max(1, math.floor(rate * _TRICKLE_TICK_S))
    pause = chunk / rate
    body = reply.body
    response = to_stream(reply)
    if reply.close:
        response.force_close()
    try:
        await response.prepare(context.request)
        sent = 0
        while sent < len(body) - 1 and context.holding(fault):
            piece = body[sent : min(sent + chunk, len(body) - 1)]
            await response.write(piece)
            sent += len(piece)
            await context.hold(fault, pause)
        await context.hold(fault, None)
        await response.write(body[sent:])
        await response.write_eof()
    except ConnectionError:
        # The client gave up; aiohttp notices the closed transport by itself.
        pass
    return response


# -- injection ---------------------------------------------------------------


def _counter_wrap(fault: Fault, context: InjectContext) -> bool:
    """Move inverter counters next to the 32-bit wrap; the fault is spent at once."""
    serial = fault.params.get("serial", "all")
    serials = None if serial in (None, "all") else {str(serial)}
    mode = fault.params.get("mode", "next")
    if mode not in ("next", "immediate"):
        raise ValueError("counter_wrap mode must be 'next' or 'immediate'")
    moved = context.wrap_counters(serials, mode == "immediate")
    if not moved:
        raise ValueError(f"no inverter with serial {serial!r}")
    fault.params["serials"] = moved
    fault.count = 1
    fault.hits = 1
    return False


def _token_revoked(fault: Fault, context: InjectContext) -> bool:
    """Remember which tokens exist now: those are the ones refused."""
    fault.revoked_token_ids = context.minted_token_ids()
    return True


def _positive_param(name: str, default: float) -> InjectHook:
    """Return a check that param ``name`` is a positive number."""

    def check(fault: Fault, _context: InjectContext) -> bool:
        value = fault.params.get(name, default)
        number = math.nan
        with suppress(TypeError, ValueError):
            number = float(value)
        if isinstance(value, bool) or not number > 0 or math.isinf(number):
            raise ValueError(f"{fault.kind} {name} must be a positive number")
        return True

    return check


def _status_check(fault: Fault, _context: InjectContext) -> bool:
    """Check the ``status`` param is an HTTP error status."""
    status = fault.params.get("status", 500)
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 400 <= status <= 599
    ):
        raise ValueError(f"{fault.kind} status must be an HTTP error status (400-599)")
    return True


def _unknown_encoding_check(fault: Fault, _context: InjectContext) -> bool:
    """Check the ``mode`` param."""
    if fault.params.get("mode", "utf-16") not in ("utf-16", "invalid-utf8"):
        raise ValueError("unknown_encoding mode must be 'utf-16' or 'invalid-utf8'")
    return True


FAULT_HANDLERS: dict[FaultKind, FaultHandler] = {
    "hang": FaultHandler(answer=_hang),
    "http_500": FaultHandler(answer=_http_500),
    "http_503": FaultHandler(answer=_http_503),
    "http_401": FaultHandler(answer=_http_401),
    "redirect": FaultHandler(answer=_redirect),
    "reset": FaultHandler(answer=_reset),
    "malformed_json": FaultHandler(body=_malformed_json),
    "html_page": FaultHandler(answer=_html_page),
    "error_json": FaultHandler(answer=_error_json),
    "not_found": FaultHandler(answer=_not_found),
    "token_revoked": FaultHandler(denies_auth=True, on_inject=_token_revoked),
    "zero_glitch": FaultHandler(payload=_zero_glitch),
    "counter_wrap": FaultHandler(on_inject=_counter_wrap),
    "active_count_zero": FaultHandler(payload=_active_count_zero),
    "stale": FaultHandler(freezes=True),
    "outage": FaultHandler(outage=True),
    "trickle": FaultHandler(
        deliver=_trickle, on_inject=_positive_param("bytes_per_second", 2)
    ),
    "deep_nesting": FaultHandler(
        body=_deep_nesting, on_inject=_positive_param("depth", 100_000)
    ),
    "huge_numbers": FaultHandler(
        render=_huge_numbers, on_inject=_positive_param("digits", 400)
    ),
    "infinite_numbers": FaultHandler(render=_infinite_numbers),
    "unknown_encoding": FaultHandler(
        body=_unknown_encoding, on_inject=_unknown_encoding_check
    ),
    "tariff_refused": FaultHandler(answer=_tariff_refused, on_inject=_status_check),
    "cloud_overwrite": FaultHandler(
        overwrites_tariff=True, on_inject=_positive_param("delay", 120.0)
    ),
}

if set(FAULT_HANDLERS) != set(FAULT_KINDS):  # pragma: no cover - a coding slip
    raise RuntimeError("FAULT_HANDLERS and FaultKind must list the same kinds")


class FaultBook:
    """The faults currently injected."""

    def __init__(self) -> None:
        """Start without faults."""
        self._faults: list[Fault] = []

    def add(self, fault: Fault, context: InjectContext) -> Fault:
        """Check ``fault``, let its kind act on injection and register it if it lasts."""
        if fault.kind not in FAULT_HANDLERS:
            raise ValueError(
                f"unknown fault kind {fault.kind!r}; known: {', '.join(FAULT_KINDS)}"
            )
        if fault.count is not None and fault.count < 0:
            raise ValueError("count must be >= 0")
        if fault.duration is not None and fault.duration < 0:
            raise ValueError("duration must be >= 0")
        hook = fault.handler.on_inject
        if hook is None or hook(fault, context):
            self._faults.append(fault)
        return fault

    def matching(self, path: str, now: float) -> list[Fault]:
        """Return the active faults for ``path``, oldest first."""
        self._faults = [f for f in self._faults if f.active(now)]
        return [f for f in self._faults if f.matches(path)]

    def active(self, now: float) -> list[Fault]:
        """Return every active fault."""
        self._faults = [f for f in self._faults if f.active(now)]
        return list(self._faults)

    def clear(self, endpoint: str | None = None) -> int:
        """Clear faults (all, or those injected for ``endpoint``); return how many."""
        cleared = 0
        for fault in self._faults:
            if endpoint is None or fault.endpoint == endpoint:
                fault.cleared = True
                cleared += 1
        self._faults = [f for f in self._faults if not f.cleared]
        return cleared
