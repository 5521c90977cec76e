"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on a SCIM resource dict.

Every response that returns a resource passes through `project`, so the
`returned` characteristic is enforced here once: `never` (password) is
never sent, `always` (id) always is, `request` only when named. Names are
resolved with the resource type, so case, URN prefixes and sub-attribute
paths (`name.givenName`, `emails.value`) work the same as in filters.
Unknown names are ignored: the RFC does not say to reject them, and an IdP
asking for an attribute this org does not map should still get an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gateway.scim.resource import SCHEMAS_KEY, json_copy
from gateway.scim.schema import Attribute, ResolvedPath, ResourceType


def parse_attribute_list(param: str | None) -> list[str] | None:
    """The comma-separated `attributes`/`excludedAttributes` parameter as a list, or None."""
    if param is None:
        return None
    names = [name.strip() for name in param.split(",")]
    names = [name for name in names if name]
    return names or None


@dataclass
class _Selection:
    """Names resolved against a resource type: whole schemas, attributes, sub-attributes."""

    schemas: set[str] = field(default_factory=set)
    attributes: set[tuple[str, str]] = field(default_factory=set)  # (schema, attribute)
    subs: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def names_attribute(self, key: tuple[str, str]) -> bool:
        """Named itself, not just through its schema."""
        return key in self.attributes

    def whole(self, key: tuple[str, str]) -> bool:
        return key in self.attributes or key[0] in self.schemas

    def sub_names(self, key: tuple[str, str]) -> set[str]:
        return self.subs.get(key, set())


class Projection:
    """One request's `attributes`/`excludedAttributes`, resolved once for all its resources.

    A list response applies the same names to every resource on the page, so
    the names are resolved against the resource type here, not per resource.
    Immutable after construction, so one instance may serve many requests.
    """

    __slots__ = ("_apply_default", "_project_one", "_rtype")

    def __init__(
        self, rtype: ResourceType, attributes: list[str] | None, excluded: list[str] | None,
        owned: bool = False,
    ) -> None:
        self._rtype = rtype
        self._apply_default: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        if attributes is None and not excluded:
            # The common case (every GET, every page of a list): what to do with each
            # attribute is decided once per resource type, not per value.
            plan = _default_plan(rtype, owned)

            def project_one(urn: str | None, name: str, value: Any) -> Any:
                return _default_copier(plan, rtype, urn, name, owned)(value)

            self._apply_default = _default_applier(rtype, plan, owned)
        else:
            include = _select(attributes, rtype) if attributes is not None else None
            exclude = _select(excluded or [], rtype)

            def project_one(urn: str | None, name: str, value: Any) -> Any:
                return _project_attribute(rtype.resolve(urn, name), value, include, exclude)

        self._project_one = project_one

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A new dict holding what the request asked to see of `resource`."""
        if self._apply_default is not None:
            return self._apply_default(resource)
        rtype, project_one = self._rtype, self._project_one
        out: dict[str, Any] = {}
        for key, value in resource.items():
            if key == SCHEMAS_KEY:
                out[key] = json_copy(value)
                continue
            urn, rest = rtype.split_urn(key)
            if urn is not None and not rest and isinstance(value, dict) and urn != rtype.core.id:
                inner = {}
                for name, item in value.items():
                    kept = project_one(urn, name, item)
                    if kept is not None:
                        inner[name] = kept
                if inner:
                    out[key] = inner
                continue
            kept = project_one(None, key, value)
            if kept is not None:
                out[key] = kept
        return out


def _default_applier(
    rtype: ResourceType, plan: dict[tuple[str | None, str], Copier], owned: bool,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`Projection.apply` with no names given, each top-level key's handling learnt once.

    Same result as the general loop: `schemas` copied, an extension's object
    projected name by name, every other key through its default copier. What a
    key is (an extension URN or not) and its copier are kept per key, so a page
    of a hundred resources splits no URN and looks up no plan per value.
    """
    core = rtype.core.id
    # key -> (extension URN or None, the copier for the key as a top-level attribute)
    keys: dict[str, tuple[str | None, Copier]] = {}

    def learn(key: str) -> tuple[str | None, Copier]:
        urn, rest = rtype.split_urn(key)
        extension = urn if urn is not None and not rest and urn != core else None
        how = (extension, _default_copier(plan, rtype, None, key, owned))
        if len(keys) < _MAX_NAMES:
            keys[key] = how
        return how

    def apply(resource: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in resource.items():
            if key == SCHEMAS_KEY:
                out[key] = json_copy(value)
                continue
            how = keys.get(key)
            extension, copier = how if how is not None else learn(key)
            if extension is not None and isinstance(value, dict):
                inner = {}
                for name, item in value.items():
                    kept = _default_copier(plan, rtype, extension, name, owned)(item)
                    if kept is not None:
                        inner[name] = kept
                if inner:
                    out[key] = inner
                continue
            kept = copier(value)
            if kept is not None:
                out[key] = kept
        return out

    return apply


class _TypeKey:
    """A resource type as a cache key: by identity (no schema is hashed), and held alive."""

    __slots__ = ("rtype",)

    def __init__(self, rtype: ResourceType) -> None:
        self.rtype = rtype

    def __hash__(self) -> int:
        return id(self.rtype)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TypeKey) and other.rtype is self.rtype


