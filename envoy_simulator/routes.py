"""Endpoint routing: which body serves which path on which firmware, and its auth."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from .payloads import PayloadBuilder
from .profiles import Profile
from .replies import NOT_FOUND_JSON, UNAUTHORIZED_JSON, Reply, json_reply, text_reply

type AuthKind = Literal["open", "token", "digest", "garbled"]
type Build = Callable[[PayloadBuilder, Profile, float, web.BaseRequest], Reply]
type Write = Callable[[PayloadBuilder, float, "WriteRequest"], Reply]

CRASH_OUTAGE_S = 60.0
"""How long a gateway that crashed on a bad write resets every connection."""
METHOD_NOT_ALLOWED_JSON = {"error": "405 - Method Not Allowed"}

CHECK_JWT_PAGE = "<!DOCTYPE html><h2>Valid token.</h2>"
# The Envoy-R web server's page for a path it does not know.
PAGE_NOT_FOUND = (
    "<!DOCTYPE html>\n<html><head><title>Page Not Found</title></head>"
    "<body><h1>Page Not Found</h1>"
    "<p>The page you requested could not be found.</p></body></html>\n"
)
# A broken challenge seen on fw 3.9: unquoted realm, the nonce cut off.
GARBLED_CHALLENGE = "Digest realm=enphaseenergy.com, nonce"
# What a request costs the gateway: (fastest, slowest) seconds.
LATENCY_S: dict[str, tuple[float, float]] = {
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
    "/ivp/ensemble/inventory": (0.1, 0.6),
    "/ivp/ensemble/secctrl": (0.05, 0.3),
    "/ivp/ensemble/status": (0.1, 0.8),
    "/ivp/ensemble/power": (0.05, 0.3),
    "/ivp/ensemble/dry_contacts": (0.05, 0.3),
    "/ivp/ss/dry_contact_settings": (0.05, 0.4),
    "/admin/lib/tariff": (0.2, 1.5),
}
DEFAULT_LATENCY_S = (0.02, 0.1)
# The only paths the HTML-only Envoy-R (fw 3.7) answers.
_HTML_ONLY_PATHS = frozenset({"/info", "/production", "/production.json"})


def _always(_gateway: Profile) -> bool:
    """Return True: every firmware serves the endpoint."""
    return True


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """A write (PUT or POST) as an endpoint sees it."""

    method: str
    body: Any
    """The JSON body, or INVALID_BODY."""
    overwrite_after: float | None = None
    """The cloud pushes its own tariff back this many seconds after a tariff write."""


INVALID_BODY = object()


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: when it exists, how its body is built, whether fw < 7 wants digest.

    ``methods`` empty: every method gets the GET answer (as the old endpoints
    do); otherwise other methods answer 405 and ``write`` handles the rest.
    """

    build: Build
    available: Callable[[Profile], bool] = _always
    digest: bool = False
    methods: frozenset[str] = frozenset()
    write: Write | None = None


