"""Speed of the requests an IdP makes most, against the floor, in one run (issue 12).

    python -m bench speed [--people 1000,100000] [--duration 10] [--connections 32]
                          [--threads 2] [--python-load] [--profile DIR]
                          [--rounds 4] [--no-import] [--workers N] [--keep-logs]

For each org size: a fresh sandbox (own process, SQLite in memory, rate limit
off) seeded through its admin bulk API, the gateway (`python -m gateway`
started as production starts it: WS_* environment, an SQLite state database
holding a Basic credential, Redis at 127.0.0.1:6379 in database 14, emptied
before and after) and the floor (`bench/speed_floor.py`: one Redis
HGET, one pooled backend GET, a hand-built ListResponse; own process). The
index is built once (`externalId eq` lookups until one is answered) before anything is timed.

Then, each for `--duration` seconds in all with `--connections` connections,
measured in `--rounds` slices with the scenarios taking turns (so a drift in
the machine's speed over the minutes of a run hits them all alike; p50 and p99
are the median of the slices'):
the lookup Okta makes before every create (distinct existing userNames) on the
gateway and on the floor, PUT (profile update, a real change every time),
PATCH `active` (alternating false/true), POST (a new person every time); the
gateway's RSS after the load; Okta's full import (pages of 100) timed.

The load generator is wrk (Debian package `wrk`, installed with apt-get when
missing and allowed) with a Lua script cycling through a request file; without
wrk, a Python aiohttp load generator (slower: it competes for the CPU). The
table names the one used. Figures are this machine's, with whatever else runs
on it (the load average is printed); nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bench.children import (
    Child,
    flush_redis,
    issue_credential,
    redis_db_url,
    start_child,
    start_gateway,
    wait_ready,
)
from bench.harness import PATCH_OP, SANDBOX_TOKEN, SCIM_JSON, free_port

SEED_BATCH = 2_000
SAMPLE = 2_000  # people PUT and PATCH cycle through (spread over the whole org)
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
BASE = "/scim/v2"
# The Redis database the bench's gateway and floor use (emptied before and after a size).
BENCH_REDIS_DB = 14
GATEWAY_PREFIX = "wsg"  # RedisIdStore's default: the gateway runs as in production

# One request per line of the request file: METHOD \t PATH [\t BODY]; "{n}" in a body
# becomes a number unique to the request (so every POST creates a new person).
LUA = r"""
local lines = {}
for line in io.lines(%(file)s) do lines[#lines + 1] = line end
local count = 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
end
function init(args)
  n = tid + %(offset)d
  headers = {Authorization = %(auth)s, Accept = "application/scim+json",
             ["Content-Type"] = "application/scim+json"}
end
function request()
  local line = lines[(n %% #lines) + 1]
  local method, path, body = line:match("^(%%u+)\t([^\t]*)\t?(.*)$")
  if body == "" then body = nil else body = (body:gsub("{n}", tostring(n))) end
  n = n + %(threads)d
  return wrk.format(method, path, headers, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bad_status": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# ------------------------------------------------------------------ child processes


def _serve_floor(args: argparse.Namespace) -> None:
    """A floor on args.port, on uvloop as every gateway process; announces itself when up."""
    from aiohttp import web

    from bench.speed_floor import build_floor, build_lean_floor
    from gateway.eventloop import new_event_loop

    index_key = f"{GATEWAY_PREFIX}:{{org:{args.org}}}:idx:users"
    build = build_lean_floor if args.lean else build_floor
    loop = new_event_loop()
    asyncio.set_event_loop(loop)

    async def run() -> None:
        app = build(backend=args.backend, token=SANDBOX_TOKEN, redis_url=args.redis_url,
                    index_key=index_key, org_id=args.org)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
        print(json.dumps({"loop": type(loop).__module__}), flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    loop.run_until_complete(run())
    loop.close()


# ------------------------------------------------------------------ the load


@dataclass
class Load:
    """One measured scenario."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float = 0.0  # user + system
    user_ms_per_request: float = 0.0  # the Python side; system time is mostly loopback TCP
    sandbox_ms_per_request: float = 0.0  # the backend's CPU for it (same machine, same cores)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Loader:
    """wrk when available, else a Python load generator; same request file either way."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.wrk = None if args.python_load else _find_wrk()
        self.name = (f"wrk ({args.threads} threads, Lua request file)" if self.wrk
                     else "Python aiohttp load generator (wrk unavailable)")

    async def run(self, base: str, auth: str, lines: list[str], seconds: float,
                  offset: int = 0) -> Load:
        """`lines` cycled from line `offset` on, for `seconds`."""
        if self.wrk:
            return await self._wrk(base, auth, lines, seconds, offset)
        return await _python_load(base, auth, lines, seconds, self.args.connections, offset)

    async def _wrk(self, base: str, auth: str, lines: list[str], seconds: float,
                   offset: int) -> Load:
        requests = self.workdir / f"requests-{uuid.uuid4().hex[:8]}.txt"
        requests.write_text("\n".join(lines) + "\n")
        script = self.workdir / "load.lua"
        script.write_text(LUA % {"file": json.dumps(str(requests)), "auth": json.dumps(auth),
                                 "threads": self.args.threads, "offset": offset})
        proc = await asyncio.create_subprocess_exec(
            self.wrk, f"-t{self.args.threads}", f"-c{self.args.connections}",
            f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), base,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        requests.unlink()
        text = out.decode()
        summary = next((json.loads(line) for line in text.splitlines()
                        if line.startswith('{"requests"')), None)
        if proc.returncode != 0 or summary is None:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-1000:]} {err.decode()}")
        return Load(summary["requests"], summary["duration_us"] / 1e6,
                    summary["bad_status"] + summary["socket_errors"],
                    summary["p50_us"] / 1000, summary["p99_us"] / 1000)


def _find_wrk() -> str | None:
    found = shutil.which("wrk")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        print("wrk missing: apt-get install -y wrk", file=sys.stderr, flush=True)
        subprocess.call(["apt-get", "install", "-y", "-q", "wrk"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = shutil.which("wrk")
    return found


async def _python_load(base: str, auth: str, lines: list[str], seconds: float,
                       connections: int, offset: int = 0) -> Load:
    headers = {"Authorization": auth, "Accept": SCIM_JSON, "Content-Type": SCIM_JSON}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(offset, 10**12))
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as s:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                n = next(counter)
                method, path, *rest = lines[n % len(lines)].split("\t")
                body = rest[0].replace("{n}", str(n)).encode() if rest else None
                t0 = time.perf_counter()
                async with s.request(method, base + path, data=body, headers=headers) as resp:
                    await resp.read()
                    errors += resp.status >= 400
                latencies.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return Load(len(latencies), elapsed, errors, pick(0.5), pick(0.99))


# ------------------------------------------------------------------ one org size


def _employee(i: int) -> dict:
    return {"email": f"person{i}@speed.example", "first_name": "Person", "last_name": str(i),
            "title": "Staff", "sso_id": f"00u{i:08d}"}


def _okta_post_template(run: str) -> str:
    """Okta's create body (shared/idp-wire-shapes.md), "{n}" making each one new."""
    email = f"new.{run}.{{n}}@okta.local"
    return json.dumps({
        "schemas": [USER_SCHEMA], "userName": email,
        "name": {"givenName": "New{n}", "familyName": "Person"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "New{n} Person", "locale": "en-US", "externalId": f"00n{run}{{n}}",
        "groups": [], "password": "1mz050nq", "active": True,
    })


@dataclass
class SizeResult:
    people: int
    loads: dict[str, Load]
    rss_idle_mb: float
    rss_after_mb: float
    seed_s: float
    index_s: float
    import_s: float
    loop: str
    profile: str | None = None
    import_cpu: str = ""  # gateway and sandbox CPU per page of the import


async def _one_size(args: argparse.Namespace, people: int, loader: Loader,
                    workdir: Path) -> SizeResult:
    run = uuid.uuid4().hex[:8]
    # The gateway keeps its production key prefix, so the bench has a Redis database of
    # its own (emptied before and after): a fresh sandbox reuses org ids.
    redis_url = redis_db_url(BENCH_REDIS_DB)
    await flush_redis(redis_url)
    module = "bench.bench_speed"
    children: list[Child] = []
    try:
        sandbox_port = free_port()
        sandbox = start_child("sandbox", ["-m", "sandbox", "--db", ":memory:", "--port",
                                     str(sandbox_port), "--token", SANDBOX_TOKEN,
                                     "--rate-limit", "0", "--org", "Speed Org"], lines=2)
        children.append(sandbox)
        org = int(sandbox.announce["line"][0].rsplit("id=", 1)[1])
        backend = f"http://127.0.0.1:{sandbox_port}"
        gateway_port, floor_port = free_port(), free_port()
        state_url = f"sqlite:///{workdir / f'state-{run}.db'}"
        auth = await issue_credential(state_url, org)
        gateway = start_gateway(gateway_port, backend, state_url, redis_url, workdir,
                                workers=args.workers,
                                env=dict(kv.split("=", 1) for kv in args.gateway_env))
        children.append(gateway)
        floor_args = ["-m", module, "serve-floor", "--backend", backend, "--org", str(org),
                      "--redis-url", redis_url]
        floor = start_child("floor", [*floor_args, "--port", str(floor_port)])
        children.append(floor)
        lean_port = free_port()
        lean = start_child("lean-floor", [*floor_args, "--lean", "--port", str(lean_port)])
        children.append(lean)
        lean_base = f"http://127.0.0.1:{lean_port}"
        gw_base = f"http://127.0.0.1:{gateway_port}"
        floor_base = f"http://127.0.0.1:{floor_port}"
        headers = {"Authorization": auth, "Accept": SCIM_JSON}
        sandbox_headers = {"Authorization": f"Token {SANDBOX_TOKEN}"}

        async with aiohttp.ClientSession() as session:
            async def scim(path: str) -> dict:
                async with session.get(gw_base + BASE + path, headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status != 200:
                        raise RuntimeError(f"GET {path}: {resp.status} {body}")
                    return body

            await wait_ready(session, gw_base, gateway)

            started = time.perf_counter()
            ids: list[int] = []
            for first in range(0, people, SEED_BATCH):
                rows = [_employee(i) for i in range(first, min(people, first + SEED_BATCH))]
                async with session.post(f"{backend}/_sandbox/orgs/{org}/employees/bulk",
                                        json={"employees": rows},
                                        headers=sandbox_headers) as resp:
                    if resp.status != 201:
                        raise RuntimeError(f"seeding: {resp.status} {await resp.text()}")
                    ids += (await resp.json())["ids"]
            seed_s = time.perf_counter() - started
            print(f"  {people:,} people seeded in {seed_s:.1f} s", file=sys.stderr, flush=True)

            started = time.perf_counter()
            # externalId is not searchable in the backend: the org's first request starts
            # building the whole index in the background; such a lookup answers 503 until then.
            while True:
                async with session.get(gw_base + BASE + "/Users?filter=" + quote(
                        'externalId eq "00u00000000"'), headers=headers) as resp:
                    if resp.status == 200:
                        break
                    if resp.status != 503:
                        raise RuntimeError(f"index lookup: {resp.status} {await resp.text()}")
                await asyncio.sleep(0.25)
            index_s = time.perf_counter() - started
            rss_idle = gateway.rss_mb()

            picks = random.Random(people)
            order = list(range(people))
            picks.shuffle(order)
            lookups = [f"GET\t{BASE}/Users?filter="
                       + quote(f'userName eq "person{i}@speed.example"', safe="")
                       for i in order]
            sample = sorted(picks.sample(range(people), min(SAMPLE, people)))
            resources = [await scim(f"/Users/{ids[i]}") for i in sample]
            for resource in resources:
                resource.pop("meta", None)
            puts = [f"PUT\t{BASE}/Users/{r['id']}\t" + json.dumps({**r, "title": title})
                    for title in ("Speed A", "Speed B") for r in resources]
            patches = [f"PATCH\t{BASE}/Users/{r['id']}\t" + json.dumps(
                {"schemas": [PATCH_OP],
                 "Operations": [{"op": "replace", "value": {"active": active}}]})
                for active in (False, True) for r in resources]
            def posts(round_number: int) -> list[str]:
                return [f"POST\t{BASE}/Users\t" + _okta_post_template(f"{run}r{round_number}")]

            warm = min(3.0, args.duration)
            await loader.run(gw_base, auth, lookups, warm)
            await loader.run(floor_base, auth, lookups, warm)
            await loader.run(lean_base, auth, lookups, warm)

            scenarios = [(name, server, lines) for name, server, lines in (
                ("lookup", gateway, lookups), ("floor", floor, lookups),
                ("lean floor", lean, lookups), ("PUT", gateway, puts),
                ("PATCH active", gateway, patches), ("POST", gateway, None))
                if not args.only or name.split()[0] in args.only]
            # Interleaved rounds: this machine's speed drifts by tens of percent over minutes
            # (other tenants), which would skew ratios between scenarios measured one after
            # another. Each scenario runs `--rounds` slices of the duration, in turn.
            slices: dict[str, list[Load]] = {name: [] for name, _, _ in scenarios}
            cpu: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name, _, _ in scenarios}
            for round_number in range(args.rounds):
                for name, server, lines in scenarios:
                    base = (floor_base if server is floor else lean_base if server is lean
                            else gw_base)
                    # Each slice goes on where the last stopped (PUT and PATCH keep making a
                    # real change), a little further on so two threads' ends can't overlap.
                    offset = sum(done.requests for done in slices[name]) + 256 * round_number
                    cpu_before, sandbox_before = server.cpu_s(), sandbox.cpu_s()
                    load = await loader.run(base, auth, posts(round_number) if lines is None
                                            else lines, args.duration / args.rounds, offset)
                    user, system = (b - a for a, b in zip(cpu_before, server.cpu_s(),
                                                          strict=True))
                    cpu[name][0] += user
                    cpu[name][1] += system
                    cpu[name][2] += sum(sandbox.cpu_s()) - sum(sandbox_before)
                    slices[name].append(load)
            loads: dict[str, Load] = {}
            for name, done in slices.items():
                loads[name] = load = Load(
                    sum(d.requests for d in done), sum(d.seconds for d in done),
                    sum(d.errors for d in done), statistics.median(d.p50_ms for d in done),
                    statistics.median(d.p99_ms for d in done))
                if load.requests:
                    user, system, backend = cpu[name]
                    load.cpu_ms_per_request = (user + system) * 1000 / load.requests
                    load.user_ms_per_request = user * 1000 / load.requests
                    load.sandbox_ms_per_request = backend * 1000 / load.requests
                rates = ", ".join(f"{d.rate:,.0f}" for d in done)
                print(f"  {people:,} {name}: {load.rate:,.0f} r/s (rounds: {rates})",
                      file=sys.stderr, flush=True)
            rss_after = gateway.rss_mb()
            profile = None
            if args.profile:
                profiled = {"lookup": lookups, "PUT": puts, "PATCH": patches,
                            "POST": posts(args.rounds)}
                profile = await _profile(args, gateway, loader, gw_base, auth,
                                         profiled[args.profile_of], people)

            started = time.perf_counter()
            cpu_at_start = sum(gateway.cpu_s()), sum(sandbox.cpu_s())
            seen, start_index = 0, 1
            while not args.no_import:
                body = await scim(f"/Users?startIndex={start_index}&count=100")
                seen += len(body["Resources"])
                start_index += 100
                if start_index > body["totalResults"]:
                    break
            import_s = time.perf_counter() - started
            pages = max(1, (seen + 99) // 100)
            gateway_ms = (sum(gateway.cpu_s()) - cpu_at_start[0]) * 1000 / pages
            sandbox_ms = (sum(sandbox.cpu_s()) - cpu_at_start[1]) * 1000 / pages
            import_cpu = f"CPU per page: gateway {gateway_ms:.1f} ms, sandbox {sandbox_ms:.1f} ms"
            if seen < people and not args.no_import:
                raise RuntimeError(f"the import saw {seen} of {people} people")
        loop = ("uvloop (gateway.web.serve)" if args.workers == 1
                else f"uvloop, {args.workers} pre-forked workers")
        return SizeResult(people, loads, rss_idle, rss_after, seed_s, index_s, import_s,
                          loop, profile, import_cpu)
    finally:
        for child in reversed(children):
            child.stop(args.keep_logs)
        await flush_redis(redis_url)


async def _profile(args: argparse.Namespace, gateway: Child, loader: Loader, base: str,
                   auth: str, lookups: list[str], people: int) -> str:
    """The lookup load once more (not measured), with py-spy recording the gateway."""
    from bench.speed_profile import summarise

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(args.profile) / f"{args.profile_of.lower()}-{people}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(gateway.proc.pid), "--format", "raw", "--rate", "250",
        # --gil: only samples that hold the GIL, i.e. Python running, not the process
        # waiting for a CPU on a busy machine (which lands on the last syscall's line).
        "--gil", "--nonblocking", "--duration", f"{max(1, int(args.duration))}",
        "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    await loader.run(base, auth, lookups, args.duration + 1)
    _, err = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return f"py-spy failed ({proc.returncode}): {err.decode()[-500:]}"
    return summarise(out)


# ------------------------------------------------------------------ the table


def _table(args: argparse.Namespace, results: list[SizeResult], loader: Loader,
           load_at_start: str) -> str:
    head = (f"{'people':>8}  {'request':<13} {'r/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'errors':>6} {'cpu ms/req':>10} {'user ms/req':>11} {'sandbox ms/req':>14}  ratio")
    out = [head, "-" * (len(head) + 20)]
    for r in results:
        lookup, floor = r.loads["lookup"], r.loads["floor"]
        for name, load in r.loads.items():
            if name == "floor":
                ratio = ""
            elif name == "lean floor":
                ratio = (f"lookup at {lookup.rate / load.rate:.2f}x its rate, "
                         f"{lookup.cpu_ms_per_request / load.cpu_ms_per_request:.1f}x its cpu"
                         if load.rate and load.cpu_ms_per_request else "")
            elif name == "lookup":
                ratio = (f"{lookup.rate / floor.rate:.2f}x floor's rate, "
                         f"{lookup.cpu_ms_per_request / floor.cpu_ms_per_request:.1f}x its cpu, "
                         f"{lookup.user_ms_per_request / floor.user_ms_per_request:.1f}x its user"
                         if floor.rate and floor.user_ms_per_request else "")
            else:
                ratio = f"{load.rate / lookup.rate:.2f}x lookup" if lookup.rate else ""
            label = {"floor": "floor lookup", "lean floor": "lean floor"}.get(name, name)
            out.append(f"{r.people:>8,}  {label:<13} {load.rate:>7,.0f} {load.p50_ms:>7.1f} "
                       f"{load.p99_ms:>7.1f} {load.errors:>6} "
                       f"{load.cpu_ms_per_request:>10.2f} {load.user_ms_per_request:>11.2f} "
                       f"{load.sandbox_ms_per_request:>14.2f}  "
                       f"{ratio}")
        out.append(f"{r.people:>8,}  gateway RSS {r.rss_idle_mb:.0f} MB idle after the index "
                   f"build, {r.rss_after_mb:.0f} MB after the load; seeded in {r.seed_s:.1f} s, "
                   f"index built in {r.index_s:.1f} s; full import (pages of 100) "
                   f"{r.import_s:.1f} s ({r.import_cpu})")
    if len(results) > 1:
        small, large = results[0], results[-1]
        out.append("")
        out.append(f"{large.people:,} / {small.people:,} people:")
        for name in small.loads:
            a, b = small.loads[name].rate, large.loads[name].rate
            out.append(f"  {name:<13} rate {b / a if a else 0:.2f}x")
        out.append(f"  {'RSS':<13} {large.rss_after_mb / small.rss_after_mb:.2f}x "
                   f"({small.rss_after_mb:.0f} → {large.rss_after_mb:.0f} MB)")
    out.append("")
    out.append(f"Load: {loader.name}, {args.connections} connections, {args.duration:g} s each "
               f"in {args.rounds} interleaved rounds (p50, p99: median of the rounds'). "
               f"Event loop: {results[0].loop}. Load average at start: {load_at_start}.")
    out.append("cpu ms/req: CPU time (user + system) of the server process (gateway, or floor) "
               "per request, the figure least moved by other load on the machine; user ms/req: "
               "its user part (Python), system time being mostly the kernel's loopback TCP; "
               "sandbox ms/req: the backend's CPU per request, on the same two cores.")
    out.extend(f"\n{r.people:,} people, {args.profile_of} {r.profile}"
               for r in results if r.profile)
    out.append("Gateway: 1 process, Basic auth, Redis index, every request over HTTP to the "
               "sandbox (own process, SQLite in memory). Floor: bench/speed_floor.py (redis-py "
               "and aiohttp's client); lean floor: the same with the gateway's own Redis pipe "
               "and backend transport.")
    return "\n".join(out)


async def _bench(args: argparse.Namespace) -> int:
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        loader = Loader(args, Path(tmp))
        print(f"speed bench: {loader.name}", file=sys.stderr, flush=True)
        results = [await _one_size(args, people, loader, Path(tmp)) for people in args.people]
    print(_table(args, results, loader, load_at_start), flush=True)
    return 1 if any(load.errors for r in results for load in r.loads.values()) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench speed",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role")
    child = sub.add_parser("serve-floor")
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--backend", required=True)
    child.add_argument("--org", type=int, required=True)
    child.add_argument("--redis-url", required=True)
    child.add_argument("--lean", action="store_true",
                       help="use the gateway's own Redis pipe and backend transport")
    parser.add_argument("--people", default="1000,100000",
                        type=lambda text: [int(x) for x in text.split(",")],
                        help="org sizes, comma-separated (default 1000,100000)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per measured scenario (20 for figures to quote)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4,
                        help="slices each scenario's duration is measured in, scenarios taking "
                             "turns (default 4): drift in the machine's speed hits all alike")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1,
                        help="gateway worker processes (server.workers; CPU and RSS summed)")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even if wrk is installed")
    parser.add_argument("--no-import", action="store_true",
                        help="skip timing the full import (quicker runs)")
    parser.add_argument("--profile-of", choices=("lookup", "PUT", "PATCH", "POST"),
                        default="lookup", help="the scenario --profile records (default lookup)")
    parser.add_argument("--profile", metavar="DIR",
                        help="after the figures, record the gateway under the lookup load with "
                             "py-spy into DIR and print where the time goes")
    parser.add_argument("--only", type=lambda text: text.split(","), default=None,
                        help="measure only these scenarios, e.g. lookup,floor (quicker runs; "
                             "lookup and floor are always both kept for the ratio)")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="WS_KEY=VALUE",
                        help="extra configuration for the gateway (repeatable), e.g. "
                             "WS_LOG_LEVEL=warning to see what the access log costs")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the children's stderr logs (paths under /tmp)")
    args = parser.parse_args(argv)
    if getattr(args, "only", None):
        args.only = {"lookup", "floor", "lean", *args.only}
    if args.role == "serve-floor":
        _serve_floor(args)
        return 0
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    sys.exit(main())