def projection_for(
    rtype: ResourceType, attributes: list[str] | None, excluded: list[str] | None,
    owned: bool = False,
) -> Projection:
    """The `Projection` for these names, shared by every call that asks for the same ones."""
    return _cached_projection(
        _TypeKey(rtype),
        None if attributes is None else tuple(attributes),
        tuple(excluded) if excluded else None,
        owned,
    )


@lru_cache(maxsize=256)
def _cached_projection(
    key: _TypeKey, attributes: tuple[str, ...] | None, excluded: tuple[str, ...] | None,
    owned: bool,
) -> Projection:
    return Projection(
        key.rtype,
        None if attributes is None else list(attributes),
        None if excluded is None else list(excluded),
        owned,
    )


def project(
    resource: dict[str, Any],
    rtype: ResourceType,
    attributes: list[str] | None,
    excluded: list[str] | None,
    *,
    owned: bool = False,
) -> dict[str, Any]:
    """A new dict holding what the request asked to see of `resource`.

    With `attributes`, only those (plus `returned: always` ones and
    `schemas`) are kept; `excluded` then removes what it names unless it is
    returned always. `meta` is an ordinary default attribute: present
    unless `attributes` leaves it out or `excluded` names it. The names are
    resolved once per distinct request (`projection_for`), not per resource.

    `owned`: the caller built `resource` for this answer and lets go of it, so
    with no names given the values it keeps are shared, not deep-copied (a list
    page copied every value of a hundred resources only to serialise them).
    """
    return projection_for(rtype, attributes, excluded, owned).apply(resource)


Copier = Callable[[Any], Any]
# Per resource type (by identity, so no schema is hashed) and ownership: attribute ->
# default copier.
_plans: dict[tuple[int, bool], tuple[ResourceType, dict[tuple[str | None, str], Copier]]] = {}
_MAX_TYPES = 64
_MAX_NAMES = 1024


def _default_plan(rtype: ResourceType, owned: bool) -> dict[tuple[str | None, str], Copier]:
    entry = _plans.get((id(rtype), owned))
    if entry is None or entry[0] is not rtype:
        if len(_plans) >= _MAX_TYPES:
            _plans.clear()
        # holds the type, so its id stays unique
        entry = _plans[(id(rtype), owned)] = (rtype, {})
    return entry[1]


def _default_copier(
    plan: dict[tuple[str | None, str], Copier], rtype: ResourceType, urn: str | None, name: str,
    owned: bool,
) -> Copier:
    copier = plan.get((urn, name))
    if copier is None:
        resolved = rtype.resolve(urn, name)
        copier = _copier_for(resolved)
        if owned:
            copier = _SHARING.get(copier, copier)
        if resolved is not None and len(plan) < _MAX_NAMES:  # only known names are kept
            plan[(urn, name)] = copier
    return copier


def _copier_for(resolved: ResolvedPath | None) -> Copier:
    """`_project_attribute` with nothing named, as one function of the value."""
    if resolved is None:
        return json_copy
    attr = resolved.attribute
    if attr.returned in ("never", "request"):
        return _nothing
    if attr.returned == "always":
        def keep(sub: Attribute) -> bool:
            return sub.returned != "never"
    else:
        def keep(sub: Attribute) -> bool:
            return _returned_by_default(sub, set())
    if attr.type != "complex":
        return json_copy
    if all(keep(sub) for sub in attr.sub_attributes):
        return _copy_complex
    return lambda value: _keep_subs(attr, value, keep)


