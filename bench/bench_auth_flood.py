"""Logins under a brute-force flood: the real IdP's latency with and without 150 guesses/s.

    python -m bench.bench_auth_flood [--flood-rate 150] [--seconds 10] [--good-rate 1]
                                     [--attacked 3]

The gateway (with the embedded sandbox behind it) runs in a child process, as
in production, with the production scrypt cost and the default `[auth]`
settings (or `WS_AUTH_*` overrides from the environment); this process plays
the IdPs and the attacker over real sockets,
all from 127.0.0.1 (as behind a load balancer: no trusted proxy header, so
the guard cannot tell them apart by address). Each phase runs `--seconds`:

- good logins, uncached: each request uses a credential never seen before
  (an IdP whose cached login expired, or a new connection), `--good-rate` a second;
- good logins, cached: one credential already verified, 20 a second;
- the flood: `--flood-rate` requests a second, each a new wrong password,
  two thirds for the `--attacked` existing credentials of other orgs (each
  one's first guess is indistinguishable from a login and queues with them),
  one third for unknown usernames, sent without waiting for answers (open loop).

Latencies are wall-clock p50/p99 (ms) of `GET /ServiceProviderConfig`, an
authenticated route that makes no backend call once the org's flags are
cached, printed side by side, never asserted. The target (issue 10): uncached
p99 under 500 ms during the flood, cached unaffected.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace

import aiohttp

from bench.harness import SANDBOX_TOKEN, Sandbox, free_port

ROUTE = "/ServiceProviderConfig"
CACHED_RATE = 20.0
STARTUP_TIMEOUT_S = 120.0


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


async def _serve(args: argparse.Namespace) -> None:
    """Child process: sandbox + gateway (production scrypt, default guard); prints credentials."""
    from aiohttp.test_utils import TestServer

    from gateway.auth import CredentialStore
    from gateway.auth.guard import AuthGuard, GuardSettings
    from gateway.config import load_config
    from gateway.idstore import MemoryIdStore
    from gateway.web.app import build_app
    from gateway.web.serve import start_site
    from sandbox.app import create_app

    sandbox = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await sandbox.start_server()
    sandbox_url = str(sandbox.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        org = (await Sandbox(session, sandbox_url).call("POST", "/_sandbox/orgs",
                                                        {"name": "Bench IdP Co"}))["id"]
    config = load_config(None)  # defaults, or WS_AUTH_* / WS_SERVER_* from the environment
    config = replace(config, backend=replace(config.backend, url=sandbox_url,
                                             token=SANDBOX_TOKEN))
    credentials = CredentialStore(None, cache_ttl_s=config.auth.success_cache_ttl_s,
                                  guard=AuthGuard(GuardSettings.from_config(config.auth)))
    good = [await credentials.issue_basic(org, label=f"idp-{i}") for i in range(args.credentials)]
    attacked = [await credentials.issue_basic(org + 1000 + i, label="attacked")
                for i in range(args.attacked)]
    app = build_app(config, credentials, id_store=MemoryIdStore())
    runner, site = await start_site(app, config, host="127.0.0.1", port=args.port)
    print(json.dumps({
        "url": f"http://127.0.0.1:{site.port}{config.server.base_path}",
        "good": [[c.username, c.password] for c in good],
        "attacked": [c.username for c in attacked],
    }), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    slots = credentials.guard.slots
    print(json.dumps({"ran": slots.ran, "refused": slots.refused}), flush=True)
    await runner.cleanup()
    await sandbox.close()


async def _timed_get(session: aiohttp.ClientSession, url: str, auth: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.get(url, headers={"Authorization": auth}) as resp:
        await resp.read()
        return resp.status, (time.perf_counter() - started) * 1000


async def _paced(rate: float, seconds: float, make) -> list:
    """Start `make(i)` `rate` times a second for `seconds` (open loop); all their results."""
    tasks = []
    started = time.perf_counter()
    i = 0
    while (due := i / rate) < seconds:
        delay = started + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(make(i)))
        i += 1
    return await asyncio.gather(*tasks, return_exceptions=True)


def _percentiles(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):6.0f}  p99 {p99:6.0f}"


async def _phase(session: aiohttp.ClientSession, info: dict, fresh: list, cached_auth: str,
                 args: argparse.Namespace, flood: bool) -> dict:
    url = info["url"] + ROUTE
    attacked = info["attacked"]

    async def uncached(i: int) -> tuple[int, float]:
        username, password = fresh.pop()
        return await _timed_get(session, url, _basic(username, password))

    async def cached(i: int) -> tuple[int, float]:
        return await _timed_get(session, url, cached_auth)

    async def guess(i: int) -> tuple[int, float]:
        name = attacked[i % len(attacked)] if i % 3 else f"scim-0-{i:012x}"
        return await _timed_get(session, url, _basic(name, f"guess-{os.urandom(6).hex()}"))

    jobs = [_paced(args.good_rate, args.seconds, uncached),
            _paced(CACHED_RATE, args.seconds, cached)]
    if flood:
        jobs.append(_paced(args.flood_rate, args.seconds, guess))
    results = await asyncio.gather(*jobs)
    out = {}
    for name, answers in zip(("uncached", "cached", "flood"), results, strict=False):
        ok = [a for a in answers if not isinstance(a, BaseException)]
        out[name] = {
            "ms": [ms for status, ms in ok if status == 200],
            "all_ms": [ms for _, ms in ok],
            "statuses": Counter(str(status) for status, _ in ok)
            + Counter(type(a).__name__ for a in answers if isinstance(a, BaseException)),
        }
    return out


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryFile() as log:
        try:
            quiet, flooded = await _run(args, log)
        except Exception:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
    _report(args, quiet, flooded)
    print(f"one scrypt on this machine now: {_scrypt_ms():.0f} ms; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


async def _run(args: argparse.Namespace, log) -> tuple[dict, dict]:
    total = int(args.good_rate * args.seconds) * 2 + 5
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_auth_flood", "--serve", "--credentials", str(total),
        "--port", str(free_port()), "--attacked", str(args.attacked),
        stdout=asyncio.subprocess.PIPE, stderr=log, stdin=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_TIMEOUT_S)
        if not line:
            raise RuntimeError("the gateway did not start")
        info = json.loads(line)
        fresh = [tuple(c) for c in info["good"]]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            username, password = fresh.pop()
            cached_auth = _basic(username, password)
            status, _ = await _timed_get(session, info["url"] + ROUTE, cached_auth)
            if status != 200:
                raise RuntimeError(f"warm-up login answered {status}")
            quiet = await _phase(session, info, fresh, cached_auth, args, flood=False)
            flooded = await _phase(session, info, fresh, cached_auth, args, flood=True)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        stats = await proc.stdout.readline() if proc.stdout else b""
        await proc.wait()
    quiet["slots"] = json.loads(stats) if stats.strip() else {}
    return quiet, flooded


def _scrypt_ms() -> float:
    """One production-cost scrypt on this machine now (the unit every login waits for)."""
    from gateway.auth.hashing import DEFAULT_PARAMS, derive

    started = time.perf_counter()
    for _ in range(5):
        derive("secret", b"salt" * 4, DEFAULT_PARAMS)
    return (time.perf_counter() - started) / 5 * 1000


def _report(args: argparse.Namespace, quiet: dict, flooded: dict) -> None:
    print(f"Logins to GET {ROUTE}, ms (production scrypt cost, default [auth] settings, "
          f"{args.seconds:.0f} s per phase, every request from 127.0.0.1, the attacker "
          f"knowing {args.attacked} real usernames)")
    print(f"{'':34} {'no flood':>22}   {f'{args.flood_rate:.0f} wrong passwords/s':>24}")
    for name, label in (("uncached", f"good login, not cached ({args.good_rate:g}/s)"),
                        ("cached", f"good login, cached ({CACHED_RATE:g}/s)")):
        print(f"{label:34} {_percentiles(quiet[name]['ms']):>22}   "
              f"{_percentiles(flooded[name]['ms']):>24}")
    for name in ("uncached", "cached"):
        for phase, data in (("no flood", quiet), ("flood", flooded)):
            bad = {k: v for k, v in data[name]["statuses"].items() if k != "200"}
            if bad:
                print(f"  {name} logins not answered 200 ({phase}): {dict(bad)}")
    flood = flooded["flood"]
    print(f"scrypt runs by priority: {quiet['slots'].get('ran')}; refused unhashed: "
          f"{quiet['slots'].get('refused')}")
    print(f"flood: {sum(flood['statuses'].values())} sent, answers "
          f"{dict(sorted(flood['statuses'].items()))}, {_percentiles(flood['all_ms'])} ms")


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood-rate", type=float, default=150.0)
    parser.add_argument("--good-rate", type=float, default=1.0)
    parser.add_argument("--attacked", type=int, default=3,
                        help="existing usernames (of other orgs) the attacker knows")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--credentials", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = _args()
    asyncio.run(_serve(parsed) if parsed.serve else main(parsed))
