"""User queries at scale: time and backend calls of each way the gateway answers a filter.

    python -m bench.bench_users [--people 10000] [--repeat 5]

Sandbox and gateway run in this process on real sockets (as the end-to-end
tests do); the sandbox is seeded through its bulk admin route. The user index
lives in the state database (in memory here) with Redis at 127.0.0.1:6379 in
front of it, under a unique prefix deleted afterwards (the in-process store if
Redis doesn't answer). Backend calls are counted from
the sandbox's own request log. Times are wall-clock medians of `--repeat` runs
on this machine, printed side by side, never asserted. `max_scan` is raised
above the org's size so the gateway-evaluated filter runs instead of being
refused with 400 tooMany.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from bench.harness import SANDBOX_TOKEN, SCIM_JSON, Sandbox, drop_prefix, id_store

SEED_BATCH = 2_000


def _employee(i: int) -> dict[str, Any]:
    return {"email": f"person{i}@bench.example", "first_name": "Person", "last_name": str(i),
            "title": "Staff" if i % 1000 else "Executive", "sso_id": f"00u{i:08d}"}


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.auth import CredentialStore
    from gateway.auth.hashing import ScryptParams
    from gateway.config import Config
    from gateway.web.app import build_app
    from gateway.web.state import USERS
    from sandbox.app import create_app

    people = args.people
    sandbox_server = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await sandbox_server.start_server()
    prefix = f"bench-users-{uuid.uuid4().hex[:10]}"
    store, store_name = await id_store(prefix)
    session = aiohttp.ClientSession()
    gateway = None
    try:
        sandbox = Sandbox(session, str(sandbox_server.make_url("")).rstrip("/"))
        org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Bench Co"}))["id"]
        started = time.perf_counter()
        ids: list[int] = []
        for first in range(0, people, SEED_BATCH):
            rows = [_employee(i) for i in range(first, min(people, first + SEED_BATCH))]
            ids += (await sandbox.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                       {"employees": rows}))["ids"]
        seeded_s = time.perf_counter() - started

        # Cheap scrypt: what is measured is the query path, not password hashing.
        credentials = CredentialStore(None, params=ScryptParams(n=2**10, r=8, p=1))
        issued = await credentials.issue_basic(org, label="bench")
        config = Config()
        config = replace(
            config,
            backend=replace(config.backend, url=sandbox.url, token=SANDBOX_TOKEN),
            scim=replace(config.scim, max_scan=max(config.scim.max_scan, 2 * people)),
        )
        gateway = TestServer(build_app(config, credentials, id_store=store), host="127.0.0.1")
        await gateway.start_server()
        base = str(gateway.make_url("/scim/v2"))
        auth = "Basic " + base64.b64encode(
            f"{issued.username}:{issued.password}".encode()).decode()
        headers = {"Authorization": auth, "Accept": SCIM_JSON}

        async def scim(params: dict[str, str]) -> dict:
            async with session.get(base + "/Users", params=params, headers=headers) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    raise RuntimeError(f"GET /Users {params}: {resp.status} {body}")
                return body

        await scim({"count": "0"})  # the org gate's flags are cached from here on
        await gateway.app[USERS].index.settle()  # and the user index built (in the background)

        rows_out: list[tuple[str, int, float, str]] = []

        async def measure(label: str, run: Callable[[int], Awaitable[dict]], *,
                          reset: Callable[[], Awaitable[Any]] | None = None,
                          repeat: int | None = None,
                          expect: Callable[[dict], bool] = lambda _: True) -> None:
            times, counts = [], []
            for attempt in range(repeat or args.repeat):
                if reset is not None:
                    await reset()
                await sandbox.clear()
                start = time.perf_counter()
                body = await run(attempt)
                times.append(time.perf_counter() - start)
                counts.append(len(await sandbox.calls()))
                if not expect(body):
                    raise RuntimeError(f"{label}: unexpected answer {body!r:.300}")
            spread = f"{min(counts)}-{max(counts)}" if min(counts) != max(counts) else ""
            rows_out.append((label, max(counts), statistics.median(times) * 1000, spread))

        def one(i: int) -> Callable[[dict], bool]:
            return lambda body: [r["id"] for r in body["Resources"]] == [str(ids[i])]

        def nobody(body: dict) -> bool:
            return body["totalResults"] == 0

        async def cold_index() -> None:  # a Redis flush: the state database still has it
            await store.clear_org(org)

        def pick(attempt: int) -> int:
            return (attempt * 7919 + 4242) % people

        # userName: the state database on a Redis miss, then the Redis hint.
        await measure("userName eq, Redis flushed (state database)",
                      lambda a: scim({"filter": f'userName eq "person{pick(a)}@bench.example"'}),
                      reset=cold_index,
                      expect=lambda b: b["totalResults"] == 1)
        await measure("userName eq, warm index",
                      lambda a: scim({"filter": f'userName eq "PERSON{pick(0)}@bench.example"'}),
                      expect=one(pick(0)))
        await measure('emails[type eq "work"].value eq, warm index',
                      lambda a: scim({"filter": 'emails[type eq "work"].value eq '
                                                f'"person{pick(0)}@bench.example"'}),
                      expect=one(pick(0)))

        # externalId: not searchable in the backend; the index was built once for the org.
        await measure("externalId eq, Redis flushed (state database)",
                      lambda a: scim({"filter": f'externalId eq "00u{pick(a):08d}"'}),
                      reset=cold_index, expect=lambda b: b["totalResults"] == 1)
        await measure("externalId eq, warm index",
                      lambda a: scim({"filter": f'externalId eq "00u{pick(a + 1):08d}"'}),
                      expect=lambda b: b["totalResults"] == 1)
        # A miss catches the index up with what changed since its watermark; changes
        # younger than the index's settling time (all of them, just after seeding) are
        # re-read, so this row is the worst case: a freshly bulk-loaded org.
        await measure("externalId eq, warm index, miss, org loaded just now",
                      lambda a: scim({"filter": f'externalId eq "{uuid.uuid4()}"'}),
                      expect=nobody)
        await measure("id eq",
                      lambda a: scim({"filter": f'id eq "{ids[pick(a)]}"'}),
                      expect=lambda b: b["totalResults"] == 1)

        # Pushed down to the backend's status parameter: the backend pages.
        await measure("active eq true, startIndex=5001 count=100",
                      lambda a: scim({"filter": "active eq true", "startIndex": "5001",
                                      "count": "100"}),
                      expect=lambda b: b["itemsPerPage"] == min(100, max(0, people - 5000)))

        # Evaluated by the gateway: a scan of the whole org.
        await measure(f'title co "x" (gateway-evaluated, scans {people:,})',
                      lambda a: scim({"filter": 'title co "x"'}),
                      repeat=min(args.repeat, 3),
                      expect=lambda b: b["totalResults"] == people // 1000)

        # Okta's import: pages of 100 until totalResults is read.
        import_times: list[float] = []
        await sandbox.clear()
        started = time.perf_counter()
        seen = 0
        start_index = 1
        while True:
            page_started = time.perf_counter()
            body = await scim({"startIndex": str(start_index), "count": "100"})
            import_times.append(time.perf_counter() - page_started)
            seen += len(body["Resources"])
            start_index += 100
            if start_index > body["totalResults"]:
                break
        import_s = time.perf_counter() - started
        import_calls = len(await sandbox.calls())
        if seen != people:
            raise RuntimeError(f"import saw {seen} of {people} people")

        print(f"users benchmark: {people:,} people in one org (seeded in {seeded_s:.1f} s); "
              f"store: {store_name}; max_scan {config.scim.max_scan:,}; "
              f"median of {args.repeat} (3 for the slow ones)")
        width = max(len(r[0]) for r in rows_out)
        width = max(width, len("full import, pages of 100"))
        print(f"{'query':<{width}}  {'calls':>6}  {'ms':>9}")
        for label, count, ms, spread in rows_out:
            note = f"  (calls varied {spread})" if spread else ""
            print(f"{label:<{width}}  {count:>6}  {ms:>9.1f}{note}")
        pages = len(import_times)
        print(f"{'full import, pages of 100':<{width}}  {import_calls:>6}  {import_s * 1000:>9.1f}"
              f"  ({pages} pages; median {statistics.median(import_times) * 1000:.1f} ms, "
              f"max {max(import_times) * 1000:.1f} ms a page)")
    finally:
        if gateway is not None:
            await gateway.close()
        await session.close()
        with contextlib.suppress(Exception):
            await store.close()
        await drop_prefix(prefix)
        await sandbox_server.close()


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_users", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(_arguments()))
