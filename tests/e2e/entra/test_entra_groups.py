"""Microsoft Entra ID's group provisioning, replayed request by request.

Entra matches groups with `excludedAttributes=members&filter=displayName eq`,
capitalises its PATCH ops, removes members by value and adds them as a list.
Gateway → sandbox over real sockets with a real Redis, a bearer token as
Entra's "Secret Token"; memberships are read back from the backend.
"""

from __future__ import annotations

import uuid

from tests.bodies import GROUP, patch_ops
from tests.conftest import ScimClient, World

MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


async def match(entra: ScimClient, name: str) -> list[dict]:
    status, body, _ = await entra.get(
        "/Groups", params={"excludedAttributes": "members", "filter": f'displayName eq "{name}"'})
    assert status == 200, body
    assert all("members" not in g for g in body["Resources"])
    return body["Resources"]


async def test_entra_group_sequence_end_to_end(world: World, entra: ScimClient):
    one, two, three = await world.backend.seed_employees(world.org_a, 3, "entra")
    object_id = str(uuid.uuid4())

    # Test connection reads a random group: 404 in SCIM form.
    status, body, _ = await entra.get(f"/Groups/{uuid.uuid4()}")
    assert status == 404 and body["status"] == "404"

    # Matching finds nothing, so Entra creates (its own schema URN alongside).
    assert await match(entra, "Marketing") == []
    status, group, _ = await entra.post("/Groups", {
        "schemas": [GROUP, MS_GROUP], "externalId": object_id, "displayName": "Marketing",
        "meta": {"resourceType": "Group"}})
    assert status == 201, group
    gid = group["id"]
    assert group["externalId"] == object_id
    assert [g["id"] for g in await match(entra, "MARKETING")] == [gid]

    async def membership_patch(*operations: dict) -> list[str]:
        await world.backend.clear_log()
        status, body, _ = await entra.patch(f"/Groups/{gid}", patch_ops(*operations))
        assert status == 204, body
        return await world.backend.calls()

    team = f"/internal/v1/orgs/{world.org_a}/teams/{gid}"
    # Members added as a list, op capitalised: one add call, no member list read.
    calls = await membership_patch(
        {"op": "Add", "path": "members", "value": [{"value": one}, {"value": two},
                                                    {"value": three}]})
    assert calls == [f"POST {team}/members/add"], calls
    assert await world.backend.members(world.org_a, gid) == [one, two, three]

    # Remove by value (not RFC style), then the filtered form.
    calls = await membership_patch(
        {"op": "Remove", "path": "members", "value": [{"value": two}]})
    assert calls == [f"POST {team}/members/remove"], calls
    assert await world.backend.members(world.org_a, gid) == [one, three]
    calls = await membership_patch({"op": "Remove", "path": f'members[value eq "{one}"]'})
    assert calls == [f"POST {team}/members/remove"], calls
    assert await world.backend.members(world.org_a, gid) == [three]

    # Rename, capitalised.
    status, body, _ = await entra.patch(f"/Groups/{gid}", patch_ops(
        {"op": "Replace", "path": "displayName", "value": "Marketing EMEA"}))
    assert status == 204, body
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Marketing EMEA"
    found = await match(entra, "Marketing EMEA")
    assert [g["id"] for g in found] == [gid] and found[0]["externalId"] == object_id
    assert await match(entra, "Marketing") == []

    # Entra also finds groups by externalId.
    status, body, _ = await entra.get("/Groups", params={
        "excludedAttributes": "members", "filter": f'externalId eq "{object_id}"'})
    assert status == 200 and [g["id"] for g in body["Resources"]] == [gid]

    # Delete: the team goes, the people stay.
    status, _, _ = await entra.delete(f"/Groups/{gid}")
    assert status == 204
    assert (await world.backend.team(world.org_a, gid))[0] == 404
    for person in (one, two, three):
        assert (await world.backend.employee(world.org_a, person))["status"] == "active"


async def test_entra_remove_several_by_value_in_one_operation(world: World, entra: ScimClient):
    people = await world.backend.seed_employees(world.org_a, 5, "entra")
    status, group, _ = await entra.post("/Groups", {"schemas": [GROUP], "displayName": "Five"})
    assert status == 201
    gid = group["id"]
    await entra.patch(f"/Groups/{gid}", patch_ops(
        {"op": "Add", "path": "members", "value": [{"value": p} for p in people]}))
    status, body, _ = await entra.patch(f"/Groups/{gid}", patch_ops(
        {"op": "Remove", "path": "members", "value": [{"value": people[0]},
                                                       {"value": people[3]}]},
        {"op": "Add", "path": "members", "value": [{"value": people[0]}]}))
    assert status == 204, body
    assert await world.backend.members(world.org_a, gid) == [people[0], people[1], people[2],
                                                             people[4]]


async def test_entra_group_patch_with_unknown_member_changes_nothing(
    world: World, entra: ScimClient,
):
    person = (await world.backend.seed_employees(world.org_a, 1, "entra"))[0]
    status, group, _ = await entra.post("/Groups", {"schemas": [GROUP], "displayName": "Guarded"})
    gid = group["id"]
    status, body, _ = await entra.patch(f"/Groups/{gid}", patch_ops(
        {"op": "Replace", "path": "displayName", "value": "Guarded 2"},
        {"op": "Add", "path": "members", "value": [{"value": person},
                                                    {"value": str(uuid.uuid4())}]}))
    assert status == 400, body
    assert await world.backend.members(world.org_a, gid) == []
    assert (await world.backend.team(world.org_a, gid))[1]["name"] == "Guarded"
