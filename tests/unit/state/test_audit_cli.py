"""`workstream-admin audit` refuses what it can't answer with a usage error, not a traceback."""

from __future__ import annotations

import pytest

from gateway.admin.__main__ import main


@pytest.mark.parametrize("argv, says", [
    (["audit"], "--org"),
    (["audit", "--org", "17", "--user", "1", "--group", "2"], "not allowed with"),
    (["audit", "--org", "17", "--since", "last tuesday"], "not a date or time"),
    (["audit", "--org", "17", "--action", "delete_everyone"], "invalid choice"),
    (["audit", "--org", "0"], "must be positive"),
])
def test_audit_usage_mistakes_exit_2_naming_the_problem(argv, says, capsys) -> None:
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def test_audit_on_an_empty_trail_says_so(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["audit", "--state-url", url, "--org", "17", "--user-name", "x@y"]) == 0
    assert capsys.readouterr().out == "No audit events for org 17 match.\n"
    assert main(["audit", "--state-url", url, "--org", "17", "--json"]) == 0
    assert capsys.readouterr().out == ""
