"""Microsoft Entra ID's user provisioning, replayed request by request.

Every Entra user shape in idp-wire-shapes.md goes gateway → sandbox over real
sockets with a real Redis, authenticated by a bearer token as Entra's "Secret
Token" is; outcomes are read back from the backend itself, not the gateway.
"""

from __future__ import annotations

import uuid

import pytest

from tests.bodies import CORE, ENTERPRISE, patch_ops
from tests.conftest import ScimClient, World


def entra_user(user_name: str, external_id: str | None = None, *,
               given: str = "Grace", family: str = "Hopper", number: str = "E-1") -> dict:
    """Entra's create body (its SCIM validator's shape: string-free, roles, meta)."""
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": external_id or str(uuid.uuid4()),
        "userName": user_name,
        "active": True,
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"department": "Research", "employeeNumber": number},
    }


async def create(entra: ScimClient, user_name: str = "grace@contoso.example", **kw) -> dict:
    kw.setdefault("number", "E-1" if user_name == "grace@contoso.example" else f"E-{user_name}")
    status, body, _ = await entra.post("/Users", entra_user(user_name, **kw))
    assert status == 201, body
    return body


async def record(world: World, user: dict) -> dict:
    return await world.backend.employee(world.org_a, user["id"])


async def ids(entra: ScimClient, flt: str) -> list[str]:
    status, body, _ = await entra.get("/Users", params={"filter": flt})
    assert status == 200, body
    assert body["totalResults"] == len(body["Resources"])
    return [r["id"] for r in body["Resources"]]


# ---------------------------------------------------------------- test connection


EMPTY = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
         "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


@pytest.mark.parametrize("attribute", ["userName", "externalId"])
async def test_entra_test_connection_filter_on_random_guid_is_200_empty(
    world: World, entra: ScimClient, attribute: str
):
    await create(entra)
    status, body, headers = await entra.get(
        "/Users", params={"filter": f'{attribute} eq "{uuid.uuid4()}"'})
    assert status == 200
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body == EMPTY


async def test_entra_test_connection_reads_a_random_user_as_scim_404(entra: ScimClient):
    status, body, _ = await entra.get(f"/Users/{uuid.uuid4()}")
    assert status == 404
    assert body["status"] == "404" and body["detail"]


async def test_entra_wrong_bearer_token_is_scim_401(world: World, entra: ScimClient):
    status, body, _ = await world.client("Bearer not-a-real-token").get("/Users")
    assert status == 401 and body["status"] == "401"
    issued = await world.credentials.issue_token(world.org_b, label="entra")
    b_user = await create(world.client("Bearer " + issued.token), "b@fabrikam.example")
    # A token of org B sees nothing of org A and vice versa.
    assert (await entra.get(f"/Users/{b_user['id']}"))[0] == 404


# ---------------------------------------------------------------- create and match


async def test_entra_create_lands_in_backend(world: World, entra: ScimClient):
    external_id = str(uuid.uuid4())
    status, user, headers = await entra.post(
        "/Users", entra_user("grace@contoso.example", external_id))
    assert status == 201, user
    assert headers["Location"].endswith(f"/Users/{user['id']}")
    assert user["active"] is True and user[ENTERPRISE]["department"] == "Research"
    rec = await record(world, user)
    assert rec["email"] == "grace@contoso.example"
    assert rec["sso_id"] == external_id
    assert (rec["first_name"], rec["last_name"]) == ("Grace", "Hopper")
    assert rec["display_name"] == "Grace Hopper"
    assert rec["department"] == "Research" and rec["employee_number"] == "E-1"
    assert rec["status"] == "active"


async def test_entra_matches_by_username_external_id_and_work_email(
    world: World, entra: ScimClient
):
    external_id = str(uuid.uuid4())
    user = await create(entra, external_id=external_id)
    other = await create(entra, "alan@contoso.example", given="Alan", family="Turing")
    for flt in (
        'userName eq "grace@contoso.example"',
        'userName eq "GRACE@Contoso.Example"',  # userName is caseExact: false
        f'externalId eq "{external_id}"',
        'emails[type eq "work"].value eq "grace@contoso.example"',
        f'externalId eq "{external_id}" and userName eq "grace@contoso.example"',
    ):
        assert await ids(entra, flt) == [user["id"]], flt
    assert await ids(entra, 'emails[type eq "work"].value eq "alan@contoso.example"') == [
        other["id"]]
    # externalId is caseExact: an Entra objectId in another case is someone else.
    assert await ids(entra, f'externalId eq "{external_id.upper()}"') == []
    # `and` of two identities belonging to different people matches no one.
    assert await ids(
        entra, f'externalId eq "{external_id}" and userName eq "alan@contoso.example"') == []


