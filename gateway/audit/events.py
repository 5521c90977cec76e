"""A finished SCIM write request → one `AuditEvent` (built in microseconds, stored later).

Every write request of an authenticated org gets one, whatever its answer:
done (2xx), refused (4xx: what the IdP tried), unknown (the backend may have
acted but no clear answer came: a lost connection, a 5xx after a write call)
or failed (a 5xx before anything was sent to the backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.notes import AuditNote
from gateway.observability.context import RequestContext

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Backend answers after which a write may or may not have happened.
_UNCLEAR = frozenset({0, 500, 502, 503, 504})


@dataclass(slots=True)
class AuditEvent:
    at: datetime
    org_id: int
    credential_id: str | None
    credential_label: str | None
    request_id: str
    method: str
    path: str
    action: str  # space-separated action names
    outcome: str
    status: int
    target_type: str | None
    target_id: str | None
    target_name: str | None
    changes: dict[str, list[Any]] | None
    members: dict[str, list[str]] | None
    backend_calls: list[list[Any]]
    retries: int
    mapping_module: str | None
    mapping_version: str | None

    def row(self) -> dict[str, Any]:
        """The event as an `audit_events` row."""
        return {
            "at": self.at, "org_id": self.org_id, "credential_id": self.credential_id,
            "credential_label": self.credential_label, "request_id": self.request_id,
            "method": self.method, "path": self.path, "action": self.action,
            "outcome": self.outcome, "status": self.status, "target_type": self.target_type,
            "target_id": self.target_id, "target_name": self.target_name,
            "target_name_folded": self.target_name.casefold() if self.target_name else None,
            "changes": self.changes, "members": self.members,
            "backend_calls": self.backend_calls, "retries": self.retries,
            "mapping_module": self.mapping_module, "mapping_version": self.mapping_version,
        }


class WriteRoutes:
    """Which (method, route template) pairs are audited writes, and on what (cached)."""

    def __init__(self, base_path: str) -> None:
        self._prefix = "/" + base_path.strip("/")
        self._kinds: dict[tuple[str, str], str | None] = {}

    def kind(self, method: str, route: str) -> str | None:
        """ "user"/"group" for a write on /Users or /Groups (not .search), else None."""
        key = (method, route)
        if key not in self._kinds:
            self._kinds[key] = self._classify(method, route)
        return self._kinds[key]

    def _classify(self, method: str, route: str) -> str | None:
        if method not in _WRITES or not route.startswith(self._prefix + "/"):
            return None
        parts = route[len(self._prefix) + 1:].split("/")
        if parts[-1] == ".search":
            return None
        return {"Users": "user", "Groups": "group"}.get(parts[0])


def default_action(kind: str, method: str) -> str:
    """What a write that noted nothing (refused early) tried to do."""
    if kind == "user":
        return {"POST": "create", "DELETE": "deactivate"}.get(method, "update")
    return {"POST": "group_create", "DELETE": "group_delete"}.get(method, "group_update")


def outcome(method: str, status: int, ctx: RequestContext) -> str:
    if status < 400:
        return "done"
    if status < 500 and status != 499:
        return "refused"
    wrote = [c for c in ctx.backend_calls if not c.route.startswith("GET")]
    if any(c.status in _UNCLEAR for c in wrote) or any(c.status < 300 for c in wrote):
        return "unknown"
    return "failed"


def build(ctx: RequestContext, kind: str, status: int, path: str,
          path_id: str | None) -> AuditEvent:
    """The event of a finished write request of an authenticated org."""
    note = ctx.audit if isinstance(ctx.audit, AuditNote) else AuditNote()
    target_id = note.target_id or path_id
    return AuditEvent(
        at=datetime.now(UTC),
        org_id=ctx.org_id or 0,
        credential_id=ctx.credential_id,
        credential_label=ctx.credential_label,
        request_id=ctx.request_id,
        method=ctx.method,
        path=path,
        action=" ".join(note.actions) or default_action(kind, ctx.method),
        outcome=outcome(ctx.method, status, ctx),
        status=status,
        target_type=note.target_type or kind,
        target_id=target_id[:64] if target_id else None,
        target_name=note.target_name,
        changes=note.changes or None,
        members=({"added": note.added, "removed": note.removed}
                 if note.added or note.removed else None),
        backend_calls=[[c.route, c.status] for c in ctx.backend_calls],
        retries=ctx.retries,
        mapping_module=ctx.mapping_module,
        mapping_version=ctx.mapping_version,
    )
