"""The user index lives in the state database (both engines), Redis in front of it: a Redis
flush costs one indexed query, never a scan; changes made in Workstream directly are found
by catching up; an org is built in the background, once, never inside an IdP's request.
Backend calls are counted from the sandbox's own request log."""

from __future__ import annotations

import asyncio

import pytest

from gateway.idstore import RedisIdStore
from gateway.provisioning import user_index, user_index_writer
from gateway.provisioning.user_index import BUILD_LOCK
from gateway.state import StateDB
from gateway.state.user_index_entries import UserIndexEntries
from gateway.web.state import USERS
from tests.bodies import okta_user
from tests.conftest import REDIS_URL, ScimClient, World, drop_keys, start_gateway
from tests.property.people import person, seed

SIZE = 450  # three backend pages of 200: a scan shows as three calls


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


@pytest.fixture
def fault_proxy_enabled() -> bool:
    return True  # to hold a catch-up's backend read (test_concurrent_catch_ups...)


def employees(world: World) -> str:
    return f"/internal/v1/orgs/{world.org_a}/employees"


async def find(client: ScimClient, flt: str) -> list[str]:
    status, body, _ = await client.get("/Users", params={"filter": flt})
    assert status == 200, body
    return [r["id"] for r in body["Resources"]]


async def flush_redis(world: World) -> None:
    """Every key of this test's id store, as a Redis flush would lose them."""
    await drop_keys(f"{world.store.prefix}:*")


async def test_after_a_redis_flush_a_lookup_is_one_indexed_query_and_one_get(
    world: World, state_db: StateDB,
) -> None:
    ids = await seed(world, world.org_a, [person(i, sso_id=f"ext-{i}") for i in range(SIZE)])
    await world.index_built()
    await flush_redis(world)
    for flt, i in (('externalId eq "ext-321"', 321), ('userName eq "PERSON7@acme.example"', 7)):
        await world.backend.clear_log()
        assert await find(world.a, flt) == [str(ids[i])]
        # No list call at all: the state database named the person, the record was re-read.
        assert await world.backend.calls() == [f"GET {employees(world)}/{ids[i]}"], flt
    # ... and the hint is back in Redis: the next lookup is the hot path again.
    assert await world.store.get_many(world.org_a, [("users", "externalId:ext-321")]) == [
        str(ids[321])]


async def test_a_person_made_in_workstream_directly_is_found_by_one_catch_up(
    world: World,
) -> None:
    await seed(world, world.org_a, [person(i, sso_id=f"ext-{i}") for i in range(3)])
    await world.index_built()
    [made] = await seed(world, world.org_a, [person(99, sso_id="ext-99")])
    await world.backend.clear_log()
    assert await find(world.a, 'externalId eq "ext-99"') == [str(made)]
    calls = await world.backend.calls()
    assert len(calls) == 1 and "updated_since=" in calls[0], calls
    rows = UserIndexEntries(world.app[USERS].index.rows.db)
    assert await rows.get(world.org_a, "externalId:ext-99") == made  # written to the database
    await flush_redis(world)
    await world.backend.clear_log()
    assert await find(world.a, 'externalId eq "ext-99"') == [str(made)]
    assert await world.backend.calls() == [f"GET {employees(world)}/{made}"]


async def test_a_renamed_persons_old_key_no_longer_answers(world: World) -> None:
    status, user, _ = await world.a.post("/Users", okta_user("old@acme.example", "ext-old"))
    assert status == 201, user
    await world.settle()
    rows = world.app[USERS].index.rows
    # Renamed in Workstream directly, then Redis flushed: the database still names them.
    await world.backend.update_employee(world.org_a, user["id"], {"sso_id": "ext-new"})
    await flush_redis(world)
    assert await find(world.a, 'externalId eq "ext-old"') == []  # checked, not trusted
    assert await find(world.a, 'externalId eq "ext-new"') == [user["id"]]
    await world.settle()
    assert await rows.get(world.org_a, "externalId:ext-old") is None
    # Renamed through the gateway: the write-behind moves the row.
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["userName"] = read["emails"][0]["value"] = "new@acme.example"
    status, _, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200
    await world.settle()
    await flush_redis(world)
    assert await rows.get(world.org_a, "userName:old@acme.example") is None
    assert await rows.get(world.org_a, "userName:new@acme.example") == int(user["id"])
    assert await find(world.a, 'userName eq "old@acme.example"') == []
    assert await find(world.a, 'userName eq "new@acme.example"') == [user["id"]]


async def test_an_org_never_built_answers_503_while_it_is_built_then_200(world: World) -> None:
    [made] = await seed(world, world.org_a, [person(1, sso_id="ext-1")])
    # Another process is building this org's index: this one's background build waits.
    async with world.store.lock(world.org_a, BUILD_LOCK, timeout_s=5):
        status, body, headers = await world.a.get(
            "/Users", params={"filter": 'externalId eq "ext-1"'})
        assert status == 503, body
        assert "index for this org is being built" in body["detail"]
        assert headers["Retry-After"].isdigit() and int(headers["Retry-After"]) >= 1
        # userName is the work email: the backend's search answers meanwhile. (The log is
        # cleared without settling: the build is waiting for the lock held here.)
        await world.backend.call("DELETE", "/_sandbox/requests")
        assert await find(world.a, 'userName eq "person1@acme.example"') == [str(made)]
        calls = await world.backend.calls()
        assert len(calls) == 1 and "email=" in calls[0], calls
    await world.settle()  # the lock is free: this process builds it now
    assert await find(world.a, 'externalId eq "ext-1"') == [str(made)]


