"""The gateway client: one request at a time, bounded retries, typed answers."""

import asyncio
from collections.abc import Callable, Mapping
import logging
import ssl
import time
from typing import Any, override
from urllib.parse import urlsplit

import aiohttp
from aiohttp import DigestAuthMiddleware, hdrs

from .auth import decode_token, envoy_password, installer_password
from .detect import DetectionReads, all_zero, detect
from .ensemble import (
    BatteryPower,
    DryContact,
    EnsembleAggregate,
    EnsembleInventory,
    Tariff,
    parse_dry_contacts,
    parse_ensemble_inventory,
    parse_ensemble_power,
    parse_ensemble_secctrl,
    parse_tariff,
)
from .exceptions import (
    EnvoyAuthenticationError,
    EnvoyConnectionError,
    EnvoyDataError,
    EnvoyEndpointMissingError,
    EnvoyError,
    EnvoyNotReadyError,
    EnvoyRedirectError,
    EnvoyTimeoutError,
)
from .models import (
    ApiProduction,
    DeviceData,
    DevicePart,
    Endpoint,
    EndpointStats,
    EnvoyCapabilities,
    EnvoyInfo,
    InverterProduction,
    MeterConfig,
    MeterReading,
    ProductionPage,
    ProductionReport,
    TokenInfo,
)
from .parsers import (
    body_to_json,
    parse_api_production,
    parse_device_data,
    parse_device_inventory,
    parse_info,
    parse_inverters,
    parse_meter_readings,
    parse_meters,
    parse_production_page,
    parse_production_report,
)
from .session import SessionOwner

_LOGGER = logging.getLogger(__package__)

# The gateway's certificate is self-signed and never matches its address.
# Passed per request, so an injected verifying session still reaches it.
_GATEWAY_SSL_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
_GATEWAY_SSL_CONTEXT.check_hostname = False
_GATEWAY_SSL_CONTEXT.verify_mode = ssl.CERT_NONE

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_AUTH_STATUSES = frozenset({401, 403})
_DIGEST_DEFAULT_USER = "installer"
_DIGEST_ENVOY_USER = "envoy"
_VALID_TOKEN_MARKER = "Valid token"  # noqa: S105 -- the page text, not a secret
_NATIVE_DEADLINE_S = 30.0
"""Native endpoints answer in well under a second; past this they are hung."""
# What a parser may raise on input no gateway sends (huge numbers, odd
# encodings, deep nesting): turned into EnvoyDataError, never passed on.
_FOREIGN_PARSE_ERRORS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    UnicodeError,
    ValueError,
)


