"""The Redis pipe's tests run on both event loops; the rest of this folder on asyncio's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    """The pipe is an asyncio.Protocol: uvloop (what the gateway serves on) calls it with
    its own transports, so each of its tests runs on both loops."""
    if item.path.name == "test_redis_pipe.py":
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}
