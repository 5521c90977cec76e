"""Per-org request rate limit: at most N requests in any one-second window.

A sliding window (not fixed one-second buckets) so that a burst straddling a
second boundary cannot reach twice the limit. Time comes from the app's clock,
so tests can move it instead of sleeping. Refused requests do not count.
"""

from __future__ import annotations

import math
from collections import deque

WINDOW_S = 1.0


class RateLimiter:
    """Remembers, per org, when its recent accepted requests arrived."""

    def __init__(self) -> None:
        self._seen: dict[int, deque[float]] = {}

    def admit(self, org_id: int, limit: int, now: float) -> int | None:
        """None when admitted, else the integer seconds to wait (`Retry-After`)."""
        if limit <= 0:
            return None
        seen = self._seen.setdefault(org_id, deque())
        while seen and seen[0] <= now - WINDOW_S:
            seen.popleft()
        if len(seen) >= limit:
            return max(1, math.ceil(seen[-limit] + WINDOW_S - now))
        seen.append(now)
        return None

    def reset(self) -> None:
        self._seen.clear()
