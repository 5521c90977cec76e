"""`workstream-admin reindex --org N` against a real sandbox, real Redis and the state
database on both engines: it rebuilds the org's user index from every person, and its
summary counts exactly what it added, fixed and removed."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys

import pytest

from gateway.admin.reindex import reindex
from gateway.mapping.registry import MappingRegistry
from gateway.state import StateDB
from gateway.state.user_index_entries import Claim, UserIndexEntries
from tests.bodies import okta_user
from tests.conftest import SANDBOX_TOKEN, World, drop_keys
from tests.net import free_port


@pytest.fixture
def world_state(state_db: StateDB) -> StateDB:
    return state_db


async def people(world: World, n: int) -> list[int]:
    ids = []
    for i in range(n):
        status, user, _ = await world.a.post("/Users", okta_user(f"p{i}@acme.example", f"ext-{i}"))
        assert status == 201, user
        ids.append(int(user["id"]))
    await world.settle()  # the org's index built, the gateway's own rows written
    return ids


async def run(world: World, db: StateDB, org: int | None = None) -> tuple[int, str, str]:
    args = argparse.Namespace(org=org or world.org_a, json=True)
    out, err = io.StringIO(), io.StringIO()
    code = await reindex(args, backend_url=world.backend.url, backend_token=SANDBOX_TOKEN,
                         store=world.store, mappings=MappingRegistry("mappings.default", {}),
                         db=db, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_reindex_repairs_a_corrupted_index_and_counts_what_it_did(
    world: World, state_db: StateDB,
) -> None:
    org = world.org_a
    ids = await people(world, 5)
    rows = UserIndexEntries(state_db)
    assert await rows.count(org) == 10
    await rows.drop(org, [("externalId:ext-0", ids[0]), ("userName:p1@acme.example", ids[1])])
    await rows.put(org, {"externalId:ext-2": Claim(ids[3], None)}, force=True)  # wrong person
    await rows.put(org, {"userName:gone@acme.example": Claim(ids[4], None),  # carried by nobody
                         "externalId:ext-old": Claim(ids[2], None),
                         "externalId:ghost": Claim(999999, None)}, force=True)  # nobody there
    await drop_keys(f"{world.store.prefix}:*")  # and Redis flushed

    code, out, progress = await run(world, state_db)
    assert code == 0, progress
    summary = json.loads(out)
    assert {k: summary[k] for k in ("people", "added", "fixed", "removed", "entries")} == {
        "people": 5, "added": 2, "fixed": 1, "removed": 3, "entries": 10}
    assert summary["redis"] == "refreshed" and summary["mapping"] == "mappings.default"
    assert f"reindex org {org}: people [" in progress and "5/5 100%" in progress
    for i, user in enumerate(ids):
        for key in (f"userName:p{i}@acme.example", f"externalId:ext-{i}"):
            assert await rows.get(org, key) == user, key
            assert await world.store.get_many(org, [("users", key)]) == [str(user)], key
    for key in ("userName:gone@acme.example", "externalId:ext-old", "externalId:ghost"):
        assert await rows.get(org, key) is None, key
    mark = await rows.mark(org)
    assert mark is not None and mark.watermark == summary["watermark"] and mark.people == 5

    code, out, _ = await run(world, state_db)  # nothing left to do
    again = json.loads(out)
    assert code == 0 and (again["added"], again["fixed"], again["removed"]) == (0, 0, 0)
    status, body, _ = await world.a.get("/Users", params={"filter": 'externalId eq "ext-2"'})
    assert status == 200 and [int(r["id"]) for r in body["Resources"]] == [ids[2]]


async def test_reindex_refuses_an_org_workstream_does_not_know(
    world: World, state_db: StateDB,
) -> None:
    code, out, err = await run(world, state_db, org=987654)
    assert code == 1 and out == ""
    assert "error: org 987654 not found in Workstream" in err


def _env(backend_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env.update(WS_BACKEND_URL=backend_url, WS_BACKEND_TOKEN=SANDBOX_TOKEN, WS_REDIS_URL="")
    return env


async def _admin(config: str, state_url: str, backend_url: str,
                 *argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "--config", config, "--state-url", state_url,
        "reindex", *argv, env=_env(backend_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_installed_command_prints_progress_and_a_summary(
    world: World, state_url: str, state_db: StateDB, tmp_path,
) -> None:
    ids = await people(world, 3)
    await UserIndexEntries(state_db).drop(world.org_a, [("externalId:ext-1", ids[1])])
    config = tmp_path / "gateway.toml"
    config.write_text("")  # everything from the environment
    code, out, err = await _admin(str(config), state_url, world.backend.url,
                                  "--org", str(world.org_a))
    assert code == 0, err
    assert (f"org {world.org_a}: 3 people read (mapping mappings.default); entries added 1, "
            f"fixed 0, removed 0; 6 entries now; Redis not configured;") in out
    assert "people [" in err and "3/3 100%" in err
    code, out, err = await _admin(str(config), state_url, world.backend.url,
                                  "--org", str(world.org_a), "--json")
    assert code == 0 and json.loads(out)["entries"] == 6


async def test_the_installed_command_says_so_when_the_backend_is_down(
    world: World, state_url: str, tmp_path,
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("")
    code, out, err = await _admin(str(config), state_url, f"http://127.0.0.1:{free_port()}",
                                  "--org", str(world.org_a))
    assert code == 2 and out == "" and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]  # (after the client's retry warnings)
    assert last.startswith("error: Workstream can't be read, nothing was changed:"), err
