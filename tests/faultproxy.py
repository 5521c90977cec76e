"""A real-socket proxy in front of the sandbox that injects faults on cue.

The sandbox can answer 429 and 503 by itself; a hung backend or a connection
dropped after the backend did the work can't come from it, so this proxy
forwards to the sandbox and misbehaves for the requests a test names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

Predicate = Callable[[web.Request], bool]


@dataclass
class Faults:
    hang: Predicate | None = None  # never answer
    drop_after_forward: Predicate | None = None  # forward, then cut the connection
    hold: Predicate | None = None  # forward only once `release` is set (`held` says it waits)
    times: int = 1  # how many matching requests misbehave
    seen: list[str] = field(default_factory=list)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, predicate: Predicate | None, request: web.Request) -> bool:
        if predicate is not None and self.times > 0 and predicate(request):
            self.times -= 1
            return True
        return False


class FaultProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.faults = Faults()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()
        if self._session:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.faults.seen.append(f"{request.method} {request.path}")
        if self.faults.take(self.faults.hang, request):
            await asyncio.sleep(3600)
        if self.faults.take(self.faults.hold, request):
            self.faults.held.set()
            await self.faults.release.wait()
        drop = self.faults.take(self.faults.drop_after_forward, request)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        assert self._session is not None
        async with self._session.request(request.method, self.target + request.path_qs,
                                         data=body or None, headers=headers) as upstream:
            payload = await upstream.read()
            status = upstream.status
            out_headers = {k: v for k, v in upstream.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding",
                                                "content-encoding", "connection")}
        if drop:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        return web.Response(body=payload, status=status, headers=out_headers)
