"""Group queries beyond the IdPs' point lookups: scans, sorting, .search, projection."""

from __future__ import annotations

from tests.bodies import GROUP
from tests.conftest import World

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def make(world: World, *names: str) -> dict[str, str]:
    out = {}
    for name in names:
        status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": name,
                                                          "externalId": f"x-{name}"})
        assert status == 201, group
        out[name] = group["id"]
    return out


async def test_filters_the_backend_cant_answer_are_evaluated_over_every_team(world: World):
    ids = await make(world, "Red Team", "Blue Team", "Green Guild")
    status, body, _ = await world.a.get('/Groups?filter=displayName co "team"'
                                        '&excludedAttributes=members')
    assert status == 200
    assert sorted(g["id"] for g in body["Resources"]) == sorted([ids["Red Team"],
                                                                 ids["Blue Team"]])
    status, body, _ = await world.a.get('/Groups?filter=externalId sw "x-G"')
    assert [g["id"] for g in body["Resources"]] == [ids["Green Guild"]]
    status, body, _ = await world.a.get(
        '/Groups?filter=displayName eq "Red Team" or externalId eq "x-Blue Team"')
    assert sorted(g["id"] for g in body["Resources"]) == sorted([ids["Red Team"],
                                                                 ids["Blue Team"]])


async def test_too_many_teams_to_scan_is_a_clear_400(world: World, monkeypatch):
    from gateway.web.state import GROUPS

    await make(world, "One", "Two")
    monkeypatch.setattr(world.app[GROUPS], "_max_scan", 1)
    status, body, _ = await world.a.get('/Groups?filter=displayName co "o"')
    assert status == 400 and body["scimType"] == "tooMany"
    # Point lookups never scan, so they still answer.
    status, body, _ = await world.a.get('/Groups?filter=displayName eq "One"')
    assert status == 200 and body["totalResults"] == 1


async def test_sorting_and_the_search_endpoint(world: World):
    ids = await make(world, "bravo", "Alpha", "charlie")
    status, body, _ = await world.a.get("/Groups?sortBy=displayName&sortOrder=descending"
                                        "&excludedAttributes=members")
    assert status == 200
    assert [g["displayName"] for g in body["Resources"]] == ["charlie", "bravo", "Alpha"]
    status, body, _ = await world.a.post("/Groups/.search", {
        "schemas": [SEARCH], "filter": 'displayName eq "ALPHA"', "attributes": ["displayName"]})
    assert status == 200
    assert body["Resources"] == [{"schemas": [GROUP], "id": ids["Alpha"],
                                  "displayName": "Alpha"}]


async def test_attributes_members_lists_only_ids_and_members(world: World):
    people = await world.backend.seed_employees(world.org_a, 3)
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Trio", "members": [{"value": p} for p in people]})
    assert status == 201
    status, body, _ = await world.a.get("/Groups?attributes=members.value")
    assert status == 200
    assert body["Resources"] == [{"schemas": [GROUP], "id": group["id"],
                                  "members": [{"value": p} for p in people]}]
