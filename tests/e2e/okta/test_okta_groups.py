"""Okta's Push Groups, replayed request by request (idp-wire-shapes.md, Okta → Groups).

Gateway → sandbox over real sockets with a real Redis; every membership is
read back from the backend's own `/teams/{id}/members`, not from the gateway.
"""

from __future__ import annotations

import pytest

from tests.bodies import GROUP, patch_ops
from tests.conftest import World

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def members(*ids: str) -> list[dict]:
    return [{"value": i, "display": f"user{i}@okta.local"} for i in ids]


async def people(world: World, count: int, org: int | None = None, tag: str = "p") -> list[str]:
    return await world.backend.seed_employees(org or world.org_a, count, tag)


async def push(world: World, name: str = "Engineering") -> dict:
    status, body, _ = await world.a.post(
        "/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    assert status == 201, body
    return body


async def backend_members(world: World, gid: str, org: int | None = None) -> list[str]:
    return await world.backend.members(org or world.org_a, gid)


def member_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if "/members" in c]


async def test_test_api_credentials_reads_users_and_groups(world: World):
    status, users, _ = await world.a.get("/Users?startIndex=1&count=2")
    assert status == 200 and users["totalResults"] == 0
    status, groups, headers = await world.a.get("/Groups?startIndex=1&count=100")
    assert status == 200
    assert headers["Content-Type"].startswith("application/scim+json")
    assert groups == {"schemas": [LIST], "totalResults": 0, "startIndex": 1,
                      "itemsPerPage": 0, "Resources": []}


async def test_okta_push_groups_sequence_end_to_end(world: World):
    ada, bob, cy, dee = await people(world, 4)

    # Lookup before create: nothing yet.
    status, found, _ = await world.a.get(
        '/Groups?filter=displayName eq "Engineering"&startIndex=1&count=100')
    assert status == 200 and found["totalResults"] == 0

    # Create, exactly Okta's body.
    status, group, headers = await world.a.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Engineering", "members": []})
    assert status == 201, group
    gid = group["id"]
    assert group["displayName"] == "Engineering" and "members" not in group
    assert headers["Location"].endswith(f"/Groups/{gid}")
    status, team = await world.backend.team(world.org_a, gid)
    assert status == 200 and team["name"] == "Engineering"

    # The lookup now finds it (case-insensitively).
    status, found, _ = await world.a.get(
        '/Groups?filter=displayName eq "engineering"&startIndex=1&count=100')
    assert [g["id"] for g in found["Resources"]] == [gid]

    # Rename with a stray id in the value, sent with a membership add.
    status, body, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "value": {"id": gid, "displayName": "Engineering EU"}},
        {"op": "add", "path": "members", "value": members(ada, bob)}))
    assert status == 204, body
    assert body is None
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Engineering EU"
    assert await backend_members(world, gid) == [ada, bob]

    # Add one more, then remove one the RFC way.
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "add", "path": "members", "value": members(cy)}))
    assert status == 204
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "remove", "path": f'members[value eq "{ada}"]'}))
    assert status == 204
    assert await backend_members(world, gid) == [bob, cy]

    # A full push: replace the whole list.
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "path": "members", "value": members(ada, dee)}))
    assert status == 204
    assert await backend_members(world, gid) == [ada, dee]

    # An empty full push empties the team.
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "path": "members", "value": []}))
    assert status == 204
    assert await backend_members(world, gid) == []

    # Apps without PATCH: PUT with the whole group.
    status, put, _ = await world.a.put(f"/Groups/{gid}", {
        "schemas": [GROUP], "id": gid, "displayName": "Engineering", "members": members(bob, cy)})
    assert status == 200, put
    assert put["displayName"] == "Engineering"
    assert sorted(m["value"] for m in put["members"]) == sorted([bob, cy])
    assert await backend_members(world, gid) == [bob, cy]
    status, read, _ = await world.a.get(f"/Groups/{gid}")
    assert status == 200
    assert [m["value"] for m in read["members"]] == [bob, cy]
    assert read["members"][0]["$ref"].endswith(f"/Users/{bob}")

    # Unlink: delete. The team goes, the people stay.
    status, body, _ = await world.a.delete(f"/Groups/{gid}")
    assert status == 204 and body is None
    assert (await world.backend.team(world.org_a, gid))[0] == 404
    for person in (ada, bob, cy, dee):
        assert (await world.backend.employee(world.org_a, person))["status"] == "active"
    assert (await world.a.get(f"/Groups/{gid}"))[0] == 404
    status, found, _ = await world.a.get('/Groups?filter=displayName eq "Engineering"')
    assert found["totalResults"] == 0


