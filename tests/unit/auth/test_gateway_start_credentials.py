"""`python -m gateway` and the credentials file: a clear refusal or a loud warning, never
a traceback or a silent gateway that refuses everyone."""

from __future__ import annotations

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
from gateway.web import serve

ROOT = Path(__file__).resolve().parents[3]


def production_config(tmp_path: Path, credentials: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[backend]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                    f'[auth]\ncredentials_file = "{credentials}"\n')
    return path


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


def test_malformed_credentials_file_is_a_message_and_exit_2(tmp_path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config",
         str(production_config(tmp_path, credentials))],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ))
    assert result.returncode == 2
    assert "not a valid credentials file" in result.stderr and str(credentials) in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_file_is_warned_about_at_start(
    tmp_path, caplog: pytest.LogCaptureFixture, started: list
) -> None:
    credentials = tmp_path / "nowhere" / "credentials.json"
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config", str(production_config(tmp_path, credentials))]) == 0
    assert len(started) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(credentials) in warnings[0].getMessage()
    assert "401" in warnings[0].getMessage()


def test_existing_credentials_file_starts_without_a_warning(
    tmp_path, caplog: pytest.LogCaptureFixture, started: list
) -> None:
    credentials = tmp_path / "credentials.json"
    CredentialStore(credentials, params=ScryptParams(n=2**10)).issue_basic(17)
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config", str(production_config(tmp_path, credentials))]) == 0
    assert len(started) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_demo_mode_does_not_warn_about_a_credentials_file(
    tmp_path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    demos: list = []
    monkeypatch.setattr(gateway.demo, "run_demo", demos.append)
    config = tmp_path / "config.toml"
    config.write_text(f'[auth]\ncredentials_file = "{tmp_path / "missing.json"}"\n')
    caplog.set_level(logging.WARNING)
    assert gateway_main.main(["--config", str(config)]) == 0
    assert len(demos) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
