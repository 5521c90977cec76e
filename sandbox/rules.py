"""Body decoding and field rules of the contract, kept apart from storage.

Validation is split by the contract's error precedence: `decode_json` and the
`*_shape` functions raise 400 (bad body), the `*_problems` functions return the
422 field messages (checked only after `If-Match`), and uniqueness (409) is the
store's job because it needs the data.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.bcp47 import is_language_tag
from sandbox.errors import Fields, bad_request

MAX_MEMBER_IDS = 100
_TIMEZONES = frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class FieldRule:
    """One writable field: its JSON type, nullability and value rule."""

    kind: type  # str or int
    required: bool = False
    min_len: int = 0
    max_len: int | None = None
    check: Callable[[Any], str | None] | None = None


def _one_at(value: str) -> str | None:
    return None if value.count("@") == 1 else "must contain exactly one @"


def _locale(value: str) -> str | None:
    return None if is_language_tag(value) else "is not a BCP 47 language tag"


def _timezone(value: str) -> str | None:
    return None if value in _TIMEZONES else "is not an IANA time zone name"


EMPLOYEE_RULES: dict[str, FieldRule] = {
    "email": FieldRule(str, required=True, min_len=3, max_len=254, check=_one_at),
    "first_name": FieldRule(str, required=True, min_len=1, max_len=100),
    "last_name": FieldRule(str, required=True, min_len=1, max_len=100),
    "display_name": FieldRule(str, max_len=200),
    "title": FieldRule(str, max_len=200),
    "department": FieldRule(str, max_len=200),
    "employee_number": FieldRule(str, max_len=64),
    "cost_center": FieldRule(str, max_len=200),
    "manager_id": FieldRule(int),
    "phone": FieldRule(str, max_len=40),
    "locale": FieldRule(str, check=_locale),
    "timezone": FieldRule(str, check=_timezone),
    "sso_id": FieldRule(str, max_len=255),
}
EMPLOYEE_READ_ONLY = frozenset(
    {"id", "org_id", "status", "lock_version", "created_at", "updated_at"}
)

TEAM_RULES: dict[str, FieldRule] = {
    "name": FieldRule(str, required=True, min_len=1, max_len=200),
    "description": FieldRule(str, max_len=1000),
}
TEAM_READ_ONLY = frozenset(
    {"id", "org_id", "member_count", "lock_version", "created_at", "updated_at"}
)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: object) -> bool:
    """True if any string (key or value) cannot be stored as UTF-8."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def decode_json(raw: bytes) -> object:
    """Parse a UTF-8 JSON body strictly (no NaN/Infinity, no lone surrogates)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad_request(f"malformed JSON body: {exc}") from None
    if _has_lone_surrogate(value):
        raise bad_request("malformed JSON body: unpaired surrogate in a string")
    return value


def decode_object(raw: bytes) -> dict[str, Any]:
    """A body that must be a JSON object."""
    value = decode_json(raw)
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object")
    return value


def _type_name(kind: type) -> str:
    return "a string" if kind is str else "an integer"


def _has_kind(value: object, kind: type) -> bool:
    # A JSON boolean is not an integer, and 1.0 is a float, not an integer.
    return type(value) is kind


def shape(
    body: dict[str, Any], rules: dict[str, FieldRule], read_only: frozenset[str]
) -> dict[str, Any]:
    """Reject read-only, unknown and wrongly typed fields (400); null passes."""
    for name, value in body.items():
        if name in read_only:
            raise bad_request(f"{name} is read-only")
        rule = rules.get(name)
        if rule is None:
            raise bad_request(f"unknown field {name}")
        if value is not None and not _has_kind(value, rule.kind):
            raise bad_request(f"{name} must be {_type_name(rule.kind)} or null")
    return dict(body)


def problems(values: dict[str, Any], rules: dict[str, FieldRule], *, creating: bool) -> Fields:
    """The 422 messages for `values` (already shaped); empty when all is well."""
    found: Fields = {}
    if creating:
        for name, rule in rules.items():
            if rule.required and name not in values:
                found[name] = ["is required"]
    for name, value in values.items():
        rule = rules[name]
        if value is None:
            if rule.required:
                found[name] = ["can't be null"]
            continue
        messages: list[str] = []
        if isinstance(value, str):
            if len(value) < rule.min_len:
                messages.append(f"is too short (minimum is {rule.min_len} characters)")
            if rule.max_len is not None and len(value) > rule.max_len:
                messages.append(f"is too long (maximum is {rule.max_len} characters)")
        if rule.check is not None:
            message = rule.check(value)
            if message is not None:
                messages.append(message)
        if messages:
            found[name] = messages
    return found


def member_ids_shape(body: dict[str, Any]) -> list[int] | None:
    """`{"employee_ids": [int, ...]}`; None when the list is missing or null (a 422)."""
    for name in body:
        if name != "employee_ids":
            raise bad_request(f"unknown field {name}")
    ids = body.get("employee_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(_has_kind(item, int) for item in ids):
        raise bad_request("employee_ids must be an array of integers")
    return ids


def member_ids_problems(ids: list[int] | None, limit: int | None = MAX_MEMBER_IDS) -> Fields:
    """422 messages for the id list itself (existence is checked against the store)."""
    if ids is None:
        return {"employee_ids": ["is required"]}
    if limit is not None and len(ids) > limit:
        return {"employee_ids": [f"is too long (maximum is {limit} ids a call)"]}
    return {}
