"""The id store's fixtures; the Redis pipe's tests run on both event loops, the rest of
this folder on asyncio's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import uvloop

from gateway.idstore import RedisIdStore
from tests.conftest import REDIS_URL, drop_keys

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    """The pipe is an asyncio.Protocol: uvloop (what the gateway serves on) calls it with
    its own transports, so each of its tests runs on both loops."""
    if item.path.name == "test_redis_pipe.py":
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own: tests share the one real Redis."""
    return f"wsgtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_store(prefix: str) -> AsyncIterator[RedisIdStore]:
    """A store on the real Redis, its keys dropped afterwards."""
    store = RedisIdStore(REDIS_URL, prefix=prefix)
    yield store
    await store.close()
    await drop_keys(f"{prefix}:*")
