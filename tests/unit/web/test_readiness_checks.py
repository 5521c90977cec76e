"""Readiness: named checks run at once, each outcome named, none able to hang /readyz."""

from __future__ import annotations

import asyncio

from gateway.web.health import Readiness


async def test_checks_run_concurrently_so_one_can_wait_for_another() -> None:
    readiness = Readiness(timeout_s=30)
    first_started = asyncio.Event()

    async def first() -> bool:
        first_started.set()
        return True

    async def second() -> bool:
        await first_started.wait()  # only returns if `first` runs while this one waits
        return True

    readiness.add("second", second)
    readiness.add("first", first)
    assert await readiness.run() == {"second": "ok", "first": "ok"}


async def test_false_or_raising_or_hanging_checks_are_named_and_none_means_ready() -> None:
    readiness = Readiness(timeout_s=0.05)

    async def down() -> bool:
        return False

    async def broken() -> bool:
        raise ConnectionError("refused")

    async def hung() -> bool:
        await asyncio.Event().wait()
        return True

    async def pinged() -> None:  # a ping() that raises on failure and returns nothing
        return None

    for name, check in [("down", down), ("broken", broken), ("hung", hung), ("db", pinged)]:
        readiness.add(name, check)
    assert await readiness.run() == {
        "down": "failed", "broken": "failed", "hung": "timeout", "db": "ok"}
