"""Audit events stored off the hot path: a bounded in-process buffer, written in batches
(gateway/state/write_behind.py).

A request only appends its event to the buffer. A background task writes
what is waiting every `flush_interval_s` (sooner once a batch is full) in one
transaction, and prunes events past retention about hourly (a plain DELETE
by time: idempotent and cheap on its index, so every process may run it).
If the state database is down the events wait; once the buffer is full new
ones are dropped, counted in `audit_events_dropped_total` and logged at most
once a minute. Closing the writer (the app's cleanup) writes what is left.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from gateway.audit.events import AuditEvent
from gateway.observability import metrics
from gateway.state import StateError
from gateway.state.audit_events import AuditTrail
from gateway.state.write_behind import WriteBehind

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600.0
LOG_INTERVAL_S = 60.0


class AuditWriter(WriteBehind[AuditEvent]):
    task_name = "audit-writer"

    def __init__(self, trail: AuditTrail, *, buffer_size: int = 10_000,
                 flush_interval_s: float = 1.0, retention_days: int = 400) -> None:
        super().__init__(buffer_size=buffer_size, flush_interval_s=flush_interval_s)
        self.trail = trail
        self.retention = timedelta(days=retention_days)
        self._dropped_since_log = 0
        self._last_drop_log = -LOG_INTERVAL_S
        self._last_fail_log = -LOG_INTERVAL_S
        self._next_prune = 0.0

    async def _write(self, batch: list[AuditEvent]) -> None:
        await self.trail.write([e.row() for e in batch])

    def _written(self, count: int) -> None:
        metrics.AUDIT_EVENTS_WRITTEN.inc(count)

    def _full(self, count: int) -> None:
        metrics.AUDIT_EVENTS_DROPPED.inc(count)
        self._dropped_since_log += count
        now = time.monotonic()
        if now - self._last_drop_log >= LOG_INTERVAL_S:
            log.error("audit buffer full (%d events waiting for the state database): "
                      "dropped %d audit event(s)", len(self._buffer), self._dropped_since_log,
                      extra={"audit_dropped": self._dropped_since_log})
            self._last_drop_log = now
            self._dropped_since_log = 0

    def _refused(self, batch: list[AuditEvent]) -> None:
        log.exception("audit events refused by the state database; dropping %d", len(batch))
        self._full(len(batch))

    def _failed(self, exc: StateError) -> None:
        now = time.monotonic()
        if now - self._last_fail_log >= LOG_INTERVAL_S:
            log.warning("can't write audit events (%d waiting, kept up to %d): %s",
                        len(self._buffer), self.buffer_size, exc)
            self._last_fail_log = now

    def _left_behind(self, count: int) -> None:
        log.error("shutting down with %d audit event(s) the state database did not take",
                  count)

    async def _after_flush(self) -> None:
        await self._prune_now_and_then()

    async def _prune_now_and_then(self) -> None:
        """About hourly: delete the events past retention."""
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
