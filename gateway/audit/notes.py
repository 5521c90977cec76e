"""What a write did, noted by the use case doing it, for the request's audit event.

Use cases call these while they write; each is a no-op outside a SCIM
request (tests, admin commands). Field changes are recorded with the mapping
that made them: a field marked `sensitive` (or mapped from a SCIM password)
keeps its name but never its values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.mapping.resource_mapping import ResourceMapping
from gateway.observability.context import current

MASKED = "***"


@dataclass(slots=True)
class AuditNote:
    """The target and the effect of one write request, as far as it got."""

    target_type: str | None = None
    target_id: str | None = None
    target_name: str | None = None
    actions: list[str] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _note() -> AuditNote | None:
    ctx = current.get()
    if ctx is None:
        return None
    if ctx.audit is None:
        ctx.audit = AuditNote()
    return ctx.audit  # type: ignore[return-value]


def target(kind: str, target_id: object = None, name: object = None) -> None:
    """Whom the write is about ("user"/"group", backend id, userName/displayName)."""
    note = _note()
    if note is None:
        return
    note.target_type = kind
    if target_id is not None:
        note.target_id = str(target_id)
    if isinstance(name, str) and name:
        note.target_name = name


def action(*names: str) -> None:
    """What the write does: create, update, deactivate, reactivate, group_create, ..."""
    note = _note()
    if note is not None:
        note.actions += [n for n in names if n not in note.actions]


def withdraw_changes() -> None:
    """Forget the actions and field changes noted so far: the backend refused the write they
    planned as stale (nothing landed), and it is planned again from a fresh read."""
    note = _note()
    if note is not None:
        note.actions.clear()
        note.changes.clear()


def changes(mapping: ResourceMapping, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """Backend fields `after` sets, with their values in `before` (masked when sensitive)."""
    note = _note()
    if note is None:
        return
    hidden = _sensitive(mapping)
    for name, new in after.items():
        old = before.get(name)
        if old == new:  # a create's empty fields, a no-op write
            continue
        note.changes[name] = [MASKED, MASKED] if name in hidden else [old, new]


def members(added: Iterable[object] = (), removed: Iterable[object] = ()) -> None:
    """Memberships added and removed (employee ids)."""
    note = _note()
    if note is not None:
        note.added += [str(i) for i in added]
        note.removed += [str(i) for i in removed]


_SENSITIVE: dict[int, tuple[ResourceMapping, frozenset[str]]] = {}


def _sensitive(mapping: ResourceMapping) -> frozenset[str]:
    """The backend fields whose values are never recorded (computed once per mapping)."""
    cached = _SENSITIVE.get(id(mapping))
    if cached is not None and cached[0] is mapping:
        return cached[1]
    hidden = frozenset(
        b.spec.backend for b in mapping.bound
        if b.spec.sensitive or b.spec.scim.casefold().startswith("password"))
    _SENSITIVE[id(mapping)] = (mapping, hidden)
    return hidden
