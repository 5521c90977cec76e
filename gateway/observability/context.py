"""What one SCIM request is and has done so far, readable from anywhere beneath it.

The web layer opens a `RequestContext` per SCIM request; auth fills in who is
asking; the backend client notes each attempt and retry. The per-request log
line and the metrics read it when the request ends, and the audit trail can
take the same object (org, credential, request id, backend calls with their
statuses, retries) instead of threading arguments through every layer.

The request id itself stays in `gateway.request_context.request_id` (the
variable every backend call reads); this module adds what the log line and the
audit trail need on top of it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class BackendCall:
    """One HTTP attempt on the backend: its route template ("PATCH employees") and status.

    `status` is the HTTP status, or 0 when no answer came (connection failed, timeout).
    """

    route: str
    status: int
    duration_s: float


@dataclass(slots=True)
class RequestContext:
    """One SCIM request, as the logs, metrics and audit trail describe it."""

    request_id: str
    method: str
    route: str  # route template (/scim/v2/Users/{id}), never the raw path
    user_agent: str = ""
    org_id: int | None = None
    credential_id: str | None = None
    credential_label: str | None = None
    backend_calls: list[BackendCall] = field(default_factory=list)
    retries: int = 0

    def authenticated(self, org_id: int, credential_id: str, label: str | None) -> None:
        self.org_id = org_id
        self.credential_id = credential_id
        self.credential_label = label


#: The SCIM request being served, or None outside one (start-up, background work).
current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)
