"""Nothing the gateway reads back from its own Redis keys is trusted blindly.

Malformed values are planted in the real keys (as a flush, a bad deploy or
someone with Redis access could leave them): each is a miss, the answer is
still right, and the entry is repaired. Before, each of these was a
persistent 500, or, for a planted "known employee", a group PATCH that
renamed the group and then failed its member add.
"""

from __future__ import annotations

import redis.asyncio as redis

from gateway.state.user_index_entries import UserIndexEntries
from gateway.web.state import STATE_DB
from tests.bodies import create_user, okta_user, patch_ops
from tests.conftest import REDIS_URL, World
from tests.property.people import person, seed

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _key(world: World, org_id: int, space: str) -> str:
    return f"{world.store.prefix}:{{org:{org_id}}}:idx:{space}"


async def _raw() -> redis.Redis:
    return redis.from_url(REDIS_URL)


async def test_a_malformed_user_watermark_means_a_rebuild_not_a_500(world: World):
    # Made in Workstream directly, so no index entry points at it.
    [made] = await seed(world, world.org_a, [person(1, sso_id="ext-1")])
    rows = UserIndexEntries(world.app[STATE_DB])
    await rows.set_mark(world.org_a, "yesterday-ish", people=0)
    client = await _raw()
    try:
        # What an older gateway kept in Redis: never read any more.
        await client.hset(_key(world, world.org_a, "users"), "~watermark", "yesterday-ish")
        # An unreadable mark is no mark: the index is rebuilt (the org is small, so this
        # request waits the moment that takes).
        status, body, _ = await world.a.get("/Users", params={"filter": 'externalId eq "ext-1"'})
        assert status == 200 and [r["id"] for r in body["Resources"]] == [str(made)], body
        mark = await rows.mark(world.org_a)
        assert mark is not None and mark.watermark != "yesterday-ish"  # repaired by the rebuild
    finally:
        await client.aclose()


async def test_malformed_user_hints_are_misses_and_dropped(world: World):
    user = await create_user(world, email="hinted@okta.local")
    client = await _raw()
    try:
        for planted in (b"99999999999999999999999999", b"\xff\xfe not utf-8", b"-4"):
            await client.hset(_key(world, world.org_a, "users"), "userName:hinted@okta.local",
                              planted)
            status, body, _ = await world.a.get(
                "/Users", params={"filter": 'userName eq "hinted@okta.local"'})
            assert status == 200 and [r["id"] for r in body["Resources"]] == [user["id"]], \
                (planted, body)
    finally:
        await client.aclose()


async def test_a_key_of_the_wrong_type_is_a_miss_for_that_org_only(world: World):
    user = await create_user(world, email="typed@okta.local")
    client = await _raw()
    try:
        await client.delete(_key(world, world.org_a, "users"))
        await client.set(_key(world, world.org_a, "users"), "a string, not a hash")
        status, body, _ = await world.a.get(
            "/Users", params={"filter": 'userName eq "typed@okta.local"'})
        assert status == 200 and [r["id"] for r in body["Resources"]] == [user["id"]], body
        # The store is not taken for down: org B's index still answers from Redis.
        status, b_user, _ = await world.b.post("/Users", okta_user("b@okta.local", "b-ext"))
        assert status == 201, b_user
        assert await client.hget(_key(world, world.org_b, "users"), "externalId:b-ext") \
            == b_user["id"].encode()
    finally:
        await client.aclose()


async def test_malformed_group_markers_are_repaired_not_500s(world: World):
    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Ops",
                                                      "externalId": "g-ext"})
    assert status == 201, group
    client = await _raw()
    try:
        key = _key(world, world.org_a, "groups")
        await client.hset(key, mapping={"externalId:g-ext": "abc", "displayName:ops": "1e9"})
        status, body, _ = await world.a.get("/Groups", params={"filter": 'externalId eq "g-ext"'})
        assert status == 200, body  # the hint was bad, the lookup still answers
        status, body, _ = await world.a.get("/Groups", params={"filter": 'displayName eq "Ops"'})
        assert status == 200 and [g["id"] for g in body["Resources"]] == [group["id"]], body
        status, body, _ = await world.a.get(f"/Groups/{group['id']}")
        assert status == 200 and body["externalId"] == "g-ext", body
        # (externalId lookups read the state database: a planted Redis hint is never read.)
    finally:
        await client.aclose()


async def test_a_planted_known_employee_cannot_make_a_group_patch_half_apply(world: World):
    real = (await world.backend.seed_employees(world.org_a, 1))[0]
    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Before"})
    assert status == 201, group
    ghost = "987654"  # nobody in the org; planted as a verified employee
    client = await _raw()
    try:
        await client.hset(_key(world, world.org_a, "employees"), ghost, "1")
    finally:
        await client.aclose()
    status, body, _ = await world.a.patch(f"/Groups/{group['id']}", patch_ops(
        {"op": "replace", "value": {"id": group["id"], "displayName": "After"}},
        {"op": "add", "path": "members", "value": [{"value": real}, {"value": ghost}]}))
    assert status == 400 and ghost in body["detail"], body
    _, team = await world.backend.team(world.org_a, group["id"])
    assert team["name"] == "Before"  # nothing was changed
    assert await world.backend.members(world.org_a, group["id"]) == []
