"""What /Schemas and /ServiceProviderConfig say, so a generic SCIM client gets its first try right.

Each of these was a scim2-tester failure: the gateway refused or dropped a
value its own discovery documents allowed. Pinned here directly, so a
regression names the broken rule rather than a tester check.
"""

from __future__ import annotations

from tests.bodies import CORE, ENTERPRISE
from tests.conftest import World

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def _attribute(schema: dict, name: str) -> dict:
    return next(a for a in schema["attributes"] if a["name"] == name)


def _sub(attribute: dict, name: str) -> dict:
    return next(s for s in attribute["subAttributes"] if s["name"] == name)


async def test_schemas_mark_what_the_backend_requires_on_create(world: World):
    _, user, _ = await world.a.get(f"/Schemas/{CORE}")
    name = _attribute(user, "name")
    assert name["required"] is True
    assert _sub(name, "givenName")["required"] is True
    assert _sub(name, "familyName")["required"] is True
    # The work email is one of two sources of the backend email (userName, which RFC 7643
    # already requires, is the other), so it is not required on its own.
    assert _attribute(user, "userName")["required"] is True
    assert _attribute(user, "emails")["required"] is False
    assert _attribute(user, "title")["required"] is False
    # Without them a create is refused, as advertised.
    status, err, _ = await world.a.post("/Users", {"schemas": [CORE],
                                                   "userName": "noname@example.test"})
    assert status == 400 and "name.givenName" in err["detail"]


async def test_selector_canonical_values_are_the_types_the_mapping_keeps(world: World):
    _, user, _ = await world.a.get(f"/Schemas/{CORE}")
    assert _sub(_attribute(user, "emails"), "type")["canonicalValues"] == ["work"]
    assert _sub(_attribute(user, "phoneNumbers"), "type")["canonicalValues"] == ["work"]


async def test_manager_ref_is_advertised_and_read_back_as_the_managers_location(world: World):
    _, ent, _ = await world.a.get(f"/Schemas/{ENTERPRISE}")
    manager = _attribute(ent, "manager")
    assert {s["name"] for s in manager["subAttributes"]} == {"value", "$ref"}
    assert _sub(manager, "$ref")["referenceTypes"] == ["User"]

    def person(user_name: str, **extra) -> dict:
        return {"schemas": [CORE, ENTERPRISE], "userName": user_name,
                "name": {"givenName": "G", "familyName": "F"}, **extra}

    status, boss, _ = await world.a.post("/Users", person("boss@example.test"))
    assert status == 201, boss
    status, report, _ = await world.a.post(
        "/Users", person("report@example.test", **{ENTERPRISE: {"manager": {"value": boss["id"]}}}))
    assert status == 201, report
    assert report[ENTERPRISE]["manager"] == {"value": boss["id"],
                                             "$ref": boss["meta"]["location"]}
    # Sent back as read (Okta's PUT), $ref and all: accepted, nothing changes.
    status, again, _ = await world.a.put(f"/Users/{report['id']}", report)
    assert status == 200 and again[ENTERPRISE]["manager"] == report[ENTERPRISE]["manager"]
    record = await world.backend.employee(world.org_a, report["id"])
    assert record["manager_id"] == int(boss["id"])


async def test_service_provider_config_carries_only_rfc_attributes_by_default(world: World):
    status, spc, _ = await world.a.get("/ServiceProviderConfig")
    assert status == 200 and spc["schemas"] == [SPC]
    rfc_7643_section_5 = {"schemas", "documentationUri", "patch", "bulk", "filter",
                          "changePassword", "sort", "etag", "authenticationSchemes", "meta"}
    assert set(spc) <= rfc_7643_section_5
