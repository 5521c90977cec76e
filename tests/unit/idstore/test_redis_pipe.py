"""The id store's multiplexed read connection, over a real Redis.

Concurrent reads share one socket, so the one thing that must never happen is
an answer reaching the wrong caller: every test here mixes callers and checks
each got its own. Faults (a paused or killed Redis, a dropped connection) must
fail what is pending and leave the store answering misses, as redis-py did.
Every test runs on asyncio's loop and on uvloop, the gateway's (conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.idstore import RedisIdStore
from gateway.idstore.redis_pipe import RedisPipe, pack
from tests.conftest import REDIS_URL, drop_keys
from tests.throwaway_redis import throwaway_redis

SPACE = "user:userName"
# A guard against a hang, far above any timeout under test: not a timed assertion.
HANG = 60


@pytest.fixture
def store(redis_store: RedisIdStore) -> RedisIdStore:
    """The store whose pipe is under test (conftest's, on the real Redis)."""
    return redis_store


@pytest.fixture
async def raw() -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def _no_redis_py_reads(store: RedisIdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make redis-py fail every command, so a passing read proves it came over the pipe."""
    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"redis-py was used for {args[:1]}")

    monkeypatch.setattr(store._redis, "execute_command", refuse)


async def _written(pipe: RedisPipe, *commands: asyncio.Task[Any]) -> None:
    """Wait until these commands are on the wire, waiting for replies; fail if one ended."""
    async with asyncio.timeout(HANG):
        while pipe._conn is None or len(pipe._conn._pending) < len(commands):
            for task in commands:
                if task.done():
                    raise AssertionError(f"a command ended before its reply was due: {task}")
            await asyncio.sleep(0)


# ------------------------------------------------------------------ which URLs


def test_a_plain_redis_url_gets_a_pipe_and_the_others_keep_redis_py():
    def pipe(url: str) -> RedisPipe | None:
        return RedisIdStore(url)._pipe

    plain = pipe("redis://u:p%40ss@10.0.0.5:6380/4")
    assert plain is not None
    assert (plain.host, plain.port) == ("10.0.0.5", 6380)
    assert plain._handshake == [pack(["AUTH", "u", "p@ss"]), pack(["SELECT", 4])]
    assert "p@ss" not in repr(plain)
    assert pipe("redis://:secret@h/0")._handshake == [pack(["AUTH", "secret"])]  # type: ignore[union-attr]
    assert pipe("redis://h")._handshake == []  # type: ignore[union-attr]
    assert pipe("redis://h:6379?db=2")._handshake == [pack(["SELECT", 2])]  # type: ignore[union-attr]
    for url in ("rediss://h:6379/0", "unix:///run/redis.sock?db=1", "redis://h:7000/0?cluster=true",
                "redis://h/0?protocol=3", "redis://h/0?client_name=gw", "redis://h/0?socket_timeout=5"):
        assert pipe(url) is None, url


def test_commands_are_packed_as_resp_arrays_of_utf8_bulk_strings():
    assert pack(["HMGET", "k", "ünï", b"\xff", 7]) == (
        b"*5\r\n$5\r\nHMGET\r\n$1\r\nk\r\n$5\r\n\xc3\xbcn\xc3\xaf\r\n$1\r\n\xff\r\n$1\r\n7\r\n")


# ------------------------------------------------------------------ answers


@pytest.mark.e2e  # a real Redis
async def test_a_thousand_concurrent_reads_each_get_their_own_answer_on_one_connection(
    store: RedisIdStore, monkeypatch: pytest.MonkeyPatch
):
    await store.put(17, {SPACE: {f"user{i}@acme.example": str(100_000 + i) for i in range(1000)}})
    _no_redis_py_reads(store, monkeypatch)
    pipe = store._pipe
    assert pipe is not None
    before = await pipe.execute("CLIENT", "ID")

    async def read(i: int) -> list[str | None]:
        return await store.get_many(17, [(SPACE, f"user{i}@acme.example"),
                                         (SPACE, f"nobody{i}@acme.example")])

    got = await asyncio.gather(*(read(i) for i in range(1000)))
    assert got == [[str(100_000 + i), None] for i in range(1000)]
    assert await pipe.execute("CLIENT", "ID") == before  # the same socket throughout
    assert store.answering


@pytest.mark.e2e  # a real Redis
async def test_a_cancelled_caller_does_not_shift_the_answers_of_the_others(
    store: RedisIdStore, raw: redis.Redis, prefix: str
):
    await store.put(1, {SPACE: {"a": "1", "b": "2", "c": "3"}})
    pipe = RedisPipe("127.0.0.1", 6379, timeout_s=HANG)
    gate = f"{prefix}:gate"
    try:
        # BLPOP holds this connection's FIFO until the gate opens: everything behind it is
        # written and waiting when the middle caller gives up.
        blocked = asyncio.create_task(pipe.execute("BLPOP", gate, 0))
        key = f"{prefix}:{{org:1}}:idx:{SPACE}"
        reads = {name: asyncio.create_task(pipe.execute("HMGET", key, name)) for name in "abc"}
        await _written(pipe, blocked, *reads.values())
        reads["b"].cancel()
        await raw.rpush(gate, "open")
        assert await asyncio.wait_for(blocked, HANG) == [gate, "open"]
        assert await reads["a"] == ["1"]
        assert await reads["c"] == ["3"]
        assert reads["b"].cancelled()
        assert await pipe.execute("HMGET", key, "b", "a") == ["2", "1"]  # still in step
    finally:
        await pipe.close()
        await raw.delete(gate)


@pytest.mark.e2e  # a real Redis
async def test_a_key_of_the_wrong_type_is_a_miss_and_the_connection_stays_in_step(
    store: RedisIdStore, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    await store.put(2, {SPACE: {"ada": "7"}})
    await raw.set(f"{prefix}:{{org:1}}:idx:{SPACE}", "a string, not a hash")
    _no_redis_py_reads(store, monkeypatch)
    good, bad, good_again = await asyncio.gather(
        store.get_many(2, [(SPACE, "ada")]),
        store.get_many(1, [(SPACE, "ada")]),
        store.get_many(2, [(SPACE, "ada"), (SPACE, "bob")]),
    )
    assert (good, bad, good_again) == (["7"], [None], ["7", None])
    assert store.answering  # a bad key is not a store that is down: no cool-down
    assert any("wrong type" in r.getMessage() for r in caplog.records)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await store._pipe.execute("HMGET", f"{prefix}:{{org:1}}:idx:{SPACE}", "x")  # type: ignore[union-attr]


@pytest.mark.e2e  # a real Redis
async def test_a_value_that_is_not_utf8_is_a_miss_for_its_caller_only(
    store: RedisIdStore, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    await store.put(3, {SPACE: {"ada": "7", "bob": "8"}})
    await raw.hset(f"{prefix}:{{org:3}}:idx:{SPACE}", "eve", b"\xff\xfe not utf-8")
    _no_redis_py_reads(store, monkeypatch)
    got = await asyncio.gather(
        store.get_many(3, [(SPACE, "ada")]),
        store.get_many(3, [(SPACE, "eve"), (SPACE, "bob")]),
        store.get_many(3, [(SPACE, "bob")]),
    )
    assert got == [["7"], [None, None], ["8"]]  # as before: the whole read is a miss
    assert store.answering
    assert any("not UTF-8" in r.getMessage() for r in caplog.records)


@pytest.mark.e2e  # a real Redis
async def test_select_from_the_url_reads_that_database_only(prefix: str, raw: redis.Redis):
    db7 = RedisIdStore(REDIS_URL.rsplit("/", 1)[0] + "/7", prefix=prefix)
    db0 = RedisIdStore(REDIS_URL, prefix=prefix)
    try:
        await db7.put(1, {SPACE: {"ada": "7"}})
        await db0.put(1, {SPACE: {"ada": "0"}})
        assert await db7.get_many(1, [(SPACE, "ada")]) == ["7"]
        assert await db0.get_many(1, [(SPACE, "ada")]) == ["0"]
        info = await db7._pipe.execute("CLIENT", "INFO")  # type: ignore[union-attr]
        assert " db=7 " in f" {info} "
    finally:
        await db7.close()
        await db0.close()
        await drop_keys(f"{prefix}:*", REDIS_URL.rsplit("/", 1)[0] + "/7")
        await drop_keys(f"{prefix}:*")


@pytest.mark.e2e  # a throwaway redis-server with a password
async def test_auth_and_select_from_the_url(prefix: str, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="gateway.idstore")
    async with throwaway_redis("--requirepass", "s3cret") as server:
        for auth in (":s3cret", "default:s3cret"):
            store = RedisIdStore(server.url(db=3, auth=auth), prefix=prefix)
            try:
                await store.put(1, {SPACE: {"ada": "48213"}})
                assert await store.get_many(1, [(SPACE, "ada")]) == ["48213"]
            finally:
                await store.close()
        other_db = server.client(db=0, password="s3cret")
        try:
            assert await other_db.hget(f"{prefix}:{{org:1}}:idx:{SPACE}", "ada") is None
        finally:
            await other_db.aclose()
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

        wrong = RedisIdStore(server.url(db=3, auth=":wrong-pass"), prefix=prefix)
        try:
            assert await wrong.get_many(1, [(SPACE, "ada")]) == [None]
            assert not wrong.answering  # refused: a store fault, so the cool-down
        finally:
            await wrong.close()
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "get_many failed" in logged and "wrong-pass" not in logged


# ------------------------------------------------------------------ faults


@pytest.mark.e2e  # a throwaway redis-server, paused and resumed
async def test_a_paused_redis_fails_every_pending_read_then_the_store_recovers(prefix: str):
    async with throwaway_redis() as server:
        store = RedisIdStore(server.url(), prefix=prefix, socket_timeout_s=0.3, cooldown_s=60)
        pipe = store._pipe
        assert pipe is not None
        try:
            await store.put(1, {SPACE: {f"u{i}": str(i) for i in range(20)}})
            assert await store.get_many(1, [(SPACE, "u0")]) == ["0"]  # connected
            server.pause()
            # Straight on the pipe: every pending command fails, with a timeout.
            outcomes = await asyncio.wait_for(asyncio.gather(
                *(pipe.execute("HMGET", f"{prefix}:{{org:1}}:idx:{SPACE}", f"u{i}")
                  for i in range(20)), return_exceptions=True), HANG)
            assert all(isinstance(o, RedisTimeoutError) for o in outcomes), outcomes
            # Through the store: misses, then the cool-down spares Redis.
            got = await asyncio.wait_for(asyncio.gather(
                *(store.get_many(1, [(SPACE, f"u{i}")]) for i in range(20))), HANG)
            assert got == [[None]] * 20
            assert not store.answering
            server.resume()
            store._down_until = 0  # end the cool-down rather than wait it out
            got = await asyncio.gather(*(store.get_many(1, [(SPACE, f"u{i}")]) for i in range(20)))
            assert got == [[str(i)] for i in range(20)]
        finally:
            await store.close()


@pytest.mark.e2e  # a throwaway redis-server, killed and started again
async def test_a_restarted_redis_fails_the_pending_reads_and_the_next_read_reconnects(
    prefix: str,
):
    async with throwaway_redis() as server:
        store = RedisIdStore(server.url(), prefix=prefix, cooldown_s=60)
        pipe = store._pipe
        assert pipe is not None
        try:
            await store.put(1, {SPACE: {"ada": "1"}})
            gate = f"{prefix}:gate"
            pending = asyncio.create_task(pipe.execute("BLPOP", gate, 0))
            await _written(pipe, pending)
            await server.kill()
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(pending, HANG)
            assert await store.get_many(1, [(SPACE, "ada")]) == [None]  # refused: a miss
            assert not store.answering
            await server.start()  # a fresh, empty Redis on the same port
            store._down_until = 0  # end the cool-down rather than wait it out
            await store.put(1, {SPACE: {"ada": "2"}})
            assert await store.get_many(1, [(SPACE, "ada")]) == ["2"]
        finally:
            await store.close()


@pytest.mark.e2e  # a real Redis
async def test_a_connection_killed_under_pending_reads_fails_them_and_the_next_reconnects(
    store: RedisIdStore, raw: redis.Redis, prefix: str
):
    await store.put(1, {SPACE: {"ada": "1"}})
    pipe = store._pipe
    assert pipe is not None
    first = await pipe.execute("CLIENT", "ID")
    gate = f"{prefix}:gate"
    pending = [asyncio.create_task(pipe.execute("BLPOP", gate, 0)),
               asyncio.create_task(pipe.execute("HMGET", f"{prefix}:{{org:1}}:idx:{SPACE}", "ada"))]
    await _written(pipe, *pending)
    assert await raw.client_kill_filter(_id=first) == 1
    outcomes = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), HANG)
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    assert await store.get_many(1, [(SPACE, "ada")]) == ["1"]  # one new connection, no retry loop
    assert await pipe.execute("CLIENT", "ID") != first


@pytest.mark.e2e  # a real Redis
async def test_close_fails_what_is_pending_and_a_later_read_connects_again(
    store: RedisIdStore, raw: redis.Redis, prefix: str
):
    await store.put(1, {SPACE: {"ada": "1"}})
    pipe = store._pipe
    assert pipe is not None
    gate = f"{prefix}:gate"
    blocked = asyncio.create_task(pipe.execute("BLPOP", gate, 0))
    await _written(pipe, blocked)
    await store.close()
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(blocked, HANG)
    assert await store.get_many(1, [(SPACE, "ada")]) == ["1"]


@pytest.mark.e2e  # a real Redis
async def test_concurrent_first_reads_open_one_connection(store: RedisIdStore, raw: redis.Redis):
    await store.put(1, {SPACE: {"ada": "1"}})
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    pipe = store._pipe
    assert pipe is not None
    # Name the connection as it is made, so the server can count this pipe's connections.
    pipe._handshake.append(pack(["CLIENT", "SETNAME", name]))
    got = await asyncio.gather(*(store.get_many(1, [(SPACE, "ada")]) for _ in range(50)))
    assert got == [["1"]] * 50
    clients = await raw.client_list()
    assert sum(1 for c in clients if c.get("name") == name) == 1


@pytest.mark.e2e  # a real Redis
def test_a_store_used_on_a_later_event_loop_connects_again_on_it(prefix: str):
    """A connection belongs to the loop that made it; a store used on a later loop (a test's,
    a forked worker's) must not hand that loop a socket of the old one."""
    store = RedisIdStore(REDIS_URL, prefix=prefix)

    async def first() -> list[str | None]:
        await store.put(1, {SPACE: {"ada": "1"}})
        return await store.get_many(1, [(SPACE, "ada")])

    async def later() -> list[str | None]:
        try:
            got = await store.get_many(1, [(SPACE, "ada")])
            assert store.answering  # no failure on the way
            return got
        finally:
            await store._pipe.close()  # type: ignore[union-attr]

    try:
        assert asyncio.run(first()) == ["1"]
        assert asyncio.run(later()) == ["1"]
    finally:
        asyncio.run(drop_keys(f"{prefix}:*"))
