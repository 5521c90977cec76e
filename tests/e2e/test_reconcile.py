"""`workstream-admin reconcile` (issue 11 item 4) against a real sandbox, real Redis and the
real state database on both engines: every seeded kind of drift is found, counted, and
`--fix-index` clears the kinds that are the gateway's own data, never touching a person."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys

import pytest

from gateway.admin.reconcile import FIXABLE, KINDS, reconcile
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.user_index import SPACE, UserIndex
from gateway.state import StateDB
from gateway.state.schema import group_external_ids
from gateway.state.scim_unlinks import ScimUnlinks
from gateway.web.state import AUDIT
from tests.bodies import GROUP, create_user
from tests.conftest import SANDBOX_TOKEN, World


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


async def run(world: World, db: StateDB, *extra: str) -> tuple[int, dict, str]:
    await world.settle()  # the gateway's background index work done: only reconcile runs
    args = argparse.Namespace(org=world.org_a, json=True, fix_index="--fix-index" in extra,
                              rate=1000.0)
    out, err = io.StringIO(), io.StringIO()
    code = await reconcile(args, backend_url=world.backend.url, backend_token=SANDBOX_TOKEN,
                           store=world.store, mappings=MappingRegistry("mappings.default", {}),
                           db=db, out=out, err=err)
    return code, json.loads(out.getvalue()), err.getvalue()


async def test_a_clean_org_exits_0_with_every_count_zero(world: World, state_db: StateDB):
    await create_user(world, email="ok@okta.local", external_id="00u-ok")
    code, report, progress = await run(world, state_db)
    assert code == 0 and report["clean"] is True and report["people"] == 1
    assert report["counts"] == dict.fromkeys(KINDS, 0)
    assert "reconcile org" in progress and "people" in progress and "100%" in progress


async def test_reconcile_finds_each_seeded_drift_and_fix_index_clears_the_index_kinds(
    world: World, state_db: StateDB,
) -> None:
    org = world.org_a
    # unlinked, then reactivated in Workstream directly; and still a team member
    back = await create_user(world, email="back@okta.local", external_id="00u-back")
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Team", "members": [{"value": back["id"]}]})
    assert status == 201
    assert (await world.a.delete(f"/Users/{back['id']}"))[0] == 204
    status, _ = await world.backend.call(
        "POST", f"/internal/v1/orgs/{org}/employees/{back['id']}/reactivate")
    assert status == 200
    # a marker for nobody, a group externalId for no team
    await ScimUnlinks(state_db).unlink(org, 999999, user_name="ghost@okta.local",
                                       external_id=None, values={})
    async with state_db.begin() as conn:
        await conn.execute(group_external_ids.insert().values(
            org_id=org, team_id=424242, external_id="00g-gone"))
    # two people with one externalId, made behind the gateway's back
    one = await create_user(world, email="one@okta.local", external_id="00u-one")
    two = await create_user(world, email="two@okta.local", external_id="00u-two")
    await world.backend.update_employee(org, two["id"], {"sso_id": "00u-one"})
    # an index entry pointing at the wrong person
    mapping = MappingRegistry("mappings.default", {}).for_org(org).user
    key = UserIndex.key(mapping, "userName", "one@okta.local")
    await world.store.put(org, {SPACE: {key: two["id"]}})
    # someone made in Workstream directly
    [direct] = await world.backend.seed_employees(org, 1, tag="direct")

    code, report, _ = await run(world, state_db)
    assert code == 1 and report["clean"] is False
    counts = report["counts"]
    assert counts["unlinked_but_active"] == 1
    assert counts["unlink_marker_without_person"] == 1
    assert counts["unlinked_team_member"] == 1
    assert counts["duplicate_external_id"] == 1
    assert counts["index_wrong_person"] == 1
    assert counts["group_external_id_without_team"] == 1
    assert counts["no_idp_link"] == 1
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert by_kind["unlinked_team_member"]["ids"] == [back["id"], group["id"]]
    assert sorted(by_kind["duplicate_external_id"]["ids"]) == sorted([one["id"], two["id"]])
    assert by_kind["no_idp_link"]["ids"] == [direct]
    people_before = await world.backend.employees(org)

    code, fixed, _ = await run(world, state_db, "--fix-index")
    assert code == 1 and fixed["fixed"] == dict.fromkeys(FIXABLE, 1)
    code, after, _ = await run(world, state_db)
    assert all(after["counts"][kind] == 0 for kind in FIXABLE)
    assert after["counts"]["unlinked_but_active"] == 1  # people are never "fixed"
    assert await world.backend.employees(org) == people_before
    status, found, _ = await world.a.get('/Users?filter=userName eq "one@okta.local"')
    assert [u["id"] for u in found["Resources"]] == [one["id"]]


async def test_the_installed_command_reports_in_text_and_exits_1_on_drift(
    world: World, state_url: str, state_db: StateDB, tmp_path,
) -> None:
    await create_user(world, email="linked@okta.local", external_id="00u-linked")
    await world.backend.seed_employees(world.org_a, 2, tag="direct")
    (tmp_path / "gateway.toml").write_text("")  # everything from the environment
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env.update(WS_BACKEND_URL=world.backend.url, WS_BACKEND_TOKEN=SANDBOX_TOKEN,
               WS_REDIS_URL="")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "--config", str(tmp_path / "gateway.toml"),
        "--state-url", state_url, "reconcile", "--org", str(world.org_a), "--rate", "50",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 1, err.decode()
    text = out.decode()
    assert f"org {world.org_a}: 3 people, 0 teams, 0 unlinked from SCIM" in text
    assert text.count("no_idp_link: User") == 2
    assert "summary: " in text and "no_idp_link=2" in text and "duplicate_external_id=0" in text
    assert text.rstrip().endswith("drift found: 2 finding(s)")
    assert "people [" in err.decode() and "3/3 100%" in err.decode()


async def test_people_whose_status_was_changed_in_workstream_differ_from_the_audit_trail(
    world: World, state_db: StateDB,
) -> None:
    org = world.org_a
    left = await create_user(world, email="left@okta.local", external_id="00u-left")
    gone = await create_user(world, email="gone@okta.local", external_id="00u-gone")
    steady = await create_user(world, email="steady@okta.local", external_id="00u-steady")
    deactivate = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert (await world.a.patch(f"/Users/{gone['id']}", deactivate))[0] == 200
    # Behind the gateway's back: the IdP's active person deactivated, its leaver reactivated.
    for person, action in ((left, "deactivate"), (gone, "reactivate")):
        status, _ = await world.backend.call(
            "POST", f"/internal/v1/orgs/{org}/employees/{person['id']}/{action}")
        assert status == 200
    await world.app[AUDIT].flush()

    code, report, _ = await run(world, state_db)
    assert code == 1
    assert report["counts"]["status_differs_from_audit"] == 2
    found = {f["ids"][0]: f["detail"] for f in report["findings"]
             if f["kind"] == "status_differs_from_audit"}
    assert set(found) == {left["id"], gone["id"]}  # steady is as the trail says
    assert "is deactivated in Workstream" in found[left["id"]]
    assert "left them active" in found[left["id"]]
    assert "is active in Workstream" in found[gone["id"]]
    assert "left them deactivated" in found[gone["id"]]
    assert steady["id"] not in found
