"""Hooli (mappings.examples.hooli): `title` is Workstream's, never the IdP's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bodies import PATCH_OP
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "mappings.examples.hooli"}


def hooli_user(title: str = "Intern") -> dict:
    body = json.loads((SAMPLES / "okta-create.json").read_text())
    body["title"] = title
    return body


async def create_with_workstream_title(world: World) -> dict:
    status, user, _ = await world.a.post("/Users", hooli_user())
    assert status == 201, user
    await world.backend.update_employee(world.org_a, user["id"], {"title": "Chief Hooligan"})
    return user


async def test_hooli_title_is_ignored_on_create(world: World):
    status, user, _ = await world.a.post("/Users", hooli_user())
    assert status == 201, user
    assert "title" not in user
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["title"] is None and record["first_name"] == "Test"


async def test_hooli_reads_return_workstreams_title(world: World):
    user = await create_with_workstream_title(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    assert read["title"] == "Chief Hooligan"
    _, listed, _ = await world.a.get('/Users?filter=userName eq "test.user@okta.local"')
    assert listed["Resources"][0]["title"] == "Chief Hooligan"


async def test_hooli_put_ignores_title_and_applies_the_rest(world: World):
    user = await create_with_workstream_title(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["title"] = "Intern"
    read["name"]["familyName"] = "Bachman"
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, body
    assert body["title"] == "Chief Hooligan" and body["name"]["familyName"] == "Bachman"
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["title"] == "Chief Hooligan" and record["last_name"] == "Bachman"


async def test_hooli_put_without_title_keeps_workstreams_title(world: World):
    user = await create_with_workstream_title(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    del read["title"]
    status, _, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "Chief Hooligan"


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "title", "value": "Intern"},
    {"op": "Remove", "path": "title"},
    {"op": "replace", "value": {"title": "Intern"}},
])
async def test_hooli_patch_of_title_changes_nothing(world: World, operation: dict):
    user = await create_with_workstream_title(world)
    before = await world.backend.employee(world.org_a, user["id"])
    status, body, _ = await world.a.patch(
        f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [operation]})
    assert status == 200, body
    assert body["title"] == "Chief Hooligan"
    after = await world.backend.employee(world.org_a, user["id"])
    assert after["lock_version"] == before["lock_version"]


async def test_default_org_still_takes_title(world: World):
    status, user, _ = await world.b.post("/Users", hooli_user())
    assert status == 201
    assert (await world.backend.employee(world.org_b, user["id"]))["title"] == "Intern"


async def test_hooli_schema_advertises_title_read_only_for_hooli_only(world: World):
    core = "urn:ietf:params:scim:schemas:core:2.0:User"

    async def title_mutability(client) -> str:
        status, schema, _ = await client.get(f"/Schemas/{core}")
        assert status == 200
        return next(a for a in schema["attributes"] if a["name"] == "title")["mutability"]

    assert await title_mutability(world.a) == "readOnly"
    assert await title_mutability(world.b) == "readWrite"
