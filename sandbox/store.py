"""SQLite persistence of orgs, employees, teams, memberships and idempotency keys.

Every query the API makes runs on an index (an org of 100,000 people must stay
fast): lists are a COUNT plus LIMIT/OFFSET over `(org_id, ...)` indexes, the
email and team-name lookups go through unique indexes on case-folded columns,
and memberships are keyed by `(team_id, employee_id)`. The store speaks in
contract-shaped dicts; it does not validate field rules (see `rules`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sandbox.errors import ApiError, Fields, conflict
from sandbox.params import EmployeeFilter, Page
from sandbox.timestamps import iso

IDEMPOTENCY_TTL_S = 24 * 3600
_MAX_ID = 2**63 - 1
_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit

EMPLOYEE_WRITABLE = (
    "email",
    "first_name",
    "last_name",
    "display_name",
    "title",
    "department",
    "employee_number",
    "cost_center",
    "manager_id",
    "phone",
    "locale",
    "timezone",
    "sso_id",
)
_EMPLOYEE_COLUMNS = (
    "id",
    "org_id",
    *EMPLOYEE_WRITABLE,
    "status",
    "lock_version",
    "created_at",
    "updated_at",
)
_TEAM_COLUMNS = (
    "id",
    "org_id",
    "name",
    "description",
    "member_count",
    "lock_version",
    "created_at",
    "updated_at",
)
_ORG_COLUMNS = ("id", "name", "saml_enabled", "scim_enabled", "rate_limit_per_s")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    saml_enabled INTEGER NOT NULL,
    scim_enabled INTEGER NOT NULL,
    rate_limit_per_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS employees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    email_folded TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    display_name TEXT,
    title TEXT,
    department TEXT,
    employee_number TEXT,
    cost_center TEXT,
    manager_id INTEGER REFERENCES employees(id),
    phone TEXT,
    locale TEXT,
    timezone TEXT,
    sso_id TEXT,
    status TEXT NOT NULL,
    lock_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS employees_org_email ON employees(org_id, email_folded);
CREATE UNIQUE INDEX IF NOT EXISTS employees_org_number ON employees(org_id, employee_number);
CREATE INDEX IF NOT EXISTS employees_org_id ON employees(org_id, id);
CREATE INDEX IF NOT EXISTS employees_org_status ON employees(org_id, status, id);
CREATE INDEX IF NOT EXISTS employees_org_updated ON employees(org_id, updated_at);
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    description TEXT,
    member_count INTEGER NOT NULL DEFAULT 0,
    lock_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS teams_org_name ON teams(org_id, name_folded);
CREATE INDEX IF NOT EXISTS teams_org_id ON teams(org_id, id);
CREATE TABLE IF NOT EXISTS memberships (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    employee_id INTEGER NOT NULL REFERENCES employees(id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, employee_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    org_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);
"""


def storable_id(value: int) -> bool:
    """True when `value` could be a row id (SQLite integers are 64-bit)."""
    return 0 < value <= _MAX_ID


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def _employee(row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(_EMPLOYEE_COLUMNS, row, strict=True))
    record["created_at"] = iso(record["created_at"])
    record["updated_at"] = iso(record["updated_at"])
    return record


def _team(row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(_TEAM_COLUMNS, row, strict=True))
    record["created_at"] = iso(record["created_at"])
    record["updated_at"] = iso(record["updated_at"])
    return record


def _org(row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(_ORG_COLUMNS, row, strict=True))
    record["saml_enabled"] = bool(record["saml_enabled"])
    record["scim_enabled"] = bool(record["scim_enabled"])
    return record


def _unique_violation(exc: sqlite3.IntegrityError) -> ApiError:
    """Map a unique-index failure (a race past the pre-checks) to the contract's 409."""
    text = str(exc)
    for column, field in (
        ("email_folded", "email"),
        ("employee_number", "employee_number"),
        ("name_folded", "name"),
    ):
        if column in text:
            return conflict({field: ["has already been taken"]})
    raise exc


