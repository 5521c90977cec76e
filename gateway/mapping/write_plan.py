"""The write plan: which backend calls turn a person's record into a SCIM resource.

Pure (no I/O): the gateway's user writes (`gateway.provisioning.users`) carry
a plan out, and the ops check tool (`gateway.mapping.check`) prints the same
plan, so the tool can never predict something the gateway wouldn't do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.backend.records import (
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_FIELD,
    split_action_fields,
)
from gateway.mapping.conversion import changed_fields
from gateway.mapping.fields import TranslationError
from gateway.mapping.resource_mapping import ResourceMapping

# The employee action endpoints; the only way to change `status`.
StatusAction = Literal["deactivate", "reactivate"]
_ACTIONS: dict[str | None, StatusAction] = {
    STATUS_DEACTIVATED: "deactivate", STATUS_ACTIVE: "reactivate",
}


@dataclass(frozen=True)
class WritePlan:
    """The calls, in this order: create or update (fields), then the status action."""

    create: dict[str, Any] | None = None  # POST .../employees body (with an Idempotency-Key)
    update: dict[str, Any] | None = None  # PATCH .../employees/{id} body (If-Match: lock_version)
    action: StatusAction | None = None  # POST .../employees/{id}/<action>

    @property
    def empty(self) -> bool:
        return self.create is None and self.update is None and self.action is None


def plan_create(mapping: ResourceMapping, resource: dict[str, Any]) -> WritePlan:
    """`POST /Users`: the create, then `deactivate` if the resource is inactive.

    A new employee starts active, so only deactivation needs an action.
    """
    body, status = split_action_fields(mapping.to_backend(resource))
    return WritePlan(create=body, action="deactivate" if status == STATUS_DEACTIVATED else None)


def plan_update(
    mapping: ResourceMapping, record: dict[str, Any], current: dict[str, Any],
    target: dict[str, Any],
) -> WritePlan:
    """`PUT`/`PATCH`: only the fields that differ from `record` (read back as `current`)."""
    changes = changed_fields(mapping.to_backend(target, previous=current), record)
    body, status = split_action_fields(changes)
    return WritePlan(update=body or None, action=_ACTIONS.get(status))


def plan_status_patch(
    mapping: ResourceMapping, operations: list[dict[str, Any]]
) -> WritePlan | None:
    """Okta's (de)activation PATCH as the action alone, else None (the general path).

    The actions are idempotent and answer with the record, so there is nothing
    to read first and nothing to compare. Only one add/replace of `active` to
    a real boolean qualifies (path "active" or a path-less `{"active": bool}`),
    and only when the mapping maps `active` to the status alone, writable, and
    derives nothing (a fallback could follow `active`): then the status action
    is the whole change.
    """
    if len(operations) != 1:
        return None
    op = operations[0]
    if op.get("op") not in ("add", "replace"):
        return None
    path, value = op.get("path"), op.get("value")
    if "path" not in op and isinstance(value, dict) and len(value) == 1:
        [(path, value)] = value.items()
    if not isinstance(path, str) or path.casefold() != "active" or not isinstance(value, bool):
        return None
    status_fields = [b for b in mapping.bound if b.spec.backend == STATUS_FIELD]
    if len(status_fields) != 1 or any(b.spec.fallback is not None for b in mapping.bound):
        return None
    spec = status_fields[0].spec
    if status_fields[0].path.text() != "active" or not spec.writable:
        return None
    try:
        status = spec.translate.to_backend(value) if spec.translate else value
    except TranslationError:
        return None
    action = _ACTIONS.get(status) if isinstance(status, str) else None
    return WritePlan(action=action) if action is not None else None
