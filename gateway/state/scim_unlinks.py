"""SCIM-unlink markers: who was DELETEd through SCIM, durably, and a cheap "is this id unlinked".

Workstream never deletes a person, so `DELETE /Users/{id}` deactivates them and
records here that SCIM must treat them as gone (404 by id, absent from lists)
until a POST with their userName relinks them. The marker keeps the unique
values they still hold, so a POST refused for one of them can say who holds it.

Every request asks "which of these ids are unlinked": each process answers from
a per-org set held in memory, reloaded (one query per org) only after the
`scim_unlinks` change counter moved, which is read at most once per `refresh_s`.
Another process's unlink is therefore seen within `refresh_s`; this process's
own at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from gateway.state.db import StateCorrupt, StateDB, StateUnavailable, now, utc
from gateway.state.schema import SCIM_UNLINKS_TOPIC, scim_unlink_values, scim_unlinks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unlinked:
    """One person unlinked from SCIM, as they were when unlinked."""

    employee_id: int
    user_name: str
    external_id: str | None
    unlinked_at: datetime


def _key(value: str) -> str:
    return value.casefold()


def _row(org_id: int, row) -> Unlinked:
    employee_id, user_name, external_id, unlinked_at = row
    if not isinstance(employee_id, int) or not isinstance(user_name, str):
        raise StateCorrupt(f"scim_unlinks row (org_id={org_id}, employee_id={employee_id!r}) "
                           f"can't be read: employee_id must be an integer, user_name a string")
    return Unlinked(employee_id, user_name, external_id, utc(unlinked_at) or now())


_COLUMNS = (scim_unlinks.c.employee_id, scim_unlinks.c.user_name, scim_unlinks.c.external_id,
            scim_unlinks.c.unlinked_at)


class ScimUnlinks:
    """The markers (SQL) and this process's cache of each org's unlinked ids."""

    def __init__(self, db: StateDB, *, refresh_s: float = 1.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self._ids: dict[int, frozenset[int]] = {}
        self._version: int | None = None
        self._checked = float("-inf")
        # The change counter's read in flight: requests arriving meanwhile wait for it
        # instead of each reading it (32 concurrent lookups made 32 queries every second).
        self._checking: asyncio.Future[None] | None = None

    # ---- the hot path: which ids are unlinked ----

    async def ids(self, org_id: int) -> frozenset[int]:
        """The org's unlinked employee ids: from memory, at most one query a second."""
        if time.monotonic() - self._checked >= self.refresh_s:
            try:
                await self._check_shared()
            except StateUnavailable:
                self._checked = time.monotonic()  # not every request waits for a dead database
                if org_id not in self._ids:
                    raise
                log.warning("state database unreachable: using the unlinked ids already known")
        found = self._ids.get(org_id)
        if found is None:
            async with self.db.begin() as conn:
                rows = await conn.execute(select(scim_unlinks.c.employee_id)
                                          .where(scim_unlinks.c.org_id == org_id))
                found = frozenset(int(r[0]) for r in rows)
            self._ids[org_id] = found
        return found

    async def _check_shared(self) -> None:
        """`_check_version`, one at a time: callers meanwhile share its outcome."""
        checking = self._checking
        if checking is None:
            checking = self._checking = asyncio.ensure_future(self._check_version())
            checking.add_done_callback(self._checked_done)
        await asyncio.shield(checking)

    def _checked_done(self, checking: asyncio.Future[None]) -> None:
        self._checking = None
        if not checking.cancelled():
            checking.exception()  # retrieved: every waiter got it already

    async def _check_version(self) -> None:
        async with self.db.begin() as conn:
            version = await self.db.version(conn, SCIM_UNLINKS_TOPIC)
        self._checked = time.monotonic()
        if version != self._version:
            self._ids.clear()
            self._version = version

    async def check_writable(self) -> None:
        """Raise StateUnavailable now rather than after a backend write the marker must follow."""
        async with self.db.begin() as conn:
            await conn.execute(select(1))

    def _changed(self, org_id: int, employee_id: int, unlinked: bool) -> None:
        """This process's own change, seen at once (others' come with the counter)."""
        known = self._ids.get(org_id)
        if known is not None:
            self._ids[org_id] = known | {employee_id} if unlinked else known - {employee_id}

    # ---- markers ----

    async def unlink(self, org_id: int, employee_id: int, *, user_name: str,
                     external_id: str | None, values: Mapping[str, str | None]) -> Unlinked:
        """Mark a person unlinked (again: the newest values win), in one transaction."""
        marker = Unlinked(employee_id, user_name, external_id, now())
        held = [{"org_id": org_id, "employee_id": employee_id, "field": field,
                 "value_key": _key(value)} for field, value in values.items() if value]
        async with self.db.begin() as conn:
            await self._forget(conn, org_id, employee_id)
            await conn.execute(insert(scim_unlinks).values(
                org_id=org_id, employee_id=employee_id, unlinked_at=marker.unlinked_at,
                user_name=user_name, user_name_key=_key(user_name), external_id=external_id))
            if held:
                await conn.execute(insert(scim_unlink_values), held)
            await self.db.bump(conn, SCIM_UNLINKS_TOPIC)
        self._changed(org_id, employee_id, unlinked=True)
        return marker

    async def relink(self, org_id: int, employee_id: int) -> None:
        """Drop the marker: the person is a SCIM user again."""
        async with self.db.begin() as conn:
            await self._forget(conn, org_id, employee_id)
            await self.db.bump(conn, SCIM_UNLINKS_TOPIC)
        self._changed(org_id, employee_id, unlinked=False)

    @staticmethod
    async def _forget(conn, org_id: int, employee_id: int) -> None:
        for table in (scim_unlinks, scim_unlink_values):
            await conn.execute(delete(table).where(table.c.org_id == org_id,
                                                   table.c.employee_id == employee_id))

    async def by_user_name(self, org_id: int, user_name: str) -> Unlinked | None:
        """The unlinked person whose userName (at unlink time) is `user_name`, if any."""
        async with self.db.begin() as conn:
            row = (await conn.execute(
                select(*_COLUMNS).where(scim_unlinks.c.org_id == org_id,
                                        scim_unlinks.c.user_name_key == _key(user_name))
                .order_by(scim_unlinks.c.unlinked_at.desc()))).first()
        return None if row is None else _row(org_id, row)

    async def holder(self, org_id: int, field: str, value: str) -> Unlinked | None:
        """The unlinked person still holding `value` in the unique backend `field`, if any."""
        async with self.db.begin() as conn:
            row = (await conn.execute(
                select(*_COLUMNS).join(scim_unlink_values, (
                    (scim_unlink_values.c.org_id == scim_unlinks.c.org_id)
                    & (scim_unlink_values.c.employee_id == scim_unlinks.c.employee_id)))
                .where(scim_unlinks.c.org_id == org_id, scim_unlink_values.c.field == field,
                       scim_unlink_values.c.value_key == _key(value)))).first()
        return None if row is None else _row(org_id, row)

    async def all(self, org_id: int) -> list[Unlinked]:
        """Every unlinked person of the org, by employee id (for reports)."""
        async with self.db.begin() as conn:
            rows = await conn.execute(select(*_COLUMNS).where(scim_unlinks.c.org_id == org_id)
                                      .order_by(scim_unlinks.c.employee_id))
            return [_row(org_id, r) for r in rows]
