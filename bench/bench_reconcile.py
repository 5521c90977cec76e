"""`workstream-admin reconcile` on a large org: wall time, backend calls, findings.

    python -m bench.bench_reconcile [--people 10000] [--teams 20] [--unlinked 100] [--rate 20]

The sandbox runs in its own process (SQLite in memory, rate limit off), seeded
through its bulk admin routes: `--people` people (every 10th with an
externalId, one externalId twice), `--teams` teams of 50 members each, and
`--unlinked` unlink markers in a temporary SQLite state database (a few of
them team members, one for a person who doesn't exist). Reconcile walks it at
`--rate` backend calls a second, as an operator would run it. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.bench_groups import _start_sandbox
from bench.harness import Sandbox


async def main(args: argparse.Namespace) -> None:
    from gateway.admin.reconcile import reconcile
    from gateway.idstore import MemoryIdStore
    from gateway.mapping.registry import MappingRegistry
    from gateway.state import StateDB
    from gateway.state.scim_unlinks import ScimUnlinks

    proc, url = await _start_sandbox()
    session = aiohttp.ClientSession()
    try:
        sandbox = Sandbox(session, url)
        org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Bench"}))["id"]
        ids: list[int] = []
        for start in range(0, args.people, 5000):
            rows = [{"email": f"p{i}@bench.example", "first_name": "B", "last_name": str(i),
                     **({"sso_id": f"00u{i}"} if i % 10 == 0 else {})}
                    for i in range(start, min(start + 5000, args.people))]
            rows[-1]["sso_id"] = "00u0"  # one duplicate externalId
            ids += (await sandbox.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                       {"employees": rows}))["ids"]
        for t in range(args.teams):
            team = await sandbox.call("POST", f"/internal/v1/orgs/{org}/teams",
                                      {"name": f"team {t}"})
            members = ids[t * 50:(t + 1) * 50]
            await sandbox.call("POST", f"/_sandbox/orgs/{org}/teams/{team['id']}/members/bulk",
                               {"employee_ids": members})
        with tempfile.TemporaryDirectory() as tmp:
            db = StateDB(f"sqlite:///{Path(tmp) / 'state.db'}")
            await db.ready()
            unlinks = ScimUnlinks(db)
            step = max(1, len(ids) // max(1, args.unlinked))
            for employee_id in [*ids[::step][:args.unlinked - 1], 10**9]:
                await unlinks.unlink(org, employee_id, user_name=f"u{employee_id}",
                                     external_id=None, values={})
            await sandbox.clear()
            out, err = io.StringIO(), io.StringIO()
            ns = argparse.Namespace(org=org, json=False, fix_index=False, rate=args.rate)
            started = time.perf_counter()
            code = await reconcile(ns, backend_url=url, backend_token="bench-sandbox-token",
                                   store=MemoryIdStore(), db=db,
                                   mappings=MappingRegistry("mappings.default", {}),
                                   out=out, err=err)
            seconds = time.perf_counter() - started
            calls = len(await sandbox.calls())
        lines = out.getvalue().splitlines()
        print(f"reconcile: {args.people} people, {args.teams} teams, {args.unlinked} unlinked, "
              f"--rate {args.rate}")
        print(f"  wall time {seconds:.1f} s, {calls} backend calls, exit {code}")
        print("  " + lines[0])
        print("  " + next(line for line in lines if line.startswith("summary:")))
        print("  " + lines[-1])
    finally:
        await session.close()
        proc.terminate()
        await proc.wait()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_reconcile")
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--unlinked", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
