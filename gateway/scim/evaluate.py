"""SCIM filters evaluated in memory over resource dicts (RFC 7644 §3.4.2.2).

Used where a filter cannot be pushed down to the backend, by the PATCH engine
for `members[value eq "x"]`, and to re-check what the backend returned. A
filter is compiled once against a resource type into plain closures (paths
resolved, operators type-checked, expected values normalised), so matching
many resources costs only the comparisons; `matches` and `check_filter` reuse
the compiled form through a small cache.

Semantics, per RFC 7644 §3.4.2.2:

- strings compare with `str.casefold` unless the attribute is caseExact;
  dateTime as instants; integer/decimal numerically; boolean with eq/ne only;
- a multi-valued attribute matches if ANY of its values matches (so `ne`
  means "some value differs");
- on an absent attribute `ne` is true and every other comparison false;
  `eq null` means "not present", `ne null` means "present";
- a multi-valued complex attribute compared without a sub-attribute compares
  its `value` sub-attribute (`emails co "example.com"`);
- `pr` is true for a value that is not null, "", [] or {} (nor a complex
  value whose members are all empty).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.scim.errors import invalid_filter
from gateway.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    to_text,
)
from gateway.scim.schema import Attribute, ResolvedPath, ResourceType

__all__ = ["check_filter", "compile_filter", "matches", "matches_element", "parse_datetime"]

Matcher = Callable[[Any], bool]
Getter = Callable[[Any], list[Any]]

_STRINGY = ("string", "reference")
_ORDERED = ("gt", "ge", "lt", "le")
_SUBSTRING = ("co", "sw", "ew")


class _Same:
    """Hash and compare by identity, so caches never hash a whole schema."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


# --------------------------------------------------------------------------- public API


def check_filter(node: Filter, rtype: ResourceType) -> None:
    """Refuse unknown attributes and operators their type cannot take (invalidFilter)."""
    compile_filter(node, rtype)


def compile_filter(node: Filter, rtype: ResourceType) -> Callable[[dict[str, Any]], bool]:
    """A predicate over resource dicts; compile once when matching many resources."""
    return _compile_for_type(node, rtype)


def matches(node: Filter, resource: dict[str, Any], rtype: ResourceType) -> bool:
    """Whether `resource` (a SCIM dict with canonical names) satisfies `node`."""
    return _compile_for_type(node, rtype)(resource)


def matches_element(node: Filter, element: dict[str, Any], parent: Attribute) -> bool:
    """Whether one value of the multi-valued complex `parent` satisfies a value filter.

    Paths inside `node` name sub-attributes of `parent` (`value`, `type`, ...).
    """
    return _compile_for_element(node, parent)(element)


def _compile_for_type(node: Filter, rtype: ResourceType) -> Matcher:
    if type(node) is Compare:
        # One comparison (Okta's `userName eq "x"`): its value differs on every request, so
        # caching by text would only churn the cache. The costly part, resolving the path,
        # is cached per path; binding the value is a few closures.
        return _compare(node, *_resource_leaf_cached(node.path, rtype))
    return _cached(
        "type", node, rtype, lambda: _compile(node, lambda p: _resource_leaf(p, rtype), rtype)
    )


_leaf_cache: dict[tuple[int, int], tuple[AttrPath, ResourceType, Leaf]] = {}


def _resource_leaf_cached(path: AttrPath, rtype: ResourceType) -> Leaf:
    """`_resource_leaf`, remembered per (path object, resource type).

    Keyed by identity (the parser hands out one path object per distinct path
    text it has cached), holding both objects so the ids stay theirs.
    """
    key = (id(path), id(rtype))
    hit = _leaf_cache.get(key)
    if hit is not None and hit[0] is path and hit[1] is rtype:
        return hit[2]
    leaf = _resource_leaf(path, rtype)
    if len(_leaf_cache) >= _CACHE_SIZE:
        _leaf_cache.clear()
    _leaf_cache[key] = (path, rtype, leaf)
    return leaf


