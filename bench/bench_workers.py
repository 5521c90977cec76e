"""Okta's lookup against the gateway with server.workers = 1 and = 2, side by side.

    python -m bench.bench_workers [--people 1000] [--seconds 5] [--rounds 3]
                                  [--connections 32] [--python-load]

Okta sends `GET /Users?filter=userName eq "..."` before every create and
update, so it is the request a big assignment hammers. Both gateways are real
`python -m gateway` processes, configured by environment variables as a
deployment is, in front of one sandbox (its own process, SQLite in memory,
rate limit off) and Redis at 127.0.0.1:6379 (database 11; the org's keys are
deleted afterwards). Each answer costs a Redis round trip and one backend read
(the cached id is re-checked against the record).

The load generator is `wrk` (installed by `make bench` from Debian's packages;
`--python-load`, or no wrk, uses an aiohttp client in this process instead),
asking for a random one of `--people` userNames each time, `--connections`
in flight. The two gateways take turns in short rounds so a burst of other load
hits both alike. Besides the request rate, the table shows the CPU seconds each
process group used per 1,000 requests, read from /proc: on a machine with few
cores, the load generator, the sandbox and the gateway's workers all share
them, and that is what limits the second worker's gain. "ceiling if idle"
turns those costs into the rate the machine would allow with nothing else
running (a worker uses at most one core; everything shares all of them), since
a busy machine (other builds, other tests) moves the measured rates a lot.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness import SANDBOX_TOKEN, Sandbox, free_port

GATEWAY_REDIS = "redis://127.0.0.1:6379/11"
ROOT = Path(__file__).resolve().parents[1]
STARTUP_STEPS = 600  # x 0.05 s
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SEED_BATCH = 2_000

WRK_SCRIPT = """
local people = tonumber(os.getenv("BENCH_PEOPLE"))
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.headers["Accept"] = "application/scim+json"
request = function()
  local i = math.random(0, people - 1)
  return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22person" .. i ..
                    "%40bench.example%22&startIndex=1&count=100")