class Store:
    """One SQLite database (a file in WAL mode, or ":memory:")."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA busy_timeout = 5000")
        if path != ":memory:" and not path.startswith("file::memory:"):
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        # List totals by (org, filter), valid while nothing has written since: a COUNT over a
        # 100,000-person org costs more than the page itself, and a full read (an IdP's
        # import) asks for the same total on every page.
        self._writes = 0
        self._totals: dict[tuple[Any, ...], tuple[tuple[int, int], int]] = {}

    def _generation(self) -> tuple[int, int]:
        """Changes when anything commits: this connection's writes, or another process's."""
        return self._writes, self._db.execute("PRAGMA data_version").fetchone()[0]

    def _total(self, key: tuple[Any, ...], sql: str, args: Sequence[Any]) -> int:
        generation = self._generation()
        cached = self._totals.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        total = int(self._one(sql, args)[0])
        if len(self._totals) >= 1024:
            self._totals.clear()
        self._totals[key] = (generation, total)
        return total

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        self._writes += 1
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        return self._db.execute(sql, args).fetchone()

    def explain(self, sql: str, args: Sequence[Any] = ()) -> list[str]:
        """EXPLAIN QUERY PLAN details, so tests can prove a query uses an index."""
        return [row[3] for row in self._db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]

    # ---- orgs ---------------------------------------------------------------

    def create_org(self, name: str, saml: bool, scim: bool, rate_limit_per_s: int) -> dict:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO orgs (name, saml_enabled, scim_enabled, rate_limit_per_s)"
                " VALUES (?, ?, ?, ?)",
                (name, int(saml), int(scim), rate_limit_per_s),
            )
        org = self.get_org(cursor.lastrowid or 0)
        assert org is not None
        return org

    def get_org(self, org_id: int) -> dict[str, Any] | None:
        """The org with its sandbox-only `rate_limit_per_s`, or None."""
        if not storable_id(org_id):
            return None
        row = self._one(f"SELECT {','.join(_ORG_COLUMNS)} FROM orgs WHERE id = ?", (org_id,))
        return None if row is None else _org(row)

    def find_org(self, name: str) -> dict[str, Any] | None:
        row = self._one(
            f"SELECT {','.join(_ORG_COLUMNS)} FROM orgs WHERE name = ? ORDER BY id LIMIT 1",
            (name,),
        )
        return None if row is None else _org(row)

    def update_org(self, org_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            with self._write() as db:
                db.execute(
                    f"UPDATE orgs SET {assignments} WHERE id = ?",
                    (*(int(v) if isinstance(v, bool) else v for v in changes.values()), org_id),
                )
        return self.get_org(org_id)

    # ---- employees ----------------------------------------------------------

    def get_employee(self, org_id: int, employee_id: int) -> dict[str, Any] | None:
        if not storable_id(employee_id):
            return None
        row = self._one(
            f"SELECT {','.join(_EMPLOYEE_COLUMNS)} FROM employees WHERE id = ? AND org_id = ?",
            (employee_id, org_id),
        )
        return None if row is None else _employee(row)

    @staticmethod
    def employee_query(org_id: int, where: EmployeeFilter) -> tuple[str, list[Any]]:
        """The WHERE clause of an employee list (public so tests can EXPLAIN it)."""
        clauses = ["org_id = ?"]
        args: list[Any] = [org_id]
        if where.email is not None:
            clauses.append("email_folded = ?")
            args.append(where.email.casefold())
        if where.status is not None:
            clauses.append("status = ?")
            args.append(where.status)
        if where.updated_since is not None:
            clauses.append("updated_at >= ?")
            args.append(where.updated_since)
        return " AND ".join(clauses), args

    def list_employees(
        self, org_id: int, where: EmployeeFilter, page: Page
    ) -> tuple[list[dict[str, Any]], int]:
        """One page ordered by id, and the count of all matches."""
        clause, args = self.employee_query(org_id, where)
        total = self._total(("employees", clause, *args),
                            f"SELECT COUNT(*) FROM employees WHERE {clause}", args)
        if page.offset is None:
            return [], total
        # The OFFSET is walked in the (org_id, id) index alone, and only the page's rows
        # are read: far into a large org, reading every skipped row doubled the cost.
        rows = self._db.execute(
            f"SELECT {','.join(_EMPLOYEE_COLUMNS)} FROM employees WHERE id IN"
            f" (SELECT id FROM employees WHERE {clause} ORDER BY id LIMIT ? OFFSET ?)"
            " ORDER BY id",
            (*args, page.per_page, page.offset),
        ).fetchall()
        return [_employee(row) for row in rows], total

    def missing_employees(self, org_id: int, ids: Iterable[int]) -> list[int]:
        """The ids (deduplicated, in order) that are not employees of the org."""
        wanted = list(dict.fromkeys(ids))
        storable = [i for i in wanted if storable_id(i)]
        found: set[int] = set()
        for chunk in _chunks(storable):
            found.update(
                row[0]
                for row in self._db.execute(
                    f"SELECT id FROM employees WHERE org_id = ? AND id IN"
                    f" ({_placeholders(len(chunk))})",
                    (org_id, *chunk),
                )
            )
        return [i for i in wanted if i not in found]

    def employee_conflicts(
        self, org_id: int, values: dict[str, Any], exclude_id: int | None = None
    ) -> Fields:
        """409 fields: `email` (case-folded) or `employee_number` taken by another."""
        found: Fields = {}
        other = -1 if exclude_id is None else exclude_id
        email = values.get("email")
        if email is not None and self._one(
            "SELECT 1 FROM employees WHERE org_id = ? AND email_folded = ? AND id != ?",
            (org_id, email.casefold(), other),
        ):
            found["email"] = ["has already been taken"]
        number = values.get("employee_number")
        if number is not None and self._one(
            "SELECT 1 FROM employees WHERE org_id = ? AND employee_number = ? AND id != ?",
            (org_id, number, other),
        ):
            found["employee_number"] = ["has already been taken"]
        return found

    def _insert_employee(self, db: sqlite3.Connection, org_id: int, values: dict, now: int) -> int:
        row = [values.get(name) for name in EMPLOYEE_WRITABLE]
        cursor = db.execute(
            f"INSERT INTO employees (org_id, {','.join(EMPLOYEE_WRITABLE)}, email_folded,"
            " status, lock_version, created_at, updated_at)"
            f" VALUES (?, {_placeholders(len(row))}, ?, 'active', 1, ?, ?)",
            (org_id, *row, values["email"].casefold(), now, now),
        )
        return cursor.lastrowid or 0

    def insert_employee(self, org_id: int, values: dict[str, Any], now: int) -> dict[str, Any]:
        """A new active employee at lock_version 1."""
        try:
            with self._write() as db:
                new_id = self._insert_employee(db, org_id, values, now)
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(exc) from None
        record = self.get_employee(org_id, new_id)
        assert record is not None
        return record

    def bulk_insert_employees(self, org_id: int, rows: list[dict[str, Any]], now: int) -> list[int]:
        """Many new employees in one transaction (sandbox admin, for benchmarks)."""
        try:
            with self._write() as db:
                return [self._insert_employee(db, org_id, values, now) for values in rows]
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(exc) from None

    def update_employee(
        self, org_id: int, employee_id: int, values: dict[str, Any], now: int
    ) -> dict[str, Any]:
        """Apply the values that differ; nothing differs → nothing bumps."""
        current = self.get_employee(org_id, employee_id)
        assert current is not None
        changed = {k: v for k, v in values.items() if current[k] != v}
        if not changed:
            return current
        if "email" in changed:
            changed["email_folded"] = changed["email"].casefold()
        assignments = "".join(f"{name} = ?, " for name in changed)
        try:
            with self._write() as db:
                db.execute(
                    f"UPDATE employees SET {assignments}lock_version = lock_version + 1,"
                    " updated_at = ? WHERE id = ?",
                    (*changed.values(), now, employee_id),
                )
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(exc) from None
        record = self.get_employee(org_id, employee_id)
        assert record is not None
        return record

    def set_status(self, org_id: int, employee_id: int, status: str, now: int) -> dict[str, Any]:
        """Deactivate/reactivate; idempotent (same status → no bump)."""
        with self._write() as db:
            db.execute(
                "UPDATE employees SET status = ?, lock_version = lock_version + 1,"
                " updated_at = ? WHERE id = ? AND org_id = ? AND status != ?",
                (status, now, employee_id, org_id, status),
            )
        record = self.get_employee(org_id, employee_id)
        assert record is not None
        return record

    # ---- teams --------------------------------------------------------------

    def get_team(self, org_id: int, team_id: int) -> dict[str, Any] | None:
        if not storable_id(team_id):
            return None
        row = self._one(
            f"SELECT {','.join(_TEAM_COLUMNS)} FROM teams WHERE id = ? AND org_id = ?",
            (team_id, org_id),
        )
        return None if row is None else _team(row)

    def list_teams(
        self, org_id: int, name: str | None, page: Page
    ) -> tuple[list[dict[str, Any]], int]:
        clause, args = "org_id = ?", [org_id]
        if name is not None:
            clause += " AND name_folded = ?"
            args.append(name.casefold())
        total = self._one(f"SELECT COUNT(*) FROM teams WHERE {clause}", args)[0]
        if page.offset is None:
            return [], total
        rows = self._db.execute(
            f"SELECT {','.join(_TEAM_COLUMNS)} FROM teams WHERE {clause}"
            " ORDER BY id LIMIT ? OFFSET ?",
            (*args, page.per_page, page.offset),
        ).fetchall()
        return [_team(row) for row in rows], total

    def team_conflicts(
        self, org_id: int, values: dict[str, Any], exclude_id: int | None = None
    ) -> Fields:
        name = values.get("name")
        if name is not None and self._one(
            "SELECT 1 FROM teams WHERE org_id = ? AND name_folded = ? AND id != ?",
            (org_id, name.casefold(), -1 if exclude_id is None else exclude_id),
        ):
            return {"name": ["has already been taken"]}
        return {}

    def insert_team(self, org_id: int, values: dict[str, Any], now: int) -> dict[str, Any]:
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO teams (org_id, name, name_folded, description, lock_version,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                    (
                        org_id,
                        values["name"],
                        values["name"].casefold(),
                        values.get("description"),
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(exc) from None
        record = self.get_team(org_id, cursor.lastrowid or 0)
        assert record is not None
        return record

    def update_team(
        self, org_id: int, team_id: int, values: dict[str, Any], now: int
    ) -> dict[str, Any]:
        """Apply the values that differ; nothing differs → nothing bumps."""
        current = self.get_team(org_id, team_id)
        assert current is not None
        changed = {k: v for k, v in values.items() if current[k] != v}
        if not changed:
            return current
        if "name" in changed:
            changed["name_folded"] = changed["name"].casefold()
        assignments = "".join(f"{name} = ?, " for name in changed)
        try:
            with self._write() as db:
                db.execute(
                    f"UPDATE teams SET {assignments}lock_version = lock_version + 1,"
                    " updated_at = ? WHERE id = ?",
                    (*changed.values(), now, team_id),
                )
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(exc) from None
        record = self.get_team(org_id, team_id)
        assert record is not None
        return record

    def delete_team(self, team_id: int) -> None:
        """The team and its memberships; employees are never touched."""
        with self._write() as db:
            db.execute("DELETE FROM memberships WHERE team_id = ?", (team_id,))
            db.execute("DELETE FROM teams WHERE id = ?", (team_id,))

    def list_members(self, team_id: int, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of `{employee_id, added_at}` ordered by employee id, and the total."""
        total = self._one("SELECT member_count FROM teams WHERE id = ?", (team_id,))[0]
        if page.offset is None:
            return [], total
        rows = self._db.execute(
            "SELECT employee_id, added_at FROM memberships WHERE team_id = ?"
            " ORDER BY employee_id LIMIT ? OFFSET ?",
            (team_id, page.per_page, page.offset),
        ).fetchall()
        return [{"employee_id": e, "added_at": iso(at)} for e, at in rows], total

    def count_memberships(self, team_id: int) -> int:
        """Membership rows of a team, counted directly (a deleted team must have none)."""
        return self._one("SELECT COUNT(*) FROM memberships WHERE team_id = ?", (team_id,))[0]

    def add_members(self, team_id: int, employee_ids: Iterable[int], now: int) -> int:
        """Add the ids not yet members (callers checked they are in the org)."""
        ids = list(dict.fromkeys(employee_ids))
        with self._write() as db:
            added = db.executemany(
                "INSERT OR IGNORE INTO memberships (team_id, employee_id, added_at)"
                " VALUES (?, ?, ?)",
                ((team_id, i, now) for i in ids),
            ).rowcount
            db.execute(
                "UPDATE teams SET member_count = member_count + ? WHERE id = ?", (added, team_id)
            )
        return max(added, 0)

    def remove_members(self, team_id: int, employee_ids: Iterable[int]) -> int:
        """Remove the ids that are members; others are skipped."""
        ids = [i for i in dict.fromkeys(employee_ids) if storable_id(i)]
        with self._write() as db:
            removed = db.executemany(
                "DELETE FROM memberships WHERE team_id = ? AND employee_id = ?",
                ((team_id, i) for i in ids),
            ).rowcount
            db.execute(
                "UPDATE teams SET member_count = member_count - ? WHERE id = ?",
                (removed, team_id),
            )
        return max(removed, 0)

    # ---- idempotency --------------------------------------------------------

    def recall(self, org_id: int, key: str, now: int) -> tuple[int, Any] | None:
        """The first answer given to `(org, key)` within the last 24 h."""
        row = self._one(
            "SELECT status, body FROM idempotency WHERE org_id = ? AND key = ? AND created_at > ?",
            (org_id, key, now - IDEMPOTENCY_TTL_S),
        )
        return None if row is None else (row[0], json.loads(row[1]))

    def remember(self, org_id: int, key: str, status: int, body: Any, now: int) -> None:
        """Keep an answer for 24 h; expired keys are purged on the way."""
        with self._write() as db:
            db.execute("DELETE FROM idempotency WHERE created_at <= ?", (now - IDEMPOTENCY_TTL_S,))
            db.execute(
                "INSERT OR REPLACE INTO idempotency (org_id, key, status, body, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (org_id, key, status, json.dumps(body), now),
            )
