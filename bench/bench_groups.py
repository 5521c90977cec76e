"""Group membership at scale: backend calls and time for the operations IdPs repeat most.

    python -m bench.bench_groups [--members 10000] [--groups 200] [--repeat 5]

The sandbox runs in its own process (SQLite in memory, rate limit off) and
is seeded through its bulk admin routes: people, one group of `--members`
members, and `--groups` small groups. The gateway runs in this process (one
aiohttp app, Redis at 127.0.0.1:6379 under a unique prefix deleted
afterwards; the in-process store if Redis doesn't answer). Backend calls are
counted from the sandbox's own request log. Times are wall-clock medians of
`--repeat` runs on this machine, printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from bench.harness import (
    PATCH_OP,
    SANDBOX_TOKEN,
    SCIM_JSON,
    Sandbox,
    drop_prefix,
    free_port,
    id_store,
)

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


async def _start_sandbox() -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", "--db", ":memory:", "--port", str(port),
        "--token", SANDBOX_TOKEN, "--rate-limit", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if b"listening" not in line:
        proc.kill()
        raise RuntimeError(f"sandbox did not start: {line!r}")
    return proc, f"http://127.0.0.1:{port}"


def _kind(call: str) -> str:
    """`GET /internal/v1/orgs/1/teams/5/members` → `GET members` (what kind of call it was)."""
    method, path = call.split(" ", 1)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last.isdigit():
        return f"{method} team"
    return f"{method} {'teams (list)' if last == 'teams' else last}"


def _members(ids: list[int]) -> list[dict]:
    return [{"value": str(i)} for i in ids]


def _patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.auth import CredentialStore
    from gateway.auth.hashing import ScryptParams
    from gateway.config import Config
    from gateway.web.app import build_app

    sandbox_proc, sandbox_url = await _start_sandbox()
    prefix = f"bench-groups-{uuid.uuid4().hex[:10]}"
    store, store_name = await id_store(prefix)
    session = aiohttp.ClientSession()
    gateway = None
    try:
        sandbox = Sandbox(session, sandbox_url)
        org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Bench Co"}))["id"]
        people = args.members + 20 + 50
        rows = [{"email": f"p{i}@bench.example", "first_name": "P", "last_name": str(i)}
                for i in range(people)]
        ids = (await sandbox.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                  {"employees": rows}))["ids"]

        credentials = CredentialStore(None, params=ScryptParams(n=2**10, r=8, p=1))
        issued = await credentials.issue_basic(org, label="bench")
        config = Config()
        config = replace(config, backend=replace(config.backend, url=sandbox_url,
                                                 token=SANDBOX_TOKEN))
        gateway = TestServer(build_app(config, credentials, id_store=store), host="127.0.0.1")
        await gateway.start_server()
        base = str(gateway.make_url("/scim/v2"))
        auth = "Basic " + base64.b64encode(
            f"{issued.username}:{issued.password}".encode()).decode()
        headers = {"Authorization": auth, "Content-Type": SCIM_JSON}

        async def scim(method: str, path: str, body: Any = None) -> tuple[int, int]:
            """Status and body size; the body is read in chunks and dropped."""
            size = 0
            async with session.request(method, base + path, json=body, headers=headers) as resp:
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                if resp.status >= 400:
                    raise RuntimeError(f"{method} {path}: {resp.status}")
                return resp.status, size

        # One big group, `--groups` small ones (50 members each), seeded in bulk.
        async with session.post(base + "/Groups", json={"schemas": [GROUP],
                                "displayName": "Everyone"}, headers=headers) as resp:
            big = (await resp.json(content_type=None))["id"]
        await sandbox.call("POST", f"/_sandbox/orgs/{org}/teams/{big}/members/bulk",
                           {"employee_ids": ids[:args.members]})
        small = ids[args.members + 20:]
        for n in range(args.groups):
            team = await sandbox.call("POST", f"/internal/v1/orgs/{org}/teams",
                                      {"name": f"Team {n}"})
            await sandbox.call("POST", f"/_sandbox/orgs/{org}/teams/{team['id']}/members/bulk",
                               {"employee_ids": small})
        await scim("GET", "/Groups?count=1&excludedAttributes=members")  # warm the org gate

        rows_out: list[tuple[str, int, str, float, str]] = []

        async def measure(label: str, run: Callable[[int], Awaitable[Any]], *,
                          reset: Callable[[int], Awaitable[Any]] | None = None,
                          note: Callable[[Any], str] = lambda _: "") -> None:
            times, counts, detail, result = [], [], "", None
            for attempt in range(args.repeat):
                if reset is not None:
                    await reset(attempt)
                await sandbox.clear()
                start = time.perf_counter()
                result = await run(attempt)
                times.append(time.perf_counter() - start)
                calls = await sandbox.calls()
                counts.append(len(calls))
                kinds: dict[str, int] = {}
                for c in calls:
                    kinds[_kind(c)] = kinds.get(_kind(c), 0) + 1
                detail = ", ".join(f"{v} x {k}" for k, v in sorted(kinds.items()))
            rows_out.append((label, max(counts), detail, statistics.median(times) * 1000,
                             note(result)))

        extra = ids[args.members:args.members + 20]

        async def add_one(attempt: int) -> Any:
            return await scim("PATCH", f"/Groups/{big}", _patch(
                {"op": "add", "path": "members", "value": _members([extra[attempt]])}))

        async def remove_added(attempt: int) -> None:
            await sandbox.call("POST", f"/internal/v1/orgs/{org}/teams/{big}/members/remove",
                               {"employee_ids": [extra[attempt]]})

        await measure(f"add 1 member to a {args.members:,}-member group (204)", add_one,
                      reset=remove_added)

        async def okta_add_one(attempt: int) -> Any:
            return await scim("PATCH", f"/Groups/{big}", _patch(
                {"op": "replace", "value": {"id": big, "displayName": "Everyone"}},
                {"op": "add", "path": "members", "value": _members([extra[attempt]])}))

        await measure("  same, with Okta's rename-with-stray-id op", okta_add_one,
                      reset=remove_added)

        async def remove_one(attempt: int) -> Any:
            return await scim("PATCH", f"/Groups/{big}", _patch(
                {"op": "remove", "path": f'members[value eq "{ids[attempt]}"]'}))

        async def put_back(attempt: int) -> None:
            await sandbox.call("POST", f"/internal/v1/orgs/{org}/teams/{big}/members/add",
                               {"employee_ids": [ids[attempt]]})

        await measure(f"remove 1 member from a {args.members:,}-member group", remove_one,
                      reset=put_back)

        full = ids[:args.members]
        differing = full[10:] + extra[:10]  # 10 out, 10 in

        async def back_to_full(_: int) -> None:
            await sandbox.call("POST", f"/_sandbox/orgs/{org}/teams/{big}/members/bulk",
                               {"employee_ids": full[:10]})
            await sandbox.call("POST", f"/internal/v1/orgs/{org}/teams/{big}/members/remove",
                               {"employee_ids": extra[:10]})

        async def replace_list(_: int) -> Any:
            return await scim("PATCH", f"/Groups/{big}", _patch(
                {"op": "replace", "path": "members", "value": _members(differing)}))

        await measure(f"replace the {args.members:,}-member list with one differing by 10 "
                      "(PATCH)", replace_list, reset=back_to_full)

        async def put_list(_: int) -> Any:
            return await scim("PUT", f"/Groups/{big}", {
                "schemas": [GROUP], "displayName": "Everyone", "members": _members(differing)})

        await measure("  same, as a PUT (answers the whole group)", put_list, reset=back_to_full)
        await back_to_full(0)

        async def list_groups(_: int) -> Any:
            return await scim("GET", f"/Groups?excludedAttributes=members&count={args.groups}")

        await measure(f"list {args.groups} of {args.groups + 1} groups, "
                      "excludedAttributes=members", list_groups)

        async def lookup(_: int) -> Any:
            return await scim("GET", '/Groups?excludedAttributes=members'
                                     '&filter=displayName eq "Everyone"')

        await measure("Entra match: displayName eq, excludedAttributes=members", lookup)

        peaks: list[int] = []

        async def get_full(_: int) -> Any:
            tracemalloc.start()
            try:
                result = await scim("GET", f"/Groups/{big}")
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            return result

        await measure(f"GET the {args.members:,}-member group, streamed", get_full,
                      note=lambda r: f"{r[1] / 1e6:.2f} MB body; peak traced "
                                     f"{max(peaks) / 1e6:.2f} MB (tracemalloc on)")

        print(f"groups benchmark: {args.members:,}-member group, {args.groups} small groups, "
              f"{people:,} people; store: {store_name}; median of {args.repeat}")
        width = max(len(r[0]) for r in rows_out)
        print(f"{'operation':<{width}}  {'calls':>5}  {'ms':>8}  backend calls")
        for label, count, detail, ms, note in rows_out:
            print(f"{label:<{width}}  {count:>5}  {ms:>8.1f}  {detail}")
            if note:
                print(f"{'':<{width}}  {'':>5}  {'':>8}  {note}")
    finally:
        if gateway is not None:
            await gateway.close()
        await session.close()
        with contextlib.suppress(Exception):
            await store.close()
        await drop_prefix(prefix)
        sandbox_proc.terminate()
        await sandbox_proc.wait()


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_groups", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(_arguments()))
