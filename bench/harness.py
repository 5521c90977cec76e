"""What every benchmark shares: the sandbox's admin client, ports, the id store, cleanup."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import aiohttp

REDIS_URL = "redis://127.0.0.1:6379/0"
SANDBOX_TOKEN = "bench-sandbox-token"
SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """The sandbox's admin and request-log routes (how benchmarks seed and count calls)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.headers = {"Authorization": f"Token {SANDBOX_TOKEN}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=body,
                                        headers=self.headers) as resp:
            payload = await resp.json(content_type=None) if resp.status != 204 else None
            if resp.status >= 400:
                raise RuntimeError(f"sandbox {method} {path}: {resp.status} {payload}")
            return payload

    async def calls(self) -> list[str]:
        body = await self.call("GET", "/_sandbox/requests")
        return [f"{r['method']} {r['path']}" for r in body["requests"]]

    async def clear(self) -> None:
        await self.call("DELETE", "/_sandbox/requests")


async def id_store(prefix: str):
    """A Redis store under `prefix`, or the in-process one when Redis doesn't answer."""
    from gateway.idstore import MemoryIdStore, RedisIdStore

    store = RedisIdStore(REDIS_URL, prefix=prefix)
    if await store.ping():
        return store, "Redis"
    await store.close()
    return MemoryIdStore(), "in-process store (Redis did not answer)"


async def drop_prefix(prefix: str) -> None:
    """Delete a benchmark's Redis keys (nothing to do when Redis is away)."""
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        with contextlib.suppress(Exception):
            async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                await client.delete(key)
    finally:
        await client.aclose()
