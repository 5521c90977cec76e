"""Bad input at the HTTP edge gets a SCIM 400 with a JSON body, never a 500."""

from __future__ import annotations

import pytest

from tests.bodies import PATCH_OP, okta_user
from tests.conftest import World


@pytest.mark.parametrize("path", ["/Users", "/Groups"])
async def test_huge_start_index_is_400_not_500(world: World, path: str):
    status, body, _ = await world.a.get(f"{path}?startIndex=1000000000000000000000000000000")
    assert status == 400 and body["scimType"] == "invalidValue" and "startIndex" in body["detail"]
    status, body, _ = await world.a.post(f"{path}/.search", {"startIndex": 10**30})
    assert status == 400 and "startIndex" in body["detail"]


async def test_largest_start_index_is_answered(world: World):
    status, body, _ = await world.a.get("/Users?startIndex=2147483647")
    assert status == 200 and body["startIndex"] == 2147483647 and body["Resources"] == []


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


async def test_deeply_nested_create_is_400_and_creates_nobody(world: World):
    body = okta_user()
    body["title"] = nested(500)
    await world.backend.clear_log()
    status, answer, _ = await world.a.post("/Users", body)
    assert status == 400 and answer["scimType"] == "invalidSyntax"
    # refused before any write (the org's flags may be read first)
    assert [c for c in await world.backend.calls() if not c.startswith("GET ")] == []
    assert await world.backend.employees(world.org_a) == []


async def test_deeply_nested_patch_is_400_and_changes_nothing(world: World):
    status, user, _ = await world.a.post("/Users", okta_user())
    assert status == 201, user
    before = await world.backend.employee(world.org_a, user["id"])
    await world.backend.clear_log()
    status, answer, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": nested(900)}]})
    assert status == 400 and answer["scimType"] == "invalidSyntax"
    assert [c for c in await world.backend.calls() if not c.startswith("GET ")] == []
    assert await world.backend.employee(world.org_a, user["id"]) == before


async def test_lone_surrogate_in_a_filter_is_a_json_scim_error(world: World):
    status, body, headers = await world.a.get(r'/Users?filter=active eq "\ud800"')
    assert status == 400 and headers["Content-Type"].startswith("application/scim+json")
    assert body["status"] == "400" and body["detail"]
