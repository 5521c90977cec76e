"""A Group PATCH split the way the backend splits a team: attributes, and memberships.

A team's attributes are one versioned record (PATCH with If-Match); its
memberships are unversioned add/remove calls of at most 100 ids. So the
operations of a Group PATCH are sorted here into the ones `apply_patch`
applies to the group's attributes, and one `MembershipChange` folding every
membership operation, in order, into what must happen to the team:

- `add` with path `members` (or a path-less value holding `members`): ids to add;
- `remove` with `members[value eq "x"]` (Entra's remove-by-value arrives here
  already rewritten into that form by `idp_quirks`), `or`-joined too: ids to remove;
- `remove` of `members` without a filter: the team is emptied (a replace with []);
- `replace` of `members` (with a path, or in a path-less value): the whole list.

Adds and removes alone touch only the ids they name: they commute at the
backend, so they need neither the current member list nor a lock. A replace
needs a diff against the current members (the caller takes the group lock).
Operations after a replace edit the replacing list itself.

Nothing here talks to the backend; ids stay SCIM ids (strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.scim.errors import ScimError, bad_request, invalid_path
from gateway.scim.filter import Compare, Filter, Or, parse_patch_path
from gateway.scim.patch import OPERATIONS
from gateway.scim.schema import ResourceType

MEMBERS = "members"


@dataclass
class MembershipChange:
    """Every membership operation of one PATCH, folded in order (ids unique, order kept)."""

    replace: dict[str, None] | None = None  # the whole new list, once a replace happened
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.replace is None and not self.add and not self.remove

    def add_ids(self, ids: list[str]) -> None:
        for i in ids:
            if self.replace is not None:
                self.replace[i] = None
            else:
                self.remove.pop(i, None)
                self.add[i] = None

    def remove_ids(self, ids: list[str]) -> None:
        for i in ids:
            if self.replace is not None:
                self.replace.pop(i, None)
            else:
                self.add.pop(i, None)
                self.remove[i] = None

    def replace_all(self, ids: list[str]) -> None:
        self.replace = dict.fromkeys(ids)
        self.add.clear()
        self.remove.clear()


def member_values(value: Any, where: str) -> list[str]:
    """The member ids of a `members` value (one element or a list), in order, unique.

    Each element must be an object with a string (or integer) `value`. A member
    whose `type` says it is a Group is refused: a team holds people only.
    """
    items = value if isinstance(value, list) else [value]
    out: dict[str, None] = {}
    for index, item in enumerate(items):
        label = f"{where}[{index}]" if isinstance(value, list) else where
        if not isinstance(item, dict):
            raise bad_request(f"'{label}' must be an object with a 'value'")
        folded = {k.casefold(): v for k, v in item.items() if isinstance(k, str)}
        member = folded.get("value")
        if isinstance(member, int) and not isinstance(member, bool):
            member = str(member)
        if not isinstance(member, str) or not member.strip():
            raise bad_request(f"'{label}.value' must be the id of a user")
        kind = folded.get("type")
        if isinstance(kind, str) and kind.strip().casefold() == "group":
            raise bad_request(
                f"'{label}' is a group: Workstream teams hold people only, not other groups"
            )
        out[member.strip()] = None
    return list(out)


def split_operations(
    operations: list[Any], rtype: ResourceType
) -> tuple[list[tuple[int, dict]], MembershipChange]:
    """(attribute operations with their index in the request, the membership change).

    Operations this module can't classify (not an object, unknown op, a path
    that doesn't parse) go to the attribute side, where `apply_patch` reports
    them exactly as it would for a User.
    """
    attributes: list[tuple[int, dict]] = []
    change = MembershipChange()
    for index, operation in enumerate(operations):
        try:
            rest = _split_one(operation, rtype, change)
        except ScimError as error:
            raise ScimError(error.status, f"Operations[{index}]: {error.detail}",
                            error.scim_type) from None
        if rest is not None:
            attributes.append((index, rest))
    return attributes, change


def _split_one(operation: Any, rtype: ResourceType, change: MembershipChange) -> dict | None:
    """Fold a membership operation into `change`; return what is left for attributes."""
    if not isinstance(operation, dict):
        return operation
    name = operation.get("op")
    if not isinstance(name, str) or name.strip().lower() not in OPERATIONS:
        return operation
    name = name.strip().lower()
    if "path" not in operation:  # idp_quirks drops a blank path: path-less is decided once
        return _split_pathless(operation, name, rtype, change)
    path = operation["path"]
    if not isinstance(path, str) or not _names_members(path, rtype):
        return operation
    parsed = parse_patch_path(path.strip())
    resolved = rtype.resolve(parsed.path.urn, parsed.path.attr, parsed.path.sub)
    if resolved is None:
        return operation
    if resolved.sub is not None or parsed.sub is not None:
        raise invalid_path(f"'{path}': change members as a whole ('members' with a value, or "
                           f"'members[value eq \"<id>\"]' to remove one)")
    value = operation.get("value")
    if parsed.filter is not None:
        if name != "remove":
            raise invalid_path(f"'{path}': only remove takes a filter on members; use "
                               f"'{name}' with path 'members' and a value")
        ids = _filter_ids(parsed.filter)
        if ids is None:
            raise ScimError(400, f"'{path}': a members filter can only name ids "
                                 f"(value eq \"<id>\", joined by or)", "invalidFilter")
        change.remove_ids(ids)
        return None
    if name == "remove":
        if value is None or value == []:
            change.replace_all([])
        else:
            change.remove_ids(member_values(value, MEMBERS))
        return None
    if value is None:
        if name == "replace":
            change.replace_all([])
            return None
        raise bad_request(f"'{name}' on '{path}' needs a 'value'")
    ids = member_values(value, MEMBERS)
    if name == "add":
        change.add_ids(ids)
    else:
        change.replace_all(ids)
    return None


def _split_pathless(
    operation: dict, name: str, rtype: ResourceType, change: MembershipChange
) -> dict | None:
    """Okta's `{"op":"replace","value":{"id":..,"displayName":..,"members":[..]}}`."""
    value = operation.get("value")
    if name == "remove" or not isinstance(value, dict):
        return operation
    rest: dict = {}
    for key, item in value.items():
        if not (isinstance(key, str) and _names_members(key, rtype)):
            rest[key] = item
            continue
        if item is None:
            if name == "replace":
                change.replace_all([])
            continue
        ids = member_values(item, key)
        if name == "add":
            change.add_ids(ids)
        else:
            change.replace_all(ids)
    if len(rest) == len(value):
        return operation
    return {**operation, "value": rest} if rest else None


def _names_members(path: str, rtype: ResourceType) -> bool:
    """Whether a PATCH path (or a path-less value's key) is about `members`."""
    urn, rest = rtype.split_urn(path.strip())
    if urn is not None and urn != rtype.core.id:
        return False
    head = rest.split("[", 1)[0].split(".", 1)[0].strip()
    return head.casefold() == MEMBERS


def _filter_ids(node: Filter) -> list[str] | None:
    """The ids of `value eq "a" or value eq "b"`, or None for any other filter."""
    if isinstance(node, Or):
        left, right = _filter_ids(node.left), _filter_ids(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, Compare) and node.op == "eq" and node.path.urn is None \
            and node.path.sub is None and node.path.attr.casefold() == "value":
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool):
            return [str(value)]
        if isinstance(value, str) and value.strip():
            return [value.strip()]
    return None
