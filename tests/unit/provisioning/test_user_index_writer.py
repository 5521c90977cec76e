"""The write-behind of the gateway's own index rows: nothing on the request path, nothing
lost on a clean shutdown, and a database outage only delays the rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.provisioning.user_index_writer import IndexWriter
from gateway.state import StateUnavailable
from gateway.state.user_index_entries import Change, Claim, UserIndexEntries

NOW = datetime(2026, 12, 8, tzinfo=UTC)


async def test_close_writes_what_waits(rows: UserIndexEntries) -> None:
    writer = IndexWriter(rows, flush_interval_s=3600)
    await writer.start()
    writer.submit(Change(17, {"userName:a": Claim(1, NOW)}))
    writer.submit(Change(17, {"userName:b": Claim(1, NOW)}, drops=[("userName:a", 1)]))
    assert writer.waiting == 2 and await rows.get(17, "userName:b") is None
    await writer.close()
    assert writer.waiting == 0
    assert await rows.get(17, "userName:a") is None and await rows.get(17, "userName:b") == 1


class Flaky:
    """Rows whose database is down for the first `down` writes."""

    def __init__(self, rows: UserIndexEntries, down: int) -> None:
        self.rows, self.down = rows, down

    async def apply(self, changes: Sequence[Change]) -> None:
        if self.down:
            self.down -= 1
            raise StateUnavailable("state database down")
        await self.rows.apply(changes)


async def test_a_database_outage_keeps_the_rows_until_it_answers(rows: UserIndexEntries) -> None:
    writer = IndexWriter(Flaky(rows, down=1), flush_interval_s=3600)  # type: ignore[arg-type]
    writer.submit(Change(17, {"externalId:x": Claim(5, NOW)}))
    assert await writer.flush() == 0 and writer.waiting == 1  # kept
    assert await writer.flush() == 1 and writer.waiting == 0
    assert await rows.get(17, "externalId:x") == 5


async def test_a_full_buffer_drops_new_rows_never_blocks(rows: UserIndexEntries) -> None:
    writer = IndexWriter(rows, flush_interval_s=3600, buffer_size=2)
    for n in range(5):
        writer.submit(Change(17, {f"userName:{n}": Claim(n, NOW)}))
    assert writer.waiting == 2  # the rest is for the next catch-up to find
    await writer.flush()
    assert await rows.count(17) == 2