def _compile_for_element(node: Filter, parent: Attribute) -> Matcher:
    return _cached(
        "element", node, parent, lambda: _compile(node, lambda p: _element_leaf(p, parent), None)
    )


_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, str, _Same], Matcher] = OrderedDict()
_cache_lock = threading.Lock()
_by_identity: dict[tuple[str, int, int], tuple[object, object, Matcher]] = {}


def _cached(kind: str, node: Filter, owner: object, build: Callable[[], Matcher]) -> Matcher:
    """Compiled matchers, keyed by canonical text rather than by the node itself.

    Nodes compare `true == 1` (Python booleans are ints), so keying by node
    would let `count eq true` reuse the matcher of `count eq 1`; the canonical
    text tells them apart. The owner is keyed by identity so no schema is hashed.
    A first look-up by object identity makes `matches` over many resources with
    the same node as cheap as a compiled predicate.
    """
    fast_key = (kind, id(node), id(owner))
    seen = _by_identity.get(fast_key)
    if seen is not None and seen[0] is node and seen[1] is owner:
        return seen[2]
    matcher = _cached_by_text(kind, node, owner, build)
    if len(_by_identity) >= _CACHE_SIZE:
        _by_identity.clear()
    _by_identity[fast_key] = (node, owner, matcher)  # holds node and owner, so ids stay unique
    return matcher


def _cached_by_text(
    kind: str, node: Filter, owner: object, build: Callable[[], Matcher]
) -> Matcher:
    try:
        key = (kind, to_text(node), _Same(owner))
    except (TypeError, ValueError):  # not renderable: compile uncached (and likely refuse)
        return build()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    matcher = build()
    with _cache_lock:
        _cache[key] = matcher
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return matcher


# --------------------------------------------------------------------------- compilation

# A leaf is (label for errors, attribute to compare by, getter of candidate values,
# getter of the raw values for `pr`).
Leaf = tuple[str, Attribute, Getter, Getter]


def _compile(
    node: Filter, leaf_of: Callable[[AttrPath], Leaf], rtype: ResourceType | None
) -> Matcher:
    if isinstance(node, And):
        left = _compile(node.left, leaf_of, rtype)
        right = _compile(node.right, leaf_of, rtype)
        return lambda r: left(r) and right(r)
    if isinstance(node, Or):
        left = _compile(node.left, leaf_of, rtype)
        right = _compile(node.right, leaf_of, rtype)
        return lambda r: left(r) or right(r)
    if isinstance(node, Not):
        inner = _compile(node.inner, leaf_of, rtype)
        return lambda r: not inner(r)
    if isinstance(node, Present):
        _label, _attr, _values, raw = leaf_of(node.path)
        return lambda r: any(_present(v) for v in raw(r))
    if isinstance(node, Compare):
        label, attribute, values, raw = leaf_of(node.path)
        return _compare(node, label, attribute, values, raw)
    if isinstance(node, ValuePath):
        if rtype is None:
            raise invalid_filter(
                f"Invalid filter: a [...] filter cannot be nested inside another one "
                f"({to_text(node.path)})"
            )
        return _value_path(node, rtype)
    raise invalid_filter(f"Invalid filter: not a filter expression: {node!r}")


def _value_path(node: ValuePath, rtype: ResourceType) -> Matcher:
    label = to_text(node.path)
    resolved = _resolve(node.path, rtype)
    if resolved.sub is not None or resolved.attribute.type != "complex":
        raise invalid_filter(
            f"Invalid filter: '{label}' is not a complex attribute, so it cannot take a "
            f"[...] filter"
        )
    inner = _compile_for_element(node.filter, resolved.attribute)
    container = _container_of(resolved)
    name = resolved.attribute.name

    def match(resource: Any) -> bool:
        holder = container(resource)
        found = holder.get(name) if isinstance(holder, dict) else None
        elements = found if isinstance(found, list) else [found]
        return any(isinstance(e, dict) and inner(e) for e in elements)

    return match


