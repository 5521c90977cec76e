"""One log line and one set of metric samples per SCIM request.

The middleware opens the request's `RequestContext` (auth fills in who is
asking, the backend client what it called), and when the answer is known
writes the access line (`gateway.access`) and the SCIM request metrics.
Health checks and scrapes are not SCIM requests and are left out, so a load
balancer polling `/healthz` doesn't drown the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.audit import events as audit_events
from gateway.audit.events import AuditEvent
from gateway.observability import metrics
from gateway.observability.context import RequestContext, current
from gateway.request_context import request_id
from gateway.scim.idp_quirks import identify_idp

access_log = logging.getLogger("gateway.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The route label of a request no route matched (its raw path may hold anything).
UNMATCHED = "(unmatched)"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Answer to a request whose client went away before it was answered (nginx's number).
CLIENT_CLOSED = 499


def observe_requests(
    base_path: str, audit: Callable[[AuditEvent], None] | None = None,
) -> Middleware:
    """The middleware, for SCIM requests under `base_path`; writes go to `audit` too."""
    prefix = "/" + base_path.strip("/")
    below = prefix + "/"
    operations: dict[tuple[str, str], str] = {}
    writes = audit_events.WriteRoutes(base_path)

    def operation(method: str, route: str) -> str:
        """ "PATCH /Users/{id}": cached, as the set of methods x routes is small and fixed."""
        key = (method, route)
        name = operations.get(key)
        if name is None:
            shown = method if method in _METHODS else "OTHER"
            path = (route[len(prefix):] or "/") if route.startswith(prefix) else route
            name = operations[key] = f"{shown} {path}"
        return name

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else UNMATCHED
        # As the auth middleware decides what it guards: by the route matched, or by path.
        if not (route.startswith(below) or route == prefix
                or (path := request.path).startswith(below) or path == prefix):
            return await handler(request)
        ctx = RequestContext(
            request_id=request_id.get() or "",
            method=request.method,
            route=route,
            user_agent=request.headers.get("User-Agent", ""),
        )
        token = current.set(ctx)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            current.reset(token)
            _finish(ctx, status, time.perf_counter() - started,
                    operation(ctx.method, ctx.route))
            kind = writes.kind(ctx.method, ctx.route) if audit is not None else None
            if kind is not None and ctx.org_id is not None:  # 401s belong to no org
                audit(audit_events.build(ctx, kind, status, request.path,  # type: ignore[misc]
                                         request.match_info.get("id")))

    return observe


def _finish(ctx: RequestContext, status: int, seconds: float, operation: str) -> None:
    org = str(ctx.org_id) if ctx.org_id is not None else "none"
    idp = identify_idp(ctx.user_agent, ctx.credential_label)
    metrics.scim_request(org, idp, operation, status, seconds)
    level = logging.WARNING if status >= 500 else logging.INFO
    if access_log.isEnabledFor(level):
        access_log.log(level, "scim request", extra={
            "request_id": ctx.request_id,
            "org": ctx.org_id,
            "credential_id": ctx.credential_id,
            "idp": idp,
            "method": ctx.method,
            "route": ctx.route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "backend_calls": len(ctx.backend_calls),
            "retries": ctx.retries,
        })
