"""The floor: the least any gateway can do for Okta's pre-create lookup.

One Redis HGET (userName → id, in the gateway's own index hash), one pooled
backend GET of the employee, a hand-built ListResponse written with the
standard library's json. No auth, no validation, no mapping, no middleware.
`bench.bench_speed` runs it beside the gateway, in the same run, to say how
far above that floor the gateway's per-request work sits.

Two of them, one handler: the issue's floor (`build_floor`) reads through the
standard clients, redis-py and aiohttp's client session; `build_lean_floor`
through the clients the gateway itself uses (its Redis pipe and backend
transport), so the gateway's own per-request work can also be read against a
floor with its I/O costs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_EMPTY = json.dumps({"schemas": [LIST_RESPONSE], "totalResults": 0, "itemsPerPage": 0,
                     "startIndex": 1, "Resources": []})

# What a floor reads with: the id an index key holds, and the employee record of an id.
FindId = Callable[[str], Awaitable[str | None]]
FetchRecord = Callable[[str], Awaitable[dict[str, Any]]]
Clients = Callable[[], AsyncIterator[tuple[FindId, FetchRecord]]]


def _floor(index_key: str, clients: Clients) -> web.Application:
    """`GET /scim/v2/Users?filter=userName eq "x"` answered from `index_key` + the backend."""
    reader = web.AppKey("reader", tuple)

    async def lookup(request: web.Request) -> web.Response:
        find_id, fetch = request.app[reader]
        text = request.query.get("filter", "")
        user_name = text.partition('"')[2].rpartition('"')[0]
        user_id = await find_id("userName:" + user_name.casefold())
        if user_id is None:
            return web.Response(text=_EMPTY, content_type="application/scim+json")
        record = await fetch(user_id)
        resource = {
            "schemas": [USER],
            "id": str(record["id"]),
            "userName": record["email"],
            "active": record.get("status") == "active",
            "name": {"givenName": record.get("first_name"),
                     "familyName": record.get("last_name")},
        }
        body = json.dumps({"schemas": [LIST_RESPONSE], "totalResults": 1, "itemsPerPage": 1,
                           "startIndex": 1, "Resources": [resource]})
        return web.Response(text=body, content_type="application/scim+json")

    async def services(app: web.Application) -> AsyncIterator[None]:
        async for pair in clients():
            app[reader] = pair
            yield

    app = web.Application()
    app.cleanup_ctx.append(services)
    app.router.add_get("/scim/v2/Users", lookup)
    return app


def build_floor(*, backend: str, token: str, redis_url: str, index_key: str,
                org_id: int) -> web.Application:
    """The issue's floor: redis-py and one pooled aiohttp client session."""
    import aiohttp
    import redis.asyncio as redis

    employee_url = f"{backend.rstrip('/')}/internal/v1/orgs/{org_id}/employees/"

    async def clients() -> AsyncIterator[tuple[FindId, FetchRecord]]:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        store = redis.Redis.from_url(redis_url, decode_responses=True)

        async def find_id(key: str) -> str | None:
            found: str | None = await store.hget(index_key, key)
            return found

        async def fetch(user_id: str) -> dict[str, Any]:
            async with session.get(employee_url + user_id) as resp:
                record: dict[str, Any] = await resp.json()
            return record

        yield find_id, fetch
        await session.close()
        await store.aclose()

    return _floor(index_key, clients)


def build_lean_floor(*, backend: str, token: str, redis_url: str, index_key: str,
                     org_id: int) -> web.Application:
    """`build_floor` with the gateway's own Redis pipe and backend transport."""
    from gateway.backend.transport import HttpTransport, path_prefix
    from gateway.idstore.redis_pipe import RedisPipe

    target = f"{path_prefix(backend)}/internal/v1/orgs/{org_id}/employees/"

    async def clients() -> AsyncIterator[tuple[FindId, FetchRecord]]:
        pipe = RedisPipe.from_url(redis_url, timeout_s=1.0, connect_timeout_s=1.0)
        assert pipe is not None, "a plain redis:// URL"
        transport = HttpTransport(
            backend, {"Authorization": f"Token {token}", "Accept": "application/json"})

        async def find_id(key: str) -> str | None:
            found: str | None = await pipe.execute("HGET", index_key, key)
            return found

        async def fetch(user_id: str) -> dict[str, Any]:
            answer = await transport.request("GET", target + user_id, timeout_s=10.0,
                                             connect_timeout_s=3.0)
            record: dict[str, Any] = json.loads(answer.body)
            return record

        yield find_id, fetch
        await transport.close()
        await pipe.close()

    return _floor(index_key, clients)
