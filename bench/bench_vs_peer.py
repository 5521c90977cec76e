"""Side by side: this gateway against a peer SCIM server, same machine, same load.

    python -m bench.bench_vs_peer [--users 1000] [--concurrency 24] [--time-cap 12]
                                  [--profile gateway.pstats]

The peer is `scim2-server` (python-scim's reference server): its ASGI
application over its in-memory storage, under uvicorn, one process, with a
static bearer token. Ours is the gateway, one process (aiohttp, access log
off as in production), in front of the sandbox (its own process, SQLite in
memory, rate limit off) with Redis at 127.0.0.1:6379 under a unique prefix
that is deleted afterwards. Both get a bearer token and the same loop
(stdlib asyncio). The load generator is this process: an aiohttp client with
a fixed number of requests in flight, the same requests for both servers,
every loop bounded in count and in time.

It is not an equal contest, and the table says so: every request to the
gateway makes real HTTP calls to the backend (counted from the sandbox's own
request log), and the sandbox competes with the gateway for the machine's
CPUs; the peer answers from a Python list in its own memory.

`--profile FILE` runs the gateway under cProfile and prints its top costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.harness import PATCH_OP, REDIS_URL, SANDBOX_TOKEN, SCIM_JSON, drop_prefix, free_port

PEER_TOKEN = "bench-peer-token"
STARTUP_TIMEOUT_S = 30.0
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


# ----------------------------------------------------------------- the servers


async def _serve_gateway(args: argparse.Namespace) -> None:
    """Child process: the gateway as production runs it, plus a bearer token on stdout."""
    import logging
    from dataclasses import replace

    from aiohttp import web

    from gateway.auth import CredentialStore
    from gateway.config import Config
    from gateway.idstore import RedisIdStore
    from gateway.web.app import build_app

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config()
    config = replace(
        config,
        backend=replace(config.backend, url=args.backend, token=SANDBOX_TOKEN),
        redis=replace(config.redis, url=REDIS_URL),
    )
    credentials = CredentialStore(None)
    issued = await credentials.issue_token(args.org, label="bench")
    store = RedisIdStore(REDIS_URL, prefix=args.prefix)
    runner = web.AppRunner(build_app(config, credentials, id_store=store), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(json.dumps({"token": issued.token}), flush=True)
    await _until_terminated()
    await runner.cleanup()
    await store.close()


async def _serve_peer(args: argparse.Namespace) -> None:
    """Child process: scim2-server's ASGI app on its in-memory storage, under uvicorn."""
    import uvicorn
    from scim2_models import ScimProvider, UnauthorizedException
    from scim2_server.applications.asgi import ASGIApplication
    from scim2_server.memory import AsyncInMemoryStorage
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    class BearerASGIApplication(ASGIApplication):
        """As the package's own test server does for WSGI: one static bearer token."""

        def check_auth(self, request: Any) -> None:
            scheme, _, token = (request.header("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or token != PEER_TOKEN:
                raise UnauthorizedException

    service_config = load_default_service_provider_config()
    service_config.authentication_schemes = [
        *(service_config.authentication_schemes or []), BEARER_TOKEN_SCHEME
    ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),  # User, Group, EnterpriseUser, ...
        load_default_resource_types().values(),
        config=service_config,
    )
    app = BearerASGIApplication(AsyncInMemoryStorage(), provider)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, loop="asyncio", http="httptools",
        lifespan="on", log_level="warning", access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    print(json.dumps({"token": PEER_TOKEN}), flush=True)
    await _until_terminated()
    server.should_exit = True
    await task


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@dataclass
class Child:
    """A server in its own process; its stderr goes to a file shown if it fails."""

    name: str
    proc: asyncio.subprocess.Process
    log_path: str
    first_line: str = ""

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.log_path)

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()[-3000:]


