"""In-process id store: for tests, demos and single-process deployments only.

Nothing is shared between processes, so behind a load balancer each process
learns ids on its own and locks only exclude tasks of the same process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from gateway.idstore.base import LockTimeout, OrgId


class MemoryIdStore:
    """The `IdStore` interface over plain dicts (one process only)."""

    answering = True  # a dict never fails

    def __init__(self) -> None:
        # org → space → key → value
        self._orgs: dict[str, dict[str, dict[str, str]]] = {}
        self._meta: dict[str, dict[str, str]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._lock_users: dict[tuple[str, str], int] = {}

    async def get_many(self, org_id: OrgId, lookups: Sequence[tuple[str, str]]) -> list[str | None]:
        spaces = self._orgs.get(str(org_id), {})
        return [spaces.get(space, {}).get(key) for space, key in lookups]

    async def put(self, org_id: OrgId, entries: Mapping[str, Mapping[str, str]]) -> None:
        for space, mapping in entries.items():
            if mapping:
                spaces = self._orgs.setdefault(str(org_id), {})
                spaces.setdefault(space, {}).update({str(k): str(v) for k, v in mapping.items()})

    async def delete(self, org_id: OrgId, entries: Mapping[str, Sequence[str]]) -> None:
        spaces = self._orgs.get(str(org_id), {})
        for space, keys in entries.items():
            values = spaces.get(space)
            if values is not None:
                for key in keys:
                    values.pop(key, None)

    async def delete_if_equal(self, org_id: OrgId, space: str, key: str, expected: str) -> bool:
        values = self._orgs.get(str(org_id), {}).get(space)
        if values is not None and values.get(key) == expected:
            del values[key]
            return True
        return False

    async def get_meta(self, org_id: OrgId, name: str) -> str | None:
        return self._meta.get(str(org_id), {}).get(name)

    async def set_meta(self, org_id: OrgId, name: str, value: str) -> None:
        self._meta.setdefault(str(org_id), {})[name] = value

    async def set_meta_max(self, org_id: OrgId, name: str, value: str) -> None:
        meta = self._meta.setdefault(str(org_id), {})
        current = meta.get(name)
        # Code-point order equals the UTF-8 byte order Redis compares with.
        if current is None or value > current:
            meta[name] = value

    async def count(self, org_id: OrgId, space: str) -> int:
        return len(self._orgs.get(str(org_id), {}).get(space, {}))

    @asynccontextmanager
    async def lock(self, org_id: OrgId, name: str, *, timeout_s: float) -> AsyncIterator[None]:
        ident = (str(org_id), name)
        lock = self._locks.setdefault(ident, asyncio.Lock())
        self._lock_users[ident] = self._lock_users.get(ident, 0) + 1
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    await lock.acquire()
            except TimeoutError:
                raise LockTimeout(org_id, name, timeout_s) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            # Drop idle locks so the table doesn't grow with every name ever used.
            self._lock_users[ident] -= 1
            if not self._lock_users[ident]:
                del self._lock_users[ident]
                del self._locks[ident]

    async def clear_org(self, org_id: OrgId) -> None:
        self._orgs.pop(str(org_id), None)
        self._meta.pop(str(org_id), None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
