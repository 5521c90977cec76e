"""The id store contract, run against MemoryIdStore and a real Redis alike."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from gateway.idstore import (
    IdStore,
    IdStoreError,
    IdStoreUnavailable,
    LockTimeout,
    MemoryIdStore,
    RedisIdStore,
    make_id_store,
)
from gateway.idstore.redis_store import _split_cluster_flag
from tests.conftest import REDIS_URL, drop_keys
from tests.net import free_port


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> IdStore:
    if request.param == "memory":
        return MemoryIdStore()
    return request.getfixturevalue("redis_store")


# ------------------------------------------------------------------ mappings


async def test_put_then_get_many_in_lookup_order_with_misses(store: IdStore):
    await store.put(17, {"user:userName": {"ada": "1", "bob": "2"}, "user:externalId": {"x9": "1"}})
    got = await store.get_many(
        17,
        [
            ("user:userName", "bob"),
            ("user:externalId", "x9"),
            ("user:userName", "nobody"),
            ("group:displayName", "eng"),
            ("user:userName", "ada"),
            ("user:userName", "bob"),
        ],
    )
    assert got == ["2", "1", None, None, "1", "2"]


async def test_orgs_do_not_see_each_other(store: IdStore):
    await store.put(17, {"user:userName": {"ada": "1"}})
    await store.put(18, {"user:userName": {"ada": "99"}})
    assert await store.get_many(17, [("user:userName", "ada")]) == ["1"]
    assert await store.get_many(18, [("user:userName", "ada")]) == ["99"]
    assert await store.get_many(19, [("user:userName", "ada")]) == [None]


async def test_put_overwrites_and_delete_forgets(store: IdStore):
    await store.put(1, {"s": {"a": "1", "b": "2", "c": "3"}, "t": {"a": "9"}})
    await store.put(1, {"s": {"a": "10"}})
    await store.delete(1, {"s": ["b", "missing"], "t": ["a"], "never": ["z"]})
    assert await store.get_many(1, [("s", "a"), ("s", "b"), ("s", "c"), ("t", "a")]) == [
        "10",
        None,
        "3",
        None,
    ]
    assert await store.count(1, "s") == 2
    assert await store.count(1, "t") == 0


async def test_empty_calls_are_harmless(store: IdStore):
    assert await store.get_many(1, []) == []
    await store.put(1, {})
    await store.put(1, {"s": {}})
    await store.delete(1, {})
    await store.delete(1, {"s": []})
    assert await store.count(1, "s") == 0


async def test_delete_if_equal_only_deletes_the_expected_value(store: IdStore):
    await store.put(1, {"user:userName": {"ada": "48213"}})
    assert await store.delete_if_equal(1, "user:userName", "ada", "99999") is False
    assert await store.get_many(1, [("user:userName", "ada")]) == ["48213"]
    assert await store.delete_if_equal(1, "user:userName", "ada", "48213") is True
    assert await store.get_many(1, [("user:userName", "ada")]) == [None]
    assert await store.delete_if_equal(1, "user:userName", "ada", "48213") is False


async def test_clear_org_forgets_one_org_only(store: IdStore):
    await store.put(1, {"a": {"k": "1"}, "b": {"k": "2"}})
    await store.set_meta(1, "watermark", "2026-01-01T00:00:00Z")
    await store.put(2, {"a": {"k": "3"}})
    await store.set_meta(2, "watermark", "2026-02-02T00:00:00Z")
    await store.clear_org(1)
    assert await store.get_many(1, [("a", "k"), ("b", "k")]) == [None, None]
    assert await store.get_meta(1, "watermark") is None
    assert await store.get_many(2, [("a", "k")]) == ["3"]
    assert await store.get_meta(2, "watermark") == "2026-02-02T00:00:00Z"


# ------------------------------------------------------------------ meta


async def test_meta_round_trip(store: IdStore):
    assert await store.get_meta(1, "sync") is None
    await store.set_meta(1, "sync", "v1")
    await store.set_meta(1, "sync", "v0")
    assert await store.get_meta(1, "sync") == "v0"


async def test_set_meta_max_only_moves_forward(store: IdStore):
    await store.set_meta_max(1, "updated_since", "2026-11-28T14:03:11Z")
    await store.set_meta_max(1, "updated_since", "2026-11-28T14:03:10Z")
    assert await store.get_meta(1, "updated_since") == "2026-11-28T14:03:11Z"
    await store.set_meta_max(1, "updated_since", "2026-11-28T14:05:00Z")
    assert await store.get_meta(1, "updated_since") == "2026-11-28T14:05:00Z"
    await store.set_meta_max(1, "updated_since", "2025-12-31T23:59:59Z")
    assert await store.get_meta(1, "updated_since") == "2026-11-28T14:05:00Z"


async def test_set_meta_max_compares_bytes_not_locale_collation(store: IdStore):
    await store.set_meta_max(1, "m", "B")
    await store.set_meta_max(1, "m", "a")  # 'a' (0x61) > 'B' (0x42), unlike dictionary order
    assert await store.get_meta(1, "m") == "a"
    await store.set_meta_max(1, "m", "a")
    await store.set_meta_max(1, "m", "ab")  # a longer string with the same start is greater
    assert await store.get_meta(1, "m") == "ab"
    await store.set_meta_max(1, "m", "a")
    assert await store.get_meta(1, "m") == "ab"


async def test_concurrent_set_meta_max_keeps_the_largest(store: IdStore):
    stamps = [f"2026-11-28T14:{m:02d}:00Z" for m in range(30)]
    await asyncio.gather(*(store.set_meta_max(3, "w", s) for s in reversed(stamps)))
    assert await store.get_meta(3, "w") == stamps[-1]


# ------------------------------------------------------------------ locks


async def test_lock_excludes_a_second_holder(store: IdStore):
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.lock(1, "sync", timeout_s=1):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    with pytest.raises(LockTimeout) as info:
        async with store.lock(1, "sync", timeout_s=0.1):
            pytest.fail("second holder got the lock")
    assert isinstance(info.value, IdStoreError)
    # Other names and other orgs are independent.
    async with store.lock(1, "other", timeout_s=0.1):
        pass
    async with store.lock(2, "sync", timeout_s=0.1):
        pass
    release.set()
    await task
    async with store.lock(1, "sync", timeout_s=1):
        pass


async def test_lock_serialises_read_modify_write(store: IdStore):
    async def bump() -> None:
        async with store.lock(1, "counter", timeout_s=10):
            (value,) = await store.get_many(1, [("c", "n")])
            await asyncio.sleep(0)
            await store.put(1, {"c": {"n": str(int(value or 0) + 1)}})

    await asyncio.gather(*(bump() for _ in range(20)))
    assert await store.get_many(1, [("c", "n")]) == ["20"]


async def test_lock_is_released_when_the_body_raises(store: IdStore):
    with pytest.raises(RuntimeError):
        async with store.lock(1, "x", timeout_s=1):
            raise RuntimeError("boom")
    async with store.lock(1, "x", timeout_s=0.1):
        pass


# ------------------------------------------------------------------ Redis specifics


@pytest.mark.e2e  # a real Redis
async def test_lock_excludes_another_process(prefix: str):
    """Two stores = two gateway processes sharing one Redis."""
    a = RedisIdStore(REDIS_URL, prefix=prefix)
    b = RedisIdStore(REDIS_URL, prefix=prefix)
    try:
        async with a.lock(5, "reindex", timeout_s=1):
            with pytest.raises(LockTimeout):
                async with b.lock(5, "reindex", timeout_s=0.1):
                    pytest.fail("two processes held the lock at once")
        async with b.lock(5, "reindex", timeout_s=1):
            pass
    finally:
        await a.close()
        await b.close()
        await drop_keys(f"{prefix}:*")


@pytest.mark.e2e  # a real Redis
async def test_lock_is_kept_alive_past_its_lease_while_held(prefix: str):
    a = RedisIdStore(REDIS_URL, prefix=prefix, lock_lease_s=0.3)
    b = RedisIdStore(REDIS_URL, prefix=prefix, lock_lease_s=0.3)
    try:
        async with a.lock(5, "long", timeout_s=1):
            await asyncio.sleep(1.0)  # > 3 leases: only renewal keeps it ours
            with pytest.raises(LockTimeout):
                async with b.lock(5, "long", timeout_s=0.05):
                    pytest.fail("lease expired while the holder was alive")
    finally:
        await a.close()
        await b.close()
        await drop_keys(f"{prefix}:*")


async def test_lock_of_a_crashed_holder_frees_itself_after_the_lease(redis_store, prefix):
    key = f"{prefix}:{{org:5}}:lock:sync"
    raw = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await raw.set(key, "dead-process-token", px=400)
        # While the dead holder's lease runs, the lock is still its.
        with pytest.raises(LockTimeout):
            async with redis_store.lock(5, "sync", timeout_s=0.05):
                pytest.fail("acquired a lock another holder still held")
        async with redis_store.lock(5, "sync", timeout_s=5):
            held_by = await raw.get(key)
            assert held_by is not None and held_by != "dead-process-token"
        assert await raw.get(key) is None  # released on exit
    finally:
        await raw.aclose()


async def test_keys_are_hash_tagged_per_org(redis_store, prefix):
    await redis_store.put(17, {"user:userName": {"ada": "48213"}})
    await redis_store.set_meta(17, "w", "x")
    raw = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert await raw.hget(f"{prefix}:{{org:17}}:idx:user:userName", "ada") == "48213"
        assert await raw.hget(f"{prefix}:{{org:17}}:meta", "w") == "x"
    finally:
        await raw.aclose()


async def test_multi_space_get_and_put_take_one_round_trip(redis_store, monkeypatch):
    assert await redis_store.ping()  # warm a pooled connection
    sends: list[int] = []
    original = Connection.send_packed_command

    async def counting(self, command, check_health=True):
        sends.append(1)
        return await original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    entries = {f"space{s}": {f"k{i}": str(s * 100 + i) for i in range(50)} for s in range(4)}
    await redis_store.put(9, entries)
    assert len(sends) == 1
    lookups = [(f"space{s}", f"k{i}") for i in range(50) for s in range(4)]
    got = await redis_store.get_many(9, lookups)
    assert len(sends) == 2
    assert got == [str(s * 100 + i) for i in range(50) for s in range(4)]
    await redis_store.delete(9, {f"space{s}": ["k1", "k2"] for s in range(4)})
    assert len(sends) == 3


async def test_redis_down_degrades_to_misses(caplog):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    store = RedisIdStore(f"redis://127.0.0.1:{free_port()}/0", prefix="down")
    try:
        assert await store.get_many(1, [("s", "a"), ("t", "b")]) == [None, None]
        store._down_until = 0  # skip the cool-down so each call really tries Redis
        await store.put(1, {"s": {"a": "1"}})
        store._down_until = 0
        await store.delete(1, {"s": ["a"]})
        store._down_until = 0
        assert await store.delete_if_equal(1, "s", "a", "1") is False
        store._down_until = 0
        assert await store.get_meta(1, "w") is None
        store._down_until = 0
        await store.set_meta_max(1, "w", "2026")
        store._down_until = 0
        assert await store.count(1, "s") == 0
        assert await store.ping() is False
        with pytest.raises(IdStoreUnavailable) as info:
            async with store.lock(1, "sync", timeout_s=1):
                pytest.fail("lock taken without Redis")
        assert isinstance(info.value, IdStoreError)
    finally:
        await store.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 7


async def test_redis_down_cool_down_skips_redis_without_new_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    store = RedisIdStore(f"redis://127.0.0.1:{free_port()}/0", prefix="down", cooldown_s=60)
    try:
        for _ in range(5):
            assert await store.get_many(1, [("s", "a")]) == [None]
            await store.put(1, {"s": {"a": "1"}})
    finally:
        await store.close()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


# ------------------------------------------------------------------ factory


def test_make_id_store_without_url_warns_it_is_not_shared(caplog):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    store = make_id_store(None)
    assert isinstance(store, MemoryIdStore)
    assert any("not shared" in r.getMessage().lower() for r in caplog.records)


@pytest.mark.e2e  # a real Redis
async def test_make_id_store_with_url_is_shared_redis():
    store = make_id_store(REDIS_URL)
    try:
        assert isinstance(store, RedisIdStore)
        assert isinstance(store, IdStore)
        assert await store.ping() is True
    finally:
        await store.close()


def test_cluster_flag_is_stripped_from_the_url():
    assert _split_cluster_flag("redis://h:7000/0?cluster=true&ssl_cert_reqs=none") == (
        "redis://h:7000/0?ssl_cert_reqs=none",
        True,
    )
    assert _split_cluster_flag("redis://h:6379/0") == ("redis://h:6379/0", False)
    assert _split_cluster_flag("redis://h:6379/0?cluster=no") == ("redis://h:6379/0", False)
