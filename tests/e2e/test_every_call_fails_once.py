"""No backend or Redis call on a request path escapes the translation to a SCIM error.

For each main kind of request, the backend and Redis calls it makes are
counted first; then the request is replayed once per call with exactly that
call failing, three ways: the backend refuses before doing anything, the
backend does the work and the answer is lost, and Redis fails. Every answer
must be a SCIM 503 with an integer Retry-After or a success, never a 500;
and every success must be whole, read back from the backend (a failure may
leave a change half done only when the IdP was told 503, so it retries).

The failures are injected in process, at the backend client's one request
method, at the Redis client's command and pipeline calls and at the id
store's read pipe (`RedisPipe.execute`, its per-request lookups): the sandbox
can't fail one chosen call of a request (it retries them), and Redis can't
fail one chosen command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.backend.errors import BackendUnavailable
from gateway.idstore.base import IdStoreUnavailable
from gateway.web.state import BACKEND, ORG_GATE, USERS
from tests.asserts import assert_scim_503
from tests.bodies import okta_user, patch_ops
from tests.conftest import REDIS_URL, World

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass
class Faults:
    """Counts backend and Redis calls; fails the one numbered `fail_at` of the chosen kind."""

    kind: str = ""  # "backend-before", "backend-after" or "redis"
    fail_at: int | None = None
    backend_calls: int = 0
    redis_calls: int = 0
    failing_list: str = ""  # a collection ("/teams") whose listings (GET) fail every time

    def reset(self, kind: str = "", fail_at: int | None = None) -> None:
        self.kind, self.fail_at = kind, fail_at
        self.backend_calls = self.redis_calls = 0

    def _due(self, counter: int, kinds: tuple[str, ...]) -> bool:
        return self.kind in kinds and self.fail_at == counter


@pytest.fixture
async def faults(world: World, monkeypatch: pytest.MonkeyPatch) -> Faults:
    state = Faults()
    backend = world.app[BACKEND]
    real_request = backend._request

    async def request(*args: Any, **kwargs: Any) -> Any:
        number = state.backend_calls
        state.backend_calls += 1
        listing = args[:1] == ("GET",) and str(args[1]).endswith(state.failing_list or "\0")
        if state._due(number, ("backend-before",)) or listing:
            raise BackendUnavailable(3, "injected before the call")
        answer = await real_request(*args, **kwargs)
        if state._due(number, ("backend-after",)):
            raise BackendUnavailable(3, "injected after the call did its work")
        return answer

    monkeypatch.setattr(backend, "_request", request)

    redis_client = world.store._redis  # type: ignore[attr-defined]
    real_command = redis_client.execute_command
    real_pipeline = Pipeline.execute

    def redis_due() -> bool:
        number = state.redis_calls
        state.redis_calls += 1
        return state._due(number, ("redis",))

    async def command(*args: Any, **kwargs: Any) -> Any:
        if redis_due():
            raise RedisConnectionError("injected")
        return await real_command(*args, **kwargs)

    async def pipeline(self: Pipeline, raise_on_error: bool = True) -> Any:
        if redis_due():
            await self.reset()  # as a failed pipeline leaves itself: empty, reusable
            raise RedisConnectionError("injected")
        return await real_pipeline(self, raise_on_error)

    monkeypatch.setattr(redis_client, "execute_command", command)
    monkeypatch.setattr(Pipeline, "execute", pipeline)

    read_pipe = world.store._pipe  # type: ignore[attr-defined]
    if read_pipe is not None:
        real_read = read_pipe.execute

        async def read(*args: Any) -> Any:
            if redis_due():
                raise RedisConnectionError("injected")
            return await real_read(*args)

        monkeypatch.setattr(read_pipe, "execute", read)
    return state


Check = Callable[[int, Any, int], Awaitable[None]]
Send = Callable[[int], Awaitable[tuple[int, Any, dict]]]


async def replay(world: World, faults: Faults, send: Send, check: Check) -> int:
    """Send once clean (counting calls), then once per call with that call failing."""
    run = 0

    async def once(kind: str, fail_at: int | None) -> tuple[int, int]:
        nonlocal run
        run += 1
        world.app[ORG_GATE].forget(world.org_a)  # the org gate's read is part of the request
        world.store._down_until = 0.0  # type: ignore[attr-defined]  # no cool-down carried over
        faults.reset(kind, fail_at)
        status, body, headers = await send(run)
        counted = (faults.backend_calls, faults.redis_calls)
        faults.reset()
        assert status != 500, (kind, fail_at, body)
        if status == 503:
            assert_scim_503(status, body, headers)
        else:
            await check(run, body, status)
        return counted

    backend_n, redis_n = await once("", None)
    assert backend_n > 0
    for kind, n in (("backend-before", backend_n), ("backend-after", backend_n),
                    ("redis", redis_n)):
        for i in range(n):
            await once(kind, i)
    return backend_n + redis_n


async def test_user_create_put_and_deactivate_survive_any_one_failing_call(
    world: World, faults: Faults
):
    org = world.org_a

    async def create(run: int):
        return await world.a.post("/Users", okta_user(f"u{run}@okta.local", f"ext-{run}"))

    async def created(run: int, body: Any, status: int) -> None:
        assert status == 201, body
        [employee] = await world.backend.employees(org, email=f"u{run}@okta.local")
        assert str(employee["id"]) == body["id"] and employee["sso_id"] == f"ext-{run}"

    assert await replay(world, faults, create, created) > 2

    status, user, _ = await world.a.post("/Users", okta_user("put@okta.local", "ext-put"))
    assert status == 201, user

    async def put(run: int):
        return await world.a.put(f"/Users/{user['id']}", {**okta_user("put@okta.local",
                                                                      "ext-put"),
                                                          "title": f"Title {run}"})

    async def replaced(run: int, body: Any, status: int) -> None:
        assert status == 200 and body["title"] == f"Title {run}", body
        assert (await world.backend.employee(org, user["id"]))["title"] == f"Title {run}"

    await replay(world, faults, put, replaced)

    async def deactivate(run: int):
        await world.backend.call("POST", f"/internal/v1/orgs/{org}/employees/{user['id']}"
                                         "/reactivate")
        return await world.a.patch(f"/Users/{user['id']}", patch_ops(
            {"op": "replace", "value": {"active": False}}))

    async def deactivated(run: int, body: Any, status: int) -> None:
        assert status == 200 and body["active"] is False, body
        assert (await world.backend.employee(org, user["id"]))["status"] == "deactivated"

    await replay(world, faults, deactivate, deactivated)


async def test_group_create_and_okta_rename_with_adds_survive_any_one_failing_call(
    world: World, faults: Faults
):
    org = world.org_a
    crowd = await world.backend.seed_employees(org, 200)
    members = [{"value": i} for i in crowd[:3]]

    async def create(run: int):
        return await world.a.post("/Groups", {"schemas": [GROUP], "displayName": f"G{run}",
                                              "externalId": f"g-ext-{run}", "members": members})

    async def created(run: int, body: Any, status: int) -> None:
        assert status == 201, body
        _, team = await world.backend.team(org, body["id"])
        assert team["name"] == f"G{run}"
        assert sorted(await world.backend.members(org, body["id"])) == sorted(crowd[:3])

    await replay(world, faults, create, created)

    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Ops",
                                                      "externalId": "ops-ext"})
    assert status == 201, group

    async def rename_and_add(run: int):
        # Okta's Push Groups: the displayName op plus member adds, in one PATCH.
        return await world.a.patch(f"/Groups/{group['id']}", patch_ops(
            {"op": "replace", "value": {"id": group["id"], "displayName": f"Ops {run}"}},
            {"op": "add", "path": "members", "value": [{"value": crowd[10 + run]},
                                                       {"value": crowd[100 + run]}]}))

    async def renamed(run: int, body: Any, status: int) -> None:
        assert status == 204, body
        _, team = await world.backend.team(org, group["id"])
        assert team["name"] == f"Ops {run}"
        now = set(await world.backend.members(org, group["id"]))
        assert {crowd[10 + run], crowd[100 + run]} <= now

    await replay(world, faults, rename_and_add, renamed)


async def test_lookups_survive_any_one_failing_call(world: World, faults: Faults):
    status, user, _ = await world.a.post("/Users", okta_user("look@okta.local", "look-ext"))
    assert status == 201, user
    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Look",
                                                      "externalId": "look-g"})
    assert status == 201, group
    queries = [
        ("/Users", {"filter": 'userName eq "look@okta.local"'}, user["id"]),
        ("/Users", {"filter": 'externalId eq "look-ext"'}, user["id"]),
        ("/Groups", {"filter": 'displayName eq "Look"', "excludedAttributes": "members"},
         group["id"]),
        ("/Groups", {"filter": 'externalId eq "look-g"', "excludedAttributes": "members"},
         group["id"]),
    ]
    for path, params, wanted in queries:
        async def send(run: int, path: str = path, params: dict = params):
            return await world.a.get(path, params=params)

        async def found(run: int, body: Any, status: int, wanted: str = wanted,
                        params: dict = params) -> None:
            assert status == 200, (params, body)
            assert [r["id"] for r in body["Resources"]] == [wanted], (params, body)

        await replay(world, faults, send, found)

    for path in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
        async def read(run: int, path: str = path):
            return await world.a.get(path)

        async def whole(run: int, body: Any, status: int, path: str = path) -> None:
            assert status == 200 and path.endswith(body["id"]), body

        await replay(world, faults, read, whole)


async def test_a_fault_no_use_case_translated_is_still_a_503(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """The web layer's last line: backend and id store exceptions are 503s, never 500s."""
    for fault in (BackendUnavailable(7, "escaped"), IdStoreUnavailable("escaped")):
        async def failing(*_args: Any, fault: Exception = fault, **_kwargs: Any) -> Any:
            raise fault

        monkeypatch.setattr(world.app[USERS], "get", failing)
        status, body, headers = await world.a.get("/Users/1")
        assert_scim_503(status, body, headers)


