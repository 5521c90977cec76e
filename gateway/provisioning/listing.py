"""Paging and sorting of list results (RFC 7644 §3.4.2.3, §3.4.2.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.scim.errors import ScimError
from gateway.scim.schema import ResourceType


@dataclass(frozen=True)
class Window:
    """A 1-based `startIndex` and a `count` turned into a slice."""

    start_index: int
    count: int

    @property
    def offset(self) -> int:
        return self.start_index - 1

    def slice(self, items: list) -> list:
        return items[self.offset:self.offset + self.count]


def _sortable(value: Any, case_exact: bool, kind: str) -> Any:
    if isinstance(value, str):
        if kind == "dateTime":
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
        return value if case_exact else value.casefold()
    return value


def sort_key(sort_by: str, rtype: ResourceType) -> Callable[[dict], Any] | None:
    """The value a resource sorts by (None when it has none), or None if `sort_by` is unknown.

    A multi-valued attribute sorts by its primary value (RFC 7644 §3.4.2.3).
    """
    resolved = rtype.resolve_text(sort_by)
    if resolved is None:
        return None
    leaf = resolved.leaf

    def value_of(resource: dict) -> Any:
        container = resource.get(resolved.schema, {}) if resolved.in_extension else resource
        value = container.get(resolved.attribute.name) if isinstance(container, dict) else None
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, dict) and v.get("primary")),
                         value[0] if value else None)
        if resolved.sub is not None or (isinstance(value, dict) and "value" in value):
            value = value.get(resolved.sub.name if resolved.sub else "value") if isinstance(
                value, dict) else None
        if value is None or value == "" or isinstance(value, dict | list):
            return None  # "" is no value, as for `pr`: it sorts with the missing ones
        return _sortable(value, leaf.case_exact, leaf.type)

    return value_of


def sort_keyed(keyed: list[tuple[Any, Any]], sort_by: str, descending: bool) -> list[Any]:
    """Items of (sort value or None, item) in order; None goes last; ties keep their order."""
    have = [(v, item) for v, item in keyed if v is not None]
    missing = [item for v, item in keyed if v is None]
    try:
        have.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:
        raise ScimError(400, f"sortBy '{sort_by}' has values that can't be ordered",
                        "invalidValue") from None
    return [item for _, item in have] + missing


def sort_resources(
    resources: list[dict], sort_by: str, descending: bool, rtype: ResourceType
) -> list[dict]:
    """Sort by `sort_by`; resources missing the attribute go last; ties keep id order."""
    key = sort_key(sort_by, rtype)
    if key is None:
        raise ScimError(400, f"sortBy names an unknown attribute '{sort_by}'", "invalidValue")
    return sort_keyed([(key(r), r) for r in resources], sort_by, descending)
