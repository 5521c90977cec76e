"""Two gateway processes, as on two hosts: separate config files and ports, one PostgreSQL
state database and one Redis shared, against the sandbox. What support does through
`workstream-admin` reaches both without a restart, and group externalIds outlive Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from gateway.idstore import RedisIdStore
from gateway.state import StateDB
from tests.bodies import GROUP
from tests.conftest import SANDBOX_TOKEN, ScimClient, World, _empty, basic, drop_keys
from tests.net import free_port

pytestmark = pytest.mark.e2e

# A Redis database of their own: the gateways use the production key prefix.
GATEWAY_REDIS = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 6


class Host:
    """One gateway process and what it was started with."""

    def __init__(self, config: Path, url: str, proc: asyncio.subprocess.Process) -> None:
        self.config, self.url, self.proc = config, url, proc


def _env() -> dict[str, str]:
    """The caller's environment without WS_* (the config files say everything)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WS_") and k != "PORT"}


async def _start(config: Path, port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(config), cwd=ROOT, env=_env(),
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if proc.returncode is not None:
                break
            try:
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("gateway did not start:\n" + log.read_text(errors="replace"))


async def admin(config: Path, *argv: str) -> str:
    """`workstream-admin` as support runs it on a third machine; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "--config", str(config), *argv, cwd=ROOT,
        env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


def issued(out: str) -> dict[str, str]:
    fields = dict(re.findall(r"^\s+(username|password|token): (\S+)$", out, re.M))
    fields["id"] = re.search(r"(?:Issued|Rotated) \S+ \S+ ([0-9a-f]{12})", out).group(1)
    return fields


async def until(check: Callable[[], Awaitable[bool]], what: str, bound_s: float = 20) -> float:
    """Poll `check` until true; the seconds it took (printed by the caller, never asserted)."""
    start = time.monotonic()
    while time.monotonic() - start < bound_s:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {bound_s} s")


@pytest.fixture
async def shared_state(postgres_database: str) -> AsyncIterator[str]:
    db = StateDB(postgres_database)
    await db.ready()
    await _empty(db)
    await db.close()
    yield postgres_database


@contextlib.asynccontextmanager
async def two_gateways(world: World, shared_state: str, tmp_path: Path,
                       extra_toml: str = "") -> AsyncIterator[list[Host]]:
    """Two gateway processes ("one", "two") on their own ports and config files, sharing the
    sandbox, one Redis database and the state database `shared_state`; stopped after."""
    hosts: list[Host] = []
    try:
        for name in ("one", "two"):
            port = free_port()
            config = tmp_path / f"gateway-{name}.toml"
            config.write_text(
                f'[server]\nport = {port}\n'
                f'[backend]\nurl = "{world.backend.url}"\ntoken = "{SANDBOX_TOKEN}"\n'
                f'[redis]\nurl = "{GATEWAY_REDIS}"\n'
                f'[state]\nurl = "{shared_state}"\n' + extra_toml)
            proc = await _start(config, port, tmp_path / f"gateway-{name}.log")
            hosts.append(Host(config, f"http://127.0.0.1:{port}/scim/v2", proc))
        yield hosts
    finally:
        for host in hosts:
            if host.proc.returncode is None:
                host.proc.terminate()
                await host.proc.wait()


@pytest.fixture
async def hosts(world: World, shared_state: str, tmp_path: Path) -> AsyncIterator[list[Host]]:
    # A random number of filler orgs, so another run sharing this Redis database is unlikely
    # to share this org's keys (see test_groups_concurrency).
    for n in range(random.randint(1, 60)):
        await world.backend.create_org(f"filler {n}")
    async with two_gateways(world, shared_state, tmp_path,
                            f"[auth]\nrotation_grace_s = {GRACE_S}\n") as started:
        yield started


def clients(world: World, hosts: list[Host], auth: str) -> list[ScimClient]:
    return [ScimClient(world.session, h.url, auth) for h in hosts]


async def statuses(each: list[ScimClient]) -> list[int]:
    return [(await c.get("/Users?count=1"))[0] for c in each]


async def test_support_issues_and_revokes_through_the_cli_and_both_hosts_follow(
    world: World, hosts: list[Host],
) -> None:
    org = await world.backend.create_org("Two Hosts Co")
    credential = issued(await admin(hosts[0].config, "credentials", "issue", "--org", str(org)))
    both = clients(world, hosts, basic(credential["username"], credential["password"]))

    async def accepted() -> bool:
        return await statuses(both) == [200, 200]

    took = await until(accepted, "a new credential accepted by both hosts")
    print(f"issue seen by both hosts after {took:.2f} s")

    await admin(hosts[1].config, "credentials", "revoke", credential["id"])

    async def refused() -> bool:
        return await statuses(both) == [401, 401]

    took = await until(refused, "a revocation seen by both hosts")
    print(f"revocation seen by both hosts after {took:.2f} s")


async def test_a_group_made_through_one_host_is_found_through_the_other_after_redis_is_dropped(
    world: World, hosts: list[Host],
) -> None:
    org = await world.backend.create_org("Groups Co")
    credential = issued(await admin(hosts[0].config, "credentials", "issue", "--org", str(org)))
    one, two = clients(world, hosts, basic(credential["username"], credential["password"]))

    async def accepted() -> bool:
        return await statuses([one, two]) == [200, 200]

    await until(accepted, "a new credential accepted by both hosts")
    status, group, _ = await one.post("/Groups", {
        "schemas": [GROUP], "displayName": "Engineering", "externalId": "00g-eng"})
    assert status == 201, group
    store = RedisIdStore(GATEWAY_REDIS)
    try:
        await store.clear_org(org)
    finally:
        await store.close()
    await drop_keys(f"wsg:{{org:{org}}}:*", GATEWAY_REDIS)
    status, found, _ = await two.get('/Groups?filter=externalId eq "00g-eng"')
    assert status == 200 and [g["id"] for g in found["Resources"]] == [group["id"]]
    status, read, _ = await two.get(f"/Groups/{group['id']}?excludedAttributes=members")
    assert read["externalId"] == "00g-eng"


async def test_a_rotated_credential_works_old_and_new_through_the_grace_window_then_only_new(
    world: World, hosts: list[Host],
) -> None:
    org = await world.backend.create_org("Rotation Co")
    old = issued(await admin(hosts[0].config, "credentials", "issue-token", "--org", str(org)))
    old_both = clients(world, hosts, f"Bearer {old['token']}")

    async def old_accepted() -> bool:
        return await statuses(old_both) == [200, 200]

    await until(old_accepted, "a new token accepted by both hosts")
    new = issued(await admin(hosts[1].config, "credentials", "rotate", old["id"]))
    assert new["id"] == old["id"] and new["token"] != old["token"]
    new_both = clients(world, hosts, f"Bearer {new['token']}")

    async def new_accepted() -> bool:
        return await statuses(new_both) == [200, 200]

    await until(new_accepted, "the rotated token accepted by both hosts")
    # Inside the grace window (GRACE_S from the config) the old token still works on both.
    assert await statuses(old_both) == [200, 200]

    async def old_refused() -> bool:
        return await statuses(old_both) == [401, 401]

    took = await until(old_refused, "the old token refused after the grace window", 60)
    print(f"old token refused {took:.2f} s after the new one was seen (grace {GRACE_S} s)")
    assert await statuses(new_both) == [200, 200]


async def test_an_orgs_user_index_is_built_once_by_two_hosts_and_outlives_redis(
    world: World, hosts: list[Host],
) -> None:
    org = await world.backend.create_org("Index Co")
    people = await world.backend.seed_employees(org, 450)  # three backend pages
    for person in (people[7], people[300]):
        await world.backend.update_employee(org, person, {"sso_id": f"00u-{person}"})
    credential = issued(await admin(hosts[0].config, "credentials", "issue", "--org", str(org)))
    one, two = clients(world, hosts, basic(credential["username"], credential["password"]))
    await world.backend.clear_log()

    async def accepted() -> bool:  # each host's first request for the org starts a build
        return await statuses([one, two]) == [200, 200]

    await until(accepted, "a new credential accepted by both hosts")

    async def built() -> bool:
        found = [await c.get(f'/Users?filter=externalId eq "00u-{people[7]}"') for c in (one, two)]
        return [status for status, _, _ in found] == [200, 200]

    await until(built, "the org's user index built")
    scans = [c for c in await world.backend.calls()
             if f"/orgs/{org}/employees?" in c and "per_page=200" in c
             and "updated_since" not in c]
    assert len(scans) == 3, scans  # one build, its three pages read once, by one host
    await drop_keys(f"wsg:{{org:{org}}}:*", GATEWAY_REDIS)
    await world.backend.clear_log()
    status, found, _ = await two.get(f'/Users?filter=externalId eq "00u-{people[300]}"')
    assert status == 200 and [u["id"] for u in found["Resources"]] == [people[300]]
    assert await world.backend.calls() == [f"GET /internal/v1/orgs/{org}/employees/{people[300]}"]
