"""Okta's user provisioning, replayed request by request (idp-wire-shapes.md, Okta).

Each scenario goes gateway → sandbox over real sockets with a real Redis, and
reads the outcome back from the backend itself, not from the gateway.
"""

from __future__ import annotations

import pytest

from gateway.web.state import ORG_GATE
from tests.bodies import CORE, ENTERPRISE, PATCH_OP, create_user, okta_user
from tests.conftest import World


async def test_test_api_credentials_lists_users(world: World):
    status, body, headers = await world.a.get("/Users?startIndex=1&count=2")
    assert status == 200
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": [],
    }


async def test_okta_create_lands_in_backend_with_every_field(world: World):
    status, body, _ = await world.a.get(
        '/Users?filter=userName+eq+"test.user@okta.local"&startIndex=1&count=100')
    assert status == 200 and body["totalResults"] == 0

    status, user, headers = await world.a.post("/Users", okta_user())
    assert status == 201, user
    assert user["id"] and user["userName"] == "test.user@okta.local"
    assert user["active"] is True
    assert "password" not in user
    assert headers["Location"].endswith(f"/Users/{user['id']}")
    assert headers["ETag"] == user["meta"]["version"]

    record = await world.backend.employee(world.org_a, user["id"])
    assert record["email"] == "test.user@okta.local"
    assert record["first_name"] == "Test" and record["last_name"] == "User"
    assert record["display_name"] == "Test User"
    assert record["locale"] == "en-US"
    assert record["sso_id"] == "00ujl29u0le5T6Aj10h7"
    assert record["status"] == "active"


