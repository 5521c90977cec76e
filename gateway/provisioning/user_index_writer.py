"""The gateway's own user-index changes, written to the state database off the request path.

A POST, PUT or PATCH puts its index entries in Redis at once (the next lookup
reads them there) and hands the same change to this writer: an append to a
bounded buffer, nothing more. A background task writes what waits every
`flush_interval_s`, in order, in one transaction; closing the writer (the
app's cleanup) writes what is left. Nothing here can make a lookup wrong:
catch-ups only advance the watermark over what they read themselves, so an
entry still waiting (or lost with a crash, or dropped from a full buffer while
the database is down) belongs to a record changed after the watermark, and
the next catch-up finds it.
"""

from __future__ import annotations

import logging
import time

from gateway.state import StateError
from gateway.state.user_index_entries import Change, UserIndexEntries
from gateway.state.write_behind import WriteBehind

log = logging.getLogger(__name__)

#: How often waiting changes are written (a change waits at most about this long).
FLUSH_INTERVAL_S = 0.5
LOG_INTERVAL_S = 60.0


class IndexWriter(WriteBehind[Change]):
    task_name = "user-index-writer"

    def __init__(self, rows: UserIndexEntries, *, flush_interval_s: float | None = None,
                 buffer_size: int = 100_000) -> None:
        super().__init__(buffer_size=buffer_size, flush_interval_s=(
            FLUSH_INTERVAL_S if flush_interval_s is None else flush_interval_s))
        self.rows = rows
        self._dropped = 0
        self._last_log = -LOG_INTERVAL_S

    async def _write(self, batch: list[Change]) -> None:
        await self.rows.apply(batch)

    def _full(self, count: int) -> None:
        self._dropped += count
        self._log_now_and_then(f"index write-behind buffer full ({len(self._buffer)} "
                               f"changes waiting for the state database): dropped "
                               f"{self._dropped}; catch-ups will find them")

    def _failed(self, exc: StateError) -> None:
        self._log_now_and_then(f"can't write user index entries ({len(self._buffer)} "
                               f"waiting, kept up to {self.buffer_size}): {exc}")

    def _refused(self, batch: list[Change]) -> None:
        log.exception("user index entries refused by the state database; dropping %d "
                      "change(s)", len(batch))

    def _left_behind(self, count: int) -> None:
        log.warning("shutting down with %d user index change(s) the state database did "
                    "not take; catch-ups will find them", count)

    def _log_now_and_then(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL_S:
            log.warning(message)
            self._last_log = now
            self._dropped = 0