async def test_entra_matching_costs_constant_backend_calls(world: World, entra: ScimClient):
    external_id = str(uuid.uuid4())
    user = await create(entra, external_id=external_id)
    for i in range(30):
        await create(entra, f"filler{i}@contoso.example")
    # Enough people that reading them all takes three backend pages (200 a page): a scan
    # would cost three calls, a lookup one.
    await world.backend.seed_employees(world.org_a, 450)
    for flt in ('userName eq "grace@contoso.example"', f'externalId eq "{external_id}"',
                'emails[type eq "work"].value eq "grace@contoso.example"'):
        await world.backend.clear_log()
        assert await ids(entra, flt) == [user["id"]]
        calls = await world.backend.calls()
        assert len(calls) == 1, (flt, calls)


# ---------------------------------------------------------------- name.formatted
# Entra's default attribute mappings send name.formatted as Join(" ", givenName,
# surname). No employee field holds it: the default mapping computes it on reads.


async def test_entra_formatted_name_reads_back_as_sent(world: World, entra: ScimClient):
    user = await create(entra)
    assert user["name"]["formatted"] == "Grace Hopper"
    status, read, _ = await entra.get(f"/Users/{user['id']}")
    assert status == 200 and read["name"] == {
        "givenName": "Grace", "familyName": "Hopper", "formatted": "Grace Hopper"}
    status, only, _ = await entra.get(f"/Users/{user['id']}",
                                      params={"attributes": "name.formatted"})
    assert status == 200 and only["name"] == {"formatted": "Grace Hopper"}
    assert "userName" not in only

    # A rename: Entra sends the changed names and the recomputed formatted name, both
    # as separate paths and in its merged path-less form; each reads back as sent.
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "name.givenName", "value": "Amazing Grace"},
        {"op": "Replace", "path": "name.formatted", "value": "Amazing Grace Hopper"}))
    assert status == 200, body
    assert body["name"]["formatted"] == "Amazing Grace Hopper"
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops({
        "op": "replace",
        "value": {"name.familyName": "Murray Hopper",
                  "name.formatted": "Amazing Grace Murray Hopper"}}))
    assert status == 200, body
    status, read, _ = await entra.get(f"/Users/{user['id']}")
    assert read["name"]["formatted"] == "Amazing Grace Murray Hopper"
    rec = await record(world, user)
    assert (rec["first_name"], rec["last_name"]) == ("Amazing Grace", "Murray Hopper")


async def test_entra_formatted_name_other_than_the_names_is_not_kept_and_changes_nothing(
    world: World, entra: ScimClient
):
    user = await create(entra)
    before = await record(world, user)
    await world.backend.clear_log()
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "name.formatted", "value": "Rear Admiral Grace Hopper"}))
    assert status == 200, body
    # Nothing can hold it: no write reaches Workstream, and reads give the names.
    assert body["name"]["formatted"] == "Grace Hopper"
    assert await record(world, user) == before
    assert not [c for c in await world.backend.calls() if not c.startswith("GET")]


async def test_entra_filter_on_formatted_name(world: World, entra: ScimClient):
    user = await create(entra)
    other = await create(entra, "alan@contoso.example", given="Alan", family="Turing")
    assert await ids(entra, 'name.formatted eq "Grace Hopper"') == [user["id"]]
    assert await ids(entra, 'name.formatted eq "GRACE HOPPER"') == [user["id"]]  # caseExact false
    assert await ids(entra, 'name.formatted sw "Alan"') == [other["id"]]
    assert sorted(await ids(entra, "name.formatted pr")) == sorted([user["id"], other["id"]])
    assert await ids(entra, 'name.formatted eq "Grace Murray Hopper"') == []
    # The filter follows a rename made in Workstream itself.
    await world.backend.update_employee(world.org_a, user["id"], {"last_name": "Murray Hopper"})
    assert await ids(entra, 'name.formatted eq "Grace Murray Hopper"') == [user["id"]]


# ---------------------------------------------------------------- setup guide (docs/setup/entra.md)


