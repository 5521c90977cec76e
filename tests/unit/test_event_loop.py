"""The loop the gateway starts on: uvloop when installed, asyncio's own without it."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop
from aiohttp import web

from gateway.eventloop import new_event_loop
from gateway.web import serve


def test_gateway_serves_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    class Started(Exception):
        pass

    async def start_site(app, config, **options):
        seen.append(asyncio.get_running_loop())
        raise Started  # ends serve.run here: only the loop it runs on matters

    monkeypatch.setattr(serve, "start_site", start_site)
    with pytest.raises(Started):
        serve.run(web.Application(), None)  # type: ignore[arg-type]
    assert isinstance(seen[0], uvloop.Loop)


def test_without_uvloop_the_gateway_runs_on_the_standard_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now fails
    loop = new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_the_standard_loop_on_request_even_with_uvloop_installed() -> None:
    loop = new_event_loop(prefer_uvloop=False)
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
