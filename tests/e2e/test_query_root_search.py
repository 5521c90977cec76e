"""Root-level `POST /.search` (RFC 7644 §3.4.3) and the rules every SearchRequest follows."""

from __future__ import annotations

import pytest

from tests.bodies import ENTERPRISE, GROUP
from tests.conftest import World
from tests.property.people import (
    POPULATION,
    POPULATION_INACTIVE,
    SEARCH_REQUEST,
    seed,
)

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
async def people(world: World) -> list[str]:
    return [str(i) for i in await seed(world, world.org_a, POPULATION, POPULATION_INACTIVE)]


async def root(world: World, body: dict, client=None) -> tuple[int, dict]:
    status, answer, headers = await (client or world.a).post(
        "/.search", {"schemas": [SEARCH_REQUEST], **body})
    if status == 200:
        assert headers["Content-Type"].startswith("application/scim+json")
    return status, answer


async def test_root_search_filters_users(world: World, people: list[str]):
    status, body = await root(world, {"filter": 'title co "analyst" and active eq true'})
    assert status == 200, body
    assert body["schemas"] == [LIST_RESPONSE]
    assert [r["id"] for r in body["Resources"]] == people[:2]
    assert all(r["meta"]["resourceType"] == "User" for r in body["Resources"])
    status, body = await root(world, {"filter": 'userName eq "KAY@b.example"'})
    assert [r["id"] for r in body["Resources"]] == [people[5]]


async def test_root_search_without_filter_pages_everything(world: World, people: list[str]):
    status, body = await root(world, {})
    assert status == 200 and body["totalResults"] == len(people)
    assert [r["id"] for r in body["Resources"]] == people
    status, body = await root(world, {"startIndex": 2, "count": 3})
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (6, 2, 3)
    assert [r["id"] for r in body["Resources"]] == people[1:4]
    status, body = await root(world, {"count": 0})
    assert body["totalResults"] == 6 and body["Resources"] == []
    status, body = await root(world, {"startIndex": 50})
    assert body["totalResults"] == 6 and body["Resources"] == [] and body["startIndex"] == 50


async def test_root_search_sorts_and_projects(world: World, people: list[str]):
    status, body = await root(world, {"sortBy": "name.familyName", "sortOrder": "descending",
                                      "attributes": ["name.familyName"], "count": 3})
    assert status == 200, body
    # Code point order after case folding: Ångström, Turing, Straße; only what was asked.
    assert [r["id"] for r in body["Resources"]] == [people[4], people[2], people[3]]
    assert body["Resources"][0] == {"schemas": body["Resources"][0]["schemas"],
                                    "id": people[4], "name": {"familyName": "Ångström"}}
    status, body = await root(world, {"sortBy": "name.familyName", "startIndex": 4})
    # Ascending, ties (the two Lovelaces) in id order, across the page boundary.
    assert [r["id"] for r in body["Resources"]] == [people[3], people[2], people[4]]
    status, body = await root(world, {"filter": 'userName eq "zoe@b.example"',
                                      "excludedAttributes": ["emails", "meta", ENTERPRISE]})
    assert set(body["Resources"][0]) == {"schemas", "id", "userName", "name", "title",
                                         "externalId", "active"}


async def test_root_search_unknown_attribute_is_invalid_filter(world: World, people: list[str]):
    for flt in ('nickName eq "x"', 'noSuch pr', 'userName eq'):
        status, body = await root(world, {"filter": flt})
        assert status == 400 and body["scimType"] == "invalidFilter", (flt, body)
    status, body = await root(world, {"sortBy": "noSuchAttribute"})
    assert status == 400 and body["scimType"] == "invalidValue"


@pytest.mark.parametrize("body", [
    {"count": "ten"},
    {"attributes": "userName"},
    {"filter": 42},
    {"sortOrder": "sideways"},
])
async def test_bad_search_requests_are_400(world: World, people: list[str], body: dict):
    for path in ("/.search", "/Users/.search"):
        status, answer, _ = await world.a.post(path, {"schemas": [SEARCH_REQUEST], **body})
        assert status == 400, (path, body, answer)
        assert answer["status"] == "400" and answer["detail"]


async def test_root_search_is_authenticated_and_org_bound(world: World, people: list[str]):
    status, body = await root(world, {}, client=world.client("Bearer nope"))
    assert status == 401 and body["status"] == "401"
    status, body = await root(world, {}, client=world.b)
    assert status == 200 and body["totalResults"] == 0


async def test_get_on_root_search_is_scim_405(world: World, people: list[str]):
    status, body, headers = await world.a.get("/.search")
    assert status == 405 and body["status"] == "405" and "POST" in headers["Allow"]




async def test_root_search_covers_users_then_groups(world: World, people: list[str]):
    gids = []
    for name in ("Ada Lovelace", "Research"):
        status, group, _ = await world.a.post("/Groups", {
            "schemas": [GROUP], "displayName": name, "members": [{"value": people[0]}]})
        assert status == 201, group
        gids.append(group["id"])
    status, body = await root(world, {})
    assert status == 200 and body["totalResults"] == len(people) + 2
    assert [(r["meta"]["resourceType"], r["id"]) for r in body["Resources"]] == [
        ("User", p) for p in people] + [("Group", g) for g in gids]
    # A window across the boundary between the two types.
    status, body = await root(world, {"startIndex": 6, "count": 2})
    assert [r["id"] for r in body["Resources"]] == [people[5], gids[0]]
    assert body["totalResults"] == 8
    status, body = await root(world, {"startIndex": 8, "count": 5})
    assert [r["id"] for r in body["Resources"]] == [gids[1]]
    # displayName is an attribute of both; userName only of Users; members only of Groups.
    status, body = await root(world, {"filter": 'displayName eq "ada lovelace"',
                                      "attributes": ["displayName"]})
    assert [(r["meta"]["resourceType"] if "meta" in r else None, r["id"])
            for r in body["Resources"]] == [(None, people[0]), (None, gids[0])]
    assert body["Resources"][1] == {"schemas": [GROUP], "id": gids[0],
                                    "displayName": "Ada Lovelace"}
    status, body = await root(world, {"filter": 'userName eq "ada.lovelace@acme.example"'})
    assert [r["id"] for r in body["Resources"]] == [people[0]]
    status, body = await root(world, {"filter": 'displayName sw "R"',
                                      "excludedAttributes": ["members"]})
    assert [r["id"] for r in body["Resources"]] == [gids[1]]
    assert "members" not in body["Resources"][0]
    status, body = await root(world, {"sortBy": "displayName", "count": 3,
                                      "attributes": ["displayName"]})
    assert [r["displayName"] for r in body["Resources"]] == [
        "Ada Lovelace", "Ada Lovelace", "Grace Hopper"]
