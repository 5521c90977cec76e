"""The floor: the least any gateway can do for Okta's pre-create lookup.

One Redis HGET (userName → id, in the gateway's own index hash), one pooled
backend GET of the employee, a hand-built ListResponse written with the
standard library's json. No auth, no validation, no mapping, no middleware.
`bench.bench_speed` runs it beside the gateway, in the same run, to say how
far above that floor the gateway's per-request work sits.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import redis.asyncio as redis
from aiohttp import web

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_SESSION = web.AppKey("session", aiohttp.ClientSession)
_REDIS = web.AppKey("redis", redis.Redis)
_EMPTY = json.dumps({"schemas": [LIST_RESPONSE], "totalResults": 0, "itemsPerPage": 0,
                     "startIndex": 1, "Resources": []})


def build_floor(*, backend: str, token: str, redis_url: str, index_key: str,
                org_id: int) -> web.Application:
    """`GET /scim/v2/Users?filter=userName eq "x"` answered from `index_key` + the backend."""
    employee_url = f"{backend.rstrip('/')}/internal/v1/orgs/{org_id}/employees/"

    async def lookup(request: web.Request) -> web.Response:
        text = request.query.get("filter", "")
        user_name = text.partition('"')[2].rpartition('"')[0]
        user_id = await request.app[_REDIS].hget(index_key, "userName:" + user_name.casefold())
        if user_id is None:
            return web.Response(text=_EMPTY, content_type="application/scim+json")
        async with request.app[_SESSION].get(employee_url + user_id) as resp:
            record: dict[str, Any] = await resp.json()
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

    async def services(app: web.Application):
        app[_SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        app[_REDIS] = redis.Redis.from_url(redis_url, decode_responses=True)
        yield
        await app[_SESSION].close()
        await app[_REDIS].aclose()

    app = web.Application()
    app.cleanup_ctx.append(services)
    app.router.add_get("/scim/v2/Users", lookup)
    return app


_PIPE = web.AppKey("pipe", object)
_TRANSPORT = web.AppKey("transport", object)


def build_lean_floor(*, backend: str, token: str, redis_url: str, index_key: str,
                     org_id: int) -> web.Application:
    """`build_floor` with the gateway's own Redis pipe and backend transport."""
    from gateway.backend.transport import HttpTransport, path_prefix
    from gateway.idstore.redis_pipe import RedisPipe

    target = f"{path_prefix(backend)}/internal/v1/orgs/{org_id}/employees/"

    async def lookup(request: web.Request) -> web.Response:
        text = request.query.get("filter", "")
        user_name = text.partition('"')[2].rpartition('"')[0]
        pipe: RedisPipe = request.app[_PIPE]  # type: ignore[assignment]
        user_id = await pipe.execute("HGET", index_key, "userName:" + user_name.casefold())
        if user_id is None:
            return web.Response(text=_EMPTY, content_type="application/scim+json")
        transport: HttpTransport = request.app[_TRANSPORT]  # type: ignore[assignment]
        answer = await transport.request("GET", target + user_id, timeout_s=10.0,
                                         connect_timeout_s=3.0)
        record: dict[str, Any] = json.loads(answer.body)
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

    async def services(app: web.Application):
        from gateway.backend.transport import HttpTransport
        from gateway.idstore.redis_pipe import RedisPipe

        pipe = RedisPipe.from_url(redis_url, timeout_s=1.0, connect_timeout_s=1.0)
        assert pipe is not None, "a plain redis:// URL"
        app[_PIPE] = pipe
        app[_TRANSPORT] = transport = HttpTransport(
            backend, {"Authorization": f"Token {token}", "Accept": "application/json"})
        yield
        await transport.close()
        await pipe.close()

    app = web.Application()
    app.cleanup_ctx.append(services)
    app.router.add_get("/scim/v2/Users", lookup)
    return app
