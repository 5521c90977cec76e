"""The sandbox application: middlewares, state and routes put together.

Middlewares run outermost first: `envelope` (request id, request log, error
rendering), `authenticate` (401 before anything else, even an unknown route),
`maintenance` (503 for `/internal/v1`); the router's own 404/405 then come
from the handler stage, after the token check, as the contract orders them.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox import admin, api
from sandbox.errors import ApiError, method_not_allowed, not_found, unauthorized, unavailable
from sandbox.state import SANDBOX_KEY, Maintenance, Sandbox
from sandbox.store import Store
from sandbox.timestamps import Clock, system_clock

__all__ = ["SANDBOX_KEY", "Maintenance", "Sandbox", "create_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = logging.getLogger(__name__)
MAX_BODY_BYTES = 512 * 1024 * 1024  # the bulk admin routes load whole orgs at once
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def _from_http(exc: web.HTTPException) -> ApiError:
    """The router's (and aiohttp's) own errors in the contract's error shape."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return method_not_allowed(",".join(sorted(exc.allowed_methods)))
    if isinstance(exc, web.HTTPNotFound):
        return not_found("no such route")
    return ApiError(exc.status, _HTTP_CODES.get(exc.status, "bad_request"), exc.reason)


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Echo or create `X-Request-Id`, log internal calls, render every error as JSON."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    if api.is_internal(request.path):
        request.app[SANDBOX_KEY].requests.append(
            {"method": request.method, "path": request.path, "query": dict(request.query),
             "request_id": request.headers.get("X-Request-Id")}
        )
    try:
        response = await handler(request)
    except ApiError as error:
        response = _error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error_response(_from_http(exc))
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        response = _error_response(ApiError(500, "internal", "unexpected sandbox error"))
    response.headers["X-Request-Id"] = request_id
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`Authorization: Token <t>`, compared in constant time."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = request.app[SANDBOX_KEY].token.encode()
    if scheme.lower() != "token" or not hmac.compare_digest(token.strip().encode(), expected):
        raise unauthorized()
    return await handler(request)


@web.middleware
async def maintenance(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While maintenance is on, every `/internal/v1` call is a 503."""
    state = request.app[SANDBOX_KEY].maintenance
    if state.enabled and api.is_internal(request.path):
        raise unavailable(state.retry_after)
    return await handler(request)


def create_app(
    db_path: str = ":memory:",
    service_token: str = "sandbox-token",
    default_rate_limit: int = 50,
    clock: Clock | None = None,
) -> web.Application:
    """A sandbox over the SQLite database at `db_path` (":memory:" for tests)."""
    app = web.Application(
        middlewares=[envelope, authenticate, maintenance], client_max_size=MAX_BODY_BYTES
    )
    store = Store(db_path)
    app[SANDBOX_KEY] = Sandbox(
        store=store,
        token=service_token,
        default_rate_limit=default_rate_limit,
        clock=clock or system_clock,
    )
    app.add_routes(api.routes)
    app.add_routes(admin.routes)

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    return app
