"""Query planning: what the backend can answer, and what the gateway must evaluate.

One planner for every resource type, told what that type's id store indexes
(users: userName and externalId; groups: externalId, which teams can't hold).
A filter is answered in one of three ways, cheapest first:

1. **Point lookups** (`LookupKind`): an `eq` on `id` ("id"), on an attribute
   the id store indexes ("index"), or on an attribute mapped to a unique
   searchable backend field ("search": users' `email`, teams' `name`). `and`
   takes the cheapest side; `or` unions both sides when both are points.
   Cost: O(1) backend calls, run a few at a time. A filter needing more than
   `max_lookups` of them (1,500 `id eq` branches) is planned as a bounded scan
   instead, so one request never fans out into more backend calls than a scan
   would cost.
2. **Pushed-down listing**: a filter the backend's list parameters express
   exactly (`active eq true` → `status=active`) is paged by the backend.
3. **Bounded scan**: the backend lists with whatever parameters narrow it
   (`status`, `updated_since` from `meta.lastModified ge/gt`) and the gateway
   evaluates the filter on each record. A scan larger than `max_scan` is
   refused with `400 tooMany` instead of hammering the backend.

Every candidate, however found, is checked against the whole filter in memory,
so a pushdown only ever narrows, never decides. `pushed_down` asks the planner
itself which attributes it answers, so discovery can't disagree with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from gateway.backend.records import format_timestamp
from gateway.mapping.fields import TranslationError
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.scim.filter import And, Compare, Filter, Or, parse_filter

# "id": the SCIM id is the backend id; "index": the id store's hint for `attr`;
# "search": the backend's list search on the unique backend field `attr`.
LookupKind = Literal["id", "index", "search"]


@dataclass(frozen=True)
class Lookup:
    """One point lookup: by `id`, through the index (`attr`), or a backend search."""

    kind: LookupKind
    value: str
    attr: str = ""  # index: the SCIM attribute; search: the backend field


@dataclass
class Plan:
    lookups: list[Lookup] | None = None  # point lookups, when the filter allows them
    params: dict[str, str] = field(default_factory=dict)  # backend list parameters
    exact: bool = False  # params alone answer the filter (no residual evaluation)


def _point(node: Filter, mapping: ResourceMapping, indexed: tuple[str, ...]) -> list[Lookup] | None:
    if isinstance(node, And):
        left, right = _point(node.left, mapping, indexed), _point(node.right, mapping, indexed)
        candidates = [p for p in (left, right) if p is not None]
        return min(candidates, key=len) if candidates else None
    if isinstance(node, Or):
        left, right = _point(node.left, mapping, indexed), _point(node.right, mapping, indexed)
        return left + right if left is not None and right is not None else None
    if isinstance(node, Compare) and node.op == "eq" and node.path.sub is None:
        resolved = mapping.rtype.resolve(node.path.urn, node.path.attr)
        name = resolved.text() if resolved is not None else None
        if name == "id":
            # An id is a non-empty string; anything else is nobody's.
            return [Lookup("id", node.value)] if isinstance(node.value, str) else []
        if name is not None and name in indexed:
            # `externalId eq null` (or `eq ""`) matches everyone WITHOUT one: no point finds them.
            if not isinstance(node.value, str) or not node.value:
                return None
            return [Lookup("index", node.value, name)]
    found = mapping.field_for_filter(node)
    if found is None:
        return None
    bound, value = found
    if not isinstance(value, str) or not value:
        return None
    backend = mapping.catalogue[bound.spec.backend]
    if not (backend.searchable and backend.unique) or bound.spec.translate is not None:
        return None
    # Another indexed attribute feeding the same backend field (the work email and
    # userName both feed `email`) has the same value: use its cached index entry.
    for attr in indexed:
        resolved = mapping.rtype.resolve(None, attr)
        other = mapping.field_for_path(resolved) if resolved is not None else None
        if other is not None and other.spec.backend == bound.spec.backend and (
            other.spec.translate is None
        ):
            return [Lookup("index", value, attr)]
    return [Lookup("search", value, bound.spec.backend)]


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
            except TranslationError:
                return {}, False
            if isinstance(translated, str):
                return {bound.spec.backend: translated}, True
    return {}, False


def plan(
    node: Filter | None, mapping: ResourceMapping, indexed: tuple[str, ...],
    max_lookups: int | None = None,
) -> Plan:
    """How to answer `node` for a resource type whose id store indexes `indexed`."""
    if node is None:
        return Plan(exact=True)
    lookups = bounded(_point(node, mapping, indexed), max_lookups)
    if lookups is not None:
        return Plan(lookups=lookups)
    params, exact = _pushdown(node, mapping)
    return Plan(params=params, exact=exact)


def probe_pushed_down(mapping: ResourceMapping, indexed: tuple[str, ...]) -> list[str]:
    """SCIM attributes whose filters the backend or the id store answer or narrow.

    Found by planning a probe filter on each attribute, so the answer is the
    planner's own (advertised in /ServiceProviderConfig's query extension).
    """
    probes = {"id": 'id eq "1"', "meta.lastModified": 'meta.lastModified ge "2020-01-01T00:00:00Z"'}
    for attr in indexed:
        probes.setdefault(attr, f'{attr} eq "x"')
    for bound in mapping.bound:
        sample = True if bound.path.leaf.type == "boolean" else "x"
        probes.setdefault(bound.text, f"{bound.text} eq {json.dumps(sample)}")
    out = []
    for name, text in probes.items():
        chosen = plan(parse_filter(text), mapping, indexed)
        if chosen.lookups is not None or chosen.params:
            out.append(name)
    return out


_PUSHED_DOWN: dict[tuple[int, tuple[str, ...]], tuple[ResourceMapping, list[str]]] = {}


def pushed_down(mapping: ResourceMapping, indexed: tuple[str, ...]) -> list[str]:
    """`probe_pushed_down`, worked out once per mapping (mappings live as long as the process)."""
    cached = _PUSHED_DOWN.get((id(mapping), indexed))
    if cached is None or cached[0] is not mapping:
        cached = (mapping, probe_pushed_down(mapping, indexed))
        _PUSHED_DOWN[(id(mapping), indexed)] = cached
    return list(cached[1])


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
    if len(lookups) == 1:  # Okta's lookup before every create: no task, no semaphore
        return _by_id([await one(lookups[0])])
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
    return _by_id(found)


def _by_id(found: list[list[dict]]) -> list[dict]:
    """Each record once, in id order."""
    by_id: dict[int, dict] = {}
    for records in found:
        for record in records:
            by_id[record["id"]] = record
    return [by_id[k] for k in sorted(by_id)]
