"""What the audit trail records beyond the happy path: refused writes, writes whose
outcome is unknown, sensitive fields, and a clean shutdown that loses nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer

from gateway.state import StateDB
from gateway.state.audit_events import AuditQuery, AuditTrail
from gateway.web.app import build_app
from gateway.web.state import AUDIT
from tests.bodies import okta_user, patch_ops
from tests.conftest import ScimClient, World, basic


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


async def events(db: StateDB, org: int, **query) -> list[dict]:
    return await AuditTrail(db).find(AuditQuery(org_id=org, **query))


async def test_refused_writes_are_recorded_with_what_the_idp_tried(
    world: World, world_state: StateDB,
) -> None:
    status, _, _ = await world.a.post("/Users", {"schemas": [], "userName": 42})
    assert status == 400
    status, _, _ = await world.a.patch("/Users/999999", patch_ops(
        {"op": "replace", "value": {"active": False}}))
    assert status == 404
    assert (await world.a.get("/Users"))[0] == 200  # a read is not audited
    status, _, _ = await world.client(basic("nobody", "wrong")).post("/Users", okta_user())
    assert status == 401  # no org: nothing to record it under
    await world.app[AUDIT].flush()

    found = await events(world_state, world.org_a)
    assert [(e["action"], e["outcome"], e["status"], e["target_id"]) for e in found] == [
        ("deactivate", "refused", 404, "999999"),
        ("create", "refused", 400, None),
    ]
    assert found[0]["backend_calls"] == [["POST employees/deactivate", 404]]
    assert [c for c in found[1]["backend_calls"] if not c[0].startswith("GET")] == []


async def test_a_write_the_backend_may_have_done_is_recorded_as_unknown(
    world: World, world_state: StateDB,
) -> None:
    status, user, _ = await world.a.post("/Users", okta_user())
    assert status == 201
    await world.backend.maintenance(True, retry_after=1)
    try:
        status, _, _ = await world.a.patch(f"/Users/{user['id']}", patch_ops(
            {"op": "replace", "value": {"active": False}}))
    finally:
        await world.backend.maintenance(False)
    assert status == 503
    await world.app[AUDIT].flush()

    [last, _created] = await events(world_state, world.org_a, user_id=user["id"])
    assert (last["action"], last["outcome"], last["status"]) == ("deactivate", "unknown", 503)
    assert {tuple(c) for c in last["backend_calls"]} == {("POST employees/deactivate", 503)}


async def test_sensitive_fields_are_named_but_never_shown(
    world: World, world_state: StateDB,
) -> None:
    status, user, _ = await world.a.post("/Users", {**okta_user(), "title": "Grade 7"})
    assert status == 201
    await world.app[AUDIT].flush()
    [created] = await events(world_state, world.org_a, user_id=user["id"])
    assert created["changes"]["title"] == [None, "Grade 7"]  # not sensitive in the default
    assert "password" not in str(created) and okta_user()["password"] not in str(created)


@pytest.mark.parametrize("mapping_orgs", [{"a": "tests.e2e.audit_sensitive_mapping"}])
async def test_a_field_marked_sensitive_is_masked(
    world: World, world_state: StateDB, mapping_orgs,
) -> None:
    status, user, _ = await world.a.post("/Users", {**okta_user(), "title": "Grade 7"})
    assert status == 201
    read = (await world.a.get(f"/Users/{user['id']}"))[1]
    read["title"] = "Grade 8"
    assert (await world.a.put(f"/Users/{user['id']}", read))[0] == 200
    await world.app[AUDIT].flush()
    [updated, created] = await events(world_state, world.org_a, user_id=user["id"])
    assert created["changes"]["title"] == ["***", "***"]
    assert updated["changes"] == {"title": ["***", "***"]}
    assert "Grade" not in str(updated) + str(created)
    assert created["mapping_module"] == "tests.e2e.audit_sensitive_mapping"


async def test_a_clean_shutdown_writes_every_waiting_event(
    world: World, world_state: StateDB,
) -> None:
    config = world.extra["config"]
    config = replace(config, audit=replace(config.audit, flush_interval_s=3600.0))
    server = TestServer(build_app(config, world.credentials, id_store=world.store),
                        host="127.0.0.1")
    await server.start_server()
    client = ScimClient(world.session, str(server.make_url("/scim/v2")), world.a.auth)
    for i in range(3):
        assert (await client.post("/Users", okta_user(email=f"u{i}@acme.example",
                                                     external_id=f"e{i}")))[0] == 201
    assert await events(world_state, world.org_a) == []  # still waiting in the buffer
    await server.close()  # the app's cleanup
    written = await events(world_state, world.org_a)
    assert sorted(e["target_name"] for e in written) == [
        "u0@acme.example", "u1@acme.example", "u2@acme.example"]
    assert all(e["at"] <= datetime.now(UTC) for e in written)
