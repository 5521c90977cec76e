"""Which mapping module serves each org, as rows of the state database.

`workstream-admin mapping assign` writes a row; config.toml's [mappings.orgs]
seeds a row for an org that has none (at start-up). Every change bumps the
`mappings` change counter in the same transaction, which every gateway
process polls (gateway.mapping.live) to pick the change up without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.state.db import StateCorrupt, StateDB, now, utc
from gateway.state.schema import MAPPINGS_TOPIC
from gateway.state.schema import mapping_assignments as table

SOURCE_CONFIG = "config"
SOURCE_CLI = "cli"


@dataclass(frozen=True)
class Assignment:
    org_id: int
    module: str
    source: str  # SOURCE_CONFIG | SOURCE_CLI
    assigned_at: datetime


def _row(org_id: object, module: object, source: object, at: object) -> Assignment:
    if (not isinstance(org_id, int) or isinstance(org_id, bool)
            or not isinstance(module, str) or not module or not isinstance(at, datetime)):
        raise StateCorrupt(f"mapping_assignments row (org_id={org_id!r}) can't be read: "
                           f"org_id must be an integer and module a non-empty name")
    return Assignment(org_id, module, str(source), utc(at))  # type: ignore[arg-type]


class MappingAssignments:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def version(self) -> int:
        """The change counter: one cheap read, polled about every second."""
        async with self.db.begin() as conn:
            return await self.db.version(conn, MAPPINGS_TOPIC)

    async def load(self) -> tuple[int, dict[int, Assignment]]:
        """The counter and every assignment, read in one transaction."""
        async with self.db.begin() as conn:
            version = await self.db.version(conn, MAPPINGS_TOPIC)
            rows = (await conn.execute(select(table.c.org_id, table.c.module, table.c.source,
                                              table.c.assigned_at))).all()
        found = [_row(*r) for r in rows]
        return version, {a.org_id: a for a in found}

    async def assign(self, org_id: int, module: str, source: str = SOURCE_CLI) -> None:
        """Point `org_id` at `module` (replacing any assignment)."""
        async with self.db.begin() as conn:
            changed = await conn.execute(update(table).where(table.c.org_id == org_id).values(
                module=module, source=source, assigned_at=now()))
            if not changed.rowcount:
                await conn.execute(insert(table).values(
                    org_id=org_id, module=module, source=source, assigned_at=now()))
            await self.db.bump(conn, MAPPINGS_TOPIC)

    async def unassign(self, org_id: int) -> bool:
        """Back to the default module; whether the org had an assignment."""
        async with self.db.begin() as conn:
            gone = await conn.execute(delete(table).where(table.c.org_id == org_id))
            if gone.rowcount:
                await self.db.bump(conn, MAPPINGS_TOPIC)
        return bool(gone.rowcount)

    async def seed(self, org_modules: dict[int, str]) -> list[int]:
        """Assign config.toml's modules to the orgs without an assignment; those orgs.

        An org already assigned (by the CLI, or an earlier seed) keeps its row:
        the database, not the file, is what serves once an org is in it.
        """
        if not org_modules:
            return []
        try:
            async with self.db.begin() as conn:
                have = set((await conn.execute(select(table.c.org_id).where(
                    table.c.org_id.in_(list(org_modules))))).scalars())
                missing = [org for org in org_modules if org not in have]
                if missing:
                    await conn.execute(insert(table), [
                        {"org_id": org, "module": org_modules[org], "source": SOURCE_CONFIG,
                         "assigned_at": now()} for org in missing])
                    await self.db.bump(conn, MAPPINGS_TOPIC)
        except IntegrityError:  # another process seeded at the same moment: theirs stands
            return []
        return missing
