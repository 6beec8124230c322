"""Endpoint routing: which body serves which path on which firmware, and its auth."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from .payloads import PayloadBuilder
from .profiles import Profile
from .replies import NOT_FOUND_JSON, UNAUTHORIZED_JSON, Reply, json_reply, text_reply

type AuthKind = Literal["open", "token", "digest", "garbled"]
type Build = Callable[[PayloadBuilder, Profile, float, web.BaseRequest], Reply]

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
}
DEFAULT_LATENCY_S = (0.02, 0.1)
# The only paths the HTML-only Envoy-R (fw 3.7) answers.
_HTML_ONLY_PATHS = frozenset({"/info", "/production", "/production.json"})


def _always(_gateway: Profile) -> bool:
    """Return True: every firmware serves the endpoint."""
    return True


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: when it exists, how its body is built, whether fw < 7 wants digest."""

    build: Build
    available: Callable[[Profile], bool] = _always
    digest: bool = False


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
