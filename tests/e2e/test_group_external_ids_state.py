"""Group externalIds live in the state database (real SQLite and real PostgreSQL, both),
Redis only caching them: a flush, a change, a delete and a database outage seen over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from gateway.state import StateDB
from gateway.state.schema import group_external_ids
from tests.asserts import assert_scim_503
from tests.bodies import GROUP, patch_ops
from tests.conftest import World, drop_keys


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


async def flush_redis(world: World) -> None:
    await drop_keys(f"{world.store.prefix}:*")


async def stored(db: StateDB, org_id: int) -> dict[int, str]:
    async with db.begin() as conn:
        rows = await conn.execute(select(group_external_ids.c.team_id,
                                         group_external_ids.c.external_id)
                                  .where(group_external_ids.c.org_id == org_id))
        return {team: value for team, value in rows}


async def test_external_id_is_found_at_once_after_redis_is_flushed(
    world: World, state_db: StateDB,
) -> None:
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Okta Admins", "externalId": "00g-admins"})
    assert status == 201, group
    assert await stored(state_db, world.org_a) == {int(group["id"]): "00g-admins"}
    await flush_redis(world)
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "00g-admins"')
    assert status == 200 and [g["id"] for g in found["Resources"]] == [group["id"]]
    status, listed, _ = await world.a.get("/Groups?excludedAttributes=members")
    assert [g.get("externalId") for g in listed["Resources"]] == ["00g-admins"]


async def test_a_changed_external_id_moves_the_lookup_even_from_a_warm_cache(
    world: World, state_db: StateDB,
) -> None:
    _, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Sales", "externalId": "old-ext"})
    gid = group["id"]
    assert (await world.a.get('/Groups?filter=externalId eq "old-ext"'))[1]["totalResults"] == 1
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "path": "externalId", "value": "new-ext"}))
    assert status == 204
    for _ in range(2):  # warm cache, then cold
        status, old, _ = await world.a.get('/Groups?filter=externalId eq "old-ext"')
        assert status == 200 and old["totalResults"] == 0
        status, new, _ = await world.a.get('/Groups?filter=externalId eq "new-ext"')
        assert [g["id"] for g in new["Resources"]] == [gid]
        await flush_redis(world)
    assert await stored(state_db, world.org_a) == {int(gid): "new-ext"}


async def test_a_deleted_group_leaves_no_external_id_behind(
    world: World, state_db: StateDB,
) -> None:
    _, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Temp", "externalId": "temp-ext"})
    assert (await world.a.delete(f"/Groups/{group['id']}"))[0] == 204
    assert await stored(state_db, world.org_a) == {}
    await flush_redis(world)
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "temp-ext"')
    assert status == 200 and found["totalResults"] == 0


async def test_external_ids_are_per_org(world: World) -> None:
    _, a_group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "A", "externalId": "same"})
    _, b_group, _ = await world.b.post("/Groups", {
        "schemas": [GROUP], "displayName": "B", "externalId": "same"})
    await flush_redis(world)
    for client, group in ((world.a, a_group), (world.b, b_group)):
        status, found, _ = await client.get('/Groups?filter=externalId eq "same"')
        assert status == 200
        assert [g["id"] for g in found["Resources"]] == [group["id"]]


# Only SQLite lets a hand edit put text in an integer column; PostgreSQL refuses the edit.
@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
async def test_a_hand_edited_row_is_a_503_and_the_log_names_the_row(
    world: World, state_db: StateDB, caplog: pytest.LogCaptureFixture,
) -> None:
    status, _, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Edited", "externalId": "edited"})
    assert status == 201
    async with state_db.begin() as conn:
        await conn.execute(update(group_external_ids)
                           .where(group_external_ids.c.org_id == world.org_a)
                           .values(team_id="not a number"))
    await flush_redis(world)
    status, body, headers = await world.a.get('/Groups?filter=externalId eq "edited"')
    assert_scim_503(status, body, headers)
    assert any("group_external_ids row" in r.getMessage() for r in caplog.records)
