"""Group externalIds as rows of the state database (their one durable home).

Workstream teams have no field for an IdP's externalId, so the gateway keeps
them: one row per (org, team) that has one, unique per org. A team without a
row has none. Redis only caches these rows (see gateway.provisioning.group_index).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.state.db import StateCorrupt, StateDB
from gateway.state.schema import group_external_ids as table


def _team_id(org_id: int, raw: object, value: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and isinstance(value, str):
        return raw
    raise StateCorrupt(f"group_external_ids row (org_id={org_id}, team_id={raw!r}) can't be "
                       f"read: team_id must be an integer and external_id a string")


class GroupExternalIds:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def get_many(self, org_id: int, team_ids: Sequence[int]) -> dict[int, str]:
        """team id → externalId, for those of `team_ids` that have one; one query."""
        if not team_ids:
            return {}
        async with self.db.begin() as conn:
            rows = (await conn.execute(
                select(table.c.team_id, table.c.external_id)
                .where(table.c.org_id == org_id, table.c.team_id.in_(list(team_ids))))).all()
        return {_team_id(org_id, team, value): value for team, value in rows}

    async def find(self, org_id: int, external_id: str) -> int | None:
        """The team whose externalId is `external_id`, if any."""
        async with self.db.begin() as conn:
            found = (await conn.execute(
                select(table.c.team_id, table.c.external_id)
                .where(table.c.org_id == org_id, table.c.external_id == external_id))).first()
        return None if found is None else _team_id(org_id, found[0], found[1])

    async def set(self, org_id: int, team_id: int, external_id: str | None) -> list[int]:
        """Record a team's externalId (None: it has none), in one transaction.

        An externalId is unique in an org: a team still holding it (one deleted
        in Workstream behind the gateway's back) loses it. Returns those teams.
        """
        try:
            return await self._set(org_id, team_id, external_id)
        except IntegrityError:  # another process took it meanwhile: take it back, once
            return await self._set(org_id, team_id, external_id)

    async def _set(self, org_id: int, team_id: int, external_id: str | None) -> list[int]:
        async with self.db.begin() as conn:
            taken: list[int] = []
            if external_id is not None:
                taken = [r[0] for r in await conn.execute(
                    select(table.c.team_id).where(
                        table.c.org_id == org_id, table.c.external_id == external_id,
                        table.c.team_id != team_id))]
            await conn.execute(delete(table).where(
                and_(table.c.org_id == org_id,
                     table.c.team_id.in_([team_id, *taken]))))
            if external_id is not None:
                await conn.execute(insert(table).values(
                    org_id=org_id, team_id=team_id, external_id=external_id))
        return taken

    async def forget(self, org_id: int, team_id: int) -> None:
        async with self.db.begin() as conn:
            await conn.execute(delete(table).where(
                table.c.org_id == org_id, table.c.team_id == team_id))

    async def check_writable(self) -> None:
        """Raise StateUnavailable now rather than after a backend write it should follow."""
        async with self.db.begin() as conn:
            await conn.execute(select(1))
