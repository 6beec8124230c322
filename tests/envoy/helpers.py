"""Helpers shared by the Envoy client tests."""

import asyncio
import base64
from dataclasses import dataclass, field
import json
from pathlib import Path
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    """Return a seed payload from tests/envoy/fixtures as parsed JSON."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    """Return a seed payload as the raw bytes a gateway would send."""
    return (FIXTURES / name).read_bytes()


def _segment(value: object) -> str:
    """Return ``value`` as an unpadded base64url JSON segment."""
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_token(claims: object) -> str:
    """Return an unsigned-looking JWT carrying ``claims``."""
    return f"{_segment({'alg': 'ES256', 'typ': 'JWT'})}.{_segment(claims)}.c2lnbmF0dXJl"


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    """What the scripted server received."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """A loopback HTTP server answering each path from a script.

    Each path has a list of replies used in turn; the last one repeats.
    Unscripted paths answer 404 with the gateway's JSON error.
    """

    def __init__(self) -> None:
        """Start with an empty script."""
        self.script: dict[str, list[Reply]] = {}
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")

    def add(self, path: str, *replies: Reply) -> None:
        """Script the replies of ``path`` (path plus query string)."""
        self.script[path] = list(replies)

    @property
    def address(self) -> str:
        """Return ``127.0.0.1:port``."""
        return f"127.0.0.1:{self._server.port}"

    def url(self, path: str) -> str:
        """Return the plain-HTTP URL of ``path``."""
        return f"http://{self.address}{path}"

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        return [request.path_qs for request in self.requests]

    async def start(self) -> None:
        """Listen on a free loopback port."""
        await self._server.start_server()

    async def close(self) -> None:
        """Stop listening."""
        await self._server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer from the script."""
        self.requests.append(
            SeenRequest(
                method=request.method,
                path_qs=request.path_qs,
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        replies = self.script.get(request.path_qs) or [
            Reply(404, b'{"error": "404 - Not Found"}')
        ]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def info_xml(
    serial: str = "122112123456",
    software: str = "D7.6.175",
    *,
    part_number: str = "800-00654-r08",
    metered: bool = True,
    web_tokens: bool = True,
) -> bytes:
    """Return an /info document."""
    imeter = str(metered).lower()
    tokens = str(web_tokens).lower()
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<envoy_info><time>1753700000</time>"
        f"<device><sn>{serial}</sn><pn>{part_number}</pn><software>{software}</software>"
        f"<imeter>{imeter}</imeter></device><web-tokens>{tokens}</web-tokens></envoy_info>"
    ).encode()


def json_reply(payload: object, status: int = 200) -> Reply:
    """Return a reply carrying ``payload`` as JSON without a Content-Type."""
    return Reply(status, json.dumps(payload).encode())