async def _start(name: str, *argv: str) -> Child:
    fd, log_path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdout=asyncio.subprocess.PIPE, stderr=fd,
        stdin=asyncio.subprocess.DEVNULL,
    )
    os.close(fd)
    child = Child(name, proc, log_path)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_TIMEOUT_S)
    except TimeoutError:
        line = b""
    if not line:
        tail = child.log_tail()
        await child.stop()
        raise RuntimeError(f"{name} did not start:\n{tail}")
    child.first_line = line.decode().strip()
    return child


# ----------------------------------------------------------------- the load


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    error_sample: str = ""
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    backend_calls: int | None = None

    def add(self, other: Result) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.error_sample = self.error_sample or other.error_sample
        self.elapsed_s += other.elapsed_s
        self.latencies_ms += other.latencies_ms
        if other.backend_calls is not None:
            self.backend_calls = (self.backend_calls or 0) + other.backend_calls

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# One request of a scenario: (method, path, body, accepted statuses), built from its index.
Request = tuple[str, str, Any, tuple[int, ...]]
Build = Callable[[int], Request]


async def _drive(session: aiohttp.ClientSession, base: str, token: str, build: Build,
                 indices: range, concurrency: int, time_cap_s: float,
                 keep: Callable[[int, dict], None] | None = None) -> Result:
    """The requests `indices`, `concurrency` in flight, stopping early at `time_cap_s`."""
    result = Result()
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
    body_headers = {**headers, "Content-Type": SCIM_JSON}
    next_index, stop_index = indices.start, indices.stop
    start = time.perf_counter()
    deadline = start + time_cap_s

    async def worker() -> None:
        nonlocal next_index
        while next_index < stop_index and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            method, path, body, expected = build(index)
            data = None if body is None else json.dumps(body).encode()
            t0 = time.perf_counter()
            async with session.request(method, base + path, data=data,
                                       headers=body_headers if data else headers) as resp:
                raw = await resp.read()
                status = resp.status
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            result.requests += 1
            if status not in expected:
                result.errors += 1
                result.error_sample = result.error_sample or f"{status} {raw[:200]!r}"
            elif keep is not None:
                keep(index, json.loads(raw))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - start
    return result


