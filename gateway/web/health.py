"""Liveness (`/healthz`) and readiness (`/readyz`) for load balancers and orchestrators.

`/healthz` says the process answers, nothing more: restarting it would not
help when the backend is down. `/readyz` says whether SCIM requests can
succeed now: every registered dependency check (backend, Redis, the state
database...) runs concurrently, each within `READY_TIMEOUT_S`. The body names
the dependencies and their outcome, never a URL, a message or a secret. A
dependency is one `readiness.add("name", coroutine_function)` at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.web.responses import scim_response

log = logging.getLogger(__name__)

# Each check's budget: a load balancer polls every few seconds and must get an answer.
READY_TIMEOUT_S = 2.0
# What a 503 from /readyz asks callers to wait, as every 503 of the gateway does.
NOT_READY_RETRY_AFTER_S = 5

Check = Callable[[], Awaitable[bool | None]]


class Readiness:
    """Named async checks. A check is not ready when it answers False, raises or times out;
    any other answer (True, or None from a `ping()` that raises on failure) is ready."""

    def __init__(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        """name → "ok" | "failed" | "timeout", every check run at once."""
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._one(n) for n in names))
        return dict(zip(names, outcomes, strict=True))

    async def _one(self, name: str) -> str:
        try:
            async with asyncio.timeout(self.timeout_s):
                ok = await self._checks[name]()
        except TimeoutError:
            return "timeout"
        except Exception:  # a check that raises is a dependency that isn't ready
            log.warning("readiness check %s raised", name, exc_info=True)
            return "failed"
        return "failed" if ok is False else "ok"


READINESS = web.AppKey("readiness", Readiness)


def add_routes(app: web.Application, ignore_auth: Callable) -> None:
    """Both routes, outside SCIM's authentication (`ignore_auth` marks a handler so)."""
    app[READINESS] = Readiness()
    app.router.add_get("/healthz", ignore_auth(healthz))
    app.router.add_get("/readyz", ignore_auth(readyz))


async def healthz(request: web.Request) -> web.Response:
    """Liveness (unauthenticated, says nothing about orgs or dependencies)."""
    return scim_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when every dependency answered in time, else 503 naming the ones that didn't."""
    checks = await request.app[READINESS].run()
    failed = sorted(name for name, outcome in checks.items() if outcome != "ok")
    if failed:
        return scim_response({"status": "unavailable", "failed": failed, "checks": checks}, 503,
                             {"Retry-After": str(NOT_READY_RETRY_AFTER_S)})
    return scim_response({"status": "ready", "checks": checks})
