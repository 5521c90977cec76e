"""The audit trail end to end: Okta's sequence through a real gateway, then asked of
`workstream-admin audit` run as its own process against the same state database
(SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.state import StateDB
from gateway.web.state import AUDIT
from tests.bodies import GROUP, PATCH_OP, okta_user, patch_ops
from tests.conftest import World

JANE = "jane@acme.example"
OKTA_PASSWORD = okta_user()["password"]


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


def admin_audit(state_url: str, cwd: Path, *args: object) -> str:
    """`workstream-admin audit ...` as an operator runs it: its own process, its exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.admin", "audit", "--state-url", state_url,
         *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def okta(request_id: str) -> dict:
    return {"headers": {"X-Request-Id": request_id, "User-Agent": "Okta SCIM Client 1.0.0"}}


async def test_okta_sequence_is_told_by_workstream_admin_audit(
    world: World, state_url: str, tmp_path: Path,
) -> None:
    # Okta: create, PUT (profile push), deactivate, reactivate, then Push Groups.
    status, jane, _ = await world.a.post(
        "/Users", okta_user(email=JANE, given="Jane", family="Doe"), **okta("okta-create"))
    assert status == 201, jane
    uid = jane["id"]
    read = (await world.a.get(f"/Users/{uid}"))[1]
    read["title"] = "Staff Engineer"
    read["name"]["givenName"] = "Janet"
    assert (await world.a.put(f"/Users/{uid}", read, **okta("okta-put")))[0] == 200
    deactivate = patch_ops({"op": "replace", "value": {"active": False}})
    assert (await world.a.patch(f"/Users/{uid}", deactivate, **okta("okta-deactivate")))[0] == 200
    reactivate = patch_ops({"op": "replace", "value": {"active": True}})
    assert (await world.a.patch(f"/Users/{uid}", reactivate, **okta("okta-reactivate")))[0] == 200
    status, group, _ = await world.a.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Engineering", "members": []},
        **okta("okta-group-create"))
    assert status == 201, group
    gid = group["id"]
    add = {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uid, "display": JANE}]}]}
    assert (await world.a.patch(f"/Groups/{gid}", add, **okta("okta-member-add")))[0] == 204
    rename = patch_ops({"op": "replace", "value": {"id": gid, "displayName": "Platform"}})
    assert (await world.a.patch(f"/Groups/{gid}", rename, **okta("okta-rename")))[0] in (200, 204)
    # Okta asks again with a userName already taken: refused, and still recorded.
    status, _, _ = await world.a.post("/Users", okta_user(email=JANE.upper()),
                                      **okta("okta-duplicate"))
    assert status == 409

    await world.app[AUDIT].flush()  # what the background task does every second
    credential = (await world.credentials.list())[0].id

    timeline = admin_audit(state_url, tmp_path, "--org", world.org_a, "--user-name",
                           "JANE@Acme.Example")
    print(timeline)
    heads = [line.split("  ")[1:] for line in timeline.splitlines() if not line.startswith(" ")]
    assert heads == [
        ["create", f"user ? ({JANE.upper()})", "refused 409"],
        ["reactivate", f"user {uid} ({JANE})", "done 200"],
        ["deactivate", f"user {uid} ({JANE})", "done 200"],
        ["update", f"user {uid} ({JANE})", "done 200"],
        ["create", f"user {uid} ({JANE})", "done 201"],
    ]
    assert OKTA_PASSWORD not in timeline
    assert f"by {credential} [okta]: PATCH /scim/v2/Users/{uid}  request okta-deactivate" \
        in timeline
    assert "    first_name: Jane → Janet" in timeline
    assert "    title: - → Staff Engineer" in timeline
    assert "    status: - → deactivated" in timeline
    assert "    backend: POST employees/deactivate 200" in timeline
    # The PUT planned against the record this gateway had just answered the GET with.
    assert "    backend: PATCH employees 200" in timeline
    assert "    timezone:" not in timeline  # a create lists the fields it sets, no empty ones

    # "Who deactivated jane@acme.example?" is one command.
    who = admin_audit(state_url, tmp_path, "--org", world.org_a, "--user-name", JANE,
                      "--action", "deactivate", "--json").splitlines()
    assert len(who) == 1
    event = json.loads(who[0])
    assert event["credential_id"] == credential and event["credential_label"] == "okta"
    assert event["request_id"] == "okta-deactivate"
    assert (event["method"], event["path"]) == ("PATCH", f"/scim/v2/Users/{uid}")
    assert event["target_id"] == uid and event["status"] == 200
    assert event["mapping_module"] == "mappings.default" and len(event["mapping_version"]) == 12

    group_timeline = admin_audit(state_url, tmp_path, "--org", world.org_a, "--group", gid)
    print(group_timeline)
    heads = [line.split("  ")[1:] for line in group_timeline.splitlines()
             if not line.startswith(" ")]
    assert heads == [
        ["group_rename", f"group {gid} (Engineering)", f"done {heads[0][2].split()[1]}"],
        ["member_add", f"group {gid}", "done 204"],
        ["group_create", f"group {gid} (Engineering)", "done 201"],
    ]
    assert "    name: Engineering → Platform" in group_timeline
    assert f"    members added: {uid}" in group_timeline
    # Another org's trail knows nothing of it.
    assert "No audit events" in admin_audit(state_url, tmp_path, "--org", world.org_b)


async def test_scim_delete_and_the_relinking_post_are_audited_as_unlink_and_relink(
    world: World, state_url: str, tmp_path: Path,
) -> None:
    status, jane, _ = await world.a.post(
        "/Users", okta_user(email=JANE, given="Jane", family="Doe"), **okta("entra-create"))
    assert status == 201, jane
    uid = jane["id"]
    assert (await world.a.delete(f"/Users/{uid}", **okta("entra-delete")))[0] == 204
    status, again, _ = await world.a.post(
        "/Users", okta_user(email=JANE, given="Janet", family="Doe"), **okta("entra-rehire"))
    assert status == 201 and again["id"] == uid, again

    await world.app[AUDIT].flush()
    events = [json.loads(line) for line in admin_audit(
        state_url, tmp_path, "--org", world.org_a, "--user", uid, "--json").splitlines()]
    by_request = {event["request_id"]: event for event in events}
    unlink, relink = by_request["entra-delete"], by_request["entra-rehire"]
    assert unlink["action"].split() == ["deactivate", "unlink"]
    assert (unlink["method"], unlink["status"]) == ("DELETE", 204)
    assert unlink["target_name"] == JANE
    assert unlink["changes"]["status"][1] == "deactivated"
    assert "relink" in relink["action"].split() and "reactivate" in relink["action"].split()
    assert (relink["method"], relink["status"], relink["target_id"]) == ("POST", 201, uid)
    assert relink["changes"]["first_name"] == ["Jane", "Janet"]
    # "When was Jane removed from the IdP?" is one command too.
    [removed] = admin_audit(state_url, tmp_path, "--org", world.org_a, "--user-name", JANE,
                            "--action", "unlink", "--json").splitlines()
    assert json.loads(removed)["request_id"] == "entra-delete"
