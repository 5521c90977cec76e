"""The user index (Redis hints in front of the state database) never produces a wrong
answer, and misses stay cheap.

People change in Workstream directly and Redis may be flushed, stale or gone:
every scenario reads the right person (or none) and counts the backend calls.
"""

from __future__ import annotations

from gateway.idstore import RedisIdStore
from gateway.web.state import USERS
from tests.bodies import okta_user
from tests.conftest import World, drop_keys, start_gateway


async def make(world: World, n: int) -> list[dict]:
    """n people created through the gateway; the org's index built and its rows written."""
    users = []
    for i in range(n):
        status, user, _ = await world.a.post(
            "/Users", okta_user(email=f"p{i}@acme.example", external_id=f"ext-{i}"))
        assert status == 201, user
        users.append(user)
    await world.settle()
    return users


async def find(world: World, flt: str, client=None) -> list[str]:
    status, body, _ = await (client or world.a).get("/Users", params={"filter": flt})
    assert status == 200, body
    return [r["id"] for r in body["Resources"]]


async def flush(world: World) -> None:
    """Every key of this test's id store, as a Redis flush would lose them."""
    await drop_keys(f"{world.store.prefix}:*")


async def test_external_id_found_after_redis_flush(world: World):
    users = await make(world, 3)
    await flush(world)
    assert await find(world, 'externalId eq "ext-1"') == [users[1]["id"]]
    assert await find(world, 'userName eq "P2@ACME.EXAMPLE"') == [users[2]["id"]]


async def test_external_id_miss_costs_one_backend_call_once_indexed(world: World):
    users = await make(world, 5)
    await flush(world)
    await world.backend.clear_log()
    assert await find(world, 'externalId eq "ext-0"') == [users[0]["id"]]
    # The state database answered: no scan, just the record re-read.
    assert await world.backend.calls() == [
        f"GET /internal/v1/orgs/{world.org_a}/employees/{users[0]['id']}"]
    await world.backend.clear_log()
    assert await find(world, 'externalId eq "nobody"') == []
    calls = await world.backend.calls()
    assert len(calls) == 1 and "updated_since" in calls[0], calls
    await world.backend.clear_log()
    assert await find(world, 'externalId eq "ext-4"') == [users[4]["id"]]
    calls = await world.backend.calls()
    assert calls == [f"GET /internal/v1/orgs/{world.org_a}/employees/{users[4]['id']}"], calls


async def test_username_lookup_is_one_call_warm_and_cold(world: World):
    users = await make(world, 3)
    await world.backend.clear_log()
    assert await find(world, 'userName eq "p1@acme.example"') == [users[1]["id"]]
    assert len(await world.backend.calls()) == 1  # the cached id, verified
    await flush(world)
    await world.backend.clear_log()
    assert await find(world, 'userName eq "p1@acme.example"') == [users[1]["id"]]
    # From the state database, re-read: not the backend's (slow) email search.
    assert await world.backend.calls() == [
        f"GET /internal/v1/orgs/{world.org_a}/employees/{users[1]['id']}"]


async def test_stale_entry_pointing_at_someone_else_is_not_trusted(world: World):
    users = await make(world, 2)
    await world.store.put(world.org_a, {"users": {"externalId:ext-0": users[1]["id"]}})
    assert await find(world, 'externalId eq "ext-0"') == [users[0]["id"]]


async def test_change_made_directly_in_workstream_is_seen(world: World):
    users = await make(world, 2)
    await find(world, 'externalId eq "ext-0"')
    await world.backend.update_employee(world.org_a, users[0]["id"],
                                        {"sso_id": "moved", "email": "renamed@acme.example"})
    assert await find(world, 'externalId eq "ext-0"') == []
    assert await find(world, 'externalId eq "moved"') == [users[0]["id"]]
    assert await find(world, 'userName eq "p0@acme.example"') == []
    assert await find(world, 'userName eq "renamed@acme.example"') == [users[0]["id"]]


async def test_username_change_through_gateway_moves_index_entry(world: World):
    users = await make(world, 1)
    _, read, _ = await world.a.get(f"/Users/{users[0]['id']}")
    read["userName"] = "new.name@acme.example"
    read["emails"] = [{"value": "new.name@acme.example", "type": "work", "primary": True}]
    status, _, _ = await world.a.put(f"/Users/{users[0]['id']}", read)
    assert status == 200
    assert await find(world, 'userName eq "p0@acme.example"') == []
    assert await find(world, 'userName eq "new.name@acme.example"') == [users[0]["id"]]
    await world.settle()  # the write-behind moved the rows too
    await flush(world)
    assert await find(world, 'userName eq "p0@acme.example"') == []
    assert await find(world, 'userName eq "new.name@acme.example"') == [users[0]["id"]]


async def test_gateway_with_redis_down_still_answers_correctly(world: World):
    dead = RedisIdStore("redis://127.0.0.1:6399/0", prefix="dead")
    server, url = await start_gateway(world, dead)
    try:
        client = world.client(world.a.auth)
        client.base = url
        status, user, _ = await client.post("/Users", okta_user(email="solo@acme.example",
                                                                external_id="solo"))
        assert status == 201, user
        await server.app[USERS].index.settle()  # built without the (unreachable) lock
        assert await find(world, 'externalId eq "solo"', client) == [user["id"]]
        assert await find(world, 'userName eq "SOLO@acme.example"', client) == [user["id"]]
        assert await find(world, 'externalId eq "none"', client) == []
    finally:
        await server.close()
        await dead.close()
