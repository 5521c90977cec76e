"""Slow and idle clients against a gateway served as in production (gateway.web.serve).

Raw sockets play the slow clients; the good requests go through aiohttp's client
at the same time. Deadlines are short here so the tests finish quickly; every wait
has an upper bound only so that a broken gateway fails the test instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.web.app import build_app
from gateway.web.serve import GuardedSite, start_site
from tests.conftest import World

HANG_GUARD_S = 15.0  # far above every deadline below; reached only if nothing is cut off


@pytest.fixture
def server_settings() -> dict:
    return {"header_timeout_s": 1.0, "body_timeout_s": 1.0, "keepalive_timeout_s": 30.0,
            "max_connections": 50}


@pytest.fixture
async def served(world: World, server_settings: dict) -> AsyncIterator[GuardedSite]:
    config = world.extra["config"]
    config = replace(config, server=replace(config.server, **server_settings))
    app = build_app(config, world.credentials, id_store=world.store)
    runner, site = await start_site(app, config, host="127.0.0.1", port=0)
    try:
        yield site
    finally:
        await runner.cleanup()


def base_url(site: GuardedSite) -> str:
    return f"http://127.0.0.1:{site.port}/scim/v2"


async def connect(site: GuardedSite) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", site.port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection."""
    return await asyncio.wait_for(reader.read(), HANG_GUARD_S)


async def dribble(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send `data` a byte every 100 ms, as a slowloris client does, until cut off."""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)
    except (ConnectionError, OSError):
        pass


async def test_client_dribbling_headers_is_cut_off_while_good_requests_are_served(
    world: World, served: GuardedSite
) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow = asyncio.ensure_future(dribble(writer, b"X-Padding: " + b"a" * 1000))
    world.a.base = base_url(served)
    status, body, _ = await world.a.get("/Users")
    assert status == 200, body
    assert await closed_by_server(reader) == b""  # cut off, never answered
    await slow
    writer.close()
    assert served.timed_out == 1


async def test_client_dribbling_its_body_is_cut_off(world: World, served: GuardedSite) -> None:
    reader, writer = await connect(served)
    writer.write(b"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: " + world.a.auth.encode() + b"\r\n"
                 b"Content-Type: application/scim+json\r\nContent-Length: 500\r\n\r\n{")
    slow = asyncio.ensure_future(dribble(writer, b'"userName": "slow"' * 20))
    world.a.base = base_url(served)
    assert (await world.a.get("/Users"))[0] == 200
    await closed_by_server(reader)
    await slow
    writer.close()
    assert served.timed_out == 1
    assert await world.backend.employees(world.org_a) == []  # nothing half-created


async def test_silent_connection_is_closed_after_the_header_timeout(served: GuardedSite) -> None:
    reader, writer = await connect(served)
    assert await closed_by_server(reader) == b""
    writer.close()


@pytest.mark.parametrize("server_settings", [{"keepalive_timeout_s": 0.5}])
async def test_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    world: World, served: GuardedSite
) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 200")  # answered, kept alive, then closed when idle
    writer.close()


@pytest.mark.parametrize("server_settings", [{"max_connections": 3,
                                              "header_timeout_s": 30.0}])
async def test_connections_over_the_cap_get_503_while_open_ones_are_served(
    world: World, served: GuardedSite
) -> None:
    held = [await connect(served) for _ in range(3)]
    for reader, writer in held:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"}"), HANG_GUARD_S)).startswith(
            b"HTTP/1.1 200")
    extra_reader, extra_writer = await connect(served)
    refused = await closed_by_server(extra_reader)
    extra_writer.close()
    assert refused.startswith(b"HTTP/1.1 503")
    assert b"\r\nRetry-After: 1\r\n" in refused and b'"status":"503"' in refused
    # The connections already open are still served.
    reader, writer = held[0]
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert (await closed_by_server(reader)).startswith(b"HTTP/1.1 200")
    for _, writer in held:
        writer.close()
    assert served.refused == 1
