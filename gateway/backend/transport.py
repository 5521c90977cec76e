"""One HTTP/1.1 request to the backend on a pooled keep-alive connection, and its answer.

Why not aiohttp's client session: one backend GET cost ~175-200 µs of client
CPU there (request set-up, URL objects, header multidicts, timers, trace hooks,
cookie jar, connector bookkeeping), about a sixth of a whole SCIM lookup. The
backend hop needs far less: a fixed host, fixed headers, JSON bodies. So a
request here is one pre-formatted bytes buffer written on an idle connection
of a LIFO pool, and the answer is parsed by `httptools` (uvicorn's C parser:
content-length, chunked, no-body statuses, keep-alive). Timeouts need no timer
per request (a uvloop timer costs about as much as the parsing): each request
notes its deadline on its connection, and one pool timer, armed at the
earliest deadline in flight, fails the requests that are past theirs.

Failures come in the two classes the client's retry rules need:

- `CannotConnect`: nothing was sent (refused, DNS, TLS handshake, connect
  timeout, no pooled connection free in time), so repeating is always safe;
- `NoAnswer`: the request was written and no complete answer came (reset,
  closed before or during the answer, timeout, malformed HTTP). The backend may
  have applied it. That includes a keep-alive connection the server closed
  while we wrote on it: nothing here is ever replayed; the caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections import deque
from collections.abc import Mapping
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

#: An idle connection older than this is closed rather than reused (aiohttp's client
#: default): the server's own keep-alive timer is ever likelier to close it under a request.
IDLE_TIMEOUT_S = 15.0
#: A timer may fire up to the loop's clock resolution early; a deadline this close has passed.
_TIMER_SLACK_S = 0.002
#: Characters a base URL's path keeps as they are (already-quoted escapes included).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class TransportError(Exception):
    """A request that got no HTTP answer; `timed_out` tells a hang from a refusal."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class CannotConnect(TransportError):
    """Nothing was sent: the backend cannot have acted on it, so any call may be repeated."""


class NoAnswer(TransportError):
    """The request was sent and no whole answer came: it may or may not have been applied."""


class Response:
    """An answer: status, the headers the transport was asked to keep, the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parses answers into the waiting request's future."""

    def __init__(self, pool: HttpTransport) -> None:
        self._pool = pool
        self._keep = pool._keep_headers
        self._sizes = pool._header_sizes
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        #: The current request's answer; None while idle or once answered.
        self.waiter: asyncio.Future[Response] | None = None
        self.lost = False  # connection_lost seen
        self.reusable = True  # False once anything makes the next answer untrustworthy
        self.idle = False  # in the pool's idle list
        self.counted = False  # holds one of the pool's `pool_size` slots
        self.idle_since = 0.0
        self.deadline = 0.0  # of the request in flight
        self.timeout_s = 0.0
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._framed = False  # the answer said how its body ends (length or chunked)
        self._to_eof = False  # the answer's body runs until the server closes
        self._began = False  # some byte of the current answer arrived

    # ----------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:  # one write per request already; never wait for an ACK
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection can't be trusted
            self.close()
            return
        self._began = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self.fail(NoAnswer(f"malformed HTTP answer ({type(exc).__name__})"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        if self.waiter is not None:
            if self._to_eof and exc is None:  # the body ran "until the server closes": done
                self._answer()
            elif exc is not None:
                self.fail(NoAnswer(f"connection lost ({type(exc).__name__})"))
            elif self._began:
                self.fail(NoAnswer("server closed the connection mid-answer"))
            else:
                self.fail(NoAnswer("server closed the connection before answering"))
        self._pool._lost(self)

    # ----------------------------------------------------------- httptools callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None:  # a second answer to one request
            self.reusable = False
        self._status = 0
        self._headers = {}
        self._body = []
        self._framed = self._to_eof = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) not in self._sizes:  # cheaper than lower-casing every name
            return
        key = name.lower()
        if key == b"content-length" or key == b"transfer-encoding":
            self._framed = True
        elif key in self._keep:
            self._headers[key.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._status = self._parser.get_status_code()
        self._to_eof = not self._framed and status >= 200 and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim answer (100 Continue...): the real one follows
            return
        self._to_eof = False
        if not self._parser.should_keep_alive():
            self.reusable = False
        self._answer()

    # ----------------------------------------------------------- the pool's side

    def begin(self, waiter: asyncio.Future[Response]) -> None:
        self.waiter = waiter
        self._began = False

    def _answer(self) -> None:
        waiter, self.waiter = self.waiter, None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._headers, body))

    def fail(self, exc: TransportError) -> None:
        """End the current request with `exc`; the connection is not reused."""
        self.reusable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def time_out(self) -> None:
        self.fail(NoAnswer(f"no answer within {self.timeout_s:g}s", timed_out=True))
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def path_prefix(base_url: str) -> str:
    """The request-target prefix of a base URL ("http://h:1/api/" → "/api"), percent-encoded."""
    return quote(urlsplit(base_url).path.rstrip("/"), safe=_PATH_SAFE)