async def test_okta_create_with_plain_json_content_type(world: World):
    status, body, _ = await world.a.request(
        "POST", "/Users", okta_user(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 201, body
    record = await world.backend.employee(world.org_a, body["id"])
    assert record["email"] == "test.user@okta.local"
    assert record["first_name"] == "Test" and record["last_name"] == "User"
    assert record["sso_id"] == "00ujl29u0le5T6Aj10h7"
    assert record["status"] == "active"
    assert [p["id"] for p in await world.backend.employees(world.org_a)] == [record["id"]]


async def test_duplicate_create_is_409_uniqueness_and_no_second_person(world: World):
    await create_user(world)
    status, body, _ = await world.a.post("/Users", okta_user(external_id="other"))
    assert status == 409
    assert body["scimType"] == "uniqueness" and body["status"] == "409"
    assert "userName" in body["detail"]
    assert len(await world.backend.employees(world.org_a)) == 1


async def test_filter_by_uppercased_username_finds_user(world: World):
    user = await create_user(world)
    status, body, _ = await world.a.get(
        '/Users?filter=userName%20eq%20"TEST.USER@OKTA.LOCAL"&startIndex=1&count=100')
    assert status == 200
    assert body["totalResults"] == 1
    assert body["Resources"][0]["id"] == user["id"]


async def test_filter_attribute_names_and_operator_are_case_insensitive(world: World):
    user = await create_user(world)
    status, body, _ = await world.a.get('/Users?filter=USERNAME+EQ+"test.user@okta.local"')
    assert status == 200 and [r["id"] for r in body["Resources"]] == [user["id"]]


async def test_filter_by_external_id_and_work_email(world: World):
    user = await create_user(world)
    for flt in ('externalId eq "00ujl29u0le5T6Aj10h7"',
                'emails[type eq "work"].value eq "test.user@okta.local"',
                f'id eq "{user["id"]}"'):
        status, body, _ = await world.a.get("/Users", params={"filter": flt})
        assert status == 200, body
        assert [r["id"] for r in body["Resources"]] == [user["id"]], flt
    upper = 'externalId eq "00UJL29U0LE5T6AJ10H7"'
    status, body, _ = await world.a.get("/Users", params={"filter": upper})
    assert body["totalResults"] == 0  # externalId is caseExact


async def test_profile_update_via_put_of_what_was_read(world: World):
    user = await create_user(world)
    status, read, _ = await world.a.get(f"/Users/{user['id']}")
    assert status == 200
    read["name"]["familyName"] = "Userson"
    read["title"] = "Engineer"
    read["groups"] = []
    read[ENTERPRISE] = {"department": "R&D", "employeeNumber": "E-7"}
    read["schemas"] = [CORE, ENTERPRISE]
    status, updated, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, updated
    assert updated["name"]["familyName"] == "Userson"
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["last_name"] == "Userson" and record["title"] == "Engineer"
    assert record["department"] == "R&D" and record["employee_number"] == "E-7"
    assert record["first_name"] == "Test" and record["sso_id"] == "00ujl29u0le5T6Aj10h7"


async def test_put_of_unchanged_resource_changes_nothing(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    before = await world.backend.employee(world.org_a, user["id"])
    status, _, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200
    after = await world.backend.employee(world.org_a, user["id"])
    assert after["lock_version"] == before["lock_version"]


async def test_put_without_active_keeps_status(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read.pop("active")
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200 and body["active"] is True
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"


async def test_deactivation_keeps_every_field_and_reactivation_restores(world: World):
    user = await create_user(world)
    before = await world.backend.employee(world.org_a, user["id"])
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200, body
    assert body["active"] is False
    after = await world.backend.employee(world.org_a, user["id"])
    assert after["status"] == "deactivated"
    for key, value in before.items():
        if key not in ("status", "lock_version", "updated_at"):
            assert after[key] == value, key

    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]})
    assert status == 200 and body["active"] is True
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"


async def test_deactivate_via_put_for_apps_without_patch(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["active"] = False
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200 and body["active"] is False
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"


async def test_delete_deactivates_and_never_deletes(world: World):
    user = await create_user(world)
    status, body, _ = await world.a.delete(f"/Users/{user['id']}")
    assert status == 204 and body is None
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["status"] == "deactivated" and record["email"] == "test.user@okta.local"


async def test_deactivated_user_is_still_found_before_recreate(world: World):
    """Okta deactivates with PATCH active=false: still a user (a DELETE unlinks instead,
    tests/e2e/test_user_unlink.py)."""
    user = await create_user(world)
    status, _, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200
    status, body, _ = await world.a.get('/Users?filter=userName eq "test.user@okta.local"')
    assert status == 200
    assert body["totalResults"] == 1 and body["Resources"][0]["active"] is False


async def test_import_pages_of_two_return_every_user_exactly_once(world: World):
    ids = set()
    for i in range(7):
        user = await create_user(world, email=f"user{i}@okta.local", external_id=f"ext{i}")
        ids.add(user["id"])
    seen: list[str] = []
    start = 1
    while True:
        status, body, _ = await world.a.get(f"/Users?startIndex={start}&count=2")
        assert status == 200
        assert body["totalResults"] == 7
        assert body["itemsPerPage"] == len(body["Resources"])
        seen += [r["id"] for r in body["Resources"]]
        start += 2
        if start > body["totalResults"]:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


async def test_count_zero_and_start_past_end(world: World):
    await create_user(world)
    status, body, _ = await world.a.get("/Users?count=0")
    assert status == 200 and body["totalResults"] == 1 and body["Resources"] == []
    status, body, _ = await world.a.get("/Users?startIndex=50&count=10")
    assert status == 200 and body["totalResults"] == 1 and body["Resources"] == []
    assert body["startIndex"] == 50


async def test_unauthenticated_request_gets_scim_401(world: World):
    client = world.client("Basic " + "bm9ib2R5Om5vcGU=")  # nobody:nope
    status, body, headers = await client.get("/Users")
    assert status == 401
    assert body["status"] == "401" and body["detail"]
    assert "Basic" in headers["WWW-Authenticate"]
    status, body, _ = await world.client("").get("/Users")
    assert status == 401 and body["status"] == "401"


async def test_unknown_user_gets_scim_404(world: World):
    for bad in ("999999", "not-an-id", "0"):
        status, body, _ = await world.a.get(f"/Users/{bad}")
        assert status == 404, bad
        assert body["status"] == "404" and body["detail"]


async def test_org_without_saml_gets_403(world: World):
    await world.backend.set_org(world.org_a, saml_enabled=False)
    # The org gate caches flags for org_cache_ttl_s; forget them to see the change now.
    world.app[ORG_GATE].forget(world.org_a)
    status, body, _ = await world.a.get("/Users")
    assert status == 403
    assert "SAML" in body["detail"] and body["status"] == "403"


async def test_org_a_cannot_see_or_touch_org_b_people(world: World):
    status, b_user, _ = await world.b.post("/Users", okta_user(email="b@b.example"))
    assert status == 201
    bid = b_user["id"]
    assert (await world.a.get(f"/Users/{bid}"))[0] == 404
    status, body, _ = await world.a.get('/Users?filter=userName eq "b@b.example"')
    assert body["totalResults"] == 0
    status, body, _ = await world.a.get("/Users")
    assert body["totalResults"] == 0
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert (await world.a.patch(f"/Users/{bid}", patch))[0] == 404
    assert (await world.a.put(f"/Users/{bid}", okta_user(email="b@b.example")))[0] == 404
    assert (await world.a.delete(f"/Users/{bid}"))[0] == 404
    assert (await world.backend.employee(world.org_b, bid))["status"] == "active"


async def test_password_is_accepted_and_never_returned(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    _, listed, _ = await world.a.get("/Users")
    assert "password" not in read and "password" not in listed["Resources"][0]


@pytest.mark.parametrize("body,scim_type", [
    (b"{not json", "invalidSyntax"),
    (b"[1,2]", "invalidSyntax"),
    (b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"name":{"givenName":"A"}}',
     "invalidSyntax"),
    (b'{"userName": 42}', "invalidValue"),
])
async def test_bad_create_bodies_get_clear_400(world: World, body: bytes, scim_type: str):
    status, err, _ = await world.a.request("POST", "/Users", raw=body)
    assert status == 400, err
    assert err["scimType"] == scim_type and err["detail"]
    assert await world.backend.employees(world.org_a) == []


async def test_missing_family_name_names_the_scim_attribute(world: World):
    body = okta_user()
    del body["name"]["familyName"]
    status, err, _ = await world.a.post("/Users", body)
    assert status == 400 and "name.familyName" in err["detail"]
    assert "last_name" not in err["detail"]


# ---------------------------------------------------------------- setup guide (docs/setup/okta.md)


async def test_okta_http_header_mode_sends_a_bearer_token(world: World):
    # "Authentication Mode: HTTP Header": Okta sends `Authorization: Bearer <token>`.
    issued = await world.credentials.issue_token(world.org_a, label="okta")
    okta = world.client("Bearer " + issued.token)
    status, body, _ = await okta.get("/Users?startIndex=1&count=2")
    assert status == 200 and body["totalResults"] == 0
    status, user, _ = await okta.post("/Users", okta_user())
    assert status == 201, user
    assert (await world.backend.employee(world.org_a, user["id"]))["email"] == okta_user()[
        "userName"]
    # The token answers for its own org only.
    assert (await world.client("Bearer " + issued.token + "x").get("/Users"))[0] == 401


async def test_okta_sync_password_left_on_stores_nothing_and_changes_nothing(world: World):
    user = await create_user(world)
    before = await world.backend.employee(world.org_a, user["id"])
    await world.backend.clear_log()
    # A password push as a PUT of what was read plus the password, and as a PATCH.
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    status, body, _ = await world.a.put(f"/Users/{user['id']}", {**read, "password": "n3w-Pass"})
    assert status == 200, body
    assert "password" not in body
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "0ther"}}]})
    assert status == 200, body
    assert "password" not in body
    assert await world.backend.employee(world.org_a, user["id"]) == before
    writes = [c for c in await world.backend.calls() if not c.startswith("GET")]
    assert writes == []


