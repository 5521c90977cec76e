"""`workstream-credentials`: what support types, what it prints, its exit codes."""

from __future__ import annotations

import json
import re

import pytest

from gateway.auth import CredentialStore
from gateway.cli import main


def issued_fields(out: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(username|password|token): (\S+)$", out, re.M))


async def test_issue_prints_username_and_password_once_and_they_work(tmp_path, capsys) -> None:
    path = tmp_path / "creds.json"
    assert main(["--credentials", str(path), "issue", "--org", "17", "--label", "okta"]) == 0
    out = capsys.readouterr().out
    fields = issued_fields(out)
    assert "will not be shown again" in out
    assert "org 17" in out
    assert await CredentialStore(path).verify_basic(fields["username"], fields["password"]) == 17

    assert main(["--credentials", str(path), "list"]) == 0
    listing = capsys.readouterr().out
    assert fields["username"] in listing and "okta" in listing
    assert fields["password"] not in listing
    assert fields["password"] not in path.read_text()


async def test_issue_token_prints_a_bearer_token_that_works(tmp_path, capsys) -> None:
    path = tmp_path / "creds.json"
    assert main(["issue-token", "--org", "9", "--credentials", str(path)]) == 0
    out = capsys.readouterr().out
    token = issued_fields(out)["token"]
    assert token.startswith("wsg_") and "will not be shown again" in out
    assert await CredentialStore(path).verify_bearer(token) == 9


def test_credentials_file_comes_from_the_environment(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "from-env.json"
    monkeypatch.setenv("WS_AUTH_CREDENTIALS_FILE", str(path))
    monkeypatch.chdir(tmp_path)
    assert main(["issue", "--org", "3"]) == 0
    assert path.exists() and not (tmp_path / "credentials.json").exists()


def test_credentials_file_defaults_to_credentials_json(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("WS_AUTH_CREDENTIALS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["issue", "--org", "3"]) == 0
    assert json.loads((tmp_path / "credentials.json").read_text())["credentials"][0]["org_id"] == 3


def test_credentials_file_comes_from_config_toml(tmp_path, capsys, monkeypatch) -> None:
    # Ops set the file only in config.toml: support must issue into the file the gateway reads.
    monkeypatch.delenv("WS_AUTH_CREDENTIALS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(
        '[backend]\nurl = "http://backend:8080"\n'  # no token: the CLI needs only [auth]
        '[auth]\ncredentials_file = "secrets/scim-credentials.json"\n')
    assert main(["issue", "--org", "3"]) == 0
    assert (tmp_path / "secrets" / "scim-credentials.json").exists()
    assert not (tmp_path / "credentials.json").exists()


def test_config_flag_names_the_config_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("WS_AUTH_CREDENTIALS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "etc" / "gateway.toml"
    config.parent.mkdir()
    config.write_text(f'[auth]\ncredentials_file = "{tmp_path / "ops.json"}"\n')
    assert main(["issue-token", "--org", "4", "--config", str(config)]) == 0
    assert (tmp_path / "ops.json").exists() and not (tmp_path / "credentials.json").exists()


def test_environment_and_flag_beat_config_toml(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[auth]\ncredentials_file = "from-config.json"\n')
    monkeypatch.setenv("WS_AUTH_CREDENTIALS_FILE", str(tmp_path / "from-env.json"))
    assert main(["issue", "--org", "3"]) == 0
    assert main(["--credentials", str(tmp_path / "from-flag.json"), "issue", "--org", "3"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["from-env.json", "from-flag.json"]


@pytest.mark.parametrize("config_text,message", [
    ('[auth]\ncredentials_fil = "x.json"\n', "auth.credentials_fil"),
    ("[auth\n", "not valid TOML"),
    ("[auth]\ncredentials_file = 5\n", "auth.credentials_file"),
])
def test_bad_config_toml_fails_with_exit_1_and_writes_nothing(
    tmp_path, capsys, monkeypatch, config_text, message
) -> None:
    monkeypatch.delenv("WS_AUTH_CREDENTIALS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(config_text)
    assert main(["issue", "--org", "3"]) == 1
    assert message in capsys.readouterr().err
    assert list(tmp_path.glob("*.json")) == []


def test_a_named_config_file_that_does_not_exist_fails_with_exit_1(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv("WS_AUTH_CREDENTIALS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(tmp_path / "typo.toml"), "issue", "--org", "3"]) == 1
    assert "typo.toml does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


async def test_rotate_prints_a_new_password_and_the_old_one_stops_working(
    tmp_path, capsys
) -> None:
    path = tmp_path / "creds.json"
    main(["--credentials", str(path), "issue", "--org", "17"])
    old = issued_fields(capsys.readouterr().out)
    cid = CredentialStore(path).list()[0].id

    assert main(["--credentials", str(path), "rotate", cid]) == 0
    out = capsys.readouterr().out
    new = issued_fields(out)
    assert "will not be shown again" in out and new["username"] == old["username"]
    store = CredentialStore(path)
    assert await store.verify_basic(old["username"], old["password"]) is None
    assert await store.verify_basic(new["username"], new["password"]) == 17


async def test_revoke_stops_the_credential_and_list_shows_it_revoked(tmp_path, capsys) -> None:
    path = tmp_path / "creds.json"
    main(["--credentials", str(path), "issue-token", "--org", "17"])
    token = issued_fields(capsys.readouterr().out)["token"]
    cid = token.split("_")[1]

    assert main(["--credentials", str(path), "revoke", cid]) == 0
    assert "Revoked" in capsys.readouterr().out
    assert await CredentialStore(path).verify_bearer(token) is None
    assert main(["--credentials", str(path), "revoke", cid]) == 0
    assert "already revoked" in capsys.readouterr().out
    main(["--credentials", str(path), "list"])
    assert "revoked" in capsys.readouterr().out


def test_rotating_a_revoked_credential_fails_with_exit_1(tmp_path, capsys) -> None:
    path = tmp_path / "creds.json"
    main(["--credentials", str(path), "issue", "--org", "17"])
    cid = CredentialStore(path).list()[0].id
    main(["--credentials", str(path), "revoke", cid])
    capsys.readouterr()
    assert main(["--credentials", str(path), "rotate", cid]) == 1
    assert "revoked" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["rotate", "revoke"])
def test_unknown_credential_id_fails_with_exit_1(tmp_path, capsys, command) -> None:
    assert main(["--credentials", str(tmp_path / "c.json"), command, "deadbeef0000"]) == 1
    captured = capsys.readouterr()
    assert "no credential 'deadbeef0000'" in captured.err and captured.out == ""


@pytest.mark.parametrize("argv", [
    ["issue"],
    ["issue", "--org", "0"],
    ["issue", "--org", "seventeen"],
    ["issue-token"],
    ["rotate"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2(tmp_path, capsys, argv) -> None:
    assert main(["--credentials", str(tmp_path / "c.json"), *argv]) == 2
    assert "usage" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_broken_credentials_file_fails_with_exit_1(tmp_path, capsys) -> None:
    path = tmp_path / "c.json"
    path.write_text("[]")
    assert main(["--credentials", str(path), "list"]) == 1
    assert "not a valid credentials file" in capsys.readouterr().err


def test_list_can_be_narrowed_to_one_org(tmp_path, capsys) -> None:
    path = tmp_path / "c.json"
    main(["--credentials", str(path), "issue", "--org", "1", "--label", "first"])
    main(["--credentials", str(path), "issue", "--org", "2", "--label", "second"])
    capsys.readouterr()
    assert main(["--credentials", str(path), "list", "--org", "2"]) == 0
    out = capsys.readouterr().out
    assert "second" in out and "first" not in out


def test_list_of_an_empty_store_says_so(tmp_path, capsys) -> None:
    assert main(["--credentials", str(tmp_path / "c.json"), "list"]) == 0
    assert "No credentials" in capsys.readouterr().out
