"""Time as the contract shows it: UTC, second precision, `Z` suffix.

The store keeps POSIX seconds (integers sort and compare in an index); this is
the one place that converts between those and the wire form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def to_seconds(moment: datetime) -> float:
    """POSIX seconds of `moment`; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@lru_cache(maxsize=4096)  # every record read formats two; strftime was 6% of the sandbox's CPU
def iso(seconds: int) -> str:
    """`2026-11-28T14:03:11Z` for POSIX seconds."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
