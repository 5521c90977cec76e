"""One multiplexed Redis connection for the id store's hot reads.

Why not redis-py for these: its asyncio client spends more CPU per command on
bookkeeping (pool checkout, health check, the retry wrapper, a `wait_for` per
send) than on the command itself. Here each command is packed as it comes and
the commands of one turn of the event loop leave in one write on one socket;
the replies, which Redis sends in order, resolve a FIFO of futures (parsed by
hiredis). Concurrent requests are thereby pipelined on one connection: no
pool, no per-command timer, one system call per batch instead of per command.

Failures are reported as the exceptions redis-py raises (`ResponseError`,
`ConnectionError`, `TimeoutError` from `redis.exceptions`), so the store
treats them exactly as before. There is no retry here: a lost connection
fails what was pending, and the next command connects again, once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# URL options the pipe honours; a URL with any other (TLS, a unix socket, a client name,
# RESP3, its own timeouts...) is left to redis-py, which knows them all.
_PLAIN_OPTIONS = frozenset({"host", "port", "db", "username", "password"})


def pack(args: Sequence[str | bytes | int]) -> bytes:
    """A command as a RESP array of bulk strings (text as UTF-8, as redis-py encodes it)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Connection(asyncio.Protocol):
    """One socket to Redis: writes commands as they come, matches replies in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.loop = loop
        self.closed = False
        self._timeout_s = timeout_s
        # decode_responses=True semantics: text is UTF-8, strictly; a bad reply raises
        # UnicodeDecodeError from gets() after consuming it, so the FIFO stays in step.
        self._reader = hiredis.Reader(encoding="utf-8", errors="strict", replyError=ResponseError)
        self._pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []  # packed commands waiting for this turn's write
        self._watchdog: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ asyncio calls us

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        pending = self._pending
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except UnicodeDecodeError as exc:
                reply = exc  # that one reply is unreadable; its caller alone gets the error
            except hiredis.ProtocolError as exc:
                self._fail(RedisConnectionError, f"unreadable reply from Redis: {exc}")
                return
            if reply is False:  # the rest of a reply is still on its way
                return
            if not pending:
                self._fail(RedisConnectionError, "Redis sent a reply nobody asked for")
                return
            future, _sent = pending.popleft()
            if future.done():  # its caller went away: the reply is dropped, the order kept
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError, f"connection to Redis lost ({exc or 'closed by peer'})")

    # ------------------------------------------------------------ the pipe calls us

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Queue one packed command for this loop turn's write; the future gets its reply.

        The commands of one turn of the loop (the callers woken by one batch of
        replies) leave in one write: one system call instead of one each.
        """
        if self.closed or self._transport is None:
            raise RedisConnectionError("connection to Redis is closed")
        future = self.loop.create_future()
        now = self.loop.time()
        self._pending.append((future, now))
        out = self._out
        out.append(packed)
        if len(out) == 1:
            self.loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(now + self._timeout_s, self._check)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed and self._transport is not None:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def close(self) -> None:
        self._fail(RedisConnectionError, "connection to Redis closed")

    # ------------------------------------------------------------ timeouts

    def _check(self) -> None:
        """The watchdog: one timer for the whole FIFO instead of one per command.

        Replies come in order, so only the oldest pending command can be overdue
        first; when it is, the connection is beyond trusting and everything fails.
        """
        self._watchdog = None
        if not self._pending:
            return
        deadline = self._pending[0][1] + self._timeout_s
        if self.loop.time() >= deadline:
            self._fail(RedisTimeoutError, f"no reply from Redis within {self._timeout_s}s")
        else:
            self._watchdog = self.loop.call_at(deadline, self._check)

    def _fail(self, error: type[Exception], message: str) -> None:
        """Close for good and fail every pending command (each with its own exception)."""
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        pending, self._pending = self._pending, deque()
        self._out = []
        if self._transport is not None:
            self._transport.abort()
        for future, _sent in pending:
            if not future.done():
                future.set_exception(error(message))


def _drop(conn: _Connection) -> None:
    """Close a connection if this thread may: one of the running loop, or of a loop not running
    (a store used on a later loop); one of a loop running elsewhere is left to that loop."""
    if conn.loop.is_closed():
        return
    if conn.loop.is_running() and conn.loop is not asyncio.get_running_loop():
        return
    with contextlib.suppress(RuntimeError):
        conn.close()


class RedisPipe:
    """Commands over one lazily opened, multiplexed connection (per event loop).

    `timeout_s` bounds how long the oldest command may wait for its reply;
    `connect_timeout_s` bounds the TCP connect.
    """

    def __init__(
        self,
        host: str,
        port: int = 6379,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 1.0,
        connect_timeout_s: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        handshake: list[bytes] = []
        if username or password:  # the arguments redis-py sends for the same URL
            handshake.append(pack(("AUTH", username, password or "") if username
                                  else ("AUTH", password or "")))
        if db:
            handshake.append(pack(("SELECT", db)))
        self._handshake = handshake
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._closes = 0  # counts close() calls, so a connect that outlives one is dropped

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float, connect_timeout_s: float
    ) -> RedisPipe | None:
        """A pipe for a plain `redis://host:port/db` URL (with credentials); None otherwise."""
        if urlsplit(url).scheme != "redis":
            return None
        options = parse_url(url)
        if not options.keys() <= _PLAIN_OPTIONS or "host" not in options:
            return None
        return cls(
            options["host"],
            options.get("port", 6379),
            db=options.get("db", 0),
            username=options.get("username"),
            password=options.get("password"),
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
        )

    def __repr__(self) -> str:  # never the password
        return f"RedisPipe({self.host}:{self.port})"

    async def execute(self, *args: str | bytes | int) -> Any:
        """Send one command and return its reply (text decoded, an error reply raised)."""
        conn = self._conn
        if conn is None or conn.closed or conn.loop is not asyncio.get_running_loop():
            conn = await self._connected()
        return await conn.send(pack(args))

    async def close(self) -> None:
        """Drop the connection (and a connect under way); a later command connects again."""
        self._closes += 1
        self._connecting = None  # a connect under way finishes, then closes what it made
        conn, self._conn = self._conn, None
        if conn is not None:
            _drop(conn)

    # ------------------------------------------------------------ connecting

    async def _connected(self) -> _Connection:
        """The open connection, made by one task however many commands wait for it."""
        loop = asyncio.get_running_loop()
        task = self._connecting
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._open(loop))
            # Retrieved here so a failure every waiter has left is not logged as lost.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._connecting = task
        return await asyncio.shield(task)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        closes = self._closes
        try:
            old, self._conn = self._conn, None
            if old is not None:
                _drop(old)
            conn = await self._dial(loop)
            try:
                await self._introduce(conn)
            except BaseException:
                conn.close()
                raise
            if closes != self._closes:
                conn.close()
                raise RedisConnectionError("the Redis pipe was closed while connecting")
            self._conn = conn
            return conn
        finally:
            if self._connecting is asyncio.current_task():
                self._connecting = None

    async def _dial(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _transport, conn = await loop.create_connection(
                    lambda: _Connection(loop, self.timeout_s), self.host, self.port)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"timeout connecting to Redis at {where}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"error connecting to Redis at {where}: {exc}") from exc
        return conn

    async def _introduce(self, conn: _Connection) -> None:
        """AUTH and SELECT, sent together; their replies are awaited before any command."""
        if not self._handshake:
            return
        replies = await asyncio.gather(*(conn.send(c) for c in self._handshake),
                                       return_exceptions=True)
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise AuthenticationError(f"Redis refused the connection set-up: {reply}")
            if isinstance(reply, BaseException):
                raise reply
