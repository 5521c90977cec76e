"""The field DSL: what a mapping module declares, and each field bound to a SCIM path.

A mapping module only lists `Field(scim_path, backend_field, ...)`; binding
resolves each path against the resource type once, at start-up, so unknown
paths fail loudly there and nothing is parsed per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.scim.errors import ScimError
from gateway.scim.filter import And, Compare, Filter, parse_patch_path
from gateway.scim.resource import element_matches, get_value, writable_container
from gateway.scim.schema import ResolvedPath, ResourceType


class MappingError(Exception):
    """A mapping module is wrong (unknown SCIM path, unknown backend field...)."""


class TranslationError(ValueError):
    """A value can't be translated; becomes a SCIM 400 naming the attribute."""


class ResourceKind(StrEnum):
    """What a mapping maps: a SCIM User to an employee, or a SCIM Group to a team."""

    USER = "User"
    GROUP = "Group"


@dataclass(frozen=True)
class Translator:
    """A pair of value conversions; `to_scim(to_backend(v))` should give `v` back.

    `to_backend` raises `TranslationError` for a value it refuses; anything
    else it raises is a bug in the translator (a 500, logged), not bad input.
    """

    to_backend: Callable[[Any], Any]
    to_scim: Callable[[Any], Any]
    # The resource type ("User") whose SCIM id the translated value is: a field
    # mapping `<attr>.value` then also serves `<attr>.$ref`, that resource's URI.
    references: str | None = None


@dataclass(frozen=True)
class Field:
    """One SCIM attribute path ⇄ one backend field.

    - `scim`: a SCIM path: `userName`, `name.givenName`,
      `emails[type eq "work"].value`, or a URN-qualified extension path.
    - `backend`: the backend record's field name.
    - `translate`: converts values both ways (see `gateway.mapping.translators`).
    - `writable=False`: ignored on writes, still returned on reads.
    - `keep_when_absent=True`: a write that omits the attribute leaves the
      backend value alone instead of clearing it (a PUT without `active` must
      not deactivate anyone).
    - `fallback`: computes the value from the whole SCIM resource when the
      attribute itself is absent on a write (a derived value). On an update,
      a value that was derived and that the request left as it was is derived
      again, so it follows its sources (a renamed person's display name).
    """

    scim: str
    backend: str
    translate: Translator | None = None
    writable: bool = True
    keep_when_absent: bool = False
    fallback: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True)
class Computed:
    """A SCIM attribute Workstream has no field for, computed on every read.

    - `scim`: a single-valued SCIM path (`name.formatted`).
    - `compute`: gets the SCIM attributes the record's fields read back as and
      returns the value, or None for none (`joined(...)` from
      `gateway.mapping.derived`).

    Nothing is stored: a value the IdP sends is accepted and ignored, and a
    read gives the computed one, so an IdP that sends what the computation
    gives (Entra's `name.formatted`, given + " " + family) reads back what it
    wrote. /Schemas advertises the attribute as readOnly.
    """

    scim: str
    compute: Callable[[dict[str, Any]], Any]


# One line of a mapping module: a stored field or a computed attribute.
Line = Field | Computed


@dataclass(frozen=True)
class BoundField:
    """A `Field` resolved against a resource type (done once, at start-up)."""

    spec: Field
    path: ResolvedPath
    # For `emails[type eq "work"].value`: the element the field lives in ({"type": "work"}).
    element: dict[str, Any] | None

    @property
    def text(self) -> str:
        return self.spec.scim


@dataclass(frozen=True)
class BoundComputed:
    """A `Computed` resolved against a resource type (done once, at start-up)."""

    spec: Computed
    path: ResolvedPath
    element: None = None  # always a single-valued path: read_scim/write_scim take either

    @property
    def text(self) -> str:
        return self.spec.scim


def eq_terms(node: Filter) -> dict[str, Any]:
    """The `sub eq value` terms of an element filter; mappings allow only those."""
    if isinstance(node, Compare) and node.op == "eq" and node.path.sub is None:
        return {node.path.attr: node.value}
    if isinstance(node, And):
        return {**eq_terms(node.left), **eq_terms(node.right)}
    raise MappingError("an element filter in a mapping may only use 'eq' joined by 'and'")


def bind(spec: Field, rtype: ResourceType) -> BoundField:
    """Resolve a field's SCIM path against `rtype`; unknown paths fail loudly."""
    try:
        parsed = parse_patch_path(spec.scim)
    except ScimError as exc:
        raise MappingError(f"{spec.scim!r}: {exc.detail}") from None
    p = parsed.path
    sub = parsed.sub if parsed.filter is not None else p.sub
    resolved = rtype.resolve(p.urn, p.attr, sub)
    if resolved is None:
        raise MappingError(f"unknown SCIM attribute path {spec.scim!r} for {rtype.name}")
    element = None
    if parsed.filter is not None:
        if not resolved.attribute.multi_valued or resolved.attribute.type != "complex":
            raise MappingError(f"{spec.scim!r}: a filter needs a multi-valued complex attribute")
        element = eq_terms(parsed.filter)
        for name in element:
            if resolved.attribute.sub(name) is None:
                raise MappingError(f"{spec.scim!r}: unknown sub-attribute {name!r}")
    elif resolved.attribute.multi_valued and resolved.attribute.type == "complex":
        raise MappingError(
            f"{spec.scim!r}: name which element of the multi-valued attribute, "
            f"e.g. {resolved.attribute.name}[type eq \"work\"].value"
        )
    if resolved.attribute.type == "complex" and resolved.sub is None:
        raise MappingError(f"{spec.scim!r}: map a sub-attribute of a complex attribute")
    return BoundField(spec, resolved, element)


def bind_computed(spec: Computed, rtype: ResourceType) -> BoundComputed:
    """Resolve a computed attribute's path; it must be one single value."""
    bound = bind(Field(spec.scim, ""), rtype)  # resolved exactly as a field path is
    if bound.element is not None or bound.path.leaf.multi_valued:
        raise MappingError(f"{spec.scim!r}: a computed attribute must be single-valued")
    return BoundComputed(spec, bound.path)


def read_scim(resource: dict[str, Any], bound: BoundField | BoundComputed) -> Any:
    """The value at a field's SCIM path in `resource`, or None."""
    return get_value(resource, bound.path, bound.element)


def write_scim(resource: dict[str, Any], bound: BoundField | BoundComputed, value: Any) -> None:
    """Set the value at a field's SCIM path, creating the element/extension as needed."""
    container = writable_container(resource, bound.path)
    name = bound.path.attribute.name
    sub = bound.path.sub
    if bound.element is not None and sub is not None:
        elements = container.setdefault(name, [])
        target = next((e for e in elements if element_matches(e, bound.element)), None)
        if target is None:
            target = dict(bound.element)
            if not elements:
                target["primary"] = True
            elements.append(target)
        target[sub.name] = value
    elif sub is not None:
        container.setdefault(name, {})[sub.name] = value
    else:
        container[name] = value