async def test_duplicate_display_name_is_409_uniqueness(world: World):
    await push(world, "Sales")
    status, body, _ = await world.a.post(
        "/Groups", {"schemas": [GROUP], "displayName": "SALES", "members": []})
    assert status == 409, body
    assert body["scimType"] == "uniqueness" and "displayName" in body["detail"]
    other = await push(world, "Support")
    status, body, _ = await world.a.patch(f"/Groups/{other['id']}", patch_ops(
        {"op": "replace", "value": {"displayName": "sales"}}))
    assert status == 409 and body["scimType"] == "uniqueness"
    assert (await world.backend.team(world.org_a, other["id"]))[1]["name"] == "Support"


async def test_add_or_remove_one_member_costs_one_backend_call_whatever_the_size(world: World):
    crowd = await people(world, 450)
    small, big = await push(world, "Small"), await push(world, "Big")
    await world.backend.seed_members(world.org_a, big["id"], crowd[:-1])
    newcomer = crowd[-1]
    for group in (small, big):
        gid = group["id"]
        await world.backend.clear_log()
        status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
            {"op": "add", "path": "members", "value": members(newcomer)}))
        assert status == 204
        calls = await world.backend.calls()
        assert calls == [f"POST /internal/v1/orgs/{world.org_a}/teams/{gid}/members/add"], calls

        await world.backend.clear_log()
        status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
            {"op": "remove", "path": f'members[value eq "{newcomer}"]'}))
        assert status == 204
        calls = await world.backend.calls()
        assert calls == [f"POST /internal/v1/orgs/{world.org_a}/teams/{gid}/members/remove"]
    assert len(await backend_members(world, big["id"])) == 449


async def test_okta_rename_with_add_reads_the_team_but_never_its_members(world: World):
    crowd = await people(world, 300)
    group = await push(world, "Ops")
    gid = group["id"]
    await world.backend.seed_members(world.org_a, gid, crowd[:250])
    await world.backend.clear_log()
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "value": {"id": gid, "displayName": "Ops"}},
        {"op": "add", "path": "members", "value": members(crowd[260])}))
    assert status == 204
    calls = await world.backend.calls()
    assert not any("GET" in c and "/members" in c for c in calls), calls
    assert len(calls) <= 2, calls


async def test_get_with_excluded_members_reads_no_memberships(world: World):
    crowd = await people(world, 30)
    group = await push(world, "Quiet")
    await world.backend.seed_members(world.org_a, group["id"], crowd)
    await world.backend.clear_log()
    status, body, _ = await world.a.get(f"/Groups/{group['id']}?excludedAttributes=members")
    assert status == 200 and "members" not in body and body["displayName"] == "Quiet"
    status, body, _ = await world.a.get(
        '/Groups?excludedAttributes=members&filter=displayName eq "Quiet"')
    assert status == 200 and body["totalResults"] == 1 and "members" not in body["Resources"][0]
    status, body, _ = await world.a.get("/Groups?excludedAttributes=members")
    assert status == 200 and body["totalResults"] == 1
    status, body, _ = await world.a.get(f"/Groups/{group['id']}?attributes=displayName")
    assert status == 200 and set(body) == {"schemas", "id", "displayName"}
    assert member_calls(await world.backend.calls()) == []


async def test_full_get_of_a_large_group_pages_members_in_order(world: World):
    crowd = await people(world, 450)
    group = await push(world, "Everyone")
    await world.backend.seed_members(world.org_a, group["id"], crowd)
    await world.backend.clear_log()
    status, body, headers = await world.a.get(f"/Groups/{group['id']}")
    assert status == 200
    assert headers.get("Transfer-Encoding") == "chunked"  # streamed, not built whole
    assert headers["ETag"] == body["meta"]["version"]
    assert [m["value"] for m in body["members"]] == sorted(crowd, key=int)
    gets = [c for c in await world.backend.calls() if "/members" in c]
    assert len(gets) == 3, gets  # 200 + 200 + 50
    # The list streams them too, with the same shape.
    status, listed, _ = await world.a.get("/Groups?startIndex=1&count=100")
    assert status == 200 and listed["itemsPerPage"] == 1
    assert listed["Resources"][0]["members"] == body["members"]