async def test_entra_default_attribute_mappings_create_and_update_ignore_the_unmapped(
    world: World, entra: ScimClient
):
    """Everything Entra's default mappings of a non-gallery app send, kept where Workstream
    has a field for it, ignored (never refused) where it has none."""
    body = {
        **entra_user("grace@contoso.example", "ghopper"),  # externalId from mailNickname
        "title": "Rear Admiral", "preferredLanguage": "en-US",
        "addresses": [{"type": "work", "formatted": "Building 1", "streetAddress": "1 Navy Way",
                       "locality": "Arlington", "region": "VA", "postalCode": "22202",
                       "country": "US"}],
        "phoneNumbers": [{"type": "work", "value": "+1 555 0100"},
                         {"type": "mobile", "value": "+1 555 0101"},
                         {"type": "fax", "value": "+1 555 0102"}],
    }
    status, user, _ = await entra.post("/Users", body)
    assert status == 201, user
    rec = await record(world, user)
    assert (rec["email"], rec["sso_id"], rec["title"], rec["phone"]) == (
        "grace@contoso.example", "ghopper", "Rear Admiral", "+1 555 0100")
    assert "addresses" not in user and "preferredLanguage" not in user
    for op in (
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "2 Navy Way"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0199"},
        {"op": "Remove", "path": 'phoneNumbers[type eq "fax"].value'},
        {"op": "Replace", "path": "preferredLanguage", "value": "fr-FR"},
        {"op": "Add", "path": f"{ENTERPRISE}:organization", "value": "Navy"},
    ):
        status, answer, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(op))
        assert status == 200, (op, answer)
    assert await record(world, user) == rec


async def test_entra_upn_that_is_not_the_mail_becomes_the_workstream_email(
    world: World, entra: ScimClient
):
    """userName ← userPrincipalName (Entra's default) where UPNs aren't mail addresses:
    userName and the work email both feed Workstream's one email, and on a create
    userName wins. docs/setup/entra.md says to map userName from `mail` instead."""
    body = entra_user("grace@contoso.onmicrosoft.com")
    body["emails"] = [{"primary": True, "type": "work", "value": "grace@contoso.example"}]
    status, user, _ = await entra.post("/Users", body)
    assert status == 201, user
    assert (await record(world, user))["email"] == "grace@contoso.onmicrosoft.com"
    assert user["emails"][0]["value"] == "grace@contoso.onmicrosoft.com"
    # With userName mapped from mail, the same person arrives with one address twice.
    status, other, _ = await entra.post("/Users", entra_user(
        "alan@contoso.example", given="Alan", family="Turing", number="E-2"))
    assert status == 201, other
    assert (await record(world, other))["email"] == "alan@contoso.example"


# ---------------------------------------------------------------- PATCH shapes


async def test_entra_disable_with_string_false_deactivates_and_keeps_data(
    world: World, entra: ScimClient
):
    user = await create(entra)
    before = await record(world, user)
    status, body, _ = await entra.patch(
        f"/Users/{user['id']}", patch_ops({"op": "Replace", "path": "active", "value": "False"}))
    assert status == 200, body
    assert body["active"] is False
    after = await record(world, user)
    assert after["status"] == "deactivated"
    for key in ("email", "first_name", "last_name", "sso_id", "department", "employee_number"):
        assert after[key] == before[key], key
    status, body, _ = await entra.patch(
        f"/Users/{user['id']}", patch_ops({"op": "Replace", "path": "active", "value": "True"}))
    assert status == 200 and body["active"] is True
    assert (await record(world, user))["status"] == "active"


async def test_entra_disable_with_real_boolean(world: World, entra: ScimClient):
    user = await create(entra)
    status, body, _ = await entra.patch(
        f"/Users/{user['id']}", patch_ops({"op": "Replace", "path": "active", "value": False}))
    assert status == 200 and body["active"] is False
    assert (await record(world, user))["status"] == "deactivated"


async def test_entra_capitalised_ops_on_each_path_shape(world: World, entra: ScimClient):
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "name.familyName", "value": "Murray Hopper"},
        {"op": "Add", "path": "title", "value": "Rear Admiral"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Navy"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
    ))
    assert status == 200, body
    assert body["name"]["familyName"] == "Murray Hopper"
    assert body[ENTERPRISE]["department"] == "Navy"
    rec = await record(world, user)
    assert rec["last_name"] == "Murray Hopper" and rec["title"] == "Rear Admiral"
    assert rec["department"] == "Navy" and rec["phone"] == "+1 555 0100"
    assert rec["first_name"] == "Grace"

    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Remove", "path": "title"}))
    assert status == 200, body
    assert "title" not in body
    assert (await record(world, user))["title"] is None


async def test_entra_replace_work_email_value_path(world: World, entra: ScimClient):
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": 'emails[type eq "work"].value',
         "value": "grace.hopper@contoso.example"}))
    assert status == 200, body
    assert (await record(world, user))["email"] == "grace.hopper@contoso.example"
    # The person is found under the new address, and no longer under the old one.
    assert await ids(entra, 'emails[type eq "work"].value eq "grace.hopper@contoso.example"') \
        == [user["id"]]
    assert await ids(entra, 'emails[type eq "work"].value eq "grace@contoso.example"') == []


