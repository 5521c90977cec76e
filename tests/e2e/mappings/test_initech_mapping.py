"""Initech (mappings.examples.initech): userName `jdoe` kept in `employee_number`.

The backend can't search `employee_number`, so `userName eq` lookups go
through the gateway's user index (Redis, then the state database); the
sandbox's request log shows what each lookup costs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.bodies import PATCH_OP
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"
PEOPLE = 450  # more than two backend pages of 200: a scan would show as several calls


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "mappings.examples.initech"}


def initech_user(user_name: str = "jdoe", email: str = "john.doe@initech.example") -> dict:
    body = json.loads((SAMPLES / "initech-create.json").read_text())
    body["userName"] = user_name
    body["emails"][1]["value"] = email
    body["externalId"] = f"ext-{user_name}"
    return body


async def create(world: World, **kw) -> dict:
    status, user, _ = await world.a.post("/Users", initech_user(**kw))
    assert status == 201, user
    return user


async def find(world: World, user_name: str) -> list[str]:
    status, body, _ = await world.a.get(
        "/Users", params={"filter": f'userName eq "{user_name}"', "startIndex": "1",
                          "count": "100"})
    assert status == 200, body
    return [r["id"] for r in body["Resources"]]


async def load_org(world: World) -> dict[str, int]:
    """PEOPLE Initech employees put straight into Workstream (not through the gateway)."""
    rows = [{"email": f"p{i}@initech.example", "first_name": "P", "last_name": str(i),
             "employee_number": f"user{i}"} for i in range(PEOPLE)]
    status, body = await world.backend.call(
        "POST", f"/_sandbox/orgs/{world.org_a}/employees/bulk", {"employees": rows})
    assert status == 201, body
    return {f"user{i}": backend_id for i, backend_id in enumerate(body["ids"])}


async def test_initech_create_takes_primary_work_email_and_keeps_username(world: World):
    user = await create(world)
    assert user["userName"] == "jdoe"
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["email"] == "john.doe@initech.example"
    assert record["employee_number"] == "jdoe"


async def test_initech_lookup_by_username_before_and_after_create(world: World):
    # userName is not searchable here: the org's first request (this one) starts building its
    # index in the background and, the org being small, waits the moment that takes.
    assert await find(world, "jdoe") == []
    user = await create(world)
    assert await find(world, "jdoe") == [user["id"]]
    assert await find(world, "JDOE") == [user["id"]]  # userName is caseExact: false
    assert await find(world, "john.doe@initech.example") == []


async def test_initech_username_lookups_cost_o1_backend_calls_in_a_big_org(world: World):
    ids = await load_org(world)
    # The index re-reads the last 2 s before its watermark (second-precision timestamps),
    # and after a multi-page rebuild also the rebuild's own duration (1 s, rounded up):
    # let the bulk load age past that, as an org's people have, before anything new happens.
    await asyncio.sleep(4.1)
    jdoe = await create(world)
    base = f"/internal/v1/orgs/{world.org_a}/employees"

    # The org was loaded behind the gateway's back: its first request (the create) started
    # building the index, in the background, once.
    await world.settle()
    assert await find(world, "user7") == [str(ids["user7"])]

    for name in ("user7", "user7", "user123", "user449", "USER300", "jdoe"):
        await world.backend.clear_log()
        expected = jdoe["id"] if name == "jdoe" else str(ids[name.lower()])
        assert await find(world, name) == [expected]
        assert await world.backend.calls() == [f"GET {base}/{expected}"], name

    for _ in range(2):  # Okta's pre-create lookup misses: one call, for recent changes only
        await world.backend.clear_log()
        assert await find(world, "nobody") == []
        (call,) = await world.backend.calls()
        assert call.startswith(f"GET {base}?") and "updated_since=" in call

    # Changed in Workstream directly: found by catching up on recent changes, not by a scan.
    await world.backend.update_employee(world.org_a, ids["user5"], {"employee_number": "renamed"})
    await world.backend.clear_log()
    assert await find(world, "renamed") == [str(ids["user5"])]
    (call,) = await world.backend.calls()
    assert "updated_since=" in call
    await world.backend.clear_log()
    assert await find(world, "user5") == []
    # The catch-up that found "renamed" also dropped user5's old entry (Redis and the
    # database): no stale hint to re-check, just a catch-up.
    (call,) = await world.backend.calls()
    assert "updated_since=" in call


async def test_initech_duplicate_username_is_409_naming_username(world: World):
    await create(world)
    status, err, _ = await world.a.post("/Users", initech_user(email="other@initech.example"))
    assert status == 409 and err["scimType"] == "uniqueness"
    assert "userName" in err["detail"] and "employee_number" not in err["detail"]


async def test_initech_work_email_change_keeps_username(world: World):
    user = await create(world)
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": 'emails[type eq "work"].value',
             "value": "jd@initech.example"}]})
    assert status == 200, body
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["email"] == "jd@initech.example" and record["employee_number"] == "jdoe"
    assert await find(world, "jdoe") == [user["id"]]


async def test_initech_put_of_what_was_read_changes_nothing(world: World):
    user = await create(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    before = await world.backend.employee(world.org_a, user["id"])
    status, _, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200
    assert (await world.backend.employee(world.org_a, user["id"]))["lock_version"] == (
        before["lock_version"])


async def test_initech_create_without_work_email_is_400(world: World):
    body = initech_user()
    body["emails"] = [{"type": "home", "value": "home@example.com", "primary": True}]
    status, err, _ = await world.a.post("/Users", body)
    assert status == 400 and 'emails[type eq "work"].value' in err["detail"]
    assert await world.backend.employees(world.org_a) == []
