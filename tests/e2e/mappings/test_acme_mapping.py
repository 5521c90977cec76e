"""Acme (mappings.examples.acme): a custom extension attribute into `cost_center`.

Org A uses Acme's module; org B the default. Outcomes are read from the backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bodies import ENTERPRISE, PATCH_OP
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"
ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "mappings.examples.acme"}


def acme_user() -> dict:
    return json.loads((SAMPLES / "acme-create.json").read_text())


async def create(world: World) -> dict:
    status, user, _ = await world.a.post("/Users", acme_user())
    assert status == 201, user
    return user


async def test_acme_cost_code_lands_in_cost_center_and_reads_back(world: World):
    user = await create(world)
    assert user[ACME] == {"costCode": "CC-42"} and ACME in user["schemas"]
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["cost_center"] == "CC-42"
    status, read, _ = await world.a.get(f"/Users/{user['id']}")
    assert status == 200 and read[ACME] == {"costCode": "CC-42"}
    assert "costCenter" not in json.dumps(read)


async def test_acme_cost_code_changes_by_patch_in_both_idp_shapes(world: World):
    user = await create(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": f"{ACME}:costCode", "value": "CC-7"}]})
    assert status == 200 and body[ACME]["costCode"] == "CC-7"
    assert (await world.backend.employee(world.org_a, user["id"]))["cost_center"] == "CC-7"
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {f"{ACME}:costCode": "CC-8"}}]})
    assert status == 200, body
    assert (await world.backend.employee(world.org_a, user["id"]))["cost_center"] == "CC-8"


async def test_acme_cost_code_is_filterable(world: World):
    user = await create(world)
    status, body, _ = await world.a.get("/Users", params={"filter": f'{ACME}:costCode eq "CC-42"'})
    assert status == 200 and [r["id"] for r in body["Resources"]] == [user["id"]]


async def test_acme_enterprise_cost_center_is_not_a_second_source(world: World):
    body = acme_user()
    body[ENTERPRISE] = {"costCenter": "CC-ENTERPRISE"}
    status, user, _ = await world.a.post("/Users", body)
    assert status == 201, user
    assert (await world.backend.employee(world.org_a, user["id"]))["cost_center"] == "CC-42"


async def test_acme_attribute_appears_in_schemas_for_org_a_and_not_for_org_b(world: World):
    status, a_schemas, _ = await world.a.get("/Schemas")
    assert status == 200
    acme = next(s for s in a_schemas["Resources"] if s["id"] == ACME)
    assert [a["name"] for a in acme["attributes"]] == ["costCode"]
    assert acme["attributes"][0]["type"] == "string"
    status, one, _ = await world.a.get(f"/Schemas/{ACME}")
    assert status == 200 and one["id"] == ACME

    status, b_schemas, _ = await world.b.get("/Schemas")
    assert status == 200 and ACME not in [s["id"] for s in b_schemas["Resources"]]
    status, _, _ = await world.b.get(f"/Schemas/{ACME}")
    assert status == 404


async def test_acme_extension_is_in_resource_types_for_org_a_only(world: World):
    _, a_type, _ = await world.a.get("/ResourceTypes/User")
    _, b_type, _ = await world.b.get("/ResourceTypes/User")
    assert {"schema": ACME, "required": False} in a_type["schemaExtensions"]
    assert ACME not in [e["schema"] for e in b_type["schemaExtensions"]]


async def test_org_b_ignores_acme_extension(world: World):
    status, user, _ = await world.b.post("/Users", acme_user())
    assert status == 201, user
    assert ACME not in user
    assert (await world.backend.employee(world.org_b, user["id"]))["cost_center"] is None
