"""The unlinked-ids cache on the hot path: one change-counter read for all waiting requests."""

from __future__ import annotations

import asyncio

from gateway.state import StateDB
from gateway.state.scim_unlinks import ScimUnlinks


async def test_concurrent_requests_share_one_change_counter_read(state_url: str) -> None:
    db = StateDB(state_url)
    try:
        await db.migrate()
        unlinks = ScimUnlinks(db, refresh_s=60.0)
        await unlinks.unlink(7, 1001, user_name="gone@x.example", external_id=None, values={})
        reads = 0
        version = db.version

        async def counted(conn, topic):
            nonlocal reads
            reads += 1
            await asyncio.sleep(0.01)  # a query takes a moment: the others arrive meanwhile
            return await version(conn, topic)

        db.version = counted  # type: ignore[method-assign]
        found = await asyncio.gather(*(unlinks.ids(7) for _ in range(32)))
        assert reads == 1
        assert all(ids == frozenset({1001}) for ids in found)
        # Within refresh_s nothing is read again; after it, once more.
        await unlinks.ids(7)
        assert reads == 1
        unlinks._checked = float("-inf")
        await asyncio.gather(*(unlinks.ids(7) for _ in range(8)))
        assert reads == 2
    finally:
        await db.close()
