"""The durable user index at scale: its build, and a cold lookup after a Redis flush (issue 12).

    python -m bench index [--people 100000] [--lookups 20] [--postgres | --state-url URL]
                          [--no-reindex]

A sandbox (own process, SQLite in memory, rate limit off) is seeded with
`--people` people through its bulk admin API, as `bench speed` does; then a
gateway (`python -m gateway` as production starts it, Basic auth, Redis at
127.0.0.1:6379 in database 13, emptied before and after, the state database
a temporary SQLite file, or a temporary PostgreSQL database with `--postgres`)
is started. Printed:

- the background build: from the org's first request until the org's mark is
  in the state database (and what an `externalId eq` lookup answers meanwhile);
- warm lookups (the Redis hint, then one backend GET);
- cold lookups after the org's Redis keys are deleted (a flush): one indexed
  query of the state database, then the backend GET; each is checked to cost
  exactly one backend call (the sandbox's request log);
- a miss (a catch-up with `updated_since`);
- `workstream-admin reindex` over the whole org, and its summary.

Times are wall-clock on this machine, with whatever else runs on it (the load
average is printed); nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bench.children import (
    flush_redis,
    issue_credential,
    redis_db_url,
    start_child,
    start_gateway,
    wait_ready,
)
from bench.harness import SANDBOX_TOKEN, SCIM_JSON, Sandbox, free_port

SEED_BATCH = 2_000
POSTGRES_ADMIN_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS_DB = 13  # the gateway keeps its production key prefix: a database of its own


def _employee(i: int) -> dict:
    return {"email": f"person{i}@index.example", "first_name": "Person", "last_name": str(i),
            "sso_id": f"00u{i:08d}"}


# ------------------------------------------------------------------ the state database


@contextlib.asynccontextmanager
async def _state_url(args: argparse.Namespace):
    if args.state_url:
        yield args.state_url, "given"
        return
    if not args.postgres:
        with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'gateway-state.db'}", "SQLite file"
        return
    import asyncpg

    name = f"bench_index_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, "PostgreSQL"
    finally:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# ------------------------------------------------------------------ the run


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"median {statistics.median(ordered) * 1000:6.1f} ms, "
            f"max {ordered[-1] * 1000:6.1f} ms ({len(ordered)} lookups)")


async def _bench(args: argparse.Namespace) -> int:
    redis_url = redis_db_url(BENCH_REDIS_DB)
    await flush_redis(redis_url)
    sandbox_port, gateway_port = free_port(), free_port()
    sandbox = start_child("sandbox", ["-m", "sandbox", "--db", ":memory:", "--port",
                                      str(sandbox_port), "--token", SANDBOX_TOKEN,
                                      "--rate-limit", "0", "--org", "Index Org"], lines=2)
    gateway = None
    org = int(sandbox.announce["line"][0].rsplit("id=", 1)[1])
    backend = f"http://127.0.0.1:{sandbox_port}"
    workdir = tempfile.TemporaryDirectory(prefix="bench-index-")
    try:
        async with _state_url(args) as (state_url, state_name), aiohttp.ClientSession() as session:
            log = Sandbox(session, backend)
            started = time.perf_counter()
            ids: list[int] = []
            for first in range(0, args.people, SEED_BATCH):
                rows = [_employee(i) for i in range(first, min(args.people, first + SEED_BATCH))]
                ids += (await log.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                       {"employees": rows}))["ids"]
            print(f"{args.people:,} people seeded in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)

            auth = await issue_credential(state_url, org)
            gateway = start_gateway(gateway_port, backend, state_url, redis_url,
                                    Path(workdir.name))
            await wait_ready(session, f"http://127.0.0.1:{gateway_port}", gateway)
            base = f"http://127.0.0.1:{gateway_port}/scim/v2"
            headers = {"Authorization": auth, "Accept": SCIM_JSON}

            async def lookup(flt: str) -> tuple[int, dict, float]:
                begun = time.perf_counter()
                async with session.get(f"{base}/Users?filter={quote(flt)}",
                                       headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    return resp.status, body, time.perf_counter() - begun

            # The build: started by the org's first request, in the background. Meanwhile an
            # externalId lookup waits a moment, then answers 503 with Retry-After.
            from gateway.state import StateDB
            from gateway.state.user_index_entries import UserIndexEntries

            state = StateDB(state_url)
            rows = UserIndexEntries(state)
            begun = time.perf_counter()
            status, body, _ = await lookup('userName eq "person0@index.example"')
            if status != 200:
                raise RuntimeError(f"first request: {status} {body}")
            first_s = time.perf_counter() - begun
            async with session.get(f"{base}/Users?filter=" + quote('externalId eq "00u00000042"'),
                                   headers=headers) as resp:
                during = f"{resp.status}, Retry-After {resp.headers.get('Retry-After')}"
            while await rows.mark(org) is None:  # set once every person is indexed
                await asyncio.sleep(0.1)
            build_s = time.perf_counter() - begun
            await state.close()

            picks = random.Random(args.people).sample(range(args.people), args.lookups)
            warm = []
            for i in picks:
                status, body, took = await lookup(f'externalId eq "00u{i:08d}"')
                assert status == 200 and body["totalResults"] == 1, body
                warm.append(took)

            await flush_redis(redis_url)  # a Redis flush
            cold_ext, cold_name, calls_seen = [], [], set()
            for n, i in enumerate(picks):
                await log.clear()
                flt = (f'externalId eq "00u{i:08d}"' if n % 2 == 0
                       else f'userName eq "PERSON{i}@index.example"')
                status, body, took = await lookup(flt)
                if status != 200 or body["totalResults"] != 1:
                    raise RuntimeError(f"cold lookup {flt}: {status} {body}")
                calls = await log.calls()
                calls_seen.add(len(calls))
                (cold_ext if n % 2 == 0 else cold_name).append(took)
                if calls != [f"GET /internal/v1/orgs/{org}/employees/{ids[i]}"]:
                    raise RuntimeError(f"cold lookup {flt} cost {calls}")
            await log.clear()
            status, body, miss_s = await lookup(f'externalId eq "{uuid.uuid4()}"')
            miss_calls = await log.calls()

            reindex = None
            if not args.no_reindex:
                env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
                env.update(WS_BACKEND_URL=backend, WS_BACKEND_TOKEN=SANDBOX_TOKEN,
                           WS_REDIS_URL="")
                begun = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "gateway.admin", "--state-url", state_url,
                     "reindex", "--org", str(org), "--json"], env=env, capture_output=True,
                    text=True, check=False, cwd=Path(__file__).resolve().parents[1])
                if done.returncode != 0:
                    raise RuntimeError(f"reindex failed: {done.stderr}")
                reindex = (time.perf_counter() - begun, json.loads(done.stdout))

        load = os.getloadavg()
        print(f"user index benchmark: {args.people:,} people in one org; state database: "
              f"{state_name}; gateway as production starts it (uvloop); load average "
              f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print(f"  first request (starts the build)        {first_s * 1000:8.1f} ms")
        print(f"  build (in the background)               {build_s:8.1f} s from the org's "
              f"first request; an externalId lookup meanwhile: {during}")
        print(f"  warm externalId lookup (Redis hint)     {_ms(warm)}")
        print(f"  cold externalId lookup (Redis flushed)  {_ms(cold_ext)}")
        print(f"  cold userName lookup (Redis flushed)    {_ms(cold_name)}")
        print(f"  backend calls per cold lookup           {sorted(calls_seen)} (the GET only)")
        print(f"  miss: catch-up with updated_since       {miss_s * 1000:8.1f} ms, answer "
              f"{status}, {len(miss_calls)} backend call(s) by then (everyone was changed "
              f"within the last 5 minutes here: all re-read, in the background past "
              f"CATCH_UP_WAIT_S; in an org loaded earlier, one call)")
        if reindex is not None:
            took, summary = reindex
            print(f"  workstream-admin reindex                {took:8.1f} s (process included): "
                  f"{summary['people']:,} people, added {summary['added']}, fixed "
                  f"{summary['fixed']}, removed {summary['removed']}, "
                  f"{summary['entries']:,} entries")
        return 0
    finally:
        if gateway is not None:
            gateway.stop(keep_log=False)
        sandbox.stop(keep_log=False)
        workdir.cleanup()
        await flush_redis(redis_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench index", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20, help="warm and cold lookups timed")
    parser.add_argument("--postgres", action="store_true",
                        help="a temporary PostgreSQL database (at 127.0.0.1:5432) as the state "
                             "database, instead of a temporary SQLite file")
    parser.add_argument("--state-url", help="the state database to use (it is written to)")
    parser.add_argument("--no-reindex", action="store_true", help="skip workstream-admin reindex")
    args = parser.parse_args(argv)
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    sys.exit(main())
