"""Writes taken off the request path: a bounded in-process buffer, written in batches.

A request only appends to the buffer (`submit`: never blocks, never raises).
A background task writes what waits every `flush_interval_s`, sooner once a
batch is full, in order; `close` (the app's cleanup) stops it and writes what
is left, within `CLOSE_TIMEOUT_S`. If the state database is down the items
wait, and once the buffer is full new ones are dropped. The audit trail and
the user index each write through one of these; subclasses say how a batch
is written and what a drop, a failure or a refusal means for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Generic, TypeVar

from gateway.state import StateError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Items per transaction. A batch's rows are prepared on the event loop (about 15 µs an
# audit event), so a batch is also the longest the loop stops for a flush: ~3 ms at 200.
BATCH_SIZE = 200
#: How long a clean shutdown waits for the database to take the last items.
CLOSE_TIMEOUT_S = 10.0


class WriteBehind(Generic[T]):
    """The buffer and its writing task; see the module docstring."""

    #: The background task's name (shows in asyncio's task dumps).
    task_name = "write-behind"

    def __init__(self, *, buffer_size: int, flush_interval_s: float) -> None:
        self.buffer_size = buffer_size
        self.flush_interval_s = flush_interval_s
        self._buffer: deque[T] = deque()
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()  # the task's flush and an explicit one take turns
        self._task: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        return len(self._buffer)

    def submit(self, item: T) -> None:
        """Queue an item (never blocks, never raises); dropped if the buffer is full."""
        if len(self._buffer) >= self.buffer_size:
            self._full(1)
            return
        self._buffer.append(item)
        if len(self._buffer) >= BATCH_SIZE:
            self._wake.set()

    async def start(self) -> None:
        self._wake = asyncio.Event()  # bound to the running loop
        self._flushing = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await self._after_flush()

    async def flush(self) -> int:
        """Write everything waiting, batch by batch; stops (items kept) if the DB fails."""
        async with self._flushing:
            written = 0
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(BATCH_SIZE, len(self._buffer)))]
                try:
                    await self._write(batch)
                except StateError as exc:
                    self._failed(exc)
                    return written
                except Exception:  # items the database refuses: don't retry them for ever
                    self._refused(batch)
                else:
                    self._written(len(batch))
                    written += len(batch)
                for _ in batch:
                    self._buffer.popleft()
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
            self._left_behind(len(self._buffer))

    # ---- what a subclass says ----

    async def _write(self, batch: list[T]) -> None:
        """Write one batch in one transaction (StateError: the database is unavailable)."""
        raise NotImplementedError

    def _written(self, count: int) -> None:
        """`count` items were written."""

    def _full(self, count: int) -> None:
        """`count` new items were dropped: the buffer is full."""

    def _failed(self, exc: StateError) -> None:
        """A flush stopped: the database is unavailable (the items wait)."""

    def _refused(self, batch: list[T]) -> None:
        """The database refused a batch (it is dropped, not retried)."""
        log.exception("%s: %d item(s) refused by the state database; dropped",
                      self.task_name, len(batch))

    def _left_behind(self, count: int) -> None:
        """Shutting down with `count` items the database did not take."""

    async def _after_flush(self) -> None:
        """Run by the task after each flush (housekeeping)."""
