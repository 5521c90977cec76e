"""Root-level search (RFC 7644 §3.4.3): one query over every resource type.

Each resource type keeps its own planner (its lookups, pushdowns and scan
limit); this module only decides which types a filter can apply to, and
stitches their answers into one list, Users before Groups, paged as one.
A filter naming an attribute some type lacks simply matches nothing of that
type; a filter no type understands is that type's own `invalidFilter`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.provisioning.context import OrgContext
from gateway.provisioning.listing import Window, sort_key, sort_keyed
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter
from gateway.scim.filter import Filter
from gateway.scim.schema import ResourceType

# (ctx, filter, window, sortBy, descending) → a result with .total and .resources
Lister = Callable[[OrgContext, Filter | None, Window, str | None, bool], Awaitable]

# A window that holds every match: a sorted root search must see them all to merge
# them (each type's own scan limit still bounds how many that is).
_EVERYTHING = Window(1, 2**62)


@dataclass(frozen=True)
class Source:
    """One resource type a root search covers."""

    advertised: ResourceType  # what filters may name for this org
    rtype: ResourceType  # the full type, for sorting
    list: Lister


@dataclass(frozen=True)
class RootResult:
    total: int
    resources: list[tuple[ResourceType, dict]]  # each with the type it is projected by


async def search_all(
    ctx: OrgContext, sources: list[Source], node: Filter | None, window: Window,
    sort_by: str | None, descending: bool,
) -> RootResult:
    applicable = _applicable(sources, node)
    if sort_by is not None:
        return await _sorted(ctx, applicable, node, window, sort_by, descending)
    total = 0
    out: list[tuple[ResourceType, dict]] = []
    offset = window.offset
    for source in applicable:
        # The part of the global window that falls into this type's results.
        wanted = window.count - len(out)
        start = max(0, offset - total) + 1
        result = await source.list(ctx, node, Window(start, wanted), None, False)
        out += [(source.rtype, r) for r in result.resources]
        total += result.total
    return RootResult(total, out)


def _applicable(sources: list[Source], node: Filter | None) -> list[Source]:
    """The types whose attributes the filter names; invalidFilter if it fits none."""
    if node is None:
        return sources
    fitting: list[Source] = []
    first_error: ScimError | None = None
    for source in sources:
        try:
            check_filter(node, source.advertised)
        except ScimError as error:
            first_error = first_error or error
            continue
        fitting.append(source)
    if not fitting and first_error is not None:
        raise first_error
    return fitting


async def _sorted(
    ctx: OrgContext, sources: list[Source], node: Filter | None, window: Window,
    sort_by: str, descending: bool,
) -> RootResult:
    keyed: list[tuple[object, tuple[ResourceType, dict]]] = []
    known = False
    for source in sources:
        key = sort_key(sort_by, source.rtype)
        known = known or key is not None
        # A type without the attribute is still listed in full (its resources go last);
        # sorting it by id makes that listing go through the same bounded scan.
        result = await source.list(ctx, node, _EVERYTHING, sort_by if key else "id", False)
        keyed += [(key(r) if key else None, (source.rtype, r)) for r in result.resources]
    if not known:
        raise ScimError(400, f"sortBy names an unknown attribute '{sort_by}'", "invalidValue")
    ordered = sort_keyed(keyed, sort_by, descending)
    return RootResult(len(ordered), window.slice(ordered))
