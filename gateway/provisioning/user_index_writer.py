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

import asyncio
import contextlib
import logging
import time
from collections import deque

from gateway.state import StateError
from gateway.state.user_index_entries import Change, UserIndexEntries

log = logging.getLogger(__name__)

BATCH_SIZE = 500
#: How often waiting changes are written (a change waits at most about this long).
FLUSH_INTERVAL_S = 0.5
LOG_INTERVAL_S = 60.0
#: How long a clean shutdown waits for the database to take the last changes.
CLOSE_TIMEOUT_S = 10.0


class IndexWriter:
    def __init__(self, rows: UserIndexEntries, *, flush_interval_s: float | None = None,
                 buffer_size: int = 100_000) -> None:
        self.rows = rows
        self.flush_interval_s = FLUSH_INTERVAL_S if flush_interval_s is None else flush_interval_s
        self.buffer_size = buffer_size
        self._buffer: deque[Change] = deque()
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()  # the task's flush and an explicit one take turns
        self._task: asyncio.Task | None = None
        self._dropped = 0
        self._last_log = -LOG_INTERVAL_S

    @property
    def waiting(self) -> int:
        return len(self._buffer)

    def submit(self, change: Change) -> None:
        """Queue a change (never blocks, never raises); dropped if the buffer is full."""
        if len(self._buffer) >= self.buffer_size:
            self._dropped += 1
            self._log_now_and_then(f"index write-behind buffer full ({len(self._buffer)} "
                                   f"changes waiting for the state database): dropped "
                                   f"{self._dropped}; catch-ups will find them")
            return
        self._buffer.append(change)
        if len(self._buffer) >= BATCH_SIZE:
            self._wake.set()

    def _log_now_and_then(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL_S:
            log.warning(message)
            self._last_log = now
            self._dropped = 0

    async def start(self) -> None:
        self._wake = asyncio.Event()  # bound to the running loop
        self._flushing = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name="user-index-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write everything waiting, batch by batch; stops (changes kept) if the DB fails."""
        async with self._flushing:
            written = 0
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(BATCH_SIZE, len(self._buffer)))]
                try:
                    await self.rows.apply(batch)
                except StateError as exc:
                    self._log_now_and_then(f"can't write user index entries ({len(self._buffer)} "
                                           f"waiting, kept up to {self.buffer_size}): {exc}")
                    return written
                except Exception:  # rows the database refuses: don't retry them for ever
                    log.exception("user index entries refused by the state database; "
                                  "dropping %d change(s)", len(batch))
                for _ in batch:
                    self._buffer.popleft()
                written += len(batch)
            return written

    async def close(self) -> None:
        """Stop the task and write what is left (a clean shutdown loses nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.flush()
        if self._buffer:
            log.warning("shutting down with %d user index change(s) the state database did "
                        "not take; catch-ups will find them", len(self._buffer))
