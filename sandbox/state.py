"""The sandbox's in-process state, reachable from every handler and from tests.

Tests running the app in-process read `app[SANDBOX_KEY]` to inspect the store,
the log of `/internal/v1` requests and the maintenance switch directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.ratelimit import RateLimiter
from sandbox.store import Store
from sandbox.timestamps import Clock, to_seconds


@dataclass
class Maintenance:
    """While enabled, every `/internal/v1` call answers 503."""

    enabled: bool = False
    retry_after: int | None = None


@dataclass
class Sandbox:
    """Everything a handler needs besides the request."""

    store: Store
    token: str
    default_rate_limit: int
    clock: Clock
    requests: list[dict[str, Any]] = field(default_factory=list)
    maintenance: Maintenance = field(default_factory=Maintenance)
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def now(self) -> int:
        """The clock's time in whole POSIX seconds (the contract's precision)."""
        return int(to_seconds(self.clock()))


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
