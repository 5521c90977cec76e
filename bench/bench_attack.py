"""One org's expensive requests against another org's lookups, over real sockets.

    python -m bench.bench_attack [--seconds 5] [--attackers 3]

Sandbox and gateway run in this process on real sockets (as the end-to-end
tests do). Org A sends the IdP's everyday request, `userName eq` lookups, one
after another; org B's attackers send, in a loop, issue 10's expensive
requests: a ~0.8 MB filter, a PATCH of 5,000 operations, the largest body the
budget allows with its one invalid value at the very end (so it is decoded
and validated whole, off the loop, and then refused), and distinct filters
that are just within the budget and fail to parse at their last character.
Org A's latency is printed without and with the attack (median, p99, worst),
with what the attackers got back. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import statistics
import time
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

import aiohttp

from bench.harness import PATCH_OP, SANDBOX_TOKEN, SCIM_JSON, Sandbox, drop_prefix, id_store

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _attacks(limits: Any) -> list[tuple[str, str, dict]]:
    """(method, path, JSON body) of each expensive request, cycled by the attackers."""
    huge = " and ".join(f'userName eq "u{i}"' for i in range(35_000))
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "title"}] * 5_000}
    members: list[dict] = [{"value": str(100_000 + i)}
                           for i in range((limits.body_max_values - 10) // 2 - 1)]
    members.append({"value": 1.5})  # invalid, and last: everything before it is checked
    body = {"schemas": [GROUP], "displayName": "Everyone", "members": members}
    return [
        ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": huge}),
        ("PATCH", "/Users/1", patch),
        ("POST", "/Groups", body),
    ]


def _near_limit_filter(n: int, limits: Any) -> str:
    """A distinct filter just within the budget that fails at its last character."""
    terms = [f'userName eq "x{n}-{i}"' for i in range(limits.filter_max_nodes // 2 - 2)]
    groups = [" or ".join(terms[i:i + 10]) for i in range(0, len(terms), 10)]
    return " and ".join(f"({g})" for g in groups) + " and"


async def main(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.auth import CredentialStore
    from gateway.auth.hashing import ScryptParams
    from gateway.config import Config
    from gateway.web.app import build_app
    from sandbox.app import create_app

    sandbox_server = TestServer(create_app(":memory:", SANDBOX_TOKEN, 0), host="127.0.0.1")
    await sandbox_server.start_server()
    prefix = f"bench-attack-{uuid.uuid4().hex[:10]}"
    store, store_name = await id_store(prefix)
    session = aiohttp.ClientSession()
    gateway = None
    try:
        sandbox = Sandbox(session, str(sandbox_server.make_url("")).rstrip("/"))
        good_org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Good Co"}))["id"]
        bad_org = (await sandbox.call("POST", "/_sandbox/orgs", {"name": "Bad Co"}))["id"]
        rows = [{"email": f"p{i}@good.example", "first_name": "P", "last_name": str(i)}
                for i in range(200)]
        await sandbox.call("POST", f"/_sandbox/orgs/{good_org}/employees/bulk",
                           {"employees": rows})
        credentials = CredentialStore(None, params=ScryptParams(n=2**10, r=8, p=1))
        good, bad = [await credentials.issue_basic(org, label="bench")
                     for org in (good_org, bad_org)]
        config = Config()
        config = replace(config, backend=replace(config.backend, url=sandbox.url,
                                                 token=SANDBOX_TOKEN))
        gateway = TestServer(build_app(config, credentials, id_store=store), host="127.0.0.1")
        await gateway.start_server()
        base = str(gateway.make_url("/scim/v2"))

        def headers(issued: Any) -> dict[str, str]:
            token = base64.b64encode(f"{issued.username}:{issued.password}".encode()).decode()
            return {"Authorization": f"Basic {token}", "Accept": SCIM_JSON,
                    "Content-Type": SCIM_JSON}

        good_headers, bad_headers = headers(good), headers(bad)
        answers: Counter[str] = Counter()

        async def lookups(seconds: float) -> list[float]:
            """Org A's lookups, one after another, for `seconds`; their latencies in ms."""
            latencies = []
            end = time.perf_counter() + seconds
            for i in itertools.count():
                if time.perf_counter() > end:
                    return latencies
                params = {"filter": f'userName eq "p{i % 200}@good.example"'}
                started = time.perf_counter()
                async with session.get(base + "/Users", params=params,
                                       headers=good_headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"good lookup answered {resp.status}")
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.005)

        from gateway import jsonio

        # Everything the attackers send is encoded before anything is measured: the
        # client shares this process's event loop, and its work is not the gateway's.
        encoded = [(m, p, jsonio.dumps(b)) for m, p, b in _attacks(config.limits)]
        near_limit = [jsonio.dumps({"schemas": [SEARCH],
                                    "filter": _near_limit_filter(n, config.limits)})
                      for n in range(2_000)]
        serial = itertools.count()

        async def attacker(stop: asyncio.Event) -> None:
            for n in itertools.count():
                if stop.is_set():
                    return
                n = n if args.only is None else args.only
                if n % 4 == 3:
                    method, path = "POST", "/Users/.search"
                    data = near_limit[next(serial) % len(near_limit)]
                    label = "near-limit filter"
                else:
                    method, path, data = encoded[n % 4 % len(encoded)]
                    label = path
                async with session.request(method, base + path, data=data,
                                           headers=bad_headers) as resp:
                    await resp.read()
                    answers[f"{label} -> {resp.status}"] += 1

        await lookups(0.5)  # warm-up: org flags cached, index built
        quiet = await lookups(args.seconds)
        stop = asyncio.Event()
        crowd = [asyncio.create_task(attacker(stop)) for _ in range(args.attackers)]
        loud = await lookups(args.seconds)
        stop.set()
        await asyncio.gather(*crowd)

        def line(label: str, ms: list[float]) -> str:
            ordered = sorted(ms)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            return (f"{label:<28} {len(ms):5d} lookups  median {statistics.median(ms):6.1f} ms"
                    f"  p99 {p99:7.1f} ms  worst {ordered[-1]:7.1f} ms")

        print(f"id store: {store_name}; {args.attackers} attackers for {args.seconds:.0f} s")
        print(line("org A alone", quiet))
        print(line("org A while org B attacks", loud))
        for key, count in sorted(answers.items()):
            print(f"  org B {key}: {count}")
    finally:
        await session.close()
        if gateway is not None:
            await gateway.close()
        await sandbox_server.close()
        await store.close()
        await drop_prefix(prefix)


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--attackers", type=int, default=3)
    parser.add_argument("--only", type=int, choices=range(4), default=None,
                        help="send only one kind: 0 filter, 1 PATCH, 2 body, 3 near-limit")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