def _resolve(path: AttrPath, rtype: ResourceType) -> ResolvedPath:
    resolved = rtype.resolve(path.urn, path.attr, path.sub)
    if resolved is not None:
        return resolved
    label = to_text(path)
    if path.sub is not None and rtype.resolve(path.urn, path.attr) is not None:
        raise invalid_filter(
            f"Invalid filter: attribute '{to_text(AttrPath(path.urn, path.attr))}' has no "
            f"sub-attribute '{path.sub}'"
        )
    if path.urn is not None and rtype.schema_by_urn(path.urn) is None:
        raise invalid_filter(
            f"Invalid filter: unknown schema '{path.urn}' in '{label}' for {rtype.name}"
        )
    raise invalid_filter(f"Invalid filter: unknown attribute '{label}' for {rtype.name}")


def _container_of(resolved: ResolvedPath) -> Callable[[Any], Any]:
    """Where the top-level attribute lives: the resource, or its extension's URN key."""
    if resolved.in_extension:
        key = resolved.schema
        return lambda resource: resource.get(key) if isinstance(resource, dict) else None
    return lambda resource: resource


def _resource_leaf(path: AttrPath, rtype: ResourceType) -> Leaf:
    resolved = _resolve(path, rtype)
    label = to_text(path)
    container = _container_of(resolved)
    top = resolved.attribute
    name = top.name

    def raw_top(resource: Any) -> list[Any]:
        holder = container(resource)
        return _flatten(holder.get(name) if isinstance(holder, dict) else None)

    if resolved.sub is not None:
        raw_sub = _sub_values(raw_top, resolved.sub.name)
        return label, resolved.sub, raw_sub, raw_sub

    value_sub = top.sub("value") if top.type == "complex" and top.multi_valued else None
    if value_sub is not None:
        return label, value_sub, _sub_values(raw_top, value_sub.name), raw_top
    return label, top, raw_top, raw_top


def _sub_values(raw_top: Getter, sub_name: str) -> Getter:
    """A getter of one sub-attribute's values across what `raw_top` returns."""

    def raw_sub(resource: Any) -> list[Any]:
        out: list[Any] = []
        for item in raw_top(resource):
            if isinstance(item, dict):
                out.extend(_flatten(item.get(sub_name)))
        return out

    return raw_sub


def _element_leaf(path: AttrPath, parent: Attribute) -> Leaf:
    label = to_text(path)
    if path.urn is not None or path.sub is not None:
        raise invalid_filter(
            f"Invalid filter: inside '{parent.name}[...]' name a sub-attribute of "
            f"'{parent.name}' ({', '.join(s.name for s in parent.sub_attributes)}), "
            f"not '{label}'"
        )
    sub = parent.sub(path.attr)
    if sub is None:
        raise invalid_filter(
            f"Invalid filter: attribute '{parent.name}' has no sub-attribute '{path.attr}'"
        )
    name = sub.name

    def raw(element: Any) -> list[Any]:
        return _flatten(element.get(name)) if isinstance(element, dict) else []

    return f"{parent.name}.{sub.name}", sub, raw, raw


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


def _present(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, list):
        return any(_present(v) for v in value)
    if isinstance(value, dict):
        return any(_present(v) for v in value.values())
    return True


# --------------------------------------------------------------------------- comparisons