def _info(b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /info (XML without a Content-Type)."""
    return text_reply(b.info_xml(g, now), content_type=None)


def _production_v1(
    b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /api/v1/production."""
    return json_reply(b.production_v1(g, now))


def _inverters_v1(
    b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /api/v1/production/inverters."""
    return json_reply(b.inverters_v1(g, now))


def _meters(b: PayloadBuilder, g: Profile, _now: float, _r: web.BaseRequest) -> Reply:
    """Return /ivp/meters."""
    return json_reply(b.meters(g), content_type=None)


def _readings(b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /ivp/meters/readings."""
    return json_reply(b.meter_readings(now), content_type=None)


def _device_data(
    b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/pdm/device_data."""
    return json_reply(b.device_data(now, g), content_type=None)


def _production_json(
    b: PayloadBuilder, g: Profile, now: float, request: web.BaseRequest
) -> Reply:
    """Return /production.json: JSON, the old HTML page, or a "Page Not Found"."""
    if g.quirks.html_only:
        # The page comes with a JSON Content-Type and status 200 all the same.
        return text_reply(PAGE_NOT_FOUND, content_type="application/json")
    if g.production_json_is_html:
        return text_reply(b.production_page_html(now))
    return json_reply(
        b.production_json(now, g, details=request.query.get("details") == "1")
    )


def _production(
    b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /production: the HTML page on fw 3.x, JSON without lines later."""
    if g.major < 4:
        return text_reply(b.production_page_html(now))
    return json_reply(b.production_json(now, g, details=False))


def _inventory(b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /inventory.json."""
    return json_reply(b.inventory(g, now))


def _home(b: PayloadBuilder, g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /home.json."""
    return json_reply(b.home(g, now))


def _check_jwt(
    _b: PayloadBuilder, _g: Profile, _now: float, _r: web.BaseRequest
) -> Reply:
    """Return the page /auth/check_jwt answers a valid token with."""
    return text_reply(CHECK_JWT_PAGE)


def _inventory_ensemble(
    b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/ensemble/inventory."""
    return json_reply(b.ensemble.inventory(now), content_type=None)


def _secctrl(b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /ivp/ensemble/secctrl."""
    return json_reply(b.ensemble.secctrl(now), content_type=None)


def _ensemble_status(
    b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/ensemble/status."""
    return json_reply(b.ensemble.status(now, b.restarted_at(now)), content_type=None)


def _ensemble_power(
    b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/ensemble/power."""
    return json_reply(b.ensemble.power(now), content_type=None)


def _tariff(b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest) -> Reply:
    """Return /admin/lib/tariff."""
    return json_reply(b.ensemble.tariff.document(now))


def _put_tariff(b: PayloadBuilder, now: float, write: WriteRequest) -> Reply:
    """Take a whole tariff document."""
    if write.body is INVALID_BODY:
        return json_reply({"error": "body must be JSON"}, status=400)
    status, payload = b.ensemble.tariff.put(write.body, now, write.overwrite_after)
    return json_reply(payload, status=status)


def _dry_contacts(
    b: PayloadBuilder, _g: Profile, now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/ensemble/dry_contacts."""
    return json_reply(b.ensemble.dry_contacts(now), content_type=None)


def _switch_relay(b: PayloadBuilder, now: float, write: WriteRequest) -> Reply:
    """Switch a relay in manual mode."""
    if write.body is INVALID_BODY:
        return json_reply({"error": "body must be JSON"}, status=400)
    outcome = b.ensemble.relays.write_status(write.body, now)
    return json_reply(outcome.payload, status=outcome.status, content_type=None)


def _relay_settings(
    b: PayloadBuilder, _g: Profile, _now: float, _r: web.BaseRequest
) -> Reply:
    """Return /ivp/ss/dry_contact_settings."""
    return json_reply(b.ensemble.dry_contact_settings(), content_type=None)


def _write_relay_settings(b: PayloadBuilder, now: float, write: WriteRequest) -> Reply:
    """Take one relay's whole settings record; a partial one crashes the gateway."""
    if write.body is INVALID_BODY:
        return json_reply({"error": "body must be JSON"}, status=400)
    outcome = b.ensemble.relays.write_settings(write.body, now)
    if outcome.crash:
        reply = text_reply(
            "<html><body><h1>500 Internal Server Error</h1></body></html>", status=500
        )
        reply.outage_s = CRASH_OUTAGE_S
        return reply
    return json_reply(outcome.payload, status=outcome.status, content_type=None)


def _has_ensemble(gateway: Profile) -> bool:
    """Return whether the gateway has IQ Batteries or a system controller (fw >= 7)."""
    return gateway.has_ensemble


def _has_relays(gateway: Profile) -> bool:
    """Return whether the gateway's system controller has dry-contact relays."""
    return gateway.has_ensemble and gateway.enpower and bool(gateway.relays)


def _has_meters(gateway: Profile) -> bool:
    """Return whether the firmware serves /ivp/meters*."""
    return gateway.has_meters_endpoint


def _has_device_data(gateway: Profile) -> bool:
    """Return whether the firmware serves /ivp/pdm/device_data."""
    return gateway.has_device_data


def _has_tokens(gateway: Profile) -> bool:
    """Return whether the firmware uses tokens (and so /auth/check_jwt)."""
    return gateway.web_tokens


ROUTES: dict[str, Route] = {
    "/info": Route(_info),
    "/api/v1/production": Route(_production_v1),
    "/api/v1/production/inverters": Route(_inverters_v1, digest=True),
    "/ivp/meters": Route(_meters, _has_meters, digest=True),
    "/ivp/meters/readings": Route(_readings, _has_meters, digest=True),
    "/ivp/pdm/device_data": Route(_device_data, _has_device_data, digest=True),
    "/production.json": Route(_production_json),
    "/production": Route(_production, digest=True),
    "/inventory.json": Route(_inventory),
    "/home.json": Route(_home),
    "/auth/check_jwt": Route(_check_jwt, _has_tokens),
    "/ivp/ensemble/inventory": Route(
        _inventory_ensemble, _has_ensemble, methods=frozenset({"GET"})
    ),
    "/ivp/ensemble/secctrl": Route(_secctrl, _has_ensemble, methods=frozenset({"GET"})),
    "/ivp/ensemble/status": Route(
        _ensemble_status, _has_ensemble, methods=frozenset({"GET"})
    ),
    "/ivp/ensemble/power": Route(
        _ensemble_power, _has_ensemble, methods=frozenset({"GET"})
    ),
    "/admin/lib/tariff": Route(
        _tariff, _has_ensemble, methods=frozenset({"GET", "PUT"}), write=_put_tariff
    ),
    "/ivp/ensemble/dry_contacts": Route(
        _dry_contacts,
        _has_relays,
        methods=frozenset({"GET", "POST"}),
        write=_switch_relay,
    ),
    "/ivp/ss/dry_contact_settings": Route(
        _relay_settings,
        _has_relays,
        methods=frozenset({"GET", "POST"}),
        write=_write_relay_settings,
    ),
}


def route(path: str, gateway: Profile) -> Route | None:
    """Return the endpoint serving ``path`` on this firmware, or None if it is absent."""
    quirks = gateway.quirks
    if path in quirks.absent_paths or (
        quirks.html_only and path not in _HTML_ONLY_PATHS
    ):
        return None
    found = ROUTES.get(path)
    if found is None or not found.available(gateway):
        return None
    return found


def auth_for(path: str, found: Route, gateway: Profile) -> AuthKind:
    """Return what ``path`` wants from the client on this firmware."""
    if path in gateway.quirks.garbled_auth_paths:
        return "garbled"
    if gateway.web_tokens:
        return "open" if path == "/info" else "token"
    return "digest" if found.digest else "open"


def missing(gateway: Profile) -> Reply:
    """Return how this firmware answers a path it does not serve."""
    if gateway.quirks.html_only:
        return text_reply(PAGE_NOT_FOUND, status=404)
    if gateway.missing_endpoint_status == 401:
        # Early 7.x builds answer 401 on endpoints they lack, even with a good token.
        return json_reply(UNAUTHORIZED_JSON, status=401)
    return json_reply(NOT_FOUND_JSON, status=404)


def garbled_unauthorized(gateway: Profile) -> Reply:
    """Return the 401 with a broken challenge that no credentials get past."""
    reply = text_reply(
        "<html><body><h1>401 Unauthorized</h1></body></html>", status=401
    )
    reply.headers["WWW-Authenticate"] = GARBLED_CHALLENGE
    reply.close = gateway.major < 4
    return reply