async def test_patch_answers_204_or_only_the_requested_attributes(world: World):
    ada, bob = await people(world, 2)
    gid = (await push(world, "Design"))["id"]
    status, body, _ = await world.a.patch(
        f"/Groups/{gid}?attributes=displayName",
        patch_ops({"op": "add", "path": "members", "value": members(ada)}))
    assert status == 200
    assert body == {"schemas": [GROUP], "id": gid, "displayName": "Design"}
    status, body, _ = await world.a.patch(
        f"/Groups/{gid}?attributes=members",
        patch_ops({"op": "add", "path": "members", "value": members(bob)}))
    assert status == 200
    assert [m["value"] for m in body["members"]] == [ada, bob]
    assert "displayName" not in body


async def test_put_and_replace_send_only_the_difference_in_batches_of_100(world: World):
    crowd = await people(world, 400)
    gid = (await push(world, "Wide"))["id"]
    first = crowd[:250]
    await world.backend.clear_log()
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "path": "members", "value": members(*first)}))
    assert status == 204
    adds = [c for c in await world.backend.calls() if c.endswith("/members/add")]
    assert len(adds) == 3  # 100 + 100 + 50
    assert await backend_members(world, gid) == first

    # Swap 10 out and 10 in: one add call, one remove call.
    second = first[10:] + crowd[250:260]
    await world.backend.clear_log()
    status, put, _ = await world.a.put(
        f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "Wide", "members": members(*second)})
    assert status == 200 and len(put["members"]) == len(second)
    calls = await world.backend.calls()
    assert len([c for c in calls if c.endswith("/members/add")]) == 1
    assert len([c for c in calls if c.endswith("/members/remove")]) == 1
    assert await backend_members(world, gid) == sorted(second, key=int)


async def test_unknown_member_ids_are_400_named_and_nothing_changes(world: World):
    crowd = await people(world, 150)
    _b_person = (await people(world, 1, org=world.org_b, tag="b"))[0]
    group = await push(world, "Strict")
    gid = group["id"]
    await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "add", "path": "members", "value": members(crowd[0])}))

    # One add call's worth, with a stranger (org B's person) and an id that is no one.
    for stranger in (_b_person, "99999", "not-an-id"):
        status, body, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
            {"op": "add", "path": "members", "value": members(crowd[1], stranger)}))
        assert status == 400, body
        assert f'"{stranger}"' in body["detail"] and crowd[1] not in body["detail"]
        assert await backend_members(world, gid) == [crowd[0]]

    # Several batches' worth, plus a rename: checked before anything is sent.
    status, body, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "value": {"displayName": "Renamed"}},
        {"op": "add", "path": "members", "value": members(*crowd[1:140], "77777")}))
    assert status == 400 and '"77777"' in body["detail"]
    assert await backend_members(world, gid) == [crowd[0]]
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Strict"

    # A full replace and a PUT with an unknown id change nothing either.
    status, body, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "replace", "path": "members", "value": members(*crowd[5:120], "88888")}))
    assert status == 400 and '"88888"' in body["detail"]
    status, body, _ = await world.a.put(f"/Groups/{gid}", {
        "schemas": [GROUP], "displayName": "Other", "members": members(crowd[3], "66666")})
    assert status == 400 and '"66666"' in body["detail"]
    assert await backend_members(world, gid) == [crowd[0]]
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Strict"

    # A create with an unknown member creates no team.
    status, body, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Never", "members": members(crowd[0], "55555")})
    assert status == 400 and '"55555"' in body["detail"]
    status, found, _ = await world.a.get('/Groups?filter=displayName eq "Never"')
    assert found["totalResults"] == 0


