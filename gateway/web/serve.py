"""Serving the app on a socket, with slow and idle clients timed out and connections capped.

aiohttp's server closes idle keep-alive connections (`keepalive_timeout`) but
has no deadline for reading a request: a client dribbling its headers or body
a byte at a time holds its socket, and a handful of such clients hold them
all. `GuardedSite` wraps each connection's aiohttp protocol in
`GuardedConnection`, which closes it when

- a request's line and headers have not all arrived `header_timeout_s` after
  its first byte (or after the connection opened), or
- its body has not all arrived `body_timeout_s` after its headers,

and answers `503` (and closes) any connection beyond `max_connections` open
in this worker, so a flood of sockets cannot starve the requests being served.
The protocol sees every byte before aiohttp does and learns that a request's
head is complete when aiohttp builds the request (`Server.request_factory`,
wrapped once per site), so no HTTP parsing is duplicated here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from gateway import heap, jsonio
from gateway.config import Config, ServerConfig
from gateway.eventloop import new_event_loop
from gateway.scim.errors import ScimError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000

    @classmethod
    def from_config(cls, server: ServerConfig) -> ConnectionLimits:
        return cls(server.header_timeout_s, server.body_timeout_s, server.max_connections)


def _refusal() -> bytes:
    """The whole 503 sent to a connection over the cap (built once)."""
    body = jsonio.dumps(ScimError(503, "Too many connections; retry shortly").body())
    head = ("HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/scim+json; charset=utf-8\r\n"
            "Retry-After: 1\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


REFUSAL = _refusal()


class GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's protocol inside, read deadlines around it."""

    def __init__(self, site: GuardedSite) -> None:
        self._site = site
        self._inner: RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._timing: str | None = None  # what the deadline is for: "headers" or "body"
        self._payload: Any = None  # the current request's body stream, once its head is in

    # -- asyncio.Protocol, forwarded to aiohttp's protocol -----------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport: asyncio's, or uvloop's (which doesn't subclass asyncio.Transport).
        self._transport = stream = cast(asyncio.Transport, transport)
        site = self._site
        if len(site.connections) >= site.limits.max_connections:
            site.refused += 1
            stream.write(REFUSAL)
            stream.close()
            return
        site.connections[self._handler()] = self
        assert self._inner is not None
        self._inner.connection_made(transport)
        self._arm(self._site.limits.header_timeout_s, "headers")

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        body_done = self._payload is None or self._payload.is_eof()
        if body_done and self._timing != "headers":
            # The first bytes of the next request on a kept-alive connection.
            self._payload = None
            self._arm(self._site.limits.header_timeout_s, "headers")
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()  # aiohttp's handler never keeps the transport half-open
        return None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._inner is None:
            return
        self._site.connections.pop(self._inner, None)
        self._inner.connection_lost(exc)

    # -- deadlines ----------------------------------------------------------------

    def request_started(self, payload: Any) -> None:
        """aiohttp has the request's head: stop the header clock, start the body's."""
        self._disarm()
        self._payload = payload
        if not payload.is_eof():
            self._arm(self._site.limits.body_timeout_s, "body")

    def _handler(self) -> RequestHandler:
        server = self._site.server
        self._inner = server()  # aiohttp's own protocol, with the runner's settings
        return self._inner

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(seconds, self._expired, what)
        self._timing = what

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._timing = None

    def _expired(self, what: str) -> None:
        self._deadline = self._timing = None
        if what == "body" and (self._payload is None or self._payload.is_eof()):
            return
        self._site.timed_out += 1
        log.debug("closing a connection whose request %s did not arrive in time", what)
        if self._transport is not None:
            self._transport.abort()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are `GuardedConnection`s (see the module docstring).

    Listens on `host`:`port`, or on `sock` already bound (the workers share one).
    """

    def __init__(self, runner: web.BaseRunner, limits: ConnectionLimits, *,
                 host: str | None = None, port: int = 0, sock: socket.socket | None = None,
                 backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self.limits, self.host, self._port, self._sock = limits, host, port, sock
        self.connections: dict[RequestHandler, GuardedConnection] = {}
        self.refused = 0  # connections answered 503 over the cap
        self.timed_out = 0  # connections closed for a late head or body

    @property
    def name(self) -> str:
        return f"http://{self.host or '0.0.0.0'}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (the requested one may be 0)."""
        server = self._server  # an asyncio.Server: create_server made it
        if isinstance(server, asyncio.Server) and server.sockets:
            port: int = server.sockets[0].getsockname()[1]
            return port
        return self._port

    @property
    def server(self) -> web.Server:
        server = self._runner.server
        assert server is not None, "runner.setup() first"
        return server

    async def start(self) -> None:
        await super().start()
        server = self.server
        inner = server.request_factory
        connections = self.connections

        def request_factory(message: Any, payload: Any, protocol: Any, writer: Any,
                            task: Any) -> web.BaseRequest:
            connection = connections.get(protocol)
            if connection is not None:
                connection.request_started(payload)
            return inner(message, payload, protocol, writer, task)

        server.request_factory = request_factory
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(lambda: GuardedConnection(self),
                                                    sock=self._sock, backlog=self._backlog)
        else:
            self._server = await loop.create_server(lambda: GuardedConnection(self), self.host,
                                                    self._port, backlog=self._backlog)


async def start_site(app: web.Application, config: Config, *, host: str | None = None,
                     port: int | None = None,
                     **runner_options: Any) -> tuple[web.AppRunner, GuardedSite]:
    """Set up `app` and serve it with the `[server]` timeouts and connection cap
    (`runner_options` go to `web.AppRunner`)."""
    server = config.server
    options = {"access_log": None, "keepalive_timeout": server.keepalive_timeout_s,
               **runner_options}
    runner = web.AppRunner(app, **options)
    await runner.setup()
    site = GuardedSite(runner, ConnectionLimits.from_config(server),
                       host=server.host if host is None else host,
                       port=server.port if port is None else port)
    await site.start()
    return runner, site


def run(app: web.Application, config: Config, **runner_options: Any) -> None:
    """Serve until SIGINT/SIGTERM, then let in-flight requests finish (as `web.run_app`)."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        runner, _ = await start_site(app, config, **runner_options)
        heap.settle()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()  # stops listening, waits for in-flight requests

    with asyncio.Runner(loop_factory=new_event_loop) as runner:  # uvloop when installed
        runner.run(serve())