def parse_host(host: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    text = host.strip()
    if "://" in text:
        # A pasted URL: keep only its authority.
        try:
            text = urlsplit(text).netloc
        except ValueError as err:  # an invalid IPv6 URL, an NFKC-invalid netloc
            raise EnvoyConnectionError(f"Invalid host {host!r}") from err
    text = text.rstrip("/")
    port_text: str | None = None
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise EnvoyConnectionError(f"Invalid host {host!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
    else:
        address = text
    if not address:
        raise EnvoyConnectionError(f"Invalid host {host!r}")
    if port_text is None:
        return address, None
    if (
        not (port_text.isascii() and port_text.isdigit())
        or len(port_text) > 5
        or not 0 < int(port_text) < 65536
    ):
        raise EnvoyConnectionError(f"Invalid port in host {host!r}")
    return address, int(port_text)


class Envoy(SessionOwner):
    """Client for one Envoy / IQ Gateway over its local API."""

    def __init__(
        self,
        host: str,
        *,
        session: aiohttp.ClientSession | None = None,
        read_timeout: float = 45.0,
        connect_timeout: float = 10.0,
        deadline: float | None = None,
        max_retries: int = 2,
        retry_backoff: float = 1.0,
    ) -> None:
        """Prepare a client; nothing is sent before the first call."""
        self.host = host
        self._address, self._port = parse_host(host)
        self.base_url: str | None = None
        self.info: EnvoyInfo | None = None
        self.token_info: TokenInfo | None = None
        self.stats: dict[str, EndpointStats] = {}
        self.last_responses: dict[str, str] = {}
        self.answers = 0
        """Successful (2xx) answers so far: tells a caller its reads reached the gateway."""
        self.authorized_answers = 0
        """Successful answers to requests that carried credentials."""
        super().__init__(session)
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._deadline = (
            deadline if deadline is not None else read_timeout + connect_timeout
        )
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._max_retries = max(max_retries, 0)
        self._retry_backoff = max(retry_backoff, 0.0)
        self._lock = asyncio.Lock()
        self._scheme = "https"
        self._token: str | None = None
        self._digest: DigestAuthMiddleware | None = None
        self._digest_credentials: tuple[str, str] | None = None

    # Identity and credentials

    async def probe(self) -> EnvoyInfo:
        """Read /info, finding the scheme: HTTPS first (or the one that worked), then HTTP."""
        preferred, fallback = (
            ("http", "https") if self._scheme == "http" else ("https", "http")
        )
        try:
            # One attempt: a closed port or a refused TLS handshake just
            # means the other scheme is the right one.
            return await self._probe_with(preferred, retries=0)
        except EnvoyRedirectError:
            return await self._probe_with("https")
        except EnvoyConnectionError as err:
            _LOGGER.debug("%s; trying %s", err, fallback.upper())
        try:
            return await self._probe_with(fallback)
        except EnvoyRedirectError:
            # Plain HTTP redirecting means the gateway speaks HTTPS (fw >= 7).
            return await self._probe_with("https")

    async def _probe_with(self, scheme: str, retries: int | None = None) -> EnvoyInfo:
        """Read /info over ``scheme`` and remember the scheme when it works."""
        info = await self._fetch(
            Endpoint.INFO,
            parse_info,
            scheme=scheme,
            retries=retries,
            authenticate=False,
        )
        self._scheme = scheme
        self.base_url = self._url_for(scheme)
        self.info = info
        return info

    def use_token(self, token: str) -> TokenInfo:
        """Send ``token`` as a Bearer header on every request from now on."""
        token_info = decode_token(token)
        self._token = token.strip()
        self._digest = None
        self.token_info = token_info
        return token_info

    def use_digest(
        self, username: str | None = None, password: str | None = None
    ) -> None:
        """Use HTTP digest auth (fw < 7); passwords derive from the serial by default."""
        username = username or _DIGEST_DEFAULT_USER
        if password is None:
            if self.info is None:
                raise EnvoyAuthenticationError(
                    "The serial is needed to derive the password: probe the gateway first"
                )
            if username == _DIGEST_DEFAULT_USER:
                password = installer_password(self.info.serial)
            elif username == _DIGEST_ENVOY_USER:
                password = envoy_password(self.info.serial)
            else:
                raise EnvoyAuthenticationError(
                    "A password is needed for users other than installer and envoy"
                )
        try:
            self._digest = DigestAuthMiddleware(username, password)
            self._digest_credentials = (username, password)
        except ValueError as err:
            # aiohttp refuses a ":" in the user name (RFC 7617).
            raise EnvoyAuthenticationError(f"Unusable digest user name: {err}") from err
        self._token = None
        self.token_info = None

    async def check_token(self) -> None:
        """Prove the gateway accepts our credentials (EnvoyAuthenticationError if not)."""
        if self._token is None and self._digest is None:
            raise EnvoyAuthenticationError(
                "No token or digest credentials to check", endpoint=Endpoint.CHECK_JWT
            )
        if self._token is not None:
            try:
                await self._fetch(Endpoint.CHECK_JWT, _check_jwt_reply)
            except EnvoyEndpointMissingError:
                _LOGGER.debug("No /auth/check_jwt: checking with an authenticated read")
            else:
                return
        await self.inverters()

    # Endpoints

    async def api_production(self) -> ApiProduction:
        """Read /api/v1/production; all zeros (fw 3.x after boot) is not data."""
        return await self._fetch(Endpoint.API_PRODUCTION, _nonzero_api_production)

    async def api_production_raw(self) -> ApiProduction:
        """Read /api/v1/production, zeros included (they are evidence too)."""
        return await self._fetch_json(Endpoint.API_PRODUCTION, parse_api_production)

    async def inverters(self) -> list[InverterProduction]:
        """Read /api/v1/production/inverters."""
        return await self._fetch_json(Endpoint.API_INVERTERS, parse_inverters)

    async def meters(self) -> list[MeterConfig]:
        """Read /ivp/meters (``[]`` on gateways without metering)."""
        return await self._fetch_json(Endpoint.METERS, parse_meters)

    async def meter_readings(self) -> list[MeterReading]:
        """Read /ivp/meters/readings: all entries and channels, untrimmed."""
        return await self._fetch_json(Endpoint.METER_READINGS, parse_meter_readings)

    async def device_data(self) -> DeviceData:
        """Read /ivp/pdm/device_data (inverter detail, at most ~50 devices)."""
        return await self._fetch_json(Endpoint.DEVICE_DATA, parse_device_data)

    async def device_inventory(self) -> dict[str, DevicePart]:
        """Read /inventory.json: part numbers and firmware (slow: read it rarely)."""
        return await self._fetch(
            Endpoint.INVENTORY_JSON,
            _json(Endpoint.INVENTORY_JSON, parse_device_inventory),
            # Open before fw 7, like production.json.
            authenticate=self._token is not None,
        )

    async def production_report(self, *, details: bool = True) -> ProductionReport:
        """Read /production.json: slow on the gateway, poll it rarely."""
        return await self._fetch(
            Endpoint.PRODUCTION_JSON,
            _json(Endpoint.PRODUCTION_JSON, parse_production_report),
            query="?details=1" if details else "",
            # No auth before fw 7; digest would only stumble on odd challenges.
            authenticate=self._token is not None,
        )

    async def ensemble_inventory(self) -> EnsembleInventory:
        """Read /ivp/ensemble/inventory: IQ Batteries and the system controller."""
        return await self._fetch_json(
            Endpoint.ENSEMBLE_INVENTORY, parse_ensemble_inventory
        )

    async def ensemble_status(self) -> EnsembleAggregate:
        """Read /ivp/ensemble/status: battery aggregates and the grid relay."""
        return await self._fetch_json(
            Endpoint.ENSEMBLE_STATUS,
            lambda obj: parse_ensemble_secctrl(obj, endpoint=Endpoint.ENSEMBLE_STATUS),
        )

    async def ensemble_secctrl(self) -> EnsembleAggregate:
        """Read /ivp/ensemble/secctrl: battery aggregates (no grid relay)."""
        return await self._fetch_json(Endpoint.ENSEMBLE_SECCTRL, parse_ensemble_secctrl)

    async def ensemble_power(self) -> tuple[BatteryPower, ...]:
        """Read /ivp/ensemble/power: each battery's power and state of charge."""
        return await self._fetch_json(Endpoint.ENSEMBLE_POWER, parse_ensemble_power)

    async def tariff(self) -> Tariff:
        """Read /admin/lib/tariff: storage mode, reserve, charge from grid."""
        return await self._fetch_json(Endpoint.TARIFF, parse_tariff)

    async def set_tariff(self, document: Mapping[str, Any]) -> None:
        """PUT a whole tariff document (as read, with the change made)."""
        await self._fetch(
            Endpoint.TARIFF,
            lambda _body: None,
            method="PUT",
            json_body=dict(document),
            retries=0,
        )

    async def dry_contacts(self) -> tuple[DryContact, ...]:
        """Read the Enpower relays' states and their settings."""
        states = await self._fetch_json(Endpoint.DRY_CONTACTS, lambda obj: obj)
        settings = await self._fetch_json(
            Endpoint.DRY_CONTACT_SETTINGS, lambda obj: obj
        )
        return self._parsed(
            Endpoint.DRY_CONTACT_SETTINGS, lambda: parse_dry_contacts(states, settings)
        )

    async def set_dry_contact_settings(self, record: Mapping[str, Any]) -> None:
        """POST one relay's whole settings record (a partial one can crash it)."""
        await self._fetch(
            Endpoint.DRY_CONTACT_SETTINGS,
            lambda _body: None,
            method="POST",
            json_body={"dry_contacts": dict(record)},
            retries=0,
        )

    async def set_dry_contact_state(self, contact_id: str, *, closed: bool) -> None:
        """Open or close a relay in manual mode."""
        await self._fetch(
            Endpoint.DRY_CONTACTS,
            lambda _body: None,
            method="POST",
            json_body={
                "dry_contacts": {
                    "id": contact_id,
                    "status": "closed" if closed else "open",
                }
            },
            retries=0,
        )

    async def production_page(self) -> ProductionPage:
        """Read the HTML /production page (Envoy-R firmware 3.x), slow."""
        return await self._fetch(Endpoint.PRODUCTION, parse_production_page)

    async def detect_capabilities(self) -> EnvoyCapabilities:
        """Find which endpoints this gateway serves and which production to trust."""
        capabilities, _reads = await detect(self)
        return capabilities

    async def detect(self) -> tuple[EnvoyCapabilities, DetectionReads]:
        """Detect capabilities and return what detection read, for reuse."""
        return await detect(self)

    # Request layer

    async def _fetch[T](
        self,
        endpoint: Endpoint,
        parse: Callable[[bytes], T],
        *,
        query: str = "",
        scheme: str | None = None,
        retries: int | None = None,
        authenticate: bool = True,
        method: str = "GET",
        json_body: object = None,
    ) -> T:
        """Request an endpoint (GET with retries) and parse it, keeping statistics."""
        body = await self._request(
            endpoint,
            query,
            scheme=scheme,
            retries=self._max_retries if retries is None else retries,
            authenticate=authenticate,
            method=method,
            json_body=json_body,
        )
        try:
            result = parse(body)
        except EnvoyError as err:
            self._record_failure(endpoint, err)
            raise
        except _FOREIGN_PARSE_ERRORS as err:
            error = EnvoyDataError(
                f"GET {endpoint} answered data that cannot be read "
                f"({type(err).__name__})",
                endpoint=endpoint,
            )
            self._record_failure(endpoint, error)
            raise error from err
        self._stats(endpoint).last_success = time.time()
        return result

    def _parsed[T](self, endpoint: Endpoint, parse: Callable[[], T]) -> T:
        """Run a parser outside ``_fetch``, with the same error mapping."""
        try:
            return parse()
        except EnvoyError as err:
            self._record_failure(endpoint, err)
            raise
        except _FOREIGN_PARSE_ERRORS as err:
            error = EnvoyDataError(
                f"{endpoint} answered data that cannot be read ({type(err).__name__})",
                endpoint=endpoint,
            )
            self._record_failure(endpoint, error)
            raise error from err

    async def _fetch_json[T](
        self, endpoint: Endpoint, parse: Callable[[object], T], *, query: str = ""
    ) -> T:
        """GET a JSON endpoint and parse it."""
        return await self._fetch(endpoint, _json(endpoint, parse), query=query)

    async def _request(
        self,
        endpoint: Endpoint,
        query: str,
        *,
        scheme: str | None,
        retries: int,
        authenticate: bool,
        method: str = "GET",
        json_body: object = None,
    ) -> bytes:
        """Request with bounded retries and exponential backoff for transient failures."""
        if scheme is not None:
            base_url = self._url_for(scheme)
        else:
            if self.base_url is None:
                await self.probe()
            base_url = self.base_url or self._url_for(self._scheme)
        delay = self._retry_backoff
        attempt = 0
        while True:
            try:
                return await self._attempt(
                    endpoint,
                    base_url,
                    f"{endpoint}{query}",
                    authenticate=authenticate,
                    method=method,
                    json_body=json_body,
                )
            except EnvoyRedirectError:
                raise
            except EnvoyConnectionError as err:
                if attempt >= retries:
                    raise
                _LOGGER.debug("%s; retrying in %s s", err, delay)
            # Sleep outside the lock so other callers can use the gateway.
            await asyncio.sleep(delay)
            delay *= 2
            attempt += 1

    async def _attempt(
        self,
        endpoint: Endpoint,
        base_url: str,
        path: str,
        *,
        authenticate: bool,
        method: str = "GET",
        json_body: object = None,
    ) -> bytes:
        """Send one request while holding the lock; map every failure to our errors."""
        headers: dict[str, str] = {}
        middlewares: tuple[DigestAuthMiddleware, ...] | None = None
        if authenticate and self._token is not None:
            headers[hdrs.AUTHORIZATION] = f"Bearer {self._token}"
        if authenticate and self._digest is not None:
            middlewares = (self._digest,)
        if self.info is not None and not self.info.requires_token:
            # Envoy-R drops pooled keep-alive connections during digest auth.
            headers[hdrs.CONNECTION] = "close"
        request = f"{method} {path}"
        stats = self._stats(endpoint)
        session = self._get_session()
        deadline = (
            self._deadline if endpoint.ruby else min(self._deadline, _NATIVE_DEADLINE_S)
        )
        scope = asyncio.timeout(deadline)
        deadline_passed = False
        try:
            async with self._lock:
                stats.requests += 1
                started = time.monotonic()
                try:
                    # One deadline for the whole exchange: a gateway trickling
                    # its answer must not hold the lock (and every tier) forever.
                    async with (
                        scope,
                        session.request(
                            method,
                            f"{base_url}{path}",
                            json=json_body,
                            headers=headers,
                            ssl=_GATEWAY_SSL_CONTEXT,
                            allow_redirects=False,
                            timeout=self._timeout,
                            middlewares=middlewares,
                        ) as response,
                    ):
                        status = response.status
                        location = response.headers.get(hdrs.LOCATION, "")
                        body = await response.read()
                finally:
                    deadline_passed = scope.expired()
                    latency = time.monotonic() - started
                    stats.last_latency_s = latency
                    stats.total_latency_s += latency
        except aiohttp.ConnectionTimeoutError as err:
            error: EnvoyError = EnvoyTimeoutError(
                f"{request} could not connect within {self._connect_timeout:g} s",
                endpoint=endpoint,
            )
            raise self._failed(endpoint, error, None) from err
        except TimeoutError as err:
            message = (
                f"{request} did not finish within {deadline:g} s"
                if deadline_passed
                else f"{request} timed out after {self._read_timeout:g} s"
            )
            error = EnvoyTimeoutError(message, endpoint=endpoint)
            raise self._failed(endpoint, error, None) from err
        except aiohttp.ClientError as err:
            if middlewares and type(err) is aiohttp.ClientError:
                # The digest middleware refuses a challenge it cannot parse
                # (fw 3.9 sends garbled WWW-Authenticate headers); it would
                # keep the broken challenge for every later request.
                if self._digest_credentials is not None:
                    self._digest = DigestAuthMiddleware(*self._digest_credentials)
                error = EnvoyAuthenticationError(
                    f"{request} was refused with an unusable digest challenge",
                    endpoint=endpoint,
                )
            else:
                error = EnvoyConnectionError(
                    f"{request} failed: {_describe(err)}", endpoint=endpoint
                )
            raise self._failed(endpoint, error, None) from err
        except (OSError, ValueError, LookupError) as err:
            error = EnvoyConnectionError(
                f"{request} failed: {_describe(err)}", endpoint=endpoint
            )
            raise self._failed(endpoint, error, None) from err
        stats.last_status = status
        self.last_responses[endpoint.value] = body.decode("utf-8", errors="replace")
        status_error = _status_error(request, endpoint, status, location)
        if status_error is not None:
            raise self._failed(endpoint, status_error, status)
        self.answers += 1
        if headers.get(hdrs.AUTHORIZATION) or middlewares:
            self.authorized_answers += 1
        return body

    def _failed(
        self, endpoint: Endpoint, error: EnvoyError, status: int | None
    ) -> EnvoyError:
        """Record a failed attempt and return its error for raising."""
        error.status = status
        self._stats(endpoint).last_status = status
        self._record_failure(endpoint, error)
        return error

    def _record_failure(self, endpoint: Endpoint, error: EnvoyError) -> None:
        """Count a failed request and keep its message."""
        stats = self._stats(endpoint)
        stats.failures += 1
        stats.last_error = str(error)

    def _stats(self, endpoint: Endpoint) -> EndpointStats:
        """Return the statistics of ``endpoint``, created on first use."""
        return self.stats.setdefault(endpoint.value, EndpointStats())

    def _url_for(self, scheme: str) -> str:
        """Return the base URL of the gateway for ``scheme``."""
        address = f"[{self._address}]" if ":" in self._address else self._address
        port = f":{self._port}" if self._port is not None else ""
        return f"{scheme}://{address}{port}"

    @override
    def _new_session(self) -> aiohttp.ClientSession:
        """Return our own session: no cookies, the Bearer header goes on every request."""
        return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


def _json[T](endpoint: Endpoint, parse: Callable[[object], T]) -> Callable[[bytes], T]:
    """Return a body parser: JSON from raw bytes, then ``parse``."""

    def parse_body(body: bytes) -> T:
        return parse(body_to_json(body, endpoint))

    return parse_body


def _nonzero_api_production(body: bytes) -> ApiProduction:
    """Parse /api/v1/production, refusing an all-zero answer."""
    production = parse_api_production(body_to_json(body, Endpoint.API_PRODUCTION))
    if all_zero(production):
        raise EnvoyNotReadyError(
            f"GET {Endpoint.API_PRODUCTION} answered all zeros: the gateway is not ready",
            endpoint=Endpoint.API_PRODUCTION,
        )
    return production


def _check_jwt_reply(body: bytes) -> None:
    """Accept only the gateway's "Valid token." page."""
    if _VALID_TOKEN_MARKER not in body.decode("utf-8", errors="replace"):
        raise EnvoyAuthenticationError(
            f"GET {Endpoint.CHECK_JWT} did not confirm the token",
            endpoint=Endpoint.CHECK_JWT,
        )


def _status_error(
    request: str, endpoint: Endpoint, status: int, location: str
) -> EnvoyError | None:
    """Return the error an HTTP status means, None for success."""
    if 200 <= status < 300:
        return None
    if status in _REDIRECT_STATUSES:
        return EnvoyRedirectError(
            f"{request} was redirected (HTTP {status}) to {location or 'nowhere'}",
            endpoint=endpoint,
        )
    if status in _AUTH_STATUSES:
        return EnvoyAuthenticationError(
            f"{request} was refused (HTTP {status}): credentials rejected",
            endpoint=endpoint,
        )
    if status == 404:
        return EnvoyEndpointMissingError(
            f"{request} answered HTTP 404: the gateway lacks this endpoint",
            endpoint=endpoint,
        )
    if status == 503:
        return EnvoyNotReadyError(
            f"{request} answered HTTP 503: the gateway is not ready", endpoint=endpoint
        )
    if status >= 500:
        return EnvoyConnectionError(
            f"{request} answered HTTP {status}: gateway error", endpoint=endpoint
        )
    return EnvoyDataError(
        f"{request} answered unexpected HTTP {status}", endpoint=endpoint
    )


def _describe(err: BaseException) -> str:
    """Return a short description of a transport error (no secrets in it)."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
