"""A group's lock is held with AsyncExitStack: the lock sees how the change ended."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest

from gateway.idstore.memory_store import MemoryIdStore
from gateway.provisioning.groups import GroupService


class RecordingStore(MemoryIdStore):
    """The in-process store, noting the exception each lock was left with."""

    def __init__(self) -> None:
        super().__init__()
        self.exits: list[BaseException | None] = []

    @asynccontextmanager
    async def lock(self, org_id, name, *, timeout_s) -> AsyncIterator[None]:
        async with super().lock(org_id, name, timeout_s=timeout_s):
            try:
                yield
            except BaseException as exc:
                self.exits.append(exc)
                raise
            self.exits.append(None)


async def test_a_failed_membership_change_leaves_the_lock_with_its_exception():
    store = RecordingStore()
    service = GroupService(backend=None, store=store, state=None,  # type: ignore[arg-type]
                           max_scan=10)
    ctx = SimpleNamespace(org_id=17)
    failure = RuntimeError("the backend fell over mid-replace")
    with pytest.raises(RuntimeError) as raised:
        async with service._group_lock(ctx, "7", 7):  # type: ignore[arg-type]
            raise failure
    assert raised.value is failure and store.exits == [failure]
    async with service._group_lock(ctx, "7", 7):  # type: ignore[arg-type]
        pass
    assert store.exits == [failure, None]  # released: the next change gets it at once
