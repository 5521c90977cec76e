"""`python -m gateway` and its state database: a clear refusal or a loud warning, never
a traceback or a silent gateway that refuses everyone."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

import gateway.__main__ as gateway_main
import gateway.demo
from gateway.auth import CredentialStore, ScryptParams
from gateway.state import StateDB
from gateway.web import serve

ROOT = Path(__file__).resolve().parents[3]


def production_config(tmp_path: Path, credentials: Path, state_url: str | None = None) -> Path:
    path = tmp_path / "config.toml"
    state_url = state_url or f"sqlite:///{tmp_path / 'gateway-state.db'}"
    path.write_text('[backend]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                    f'[state]\nurl = "{state_url}"\n'
                    f'[auth]\ncredentials_file = "{credentials}"\n')
    return path


async def _issue(state_url: str) -> None:
    db = StateDB(state_url)
    try:
        await CredentialStore(db, params=ScryptParams(n=2**10)).issue_basic(17)
    finally:
        await db.close()


@pytest.fixture(autouse=True)
def no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config files below say everything; WS_* variables of the caller must not."""
    for name in list(os.environ):
        if name.startswith("WS_") or name == "PORT":
            monkeypatch.delenv(name)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[web.Application]:
    """Apps `main` would have served; nothing listens."""
    apps: list[web.Application] = []
    monkeypatch.setattr(serve, "run", lambda app, _config, **_kw: apps.append(app))
    return apps


@pytest.mark.parametrize("state_url,message", [
    ("postgresql://postgres@127.0.0.1:9/nowhere", "can't be reached"),
    ("mysql://db/nowhere", "unsupported database"),
])
def test_an_unusable_state_url_is_one_line_and_exit_2(tmp_path, state_url, message) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config",
         str(production_config(tmp_path, tmp_path / "credentials.json", state_url))],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ))
    assert result.returncode == 2
    # Log records may come first; the refusal itself is one line, the last.
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("workstream-gateway: ") and message in last and "state" in last
    assert "Traceback" not in result.stderr


def test_a_credentials_file_next_to_an_empty_database_is_warned_about_at_start(
    tmp_path, caplog: pytest.LogCaptureFixture, started: list
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config", str(production_config(tmp_path, credentials))]) == 0
    assert len(started) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(credentials) in warnings[0].getMessage()
    assert "401" in warnings[0].getMessage() and "import" in warnings[0].getMessage()


def test_a_database_holding_credentials_starts_without_a_warning(
    tmp_path, caplog: pytest.LogCaptureFixture, started: list
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")  # left behind after the import: nothing to say
    state_url = f"sqlite:///{tmp_path / 'gateway-state.db'}"
    asyncio.run(_issue(state_url))
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config",
                              str(production_config(tmp_path, credentials, state_url))]) == 0
    assert len(started) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_gateway_migrates_a_new_database_at_start(tmp_path, started: list) -> None:
    state_url = f"sqlite:///{tmp_path / 'new.db'}"
    assert gateway_main.main(["--config", str(production_config(
        tmp_path, tmp_path / "none.json", state_url))]) == 0

    async def pending() -> list[str]:
        db = StateDB(state_url)
        try:
            return await db.pending()
        finally:
            await db.close()

    assert asyncio.run(pending()) == []


def test_demo_mode_does_not_warn_about_a_credentials_file_nor_touch_state_url(
    tmp_path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    demos: list = []
    monkeypatch.setattr(gateway.demo, "run_demo", demos.append)
    config = tmp_path / "config.toml"
    config.write_text(f'[auth]\ncredentials_file = "{tmp_path / "missing.json"}"\n'
                      f'[state]\nurl = "sqlite:///{tmp_path / "never.db"}"\n')
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config", str(config)]) == 0
    assert len(demos) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not (tmp_path / "never.db").exists()