end
"""


def user_name(i: int) -> str:
    return f"person{i}@bench.example"


def lookup_path(i: int) -> str:
    query = urllib.parse.quote(f'userName eq "{user_name(i)}"')
    return f"/scim/v2/Users?filter={query}&startIndex=1&count=100"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and its children still alive (the workers)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has spent busy (from /proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def own_and_waited_children_cpu() -> float:
    self_usage = os.times()
    return self_usage.user + self_usage.system + self_usage.children_user + \
        self_usage.children_system


@dataclass
class Round:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, other: Round) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        for name, value in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + value

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Gateway:
    workers: int
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_sandbox(log: Path) -> tuple[asyncio.subprocess.Process, int, str]:
    port = free_port()
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox", "--db", ":memory:", "--port", str(port),
            "--token", SANDBOX_TOKEN, "--rate-limit", "0", "--org", "Bench Org", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=err, stdin=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    first = (await proc.stdout.readline()).decode()
    listening = (await proc.stdout.readline()).decode()
    if "id=" not in first or "listening" not in listening:
        raise RuntimeError("sandbox did not start:\n" + log.read_text(errors="replace"))
    return proc, int(first.rsplit("id=", 1)[1]), f"http://127.0.0.1:{port}"


async def start_gateway(workers: int, backend: str, credentials: Path, tmp: Path,
                        session: aiohttp.ClientSession) -> Gateway:
    port = free_port()
    config = tmp / "empty.toml"
    config.write_text("")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WS_")},
           "WS_BACKEND_URL": backend, "WS_BACKEND_TOKEN": SANDBOX_TOKEN,
           "WS_REDIS_URL": GATEWAY_REDIS, "WS_AUTH_CREDENTIALS_FILE": str(credentials),
           "WS_SERVER_WORKERS": str(workers), "PORT": str(port)}
    log = tmp / f"gateway-{workers}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(config), cwd=ROOT, env=env,
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
    gateway = Gateway(workers, proc, port, log)
    for _ in range(STARTUP_STEPS):
        if proc.returncode is not None:
            break
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(gateway.url + "/readyz") as resp:
                if resp.status == 200:
                    return gateway
        await asyncio.sleep(0.05)
    raise RuntimeError(f"gateway ({workers} workers) not ready:\n"
                       + log.read_text(errors="replace"))


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def load_with_wrk(url: str, auth: str, args: argparse.Namespace, script: Path) -> Round:
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s",
        "-s", str(script), url,
        env={**os.environ, "BENCH_PEOPLE": str(args.people), "BENCH_AUTH": auth},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if proc.returncode != 0 or done is None:
        raise RuntimeError("wrk failed:\n" + out)
    seconds = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    return Round(int(done.group(1)), failed, seconds)


async def load_with_python(url: str, auth: str, args: argparse.Namespace) -> Round:
    result = Round()
    headers = {"Authorization": auth, "Accept": "application/scim+json"}
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        deadline = start + args.seconds

        async def one_connection() -> None:
            while time.perf_counter() < deadline:
                path = lookup_path(random.randrange(args.people))
                async with session.get(url + path, headers=headers) as resp:
                    await resp.read()
                    result.requests += 1
                    result.errors += resp.status != 200

        await asyncio.gather(*(one_connection() for _ in range(args.connections)))
        result.seconds = time.perf_counter() - start
    return result


async def bench(args: argparse.Namespace) -> int:
    use_wrk = not args.python_load and shutil.which("wrk") is not None
    generator = "wrk" if use_wrk else "aiohttp client in this process"
    print(f"load generator: {generator}; {os.cpu_count()} cores; load average at start "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()), file=sys.stderr, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    procs: list[asyncio.subprocess.Process] = []
    org = None
    try:
        sandbox_proc, org, backend = await start_sandbox(tmp / "sandbox.log")
        procs.append(sandbox_proc)
        from gateway.auth import CredentialStore

        credentials = tmp / "credentials.json"
        issued = CredentialStore(credentials).issue_basic(org, label="bench")
        auth = "Basic " + base64.b64encode(
            f"{issued.username}:{issued.password}".encode()).decode()
        async with aiohttp.ClientSession() as session:
            sandbox = Sandbox(session, backend)
            for first in range(0, args.people, SEED_BATCH):
                rows = [{"email": user_name(i), "first_name": "Person", "last_name": str(i)}
                        for i in range(first, min(args.people, first + SEED_BATCH))]
                await sandbox.call("POST", f"/_sandbox/orgs/{org}/employees/bulk",
                                   {"employees": rows})
            gateways = []
            for workers in (1, 2):
                gateway = await start_gateway(workers, backend, credentials, tmp, session)
                procs.append(gateway.proc)
                gateways.append(gateway)
            # Warm-up: every userName looked up once (the Redis index learns it), and every
            # worker has checked the password once (scrypt, then its own cache).
            for gateway in gateways:
                for i in range(args.people):
                    async with session.get(gateway.url + lookup_path(i),
                                           headers={"Authorization": auth}) as resp:
                        body = await resp.json(content_type=None)
                        if resp.status != 200 or body.get("totalResults") != 1:
                            raise RuntimeError(f"warm-up lookup {i}: {resp.status} {body}")
            await sandbox.clear()

        script = tmp / "lookup.lua"
        script.write_text(WRK_SCRIPT)
        totals = {g.workers: Round() for g in gateways}
        for _ in range(args.rounds):
            for gateway in gateways:
                before = {"gateway": cpu_seconds(gateway.proc.pid),
                          "sandbox": cpu_seconds(sandbox_proc.pid),
                          "load generator": own_and_waited_children_cpu(),
                          "machine": machine_busy_seconds()}
                if use_wrk:
                    result = await load_with_wrk(gateway.url, auth, args, script)
                else:
                    result = await load_with_python(gateway.url, auth, args)
                after = {"gateway": cpu_seconds(gateway.proc.pid),
                         "sandbox": cpu_seconds(sandbox_proc.pid),
                         "load generator": own_and_waited_children_cpu(),
                         "machine": machine_busy_seconds()}
                result.cpu = {k: after[k] - before[k] for k in before}
                totals[gateway.workers].add(result)
                print(f"  workers={gateway.workers}: {result.rate:.0f} req/s",
                      file=sys.stderr, flush=True)
        print(table(totals, args, generator))
        return 1 if any(r.errors for r in totals.values()) else 0
    finally:
        for proc in reversed(procs):
            await stop(proc)
        if org is not None:
            from gateway.idstore import RedisIdStore

            store = RedisIdStore(GATEWAY_REDIS)
            with contextlib.suppress(Exception):
                await store.clear_org(org)
            await store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def table(totals: dict[int, Round], args: argparse.Namespace, generator: str) -> str:
    base = totals[1].rate or 1.0
    lines = [
        f"Okta lookup (GET /Users?filter=userName eq ...), {args.people} people, "
        f"{args.connections} connections, {args.rounds} x {args.seconds:g} s per setting, "
        f"load: {generator}",
        "",
        "| workers | req/s | vs 1 worker | errors | CPU ms per req: gateway | sandbox "
        "| load generator | cores busy: these | whole machine | ceiling if idle |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workers, r in sorted(totals.items()):
        per_req = {k: 1000 * v / r.requests if r.requests else 0.0 for k, v in r.cpu.items()}
        ours = sum(v for k, v in r.cpu.items() if k != "machine")
        lines.append(
            f"| {workers} | {r.rate:.0f} | {r.rate / base:.2f}x | {r.errors} "
            f"| {per_req['gateway']:.2f} | {per_req['sandbox']:.2f} "
            f"| {per_req['load generator']:.2f} | {ours / r.seconds:.2f} "
            f"| {r.cpu['machine'] / r.seconds:.2f} of {os.cpu_count()} "
            f"| {ceiling(workers, per_req):.0f} |")
    lines.append("")
    lines.append("'these': the gateway's processes, the sandbox and the load generator; "
                 "'whole machine': every process, other work on the machine included. "
                 "'ceiling if idle': req/s these CPU costs allow on this machine with nothing "
                 "else running: each worker is at most one core, and all of these share the "
                 "cores (Redis's own CPU is not counted).")
    return "\n".join(lines)


def ceiling(workers: int, per_req_ms: dict[str, float]) -> float:
    """Requests/s the measured CPU costs allow with the machine to themselves."""
    gateway = per_req_ms["gateway"]
    total = gateway + per_req_ms["sandbox"] + per_req_ms["load generator"]
    if not gateway or not total:
        return 0.0
    cores = os.cpu_count() or 1
    return 1000 * min(min(workers, cores) / gateway, cores / total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_workers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="turns each setting takes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--python-load", action="store_true",
                        help="drive the load from this process instead of wrk")
    args = parser.parse_args(argv)
    print(__doc__.split("\n\n")[0], file=sys.stderr)
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
