"""Listening sockets: the accept loop and TLS-or-plain detection on one port."""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
import logging
import socket
import ssl
import struct
from typing import Literal

from aiohttp import web

from .tls import server_context

_LOGGER = logging.getLogger(__package__)

_TLS_HANDSHAKE_BYTE = 0x16
_FIRST_BYTE_TIMEOUT_S = 30.0

type ListenerMode = Literal["dual", "http", "https"]


@dataclass(slots=True)
class Listener:
    """A listening socket and its accept loop."""

    sock: socket.socket
    mode: ListenerMode
    port: int
    task: asyncio.Task[None] | None = None


class ListenerSet:
    """Sockets that hand every connection, TLS or plain, to one aiohttp server."""

    def __init__(self, host: str, tls_allowed: Callable[[], bool]) -> None:
        """Listen on ``host``; ``tls_allowed`` says whether TLS is accepted now."""
        self.host = host
        self._tls_allowed = tls_allowed
        self._runner: web.AppRunner | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._listeners: list[Listener] = []
        self._connection_tasks: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.Transport] = set()
        self.stopping = False

    async def prepare(self, runner: web.AppRunner) -> None:
        """Serve connections with ``runner`` (already set up)."""
        self.stopping = False
        self._runner = runner
        self._ssl_context = await shared_ssl_context(asyncio.get_running_loop())

    def listen(self, port: int, mode: ListenerMode) -> int:
        """Bind a listening socket, start accepting on it and return its port."""
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
        listener = Listener(sock=sock, mode=mode, port=sock.getsockname()[1])
        listener.task = asyncio.get_running_loop().create_task(
            self._accept_loop(listener), name=f"envoy-simulator-accept-{listener.port}"
        )
        self._listeners.append(listener)
        return listener.port

    async def close(self) -> None:
        """Close every listener and connection."""
        self.stopping = True
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

    async def _accept_loop(self, listener: Listener) -> None:
        """Accept connections and hand each to its own task."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener.sock)
            except OSError as err:
                if self.stopping:
                    return
                _LOGGER.debug("accept failed on port %s: %s", listener.port, err)
                await asyncio.sleep(0.01)
                continue
            conn.setblocking(False)
            task = loop.create_task(self._serve_socket(conn, listener))
            self._connection_tasks.add(task)
            task.add_done_callback(self._connection_tasks.discard)

    async def _serve_socket(self, conn: socket.socket, listener: Listener) -> None:
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
            if use_tls and not self._tls_allowed():
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


_SSL_CONTEXT: list[ssl.SSLContext] = []


async def shared_ssl_context(loop: asyncio.AbstractEventLoop) -> ssl.SSLContext:
    """Return the process-wide TLS context, creating it off the event loop once."""
    if not _SSL_CONTEXT:
        # Certificate files are written and read in the executor, not the loop.
        context = await loop.run_in_executor(None, server_context)
        if not _SSL_CONTEXT:
            _SSL_CONTEXT.append(context)
    return _SSL_CONTEXT[0]


def local_port(request: web.BaseRequest) -> int | None:
    """Return the local port the request arrived on."""
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    return int(sockname[1]) if isinstance(sockname, tuple) else None


def abort(request: web.BaseRequest) -> None:
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
