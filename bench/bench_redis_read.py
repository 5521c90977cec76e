"""The id store's per-request read, redis-py against the store's own pipe, side by side.

    python -m bench redis_read [--duration 2] [--rounds 3] [--keys 1000]

Each call is the lookup's read: `get_many` of one userName key and the
watermark (one HMGET) through `RedisIdStore`, against the real Redis at
127.0.0.1:6379 (a unique prefix, removed afterwards), on the loop the gateway
runs on (uvloop). The two clients take turns, at 1 and 32 concurrent callers,
for `--rounds` rounds of `--duration` seconds each; the figure is the median
over the rounds of this process's CPU time per call (Redis's own CPU is not
in it), which holds up on a loaded machine better than a rate. Figures only:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field

from gateway.eventloop import new_event_loop
from gateway.idstore import RedisIdStore

REDIS_URL = "redis://127.0.0.1:6379/0"
ORG = 17
SPACE = "users"
WATERMARK = "~watermark"
CLIENTS = ("redis-py", "pipe")
CONCURRENCY = (1, 32)


@dataclass
class Figures:
    cpu_us: list[float] = field(default_factory=list)  # per call, one entry per round
    rate: list[float] = field(default_factory=list)  # calls per wall second


async def _run(store: RedisIdStore, keys: list[str], concurrency: int, duration: float
               ) -> tuple[int, float, float]:
    """Callers loop over the keys until the time is up: (calls, CPU seconds, wall seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    calls = 0

    async def caller(offset: int) -> None:
        nonlocal calls
        i = offset
        while loop.time() < deadline:
            hint, _mark = await store.get_many(ORG, [(SPACE, keys[i % len(keys)]),
                                                     (SPACE, WATERMARK)])
            if hint is None:
                raise RuntimeError("a seeded key read as a miss: Redis failed under the bench")
            calls += 1
            i += concurrency

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(n) for n in range(concurrency)))
    return calls, time.process_time() - cpu, time.perf_counter() - wall


async def main(args: argparse.Namespace) -> None:
    prefix = f"bench-read-{uuid.uuid4().hex[:8]}"
    stores = {"redis-py": RedisIdStore(REDIS_URL, prefix=prefix, read_pipe=False),
              "pipe": RedisIdStore(REDIS_URL, prefix=prefix)}
    keys = [f"userName:user{i}@bench.example" for i in range(args.keys)]
    await stores["pipe"].put(ORG, {SPACE: {**{k: str(10_000 + i) for i, k in enumerate(keys)},
                                           WATERMARK: "2026-01-01T00:00:00Z"}})
    figures = {(c, n): Figures() for c in CLIENTS for n in CONCURRENCY}
    try:
        for store in stores.values():  # connect and warm both before measuring
            await _run(store, keys, 4, 0.2)
        for _round in range(args.rounds):
            for n in CONCURRENCY:
                for client in CLIENTS:
                    calls, cpu, wall = await _run(stores[client], keys, n, args.duration)
                    figures[client, n].cpu_us.append(cpu / calls * 1e6)
                    figures[client, n].rate.append(calls / wall)
    finally:
        await stores["pipe"].clear_org(ORG)
        for store in stores.values():
            await store.close()

    print(f"redis_read: get_many(userName key + watermark) = one HMGET, {args.keys} keys, "
          f"{type(asyncio.get_running_loop()).__module__.split('.')[0]} loop, "
          f"median of {args.rounds} x {args.duration:g} s")
    print(f"{'client':<10} {'callers':>7} {'µs CPU/call':>12} {'calls/s':>9}")
    for n in CONCURRENCY:
        for client in CLIENTS:
            f = figures[client, n]
            print(f"{client:<10} {n:>7} {statistics.median(f.cpu_us):>12.1f} "
                  f"{statistics.median(f.rate):>9.0f}")
    ratios = ", ".join(
        f"x{statistics.median(figures['pipe', n].cpu_us) / statistics.median(figures['redis-py', n].cpu_us):.2f}"  # noqa: E501
        f" at {n}" for n in CONCURRENCY)
    print(f"pipe / redis-py, CPU per call: {ratios}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1000)
    args = parser.parse_args()
    loop = new_event_loop()
    try:
        loop.run_until_complete(main(args))
    finally:
        loop.close()
