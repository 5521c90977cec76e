"""`workstream-admin mapping diff` over a whole org of 10,000 people, timed.

    python -m bench.bench_mapping_diff [--people 10000]

The sandbox runs in this process on a real socket; the org's people are seeded
with a cost centre, and the diff (run as support runs it, a separate process)
compares the default mapping with mappings.examples.acme, which moves the cost
centre from the enterprise extension to Acme's own: every person reads
differently. Prints the command's summary (its last lines) and the wall time.
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.harness import SANDBOX_TOKEN, Sandbox

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from sandbox.app import create_app

    server = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as session:
            sandbox = Sandbox(session, url)
            org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Diff Co"}))["id"]
            for start in range(0, args.people, BATCH):
                rows = [{"email": f"p{i}@diff.example", "first_name": "P", "last_name": str(i),
                         "cost_center": f"CC-{i % 50}"}
                        for i in range(start, min(start + BATCH, args.people))]
                await sandbox.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                   {"employees": rows})
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "admin.toml"
            config.write_text(f'[backend]\nurl = "{url}"\ntoken = "{SANDBOX_TOKEN}"\n'
                              f'[state]\nurl = "sqlite:///{tmp}/state.db"\n')
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.admin", "--config", str(config), "mapping",
                "diff", "--org", str(org), "mappings.examples.acme", "--limit",
                str(args.people), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            took = time.perf_counter() - started
    finally:
        await server.close()
    lines = out.decode().splitlines()
    print(lines[0])
    print("  ...")
    print("\n".join(lines[-4:]))
    print(f"stderr (progress): {err.decode().strip().splitlines()[-1:]}")
    print(f"mapping diff over {args.people} people: exit {proc.returncode}, {took:.1f} s wall "
          f"({args.people / took:.0f} people/s, including the process start)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))
