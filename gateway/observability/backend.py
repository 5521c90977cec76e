"""What the backend client reports about each attempt: into the metrics and the request.

Kept apart from the client so it stays a client: it calls these two functions
and knows nothing of Prometheus or of the request being served.
"""

from __future__ import annotations

from gateway.observability import metrics
from gateway.observability.context import BackendCall, current


def attempt(route: str, status: int, seconds: float) -> None:
    """One HTTP attempt on the backend (`status` 0: no answer came)."""
    metrics.backend_attempt(route, status, seconds)
    ctx = current.get()
    if ctx is not None:
        ctx.backend_calls.append(BackendCall(route, status, seconds))


def retry(route: str) -> None:
    """An attempt is about to be repeated."""
    metrics.backend_retry(route)
    ctx = current.get()
    if ctx is not None:
        ctx.retries += 1
