"""Two gateway processes, one Redis, one backend: concurrent membership changes to one group.

Each gateway is a real `python -m gateway` process configured by environment
variables (as a deployment is), sharing Redis (a database of its own here)
and the test's sandbox. The final membership is read from the backend.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as redis

from gateway.auth import CredentialStore
from gateway.idstore import RedisIdStore
from tests.conftest import SANDBOX_TOKEN, TEST_SCRYPT, ScimClient, World, basic

# A Redis database of their own: the gateways use the production key prefix.
GATEWAY_REDIS = "redis://127.0.0.1:6379/13"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def members(ids: list[str] | set[str]) -> list[dict]:
    return [{"value": i} for i in ids]


class Gateways:
    """SCIM clients of two gateway processes, both holding the same org's credential."""

    def __init__(self, one: ScimClient, two: ScimClient, org_id: int) -> None:
        self.one, self.two, self.org_id = one, two, org_id


async def _start(world: World, credentials: Path, log: Path) -> tuple[asyncio.subprocess.Process,
                                                                      str]:
    port = _free_port()
    env = {**os.environ, "WS_BACKEND_URL": world.backend.url, "WS_BACKEND_TOKEN": SANDBOX_TOKEN,
           "WS_REDIS_URL": GATEWAY_REDIS, "WS_AUTH_CREDENTIALS_FILE": str(credentials),
           "PORT": str(port)}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(log.parent / "absent.toml"),
            cwd=ROOT, env=env, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                break
            try:
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc, url + "/scim/v2"
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("gateway did not start:\n" + log.read_text(errors="replace"))


@pytest.fixture
def rng() -> random.Random:
    """This test's random choices, from a seed it prints (set GROUPS_RACE_SEED to replay)."""
    seed = int(os.environ.get("GROUPS_RACE_SEED") or random.SystemRandom().randrange(2**32))
    print(f"GROUPS_RACE_SEED={seed}")
    return random.Random(seed)


@pytest.fixture
async def gateways(world: World, tmp_path: Path, rng: random.Random) -> AsyncIterator[Gateways]:
    # Org ids of a fresh sandbox start at 1; skip a random few so that another test run
    # using the same Redis database at the same time is unlikely to share this org's keys
    # (the gateway has no setting for its key prefix, so the database is shared).
    for n in range(rng.randint(1, 60)):
        await world.backend.create_org(f"filler {n}")
    org_id = await world.backend.create_org("Concurrent Co")
    store = RedisIdStore(GATEWAY_REDIS)
    await _forget(store, org_id)
    path = tmp_path / "credentials.json"
    issued = CredentialStore(path, params=TEST_SCRYPT).issue_basic(org_id, label="okta")
    auth = basic(issued.username, issued.password)
    procs: list[asyncio.subprocess.Process] = []
    try:
        urls = []
        for name in ("one", "two"):
            proc, url = await _start(world, path, tmp_path / f"gateway-{name}.log")
            procs.append(proc)
            urls.append(url)
        yield Gateways(ScimClient(world.session, urls[0], auth),
                       ScimClient(world.session, urls[1], auth), org_id)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        await _forget(store, org_id)
        await store.close()


async def _forget(store: RedisIdStore, org_id: int) -> None:
    """Every key of the org in the gateways' database, locks included."""
    await store.clear_org(org_id)
    client = redis.from_url(GATEWAY_REDIS)
    try:
        locks = [k async for k in client.scan_iter(match=f"wsg:{{org:{org_id}}}:lock:*")]
        if locks:
            await client.delete(*locks)
    finally:
        await client.aclose()


async def _group(gw: Gateways, world: World, name: str, initial: list[str]) -> str:
    status, group, _ = await gw.one.post("/Groups", {"schemas": [GROUP], "displayName": name})
    assert status == 201, group
    if initial:
        await world.backend.seed_members(gw.org_id, group["id"], initial)
    return group["id"]


async def _ok(request) -> None:
    status, body, _ = await request
    assert status in (200, 204), body


async def test_replaces_on_one_gateway_and_adds_removes_on_the_other_all_take_effect(
    gateways: Gateways, world: World, rng: random.Random,
):
    """Gateway one keeps pushing the full list R (PATCH replace and PUT); gateway two adds
    members of R and removes people outside R at the same time. Every order of these
    ends at exactly R, unless an update is lost (a stale read-modify-write re-adding
    someone, or dropping someone added meanwhile)."""
    crowd = await world.backend.seed_employees(gateways.org_id, 320, "c")
    target = crowd[:160]
    initial = crowd[120:280]  # 40 in R, 120 outside it
    gid = await _group(gateways, world, "Pushed", initial)

    async def pusher() -> None:
        for round_ in range(6):
            order = rng.sample(target, len(target))
            if round_ % 2:
                await _ok(gateways.one.put(f"/Groups/{gid}", {
                    "schemas": [GROUP], "displayName": "Pushed", "members": members(order)}))
            else:
                await _ok(gateways.one.patch(f"/Groups/{gid}", patch(
                    {"op": "replace", "path": "members", "value": members(order)})))

    async def editor() -> None:
        outside = [p for p in crowd if p not in set(target)]
        jobs = []
        for i in range(0, 160, 10):
            jobs.append(gateways.two.patch(f"/Groups/{gid}", patch(
                {"op": "add", "path": "members", "value": members(target[i:i + 10])})))
        for i in range(0, len(outside), 10):
            chunk = outside[i:i + 10]
            jobs.append(gateways.two.patch(f"/Groups/{gid}", patch(
                *({"op": "remove", "path": f'members[value eq "{p}"]'} for p in chunk))))
        rng.shuffle(jobs)
        for job in jobs:
            await _ok(job)

    await asyncio.gather(pusher(), editor(), editor())
    assert sorted(await world.backend.members(gateways.org_id, gid), key=int) == \
        sorted(target, key=int)


async def test_concurrent_replaces_from_two_gateways_never_mix(
    gateways: Gateways, world: World, rng: random.Random,
):
    """Two replaces at once, one per gateway: the group ends as one of them, never a blend
    (without the group lock both would diff against the same stale list)."""
    crowd = await world.backend.seed_employees(gateways.org_id, 240, "r")
    gid = await _group(gateways, world, "Contested", crowd[:80])
    for round_ in range(8):
        shuffled = rng.sample(crowd, len(crowd))
        a, b = set(shuffled[:70]), set(shuffled[70:140])
        await asyncio.gather(
            _ok(gateways.one.patch(f"/Groups/{gid}", patch(
                {"op": "replace", "path": "members", "value": members(a)}))),
            _ok(gateways.two.put(f"/Groups/{gid}", {
                "schemas": [GROUP], "displayName": "Contested", "members": members(b)})),
        )
        final = set(await world.backend.members(gateways.org_id, gid))
        assert final in (a, b), f"round {round_}: a blend of both replaces ({len(final)} members)"


async def test_two_adds_at_once_on_two_gateways_both_land(gateways: Gateways, world: World):
    crowd = await world.backend.seed_employees(gateways.org_id, 200, "s")
    gid = await _group(gateways, world, "Both", [])
    halves = crowd[:100], crowd[100:]
    await asyncio.gather(*(
        _ok(client.patch(f"/Groups/{gid}", patch(
            {"op": "add", "path": "members", "value": members(half[i:i + 5])})))
        for client, half in zip((gateways.one, gateways.two), halves, strict=True)
        for i in range(0, 100, 5)))
    assert sorted(await world.backend.members(gateways.org_id, gid), key=int) == \
        sorted(crowd, key=int)
