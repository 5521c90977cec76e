"""Cross-cutting HTTP concerns: request ids, SCIM error bodies, body size.

Every error leaves as a SCIM Error body (Okta's and Entra's clients parse
`status` and `detail` on every status, 404 and 405 included); an unexpected
exception is logged with the request id and answered as a SCIM 500 rather
than aiohttp's HTML page.
"""

from __future__ import annotations

import logging
import os
import re

from aiohttp import web

from gateway.provisioning.backend_errors import ESCAPED, escaped_error
from gateway.request_context import request_id
from gateway.scim.errors import ScimError
from gateway.state import StateCorrupt, StateUnavailable
from gateway.web.responses import error_response

log = logging.getLogger(__name__)

# An incoming X-Request-Id is echoed only if it looks like an id (it reaches logs).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@web.middleware
async def request_ids(request: web.Request, handler) -> web.StreamResponse:
    """Give every request an id, pass it to the backend, echo it to the caller."""
    incoming = request.headers.get("X-Request-Id")
    # 128 random bits as 32 hex digits (a uuid4's hex without building a UUID object).
    rid = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else os.urandom(16).hex()
    token = request_id.set(rid)
    try:
        response = await handler(request)
    finally:
        request_id.reset(token)
    response.headers["X-Request-Id"] = rid
    return response


@web.middleware
async def scim_errors(request: web.Request, handler) -> web.StreamResponse:
    """Render ScimError and aiohttp's own HTTP errors as SCIM Error bodies."""
    try:
        return await handler(request)
    except ScimError as exc:
        if exc.status >= 500:
            log.warning("%s %s -> %s: %s", request.method, request.path, exc.status, exc.detail)
        return error_response(exc)
    except StateUnavailable as exc:
        log.warning("%s %s -> 503: %s", request.method, request.path, exc)
        return error_response(ScimError(503, "The gateway's state database is unavailable; "
                                             "retry later", retry_after=exc.retry_after))
    except StateCorrupt as exc:
        # An operator's problem (the log names the row), not the IdP's: never a 500.
        log.error("%s %s -> 503: %s", request.method, request.path, exc)
        return error_response(ScimError(503, "The gateway's state database holds a record it "
                                             "can't read; the operator has been told",
                                        retry_after=60))
    except ESCAPED as exc:  # a backend or id store fault no use case translated: still a 503
        return error_response(escaped_error(exc))
    except web.HTTPRequestEntityTooLarge:
        return error_response(ScimError(413, "The request body is too large"))
    except web.HTTPMethodNotAllowed as exc:
        return error_response(ScimError(
            405, f"{request.method} is not supported here",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        ))
    except web.HTTPNotFound:
        return error_response(ScimError(404, f"No such endpoint: {request.path}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(ScimError(exc.status, exc.reason))
    except Exception:
        log.exception("unexpected error on %s %s (request %s)", request.method, request.path,
                      request_id.get())
        return error_response(ScimError(500, "Internal error; the request id is in the "
                                             "X-Request-Id header"))
