"""What the audit trail costs: write requests per second with auditing off, then on.

    python -m bench.bench_audit [--requests 1000] [--concurrency 8] [--repeat 3]
                                [--state-url URL]

Sandbox and two gateways run in this process on real sockets, identical but
for `audit.enabled`; both write their state into one state database (default:
an SQLite file in a temporary directory, the single-host default; pass a
`postgresql://` URL to measure that). Each round sends `--requests` PATCHes
of a person's title (a real write: a read, then a backend PATCH) with
`--concurrency` in flight, to one gateway; rounds alternate so a busy machine
hurts both alike. Medians are printed with the audit events written, never
asserted; the target is "within 10%". On a shared machine the rate is noisy;
the CPU time this process spends per request (auditing's own cost, the
writer's flushes included) is the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import aiohttp

from bench.harness import PATCH_OP, SANDBOX_TOKEN, SCIM_JSON


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.audit.writer import AuditWriter
    from gateway.auth import CredentialStore
    from gateway.auth.hashing import ScryptParams
    from gateway.config import Config
    from gateway.idstore import MemoryIdStore
    from gateway.state import StateDB
    from gateway.state.audit_events import AuditQuery, AuditTrail
    from gateway.web.app import build_app
    from gateway.web.state import AUDIT
    from sandbox.app import create_app

    tmp = tempfile.TemporaryDirectory()
    state_url = args.state_url or f"sqlite:///{Path(tmp.name) / 'gateway-state.db'}"
    state = StateDB(state_url)
    await state.ready()
    sandbox = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await sandbox.start_server()
    backend = str(sandbox.make_url("")).rstrip("/")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency * 2))
    gateways: dict[str, TestServer] = {}
    try:
        async with session.post(backend + "/_sandbox/orgs", json={"name": "Bench Co"},
                                headers={"Authorization": f"Token {SANDBOX_TOKEN}"}) as resp:
            org = (await resp.json())["id"]
        credentials = CredentialStore(state, params=ScryptParams(n=2**10, r=8, p=1))
        issued = await credentials.issue_basic(org, label="okta")
        config = Config()
        config = replace(config, backend=replace(config.backend, url=backend,
                                                 token=SANDBOX_TOKEN))
        for mode, enabled in (("off", False), ("on", True)):
            app = build_app(replace(config, audit=replace(config.audit, enabled=enabled)),
                            credentials, id_store=MemoryIdStore(), state=state)
            gateways[mode] = TestServer(app, host="127.0.0.1")
            await gateways[mode].start_server()
        auth = base64.b64encode(f"{issued.username}:{issued.password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Content-Type": SCIM_JSON}
        base = {mode: str(server.make_url("/scim/v2")) for mode, server in gateways.items()}
        ids = []
        for i in range(args.concurrency):
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"bench{i}@bench.example",
                    "name": {"givenName": "B", "familyName": str(i)}, "active": True}
            async with session.post(base["off"] + "/Users", json=body, headers=headers) as resp:
                ids.append((await resp.json(content_type=None))["id"])

        async def writer(url: str, uid: str, count: int, offset: int) -> None:
            for n in range(count):
                patch = {"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "title", "value": f"Title {offset + n}"}]}
                async with session.patch(f"{url}/Users/{uid}", json=patch,
                                         headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status

        rounds = 0

        cpu: dict[str, list[float]] = {"off": [], "on": []}

        async def round_of(mode: str) -> float:
            nonlocal rounds
            rounds += 1
            each = args.requests // args.concurrency
            started, cpu_started = time.perf_counter(), time.process_time()
            await asyncio.gather(*(writer(base[mode], uid, each, rounds * each)
                                   for uid in ids))
            if mode == "on":  # what the background task would write: part of the cost
                await gateways["on"].app[AUDIT].flush()
            cpu[mode].append((time.process_time() - cpu_started) / (each * len(ids)))
            return each * len(ids) / (time.perf_counter() - started)

        await round_of("off")  # warm-up: caches, connections
        await round_of("on")
        rates: dict[str, list[float]] = {"off": [], "on": []}
        cpu["off"].clear()
        cpu["on"].clear()
        for _ in range(args.repeat):
            for mode in ("off", "on"):
                rates[mode].append(await round_of(mode))
        await gateways["on"].app[AUDIT].flush()
        events = len(await AuditTrail(state).find(AuditQuery(org_id=org, limit=10**9)))
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        print(f"PATCH /Users/{{id}} (title), {args.concurrency} in flight, "
              f"{args.requests} requests x {args.repeat} rounds, state {state.description}:")
        print(f"  audit off: {off:8.0f} requests/s")
        print(f"  audit on : {on:8.0f} requests/s  ({(off - on) / off:+.1%} slower)")
        cpu_off, cpu_on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
        print(f"  CPU of this process per request (gateway + sandbox + client; the machine's "
              f"load doesn't move it): off {cpu_off * 1e6:.0f} us, on {cpu_on * 1e6:.0f} us "
              f"({(cpu_on - cpu_off) / cpu_off:+.1%})")
        print(f"  audit events written: {events}")
        await _components(AuditWriter(AuditTrail(state)))
    finally:
        await session.close()
        for server in gateways.values():
            await server.close()
        await sandbox.close()
        await state.close()
        tmp.cleanup()


async def _components(writer) -> None:
    """Auditing's own CPU cost, apart from the noise of a whole request: the hot path's
    part (classify the route, build the event, queue it) and the background write."""
    from gateway.audit import events
    from gateway.observability.context import BackendCall, RequestContext

    ctx = RequestContext(request_id="okta-" + "7" * 27, method="PATCH",
                         route="/scim/v2/Users/{id}", org_id=1, credential_id="3fa2c1d09b7e",
                         credential_label="okta", mapping_module="mappings.default",
                         mapping_version="05f0cf7d2cbf",
                         backend_calls=[BackendCall("GET employees", 200, 0.01),
                                        BackendCall("PATCH employees", 200, 0.01)])
    routes = events.WriteRoutes("/scim/v2")
    writer.buffer_size = 10**6
    count = 20_000
    started = time.process_time()
    for _ in range(count):
        kind = routes.kind(ctx.method, ctx.route)
        writer.submit(events.build(ctx, kind or "user", 200, "/scim/v2/Users/1", "1"))
    hot = (time.process_time() - started) / count
    started = time.process_time()
    await writer.flush()  # batches of 500, as the background task writes them
    stored = (time.process_time() - started) / count
    print(f"  auditing's own CPU per write: {hot * 1e6:.1f} us on the request path, "
          f"{stored * 1e6:.1f} us to store it in the background")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--state-url", default="")
    asyncio.run(main(parser.parse_args()))
