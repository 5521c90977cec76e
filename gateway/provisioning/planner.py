"""Query planning: what the backend can answer, and what the gateway must evaluate.

A filter is answered in one of three ways, cheapest first:

1. **Point lookups**: an `eq` on `id`, on an indexed identity attribute
   (userName, externalId: the Redis index) or on an attribute mapped to a
   unique searchable backend field (`email`). `and` takes the cheapest side;
   `or` unions both sides when both are points. Cost: O(1) backend calls.
2. **Pushed-down listing**: a filter the backend's list parameters express
   exactly (`active eq true` → `status=active`) is paged by the backend.
3. **Bounded scan**: the backend lists with whatever parameters narrow it
   (`status`, `updated_since` from `meta.lastModified ge/gt`) and the gateway
   evaluates the filter on each record. A scan larger than `max_scan` is
   refused with `400 tooMany` instead of hammering the backend.

Every candidate, however found, is checked against the whole filter in memory,
so a pushdown only ever narrows, never decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.backend.records import format_timestamp
from gateway.mapping.fields import TranslationError
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.provisioning.user_index import INDEXED, indexed_fields
from gateway.scim.filter import And, Compare, Filter, Or


@dataclass(frozen=True)
class Lookup:
    """One point lookup: by `id`, through the index (`attr`), or a backend search."""

    kind: str  # "id" | "index" | "search"
    value: object
    attr: str = ""  # index: the SCIM attribute; search: the backend field


@dataclass
class Plan:
    lookups: list[Lookup] | None = None  # point lookups, when the filter allows them
    params: dict[str, str] = field(default_factory=dict)  # backend list parameters
    exact: bool = False  # params alone answer the filter (no residual evaluation)


def _point(node: Filter, mapping: ResourceMapping) -> list[Lookup] | None:
    if isinstance(node, And):
        left, right = _point(node.left, mapping), _point(node.right, mapping)
        candidates = [p for p in (left, right) if p is not None]
        return min(candidates, key=len) if candidates else None
    if isinstance(node, Or):
        left, right = _point(node.left, mapping), _point(node.right, mapping)
        return left + right if left is not None and right is not None else None
    if isinstance(node, Compare) and node.op == "eq" and node.path.sub is None:
        resolved = mapping.rtype.resolve(node.path.urn, node.path.attr)
        if resolved is not None and resolved.schema == "" and resolved.attribute.name == "id":
            return [Lookup("id", node.value)]
    found = mapping.field_for_filter(node)
    if found is None:
        return None
    bound, value = found
    if not isinstance(value, str) or not value:
        # `externalId eq null` (or `eq ""`) matches everyone WITHOUT one: no point finds them.
        return None
    name = bound.path.text()
    if name in INDEXED and bound.element is None:
        return [Lookup("index", value, name)]
    backend = mapping.catalogue[bound.spec.backend]
    if not (backend.searchable and backend.unique):
        return None
    # Another identity attribute feeding the same backend field (the work email and
    # userName both feed `email`) has the same value: use its cached index entry.
    for attr, other, _ in indexed_fields(mapping):
        if other.spec.backend == bound.spec.backend and (
            other.spec.translate is None and bound.spec.translate is None
        ):
            return [Lookup("index", value, attr)]
    if bound.spec.translate is None:
        return [Lookup("search", value, bound.spec.backend)]
    return None


def _timestamp(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def _pushdown(node: Filter, mapping: ResourceMapping) -> tuple[dict[str, str], bool]:
    """Backend list parameters implied by `node`, and whether they answer it exactly."""
    if isinstance(node, And):
        left, left_exact = _pushdown(node.left, mapping)
        right, right_exact = _pushdown(node.right, mapping)
        clash = any(k in left and left[k] != v for k, v in right.items())
        return {**left, **right}, left_exact and right_exact and not clash
    if isinstance(node, Compare) and node.op in ("ge", "gt") and node.path.sub is not None:
        resolved = mapping.rtype.resolve(node.path.urn, node.path.attr, node.path.sub)
        if resolved is not None and resolved.text() == "meta.lastModified":
            since = _timestamp(node.value)
            return ({"updated_since": since} if since else {}), False
    found = mapping.field_for_filter(node) if isinstance(node, Compare) else None
    if found is not None:
        bound, value = found
        backend = mapping.catalogue[bound.spec.backend]
        if backend.searchable and not backend.unique and bound.element is None:
            try:
                translated = (
                    bound.spec.translate.to_backend(value) if bound.spec.translate else value
                )
            except TranslationError:
                return {}, False
            if isinstance(translated, str):
                return {bound.spec.backend: translated}, True
    return {}, False


def plan(node: Filter | None, mapping: ResourceMapping) -> Plan:
    if node is None:
        return Plan(exact=True)
    lookups = _point(node, mapping)
    if lookups is not None:
        return Plan(lookups=lookups)
    params, exact = _pushdown(node, mapping)
    return Plan(params=params, exact=exact)


async def union_by_id(
    lookups: list[Lookup], one: Callable[[Lookup], Awaitable[list[dict]]]
) -> list[dict]:
    """The records every lookup finds, each once, in id order (the backend's order)."""
    by_id: dict[int, dict] = {}
    for lookup in lookups:
        for record in await one(lookup):
            by_id[record["id"]] = record
    return [by_id[k] for k in sorted(by_id)]
