"""A PUT or PATCH plans against the record this gateway last saw, guarded by If-Match.

Okta's profile push is a GET then a PUT: the PUT needs no second read. A change
made in Workstream in between (or by another host) must never be lost or
overwritten unseen: the backend refuses the guarded write as stale and the
gateway plans again from a fresh read.
"""

from __future__ import annotations

from tests.bodies import create_user, patch_ops
from tests.conftest import World


def _employee(world: World, user: dict) -> str:
    return f"/internal/v1/orgs/{world.org_a}/employees/{user['id']}"


async def test_okta_get_then_put_makes_one_backend_call(world: World):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    await world.backend.clear_log()
    read["title"] = "Staff Engineer"
    status, body, headers = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200 and body["title"] == "Staff Engineer"
    assert await world.backend.calls() == [f"PATCH {_employee(world, user)}"]
    stored = await world.backend.employee(world.org_a, user["id"])
    assert stored["title"] == "Staff Engineer"
    assert headers["ETag"] == body["meta"]["version"]
    assert body["meta"]["version"] != read["meta"]["version"]


async def test_a_change_made_in_workstream_after_the_get_is_seen_before_the_put_lands(
    world: World,
):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    # Someone edits Jane in Workstream: her record moves on a version.
    await world.backend.update_employee(world.org_a, user["id"], {"title": "Set in Workstream"})
    await world.backend.clear_log()
    read["name"]["givenName"] = "Janet"
    status, body, _ = await world.a.put(f"/Users/{user['id']}", read)
    assert status == 200, body
    employee = _employee(world, user)
    # Planned on what this gateway knew: refused as stale, read again, planned again.
    assert await world.backend.calls() == [f"PATCH {employee}", f"GET {employee}",
                                           f"PATCH {employee}"]
    stored = await world.backend.employee(world.org_a, user["id"])
    # The PUT's body is the whole user: its title (none) replaces Workstream's, as a PUT
    # planned on a fresh read would; the given name lands.
    assert stored["first_name"] == "Janet"
    assert stored["title"] is None and body.get("title") is None


async def test_a_patch_that_looks_like_no_change_on_a_stale_record_is_checked_afresh(
    world: World,
):
    user = await create_user(world)
    await world.a.patch(f"/Users/{user['id']}",
                        patch_ops({"op": "replace", "path": "title", "value": "Analyst"}))
    await world.backend.update_employee(world.org_a, user["id"], {"title": "Set in Workstream"})
    # Against the known record this changes nothing; against Workstream's it does.
    status, body, _ = await world.a.patch(
        f"/Users/{user['id']}", patch_ops({"op": "replace", "path": "title", "value": "Analyst"}))
    assert status == 200 and body["title"] == "Analyst"
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "Analyst"


async def test_deactivating_with_a_stale_known_record_still_sends_the_puts_fields(
    world: World,
):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    await world.backend.update_employee(world.org_a, user["id"], {"title": "Set in Workstream"})
    # Against the known record only `active` changes: an action alone carries no If-Match,
    # so the gateway reads first and also puts the title back to the IdP's (none).
    status, body, _ = await world.a.put(f"/Users/{user['id']}", {**read, "active": False})
    assert status == 200 and body["active"] is False
    stored = await world.backend.employee(world.org_a, user["id"])
    assert stored["status"] == "deactivated" and stored["title"] is None


async def test_the_idps_if_match_is_judged_against_workstream_not_the_known_record(
    world: World,
):
    user = await create_user(world)
    _, read, _ = await world.a.get(f"/Users/{user['id']}")
    old_version = read["meta"]["version"]
    changed = await world.backend.update_employee(world.org_a, user["id"], {"title": "Moved on"})
    # The IdP learnt the newer version elsewhere (say, from another host): its If-Match
    # is current, though this gateway's known record is not.
    fresh = f'W/"{changed["lock_version"]}"'
    status, body, _ = await world.a.put(f"/Users/{user['id']}", {**read, "title": "Lead"},
                                        headers={"If-Match": fresh})
    assert status == 200, body
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "Lead"
    # And the version it read before is stale now, known record or not: 412, nothing written.
    status, body, _ = await world.a.put(f"/Users/{user['id']}", {**read, "title": "Nope"},
                                        headers={"If-Match": old_version})
    assert status == 412, body
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "Lead"