def okta_user(n: int, run: str) -> dict:
    """The body Okta POSTs to create a user (shared/idp-wire-shapes.md)."""
    email = f"bench.{run}.{n}@okta.local"
    return {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": f"Bench{n}", "familyName": "User"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"Bench{n} User",
        "locale": "en-US",
        "externalId": f"00u{run}{n:06d}",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


@dataclass
class Target:
    """One server under test, and what the scenarios learn about its users."""

    name: str
    base: str
    token: str
    backend_calls: Callable[[], Awaitable[int]] | None = None
    users: dict[int, dict] = field(default_factory=dict)  # index -> resource as created

    def ids(self) -> list[int]:
        return sorted(self.users)


def scenarios(args: argparse.Namespace, run: str) -> list[tuple[str, int, Callable]]:
    """(name, request count, target -> (build, keep)) in the order they run."""
    n = args.users
    deactivate = {"schemas": [PATCH_OP],
                  "Operations": [{"op": "replace", "value": {"active": False}}]}

    def create(t: Target):
        def build(i: int) -> Request:
            return "POST", "/Users", okta_user(i, run), (201,)

        def keep(i: int, body: dict) -> None:
            t.users[i] = body

        return build, keep

    def get(t: Target):
        ids = t.ids()
        return (lambda i: ("GET", f"/Users/{t.users[ids[i * 7919 % len(ids)]]['id']}",
                           None, (200,))), None

    def by_name(t: Target):
        ids = t.ids()

        def build(i: int) -> Request:
            name = t.users[ids[i * 7919 % len(ids)]]["userName"]
            return "GET", f'/Users?filter=userName%20eq%20%22{name}%22', None, (200,)

        return build, None

    def page(t: Target):
        return (lambda i: ("GET", "/Users?startIndex=1&count=100", None, (200,))), None

    def put(t: Target):
        ids = t.ids()

        def build(i: int) -> Request:
            user = dict(t.users[ids[i % len(ids)]])
            user["title"] = f"Engineer {i}"  # a real change every time
            return "PUT", f"/Users/{user['id']}", user, (200,)

        return build, None

    def patch(t: Target):
        ids = t.ids()  # each user deactivated once: a real change every time
        # RFC 7644 §3.5.2: 200 with the resource, or 204 (the peer's choice).
        return (lambda i: ("PATCH", f"/Users/{t.users[ids[i % len(ids)]]['id']}", deactivate,
                           (200, 204))), None

    return [
        ("POST /Users (create, Okta body)", n, create),
        ("GET /Users/{id}", 4 * n, get),
        ('GET /Users?filter=userName eq "…"', 4 * n, by_name),
        ("GET /Users?startIndex=1&count=100", max(50, n // 5), page),
        ("PUT /Users/{id} (profile update)", 2 * n, put),
        ("PATCH /Users/{id} active=false", n, patch),
    ]


def _table(rows: list[tuple[str, Result, Result]], args: argparse.Namespace) -> str:
    head = (f"{'scenario':36} {'ours req/s':>10} {'peer req/s':>10} {'ratio':>6} "
            f"{'ours p50/p99 ms':>16} {'peer p50/p99 ms':>16} {'backend/req':>11}")
    lines = [head, "-" * len(head)]
    for name, ours, peer in rows:
        ratio = ours.rate / peer.rate if peer.rate else float("inf")
        per = (f"{ours.backend_calls / ours.requests:.2f}"
               if ours.backend_calls is not None and ours.requests else "-")
        lines.append(
            f"{name:36} {ours.rate:10.0f} {peer.rate:10.0f} {ratio:5.2f}x "
            f"{ours.percentile(0.5):7.1f}/{ours.percentile(0.99):<8.1f} "
            f"{peer.percentile(0.5):7.1f}/{peer.percentile(0.99):<8.1f} {per:>11}"
        )
    lines.append("")
    lines.append(f"{args.concurrency} requests in flight; each scenario {args.rounds} turns each, "
                 f"capped at {args.time_cap:g} s per server; ratio = ours / peer (above 1: ours "
                 f"is faster). Load average at start: {args.load_at_start}.")
    lines.append("Ours: gateway (1 process, aiohttp) -> sandbox (own process, SQLite) over HTTP, "
                 "+ Redis; backend/req = internal API calls per SCIM request.")
    lines.append("Peer: scim2-server ASGI app under uvicorn (1 process, httptools), in-memory "
                 "storage: no backend calls at all. Same machine, same asyncio loop, bearer auth.")
    for name, ours, peer in rows:
        for who, r in (("ours", ours), ("peer", peer)):
            if r.errors:
                lines.append(f"!! {who} {name}: {r.errors}/{r.requests} unexpected answers, "
                             f"e.g. {r.error_sample}")
    return "\n".join(lines)


async def _bench(args: argparse.Namespace) -> int:
    args.load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}"
    module = "bench.bench_vs_peer"
    children: list[Child] = []
    try:
        sandbox_port, gateway_port, peer_port = free_port(), free_port(), free_port()
        sandbox = await _start("sandbox", "-m", "sandbox", "--db", ":memory:", "--port",
                               str(sandbox_port), "--token", SANDBOX_TOKEN, "--rate-limit", "0",
                               "--org", "Bench Org")
        children.append(sandbox)
        org_id = int(sandbox.first_line.rsplit("id=", 1)[1])
        assert sandbox.proc.stdout is not None
        await asyncio.wait_for(sandbox.proc.stdout.readline(), STARTUP_TIMEOUT_S)  # listening
        backend = f"http://127.0.0.1:{sandbox_port}"
        gateway_argv = ["-m", module, "serve-gateway", "--port", str(gateway_port),
                        "--backend", backend, "--org", str(org_id), "--prefix", prefix]
        if args.profile:
            gateway_argv = ["-m", "cProfile", "-o", args.profile, *gateway_argv]
        gateway = await _start("gateway", *gateway_argv)
        children.append(gateway)
        peer = await _start("peer", "-m", module, "serve-peer", "--port", str(peer_port))
        children.append(peer)

        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            sandbox_auth = {"Authorization": f"Token {SANDBOX_TOKEN}"}

            async def backend_calls() -> int:
                async with session.get(f"{backend}/_sandbox/requests",
                                       headers=sandbox_auth) as resp:
                    body = await resp.json()
                async with session.delete(f"{backend}/_sandbox/requests", headers=sandbox_auth):
                    pass
                return len(body["requests"])

            ours = Target("ours", f"http://127.0.0.1:{gateway_port}/scim/v2",
                          json.loads(gateway.first_line)["token"], backend_calls)
            theirs = Target("peer", f"http://127.0.0.1:{peer_port}/v2",
                            json.loads(peer.first_line)["token"])
            # Warm both up (connections, first-use caches, the gateway's auth cache).
            for t in (ours, theirs):
                await _drive(session, t.base, t.token,
                             lambda i: ("GET", "/Users?startIndex=1&count=1", None, (200,)),
                             range(100), args.concurrency, args.time_cap)
            await backend_calls()

            rows = []
            for name, count, make in scenarios(args, run):
                totals = {ours.name: Result(), theirs.name: Result()}
                builds = {t.name: make(t) for t in (ours, theirs)}
                # Short rounds taking turns, so a burst of other load on the machine
                # hits both servers alike.
                bounds = [count * k // args.rounds for k in range(args.rounds + 1)]
                for lo, hi in itertools.pairwise(bounds):
                    for t in (ours, theirs):
                        build, keep = builds[t.name]
                        r = await _drive(session, t.base, t.token, build, range(lo, hi),
                                         args.concurrency, args.time_cap / args.rounds, keep)
                        if t.backend_calls is not None:
                            r.backend_calls = await t.backend_calls()
                        totals[t.name].add(r)
                a, b = totals[ours.name], totals[theirs.name]
                rows.append((name, a, b))
                print(f"  {name}: ours {a.rate:.0f} req/s, peer {b.rate:.0f} req/s",
                      file=sys.stderr, flush=True)
        print(_table(rows, args), flush=True)
        failed = any(r.errors for _, a, b in rows for r in (a, b))
        return 1 if failed else 0
    finally:
        for child in reversed(children):
            await child.stop()
        await drop_prefix(prefix)
        if args.profile and os.path.exists(args.profile):
            import pstats

            print(f"\ngateway profile ({args.profile}), top 30 by own time:")
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_vs_peer",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role")
    gw = sub.add_parser("serve-gateway")
    gw.add_argument("--port", type=int, required=True)
    gw.add_argument("--backend", required=True)
    gw.add_argument("--org", type=int, required=True)
    gw.add_argument("--prefix", required=True)
    peer = sub.add_parser("serve-peer")
    peer.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=1000, help="users created per server")
    parser.add_argument("--concurrency", type=int, default=24, help="requests in flight")
    parser.add_argument("--time-cap", type=float, default=12.0,
                        help="seconds at most per scenario and server")
    parser.add_argument("--rounds", type=int, default=4,
                        help="turns each server takes per scenario")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the gateway into FILE")
    args = parser.parse_args(argv)
    if args.role == "serve-gateway":
        asyncio.run(_serve_gateway(args))
        return 0
    if args.role == "serve-peer":
        asyncio.run(_serve_peer(args))
        return 0
    try:
        import scim2_server  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(f"bench_vs_peer needs the bench extra ({exc.name} is missing): "
              "pip install -e '.[test,bench]'", file=sys.stderr)
        return 2
    print(__doc__.split("\n\n")[0], file=sys.stderr)
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    sys.exit(main())
