"""RFC 7644 §3.5.2 PATCH applied to a SCIM resource dict.

The provisioning layer reads the current resource, applies the operations
here, and sends the difference to the backend; so this module decides what a
PATCH means and nothing else. It works on a canonicalised deep copy and
raises before returning anything, which makes every request all-or-nothing:
an error in the third operation leaves no trace of the first two.

Operations arrive normalised by `idp_quirks` (lower-case op, no blank `path`,
real booleans, Entra's merged and by-value forms rewritten). Choices the RFC
leaves open:

- `add`/`replace` on `attr[filter].sub` where nothing matches creates the
  element from the filter's `eq` clauses (Entra's `emails[type eq "work"].value`
  on a user with no work email); `replace` on `attr[filter]` with no match is
  `noTarget`.
- `remove` of something already absent (including a filter matching nothing)
  succeeds: IdPs retry removals, and the result they want already holds.
- Removing the `value` sub-attribute of a multi-valued element removes the
  element: an email without an address is not an email.
- `add`/`replace` on a single-valued complex attribute merge sub-attributes
  (RFC 7644 §3.5.2.3: those not given are left unchanged).
- `add` to a multi-valued attribute skips a value already there (same
  `value` and no conflicting sub-attribute) and merges what it adds.
- readOnly attributes named by a path are `mutability` errors; inside a
  path-less value object (Okta's stray `id`, `meta`, `groups`) or as
  sub-attributes of a value (`members[].display`) they are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.scim.errors import ScimError, bad_request, invalid_path
from gateway.scim.evaluate import matches_element, parse_datetime
from gateway.scim.filter import And, Compare, Filter, parse_patch_path
from gateway.scim.resource import (
    canonicalise,
    container_of,
    json_copy,
    prune_empty,
    writable_container,
)
from gateway.scim.schema import Attribute, ResolvedPath, ResourceType

OPERATIONS = ("add", "remove", "replace")

_JSON_TYPES = {
    "string": "a string",
    "reference": "a string",
    "binary": "a base64 string",
    "dateTime": "an ISO 8601 date-time string",
    "boolean": "true or false",
    "integer": "an integer",
    "decimal": "a number",
    "complex": "an object",
}


def apply_patch(
    resource: dict[str, Any], operations: list[dict[str, Any]], rtype: ResourceType
) -> dict[str, Any]:
    """The resource after `operations`, as a new dict; `resource` is never touched.

    Raises `ScimError` (400: invalidSyntax, invalidPath, noTarget, mutability,
    invalidValue) naming the failing operation's index.
    """
    if not isinstance(operations, list):
        raise bad_request("Operations must be a list of PATCH operations", "invalidSyntax")
    out = canonicalise(resource, rtype)
    for index, operation in enumerate(operations):
        try:
            _apply_operation(out, operation, rtype)
        except ScimError as error:
            raise ScimError(error.status, f"Operations[{index}]: {error.detail}",
                            error.scim_type) from None
    out = prune_empty(out)
    _list_extensions_in_schemas(out, rtype)
    return out


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class _Target:
    """Where an operation applies: an attribute, maybe a sub-attribute or a filter."""

    resolved: ResolvedPath
    text: str  # as the caller wrote it, for error messages
    filter: Filter | None = None
    filter_sub: Attribute | None = None  # the ".sub" after "[filter]"


def _apply_operation(out: dict[str, Any], operation: Any, rtype: ResourceType) -> None:
    if not isinstance(operation, dict):
        raise bad_request("each operation must be an object with 'op'", "invalidSyntax")
    name = operation.get("op")
    if name not in OPERATIONS:
        raise bad_request(f"unsupported op {name!r}: use add, remove or replace",
                          "invalidSyntax")
    value = operation.get("value")
    if "path" not in operation:
        if name == "remove":
            raise ScimError(400, "remove needs a 'path'", "noTarget")
        if value is None:
            raise bad_request(f"'{name}' needs a 'value'")
        if not isinstance(value, dict):
            raise bad_request(f"'{name}' without a 'path' needs an object 'value' of attributes")
        _apply_pathless(out, name, value, rtype, None)
        return
    path = operation["path"]
    if not isinstance(path, str):
        raise invalid_path("'path' must be a string")
    path = path.strip()
    urn, rest = rtype.split_urn(path)
    if urn is not None and not rest:
        _apply_schema_path(out, name, urn, value, rtype)
        return
    target = _resolve_target(path, rtype)
    if name == "remove":
        _remove(out, target, value)
        return
    if value is None:
        raise bad_request(f"'{name}' on '{path}' needs a 'value'")
    if name == "add":
        _add(out, target, value)
    else:
        _replace(out, target, value)


def _apply_schema_path(
    out: dict[str, Any], name: str, urn: str, value: Any, rtype: ResourceType
) -> None:
    """A path naming a whole schema (`urn:...:enterprise:2.0:User`): its attributes at once."""
    if name == "remove":
        if urn == rtype.core.id:
            raise invalid_path(f"cannot remove the core schema '{urn}'")
        schema = rtype.schema_by_urn(urn)
        required = [a.name for a in schema.attributes if a.required] if schema else []
        if required:
            raise ScimError(400, f"'{urn}' holds required attributes {required}", "mutability")
        out.pop(urn, None)
        return
    if not isinstance(value, dict):
        raise bad_request(f"'{name}' on schema '{urn}' needs an object 'value' of attributes")
    _apply_pathless(out, name, value, rtype, urn)


def _apply_pathless(
    out: dict[str, Any], name: str, value: dict[str, Any], rtype: ResourceType, urn: str | None
) -> None:
    """A value object of attributes (RFC 7644 §3.5.2.1/3 without path)."""
    for key, item in value.items():
        if urn is None and key.casefold() == "schemas":
            continue
        key_urn, rest = rtype.split_urn(key) if urn is None else (urn, key)
        if urn is None and key_urn is not None and not rest:
            if not isinstance(item, dict):
                raise bad_request(f"'{key}' must be an object of that schema's attributes")
            _apply_pathless(out, name, item, rtype, key_urn)
            continue
        attr_name, _, sub_name = rest.partition(".")
        resolved = rtype.resolve(key_urn, attr_name, sub_name or None)
        label = key if urn is None else f"{urn}:{key}"
        if resolved is None:
            raise invalid_path(f"unknown attribute '{label}' for {rtype.name}")
        if resolved.read_only:
            continue  # sent back as read: ignored (RFC 7643 §2.2)
        target = _Target(resolved, label)
        if item is None:
            if name == "replace":
                _remove(out, target, None)
            continue
        if name == "add":
            _add(out, target, item)
        else:
            _replace(out, target, item)


def _resolve_target(path: str, rtype: ResourceType) -> _Target:
    parsed = parse_patch_path(path)
    ap = parsed.path
    resolved = rtype.resolve(ap.urn, ap.attr, ap.sub)
    if resolved is None:
        raise invalid_path(f"unknown attribute path '{path}' for {rtype.name}")
    filter_sub = None
    if parsed.filter is not None:
        attr = resolved.attribute
        if not (attr.multi_valued and attr.type == "complex"):
            raise invalid_path(f"'{path}': a [filter] needs a multi-valued complex attribute")
        _check_element_filter(parsed.filter, attr, path)
        if parsed.sub is not None:
            filter_sub = attr.sub(parsed.sub)
            if filter_sub is None:
                raise invalid_path(f"'{path}': '{attr.name}' has no sub-attribute '{parsed.sub}'")
    if resolved.read_only or (filter_sub is not None and filter_sub.read_only):
        raise ScimError(400, f"'{path}' is read-only", "mutability")
    return _Target(resolved, path, parsed.filter, filter_sub)


def _check_element_filter(node: Filter, parent: Attribute, path: str) -> None:
    """Unknown sub-attributes in `emails[...]` are a bad path, not a bad filter."""
    try:
        matches_element(node, {}, parent)
    except ScimError as error:
        raise invalid_path(f"'{path}': {error.detail}") from None


# --------------------------------------------------------------------------- add / replace


def _add(out: dict[str, Any], target: _Target, value: Any) -> None:
    attr = target.resolved.attribute
    container = writable_container(out, target.resolved)
    if target.filter is not None:
        _set_filtered(container, target, target.filter, value, replace=False)
    elif target.resolved.sub is not None:
        _set_sub(container, target, target.resolved.sub, value)
    elif attr.multi_valued:
        items = _check_values(attr, value, target.resolved.text())
        current = container.get(attr.name)
        elements = current if isinstance(current, list) else []
        written: list[Any] = []
        for item in items:
            same = _find_same(elements, item, attr)
            if same is None:
                elements.append(item)
                written.append(item)
            else:
                _merge(same, item, attr, target)
                written.append(same)
        container[attr.name] = elements
        _single_primary(elements, written, attr)
    elif attr.type == "complex":
        _merge_complex(container, attr, _check_value(attr, value, target.resolved.text()), target)
    else:
        _set_leaf(container, attr, _check_value(attr, value, target.resolved.text()), target)


def _replace(out: dict[str, Any], target: _Target, value: Any) -> None:
    attr = target.resolved.attribute
    container = writable_container(out, target.resolved)
    if target.filter is not None:
        _set_filtered(container, target, target.filter, value, replace=True)
    elif target.resolved.sub is not None:
        _set_sub(container, target, target.resolved.sub, value)
    elif attr.multi_valued:
        items = _check_values(attr, value, target.resolved.text())
        unique: list[Any] = []
        for item in items:
            if not any(_same_value(attr, item, kept) for kept in unique):
                unique.append(item)
        _single_primary(unique, unique, attr)
        container[attr.name] = unique
    elif attr.type == "complex":
        _merge_complex(container, attr, _check_value(attr, value, target.resolved.text()), target)
    else:
        _set_leaf(container, attr, _check_value(attr, value, target.resolved.text()), target)


def _set_sub(container: dict[str, Any], target: _Target, sub: Attribute, value: Any) -> None:
    """`name.givenName`, or `emails.value` (every element: there is no filter)."""
    attr = target.resolved.attribute
    new = _check_value(sub, value, target.resolved.text())
    current = container.get(attr.name)
    if attr.multi_valued:
        elements = [e for e in current if isinstance(e, dict)] if isinstance(current, list) else []
        if not elements:
            elements = [{}]
        for element in elements:
            _set_leaf(element, sub, json_copy(new), target)
        container[attr.name] = elements
        _single_primary(elements, elements if sub.name == "primary" else [], attr)
        return
    if not isinstance(current, dict):
        current = container[attr.name] = {}
    _forget_other_subs_on_new_value(current, {sub.name: new})
    _set_leaf(current, sub, new, target)


def _set_filtered(
    container: dict[str, Any], target: _Target, node: Filter, value: Any, *, replace: bool
) -> None:
    """`attr[filter]` and `attr[filter].sub` for add and replace (`node` is the filter)."""
    attr = target.resolved.attribute
    current = container.get(attr.name)
    elements = current if isinstance(current, list) else []
    matched = [e for e in elements if isinstance(e, dict)
               and matches_element(node, e, attr)]
    where = target.resolved.text()
    if target.filter_sub is not None:
        sub = target.filter_sub
        new = _check_value(sub, value, f"{where}.{sub.name}")
        if not matched:
            element = _element_from_filter(target, attr)
            element[sub.name] = new
            elements.append(element)
            written = [element]
        else:
            for element in matched:
                _set_leaf(element, sub, json_copy(new), target)
            written = matched if sub.name == "primary" else []
        container[attr.name] = elements
        _single_primary(elements, written, attr)
        return
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    new_element = _check_value(attr, value, where)
    if not matched:
        if replace:
            raise ScimError(400, f"no value of '{attr.name}' matches '{target.text}'",
                            "noTarget")
        element = _element_from_filter(target, attr)
        element.update(new_element)
        elements.append(element)
        written = [element]
    elif replace:
        written = []
        for element in matched:
            replacement = json_copy(new_element)
            for sub in attr.sub_attributes:
                if sub.name in replacement:
                    _check_immutable(element, sub, replacement[sub.name], target)
            elements[_index_of(elements, element)] = replacement
            written.append(replacement)
    else:
        for element in matched:
            _merge(element, json_copy(new_element), attr, target)
        written = matched
    container[attr.name] = elements
    _single_primary(elements, written, attr)


def _element_from_filter(target: _Target, attr: Attribute) -> dict[str, Any]:
    """The element a filter of `eq` clauses joined by `and` describes, or noTarget."""
    element: dict[str, Any] = {}
    stack: list[Filter] = [target.filter] if target.filter is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And):
            stack.extend((node.left, node.right))
            continue
        sub = attr.sub(node.path.attr) if isinstance(node, Compare) else None
        if not isinstance(node, Compare) or node.op != "eq" or sub is None \
                or node.value is None or element.get(sub.name, node.value) != node.value:
            raise ScimError(
                400,
                f"no value of '{attr.name}' matches '{target.text}', and the filter does not "
                f"describe a new one (only eq clauses joined by 'and' do)",
                "noTarget",
            )
        if not sub.read_only:
            element[sub.name] = _check_value(sub, node.value, f"{attr.name}.{sub.name}")
    return element


def _merge_complex(
    container: dict[str, Any], attr: Attribute, new: dict[str, Any], target: _Target
) -> None:
    current = container.get(attr.name)
    if not isinstance(current, dict):
        current = container[attr.name] = {}
    _forget_other_subs_on_new_value(current, new)
    for name, sub_value in new.items():
        _set_leaf(current, _checked_sub(attr, name, target), sub_value, target)


def _forget_other_subs_on_new_value(current: dict[str, Any], new: dict[str, Any]) -> None:
    """A new `value` (manager id) makes the old `displayName`/`$ref` describe someone else."""
    if "value" in new and current.get("value") not in (None, new["value"]):
        current.clear()


def _merge(element: Any, new: Any, attr: Attribute, target: _Target) -> None:
    """Add what `new` says to an equivalent existing element (complex), in place."""
    if isinstance(element, dict) and isinstance(new, dict):
        for name, sub_value in new.items():
            _set_leaf(element, _checked_sub(attr, name, target), sub_value, target)


def _checked_sub(attr: Attribute, name: str, target: _Target) -> Attribute:
    """A sub-attribute of a value `_check_value` passed (so it exists; else a clear 400)."""
    sub = attr.sub(name)
    if sub is None:
        raise bad_request(f"{target.text}: '{attr.name}' has no sub-attribute '{name}'",
                          "invalidPath")
    return sub


def _set_leaf(parent: dict[str, Any], attr: Attribute, value: Any, target: _Target) -> None:
    _check_immutable(parent, attr, value, target)
    parent[attr.name] = value


def _check_immutable(parent: dict[str, Any], attr: Attribute, value: Any, target: _Target) -> None:
    """An immutable attribute may be set while unassigned, never changed (RFC 7643 §7)."""
    if attr.mutability != "immutable":
        return
    current = parent.get(attr.name)
    if current is not None and not _same_value(attr, current, value):
        raise ScimError(400, f"'{attr.name}' is immutable ('{target.text}')", "mutability")


# --------------------------------------------------------------------------- remove


def _remove(out: dict[str, Any], target: _Target, value: Any) -> None:
    resolved = target.resolved
    attr = resolved.attribute
    container = container_of(out, resolved)
    if container is None:
        return
    current = container.get(attr.name)
    if target.filter is not None:
        if not isinstance(current, list):
            return
        matched = [e for e in current if isinstance(e, dict)
                   and matches_element(target.filter, e, attr)]
        if target.filter_sub is None:
            container[attr.name] = [e for e in current if not _contains(matched, e)]
        else:
            _remove_sub_from(matched, attr, target.filter_sub, target)
            container[attr.name] = [e for e in current if e != {}]
        return
    if resolved.sub is not None:
        sub = resolved.sub
        if sub.required:
            raise ScimError(400, f"'{target.text}' is required", "mutability")
        if isinstance(current, list):
            _remove_sub_from([e for e in current if isinstance(e, dict)], attr, sub, target)
            container[attr.name] = [e for e in current if e != {}]
        elif isinstance(current, dict):
            _check_immutable(current, sub, None, target)
            current.pop(sub.name, None)
        return
    if attr.multi_valued and value is not None and not (isinstance(value, list) and not value):
        if not isinstance(current, list):
            return
        doomed = _check_values(attr, value, resolved.text())
        container[attr.name] = [
            e for e in current if not any(_describes(d, e, attr) for d in doomed)
        ]
        return
    if attr.required:
        raise ScimError(400, f"'{resolved.text()}' is required and cannot be removed",
                        "mutability")
    if attr.mutability == "immutable" and current is not None:
        raise ScimError(400, f"'{resolved.text()}' is immutable", "mutability")
    container.pop(attr.name, None)


def _remove_sub_from(elements: list[Any], attr: Attribute, sub: Attribute, target: _Target) -> None:
    """Drop `sub` from each element; without its `value` an element is dropped whole."""
    for element in elements:
        if sub.name not in element:
            continue
        if sub.name == "value":
            element.clear()
        else:
            _check_immutable(element, sub, None, target)
            element.pop(sub.name, None)


def _contains(items: list[Any], element: Any) -> bool:
    return any(item is element for item in items)


def _index_of(items: list[Any], element: Any) -> int:
    return next(i for i, item in enumerate(items) if item is element)


# --------------------------------------------------------------------------- values


def _check_values(attr: Attribute, value: Any, where: str) -> list[Any]:
    """The canonical values for a multi-valued attribute (a single value counts as one)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if item is None:
            continue
        checked = _check_value(attr, item, where)
        if checked != {}:
            out.append(checked)
    return out


