"""What the gateway knows about the SCIM request being served, for every layer below.

The web layer sets it when a request arrives; the backend client sends it on
and log lines carry it. It lives here, above no layer, so that the web layer
never reaches into the backend client to set it.
"""

from __future__ import annotations

from contextvars import ContextVar

#: The SCIM request's id; the web layer sets it, every backend call sends it as X-Request-Id.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
