"""`workstream-admin credentials` (and its alias `workstream-credentials`): what support
types, what it prints, its exit codes, against a real state database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from alembic.script import ScriptDirectory

from gateway.admin.__main__ import main as admin_main
from gateway.admin.credentials import main
from gateway.auth import CredentialStore
from gateway.auth.hashing import ScryptParams, hash_secret
from gateway.state import StateDB
from gateway.state.db import MIGRATIONS
from sandbox.app import SANDBOX_KEY, create_app
from tests.conftest import SANDBOX_TOKEN, _empty
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[3]


def issued_fields(out: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(username|password|token): (\S+)$", out, re.M))


async def _verify(url: str, *, basic: tuple[str, str] | None = None,
                  token: str | None = None) -> int | None:
    db = StateDB(url)
    try:
        store = CredentialStore(db)
        await store.reload()
        if basic is not None:
            return await store.verify_basic(*basic)
        assert token is not None
        return await store.verify_bearer(token)
    finally:
        await db.close()


def verify_basic(url: str, username: str, password: str) -> int | None:
    """What a gateway reading `url` would answer (run as a separate process would)."""
    return asyncio.run(_verify(url, basic=(username, password)))


def verify_bearer(url: str, token: str) -> int | None:
    return asyncio.run(_verify(url, token=token))


async def _reset(url: str) -> None:
    db = StateDB(url)
    try:
        await db.ready()
        await _empty(db)
    finally:
        await db.close()


@pytest.fixture
def state(state_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty, migrated state database (both engines); no WS_* of the caller leaks in."""
    for name in ("WS_STATE_URL", "WS_AUTH_ROTATION_GRACE_S", "WS_BACKEND_URL",
                 "WS_BACKEND_TOKEN", "WS_AUTH_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    asyncio.run(_reset(state_url))
    return state_url


def test_issue_prints_username_and_password_once_and_they_work(state, capsys) -> None:
    assert main(["--state-url", state, "issue", "--org", "17", "--label", "okta"]) == 0
    out = capsys.readouterr().out
    fields = issued_fields(out)
    assert "will not be shown again" in out
    assert "org 17" in out
    assert verify_basic(state, fields["username"], fields["password"]) == 17

    assert main(["--state-url", state, "list"]) == 0
    listing = capsys.readouterr().out
    assert fields["username"] in listing and "okta" in listing
    assert fields["password"] not in listing


def test_issue_token_prints_a_bearer_token_that_works(state, capsys) -> None:
    assert main(["issue-token", "--org", "9", "--state-url", state]) == 0
    out = capsys.readouterr().out
    token = issued_fields(out)["token"]
    assert token.startswith("wsg_") and "will not be shown again" in out
    assert verify_bearer(state, token) == 9


def test_workstream_admin_credentials_is_the_same_command(state, capsys) -> None:
    assert admin_main(["credentials", "issue-token", "--org", "9", "--state-url", state]) == 0
    token = issued_fields(capsys.readouterr().out)["token"]
    assert verify_bearer(state, token) == 9
    assert admin_main(["--state-url", state, "credentials", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["credentials"]
    assert listed["org_id"] == 9 and listed["status"] == "active"


def test_state_url_comes_from_the_environment(tmp_path, capsys, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("WS_STATE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert main(["issue", "--org", "3"]) == 0
    assert (tmp_path / "from-env.db").exists() and not (tmp_path / "gateway-state.db").exists()


def test_state_url_defaults_to_gateway_state_db(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("WS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["issue", "--org", "3"]) == 0
    assert (tmp_path / "gateway-state.db").exists()


def test_state_url_comes_from_config_toml(tmp_path, capsys, monkeypatch) -> None:
    # Ops set the database only in config.toml: support must issue into the one the gateway reads.
    monkeypatch.delenv("WS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "config.toml").write_text(
        '[state]\nurl = "sqlite:///secrets/state.db"\n')
    assert main(["issue", "--org", "3"]) == 0
    assert (tmp_path / "secrets" / "state.db").exists()
    assert not (tmp_path / "gateway-state.db").exists()


def test_config_flag_names_the_config_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("WS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "etc" / "gateway.toml"
    config.parent.mkdir()
    config.write_text(f'[state]\nurl = "sqlite:///{tmp_path / "ops.db"}"\n')
    assert main(["issue-token", "--org", "4", "--config", str(config)]) == 0
    assert (tmp_path / "ops.db").exists() and not (tmp_path / "gateway-state.db").exists()


def test_environment_and_flag_beat_config_toml(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[state]\nurl = "sqlite:///from-config.db"\n')
    monkeypatch.setenv("WS_STATE_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    assert main(["issue", "--org", "3"]) == 0
    assert main(["--state-url", f"sqlite:///{tmp_path / 'from-flag.db'}", "issue",
                 "--org", "3"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["from-env.db", "from-flag.db"]


@pytest.mark.parametrize("config_text,message", [
    ('[state]\nurll = "sqlite:///x.db"\n', "state.urll"),
    ("[state\n", "not valid TOML"),
    ("[state]\nurl = 5\n", "state.url"),
    ('[state]\nurl = "mysql://db/x"\n', "unsupported database"),
])
def test_bad_config_toml_fails_with_exit_1_and_writes_nothing(
    tmp_path, capsys, monkeypatch, config_text, message
) -> None:
    monkeypatch.delenv("WS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(config_text)
    assert main(["issue", "--org", "3"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.glob("*.db")) == []


def test_a_named_config_file_that_does_not_exist_fails_with_exit_1(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv("WS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(tmp_path / "typo.toml"), "issue", "--org", "3"]) == 1
    assert "typo.toml does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_is_one_line_and_exit_1(capsys) -> None:
    url = "postgresql://postgres@127.0.0.1:9/nowhere"
    assert main(["--state-url", url, "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: state database") and "can't be reached" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_rotate_keeps_the_old_password_for_the_grace_window_unless_now(state, capsys) -> None:
    main(["--state-url", state, "issue", "--org", "17"])
    old = issued_fields(capsys.readouterr().out)
    cid = old["username"].rsplit("-", 1)[1]

    assert main(["--state-url", state, "rotate", cid]) == 0
    out = capsys.readouterr().out
    new = issued_fields(out)
    assert "will not be shown again" in out and new["username"] == old["username"]
    assert "keeps working until" in out
    assert verify_basic(state, old["username"], old["password"]) == 17  # a day of overlap
    assert verify_basic(state, new["username"], new["password"]) == 17

    assert main(["--state-url", state, "rotate", cid, "--now"]) == 0
    newest = issued_fields(capsys.readouterr().out)
    assert verify_basic(state, new["username"], new["password"]) is None
    assert verify_basic(state, old["username"], old["password"]) is None
    assert verify_basic(state, newest["username"], newest["password"]) == 17


def test_rotation_grace_comes_from_the_config(state, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WS_AUTH_ROTATION_GRACE_S", "0")
    main(["--state-url", state, "issue", "--org", "17"])
    old = issued_fields(capsys.readouterr().out)
    assert main(["--state-url", state, "rotate", old["username"].rsplit("-", 1)[1]]) == 0
    assert verify_basic(state, old["username"], old["password"]) is None


def test_revoke_stops_the_credential_and_list_shows_it_revoked(state, capsys) -> None:
    main(["--state-url", state, "issue-token", "--org", "17"])
    token = issued_fields(capsys.readouterr().out)["token"]
    cid = token.split("_")[1]

    assert main(["--state-url", state, "revoke", cid]) == 0
    assert "Revoked" in capsys.readouterr().out
    assert verify_bearer(state, token) is None
    assert main(["--state-url", state, "revoke", cid]) == 0
    assert "already revoked" in capsys.readouterr().out
    main(["--state-url", state, "list"])
    assert "revoked" in capsys.readouterr().out


def test_rotating_a_revoked_credential_fails_with_exit_1(state, capsys) -> None:
    main(["--state-url", state, "issue", "--org", "17"])
    cid = issued_fields(capsys.readouterr().out)["username"].rsplit("-", 1)[1]
    main(["--state-url", state, "revoke", cid])
    capsys.readouterr()
    assert main(["--state-url", state, "rotate", cid]) == 1
    assert "revoked" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["rotate", "revoke"])
def test_unknown_credential_id_fails_with_exit_1(state, capsys, command) -> None:
    assert main(["--state-url", state, command, "deadbeef0000"]) == 1
    captured = capsys.readouterr()
    assert "no credential 'deadbeef0000'" in captured.err and captured.out == ""


@pytest.mark.parametrize("argv", [
    ["issue"],
    ["issue", "--org", "0"],
    ["issue", "--org", "seventeen"],
    ["issue", "--org", "1", "--expires", "someday"],
    ["issue-token"],
    ["rotate"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2(tmp_path, capsys, argv) -> None:
    assert main(["--state-url", f"sqlite:///{tmp_path / 'c.db'}", *argv]) == 2
    assert "usage" in capsys.readouterr().err
    assert not (tmp_path / "c.db").exists()


def test_expires_is_shown_and_a_past_expiry_is_refused(state, capsys) -> None:
    assert main(["--state-url", state, "issue", "--org", "1", "--expires", "90d"]) == 0
    capsys.readouterr()
    assert main(["--state-url", state, "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["credentials"]
    assert listed["expires_at"] is not None and listed["status"] == "active"
    assert main(["--state-url", state, "issue", "--org", "1", "--expires", "2001-01-01"]) == 1
    assert "in the past" in capsys.readouterr().err


def test_list_can_be_narrowed_to_one_org(state, capsys) -> None:
    main(["--state-url", state, "issue", "--org", "1", "--label", "first"])
    main(["--state-url", state, "issue", "--org", "2", "--label", "second"])
    capsys.readouterr()
    assert main(["--state-url", state, "list", "--org", "2"]) == 0
    out = capsys.readouterr().out
    assert "second" in out and "first" not in out
    assert main(["--state-url", state, "list", "--org", "2", "--json"]) == 0
    assert [c["label"] for c in json.loads(capsys.readouterr().out)["credentials"]] == ["second"]


def test_list_of_an_empty_store_says_so(state, capsys) -> None:
    assert main(["--state-url", state, "list"]) == 0
    assert "No credentials" in capsys.readouterr().out


def _legacy_file(path: Path, password: str) -> None:
    secret_hash = hash_secret(password, ScryptParams(n=2**10)).to_json()
    path.write_text(json.dumps({"format": "workstream-scim-credentials", "version": 1,
                                "credentials": [{
                                    "id": "0123456789ab", "kind": "basic", "org_id": 17,
                                    "label": "okta", "username": "scim-17-0123456789ab",
                                    "created_at": "2026-01-01T00:00:00+00:00",
                                    "rotated_at": None, "revoked_at": None,
                                    "hash": secret_hash}]}))


def test_import_moves_a_credentials_file_in_once(state, tmp_path, capsys) -> None:
    path = tmp_path / "credentials.json"
    _legacy_file(path, "issued-last-year")
    assert main(["--state-url", state, "import", str(path)]) == 0
    assert "Imported 1 credential(s)" in capsys.readouterr().out
    assert verify_basic(state, "scim-17-0123456789ab", "issued-last-year") == 17
    assert main(["--state-url", state, "import", str(path)]) == 0
    assert "Imported 0 credential(s)" in capsys.readouterr().out


def test_import_reads_auth_credentials_file_by_default(state, tmp_path, capsys,
                                                      monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _legacy_file(tmp_path / "credentials.json", "pw")
    assert main(["--state-url", state, "import"]) == 0
    assert verify_basic(state, "scim-17-0123456789ab", "pw") == 17


def test_importing_a_broken_file_fails_with_exit_1(state, tmp_path, capsys) -> None:
    path = tmp_path / "c.json"
    path.write_text("[]")
    assert main(["--state-url", state, "import", str(path)]) == 1
    assert "not a valid credentials file" in capsys.readouterr().err


@pytest.fixture
def sandbox_backend() -> Iterator[tuple[str, int]]:
    """A real sandbox with one org, served from a thread's event loop (the CLI runs its own)."""
    app = create_app(":memory:", SANDBOX_TOKEN)
    org = app[SANDBOX_KEY].store.create_org("Known Co", True, True, 50)
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", org["id"]
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_issue_refuses_an_org_the_backend_does_not_know(state, sandbox_backend, capsys,
                                                        monkeypatch) -> None:
    url, known = sandbox_backend
    monkeypatch.setenv("WS_BACKEND_URL", url)
    monkeypatch.setenv("WS_BACKEND_TOKEN", SANDBOX_TOKEN)
    assert main(["--state-url", state, "issue", "--org", "999999"]) == 1
    err = capsys.readouterr().err
    assert "org 999999 does not exist" in err and "Traceback" not in err
    assert main(["--state-url", state, "list"]) == 0
    assert "No credentials" in capsys.readouterr().out
    assert main(["--state-url", state, "issue", "--org", str(known)]) == 0


def test_the_installed_commands_run(state, tmp_path) -> None:
    for argv in (["-m", "gateway.admin", "--state-url", state, "state", "migrate"],
                 ["-m", "gateway.cli", "--state-url", state, "list"]):
        result = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                                timeout=60, cwd=ROOT)
        assert result.returncode == 0, result.stderr
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"revision {head}" in subprocess.run(
        [sys.executable, "-m", "gateway.admin", "--state-url", state, "state", "migrate"],
        capture_output=True, text=True, timeout=60, cwd=ROOT).stdout
