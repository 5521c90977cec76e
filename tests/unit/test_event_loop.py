"""The loop the gateway starts on: uvloop when installed, asyncio's own without it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import uvloop
from aiohttp import web

import gateway.__main__ as gateway_main
from gateway.eventloop import new_event_loop


def test_gateway_start_up_serves_on_uvloop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WS_") or name == "PORT":
            monkeypatch.delenv(name)
    config = tmp_path / "config.toml"
    config.write_text('[backend]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                      f'[auth]\ncredentials_file = "{tmp_path / "credentials.json"}"\n')
    served: list[dict] = []
    monkeypatch.setattr(web, "run_app", lambda app, **kw: served.append(kw))
    assert gateway_main.main(["--config", str(config)]) == 0
    loop = served[0]["loop"]
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


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
