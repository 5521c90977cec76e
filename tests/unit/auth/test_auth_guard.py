"""The guard's parts on their own: slots by priority, failure scores, the caller's address."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.auth.guard import FailureCache, FailureScores, HashSlots, Priority, SlotsFull
from gateway.web.client_address import TrustedProxies


def slots(n: int = 1, trusted: int = 4, suspect: int = 4) -> HashSlots:
    return HashSlots(n, {Priority.TRUSTED: trusted, Priority.SUSPECT: suspect,
                         Priority.UNKNOWN: 0})


async def test_a_waiter_cancelled_in_the_queue_leaves_no_slot_taken() -> None:
    pool = slots(1)
    hashing = threading.Event()
    running = asyncio.ensure_future(pool.run(Priority.TRUSTED, hashing.wait, 10))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(pool.run(Priority.TRUSTED, lambda: 1))
    await asyncio.sleep(0)
    assert pool.busy == 1
    waiting.cancel()
    hashing.set()
    await running
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.busy == 0
    assert await pool.run(Priority.TRUSTED, lambda: 2) == 2


async def test_unknown_names_get_only_an_idle_slot() -> None:
    pool = slots(2)
    blocker = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.create_future()

    def wait_for_blocker() -> None:
        loop.call_soon_threadsafe(started.set_result, None)
        asyncio.run_coroutine_threadsafe(blocker.wait(), loop).result()

    busy = asyncio.ensure_future(pool.run(Priority.SUSPECT, wait_for_blocker))
    await started
    with pytest.raises(SlotsFull):
        await pool.run(Priority.UNKNOWN, lambda: None)  # one slot free, but kept for logins
    assert await pool.run(Priority.TRUSTED, lambda: "login") == "login"
    blocker.set()
    await busy
    assert await pool.run(Priority.UNKNOWN, lambda: "idle") == "idle"


def test_failure_scores_decay_and_say_when_a_key_is_below_its_limit_again() -> None:
    scores = FailureScores(window_s=60.0)
    for _ in range(20):
        scores.add("203.0.113.9", now=0.0)
    assert scores.reached("203.0.113.9", 20, now=0.0)
    wait = scores.seconds_below("203.0.113.9", 20, now=0.0)
    assert not scores.reached("203.0.113.9", 20, now=float(wait))
    assert scores.reached("203.0.113.9", 20, now=float(wait) - 2)


def test_failure_cache_forgets_the_least_recently_used_first() -> None:
    cache = FailureCache(max_entries=2, ttl_s=600.0)
    cache.add(b"a", None, 0.0)
    cache.add(b"b", None, 0.0)
    assert cache.seen(b"a", None, 1.0)  # a is now the most recent
    cache.add(b"c", None, 1.0)
    assert cache.seen(b"a", None, 2.0) and cache.seen(b"c", None, 2.0)
    assert not cache.seen(b"b", None, 2.0)
    assert not cache.seen(b"a", None, 601.0)  # expired


@pytest.mark.parametrize("peer,header,expected", [
    ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
    # A caller-supplied value left of what our balancer appended is not believed.
    ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
    # Two of our proxies in a row: the first untrusted hop from the right.
    ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),
    # From a peer that is not one of our proxies the header is anybody's.
    ("203.0.113.50", "198.51.100.7", None),
    ("10.0.0.5", "not-an-address", None),
    ("10.0.0.5", None, None),
])
def test_client_address_comes_only_from_a_trusted_proxy(peer, header, expected) -> None:
    proxies = TrustedProxies("X-Forwarded-For", ["10.0.0.0/24"])
    headers = {"X-Forwarded-For": header} if header else {}
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default)
    request = make_mocked_request("GET", "/scim/v2/Users", headers=headers, transport=transport)
    assert proxies.client_of(request) == expected


def test_without_a_configured_header_nobody_has_an_address() -> None:
    request = make_mocked_request("GET", "/", headers={"X-Forwarded-For": "198.51.100.7"})
    assert TrustedProxies().client_of(request) is None
