"""The durable userName / externalId → person index, as rows of the state database.

Redis only caches these rows (gateway.provisioning.user_index): after a flush a
lookup is one indexed query here, never a scan of the org. One row per (org,
key) names the person (employee id) carrying that value; a second index, on
(org, person), finds a person's rows when they change. An org's mark says its
index has been built, and up to which `updated_at` (the watermark) changes
made in Workstream directly have been read into it.

Several writers race (requests' write-behind, catch-ups, builds, `workstream-admin
reindex`), so a row keeps the claiming record's `updated_at`, and an ordinary
write never takes a key from a row made from a more recently updated record
(a rebuild, which reads everyone afresh, forces its rows).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.state.db import StateDB, now, utc
from gateway.state.schema import user_index_entries as entries
from gateway.state.schema import user_index_marks as marks

log = logging.getLogger(__name__)

# Values per IN list: far below every engine's limit on bound parameters.
CHUNK = 500


class Claim(NamedTuple):
    """A person carrying an index key, as of their record's `updated_at`."""

    user_id: int
    updated_at: datetime | None


@dataclass(frozen=True)
class Mark:
    """An org's index has been built; catch-ups read changes since `watermark`."""

    watermark: str
    built_at: datetime
    people: int


@dataclass(frozen=True)
class Change:
    """One write of the gateway's own (write-behind): claims to put, then rows to drop."""

    org_id: int
    puts: Mapping[str, Claim] = field(default_factory=dict)
    drops: Sequence[tuple[str, int]] = ()  # (key, user id): dropped only while still equal


