"""The audit trail's prepared insert stores exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text

from gateway.state.audit_events import AuditTrail
from gateway.state.db import StateDB
from gateway.state.schema import audit_events as table


def _row(**over) -> dict:
    row = {
        "at": datetime(2026, 12, 7, 5, 41, 58, 621264, tzinfo=UTC), "org_id": 17,
        "credential_id": "c0ffee", "credential_label": "okta", "request_id": "req-1",
        "method": "PATCH", "path": "/scim/v2/Users/7", "action": "update deactivate",
        "outcome": "done", "status": 200, "target_type": "user", "target_id": "7",
        "target_name": "Jane@Acme.example", "target_name_folded": "jane@acme.example",
        "changes": {"title": ["Analyst", "Lead \u2028 é"], "manager_id": [None, 3]},
        "members": None, "backend_calls": [["PATCH employees", 200]], "retries": 1,
        "mapping_module": "mappings.default", "mapping_version": "05f0cf7d2cbf",
    }
    return {**row, **over}


async def test_a_prepared_insert_stores_what_sqlalchemy_would(state_db: StateDB) -> None:
    rows = [_row(), _row(members={"added": ["1", "2"], "removed": []}, changes=None,
                         credential_id=None, target_type="group", retries=0)]
    async with state_db.begin() as conn:
        await conn.execute(insert(table), rows)  # SQLAlchemy's own way: ids 1 and 2
    await AuditTrail(state_db).write(rows)  # the prepared way: ids 3 and 4
    async with state_db.begin() as conn:
        raw = (await conn.execute(text("SELECT * FROM audit_events ORDER BY id"))).all()
        typed = (await conn.execute(select(table).order_by(table.c.id))).all()
    assert len(raw) == 4
    # Column by column, as stored (timestamps' text on SQLite included) and as read.
    assert [r[1:] for r in raw[2:]] == [r[1:] for r in raw[:2]]
    assert [r[1:] for r in typed[2:]] == [r[1:] for r in typed[:2]]
    assert typed[2].changes == rows[0]["changes"] and typed[3].members == rows[1]["members"]
