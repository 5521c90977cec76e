"""Start-up mistakes `python -m gateway` refuses: one line naming the problem, a non-zero
exit, never a traceback or a silent run on defaults."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.auth import CredentialStore, ScryptParams
from gateway.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]


def run_gateway(*args: str, env: dict[str, str] | None = None,
                cwd: Path = ROOT) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WS_") and k != "PORT"}
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env={**clean, **(env or {})})


def one_line(result: subprocess.CompletedProcess) -> str:
    """The one line saying why start-up stopped; the JSON log records of start-up before it
    (configuration, mapping modules) are not part of the refusal."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not _is_log_record(line)]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _is_log_record(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("level") in ("info", "warning")


@pytest.fixture
def production_config(tmp_path: Path) -> Path:
    """A config for a real backend (nothing listens there: start-up doesn't call it), with
    an existing credentials file so start-up has nothing to warn about."""
    credentials = tmp_path / "credentials.json"
    CredentialStore(credentials, params=ScryptParams(n=2**10)).issue_basic(17)
    path = tmp_path / "config.toml"
    path.write_text('[backend]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                    f'[auth]\ncredentials_file = "{credentials}"\n')
    return path


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process's socket is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_misspelt_ws_variable_is_refused_naming_it_and_the_likely_key() -> None:
    result = run_gateway("--config", str(ROOT / "config.toml"),
                         env={"WS_BACKEND_URLS": "http://backend:8080"})
    assert result.returncode == 2
    line = one_line(result)
    assert "WS_BACKEND_URLS" in line and "did you mean WS_BACKEND_URL?" in line
    assert "http://backend:8080" not in line  # the value may be a secret


def test_unknown_ws_variable_is_refused_by_load_config_but_other_variables_are_not() -> None:
    with pytest.raises(ConfigError, match="WS_SERVER_WORKER "):
        load_config(None, env={"WS_SERVER_WORKER": "2"})
    config = load_config(None, env={"WS_SERVER_WORKERS": "2", "WSX_ANYTHING": "1",
                                    "WORKSTREAM_SANDBOX_TOKEN": "t", "PORT": "9000"})
    assert config.server.workers == 2 and config.server.port == 9000


def test_config_file_that_does_not_exist_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = run_gateway("--config", str(missing))
    assert result.returncode == 2
    assert str(missing) in one_line(result) and "does not exist" in result.stderr


def test_without_config_flag_a_directory_without_config_toml_runs_on_defaults(
    tmp_path: Path,
) -> None:
    # --require-backend stops it right after the config is read: no config.toml is not an error.
    result = run_gateway("--require-backend", cwd=tmp_path,
                         env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "backend.url is not set" in one_line(result)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_taken_port_is_refused_naming_the_address(
    production_config: Path, taken_port: int, workers: str
) -> None:
    result = run_gateway("--config", str(production_config),
                         env={"PORT": str(taken_port), "WS_SERVER_WORKERS": workers,
                              "WS_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode == 1
    assert one_line(result) == (f"workstream-gateway: cannot listen on 127.0.0.1:{taken_port}: "
                                "address already in use")


def test_demo_on_a_taken_port_is_refused_naming_the_address(taken_port: int) -> None:
    result = run_gateway("--config", str(ROOT / "config.toml"), env={"PORT": str(taken_port)})
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_several_workers_without_redis_are_refused(production_config: Path) -> None:
    result = run_gateway("--config", str(production_config), env={"WS_SERVER_WORKERS": "2"})
    assert result.returncode == 2
    line = one_line(result)
    assert "server.workers" in line and "redis.url" in line


def test_zero_workers_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"server\.workers"):
        load_config(None, env={"WS_SERVER_WORKERS": "0"})


def test_procfile_listens_on_every_interface_at_port() -> None:
    command = (ROOT / "Procfile").read_text().strip().removeprefix("web: ")
    args = shlex.split(command)
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert "--port" not in args  # PORT from the platform sets server.port


def test_demo_stays_one_process_and_says_so_when_workers_are_asked_for(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import gateway.__main__ as gateway_main
    import gateway.demo

    for name in list(os.environ):
        if name.startswith("WS_") or name == "PORT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("WS_SERVER_WORKERS", "2")
    demos: list = []
    monkeypatch.setattr(gateway.demo, "run_demo", demos.append)
    monkeypatch.setattr(gateway_main, "serve_workers", lambda *a: pytest.fail("forked"))
    # In-process: the test runner's log capture stays as it is.
    monkeypatch.setattr(gateway_main.logs, "configure", lambda *a, **k: None)
    assert gateway_main.main(["--config", str(ROOT / "config.toml")]) == 0
    assert len(demos) == 1
    assert any("demo mode runs one process" in r.getMessage() for r in caplog.records)


def test_tools_reading_one_section_refuse_a_misspelt_ws_variable_too() -> None:
    from gateway.config import load_section

    with pytest.raises(ConfigError, match="did you mean WS_AUTH_CREDENTIALS_FILE"):
        load_section("auth", None, env={"WS_AUTH_CREDENTIAL_FILE": "other.json"})


@pytest.mark.parametrize("how", ["flag", "env"])
def test_host_is_set_by_the_flag_or_ws_server_host(production_config: Path, how: str) -> None:
    # The address is proven by the refusal naming it: another socket holds it.
    with socket.socket() as other:
        other.bind(("0.0.0.0", 0))
        other.listen()
        port = other.getsockname()[1]
        flag = ["--host", "0.0.0.0"] if how == "flag" else []
        env = {"PORT": str(port), "WS_REDIS_URL": "redis://127.0.0.1:6379/0"}
        env |= {"WS_SERVER_HOST": "0.0.0.0"} if how == "env" else {}
        result = run_gateway("--config", str(production_config), *flag, env=env)
    assert result.returncode == 1
    assert one_line(result) == (f"workstream-gateway: cannot listen on 0.0.0.0:{port}: "
                                "address already in use")
