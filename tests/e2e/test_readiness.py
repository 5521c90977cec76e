"""/healthz and /readyz over real sockets: ready only when the backend and Redis answer.

Each gateway here is a real server in front of the real sandbox and Redis, or in
front of a port where nothing listens (a dependency that is down).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.auth import CredentialStore
from gateway.config import Config
from gateway.idstore.base import IdStore
from gateway.web.app import build_app
from tests.conftest import World
from tests.net import free_port

pytestmark = pytest.mark.e2e

Start = Callable[..., Any]


@pytest.fixture
async def start(world: World) -> AsyncIterator[Start]:
    """Start a gateway like the world's, with some config changed; returns its base URL."""
    servers: list[TestServer] = []

    async def start(*, id_store: IdStore | None = None, **sections: Any) -> str:
        config: Config = world.extra["config"]
        for name, changes in sections.items():
            config = replace(config, **{name: replace(getattr(config, name), **changes)})
        server = TestServer(build_app(config, CredentialStore(None), id_store=id_store),
                            host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict, str, dict]:
    async with session.get(url) as resp:
        text = await resp.text()
        return resp.status, await resp.json(content_type=None), text, dict(resp.headers)


async def test_ready_when_backend_and_redis_answer_without_credentials(world: World) -> None:
    base = world.gateway_url.removesuffix("/scim/v2")
    status, body, _, _ = await get(world.session, base + "/readyz")
    assert status == 200
    assert body == {"status": "ready", "checks": {"backend": "ok", "redis": "ok"}}


async def test_redis_down_is_not_ready_and_names_redis(world: World, start: Start) -> None:
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    base = await start(redis={"url": redis_url})
    status, body, text, headers = await get(world.session, base + "/readyz")
    assert status == 503
    assert body["failed"] == ["redis"]
    assert body["checks"] == {"backend": "ok", "redis": "failed"}
    assert headers["Retry-After"].isdigit()
    assert redis_url not in text and "127.0.0.1" not in text
    # Liveness is about the process only: it still answers.
    status, body, _, _ = await get(world.session, base + "/healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_backend_down_is_not_ready_and_names_the_backend(
    world: World, start: Start
) -> None:
    backend_url = f"http://127.0.0.1:{free_port()}"
    base = await start(id_store=world.store, backend={"url": backend_url})
    status, body, text, _ = await get(world.session, base + "/readyz")
    assert status == 503
    assert body["failed"] == ["backend"]
    assert body["checks"] == {"backend": "failed", "redis": "ok"}
    assert backend_url not in text


async def test_backend_refusing_the_token_is_not_ready_and_the_token_is_not_shown(
    world: World, start: Start
) -> None:
    base = await start(id_store=world.store, backend={"token": "not-the-service-token"})
    status, body, text, _ = await get(world.session, base + "/readyz")
    assert status == 503
    assert body["failed"] == ["backend"]
    assert "not-the-service-token" not in text


async def test_backend_and_redis_both_down_are_both_named(world: World, start: Start) -> None:
    base = await start(backend={"url": f"http://127.0.0.1:{free_port()}"},
                       redis={"url": f"redis://127.0.0.1:{free_port()}/0"})
    status, body, _, _ = await get(world.session, base + "/readyz")
    assert status == 503
    assert body["failed"] == ["backend", "redis"]


class TestBehindAFaultProxy:
    @pytest.fixture
    def fault_proxy_enabled(self) -> bool:
        return True

    async def test_hung_backend_is_not_ready_once_its_check_times_out(self, world: World) -> None:
        proxy = world.extra["proxy"]
        proxy.faults.hang = lambda request: request.path.endswith("/orgs/0")
        base = world.gateway_url.removesuffix("/scim/v2")
        status, body, _, _ = await get(world.session, base + "/readyz")
        assert status == 503
        assert body["checks"] == {"backend": "timeout", "redis": "ok"}


async def test_in_process_id_store_has_no_redis_to_check(world: World, start: Start) -> None:
    from gateway.idstore import MemoryIdStore

    base = await start(id_store=MemoryIdStore())
    status, body, _, _ = await get(world.session, base + "/readyz")
    assert (status, body) == (200, {"status": "ready", "checks": {"backend": "ok"}})
