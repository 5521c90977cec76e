"""Point lookups of one filter: a few at a time, never one by one, never all at once."""

from __future__ import annotations

import asyncio

from gateway.provisioning.planner import Lookup, bounded, union_by_id


async def test_lookups_run_concurrently_up_to_the_bound():
    in_flight = most = 0

    async def one(lookup: Lookup) -> list[dict]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)  # let the others start if the bound allows
        await asyncio.sleep(0)
        in_flight -= 1
        return [{"id": int(lookup.value)}, {"id": 1}]

    lookups = [Lookup("id", str(i)) for i in range(20, 0, -1)]
    records = await union_by_id(lookups, one, concurrency=4)
    assert most == 4
    assert [r["id"] for r in records] == list(range(1, 21))  # each once, in id order


async def test_a_failed_lookup_cancels_the_rest():
    started: list[int] = []

    async def one(lookup: Lookup) -> list[dict]:
        started.append(int(lookup.value))
        if lookup.value == "0":
            raise RuntimeError("backend down")
        await asyncio.sleep(10)
        return []

    try:
        await union_by_id([Lookup("id", str(i)) for i in range(10)], one, concurrency=2)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure was swallowed")
    assert len(started) <= 3  # the failure stopped the queue


def test_more_lookups_than_the_bound_are_no_plan_at_all():
    lookups = [Lookup("id", str(i)) for i in range(51)]
    assert bounded(lookups, 50) is None
    assert bounded(lookups[:50], 50) == lookups[:50]
    assert bounded(None, 50) is None