async def test_two_gateways_build_an_org_once(world: World) -> None:
    await seed(world, world.org_a, [person(i, sso_id=f"ext-{i}") for i in range(SIZE)])
    other_store = RedisIdStore(REDIS_URL, prefix=world.store.prefix)  # the same Redis keys
    server, url = await start_gateway(world, other_store)
    try:
        other = ScimClient(world.session, url, world.a.auth)
        await world.backend.clear_log()
        # Each gateway's first request for the org starts a build in the background.
        answers = await asyncio.gather(world.a.get("/Users?count=0"), other.get("/Users?count=0"))
        assert [status for status, _, _ in answers] == [200, 200]
        await asyncio.gather(world.settle(), server.app[USERS].index.settle())
        scans = [c for c in await world.backend.calls()
                 if "per_page=200" in c and "updated_since" not in c]
        assert len(scans) == 3, scans  # one build: three pages, read once
        await world.backend.clear_log()
        assert await find(other, 'externalId eq "ext-5"') != []
        assert await find(world.a, 'externalId eq "ext-6"') != []
        assert all("per_page=200" not in c for c in await world.backend.calls())
    finally:
        await server.close()
        await other_store.close()


async def test_concurrent_catch_ups_share_one_backend_read(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(user_index, "CATCH_UP_WAIT_S", 60.0)  # the held read is waited for
    await world.index_built()
    faults = world.extra["proxy"].faults
    faults.hold = lambda request: "updated_since" in request.query
    await world.backend.clear_log()
    first = asyncio.ensure_future(find(world.a, 'externalId eq "nobody-0"'))
    await faults.held.wait()  # its catch-up's backend read is held in the proxy
    rest = [asyncio.ensure_future(find(world.a, f'externalId eq "nobody-{n}"'))
            for n in range(1, 9)]
    index = world.app[USERS].index
    for _ in range(500):  # until all eight wait for the catch-up after the held one
        queue = index._flights.get(world.org_a, [])
        if len(queue) == 2 and len(queue[1].wanted) == 8:
            break
        await asyncio.sleep(0.01)
    faults.release.set()
    assert await asyncio.gather(first, *rest) == [[]] * 9
    catch_ups = [c for c in await world.backend.calls() if "updated_since=" in c]
    assert len(catch_ups) == 2, catch_ups  # the held one, then one for the eight


async def test_write_behind_rows_are_written_at_shutdown(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await world.index_built()
    monkeypatch.setattr(user_index_writer, "FLUSH_INTERVAL_S", 3600.0)  # only a close writes
    server, url = await start_gateway(world, world.store)
    rows = world.app[USERS].index.rows
    try:
        client = ScimClient(world.session, url, world.a.auth)
        status, user, _ = await client.post("/Users", okta_user("late@acme.example", "ext-late"))
        assert status == 201, user
        assert server.app[USERS].index.writer.waiting == 1
        assert await rows.get(world.org_a, "externalId:ext-late") is None  # still waiting
    finally:
        await server.close()  # the app's cleanup writes what waits
    assert await rows.get(world.org_a, "externalId:ext-late") == int(user["id"])
    assert await rows.get(world.org_a, "userName:late@acme.example") == int(user["id"])


async def test_a_catch_up_too_long_for_the_request_goes_on_in_the_background(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A catch-up the request can't wait for (after a mass change in Workstream it re-reads
    everyone changed then) is not run inside the IdP's request: a userName lookup is
    searched by email, an externalId lookup answers 503 with Retry-After, and the catch-up
    finishes in the background for the next lookup."""
    monkeypatch.setattr(user_index, "CATCH_UP_WAIT_S", 0.2)
    await seed(world, world.org_a, [person(i, sso_id=f"ext-{i}") for i in range(3)])
    await world.index_built()
    [made] = await seed(world, world.org_a, [person(77, sso_id="ext-77")])
    faults = world.extra["proxy"].faults
    faults.hold = lambda request: "updated_since" in request.query
    status, body, headers = await world.a.get(
        "/Users", params={"filter": 'externalId eq "ext-77"'})
    assert status == 503, body
    assert body["status"] == "503" and "catching up" in body["detail"]
    assert int(headers["Retry-After"]) > 0
    # userName is searchable in Workstream: answered at once while the catch-up is held.
    assert await find(world.a, 'userName eq "person77@acme.example"') == [str(made)]
    faults.release.set()
    for _ in range(200):  # the held catch-up ends in the background, then the next one answers
        status, body, _ = await world.a.get("/Users", params={"filter": 'externalId eq "ext-77"'})
        if status == 200:
            break
        await asyncio.sleep(0.05)
    assert status == 200 and [r["id"] for r in body["Resources"]] == [str(made)]