def _check_value(attr: Attribute, value: Any, where: str) -> Any:
    """A canonical copy of one value of `attr`, or invalidValue naming the attribute.

    Sub-attribute keys are matched case-insensitively; readOnly and null
    sub-attributes are dropped (the server owns them, null is unassigned).
    """
    if attr.type == "complex":
        if not isinstance(value, dict):
            raise _wrong_type(attr, value, where)
        out: dict[str, Any] = {}
        for key, sub_value in value.items():
            sub = attr.sub(key)
            if sub is None:
                raise bad_request(f"'{where}' has no sub-attribute '{key}'")
            if sub.read_only or sub_value is None:
                continue
            sub_where = f"{where}.{sub.name}"
            out[sub.name] = (_check_values(sub, sub_value, sub_where) if sub.multi_valued
                             else _check_value(sub, sub_value, sub_where))
        return out
    if not _has_type(attr.type, value):
        raise _wrong_type(attr, value, where)
    return value


def _has_type(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "dateTime":
        return isinstance(value, str) and parse_datetime(value) is not None
    return isinstance(value, str)


def _wrong_type(attr: Attribute, value: Any, where: str) -> ScimError:
    want = _JSON_TYPES.get(attr.type, attr.type)
    if attr.multi_valued and attr.type == "complex":
        want = "an object or a list of objects"
    got = type(value).__name__ if value is not None else "null"
    return bad_request(f"'{where}' must be {want}, not {got} {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- equality


def _same_value(attr: Attribute, a: Any, b: Any) -> bool:
    """Equal as SCIM sees it: strings fold case unless caseExact."""
    if attr.type in ("string", "reference") and not attr.case_exact \
            and isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if attr.type == "complex" and isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        return all(_same_value(attr.sub(k) or Attribute(k), a[k], b[k]) for k in a)
    return bool(a == b)


def _describes(partial: Any, element: Any, attr: Attribute) -> bool:
    """Whether every sub-attribute `partial` names has the same value in `element`."""
    if attr.type != "complex":
        return _same_value(attr, partial, element)
    if not (isinstance(partial, dict) and isinstance(element, dict)):
        return False
    return all(
        k in element and _same_value(attr.sub(k) or Attribute(k), v, element[k])
        for k, v in partial.items()
    )


def _find_same(elements: list[Any], item: Any, attr: Attribute) -> Any:
    """An existing element `item` duplicates: same `value`, no conflicting sub-attribute.

    `{"value": uid}` duplicates a stored `{"value": uid, "display": "Ada"}`;
    an email with the same address but another `type` does not.
    """
    for element in elements:
        if attr.type != "complex":
            if _same_value(attr, element, item):
                return element
            continue
        if not (isinstance(element, dict) and isinstance(item, dict)):
            continue
        shared = element.keys() & item.keys()
        if "value" in item and "value" not in shared:
            continue
        if not shared and (element or item):
            continue
        if all(_same_value(attr.sub(k) or Attribute(k), element[k], item[k]) for k in shared) \
                and ("value" in shared or item.keys() <= element.keys()):
            return element
    return None


def _single_primary(elements: list[Any], written: list[Any], attr: Attribute) -> None:
    """At most one `primary: true` (RFC 7643 §2.4): the newly written one wins."""
    if attr.sub("primary") is None:
        return
    chosen: list[Any] = []
    for element in written:
        if isinstance(element, dict) and element.get("primary") is True \
                and not _contains(chosen, element):
            chosen.append(element)
    if len(chosen) > 1:
        raise bad_request(f"only one value of '{attr.name}' may be primary")
    if not chosen:
        return
    for element in elements:
        if isinstance(element, dict) and element is not chosen[0] \
                and element.get("primary") is True:
            element["primary"] = False


def _list_extensions_in_schemas(out: dict[str, Any], rtype: ResourceType) -> None:
    """A resource holding extension attributes lists that extension in `schemas`."""
    schemas = out.get("schemas")
    if not isinstance(schemas, list):
        return
    listed = {s.casefold() for s in schemas if isinstance(s, str)}
    for schema, _required in rtype.extensions:
        if isinstance(out.get(schema.id), dict) and schema.id.casefold() not in listed:
            schemas.append(schema.id)
