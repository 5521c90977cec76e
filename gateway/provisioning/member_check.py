"""Which would-be group members are not people of the org: checked before anything changes.

The backend's membership add is all-or-nothing per call, but a call takes at
most 100 ids, and a request may also rename the team first. Checking every id
up front keeps such a request all-or-nothing: a 400 naming the unknown ids,
and nothing changed.

Employees are never deleted, never move to another org, and their ids are
never reused, so an id once seen in an org stays valid for good: verified ids
are cached in the id store (space `employees`) and never checked again. That
cache can't be wrong, only missing. Unverified ids are read one by one when
they are few, or found by one paged listing of the org when that costs fewer
backend calls (a first full push of a large group).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound
from gateway.idstore.base import IdStore

SPACE = "employees"
# Below this many unverified ids, read them one by one without looking at the org's size.
FEW = 10
# Concurrent single reads (the backend is rate-limited per org).
PARALLEL = 8
PER_PAGE = 200
# Cache writes are batched so a 100,000-person listing is a few dozen round trips.
PUT_BATCH = 2000


class MemberCheck:
    def __init__(self, backend: BackendClient, store: IdStore) -> None:
        self._backend = backend
        self._store = store

    async def remember(self, org_id: int, ids: Sequence[int]) -> None:
        """Record ids known to be employees of the org (read back from the backend)."""
        for start in range(0, len(ids), PUT_BATCH):
            chunk = ids[start:start + PUT_BATCH]
            await self._store.put(org_id, {SPACE: {str(i): "1" for i in chunk}})

    async def unknown(self, org_id: int, ids: Sequence[int]) -> list[int]:
        """The ids (in the order given) that are not employees of the org.

        Raises backend errors (the caller turns them into SCIM errors).
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        cached = await self._store.get_many(org_id, [(SPACE, str(i)) for i in wanted])
        todo = [i for i, hit in zip(wanted, cached, strict=True) if hit is None]
        if not todo:
            return []
        if len(todo) <= FEW:
            found = await self._read_each(org_id, todo)
        else:
            first = await self._backend.list_employees(org_id, page=1, per_page=PER_PAGE)
            pages = max(1, math.ceil(first.total / PER_PAGE))
            if len(todo) <= pages - 1:
                found = await self._read_each(org_id, todo)
            else:  # caches every id it sees as it goes
                found = await self._list_all(org_id, first.items, first.is_last, set(todo))
        return [i for i in todo if i not in found]

    async def _read_each(self, org_id: int, ids: list[int]) -> set[int]:
        limit = asyncio.Semaphore(PARALLEL)

        async def exists(employee_id: int) -> bool:
            async with limit:
                try:
                    await self._backend.get_employee(org_id, employee_id)
                except BackendNotFound:
                    return False
                return True

        answers = await asyncio.gather(*(exists(i) for i in ids))
        found = {i for i, ok in zip(ids, answers, strict=True) if ok}
        await self.remember(org_id, sorted(found))
        return found

    async def _list_all(
        self, org_id: int, first: list[dict], is_last: bool, wanted: set[int]
    ) -> set[int]:
        """One paged listing of the org; every id seen is cached, the wanted ones returned."""
        found: set[int] = set()
        pending: list[int] = []
        items, page = first, 1
        while True:
            ids = [r["id"] for r in items]
            found.update(i for i in ids if i in wanted)
            pending += ids
            if len(pending) >= PUT_BATCH or is_last:
                await self.remember(org_id, pending)
                pending = []
            if is_last:
                return found
            page += 1
            result = await self._backend.list_employees(org_id, page=page, per_page=PER_PAGE)
            items, is_last = result.items, result.is_last
