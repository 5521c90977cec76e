"""Client-side CPU of one backend GET: aiohttp's client session vs the gateway's transport.

    python -m bench backend_client [--duration 3] [--concurrency 1,10] [--no-uvloop]

Starts a sandbox (own process, SQLite in memory, rate limit off) with one
employee, then, in this one process on uvloop, GETs that employee for
`--duration` seconds per cell with N requests in flight, three ways:

- aiohttp: a plain pooled `aiohttp.ClientSession` GET, body read (not parsed);
- transport: `gateway/backend/transport.py` alone, the same GET, body read;
- BackendClient: `BackendClient.get_employee` (transport + retry rules, stats,
  metrics, JSON parsing): what a SCIM lookup pays for its backend hop.

- socket floor: the same request bytes written on a bare asyncio Protocol that
  only waits for Content-Length bytes (no pool, no parsing, no timer): what
  the event loop and the loopback socket cost, below which no client can go.

Printed: this process's CPU µs per GET (user + system, and user alone, from
getrusage: it holds up on a busy machine) and GETs per second. The sandbox's
own CPU is in its process and not counted. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench.harness import SANDBOX_TOKEN, free_port
from gateway.backend.client import CONNECT_TIMEOUT_S, BackendClient
from gateway.backend.transport import HttpTransport
from gateway.eventloop import new_event_loop

STARTUP_TIMEOUT_S = 30.0
WARM_UP = 300  # GETs before each cell is measured (pool filled, caches warm)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench backend_client")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--concurrency", default="1,10", help="requests in flight, comma list")
    parser.add_argument("--no-uvloop", action="store_true", help="asyncio's own loop")
    return parser.parse_args(argv)


def _start_sandbox(port: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--db", ":memory:", "--port", str(port),
         "--token", SANDBOX_TOKEN, "--rate-limit", "0", "--org", "Bench Org"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    org_line, listening = proc.stdout.readline(), proc.stdout.readline()
    if "id=" not in org_line or "listening" not in listening:
        proc.kill()
        raise RuntimeError("the sandbox did not start")
    return proc, int(org_line.strip().rsplit("id=", 1)[1])


async def _cell(get: Callable[[], Awaitable[object]], in_flight: int,
                seconds: float) -> tuple[float, float, float]:
    """(CPU µs per GET, of which user, GETs per second) with `in_flight` workers."""
    for _ in range(WARM_UP // in_flight):
        await asyncio.gather(*(get() for _ in range(in_flight)))
    count = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await get()
            count += 1

    t0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    t1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    user, system = t1.ru_utime - t0.ru_utime, t1.ru_stime - t0.ru_stime
    return (user + system) / count * 1e6, user / count * 1e6, count / wall


class _BareGet(asyncio.Protocol):
    """The socket floor: one fixed request, done when Content-Length body bytes are in."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[bytes] | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        if len(body) >= length and self.waiter is not None:
            self.waiter.set_result(body)
            self.buffer, self.waiter = b"", None


async def _bare_pool(backend: str, request: bytes, size: int) -> Callable[[], Awaitable[object]]:
    loop = asyncio.get_running_loop()
    host, port = backend.rsplit("/", 1)[1].rsplit(":", 1)
    idle: list[_BareGet] = []
    for _ in range(size):
        _, protocol = await loop.create_connection(_BareGet, host, int(port))
        idle.append(protocol)

    async def get() -> object:
        protocol = idle.pop()
        protocol.waiter = loop.create_future()
        assert protocol.transport is not None
        protocol.transport.write(request)
        try:
            return await protocol.waiter
        finally:
            idle.append(protocol)

    return get


async def _run(args: argparse.Namespace, backend: str, org: int, employee: int,
               levels: list[int]) -> list[tuple[str, int, float, float, float]]:
    headers = {"Authorization": f"Token {SANDBOX_TOKEN}", "Accept": "application/json"}
    path = f"/internal/v1/orgs/{org}/employees/{employee}"
    rows: list[tuple[str, int, float, float, float]] = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), headers=headers
    ) as session, BackendClient(backend, SANDBOX_TOKEN) as client:
        transport = HttpTransport(backend, headers, pool_size=100)

        async def via_aiohttp() -> object:
            async with session.get(backend + path) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"aiohttp GET: {resp.status}")
                return await resp.read()

        async def via_transport() -> object:
            resp = await transport.request("GET", path, timeout_s=10.0,
                                           connect_timeout_s=CONNECT_TIMEOUT_S)
            if resp.status != 200:
                raise RuntimeError(f"transport GET: {resp.status}")
            return resp.body

        async def via_client() -> object:
            return await client.get_employee(org, employee)

        host = backend.split("//", 1)[1]
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
        via_socket = await _bare_pool(backend, request, max(levels))
        try:
            for in_flight in levels:
                for name, get in (("aiohttp ClientSession", via_aiohttp),
                                  ("BackendClient.get_employee", via_client),
                                  ("transport alone", via_transport),
                                  ("socket floor", via_socket)):
                    cpu_us, user_us, rate = await _cell(get, in_flight, args.duration)
                    rows.append((name, in_flight, cpu_us, user_us, rate))
                    print(f"  {name:<28} {in_flight:>3} in flight  {cpu_us:6.1f} µs CPU/GET "
                          f"({user_us:.1f} user)  {rate:7.0f} GET/s", file=sys.stderr, flush=True)
        finally:
            await transport.close()
    return rows


async def _seed(backend: str, org: int) -> int:
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Token {SANDBOX_TOKEN}"}
    ) as session, session.post(
        f"{backend}/_sandbox/orgs/{org}/employees/bulk",
        json={"employees": [{"email": "ada@bench.example", "first_name": "Ada",
                             "last_name": "Lovelace", "title": "Analyst"}]},
    ) as resp:
        if resp.status != 201:
            raise RuntimeError(f"seeding: {resp.status} {await resp.text()}")
        return int((await resp.json())["ids"][0])


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    port = free_port()
    sandbox, org = _start_sandbox(port)
    backend = f"http://127.0.0.1:{port}"
    loop = new_event_loop(prefer_uvloop=not args.no_uvloop)
    try:
        employee = loop.run_until_complete(_seed(backend, org))
        rows = loop.run_until_complete(_run(args, backend, org, employee, levels))
    finally:
        loop.close()
        sandbox.terminate()
        sandbox.wait(10)
    loop_name = type(loop).__module__.split(".")[0]
    print(f"\nbackend GET of one employee: client CPU µs per GET, user + system (user), "
          f"GETs/s\n({loop_name} loop, {args.duration:g} s per cell, "
          f"load average {os.getloadavg()[0]:.2f})")
    print(f"{'':<28}" + "".join(f"{f'{n} in flight':>30}" for n in levels))
    for name in dict.fromkeys(r[0] for r in rows):
        cells = {n: (cpu, user, rate) for r, n, cpu, user, rate in rows if r == name}
        print(f"{name:<28}" + "".join(
            f"{f'{cells[n][0]:.1f} ({cells[n][1]:.1f}) {cells[n][2]:,.0f}/s':>30}"
            for n in levels))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
