"""/ServiceProviderConfig, /ResourceTypes and /Schemas advertise exactly what is supported."""

from __future__ import annotations

from tests.bodies import CORE, ENTERPRISE
from tests.conftest import World


async def test_service_provider_config_is_honest(world: World):
    status, spc, _ = await world.a.get("/ServiceProviderConfig")
    assert status == 200
    assert spc["patch"]["supported"] is True and spc["bulk"]["supported"] is False
    assert spc["filter"]["supported"] is True and spc["filter"]["maxResults"] == 200
    assert spc["etag"]["supported"] is True and spc["sort"]["supported"] is True
    assert spc["changePassword"]["supported"] is False
    assert {s["type"] for s in spc["authenticationSchemes"]} == {"httpbasic", "oauthbearertoken"}
    # RFC 7644 §4: only RFC 7643 §5 attributes by default; the query extension on request.
    assert spc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    ext = "urn:workstream:params:scim:gateway:1.0:Query"
    assert ext not in spc
    status, spc, _ = await world.a.get("/ServiceProviderConfig", params={"attributes": ext})
    assert status == 200 and ext in spc["schemas"]
    query = spc[ext]
    assert query["maxScan"] == 10000
    # The planner's own answer: externalId (the id store's index) is pushed down,
    # a title (no backend search) is not.
    assert {"id", "userName", "externalId", "active"} <= set(query["pushedDown"])
    assert "title" not in query["pushedDown"] and query["indexed"] == ["userName", "externalId"]


async def test_resource_types_name_user_with_enterprise_extension(world: World):
    status, body, _ = await world.a.get("/ResourceTypes")
    assert status == 200
    user = next(r for r in body["Resources"] if r["id"] == "User")
    assert user["endpoint"] == "/Users" and user["schema"] == CORE
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    status, one, _ = await world.a.get("/ResourceTypes/User")
    assert status == 200 and one["id"] == "User"
    assert (await world.a.get("/ResourceTypes/Nope"))[0] == 404


async def test_schemas_list_only_mapped_attributes(world: World):
    status, body, _ = await world.a.get("/Schemas")
    assert status == 200
    by_id = {s["id"]: s for s in body["Resources"]}
    names = {a["name"] for a in by_id[CORE]["attributes"]}
    assert {"userName", "name", "emails", "active", "locale", "timezone"} <= names
    assert "nickName" not in names and "x509Certificates" not in names
    name = next(a for a in by_id[CORE]["attributes"] if a["name"] == "name")
    subs = {s["name"]: s for s in name["subAttributes"]}
    assert set(subs) == {"givenName", "familyName", "formatted"}
    # No field holds it: computed on reads, so a client learns it can't set it.
    assert subs["formatted"]["mutability"] == "readOnly"
    assert subs["givenName"]["mutability"] == "readWrite"
    ent = {a["name"] for a in by_id[ENTERPRISE]["attributes"]}
    assert ent == {"department", "employeeNumber", "costCenter", "manager"}
    status, one, _ = await world.a.get(f"/Schemas/{ENTERPRISE}")
    assert status == 200 and one["id"] == ENTERPRISE


async def test_discovery_needs_credentials(world: World):
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        status, body, _ = await world.client("").get(path)
        assert status == 401 and body["status"] == "401"
