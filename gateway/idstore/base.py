"""The identity → id cache interface every store implements.

The cache maps what the IdP knows (userName, externalId, group displayName)
to backend ids, per org, so hot lookups skip the backend's slow email scan.
It is a hint, never the truth: callers re-read the record and check it. That
is why a failing store degrades to misses instead of failing requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

OrgId = int | str


class IdStoreError(Exception):
    """A store operation callers must know failed (locks, mostly)."""


class IdStoreUnavailable(IdStoreError):
    """The shared store cannot be reached, so a lock cannot be taken."""


class LockTimeout(IdStoreError):
    """Another holder kept the lock longer than the caller was willing to wait."""

    def __init__(self, org_id: OrgId, name: str, timeout_s: float) -> None:
        super().__init__(f"lock {name!r} of org {org_id} not acquired within {timeout_s}s")
        self.org_id = org_id
        self.name = name
        self.timeout_s = timeout_s


@runtime_checkable
class IdStore(Protocol):
    """Per-org key/value spaces ("user:userName" → "48213") plus meta values and locks."""

    @property
    def answering(self) -> bool:
        """False while recent failures are being answered as misses (a miss may be a lie)."""
        ...

    async def get_many(self, org_id: OrgId, lookups: Sequence[tuple[str, str]]) -> list[str | None]:
        """Values for each (space, key), in order, None for a miss; one round trip."""
        ...

    async def put(self, org_id: OrgId, entries: Mapping[str, Mapping[str, str]]) -> None:
        """Store space → {key: value}; one round trip."""
        ...

    async def delete(self, org_id: OrgId, entries: Mapping[str, Sequence[str]]) -> None:
        """Forget space → [key, ...]; one round trip."""
        ...

    async def delete_if_equal(self, org_id: OrgId, space: str, key: str, expected: str) -> bool:
        """Forget key only while it still maps to `expected` (atomic); True if deleted."""
        ...

    async def get_meta(self, org_id: OrgId, name: str) -> str | None: ...

    async def set_meta(self, org_id: OrgId, name: str, value: str) -> None: ...

    async def set_meta_max(self, org_id: OrgId, name: str, value: str) -> None:
        """Store `value` only if greater (byte-wise) than the current one: watermarks."""
        ...

    async def count(self, org_id: OrgId, space: str) -> int: ...

    def lock(
        self, org_id: OrgId, name: str, *, timeout_s: float
    ) -> AbstractAsyncContextManager[None]:
        """Exclusive section across every process sharing the store.

        Raises `LockTimeout` when not acquired within `timeout_s`, and
        `IdStoreUnavailable` when the store cannot be reached.
        """
        ...

    async def clear_org(self, org_id: OrgId) -> None:
        """Forget every space and meta value of an org."""
        ...

    async def ping(self) -> bool:
        """True when the store answers (for health checks)."""
        ...

    async def close(self) -> None: ...