def _nothing(value: Any) -> None:
    return None


def _same(value: Any) -> Any:
    return value


def _share_complex(value: Any) -> Any:
    """`_copy_complex` keeping the elements themselves (an owned resource's)."""
    if isinstance(value, list):
        items = [element for element in value
                 if (element if isinstance(element, dict) else element is not None)]
        return items or None
    return None if isinstance(value, dict) and not value else value


def _copy_complex(value: Any) -> Any:
    """`_keep_subs` when every sub-attribute is kept: empty elements still go."""

    def one(element: Any) -> Any:
        if not isinstance(element, dict):
            return json_copy(element)
        return {name: json_copy(item) for name, item in element.items()} or None

    if isinstance(value, list):
        items = [kept for element in value if (kept := one(element)) is not None]
        return items or None
    return one(value)


def _project_attribute(
    resolved: ResolvedPath | None, value: Any, include: _Selection | None, exclude: _Selection
) -> Any:
    """The part of one top-level attribute's value to return, or None for nothing."""
    if resolved is None:
        return None if include is not None else json_copy(value)
    attr = resolved.attribute
    key = (resolved.schema, attr.name)
    if attr.returned == "never":
        return None
    if attr.returned == "always":
        return _keep_subs(attr, value, lambda sub: sub.returned != "never")
    if include is not None:
        if include.names_attribute(key) or (include.whole(key) and attr.returned != "request"):
            named = include.sub_names(key)
            value = _keep_subs(attr, value, lambda sub: _returned_by_default(sub, named))
        elif include.sub_names(key):
            named = include.sub_names(key)
            value = _keep_subs(
                attr, value,
                lambda sub: sub.returned == "always" or (
                    sub.name in named and sub.returned != "never"),
            )
        else:
            return None
    elif attr.returned == "request":
        return None
    else:
        value = _keep_subs(attr, value, lambda sub: _returned_by_default(sub, set()))
    if exclude.whole(key):
        return None
    dropped = exclude.sub_names(key)
    if dropped:
        value = _keep_subs(attr, value,
                           lambda sub: sub.returned == "always" or sub.name not in dropped)
    return value


def _returned_by_default(sub: Attribute, named: set[str]) -> bool:
    if sub.returned == "never":
        return False
    return sub.returned != "request" or sub.name in named


def _keep_subs(attr: Attribute, value: Any, keep: Callable[[Attribute], bool]) -> Any:
    """A copy of a complex value with only the sub-attributes `keep(sub)` accepts."""
    if attr.type != "complex":
        return json_copy(value)

    def one(element: Any) -> Any:
        if not isinstance(element, dict):
            return json_copy(element)
        out = {}
        for name, item in element.items():
            sub = attr.sub(name)
            if sub is None or keep(sub):
                out[name] = json_copy(item)
        return out or None

    if isinstance(value, list):
        items = [kept for element in value if (kept := one(element)) is not None]
        return items or None
    return one(value)


def _select(names: list[str], rtype: ResourceType) -> _Selection:
    selection = _Selection()
    for name in names:
        resolved = _resolve_name(name.strip(), rtype)
        if resolved is None:
            urn, rest = rtype.split_urn(name.strip())
            if urn is not None and not rest:
                selection.schemas.add(urn)
            continue  # unknown names are ignored
        key = (resolved.schema, resolved.attribute.name)
        if resolved.sub is None:
            selection.attributes.add(key)
        else:
            selection.subs.setdefault(key, set()).add(resolved.sub.name)
    return selection


def _resolve_name(name: str, rtype: ResourceType) -> ResolvedPath | None:
    """Resolve a name; an extension attribute may be named without its URN if unambiguous."""
    resolved = rtype.resolve_text(name)
    if resolved is not None or ":" in name:
        return resolved
    attr, _, sub = name.partition(".")
    found = [r for schema, _ in rtype.extensions
             if (r := rtype.resolve(schema.id, attr, sub or None)) is not None]
    return found[0] if len(found) == 1 else None


# The copiers an owned resource's projection uses instead (same values kept, none copied).
_SHARING: dict[Copier, Copier] = {json_copy: _same, _copy_complex: _share_complex}
