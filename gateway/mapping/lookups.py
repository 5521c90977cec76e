"""Which mapped field a SCIM path, filter or backend field name is: the planner's questions.

The query planner asks which field an `attr eq value` names (to push it down
or look it up); error translation asks which SCIM attribute a backend field
name is (the IdP must never see `first_name`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.mapping.fields import BoundField, MappingError, eq_terms
from gateway.scim.filter import Compare, Filter, ValuePath
from gateway.scim.resource import same_value
from gateway.scim.schema import ResolvedPath

if TYPE_CHECKING:
    from gateway.mapping.resource_mapping import ResourceMapping


def field_for_backend(mapping: ResourceMapping, backend_field: str) -> BoundField | None:
    """The first field reading `backend_field` (to name backend errors in SCIM terms)."""
    return next((b for b in mapping.bound if b.spec.backend == backend_field), None)


def field_for_path(
    mapping: ResourceMapping, path: ResolvedPath, element: dict[str, Any] | None = None
) -> BoundField | None:
    """The field mapping `path` (and element filter terms, if any)."""
    for b in mapping.bound:
        if b.path.text() != path.text():
            continue
        if element is None and b.element is None:
            return b
        if element is None or b.element is None:
            continue
        # Sub-attribute names are case-insensitive: `emails[TYPE eq "work"]` is this field.
        terms = {k.casefold(): v for k, v in element.items()}
        if len(terms) == len(b.element) and all(
            same_value(terms.get(k.casefold()), v) for k, v in b.element.items()
        ):
            return b
    return None


def field_for_filter(mapping: ResourceMapping, node: Filter) -> tuple[BoundField, Any] | None:
    """For `attr eq v` or `attr[type eq "work"].value eq v` (Entra): (field, v)."""
    rtype = mapping.rtype
    if isinstance(node, Compare) and node.op == "eq":
        resolved = rtype.resolve(node.path.urn, node.path.attr, node.path.sub)
        if resolved is None:
            return None
        bound = field_for_path(mapping, resolved)
        return (bound, node.value) if bound else None
    if isinstance(node, ValuePath):
        try:
            terms = eq_terms(node.filter)
        except MappingError:
            return None
        for sub_name, value in terms.items():
            resolved = rtype.resolve(node.path.urn, node.path.attr, sub_name)
            if resolved is None:
                continue
            element = {k: v for k, v in terms.items() if k != sub_name}
            bound = field_for_path(mapping, resolved, element)
            if bound is not None:
                return bound, value
    return None
