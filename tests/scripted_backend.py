"""A real-socket HTTP/1.1 server that answers from a script, misbehaving on cue.

The backend client's fault handling is about what arrives on the socket: a
reset before the answer, a connection closed mid-body, an answer that never
comes, bytes that are not HTTP, `Connection: close`, chunked bodies. The
sandbox answers correctly, so these tests talk to this server instead: each
request it reads takes the next step of its script (first in, first out,
whatever the connection) and records what was sent, so a test can assert on
the method, path, query, headers and body of every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.net import free_port

#: A self-signed certificate and key for 127.0.0.1 and localhost (tests only; valid to 2126).
TLS_PEM = Path(__file__).parent / "tls" / "localhost.pem"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
           400: "Bad Request", 404: "Not Found", 412: "Precondition Failed",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # which accepted connection carried it (1, 2, ...)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


# A step: given the request and the connection's writer, answer (or not).
Step = Callable[[Seen, asyncio.StreamWriter], Any]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reply(status: int = 200, payload: Any = None, *, body: bytes | str | None = None,
          headers: dict[str, str] | None = None, close: bool = False,
          chunked: bool = False, until_eof: bool = False, hang_up: bool = False) -> Step:
    """A well-formed answer: JSON `payload` or raw `body`; `close` sends `Connection: close`
    and closes; `chunked` sends the body in chunks; `until_eof` sends no length and closes;
    `hang_up` closes right after a keep-alive answer (an idle connection the server drops)."""
    if payload is not None:
        data = json.dumps(payload).encode()
        content_type = "application/json"
    else:
        data = body.encode() if isinstance(body, str) else (body or b"")
        content_type = "text/plain"
    hdrs = {"Content-Type": content_type, **(headers or {})}
    if close:
        hdrs["Connection"] = "close"

    async def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
            pieces = [data[i:i + 7] for i in range(0, len(data), 7)]
            framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
            writer.write(_head(status, hdrs))
            await writer.drain()
            writer.write(framed)
        elif until_eof:
            hdrs["Connection"] = "close"
            writer.write(_head(status, hdrs) + data)
        else:
            if status not in (204, 304):
                hdrs["Content-Length"] = str(len(data))
            writer.write(_head(status, hdrs) + (data if status not in (204, 304) else b""))
        await writer.drain()
        if close or until_eof or hang_up:
            writer.close()

    return step


def reset(after: bytes = b"") -> Step:
    """Reset the connection (RST), after sending `after` (by default no byte of answer)."""

    async def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        if after:
            writer.write(after)
            await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return step


def drop() -> Step:
    """Close the connection cleanly (FIN) without a byte of answer."""

    def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return step


def cut_mid_body() -> Step:
    """Promise 200 bytes of body, send 10, close."""

    async def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "application/json", "Content-Length": "200"})
                     + b'{"id": 7, ')
        await writer.drain()
        writer.close()

    return step


def hang() -> Step:
    """Read the request and never answer (the client must time out)."""

    def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        return None

    return step


def slow_headers() -> Step:
    """Send the status line, then nothing more."""

    async def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        await writer.drain()

    return step


def garbage() -> Step:
    """Answer with bytes that are not HTTP."""

    async def step(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready, not HTTP\r\n\r\n")
        await writer.drain()

    return step


@dataclass
class ScriptedBackend:
    """`async with ScriptedBackend() as server`: `server.url`, `server.then(step, ...)`,
    `server.seen` (every request), `server.connections` (how many were accepted)."""

    port: int = field(default_factory=free_port)
    tls: bool = False  # serve https with TLS_PEM
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    script: deque[Step] = field(default_factory=deque)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def then(self, *steps: Step) -> ScriptedBackend:
        self.script.extend(steps)
        return self

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    def requests(self, method: str, path_end: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.endswith(path_end)]

    async def __aenter__(self) -> ScriptedBackend:
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(TLS_PEM)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  ssl=context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.add(writer)
        try:
            while not writer.is_closing():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(method, target, headers, body, number)
                self.seen.append(seen)
                step = self.script.popleft() if self.script else reply(
                    500, {"error": {"code": "unscripted", "message": "no step left"}})
                outcome = step(seen, writer)
                if asyncio.iscoroutine(outcome):
                    await outcome
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