def _user_id(value: Any) -> int | None:
    """A user id read back (SQLite stores whatever was written: a bad one is a miss)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class UserIndexEntries:
    """The queries on `user_index_entries` and `user_index_marks`."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        insert = postgresql.insert if db.is_postgres else sqlite.insert
        stmt = insert(entries)
        values = {"user_id": stmt.excluded.user_id, "updated_at": stmt.excluded.updated_at}
        target = [entries.c.org_id, entries.c.key]
        self._force = stmt.on_conflict_do_update(index_elements=target, set_=values)
        self._guarded = stmt.on_conflict_do_update(
            index_elements=target, set_=values,
            where=or_(entries.c.updated_at.is_(None),
                      stmt.excluded.updated_at >= entries.c.updated_at))
        # Watermarks compare byte by byte (PostgreSQL's default collation may not).
        self._watermark = marks.c.watermark.collate("C") if db.is_postgres else marks.c.watermark

    # ---- reads ----

    async def lookup(self, org_id: int, key: str) -> tuple[int | None, str | None]:
        """The person `key` names and the org's watermark (None: never built): one query."""
        user = (select(entries.c.user_id)
                .where(entries.c.org_id == org_id, entries.c.key == key).scalar_subquery())
        mark = select(marks.c.watermark).where(marks.c.org_id == org_id).scalar_subquery()
        async with self.db.begin() as conn:
            user_id, watermark = (await conn.execute(select(user, mark))).one()
        return _user_id(user_id), watermark if isinstance(watermark, str) else None

    async def get(self, org_id: int, key: str) -> int | None:
        async with self.db.begin() as conn:
            found = (await conn.execute(select(entries.c.user_id).where(
                entries.c.org_id == org_id, entries.c.key == key))).scalar()
        return _user_id(found)

    async def mark(self, org_id: int) -> Mark | None:
        async with self.db.begin() as conn:
            row = (await conn.execute(
                select(marks.c.watermark, marks.c.built_at, marks.c.people)
                .where(marks.c.org_id == org_id))).first()
        if row is None or not isinstance(row[0], str):
            return None
        return Mark(row[0], utc(row[1]) or now(), int(row[2] or 0))

    async def rows(self, org_id: int, keys: Collection[str],
                   user_ids: Collection[int]) -> dict[str, int | None]:
        """key → user id of every row for one of `keys` or naming one of `user_ids`."""
        async with self.db.begin() as conn:
            return await self._rows(conn, org_id, keys, user_ids)

    async def _rows(self, conn: AsyncConnection, org_id: int, keys: Collection[str],
                    user_ids: Collection[int]) -> dict[str, int | None]:
        found: dict[str, int | None] = {}
        query = select(entries.c.key, entries.c.user_id).where(entries.c.org_id == org_id)
        for column, values in ((entries.c.key, list(keys)), (entries.c.user_id, list(user_ids))):
            for i in range(0, len(values), CHUNK):
                rows = await conn.execute(query.where(column.in_(values[i:i + CHUNK])))
                found.update((key, _user_id(user)) for key, user in rows)
        return found

    async def page(self, org_id: int, after: str | None,
                   limit: int = 5000) -> list[tuple[str, int | None]]:
        """(key, user id) of the org's rows in key order after `after`: a walk of them all."""
        query = select(entries.c.key, entries.c.user_id).where(entries.c.org_id == org_id)
        if after is not None:
            query = query.where(entries.c.key > after)
        async with self.db.begin() as conn:
            rows = await conn.execute(query.order_by(entries.c.key).limit(limit))
            return [(key, _user_id(user)) for key, user in rows]

    async def analyze(self) -> None:
        """Refresh the planner's statistics of the rows (after a build changed many of them).

        Without them PostgreSQL may read a grown index through the wrong index (the
        whole org through (org, person) where (org, key) finds each row at once).
        """
        async with self.db.begin() as conn:
            await conn.execute(text(f"ANALYZE {entries.name}"))

    async def count(self, org_id: int) -> int:
        async with self.db.begin() as conn:
            return int((await conn.execute(select(func.count()).select_from(entries).where(
                entries.c.org_id == org_id))).scalar() or 0)

    # ---- writes ----

    async def put(self, org_id: int, claims: Mapping[str, Claim], *, force: bool = False) -> None:
        """Upsert rows; unless `force`, none takes a key from a more recently updated claim."""
        if claims:
            async with self.db.begin() as conn:
                await self._put(conn, org_id, claims, force=force)

    async def _put(self, conn: AsyncConnection, org_id: int, claims: Mapping[str, Claim], *,
                   force: bool) -> None:
        if claims:
            await conn.execute(self._force if force else self._guarded, [
                {"org_id": org_id, "key": key, "user_id": c.user_id, "updated_at": c.updated_at}
                for key, c in claims.items()])

    async def drop(self, org_id: int, rows: Iterable[tuple[str, int]]) -> None:
        """Delete each (key, user id) row while it still names that user."""
        async with self.db.begin() as conn:
            await self._drop(conn, org_id, rows)

    @staticmethod
    async def _drop(conn: AsyncConnection, org_id: int, rows: Iterable[tuple[str, int]]) -> None:
        params = [{"o": org_id, "k": key, "u": user} for key, user in rows]
        if params:
            await conn.execute(delete(entries).where(
                entries.c.org_id == bindparam("o"), entries.c.key == bindparam("k"),
                entries.c.user_id == bindparam("u")), params)

    async def absorb(self, org_id: int, claims: Mapping[str, Claim],
                     user_ids: Collection[int]) -> list[tuple[str, int]]:
        """What records read just now say (a catch-up), in one transaction.

        `user_ids` are the records read and `claims` their keys: a row naming one
        of them for a key they no longer carry goes, then the claims are put
        (guarded). Returns the (key, user id) rows that went.
        """
        async with self.db.begin() as conn:
            held = await self._rows(conn, org_id, (), user_ids)
            gone = [(key, user) for key, user in held.items()
                    if user is not None and (key not in claims or claims[key].user_id != user)]
            await self._drop(conn, org_id, gone)
            # Rows already naming their claimant stay as they are: a catch-up mostly re-reads
            # people it has seen (the overlap), and writes nothing for them.
            await self._put(conn, org_id, {key: claim for key, claim in claims.items()
                                           if held.get(key) != claim.user_id}, force=False)
        return gone

    async def apply(self, changes: Sequence[Change]) -> None:
        """The write-behind's batch, in order, in one transaction (consecutive puts merged)."""
        async with self.db.begin() as conn:
            org, pending = 0, dict[str, Claim]()
            for change in changes:
                if change.org_id != org:
                    await self._put(conn, org, pending, force=False)
                    org, pending = change.org_id, {}
                pending.update(change.puts)
                if change.drops:
                    await self._put(conn, org, pending, force=False)
                    pending = {}
                    await self._drop(conn, org, change.drops)
            await self._put(conn, org, pending, force=False)

    # ---- marks ----

    async def set_mark(self, org_id: int, watermark: str, people: int) -> None:
        """The org's index is built (again), up to `watermark`: set whatever was there."""
        insert = postgresql.insert if self.db.is_postgres else sqlite.insert
        stmt = insert(marks).values(org_id=org_id, watermark=watermark, built_at=now(),
                                    people=people)
        stmt = stmt.on_conflict_do_update(index_elements=[marks.c.org_id], set_={
            "watermark": stmt.excluded.watermark, "built_at": stmt.excluded.built_at,
            "people": stmt.excluded.people})
        async with self.db.begin() as conn:
            await conn.execute(stmt)

    async def advance(self, org_id: int, watermark: str) -> bool:
        """Move a built org's watermark forward only (a slower catch-up never moves it back)."""
        async with self.db.begin() as conn:
            done = await conn.execute(update(marks).where(
                marks.c.org_id == org_id, self._watermark < watermark).values(
                watermark=watermark))
        return bool(done.rowcount)