async def test_entra_replace_username(world: World, entra: ScimClient):
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "userName", "value": "ghopper@contoso.example"}))
    assert status == 200, body
    assert body["userName"] == "ghopper@contoso.example"
    assert (await record(world, user))["email"] == "ghopper@contoso.example"
    assert await ids(entra, 'userName eq "ghopper@contoso.example"') == [user["id"]]
    assert await ids(entra, 'userName eq "grace@contoso.example"') == []


async def test_entra_merged_pathless_replace_with_dotted_and_urn_keys(
    world: World, entra: ScimClient
):
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops({
        "op": "replace",
        "value": {
            "name.givenName": "Amazing Grace",
            f"{ENTERPRISE}:employeeNumber": "7",
            "displayName": "Amazing Grace Hopper",
            "active": "False",
        },
    }))
    assert status == 200, body
    rec = await record(world, user)
    assert rec["first_name"] == "Amazing Grace" and rec["last_name"] == "Hopper"
    assert rec["employee_number"] == "7"
    assert rec["display_name"] == "Amazing Grace Hopper"
    assert rec["status"] == "deactivated"
    assert rec["department"] == "Research"


async def test_entra_manager_as_bare_string_after_create(world: World, entra: ScimClient):
    boss = await create(entra, "boss@contoso.example", given="Boss", family="Person")
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}))
    assert status == 200, body
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert (await record(world, user))["manager_id"] == int(boss["id"])
    status, read, _ = await entra.get(f"/Users/{user['id']}")
    assert read[ENTERPRISE]["manager"]["value"] == boss["id"]


async def test_entra_manager_that_is_no_user_is_a_clear_400(world: World, entra: ScimClient):
    user = await create(entra)
    for bad in ("not-an-id", "99999999"):
        status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": bad}))
        assert status == 400, (bad, body)
        assert body["detail"]
    assert (await record(world, user))["manager_id"] is None


@pytest.mark.parametrize("empty", ["", None])
async def test_entra_clearing_with_empty_or_null(world: World, entra: ScimClient, empty):
    boss = await create(entra, "boss@contoso.example", given="Boss", family="Person")
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
        {"op": "Add", "path": "title", "value": "Admiral"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
    ))
    assert status == 200, body
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "title", "value": empty},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": empty},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": empty},
        {"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": empty},
    ))
    assert status == 200, body
    assert "title" not in body
    assert "department" not in body.get(ENTERPRISE, {})
    assert "manager" not in body.get(ENTERPRISE, {})
    assert "phoneNumbers" not in body
    rec = await record(world, user)
    assert rec["title"] is None and rec["department"] is None
    assert rec["manager_id"] is None and rec["phone"] is None
    assert rec["employee_number"] == "E-1" and rec["first_name"] == "Grace"


@pytest.mark.parametrize("empty", ["", None])
async def test_entra_clearing_inside_merged_pathless_op(world: World, entra: ScimClient, empty):
    user = await create(entra)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops({
        "op": "Replace",
        "value": {f"{ENTERPRISE}:department": empty, "displayName": empty,
                  "name.familyName": "Hopper-Murray"},
    }))
    assert status == 200, body
    rec = await record(world, user)
    assert rec["department"] is None and rec["display_name"] is None
    assert rec["last_name"] == "Hopper-Murray"


async def test_entra_clearing_a_required_attribute_is_400_and_changes_nothing(
    world: World, entra: ScimClient
):
    user = await create(entra)
    before = await record(world, user)
    status, body, _ = await entra.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "Replace", "path": "title", "value": "Admiral"},
        {"op": "Replace", "path": "name.familyName", "value": ""},
    ))
    assert status == 400, body
    assert "name.familyName" in body["detail"]
    assert await record(world, user) == before


async def test_entra_hard_delete_is_204_deactivates_and_unlinks(world: World, entra: ScimClient):
    user = await create(entra)
    status, body, _ = await entra.patch(
        f"/Users/{user['id']}", patch_ops({"op": "Replace", "path": "active", "value": "False"}))
    assert status == 200
    status, body, _ = await entra.delete(f"/Users/{user['id']}")
    assert status == 204 and body is None
    rec = await record(world, user)
    assert rec["status"] == "deactivated" and rec["email"] == "grace@contoso.example"
    # Gone for SCIM (RFC 7644 §3.6), kept in Workstream: a later create relinks the person.
    assert await ids(entra, 'userName eq "grace@contoso.example"') == []
    status, body, _ = await entra.get(f"/Users/{user['id']}")
    assert status == 404
    again = await create(entra)
    assert again["id"] == user["id"] and again["active"] is True


async def test_entra_delete_of_active_user_deactivates(world: World, entra: ScimClient):
    user = await create(entra)
    status, _, _ = await entra.delete(f"/Users/{user['id']}")
    assert status == 204
    assert (await record(world, user))["status"] == "deactivated"
    assert len(await world.backend.employees(world.org_a)) == 1
