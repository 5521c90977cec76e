"""Storage: every contract query runs on an index; files persist across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sandbox.app import create_app
from sandbox.params import EmployeeFilter
from sandbox.store import Store
from tests.sandbox.conftest import Api

ADA = {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace"}


def _full_scans(plan: list[str]) -> list[str]:
    """Plan steps that scan a whole table (no index at all)."""
    return [step for step in plan if step.startswith("SCAN") and "INDEX" not in step]


@pytest.mark.parametrize(
    "where",
    [
        EmployeeFilter(),
        EmployeeFilter(email="Ada@acme.example"),
        EmployeeFilter(status="active"),
        EmployeeFilter(updated_since=0.0),
        EmployeeFilter(email="a@b.c", status="deactivated", updated_since=1.0),
    ],
)
def test_employee_list_queries_use_indexes(where: EmployeeFilter) -> None:
    store = Store()
    clause, args = store.employee_query(17, where)
    for sql in (
        f"SELECT COUNT(*) FROM employees WHERE {clause}",
        f"SELECT * FROM employees WHERE {clause} ORDER BY id LIMIT 50 OFFSET 0",
    ):
        plan = store.explain(sql, args)
        assert _full_scans(plan) == [], (sql, plan)


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        ("SELECT COUNT(*) FROM teams WHERE org_id = ?", (1,)),
        ("SELECT * FROM teams WHERE org_id = ? AND name_folded = ?", (1, "eng")),
        ("SELECT * FROM teams WHERE org_id = ? ORDER BY id LIMIT 50", (1,)),
        (
            "SELECT employee_id, added_at FROM memberships WHERE team_id = ?"
            " ORDER BY employee_id LIMIT 50 OFFSET 0",
            (1,),
        ),
        ("DELETE FROM memberships WHERE team_id = ?", (1,)),
        ("SELECT 1 FROM employees WHERE org_id = ? AND employee_number = ?", (1, "E")),
        ("SELECT id FROM employees WHERE org_id = ? AND id IN (1, 2, 3)", (1,)),
        ("SELECT status FROM idempotency WHERE org_id = ? AND key = ?", (1, "k")),
        ("DELETE FROM idempotency WHERE created_at <= ?", (0,)),
    ],
)
def test_team_membership_and_key_queries_use_indexes(sql: str, args: tuple[Any, ...]) -> None:
    plan = Store().explain(sql, args)
    assert _full_scans(plan) == [], plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_file_database_uses_wal(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    with sqlite3.connect(tmp_path / "s.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


async def test_data_persists_across_restarts(tmp_path: Path, aiohttp_client: Any) -> None:
    db = str(tmp_path / "sandbox.db")
    first = create_app(db)
    api = Api(await aiohttp_client(first), first)
    org = (await api.create_org(rate_limit_per_s=0))["id"]
    ada = await api.create_employee(org, email="ada@acme.example")
    team = await api.create_team(org, "Eng")
    await api.call(
        "POST", f"/internal/v1/orgs/{org}/teams/{team['id']}/members/add",
        {"employee_ids": [ada["id"]]},
    )  # fmt: skip
    await api.client.close()

    second = create_app(db)
    api2 = Api(await aiohttp_client(second), second)
    reply = await api2.call("GET", f"/internal/v1/orgs/{org}/employees/{ada['id']}")
    assert reply.body == ada
    members = await api2.call("GET", f"/internal/v1/orgs/{org}/teams/{team['id']}/members")
    assert [m["employee_id"] for m in members.body["members"]] == [ada["id"]]
    again = await api2.call("POST", f"/internal/v1/orgs/{org}/employees", ADA)
    assert again.status == 409


def test_member_count_tracks_adds_and_removes() -> None:
    store = Store()
    org = store.create_org("Acme", True, True, 0)["id"]
    team = store.insert_team(org, {"name": "Eng"}, 0)["id"]
    people = store.bulk_insert_employees(
        org, [{**ADA, "email": f"{i}@acme.example"} for i in range(3)], 0
    )
    assert store.add_members(team, people, 0) == 3
    assert store.add_members(team, people, 0) == 0
    assert store.remove_members(team, [people[0], 10**30]) == 1
    assert store.get_team(org, team)["member_count"] == 2  # type: ignore[index]
    assert store.count_memberships(team) == 2
