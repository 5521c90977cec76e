"""Which would-be group members are not people of the org: checked before anything changes.

The backend's membership add is all-or-nothing per call, but a call takes at
most 100 ids, and a request may also rename the team first. Checking every id
up front keeps such a request all-or-nothing: a 400 naming the unknown ids,
and nothing changed.

The answer is always the backend's, never a cache's: a write depends on it,
and an id store entry saying "this id is a person of the org" could be stale,
malformed or planted (an entry trusted blindly once made a rename go through
and the member add after it fail). Ids are read one by one when they are few,
or found by one paged listing of the org when that costs fewer backend calls
(a first full push of a large group).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound

# Below this many unverified ids, read them one by one without looking at the org's size.
FEW = 10
# Concurrent single reads (the backend is rate-limited per org).
PARALLEL = 8
PER_PAGE = 200


class MemberCheck:
    def __init__(self, backend: BackendClient) -> None:
        self._backend = backend

    async def unknown(self, org_id: int, ids: Sequence[int]) -> list[int]:
        """The ids (in the order given) that are not employees of the org.

        Raises backend errors (the caller turns them into SCIM errors).
        """
        todo = list(dict.fromkeys(ids))
        if not todo:
            return []
        if len(todo) <= FEW:
            found = await self._read_each(org_id, todo)
        else:
            first = await self._backend.list_employees(org_id, page=1, per_page=PER_PAGE)
            pages = max(1, math.ceil(first.total / PER_PAGE))
            if len(todo) <= pages - 1:
                found = await self._read_each(org_id, todo)
            else:
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
        return {i for i, ok in zip(ids, answers, strict=True) if ok}

    async def _list_all(
        self, org_id: int, first: list[dict], is_last: bool, wanted: set[int]
    ) -> set[int]:
        """One paged listing of the org; the wanted ids it holds."""
        found: set[int] = set()
        items, page = first, 1
        while True:
            found.update(r["id"] for r in items if r["id"] in wanted)
            if is_last:
                return found
            page += 1
            result = await self._backend.list_employees(org_id, page=page, per_page=PER_PAGE)
            items, is_last = result.items, result.is_last
