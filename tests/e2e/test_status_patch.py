"""PATCH that only (de)activates: one backend action, no read first, same answer."""

from __future__ import annotations

from tests.bodies import PATCH_OP, create_user
from tests.conftest import World


def only_active(value, path: str | None = None) -> dict:
    op = {"op": "replace", "value": value} if path is None else \
        {"op": "replace", "path": path, "value": value}
    return {"schemas": [PATCH_OP], "Operations": [op]}


async def test_okta_deactivation_is_one_backend_call_and_answers_the_whole_user(world: World):
    user = await create_user(world)
    await world.backend.clear_log()
    status, body, headers = await world.a.patch(f"/Users/{user['id']}",
                                                only_active({"active": False}))
    assert status == 200
    assert await world.backend.calls() == [
        f"POST /internal/v1/orgs/{world.org_a}/employees/{user['id']}/deactivate"]
    assert body["active"] is False
    assert {k: v for k, v in body.items() if k not in ("active", "meta")} == \
        {k: v for k, v in user.items() if k not in ("active", "meta")}
    assert headers["ETag"] == body["meta"]["version"]
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"


async def test_entra_reactivation_with_a_path_and_a_string_boolean(world: World):
    user = await create_user(world)
    await world.a.patch(f"/Users/{user['id']}", only_active({"active": False}))
    await world.backend.clear_log()
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": "True"}]})
    assert status == 200 and body["active"] is True
    assert await world.backend.calls() == [
        f"POST /internal/v1/orgs/{world.org_a}/employees/{user['id']}/reactivate"]


async def test_deactivating_twice_changes_nothing_the_second_time(world: World):
    user = await create_user(world)
    _, first, _ = await world.a.patch(f"/Users/{user['id']}", only_active({"active": False}))
    status, second, _ = await world.a.patch(f"/Users/{user['id']}",
                                            only_active({"active": False}))
    assert status == 200
    assert second["meta"]["version"] == first["meta"]["version"]


async def test_unknown_or_foreign_users_are_404_and_untouched(world: World):
    _, b_user, _ = await world.b.post("/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b@b.example",
        "name": {"givenName": "B", "familyName": "B"}, "active": True})
    for scim_id in (b_user["id"], "999999", "not-an-id"):
        status, body, _ = await world.a.patch(f"/Users/{scim_id}", only_active({"active": False}))
        assert status == 404 and body["detail"] == f"User {scim_id} not found"
    assert (await world.backend.employee(world.org_b, b_user["id"]))["status"] == "active"


async def test_with_if_match_the_version_is_still_checked(world: World):
    user = await create_user(world)
    await world.a.patch(f"/Users/{user['id']}", only_active({"title": "Changed"}))
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", only_active({"active": False}),
                                          headers={"If-Match": user["meta"]["version"]})
    assert status == 412, body
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"


async def test_active_with_another_attribute_still_writes_both(world: World):
    user = await create_user(world)
    await world.backend.clear_log()
    status, body, _ = await world.a.patch(f"/Users/{user['id']}",
                                          only_active({"active": False, "title": "Gone"}))
    assert status == 200 and body["active"] is False and body["title"] == "Gone"
    employee = f"/internal/v1/orgs/{world.org_a}/employees/{user['id']}"
    # The record is known from the create, so no read first: PATCH title, then deactivate.
    assert await world.backend.calls() == [f"PATCH {employee}", f"POST {employee}/deactivate"]


async def test_a_non_boolean_active_is_still_refused(world: World):
    user = await create_user(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", only_active({"active": "no"}))
    assert status == 400 and body["scimType"] == "invalidValue", body
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"
