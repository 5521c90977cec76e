"""Query planning: what the backend can answer, and what the gateway must evaluate.

A filter is answered in one of three ways, cheapest first:

1. **Point lookups**: an `eq` on `id`, on an indexed identity attribute
   (userName, externalId: the Redis index) or on an attribute mapped to a
   unique searchable backend field (`email`). `and` takes the cheapest side;
   `or` unions both sides when both are points. Cost: O(1) backend calls,
   run a few at a time. A filter needing more than `max_lookups` of them
   (1,500 `id eq` branches) is planned as a bounded scan instead, so one
   request never fans out into more backend calls than a scan would cost.
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

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.backend.records import format_timestamp
from gateway.mapping.engine import ResourceMapping
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
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_timestamp(moment)
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+14:00" is before year 1 in UTC
        return None


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
            except ValueError:
                return {}, False
            if isinstance(translated, str):
                return {bound.spec.backend: translated}, True
    return {}, False


def plan(node: Filter | None, mapping: ResourceMapping, max_lookups: int | None = None) -> Plan:
    if node is None:
        return Plan(exact=True)
    lookups = bounded(_point(node, mapping), max_lookups)
    if lookups is not None:
        return Plan(lookups=lookups)
    params, exact = _pushdown(node, mapping)
    return Plan(params=params, exact=exact)


def bounded(lookups: list[Lookup] | None, max_lookups: int | None) -> list[Lookup] | None:
    """`lookups`, or None (plan a bounded scan) when they are more than `max_lookups`."""
    if lookups is None or max_lookups is None or len(lookups) <= max_lookups:
        return lookups
    return None


async def union_by_id(
    lookups: list[Lookup], one: Callable[[Lookup], Awaitable[list[dict]]], concurrency: int = 4,
) -> list[dict]:
    """The records every lookup finds, each once, in id order (the backend's order).

    Lookups run `concurrency` at a time: one after another, fifty of them
    would add fifty round trips to the answer; all at once, a burst the
    backend's per-org rate limit would answer with 429s. A failure cancels the rest.
    """
    limit = asyncio.Semaphore(concurrency)

    async def run(lookup: Lookup) -> list[dict]:
        async with limit:
            return await one(lookup)

    tasks = [asyncio.ensure_future(run(lookup)) for lookup in lookups]
    try:
        found = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    by_id: dict[int, dict] = {}
    for records in found:
        for record in records:
            by_id[record["id"]] = record
    return [by_id[k] for k in sorted(by_id)]
