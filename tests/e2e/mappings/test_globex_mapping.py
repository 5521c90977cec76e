"""Globex (mappings.examples.globex): displayName built from given and family name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bodies import PATCH_OP
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "mappings.examples.globex"}


def globex_user() -> dict:
    return json.loads((SAMPLES / "globex-create.json").read_text())


async def create(world: World, body: dict | None = None) -> dict:
    status, user, _ = await world.a.post("/Users", body or globex_user())
    assert status == 201, user
    return user


async def test_globex_display_name_is_built_from_the_name(world: World):
    user = await create(world)
    assert user["displayName"] == "Hank Scorpio"
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["display_name"] == "Hank Scorpio"


async def test_globex_display_name_follows_a_rename_by_okta_put(world: World):
    user = await create(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["name"]["familyName"] = "King"  # Okta PUTs back what it read, displayName included
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200 and body["displayName"] == "Hank King"
    assert (await world.backend.employee(world.org_a, user["id"]))["display_name"] == "Hank King"


async def test_globex_display_name_follows_a_rename_by_patch(world: World):
    user = await create(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "name.givenName", "value": "Henry"}]})
    assert status == 200 and body["displayName"] == "Henry Scorpio"
    assert (await world.backend.employee(world.org_a, user["id"]))["display_name"] == (
        "Henry Scorpio")


async def test_globex_display_name_sent_by_the_idp_is_kept(world: World):
    body = globex_user()
    body["displayName"] = "Scorpio"
    user = await create(world, body)
    assert (await world.backend.employee(world.org_a, user["id"]))["display_name"] == "Scorpio"
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    read["name"]["familyName"] = "King"
    status, _, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200
    assert (await world.backend.employee(world.org_a, user["id"]))["display_name"] == "Scorpio"


async def test_globex_put_of_what_was_read_changes_nothing(world: World):
    user = await create(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    before = await world.backend.employee(world.org_a, user["id"])
    assert (await world.a.put(f"/Users/{user['id']}", read))[0] == 200
    assert (await world.backend.employee(world.org_a, user["id"]))["lock_version"] == (
        before["lock_version"])


async def test_default_org_does_not_derive_display_name(world: World):
    status, user, _ = await world.b.post("/Users", globex_user())
    assert status == 201, user
    assert "displayName" not in user
    assert (await world.backend.employee(world.org_b, user["id"]))["display_name"] is None