async def test_removing_someone_absent_or_unknown_succeeds(world: World):
    ada, bob = await people(world, 2)
    gid = (await push(world, "Lenient"))["id"]
    await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "add", "path": "members", "value": members(ada)}))
    for gone in (bob, "424242", "nobody"):
        status, body, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
            {"op": "remove", "path": f'members[value eq "{gone}"]'}))
        assert status == 204, body
    assert await backend_members(world, gid) == [ada]


async def test_create_with_members_and_external_id(world: World):
    ada, bob = await people(world, 2)
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Founders", "externalId": "00g1abcd",
        "members": members(ada, bob)})
    assert status == 201, group
    assert group["externalId"] == "00g1abcd"
    assert [m["value"] for m in group["members"]] == [ada, bob]
    assert await backend_members(world, group["id"]) == [ada, bob]
    status, read, _ = await world.a.get(f"/Groups/{group['id']}")
    assert read["externalId"] == "00g1abcd"
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "00g1abcd"')
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "00G1ABCD"')
    assert found["totalResults"] == 0  # externalId is caseExact


async def test_external_ids_survive_a_redis_flush(world: World):
    one = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "One",
                                         "externalId": "ext-one"})
    two = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Two",
                                         "externalId": "ext-two"})
    gid, gid2 = one[1]["id"], two[1]["id"]

    await world.store.clear_org(world.org_a)  # Redis flushed: the state database still knows

    status, read, _ = await world.a.get(f"/Groups/{gid}")
    assert status == 200 and read["externalId"] == "ext-one"
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "ext-two"')
    assert status == 200 and [g["id"] for g in found["Resources"]] == [gid2]
    status, found, _ = await world.a.get('/Groups?filter=externalId eq "nobody"')
    assert status == 200 and found["totalResults"] == 0


async def test_teams_made_in_workstream_have_no_external_id_and_block_nothing(world: World):
    status, team = await world.backend.call(
        "POST", f"/internal/v1/orgs/{world.org_a}/teams", {"name": "Legacy"})
    assert status == 201
    status, body, _ = await world.a.get('/Groups?filter=externalId eq "x"')
    assert status == 200 and body["totalResults"] == 0
    status, read, _ = await world.a.get(f"/Groups/{team['id']}")
    assert status == 200 and "externalId" not in read
    status, _, _ = await world.a.put(f"/Groups/{team['id']}",
                                     {"schemas": [GROUP], "displayName": "Legacy",
                                      "externalId": "x"})
    assert status == 200
    status, body, _ = await world.a.get('/Groups?filter=externalId eq "x"')
    assert status == 200 and [g["id"] for g in body["Resources"]] == [str(team["id"])]


async def test_stale_display_name_hint_is_never_trusted(world: World):
    gid = (await push(world, "Alpha"))["id"]
    # Renamed in Workstream directly: the cached hint for "Alpha" now points at "Beta".
    status, _ = await world.backend.call(
        "PATCH", f"/internal/v1/orgs/{world.org_a}/teams/{gid}", {"name": "Beta"})
    assert status == 200
    status, found, _ = await world.a.get('/Groups?filter=displayName eq "Alpha"')
    assert status == 200 and found["totalResults"] == 0
    status, found, _ = await world.a.get('/Groups?filter=displayName eq "BETA"')
    assert [g["id"] for g in found["Resources"]] == [gid]


async def test_import_pages_groups_exactly_once(world: World):
    made = {(await push(world, f"G{i}"))["id"] for i in range(5)}
    seen: list[str] = []
    start = 1
    while True:
        status, body, _ = await world.a.get(
            f"/Groups?startIndex={start}&count=2&excludedAttributes=members")
        assert status == 200 and body["totalResults"] == 5
        seen += [g["id"] for g in body["Resources"]]
        start += 2
        if start > body["totalResults"]:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    status, body, _ = await world.a.get("/Groups?count=0")
    assert status == 200 and body["totalResults"] == 5 and body["Resources"] == []


