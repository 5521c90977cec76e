"""Index watermarks: where a catch-up starts reading, and the mark a read leaves behind.

A watermark is `"<newest updated_at read> <when that read began>"`, both ISO
UTC as the backend writes them. A catch-up asks the backend for the records
changed since (`updated_since`) a little before the newest change it read,
because timestamps have second precision and a write may commit a moment
after its `updated_at`; a read begun long after its newest change needs no
such overlap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.backend.records import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

EPOCH = "1970-01-01T00:00:00Z"
# Re-read this much before the watermark: timestamps have second precision and
# a write may commit a moment after its updated_at.
OVERLAP = timedelta(seconds=2)
# When the read that indexed the newest change began this long after that change
# (room for commit delay and clock skew), everything stamped at or before it was
# already visible to that read: the next catch-up starts just after it, so a
# same-second mass update isn't re-read on every miss.
SETTLED = timedelta(minutes=5)


def catch_up_from(watermark: str) -> str | None:
    """The `updated_since` for a catch-up after `watermark` (None: read everything).

    A read that found nobody (an org built empty) still says something: whoever
    was stamped well before it began would have been seen, so the next catch-up
    starts `SETTLED` before that read, not at the beginning of time.
    """
    newest, _, read_at = watermark.partition(" ")
    if newest == EPOCH:
        return format_timestamp(parse_timestamp(read_at) - SETTLED) if read_at else None
    newest_at = parse_timestamp(newest)
    if read_at and parse_timestamp(read_at) - newest_at > SETTLED:
        return format_timestamp(newest_at + timedelta(seconds=1))
    return format_timestamp(newest_at - OVERLAP)


def valid(org_id: int, watermark: str | None) -> str | None:
    """`watermark` if it parses, else None (logged): an unreadable mark is as good as none."""
    if watermark is None:
        return None
    newest, _, read_at = watermark.partition(" ")
    try:
        parse_timestamp(newest)
        if read_at:
            parse_timestamp(read_at)
    except (ValueError, TypeError, OverflowError):
        log.warning("user index of org %s: watermark %r can't be read; the index is rebuilt",
                    org_id, watermark[:80])
        return None
    return watermark


def updated_at(record: dict) -> datetime | None:
    """A record's `updated_at` as an aware datetime (None when missing or unreadable).

    Once per record of every build and catch-up: `fromisoformat` (a fraction of a
    microsecond) where `strptime` took some 40.
    """
    try:
        stamped = datetime.fromisoformat(record["updated_at"])
    except (KeyError, ValueError, TypeError):
        return None
    return stamped.astimezone(UTC) if stamped.tzinfo else stamped.replace(tzinfo=UTC)


class Reading:
    """One paged read of the backend, and the watermark it leaves.

    The new watermark is the newest `updated_at` seen (never below `floor`'s),
    with the time this read began. A read of several pages is several
    snapshots: a record on an early page may change before the last page is
    read, and a newer change seen later would carry the watermark past it.
    Such a change is stamped after the first page's snapshot, and nothing
    seen is stamped more than the read's duration after that snapshot, so
    the watermark steps back by that duration (a difference of durations:
    no clock comparison) and the next catch-up re-reads what changed while
    this one ran. A read begun long after its newest change needs no step.
    """

    def __init__(self, floor: str = EPOCH, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.started = datetime.now(UTC)
        self._monotonic = monotonic
        self._clock = monotonic()
        self.newest = floor.partition(" ")[0]
        self.pages = 0

    def saw(self, records: list[dict]) -> None:
        self.pages += 1
        for record in records:
            self.newest = max(self.newest, record.get("updated_at") or EPOCH)

    def watermark(self) -> str:
        newest = self.newest
        if (self.pages > 1 and newest != EPOCH
                and self.started - parse_timestamp(newest) <= SETTLED):
            took = timedelta(seconds=math.ceil(self._monotonic() - self._clock))
            newest = format_timestamp(parse_timestamp(newest) - took)
        return f"{newest} {format_timestamp(self.started)}"
