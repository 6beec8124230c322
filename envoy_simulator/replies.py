"""Answers as the pipeline decides them, and how they go on the wire."""

from dataclasses import dataclass, field
import json
from typing import Any

from aiohttp import hdrs, web

type Json = Any

NOT_FOUND_JSON = {"error": "404 - Not Found"}
UNAUTHORIZED_JSON = {"error": "401 - Unauthorized"}


class AbortConnectionError(Exception):
    """The pipeline resets the connection instead of answering."""


class BareResponse(web.Response):
    """A response sent without any Content-Type header, like /info and /ivp/* on the gateway."""

    async def _write_headers(self) -> None:
        """Drop the Content-Type aiohttp adds by default, then write the headers."""
        self.headers.popall(hdrs.CONTENT_TYPE, None)
        await super()._write_headers()


class BareStreamResponse(web.StreamResponse):
    """A streamed response without any Content-Type header."""

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
    outage_s: float | None = None
    """After answering, reset every connection for this many simulator seconds (a crash)."""


def json_reply(
    payload: Json, *, status: int = 200, content_type: str | None = "application/json"
) -> Reply:
    """Return a JSON reply that keeps its payload for later transforms."""
    return Reply(status, json.dumps(payload).encode(), content_type, payload=payload)


def text_reply(
    text: str, *, status: int = 200, content_type: str | None = "text/html"
) -> Reply:
    """Return a text reply."""
    return Reply(status, text.encode(), content_type)


def to_response(reply: Reply, *, secure: bool) -> web.Response:
    """Turn ``reply`` into an aiohttp response (``secure``: cookies for HTTPS)."""
    response: web.Response
    if reply.content_type is None:
        response = BareResponse(
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
        response.set_cookie(name, value, path="/", httponly=True, secure=secure)
    if reply.close:
        response.force_close()
    return response


def to_stream(reply: Reply) -> web.StreamResponse:
    """Return a streamed response announcing ``reply``'s full length up front."""
    response = (
        BareStreamResponse(status=reply.status, headers=reply.headers)
        if reply.content_type is None
        else web.StreamResponse(status=reply.status, headers=reply.headers)
    )
    if reply.content_type is not None:
        response.content_type = reply.content_type
    # A declared length lets the client see a body that stops short as incomplete.
    response.content_length = len(reply.body)
    return response
