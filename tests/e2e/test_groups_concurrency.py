"""Two gateway processes, one Redis, one backend: concurrent membership changes to one group.

Each gateway is a real `python -m gateway` process configured by environment
variables (as a deployment is), sharing Redis (a database of its own here)
and the test's sandbox. The final membership is read from the backend.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import CredentialStore
from gateway.idstore import RedisIdStore
from tests.bodies import GROUP, patch_ops
from tests.conftest import SANDBOX_TOKEN, TEST_SCRYPT, ScimClient, World, basic, drop_keys
from tests.net import free_port

# A Redis database of their own: the gateways use the production key prefix.
GATEWAY_REDIS = "redis://127.0.0.1:6379/13"
ROOT = Path(__file__).resolve().parents[2]


def members(ids: list[str] | set[str]) -> list[dict]:
    return [{"value": i} for i in ids]


class Gateways:
    """SCIM clients of two gateway processes, both holding the same org's credential."""

    def __init__(self, one: ScimClient, two: ScimClient, org_id: int) -> None:
        self.one, self.two, self.org_id = one, two, org_id


async def _start(world: World, credentials: Path, log: Path) -> tuple[asyncio.subprocess.Process,
                                                                      str]:
    port = free_port()
    env = {**os.environ, "WS_BACKEND_URL": world.backend.url, "WS_BACKEND_TOKEN": SANDBOX_TOKEN,
           "WS_REDIS_URL": GATEWAY_REDIS, "WS_AUTH_CREDENTIALS_FILE": str(credentials),
           "PORT": str(port)}
    empty_config = log.parent / "empty.toml"  # the environment says everything
    empty_config.write_text("")
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(empty_config),
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
    await drop_keys(f"wsg:{{org:{org_id}}}:lock:*", GATEWAY_REDIS)


async def _group(gw: Gateways, world: World, name: str, initial: list[str]) -> str:
    status, group, _ = await gw.one.post("/Groups", {"schemas": [GROUP], "displayName": name})
    assert status == 201, group
    if initial:
        await world.backend.seed_members(gw.org_id, group["id"], initial)
    return group["id"]


async def _ok(request) -> None:
    status, body, _ = await request
    assert status in (200, 204), body


Op = tuple[str, frozenset[str]]


def _after(start: set[str], ops: list[Op]) -> set[str]:
    """Membership after applying `ops` (whole adds and removes) in order to `start`."""
    out = set(start)
    for kind, ids in ops:
        out = out | ids if kind == "add" else out - ids
    return out


def _serial_orders(final: set[str], targets: list[set[str]], editors: list[list[Op]]) -> bool:
    """Is `final` what some serial order of the replaces and the editors' ops ends with?

    Each editor runs its ops one after another, so in any serial order the last replace
    sets its target and a suffix of each editor's ops (those after it) applies on top;
    the editors touch disjoint people, so each is checked on its own people.
    """
    for target in targets:
        touched: set[str] = set()
        fits = True
        for ops in editors:
            theirs = set().union(*(ids for _, ids in ops))
            touched |= theirs
            if not any(final & theirs == _after(target & theirs, ops[cut:])
                       for cut in range(len(ops) + 1)):
                fits = False
                break
        if fits and final - touched == target - touched:
            return True
    return False


async def _edit(client: ScimClient, gid: str, ops: list[Op]) -> None:
    """One editor: its adds and removes, one PATCH each, one after another."""
    for kind, ids in ops:
        if kind == "add":
            body = patch_ops({"op": "add", "path": "members", "value": members(sorted(ids))})
        else:
            body = patch_ops(*({"op": "remove", "path": f'members[value eq "{p}"]'}
                           for p in sorted(ids)))
        await _ok(client.patch(f"/Groups/{gid}", body))


async def test_replaces_and_adds_removes_at_once_end_as_some_serial_order(
    gateways: Gateways, world: World, rng: random.Random,
):
    """Gateway one replaces the whole list twice at once (PATCH replace to R1, PUT of R2);
    gateway two, meanwhile, adds outsiders and removes members both lists keep. The
    outcome depends on the order, but it must be one that some serial order of these
    requests gives: one replace's list wholly, plus a tail of each editor's changes.
    Without the group lock the two replaces diff against the same stale list and blend;
    a stale read-modify-write in an add or remove would drop or resurrect whole chunks.
    Every list stays within one backend page, so each diff reads one snapshot."""
    crowd = await world.backend.seed_employees(gateways.org_id, 200, "c")
    for round_ in range(6):
        people = rng.sample(crowd, len(crowd))
        shared, only1, only2 = people[:40], people[40:80], people[80:120]
        outsiders, stale = people[120:180], people[180:]
        r1, r2 = set(shared + only1), set(shared + only2)
        initial = shared + only1[:20] + only2[:20] + stale
        gid = await _group(gateways, world, f"Pushed {round_}", initial)

        editors: list[list[Op]] = []
        for half in (0, 1):
            ops: list[Op] = [("add", frozenset(outsiders[half * 30:][i:i + 5]))
                             for i in range(0, 30, 5)]
            ops += [("remove", frozenset(shared[half * 20:][i:i + 5])) for i in range(0, 20, 5)]
            rng.shuffle(ops)
            editors.append(ops)

        replaces = [
            _ok(gateways.one.patch(f"/Groups/{gid}", patch_ops(
                {"op": "replace", "path": "members", "value": members(rng.sample(
                    sorted(r1), len(r1)))}))),
            _ok(gateways.one.put(f"/Groups/{gid}", {
                "schemas": [GROUP], "displayName": f"Pushed {round_}",
                "members": members(rng.sample(sorted(r2), len(r2)))})),
        ]
        rng.shuffle(replaces)  # which one starts first (and so usually loses) varies
        await asyncio.gather(*replaces, *(_edit(gateways.two, gid, ops) for ops in editors))
        final = set(await world.backend.members(gateways.org_id, gid))
        assert _serial_orders(final, [r1, r2], editors), (
            f"round {round_}: {len(final)} members, not what any serial order gives "
            f"(from R1: {len(final & r1)}/{len(r1)}, from R2: {len(final & r2)}/{len(r2)}, "
            f"outsiders: {len(final & set(outsiders))}, stale: {len(final & set(stale))})")


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
            _ok(gateways.one.patch(f"/Groups/{gid}", patch_ops(
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
        _ok(client.patch(f"/Groups/{gid}", patch_ops(
            {"op": "add", "path": "members", "value": members(half[i:i + 5])})))
        for client, half in zip((gateways.one, gateways.two), halves, strict=True)
        for i in range(0, 100, 5)))
    assert sorted(await world.backend.members(gateways.org_id, gid), key=int) == \
        sorted(crowd, key=int)
