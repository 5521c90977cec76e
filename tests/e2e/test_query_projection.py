"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on lists, reads and writes,
and the ETag preconditions that go with reads and writes (§3.14).
"""

from __future__ import annotations

import pytest

from tests.bodies import ENTERPRISE, PATCH_OP, okta_user
from tests.conftest import World
from tests.property.people import SEARCH_REQUEST


@pytest.fixture
async def user(world: World) -> dict:
    body = okta_user()
    body["title"] = "Analyst"
    body["schemas"].append(ENTERPRISE)
    body[ENTERPRISE] = {"department": "Research", "employeeNumber": "E-1"}
    status, created, _ = await world.a.post("/Users", body)
    assert status == 201, created
    return created


# (query parameters, exactly the resource expected, as a function of the full one)
CASES = [
    ({"attributes": "userName"}, lambda u: {"schemas": u["schemas"], "id": u["id"],
                                            "userName": u["userName"]}),
    ({"attributes": "USERNAME,Title"}, lambda u: {"schemas": u["schemas"], "id": u["id"],
                                                  "userName": u["userName"],
                                                  "title": "Analyst"}),
    ({"attributes": "name.givenName,emails.value"},
     lambda u: {"schemas": u["schemas"], "id": u["id"], "name": {"givenName": "Test"},
                "emails": [{"value": "test.user@okta.local"}]}),
    ({"attributes": "department"},
     lambda u: {"schemas": u["schemas"], "id": u["id"], ENTERPRISE: {"department": "Research"}}),
    ({"attributes": f"{ENTERPRISE}:employeeNumber"},
     lambda u: {"schemas": u["schemas"], "id": u["id"], ENTERPRISE: {"employeeNumber": "E-1"}}),
    ({"attributes": ENTERPRISE},
     lambda u: {"schemas": u["schemas"], "id": u["id"], ENTERPRISE: u[ENTERPRISE]}),
    ({"attributes": "meta.lastModified,active"},
     lambda u: {"schemas": u["schemas"], "id": u["id"], "active": True,
                "meta": {"lastModified": u["meta"]["lastModified"]}}),
    ({"attributes": "password,nickName"}, lambda u: {"schemas": u["schemas"], "id": u["id"]}),
    ({"attributes": "userName,title", "excludedAttributes": "title"},
     lambda u: {"schemas": u["schemas"], "id": u["id"], "userName": u["userName"]}),
    ({"excludedAttributes": "emails,META,name," + ENTERPRISE},
     lambda u: {k: v for k, v in u.items() if k not in ("emails", "meta", "name", ENTERPRISE)}),
    ({"excludedAttributes": "id,schemas,password"}, lambda u: u),  # returned always
    ({"excludedAttributes": "name.familyName,department"},
     lambda u: {**u, "name": {"givenName": "Test", "formatted": "Test User"},
                ENTERPRISE: {"employeeNumber": "E-1"}}),
]


@pytest.mark.parametrize("params,want", CASES)
async def test_projection_on_list_search_and_get(world: World, user: dict, params, want):
    expected = want(user)
    status, body, _ = await world.a.get("/Users", params=params)
    assert status == 200 and body["Resources"] == [expected], params
    status, body, _ = await world.a.get("/Users", params={**params, "filter": 'title pr'})
    assert status == 200 and body["Resources"] == [expected], params
    search = {k: v.split(",") for k, v in params.items()}
    status, body, _ = await world.a.post("/Users/.search", {
        "schemas": [SEARCH_REQUEST], "filter": 'userName eq "test.user@okta.local"', **search})
    assert status == 200 and body["Resources"] == [expected], params
    status, body, headers = await world.a.get(f"/Users/{user['id']}", params=params)
    assert status == 200 and body == expected, params
    assert headers["ETag"] == user["meta"]["version"]


async def test_projection_does_not_change_what_the_filter_sees(world: World, user: dict):
    _, body, _ = await world.a.get("/Users", params={
        "filter": 'title eq "Analyst"', "attributes": "userName"})
    assert body["totalResults"] == 1 and "title" not in body["Resources"][0]


async def test_projection_on_create_put_and_patch_responses(world: World):
    status, body, headers = await world.a.post("/Users?attributes=userName", okta_user())
    assert status == 201, body
    assert set(body) == {"schemas", "id", "userName"}
    assert headers["Location"].endswith(f"/Users/{body['id']}") and headers["ETag"]
    uid = body["id"]
    _, full, _ = await world.a.get(f"/Users/{uid}")

    full["title"] = "Engineer"
    status, body, _ = await world.a.put(f"/Users/{uid}?excludedAttributes=emails,meta,name",
                                        full)
    assert status == 200 and body["title"] == "Engineer"
    assert not {"emails", "meta", "name"} & set(body) and body["id"] == uid

    status, body, headers = await world.a.patch(f"/Users/{uid}?attributes=active", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200 and body == {"schemas": body["schemas"], "id": uid, "active": False}
    record = await world.backend.employee(world.org_a, uid)
    assert record["status"] == "deactivated" and record["title"] == "Engineer"
    assert headers["ETag"] == f'W/"{record["lock_version"]}"'


async def test_if_none_match_is_304_and_if_match_stale_is_412(world: World, user: dict):
    uid, etag = user["id"], user["meta"]["version"]
    status, body, headers = await world.a.get(f"/Users/{uid}", headers={"If-None-Match": etag})
    assert status == 304 and body is None and headers["ETag"] == etag
    await world.backend.update_employee(world.org_a, uid, {"title": "Changed elsewhere"})
    status, body, _ = await world.a.get(f"/Users/{uid}", headers={"If-None-Match": etag})
    assert status == 200 and body["title"] == "Changed elsewhere"
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title",
                                                    "value": "Mine"}]}
    status, body, _ = await world.a.patch(f"/Users/{uid}", patch, headers={"If-Match": etag})
    assert status == 412, body
    assert (await world.backend.employee(world.org_a, uid))["title"] == "Changed elsewhere"
    _, fresh, _ = await world.a.get(f"/Users/{uid}")
    status, body, _ = await world.a.patch(f"/Users/{uid}", patch,
                                          headers={"If-Match": fresh["meta"]["version"]})
    assert status == 200 and body["title"] == "Mine"
