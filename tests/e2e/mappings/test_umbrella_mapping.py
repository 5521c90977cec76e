"""Umbrella (mappings.examples.umbrella): values translated both ways.

Department codes ⇄ names, `en_US` → `en-US`, phone numbers normalised; a PUT
of what was read changes nothing; a code outside the table is a SCIM 400
naming the attribute, and nothing reaches the backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bodies import ENTERPRISE, PATCH_OP
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"
DEPARTMENT = f"{ENTERPRISE}:department"


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "mappings.examples.umbrella"}


def umbrella_user() -> dict:
    return json.loads((SAMPLES / "umbrella-create.json").read_text())


async def create(world: World) -> dict:
    status, user, _ = await world.a.post("/Users", umbrella_user())
    assert status == 201, user
    return user


def set_department(value: str) -> dict:
    return {"schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": DEPARTMENT, "value": value}]}


async def test_umbrella_values_are_stored_translated_and_read_back(world: World):
    user = await create(world)
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["department"] == "Engineering"
    assert record["locale"] == "en-US"
    assert record["phone"] == "+15550100199"
    status, read, _ = await world.a.get(f"/Users/{user['id']}")
    assert status == 200
    assert read[ENTERPRISE]["department"] == "ENG"
    assert read["locale"] == "en-US"
    assert read["phoneNumbers"] == [{"type": "work", "primary": True, "value": "+15550100199"}]


async def test_umbrella_put_of_what_was_read_changes_nothing(world: World):
    user = await create(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    before = await world.backend.employee(world.org_a, user["id"])
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, body
    after = await world.backend.employee(world.org_a, user["id"])
    assert after["lock_version"] == before["lock_version"]
    assert after == before


async def test_umbrella_department_code_changes_by_patch(world: World):
    user = await create(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", set_department("fin"))
    assert status == 200 and body[ENTERPRISE]["department"] == "FIN"
    assert (await world.backend.employee(world.org_a, user["id"]))["department"] == "Finance"


async def test_umbrella_unknown_code_on_patch_is_400_and_nothing_changes(world: World):
    user = await create(world)
    before = await world.backend.employee(world.org_a, user["id"])
    await world.backend.clear_log()
    status, err, _ = await world.a.patch(f"/Users/{user['id']}", set_department("MKT"))
    assert status == 400 and err["scimType"] == "invalidValue"
    assert f"'{DEPARTMENT}'" in err["detail"] and "MKT" in err["detail"]
    assert [c for c in await world.backend.calls() if not c.startswith("GET")] == []
    assert await world.backend.employee(world.org_a, user["id"]) == before


async def test_umbrella_unknown_code_on_create_is_400_and_nobody_is_created(world: World):
    body = umbrella_user()
    body[ENTERPRISE]["department"] = "Engineering"  # the name, not a code: not guessed
    status, err, _ = await world.a.post("/Users", body)
    assert status == 400 and f"'{DEPARTMENT}'" in err["detail"]
    assert await world.backend.employees(world.org_a) == []


@pytest.mark.parametrize("attribute,value", [
    ("locale", "English"), ("phoneNumbers", [{"type": "work", "value": "call me"}]),
])
async def test_umbrella_bad_locale_or_phone_is_400_naming_it(world: World, attribute, value):
    body = umbrella_user()
    body[attribute] = value
    status, err, _ = await world.a.post("/Users", body)
    assert status == 400 and attribute in err["detail"]
    assert "phone'" not in err["detail"]  # the SCIM name, not the backend's
    assert await world.backend.employees(world.org_a) == []


async def test_umbrella_department_set_in_workstream_survives_a_put(world: World):
    user = await create(world)
    await world.backend.update_employee(world.org_a, user["id"], {"department": "Research"})
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    assert read[ENTERPRISE]["department"] == "Research"  # outside the table: shown as it is
    before = await world.backend.employee(world.org_a, user["id"])
    read["title"] = "Scientist"
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, body
    after = await world.backend.employee(world.org_a, user["id"])
    assert after["department"] == "Research" and after["title"] == "Scientist"
    assert after["lock_version"] == before["lock_version"] + 1


async def test_umbrella_filter_by_department_code(world: World):
    user = await create(world)
    status, body, _ = await world.a.get("/Users", params={"filter": f'{DEPARTMENT} eq "ENG"'})
    assert status == 200 and [r["id"] for r in body["Resources"]] == [user["id"]]
