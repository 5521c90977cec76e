"""Audit events stored off the hot path: a bounded in-process buffer, written in batches.

A request only appends its event to the buffer. A background task writes
what is waiting every `flush_interval_s` (sooner once a batch is full) in one
transaction, and prunes events past retention about hourly (a plain DELETE
by time: idempotent and cheap on its index, so every process may run it).
If the state database is down the events wait; once the buffer is full new
ones are dropped, counted in `audit_events_dropped_total` and logged at most
once a minute. Closing the writer (the app's cleanup) writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from gateway.audit.events import AuditEvent
from gateway.observability import metrics
from gateway.state import StateError
from gateway.state.audit_events import AuditTrail

log = logging.getLogger(__name__)

BATCH_SIZE = 500
PRUNE_INTERVAL_S = 3600.0
LOG_INTERVAL_S = 60.0
#: How long a clean shutdown waits for the database to take the last events.
CLOSE_TIMEOUT_S = 10.0


class AuditWriter:
    def __init__(self, trail: AuditTrail, *, buffer_size: int = 10_000,
                 flush_interval_s: float = 1.0, retention_days: int = 400) -> None:
        self.trail = trail
        self.buffer_size = buffer_size
        self.flush_interval_s = flush_interval_s
        self.retention = timedelta(days=retention_days)
        self._buffer: deque[AuditEvent] = deque()
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()  # the task's flush and an explicit one take turns
        self._task: asyncio.Task | None = None
        self._dropped_since_log = 0
        self._last_drop_log = -LOG_INTERVAL_S
        self._last_fail_log = -LOG_INTERVAL_S
        self._next_prune = 0.0

    @property
    def waiting(self) -> int:
        return len(self._buffer)

    def submit(self, event: AuditEvent) -> None:
        """Queue an event (never blocks, never raises); dropped if the buffer is full."""
        if len(self._buffer) >= self.buffer_size:
            self._dropped(1)
            return
        self._buffer.append(event)
        if len(self._buffer) >= BATCH_SIZE:
            self._wake.set()

    def _dropped(self, count: int) -> None:
        metrics.AUDIT_EVENTS_DROPPED.inc(count)
        self._dropped_since_log += count
        now = time.monotonic()
        if now - self._last_drop_log >= LOG_INTERVAL_S:
            log.error("audit buffer full (%d events waiting for the state database): "
                      "dropped %d audit event(s)", len(self._buffer), self._dropped_since_log,
                      extra={"audit_dropped": self._dropped_since_log})
            self._last_drop_log = now
            self._dropped_since_log = 0

    async def start(self) -> None:
        self._wake = asyncio.Event()  # bound to the running loop
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await self._prune_now_and_then()

    async def flush(self) -> int:
        """Write everything waiting, batch by batch; stops (events kept) if the DB fails."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        written = 0
        while self._buffer:
            batch = [self._buffer[i] for i in range(min(BATCH_SIZE, len(self._buffer)))]
            try:
                await self.trail.write([e.row() for e in batch])
            except StateError as exc:
                self._failed(exc)
                return written
            except Exception:  # a row the database refuses: don't retry it for ever
                log.exception("audit events refused by the state database; dropping %d",
                              len(batch))
                for _ in batch:
                    self._buffer.popleft()
                self._dropped(len(batch))
                continue
            for _ in batch:
                self._buffer.popleft()
            metrics.AUDIT_EVENTS_WRITTEN.inc(len(batch))
            written += len(batch)
        return written

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_fail_log >= LOG_INTERVAL_S:
            log.warning("can't write audit events (%d waiting, kept up to %d): %s",
                        len(self._buffer), self.buffer_size, exc)
            self._last_fail_log = now

    async def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_INTERVAL_S
        try:
            pruned = await self.trail.prune(datetime.now(UTC) - self.retention)
        except StateError as exc:
            log.warning("can't prune audit events: %s", exc)
            self._next_prune = now + self.flush_interval_s * 60
            return
        if pruned:
            log.info("pruned %d audit event(s) older than %d days", pruned,
                     self.retention.days)

    async def close(self) -> None:
        """Stop the task and write what is left (a clean shutdown loses nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.flush()
        except TimeoutError:
            pass
        if self._buffer:
            log.error("shutting down with %d audit event(s) the state database did not take",
                      len(self._buffer))