class HttpTransport:
    """A pool of at most `pool_size` keep-alive connections to one http(s) origin.

    Idle connections are reused last-in first-out (the warmest first); a request
    finding every connection busy queues until one is handed back or closed.
    `headers` are sent on every request, encoded once here.
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        pool_size: int = 100,
        keep_headers: tuple[str, ...] = ("Retry-After",),
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the backend URL must be http:// or https:// with a host")
        self._host = parts.hostname
        https = parts.scheme == "https"
        self._port = parts.port or (443 if https else 80)
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if https else None
        host = f"[{self._host}]" if ":" in self._host else self._host
        if parts.port is not None:
            host += f":{parts.port}"
        fixed = {"Host": host, **headers}
        self._check(fixed)
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self.pool_size = max(1, pool_size)
        self.idle_timeout_s = idle_timeout_s
        self._keep_headers = frozenset(h.lower().encode("latin-1") for h in keep_headers)
        # The lengths of the header names an answer is searched for (framing + kept ones).
        self._header_sizes = frozenset(
            {len(b"content-length"), len(b"transfer-encoding")}
            | {len(h) for h in self._keep_headers}
        )
        self._loop = asyncio.get_running_loop()
        self._idle: list[_Connection] = []  # LIFO: the last one handed back is used first
        self._all: set[_Connection] = set()
        self._open = 0  # slots taken: connections open or being opened
        # Requests waiting for a slot; each gets a connection, or None: "open your own".
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False
        # The one timer failing requests past their deadline, and when it fires.
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_at = math.inf

    @staticmethod
    def _check(headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ValueError(f"header {name!r} would break the request")

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> Response:
        """Send `method target` (a percent-encoded path and query) and read the whole answer.

        `timeout_s` bounds everything (a free connection, connecting, the answer);
        `connect_timeout_s` the connect alone. Raises CannotConnect or NoAnswer.
        """
        if self._closed:
            raise CannotConnect("the client is closed")
        extra = ""
        if headers:
            self._check(headers)
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body is not None or method != "GET":
            extra += f"Content-Length: {len(body) if body is not None else 0}\r\n"
        head = f"{method} {target} HTTP/1.1\r\n".encode() + self._fixed + extra.encode() + b"\r\n"
        loop = self._loop
        now = loop.time()
        deadline = now + timeout_s
        conn = self._take_idle(now)
        if conn is None:
            conn = await self._acquire(deadline, connect_timeout_s)
        answer: asyncio.Future[Response] = loop.create_future()
        conn.begin(answer)
        conn.deadline = deadline
        conn.timeout_s = timeout_s
        if deadline < self._sweep_at:
            self._arm(deadline)
        assert conn.transport is not None  # set by _connect
        conn.transport.write(head + body if body else head)
        try:
            return await answer
        finally:
            # Cancelled mid-answer, the connection still carries that answer: not reusable.
            self._release(conn, conn.reusable and conn.waiter is None)

    async def close(self) -> None:
        """Close every connection (idle or busy) and fail every queued request."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper, self._sweep_at = None, math.inf
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(CannotConnect("the client is closed"))
        self._idle.clear()
        for conn in list(self._all):
            conn.close()
        await asyncio.sleep(0)  # let the transports close before the loop may stop

    # ----------------------------------------------------------------- timeouts

    def _arm(self, when: float) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._sweep_at = when
        self._sweeper = self._loop.call_at(when, self._sweep)

    def _sweep(self) -> None:
        """Fail every request past its deadline; re-arm for the earliest one still in flight."""
        self._sweeper, self._sweep_at = None, math.inf
        now = self._loop.time() + _TIMER_SLACK_S  # a timer may fire a hair early
        earliest = math.inf
        for conn in list(self._all):
            if conn.waiter is None:
                continue
            if conn.deadline <= now:
                conn.time_out()
            elif conn.deadline < earliest:
                earliest = conn.deadline
        if earliest < math.inf and not self._closed:
            self._arm(earliest)

    # ----------------------------------------------------------------- the pool

    def _take_idle(self, now: float) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            conn.idle = False
            if not conn.reusable:
                self._free(conn)
                continue
            if now - conn.idle_since > self.idle_timeout_s:
                # Idle too long, and every one below it longer still.
                stale = [conn, *idle]
                idle.clear()
                for old in stale:
                    old.idle = False
                    old.close()
                    self._free(old)
                return None
            return conn
        return None

    async def _acquire(self, deadline: float, connect_timeout_s: float) -> _Connection:
        """A connection when no idle one was at hand: open one in a free slot, or queue."""
        if self._open < self.pool_size:
            self._open += 1
            return await self._connect(deadline, connect_timeout_s)
        waiter: asyncio.Future[_Connection | None] = self._loop.create_future()
        self._waiters.append(waiter)
        timer = self._loop.call_at(deadline, _expire, waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()  # handed over just as we were cancelled
                if handed is None:
                    self._slot_freed()
                else:
                    self._release(handed, True)
            raise
        finally:
            timer.cancel()
        if conn is not None:
            if conn.reusable and not conn.lost:
                return conn
            # Closed by the server on its way to us: keep its slot for a new connection.
            conn.close()
            conn.counted = False
            self._all.discard(conn)
        return await self._connect(deadline, connect_timeout_s)  # in the slot handed over

    async def _connect(self, deadline: float, connect_timeout_s: float) -> _Connection:
        """Open a connection in a slot already taken; on failure the slot is given back."""
        conn = _Connection(self)
        transport: asyncio.Transport
        timeout_s = min(connect_timeout_s, deadline - self._loop.time())
        try:
            if timeout_s <= 0:
                raise TimeoutError
            async with asyncio.timeout(timeout_s):
                # uvloop may return before calling connection_made: keep what it returns.
                transport, _ = await self._loop.create_connection(
                    lambda: conn, self._host, self._port, ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError as exc:
            self._slot_freed()
            raise CannotConnect(f"connect timeout ({max(timeout_s, 0):g}s)",
                                timed_out=True) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake
            self._slot_freed()
            raise CannotConnect(type(exc).__name__) from exc
        except BaseException:
            self._slot_freed()
            raise
        conn.transport = transport
        conn.counted = True
        self._all.add(conn)
        if self._closed or conn.lost:
            conn.close()
            self._free(conn)
            raise CannotConnect("connection closed as it opened")
        return conn

    def _release(self, conn: _Connection, reusable: bool) -> None:
        """A request is done with `conn`: hand it to a waiting request, park it, or close it."""
        if not reusable or conn.lost or self._closed:
            conn.close()
            self._free(conn)
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.idle = True
        conn.idle_since = self._loop.time()
        self._idle.append(conn)

    def _lost(self, conn: _Connection) -> None:
        """The server closed `conn`; if it sat idle, it leaves the pool now."""
        if conn.idle:
            conn.idle = False
            with contextlib.suppress(ValueError):
                self._idle.remove(conn)
            self._free(conn)

    def _free(self, conn: _Connection) -> None:
        """`conn` is done for good; its slot goes to a waiting request or back to the pool."""
        if conn.counted:
            conn.counted = False
            self._all.discard(conn)
            self._slot_freed()

    def _slot_freed(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to it; `_open` stays
                return
        self._open -= 1


def _expire(waiter: asyncio.Future[_Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(CannotConnect("no pooled connection free in time", timed_out=True))
