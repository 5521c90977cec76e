"""What the internal API's records look like: the fields a mapping may name.

Mappings are checked against these catalogues at start-up, so a typo in a
backend field name fails loudly before any customer traffic. The rules are
the contract's (`workstream-internal-api.md`, Employees and Teams).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class BackendField:
    """One field of a backend record."""

    name: str
    type: type
    required: bool = False  # required on create, can't be cleared
    writable: bool = True  # may appear in a create/update body
    searchable: bool = False  # a list query parameter matches it exactly
    unique: bool = False  # at most one record per org has a given value
    via_action: bool = False  # changed only through an action endpoint


EMPLOYEE_FIELDS: dict[str, BackendField] = {
    f.name: f
    for f in (
        BackendField("id", int, writable=False),
        BackendField("email", str, required=True, searchable=True, unique=True),
        BackendField("first_name", str, required=True),
        BackendField("last_name", str, required=True),
        BackendField("display_name", str),
        BackendField("title", str),
        BackendField("department", str),
        BackendField("employee_number", str, unique=True),  # when not null
        BackendField("cost_center", str),
        BackendField("manager_id", int),
        BackendField("phone", str),
        BackendField("locale", str),
        BackendField("timezone", str),
        BackendField("sso_id", str),
        BackendField("status", str, writable=False, searchable=True, via_action=True),
        BackendField("lock_version", int, writable=False),
        BackendField("created_at", str, writable=False),
        BackendField("updated_at", str, writable=False),
    )
}

# What at most one employee of an org may hold (an unlinked person still holds them).
UNIQUE_EMPLOYEE_FIELDS = tuple(name for name, f in EMPLOYEE_FIELDS.items() if f.unique)

TEAM_FIELDS: dict[str, BackendField] = {
    f.name: f
    for f in (
        BackendField("id", int, writable=False),
        BackendField("name", str, required=True, searchable=True, unique=True),
        BackendField("description", str),
        BackendField("member_count", int, writable=False),
        BackendField("lock_version", int, writable=False),
        BackendField("created_at", str, writable=False),
        BackendField("updated_at", str, writable=False),
    )
}

# Timestamps are ISO 8601 in UTC with a Z suffix, second precision (the contract's Transport).
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_timestamp(moment: datetime) -> str:
    """`moment` as the backend writes and reads timestamps."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """A backend timestamp as an aware UTC datetime (ValueError if it isn't one)."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


# The status field is changed by POST .../deactivate and .../reactivate, not by PATCH.
STATUS_FIELD = "status"
STATUS_ACTIVE = "active"
STATUS_DEACTIVATED = "deactivated"


def split_action_fields(changes: dict) -> tuple[dict, str | None]:
    """Split a change set into (PATCH body, new status or None)."""
    body = {k: v for k, v in changes.items() if not EMPLOYEE_FIELDS[k].via_action}
    return body, changes.get(STATUS_FIELD)
