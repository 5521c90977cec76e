"""What the access line costs: GET /Users/{id} with JSON logs on, then off, side by side.

    python -m bench.bench_observability [--requests 2000] [--repeat 3]

Sandbox and gateway run in this process on real sockets; the gateway's log
goes through the real JSON formatter into /dev/null. "logs on" is log.level
info (one access line per request, plus its metrics); "logs off" is level
warning (metrics only). Requests are sent one at a time, so the figure is
per-request latency, not the machine's throughput. Medians of `--repeat`
rounds, alternating the two modes so a busy machine hurts both alike; printed,
never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import statistics
import time
from dataclasses import replace

import aiohttp

from bench.harness import SANDBOX_TOKEN, SCIM_JSON


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.auth import CredentialStore
    from gateway.auth.hashing import ScryptParams
    from gateway.config import Config
    from gateway.idstore import MemoryIdStore
    from gateway.observability import logs
    from gateway.web.app import build_app
    from sandbox.app import create_app

    sandbox = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await sandbox.start_server()
    backend = str(sandbox.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    gateway = None
    try:
        async with session.post(backend + "/_sandbox/orgs", json={"name": "Bench Co"},
                                headers={"Authorization": f"Token {SANDBOX_TOKEN}"}) as resp:
            org = (await resp.json())["id"]
        credentials = CredentialStore(None, params=ScryptParams(n=2**10, r=8, p=1))
        issued = credentials.issue_basic(org, label="okta")
        config = Config()
        config = replace(config, backend=replace(config.backend, url=backend,
                                                 token=SANDBOX_TOKEN))
        gateway = TestServer(build_app(config, credentials, id_store=MemoryIdStore()),
                             host="127.0.0.1")
        await gateway.start_server()
        base = str(gateway.make_url("/scim/v2"))
        auth = base64.b64encode(f"{issued.username}:{issued.password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Content-Type": SCIM_JSON}
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bench@bench.example", "name": {"givenName": "B", "familyName": "C"},
                "emails": [{"value": "bench@bench.example", "primary": True}], "active": True}
        async with session.post(base + "/Users", json=body, headers=headers) as resp:
            uid = (await resp.json(content_type=None))["id"]

        async def round_of(level: str) -> float:
            logs.configure("json", level, stream=devnull)
            # aiohttp's own access log (the test servers keep it; `python -m gateway` turns it
            # off) would log the sandbox's requests too: not the gateway's cost.
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
            started = time.perf_counter()
            for _ in range(args.requests):
                async with session.get(f"{base}/Users/{uid}", headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
            return args.requests / (time.perf_counter() - started)

        await round_of("warning")  # warm-up: caches, connections
        rates: dict[str, list[float]] = {"info": [], "warning": []}
        for _ in range(args.repeat):
            for level in ("warning", "info"):
                rates[level].append(await round_of(level))
        off, on = statistics.median(rates["warning"]), statistics.median(rates["info"])
        print(f"GET /Users/{{id}}, one at a time, {args.requests} requests x {args.repeat}:")
        print(f"  access line off (log.level warning): {off:8.0f} requests/s")
        print(f"  access line on  (log.level info)   : {on:8.0f} requests/s"
              f"  ({(off - on) / off:+.1%} slower, {1e6 / on - 1e6 / off:+.0f} us/request)")
    finally:
        logging.getLogger().setLevel(logging.WARNING)
        await session.close()
        if gateway is not None:
            await gateway.close()
        await sandbox.close()
        devnull.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