def _compare(
    node: Compare, label: str, attribute: Attribute, values: Getter, raw: Getter
) -> Matcher:
    op, expected = node.op, node.value
    kind = attribute.type
    if expected is None:
        if op == "eq":
            return lambda r: not any(_present(v) for v in raw(r))
        if op == "ne":
            return lambda r: any(_present(v) for v in raw(r))
        raise invalid_filter(f"Invalid filter: '{label} {op} null': only eq and ne take null")
    if kind == "complex":
        raise invalid_filter(
            f"Invalid filter: '{label}' is a complex attribute; compare one of its "
            f"sub-attributes ({', '.join(s.name for s in attribute.sub_attributes)})"
        )
    if op in _ORDERED and kind in ("boolean", "binary"):
        raise invalid_filter(f"Invalid filter: '{op}' cannot compare {kind} attribute '{label}'")
    if op in _SUBSTRING and kind not in _STRINGY:
        raise invalid_filter(
            f"Invalid filter: '{op}' needs a string attribute; '{label}' is {kind}"
        )
    test = _value_test(op, expected, attribute, label)
    if op == "ne":
        return lambda r: (not (found := values(r))) or any(test(v) for v in found)
    return lambda r: any(test(v) for v in values(r))


def _value_test(op: str, expected: Any, attribute: Attribute, label: str) -> Callable[[Any], bool]:
    """A test of one attribute value against the (already normalised) filter value."""
    kind = attribute.type
    if kind in _STRINGY or kind == "binary":
        if not isinstance(expected, str):
            raise invalid_filter(
                f"Invalid filter: '{label}' is a {kind}; compare it with a quoted string, "
                f"not {_json(expected)}"
            )
        fold = not attribute.case_exact and kind != "binary"
        want = expected.casefold() if fold else expected

        def norm(value: Any) -> str | None:
            if not isinstance(value, str):
                return None
            return value.casefold() if fold else value

        return _ordered_test(op, want, norm)
    if kind == "boolean":
        want_bool = _as_bool(expected)
        if want_bool is None:
            raise invalid_filter(
                f"Invalid filter: '{label}' is a boolean; compare it with true or false, "
                f"not {_json(expected)}"
            )
        return _ordered_test(op, want_bool, _as_bool)
    if kind in ("integer", "decimal"):
        if not _is_number(expected):
            raise invalid_filter(
                f"Invalid filter: '{label}' is {kind}; compare it with a number, "
                f"not {_json(expected)}"
            )
        return _ordered_test(op, expected, lambda v: v if _is_number(v) else None)
    if kind == "dateTime":
        when = parse_datetime(expected)
        if when is None:
            raise invalid_filter(
                f"Invalid filter: '{label}' is a dateTime; compare it with an ISO 8601 "
                f'string such as "2024-05-01T12:00:00Z" (years 0001-9999 in UTC), '
                f"not {_json(expected)}"
            )
        return _ordered_test(op, when, parse_datetime)
    raise invalid_filter(f"Invalid filter: cannot compare '{label}' of type {kind}")


def _ordered_test(op: str, want: Any, norm: Callable[[Any], Any]) -> Callable[[Any], bool]:
    """Compare norm(value) with `want`; a value that cannot be normalised only satisfies ne."""

    def test(value: Any) -> bool:
        got = norm(value)
        if got is None:
            return op == "ne"
        if op == "eq":
            return bool(got == want)
        if op == "ne":
            return bool(got != want)
        if op == "co":
            return want in got
        if op == "sw":
            return bool(got.startswith(want))
        if op == "ew":
            return bool(got.endswith(want))
        if op == "gt":
            return bool(got > want)
        if op == "ge":
            return bool(got >= want)
        if op == "lt":
            return bool(got < want)
        return bool(got <= want)

    return test


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_bool(value: Any) -> bool | None:
    """A boolean, also from "true"/"false" in any case (Entra sends booleans as strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from ISO 8601 text ("Z" or offset; naive means UTC), else None.

    Python 3.11's `fromisoformat` takes any number of fraction digits, so the
    7 that .NET-based IdPs send need no rewriting.
    """
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        # Comparing aware datetimes converts them to UTC; do it here, where a moment
        # outside years 1-9999 in UTC ("0001-01-01T00:00:00+14:00") can be refused.
        return when.astimezone(UTC)
    except OverflowError:
        return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)