async def test_org_a_cannot_see_or_touch_org_b_groups(world: World):
    b_person = (await people(world, 1, org=world.org_b, tag="b"))[0]
    status, b_group, _ = await world.b.post("/Groups", {
        "schemas": [GROUP], "displayName": "B Team", "externalId": "b-ext",
        "members": members(b_person)})
    assert status == 201, b_group
    bid = b_group["id"]
    assert (await world.a.get(f"/Groups/{bid}"))[0] == 404
    for flt in ('displayName eq "B Team"', 'externalId eq "b-ext"', f'id eq "{bid}"'):
        status, body, _ = await world.a.get("/Groups", params={"filter": flt})
        assert status == 200 and body["totalResults"] == 0, (flt, body)
    assert (await world.a.get("/Groups"))[1]["totalResults"] == 0
    a_person = (await people(world, 1))[0]
    for op in ({"op": "add", "path": "members", "value": members(a_person)},
               {"op": "remove", "path": f'members[value eq "{b_person}"]'},
               {"op": "replace", "path": "members", "value": []},
               {"op": "replace", "value": {"displayName": "Hijacked"}}):
        status, body, _ = await world.a.patch(f"/Groups/{bid}", patch_ops(op))
        assert status == 404, (op, body)
    assert (await world.a.put(f"/Groups/{bid}", {"schemas": [GROUP],
                                                 "displayName": "X"}))[0] == 404
    assert (await world.a.delete(f"/Groups/{bid}"))[0] == 404
    assert await backend_members(world, bid, org=world.org_b) == [b_person]
    assert (await world.backend.team(world.org_b, bid))[1]["name"] == "B Team"


@pytest.mark.parametrize("method,path,body,status,scim_type", [
    ("POST", "/Groups", b"{nope", 400, "invalidSyntax"),
    ("POST", "/Groups", b"[]", 400, "invalidSyntax"),
    ("POST", "/Groups", b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}', 400,
     "invalidSyntax"),
    ("POST", "/Groups", b'{"displayName": 7}', 400, "invalidValue"),
    ("POST", "/Groups", b'{"displayName": "X", "members": [{"display": "no value"}]}', 400,
     None),
    ("POST", "/Groups", b'{"displayName": "X", "members": "everyone"}', 400, None),
    ("GET", "/Groups/99999", None, 404, None),
    ("GET", "/Groups/not-an-id", None, 404, None),
    ("DELETE", "/Groups/99999", None, 404, None),
    ("GET", "/Groups?filter=displayName eq", None, 400, "invalidFilter"),
    ("GET", '/Groups?filter=members[value eq "1"]', None, 400, "invalidFilter"),
    ("GET", '/Groups?filter=nickName eq "x"', None, 400, "invalidFilter"),
])
async def test_bad_input_gets_a_clear_scim_error(world: World, method, path, body, status,
                                                 scim_type):
    code, err, _ = await world.a.request(method, path, raw=body)
    assert code == status, err
    assert err["status"] == str(status) and err["detail"]
    if scim_type:
        assert err.get("scimType") == scim_type, err


@pytest.mark.parametrize("operation", [
    {"op": "add", "path": "members", "value": "42"},
    {"op": "add", "path": "members", "value": [{"value": "1", "type": "Group"}]},
    {"op": "add", "path": 'members[value eq "1"]', "value": {"value": "1"}},
    {"op": "remove", "path": 'members[display eq "Ada"]'},
    {"op": "replace", "path": "members.value", "value": "1"},
    {"op": "replace", "path": "id", "value": "7"},
    {"op": "move", "path": "displayName", "value": "X"},
    {"op": "replace", "path": "displayName"},
    {"op": "remove", "path": "displayName"},
])
async def test_bad_patch_operations_are_400_and_change_nothing(world: World, operation):
    ada = (await people(world, 1))[0]
    gid = (await push(world, "Steady"))["id"]
    await world.a.patch(f"/Groups/{gid}", patch_ops(
        {"op": "add", "path": "members", "value": members(ada)}))
    status, err, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(operation))
    assert status == 400, err
    assert err["status"] == "400" and err["detail"]
    assert await backend_members(world, gid) == [ada]
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Steady"


async def test_discovery_advertises_groups_with_members(world: World):
    status, schema, _ = await world.a.get(f"/Schemas/{GROUP}")
    assert status == 200
    assert {a["name"] for a in schema["attributes"]} == {"displayName", "members"}
    status, rtype, _ = await world.a.get("/ResourceTypes/Group")
    assert status == 200 and rtype["endpoint"] == "/Groups"
