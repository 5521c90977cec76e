"""HTTP-level behaviour of /Users: versions, request ids, odd methods and sizes."""

from __future__ import annotations

from tests.bodies import ENTERPRISE, PATCH_OP, create_user, okta_user
from tests.conftest import World


async def test_put_ignores_unknown_and_read_only_attributes(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["favouriteColour"] = "teal"
    read["id"] = "somebody-else"
    read["meta"] = {"created": "1999-01-01T00:00:00Z"}
    read["groups"] = [{"value": "1", "display": "x"}]
    read["title"] = "Lead"
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, body
    assert body["id"] == user["id"] and "favouriteColour" not in body
    assert body["meta"]["created"] == user["meta"]["created"]
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "Lead"


async def test_backend_validation_error_names_the_scim_attribute(world: World):
    user = await create_user(world)
    status, err, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": "987654"}]})
    assert status == 400 and err["scimType"] == "invalidValue"
    assert f"{ENTERPRISE}:manager.value" in err["detail"] and "manager_id" not in err["detail"]


async def test_manager_set_by_id_reads_back(world: World):
    boss = await create_user(world)
    status, report, _ = await world.a.post("/Users", okta_user(email="r@okta.local",
                                                               external_id="r"))
    status, body, _ = await world.a.patch(f"/Users/{report['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}]})
    assert status == 200, body
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    record = await world.backend.employee(world.org_a, report["id"])
    assert record["manager_id"] == int(boss["id"])


async def test_if_match_stale_is_412_and_nothing_changes(world: World):
    user = await create_user(world)
    status, body, _ = await world.a.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "X"}]},
        headers={"If-Match": 'W/"999"'})
    assert status == 412 and body["status"] == "412"
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] is None
    status, body, headers = await world.a.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "X"}]},
        headers={"If-Match": user["meta"]["version"]})
    assert status == 200 and body["title"] == "X"
    assert headers["ETag"] == body["meta"]["version"] != user["meta"]["version"]


async def test_if_none_match_current_version_is_304(world: World):
    user = await create_user(world)
    status, body, headers = await world.a.get(
        f"/Users/{user['id']}", headers={"If-None-Match": user["meta"]["version"]})
    assert status == 304 and body is None and headers["ETag"] == user["meta"]["version"]
    status, _, _ = await world.a.get(f"/Users/{user['id']}",
                                     headers={"If-None-Match": 'W/"0"'})
    assert status == 200


async def test_request_id_is_echoed_or_made(world: World):
    _, _, headers = await world.a.get("/Users", headers={"X-Request-Id": "okta-req-42"})
    assert headers["X-Request-Id"] == "okta-req-42"
    _, _, headers = await world.a.get("/Users", headers={"X-Request-Id": "bad id\twith tab"})
    assert headers["X-Request-Id"] != "bad id\twith tab" and len(headers["X-Request-Id"]) == 32


async def test_unsupported_method_and_unknown_route_are_scim_errors(world: World):
    status, body, _ = await world.a.request("PATCH", "/Users", {"x": 1})
    assert status == 405 and body["status"] == "405"
    status, body, _ = await world.a.get("/Nope")
    assert status == 404 and body["status"] == "404"


async def test_oversized_body_is_413(world: World):
    status, body, _ = await world.a.request("POST", "/Users", raw=b'{"a":"' + b"x" * 2_000_000
                                            + b'"}')
    assert status == 413 and body["status"] == "413"