async def test_okta_profile_editor_enterprise_attributes_land_on_create_and_update(
    world: World
):
    # Attributes added in Okta's Profile Editor with the enterprise external namespace.
    body = okta_user()
    body["schemas"] = [CORE, ENTERPRISE]
    body[ENTERPRISE] = {"employeeNumber": "E-42", "department": "R&D", "costCenter": "CC-7"}
    status, user, _ = await world.a.post("/Users", body)
    assert status == 201, user
    assert user[ENTERPRISE] == {"employeeNumber": "E-42", "department": "R&D",
                                "costCenter": "CC-7"}
    record = await world.backend.employee(world.org_a, user["id"])
    assert (record["employee_number"], record["department"], record["cost_center"]) == (
        "E-42", "R&D", "CC-7")
    # A profile update changes one of them: Okta PUTs the whole user back.
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read[ENTERPRISE]["costCenter"] = "CC-8"
    status, updated, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, updated
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["cost_center"] == "CC-8" and record["employee_number"] == "E-42"


async def test_okta_profile_update_as_patch_for_apps_with_patch(world: World):
    # Apps with PATCH for profile updates send the changed attributes as replaces.
    user = await create_user(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"name": {"givenName": "Tess", "familyName": "User"},
                                        "title": "Engineer"}},
            {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "R&D"}]})
    assert status == 200, body
    assert body["name"] == {"givenName": "Tess", "familyName": "User", "formatted": "Tess User"}
    record = await world.backend.employee(world.org_a, user["id"])
    assert (record["first_name"], record["title"], record["department"]) == (
        "Tess", "Engineer", "R&D")
    assert record["email"] == "test.user@okta.local" and record["status"] == "active"


async def test_import_of_many_pages_reads_each_backend_page_once_and_sees_own_writes(
        world: World):
    """An import paging in order gets the next backend page read ahead (issue 12): each
    backend page is still read once, and a write in between is seen on the next page."""
    ids = await world.backend.seed_employees(world.org_a, 450)
    await world.index_built()  # (its build's pages are not the import's)
    await world.backend.clear_log()
    seen: list[str] = []
    for start in (1, 101, 201):
        status, body, _ = await world.a.get(f"/Users?startIndex={start}&count=100")
        assert status == 200 and body["totalResults"] == 450
        seen += [r["id"] for r in body["Resources"]]
    # A profile change made through the gateway while page 4 was being read ahead:
    status, changed, _ = await world.a.patch(f"/Users/{ids[350]}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title",
                                               "value": "Read after write"}]})
    assert status == 200, changed
    for start in (301, 401):
        status, body, _ = await world.a.get(f"/Users?startIndex={start}&count=100")
        assert status == 200
        seen += [r["id"] for r in body["Resources"]]
        if start == 301:
            [mine] = [r for r in body["Resources"] if r["id"] == ids[350]]
            assert mine["title"] == "Read after write"
    assert seen == ids
    # The import's pages (of 100; the org's index build, started in the background at its
    # first request, reads pages of 200).
    pages = [c for c in await world.backend.calls()
             if c.startswith(f"GET /internal/v1/orgs/{world.org_a}/employees?")
             and "per_page=100" in c]
    numbers = [c.split("page=")[1].split("&")[0] for c in pages]
    # Pages 1-3 once each; page 4 twice (its read-ahead was stale after the write); page 5
    # once; nothing past the last page.
    assert sorted(numbers, key=int) == ["1", "2", "3", "4", "4", "5"]
