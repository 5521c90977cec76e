"""DELETE /Users/{id} unlinks the person from SCIM (issue 11 item 1), on real SQLite and
real PostgreSQL, with the gateway, the sandbox and Redis over real sockets.

Workstream never deletes anyone: DELETE deactivates (every field kept) and marks the
person unlinked in the state database. From then on SCIM treats them as gone (RFC 7644
§3.6: 404), until a POST with their userName relinks the same person, old id and history.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.idstore import MemoryIdStore
from gateway.state import StateDB
from gateway.state.schema import scim_unlink_values, scim_unlinks
from gateway.web.state import USERS
from tests.bodies import CORE, ENTERPRISE, GROUP, PATCH_OP, create_user, okta_user, patch_ops
from tests.conftest import World, drop_keys, start_gateway


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


def entra_user(user_name: str, number: str | None = None, title: str = "Analyst") -> dict:
    body = {"schemas": [CORE, ENTERPRISE], "userName": user_name, "active": True,
            "externalId": f"ext-{user_name}", "title": title,
            "name": {"givenName": "Lea", "familyName": "Ver"}}
    if number is not None:
        body[ENTERPRISE] = {"employeeNumber": number}
    return body


async def markers(db: StateDB, org_id: int) -> dict[int, dict]:
    async with db.begin() as conn:
        rows = (await conn.execute(select(scim_unlinks).where(
            scim_unlinks.c.org_id == org_id))).mappings().all()
        values = (await conn.execute(select(scim_unlink_values).where(
            scim_unlink_values.c.org_id == org_id))).mappings().all()
    out = {r["employee_id"]: {"user_name": r["user_name"], "external_id": r["external_id"],
                              "values": {}} for r in rows}
    for v in values:
        out[v["employee_id"]]["values"][v["field"]] = v["value_key"]
    return out


async def listed_ids(world: World, query: str = "") -> tuple[int, list[str]]:
    status, body, _ = await world.a.get(f"/Users{query}")
    assert status == 200, body
    return body["totalResults"], [u["id"] for u in body["Resources"]]


async def test_entra_hard_delete_answers_404_everywhere_and_keeps_every_field(
    world: World, state_db: StateDB,
) -> None:
    status, user, _ = await world.a.post("/Users", entra_user("leaver@example.test", "E-7"))
    assert status == 201, user
    uid = user["id"]
    status, body, _ = await world.a.delete(f"/Users/{uid}")
    assert status == 204 and body is None

    assert (await world.a.get(f"/Users/{uid}"))[0] == 404
    assert (await world.a.put(f"/Users/{uid}", entra_user("leaver@example.test")))[0] == 404
    assert (await world.a.patch(f"/Users/{uid}", patch_ops(
        {"op": "replace", "path": "title", "value": "x"})))[0] == 404
    assert (await world.a.patch(f"/Users/{uid}", patch_ops(
        {"op": "replace", "path": "active", "value": True})))[0] == 404
    assert (await world.a.delete(f"/Users/{uid}"))[0] == 404

    assert await listed_ids(world) == (0, [])
    for query in ('?filter=userName eq "leaver@example.test"',
                  '?filter=externalId eq "ext-leaver@example.test"',
                  f'?filter=id eq "{uid}"', "?filter=active eq false",
                  '?filter=title eq "Analyst"'):
        assert await listed_ids(world, query) == (0, []), query
    status, found, _ = await world.a.post("/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "leaver@example.test"'})
    assert status == 200 and found["totalResults"] == 0

    record = await world.backend.employee(world.org_a, uid)
    assert record["status"] == "deactivated"
    assert (record["email"], record["title"], record["employee_number"]) == (
        "leaver@example.test", "Analyst", "E-7")
    assert await markers(state_db, world.org_a) == {int(uid): {
        "user_name": "leaver@example.test", "external_id": "ext-leaver@example.test",
        "values": {"email": "leaver@example.test", "employee_number": "e-7"}}}


async def test_post_with_the_same_user_name_relinks_the_same_person_with_history(
    world: World, state_db: StateDB,
) -> None:
    _, user, _ = await world.a.post("/Users", entra_user("rehire@example.test", "E-8"))
    uid = user["id"]
    assert (await world.a.delete(f"/Users/{uid}"))[0] == 204

    status, back, headers = await world.a.post(
        "/Users", entra_user("Rehire@Example.test", "E-8", title="Lead"))
    assert status == 201, back
    assert back["id"] == uid and back["active"] is True and back["title"] == "Lead"
    assert back["meta"]["created"] == user["meta"]["created"]
    assert headers["Location"].endswith(f"/Users/{uid}")
    status, read, _ = await world.a.get(f"/Users/{uid}")
    assert status == 200 and read["title"] == "Lead" and read["active"] is True
    assert await listed_ids(world) == (1, [uid])
    assert await listed_ids(world, '?filter=userName eq "rehire@example.test"') == (1, [uid])
    record = await world.backend.employee(world.org_a, uid)
    assert record["status"] == "active" and record["created_at"] == (
        await world.backend.employee(world.org_a, uid))["created_at"]
    assert await markers(state_db, world.org_a) == {}
    # Still the one person: the backend holds no second employee.
    assert [e["id"] for e in await world.backend.employees(world.org_a)] == [int(uid)]


async def test_post_colliding_on_employee_number_names_the_unlinked_person(
    world: World,
) -> None:
    _, user, _ = await world.a.post("/Users", entra_user("holder@example.test", "E-42"))
    assert (await world.a.delete(f"/Users/{user['id']}"))[0] == 204
    status, body, _ = await world.a.post("/Users", entra_user("newcomer@example.test", "E-42"))
    assert status == 409 and body["scimType"] == "uniqueness"
    assert f"User {user['id']}" in body["detail"]
    assert "holder@example.test" in body["detail"] and "employeeNumber" in body["detail"]
    assert "employee_number" not in body["detail"]
    assert len(await world.backend.employees(world.org_a)) == 1


async def test_unlink_marker_survives_a_redis_flush(world: World) -> None:
    user = await create_user(world, email="flushed@okta.local", external_id="00u-flush")
    assert (await world.a.delete(f"/Users/{user['id']}"))[0] == 204
    await drop_keys(f"{world.store.prefix}:*")
    assert (await world.a.get(f"/Users/{user['id']}"))[0] == 404
    assert await listed_ids(world, '?filter=externalId eq "00u-flush"') == (0, [])
    assert await listed_ids(world, '?filter=userName eq "flushed@okta.local"') == (0, [])
    status, back, _ = await world.a.post("/Users", okta_user(email="flushed@okta.local",
                                                             external_id="00u-flush"))
    assert status == 201 and back["id"] == user["id"]


async def test_okta_import_pages_skip_unlinked_people_exactly(world: World) -> None:
    ids = [(await create_user(world, email=f"p{i}@okta.local", external_id=f"00u{i}"))["id"]
           for i in range(7)]
    for gone in (ids[0], ids[3], ids[4]):
        assert (await world.a.delete(f"/Users/{gone}"))[0] == 204
    visible = [ids[1], ids[2], ids[5], ids[6]]
    seen: list[str] = []
    for start in (1, 3, 5):
        total, page = await listed_ids(world, f"?startIndex={start}&count=2")
        assert total == 4
        seen += page
    assert seen == visible
    assert await listed_ids(world, "?count=0") == (4, [])
    assert await listed_ids(world, "?filter=active eq true") == (4, visible)


async def test_status_lists_page_around_unlinked_people_without_a_scan(world: World) -> None:
    """`active eq` stays paged by the backend (no scan, so no tooMany on a big org)."""
    ids = [(await create_user(world, email=f"s{i}@okta.local", external_id=f"00s{i}"))["id"]
           for i in range(6)]
    for gone in (ids[1], ids[4]):
        assert (await world.a.delete(f"/Users/{gone}"))[0] == 204
    off = patch_ops({"op": "replace", "path": "active", "value": False})
    for quiet in (ids[2], ids[5]):  # Okta-style deactivation: still users
        assert (await world.a.patch(f"/Users/{quiet}", off))[0] == 200
    world.app[USERS]._max_scan = 3  # a scan of these 6 people would be a 400 tooMany
    seen: list[str] = []
    for start in (1, 2):
        total, page = await listed_ids(world, f"?filter=active eq false&startIndex={start}&count=1")
        assert total == 2
        seen += page
    assert seen == [ids[2], ids[5]]
    assert await listed_ids(world, "?filter=active eq true&count=1&startIndex=2") == (2, [ids[3]])
    assert await listed_ids(world, "?filter=active eq false&count=0") == (2, [])


async def test_unlinked_member_is_hidden_from_groups_and_kept_in_the_team(
    world: World,
) -> None:
    stay = await create_user(world, email="stay@okta.local", external_id="00u-stay")
    leave = await create_user(world, email="leave@okta.local", external_id="00u-leave")
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Sales",
        "members": [{"value": stay["id"]}, {"value": leave["id"]}]})
    assert status == 201, group
    gid = group["id"]
    assert (await world.a.delete(f"/Users/{leave['id']}"))[0] == 204

    status, read, _ = await world.a.get(f"/Groups/{gid}")
    assert status == 200 and [m["value"] for m in read["members"]] == [stay["id"]]
    status, body, _ = await world.a.put(f"/Groups/{gid}", {
        "schemas": [GROUP], "displayName": "Sales", "members": [{"value": stay["id"]}]})
    assert status == 200, body
    status, body, _ = await world.a.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": leave["id"]}]}]})
    assert status == 400 and leave["id"] in body["detail"]
    assert sorted(await world.backend.members(world.org_a, gid)) == sorted(
        [stay["id"], leave["id"]])

    status, _, _ = await world.a.post("/Users", okta_user(email="leave@okta.local",
                                                          external_id="00u-leave"))
    assert status == 201
    _, read, _ = await world.a.get(f"/Groups/{gid}")
    assert sorted(m["value"] for m in read["members"]) == sorted([stay["id"], leave["id"]])


async def test_unlink_is_per_org(world: World) -> None:
    a_user = await create_user(world, email="same@okta.local")
    status, b_user, _ = await world.b.post("/Users", okta_user(email="same@okta.local"))
    assert status == 201
    assert (await world.a.delete(f"/Users/{a_user['id']}"))[0] == 204
    assert (await world.b.get(f"/Users/{b_user['id']}"))[0] == 200
    status, body, _ = await world.b.get('/Users?filter=userName eq "same@okta.local"')
    assert body["totalResults"] == 1


async def test_a_second_gateway_sees_the_unlink_and_the_relink(world: World) -> None:
    """Two processes sharing the state database (each its own id store): the other one
    re-reads the org's unlinked ids once the change counter moved (here checked on every
    request: refresh_s=0, so the test needs no clock)."""
    server, url = await start_gateway(world, MemoryIdStore())
    try:
        server.app[USERS].unlinks.refresh_s = 0
        other = world.client(world.a.auth)
        other.base = url
        user = await create_user(world, email="two@okta.local", external_id="00u-two")
        assert (await other.get(f"/Users/{user['id']}"))[0] == 200  # org's set now cached
        assert (await world.a.delete(f"/Users/{user['id']}"))[0] == 204
        assert (await other.get(f"/Users/{user['id']}"))[0] == 404
        status, body, _ = await other.get("/Users")
        assert body["totalResults"] == 0
        status, back, _ = await world.a.post("/Users", okta_user(email="two@okta.local",
                                                                 external_id="00u-two"))
        assert status == 201 and back["id"] == user["id"]
        assert (await other.get(f"/Users/{user['id']}"))[0] == 200
    finally:
        await server.close()
