"""`python -m bench.bench_budget`: what the largest request within `[limits]` costs the loop.

Issue 10's goal: a request that passes the budget never blocks the event loop
for more than ~50 ms. This times, in process and with the default limits:

- the largest allowed filter (at `filter_max_length` and `filter_max_nodes`,
  nested within MAX_DEPTH): budget scan + parse + check + plan;
- the largest allowed PATCH (`patch_max_operations` operations): budget +
  normalise + validate + apply;
- the largest allowed body (`body_max_values` values, a Group push): budget +
  normalise + validate;

each run as the gateway runs it (bodies over `OFF_LOOP_BYTES` are decoded,
measured and validated on a worker thread), with a ticker measuring the longest the event
loop went without a turn meanwhile: that, not the work's duration, is what
every other org's requests wait for. It also prints the process RSS after
1,000 distinct filters rejected by the parser (each just within the budget,
with its error at the very end: the costliest rejection), which once grew a
process by 450 MB for 25 of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import statistics
import time
from collections.abc import Awaitable, Callable

from gateway import jsonio
from gateway.config import LimitsConfig
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.planner import plan
from gateway.scim.budget import BodyBudget, FilterBudget
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter
from gateway.scim.filter import FILTER_CACHE, parse_filter
from gateway.scim.patch import apply_patch
from gateway.web.params import (
    off_loop_if_large,
    prepared_patch,
    prepared_resource,
    share_the_interpreter,
)

LIMITS = LimitsConfig()
FILTERS = FilterBudget(LIMITS.filter_max_length, LIMITS.filter_max_nodes)
BODIES = BodyBudget(LIMITS.body_max_values, LIMITS.body_max_attributes,
                    LIMITS.patch_max_operations)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


async def _stall(label: str, work: Callable[[], Awaitable[object]], runs: int = 5) -> float:
    """Time `work` and the longest the event loop went without a turn meanwhile."""
    totals, stalls = [], []
    loop = asyncio.get_running_loop()
    await work()  # warm-up: first-use costs (thread start, lazy imports) are not per request
    for _ in range(runs):
        FILTER_CACHE.clear()
        state = {"longest": 0.0, "done": False}

        async def ticker(state: dict = state) -> None:
            last = loop.time()
            while not state["done"]:
                await asyncio.sleep(0.001)
                now = loop.time()
                state["longest"] = max(state["longest"], now - last - 0.001)
                last = now

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.005)
        started = time.perf_counter()
        await work()
        totals.append((time.perf_counter() - started) * 1000)
        state["done"] = True
        await ticking
        stalls.append(state["longest"] * 1000)
    print(f"{label:<50} took {statistics.median(totals):7.1f} ms (median); loop stall "
          f"median {statistics.median(stalls):5.1f} ms, worst {max(stalls):5.1f} ms")
    return max(stalls)


def _rss_mb() -> float:
    """The process's resident set now (Linux /proc), else its peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def largest_filter() -> str:
    """Comparisons joined by and/or in groups of ten: within the nodes, length and depth."""
    terms, length, n = [], 0, 0
    while True:
        term = f'userName eq "u{n}@acme.example"'
        nodes = 2 * (n + 1) - 1
        if length + len(term) + 8 > FILTERS.max_length or nodes > FILTERS.max_nodes:
            break
        terms.append(term)
        length += len(term) + 8
        n += 1
    groups = [" or ".join(terms[i:i + 10]) for i in range(0, len(terms), 10)]
    return " and ".join(f"({g})" for g in groups)


async def main() -> None:
    share_the_interpreter()  # as the gateway does at start-up
    mapping = MappingRegistry("mappings.default", {}).for_org(1)
    user, group = mapping.user, mapping.group

    text = largest_filter()
    print(f"largest allowed filter: {len(text)} characters")

    async def filter_work() -> None:  # on the loop, as the gateway does it
        node = parse_filter(text, FILTERS)
        check_filter(node, user.advertised)
        plan(node, user, LIMITS.filter_max_lookups)

    worst = [await _stall("filter: budget + parse + check + plan", filter_work)]

    operations = [{"op": "replace", "path": "title", "value": f"Title {i}"}
                  for i in range(LIMITS.patch_max_operations)]
    patch_body = {"schemas": [PATCH_OP], "Operations": operations}
    current = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
               "userName": "a@acme.example", "active": True}

    raw_patch = jsonio.dumps(patch_body)

    async def patch_work() -> None:  # as gateway.web.params.patch_operations runs it
        ops = await off_loop_if_large(len(raw_patch), prepared_patch, raw_patch, BODIES,
                                      FILTERS, user.rtype)
        apply_patch(current, ops, user.rtype)

    worst.append(await _stall(f"PATCH, {len(operations)} ops: budget+validate+apply",
                              patch_work))

    # A Group push at the value budget: each member is an object (1) with a value (1).
    members = [{"value": str(100_000 + i)} for i in range((BODIES.max_values - 10) // 2)]
    group_body = {"schemas": [GROUP], "displayName": "Everyone", "members": members}

    raw_group = jsonio.dumps(group_body)

    async def body_work() -> None:  # as gateway.web.params.resource_body runs it
        await off_loop_if_large(len(raw_group), prepared_resource, raw_group, BODIES,
                                group.rtype, "Group")

    worst.append(await _stall(f"Group body, {BODIES.max_values} values: budget+validate",
                              body_work, runs=3))

    # 1,000 distinct filters the parser rejects, each as costly as the budget allows.
    filler = "x" * (FILTERS.max_length - 60)
    gc.collect()
    before = _rss_mb()
    for i in range(1_000):
        with contextlib.suppress(ScimError):
            parse_filter(f'userName eq "{i:04d}{filler}" and', FILTERS)
    gc.collect()
    after = _rss_mb()
    print(f"RSS before 1,000 distinct rejected filters: {before:.0f} MB, "
          f"after: {after:.0f} MB; parse cache: {len(FILTER_CACHE)} entries, "
          f"{FILTER_CACHE.bytes} bytes")
    print(f"longest loop stall of a request within the budget: {max(worst):.1f} ms "
          f"(goal: under ~50 ms)")


if __name__ == "__main__":
    asyncio.run(main())
