"""The state database going down while the gateway runs (PostgreSQL behind a TCP proxy cut on
cue): 503 with Retry-After where it is needed, cached credentials still working, nothing
half-written, and recovery without a restart."""

from __future__ import annotations

import asyncio

import pytest

from gateway.state import StateDB
from tests.asserts import assert_scim_503
from tests.bodies import GROUP
from tests.conftest import World, basic
from tests.tcpproxy import TcpProxy


@pytest.fixture
def proxy(state_db_proxy: TcpProxy) -> TcpProxy:
    return state_db_proxy


@pytest.fixture
def world_state(proxied_state_db: StateDB) -> StateDB:
    return proxied_state_db


async def _until(check, attempts: int = 300) -> None:
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never met")


async def test_state_database_down_means_503_then_recovery(
    world: World, proxy: TcpProxy, world_state: StateDB,
) -> None:
    store = world.credentials
    store._stale_after_s = 1.0  # a short patience, for the test's sake
    uncached = await store.issue_basic(world.org_a, label="not yet used")
    # Org A's client is warm (cached); groups work.
    assert (await world.a.get("/Users"))[0] == 200
    status, before, _ = await world.a.post("/Groups", {"schemas": [GROUP],
                                                      "displayName": "Before",
                                                      "externalId": "before"})
    assert status == 201
    before_id = before["id"]

    await proxy.cut()
    teams_before = (await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/teams"))[1]["meta"]["total"]

    # A group needing the database: 503 with an integer Retry-After, and no team made.
    status, body, headers = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "During", "externalId": "during"})
    assert_scim_503(status, body, headers)
    teams_after = (await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/teams"))[1]["meta"]["total"]
    assert teams_after == teams_before
    # Group reads need the database for externalIds: 503, never an answer without them.
    status, body, headers = await world.a.get('/Groups?filter=externalId eq "before"')
    assert_scim_503(status, body, headers)
    # Changing its externalId or deleting it: 503 before the backend is touched.
    status, body, headers = await world.a.put(f"/Groups/{before_id}", {
        "schemas": [GROUP], "displayName": "Renamed", "externalId": "changed"})
    assert_scim_503(status, body, headers)
    status, body, headers = await world.a.delete(f"/Groups/{before_id}")
    assert_scim_503(status, body, headers)
    team = (await world.backend.team(world.org_a, before_id))[1]
    assert team["name"] == "Before"

    # Once the snapshot is stale, a secret not in the cache can't be judged: 503, not 401.
    # (Polled with a wrong password, which is never cached.)
    guess = world.client(basic(uncached.username, "wrong password"))

    async def guess_answers(code: int) -> bool:
        return (await guess.get("/Users"))[0] == code

    await _until(lambda: guess_answers(503))
    status, body, headers = await world.client(
        basic(uncached.username, uncached.password)).get("/Users")
    assert_scim_503(status, body, headers)
    # The warm credential keeps working for its cache lifetime.
    assert (await world.a.get("/Users"))[0] == 200

    await proxy.restore()
    await _until(lambda: guess_answers(401))
    fresh = world.client(basic(uncached.username, uncached.password))
    assert (await fresh.get("/Users"))[0] == 200
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "before"')
    assert status == 200 and found["totalResults"] == 1
    status, _, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "After",
                                                 "externalId": "after"})
    assert status == 201


async def test_user_delete_during_a_database_outage_is_503_and_changes_nothing(
    world: World, proxy: TcpProxy, world_state: StateDB,
) -> None:
    _, user, _ = await world.a.post("/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "outage@example.test", "name": {"givenName": "Out", "familyName": "Age"}})
    gone = (await world.a.post("/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "gone@example.test", "name": {"givenName": "Go", "familyName": "Ne"}}))[1]
    assert (await world.a.delete(f"/Users/{gone['id']}"))[0] == 204
    await proxy.cut()
    # The unlink needs the database: 503 with Retry-After, and the person still active.
    status, body, headers = await world.a.delete(f"/Users/{user['id']}")
    assert_scim_503(status, body, headers)
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"
    # Reads go on from the unlinked ids already known.
    assert (await world.a.get(f"/Users/{user['id']}"))[0] == 200
    assert (await world.a.get(f"/Users/{gone['id']}"))[0] == 404
    await proxy.restore()
    assert (await world.a.delete(f"/Users/{user['id']}"))[0] == 204
    assert (await world.a.get(f"/Users/{user['id']}"))[0] == 404