async def test_okta_rename_with_adds_in_a_fault_storm_after_redis_lost_the_index(
    world: World, faults: Faults
):
    """Issue 10's storm: Redis restarted (the group index's cache gone), one Redis
    call failing, and the backend failing every team listing. Before, reading the start
    marker listed teams outside the block that turns backend errors into 503s: a 500
    without Retry-After after the members had been added."""
    import redis.asyncio as redis

    org = world.org_a
    crowd = await world.backend.seed_employees(org, 100)
    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Storm",
                                                      "externalId": "storm-ext"})
    assert status == 201, group
    raw = redis.from_url(REDIS_URL)

    async def rename_and_add(run: int):
        await raw.delete(f"{world.store.prefix}:{{org:{org}}}:idx:groups")
        faults.failing_list = "/teams"
        try:
            return await world.a.patch(f"/Groups/{group['id']}", patch_ops(
                {"op": "replace", "value": {"id": group["id"], "displayName": f"Storm {run}"}},
                {"op": "add", "path": "members", "value": [{"value": crowd[run]}]}))
        finally:
            faults.failing_list = ""

    async def renamed(run: int, body: Any, status: int) -> None:
        assert status == 204, body
        _, team = await world.backend.team(org, group["id"])
        assert team["name"] == f"Storm {run}"
        assert crowd[run] in await world.backend.members(org, group["id"])

    try:
        await replay(world, faults, rename_and_add, renamed)
    finally:
        await raw.aclose()
