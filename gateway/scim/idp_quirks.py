"""Every IdP dialect, rewritten into plain RFC 7643/7644 in one place.

The rest of the gateway (validation, PATCH, mapping) only ever sees standard
SCIM; each deviation an identity provider is known to send is undone here by
one named function, so a new quirk is one new function and one table row.

rewrite                  sent by              why
-----------------------  -------------------  -------------------------------------------
lower_case_op            Entra ID             ops arrive as "Replace"/"Add"/"Remove";
                                              RFC 7644 spells them in lower case
drop_blank_path          some clients         `"path": ""` (or only spaces) means no
                                              path; dropping the key leaves one test,
                                              `"path" not in op`, for a path-less op
rewrite_scim1_urns       OneLogin templates   `urn:scim:schemas:core:1.0` and
                                              `urn:scim:schemas:extension:enterprise:1.0`
                                              in `schemas`, keys and paths mean the 2.0
                                              core / enterprise schemas
split_pathless_value     Entra ID (newer)     one path-less op carries dotted
                                              (`name.givenName`) and URN-prefixed keys;
                                              each becomes its own op with a path
clear_with_empty_value   Entra ID             `""` or `null` for an attribute means
                                              "clear it": a remove op
coerce_string_booleans   Entra ID, OneLogin   `"True"`/`"False"`/`"true"` for boolean
                                              attributes (`active`, `primary`), anywhere
wrap_bare_manager_id     Entra ID             manager sent as a bare id string, not
                                              `{"value": "<id>"}`
expand_remove_by_value   Entra ID             `remove members` with a value list instead
                                              of `members[value eq "<id>"]`
drop_null_attributes     several              `null` in a POST/PUT body is unassigned
                                              (RFC 7643 §2.5), not a typed value
drop_extension_schemas   scim2-client         a PATCH value holding a whole extension
                                              repeats its URN in a `schemas` list
                                              inside it; an extension has no such attribute

Okta's group rename `{"op":"replace","value":{"id":"<gid>","displayName":"Y"}}`
needs no rewrite: PATCH ignores read-only attributes in a path-less value.

Attribute facts (boolean? complex? multi-valued? read-only?) come from the
resource type, so a rewrite only fires where the schema says it makes sense;
anything that does not fit is left alone for validation or PATCH to reject.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_patch_path
from gateway.scim.resource import canonicalise
from gateway.scim.schema import ENTERPRISE_USER, Attribute, ResolvedPath, ResourceType

SCIM1_CORE = "urn:scim:schemas:core:1.0"
SCIM1_ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"

_OPERATIONS_KEY = "Operations"
_BOOLEAN_STRINGS = {"true": True, "false": False}


# --------------------------------------------------------------------------- entry points


def normalise_resource(body: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """A POST/PUT body in plain SCIM with canonical attribute names (a new dict)."""
    out = rewrite_scim1_urns(body, rtype)
    out = canonicalise(out, rtype)
    out = _map_attributes(out, rtype, _resource_value_rewrites)
    return drop_null_attributes(out)


def _resource_value_rewrites(attr: Attribute, value: Any) -> Any:
    """The per-attribute rewrites of a POST/PUT body, so the body is walked once."""
    return wrap_bare_manager_id(attr, coerce_string_booleans(attr, value))


def normalise_patch(body: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """A PatchOp body whose operations are plain RFC 7644 (a new dict).

    A body without an `Operations` list is returned as a copy, untouched:
    validation reports what is wrong with it.
    """
    out = dict(body)
    operations = body.get(_OPERATIONS_KEY)
    if not isinstance(operations, list):
        return out
    normalised: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            normalised.append(operation)
            continue
        operation = drop_blank_path(lower_case_op(operation))
        operation = rewrite_scim1_urns_in_op(operation, rtype)
        operation = drop_extension_schemas(operation, rtype)
        for op in split_pathless_value(operation, rtype):
            op = clear_with_empty_value(op, rtype)
            op = coerce_booleans_in_op(op, rtype)
            op = wrap_bare_manager_in_op(op, rtype)
            normalised.extend(expand_remove_by_value(op, rtype))
    out[_OPERATIONS_KEY] = normalised
    return out


# --------------------------------------------------------------------------- rewrites


def lower_case_op(op: dict[str, Any]) -> dict[str, Any]:
    """Entra ID capitalises op names ("Replace"); RFC 7644 spells them in lower case."""
    name = op.get("op")
    if isinstance(name, str) and name.strip().lower() != name:
        return {**op, "op": name.strip().lower()}
    return op


def drop_blank_path(op: dict[str, Any]) -> dict[str, Any]:
    """A blank `path` means none: without the key, every later step asks one question."""
    path = op.get("path")
    if isinstance(path, str) and not path.strip():
        return {k: v for k, v in op.items() if k != "path"}
    return op


def _scim1_table(rtype: ResourceType) -> tuple[tuple[str, str], ...]:
    return ((SCIM1_ENTERPRISE, ENTERPRISE_USER), (SCIM1_CORE, rtype.core.id))


def rewrite_scim1_urn(text: str, rtype: ResourceType) -> str:
    """One URN, or URN-prefixed path, with SCIM 1.x schema URNs replaced by 2.0 ones."""
    folded = text.casefold()
    for old, new in _scim1_table(rtype):
        if folded == old:
            return new
        if folded.startswith(old + ":"):
            return new + text[len(old):]
    return text


def rewrite_scim1_urns(body: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """OneLogin's admin templates use SCIM 1.x URNs in `schemas` and as keys."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.casefold() == "schemas" and isinstance(value, list):
            schemas: list[Any] = []
            for urn in value:
                new = rewrite_scim1_urn(urn, rtype) if isinstance(urn, str) else urn
                if new not in schemas:
                    schemas.append(new)
            out[key] = schemas
            continue
        new_key = rewrite_scim1_urn(key, rtype)
        if new_key in out and isinstance(out[new_key], dict) and isinstance(value, dict):
            out[new_key] = {**out[new_key], **value}
        else:
            out[new_key] = value
    return out


def rewrite_scim1_urns_in_op(op: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """SCIM 1.x URNs in a PATCH path or as keys of a path-less value."""
    out = dict(op)
    if isinstance(op.get("path"), str):
        out["path"] = rewrite_scim1_urn(op["path"], rtype)
    if isinstance(op.get("value"), dict):
        out["value"] = rewrite_scim1_urns(op["value"], rtype)
    return out


def drop_extension_schemas(op: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """scim2-client puts the extension's own `schemas` list inside a whole-extension value.

    `{"op":"add","path":"urn:...:enterprise:2.0:User","value":{"schemas":["urn:...:enterprise:2.0:User"],"department":"R"}}`
    (or the same object under the URN key of a path-less value): the list only
    repeats the URN the path or key already names, so it is dropped.
    """
    value = op.get("value")
    if not isinstance(value, dict):
        return op
    if "path" in op:
        path = op["path"]
        if not isinstance(path, str):
            return op
        urn, rest = rtype.split_urn(path.strip())
        if urn is None or rest or not _has_schemas_list(value):
            return op
        return {**op, "value": _without_schemas(value)}
    if not any(_is_schema_key(k, rtype) and _has_schemas_list(v) for k, v in value.items()):
        return op
    return {**op, "value": {
        k: _without_schemas(v) if _is_schema_key(k, rtype) and _has_schemas_list(v) else v
        for k, v in value.items()
    }}


def _is_schema_key(key: str, rtype: ResourceType) -> bool:
    urn, rest = rtype.split_urn(key)
    return urn is not None and not rest


def _has_schemas_list(value: Any) -> bool:
    return isinstance(value, dict) and any(
        k.casefold() == "schemas" and isinstance(v, list) for k, v in value.items()
    )


def _without_schemas(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k.casefold() != "schemas"}


def split_pathless_value(op: dict[str, Any], rtype: ResourceType) -> list[dict[str, Any]]:
    """Entra's merged path-less op: dotted and URN-prefixed keys become their own ops.

    `{"op":"replace","value":{"name.givenName":"G","urn:...:User:employeeNumber":"7"}}`
    is two ops with paths. `""`/`null` for a key becomes a remove op for it
    (Entra's way of clearing). Plain keys stay in the path-less value; keys
    that are unknown or read-only stay there too, so PATCH rejects or ignores
    them by its own rules.
    """
    value = op.get("value")
    if "path" in op or op.get("op") not in ("add", "replace") or not isinstance(value, dict):
        return [op]
    kept: dict[str, Any] = {}
    split: list[dict[str, Any]] = []
    for key, item in value.items():
        urn, rest = rtype.split_urn(key)
        if urn is not None and not rest and isinstance(item, dict):
            inner: dict[str, Any] = {}
            for name, inner_item in item.items():
                path = f"{urn}:{name}"
                if _is_clearing(inner_item) and _writable(rtype.resolve_text(path)):
                    split.append({"op": "remove", "path": path})
                else:
                    inner[name] = inner_item
            if inner or not item:
                kept[key] = inner
            continue
        dotted = urn is not None or "." in key
        resolved = rtype.resolve_text(key)
        if (dotted or _is_clearing(item)) and _writable(resolved):
            split.append({"op": op["op"], "path": key, "value": item})
        else:
            kept[key] = item
    if not split:
        return [op]
    head = [{**op, "value": kept}] if kept else []
    return head + split


def clear_with_empty_value(op: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """Entra clears an attribute with `""` or `null`; RFC 7644 says remove.

    `""` only clears a single value (a simple attribute, a sub-attribute or a
    single-valued complex one such as manager): for a multi-valued attribute
    it is a type error that PATCH reports.
    """
    if op.get("op") not in ("add", "replace") or not isinstance(op.get("path"), str):
        return op
    value = op.get("value")
    if not _is_clearing(value):
        return op
    target = _target(op["path"], rtype)
    if target is None:
        return op
    if value == "" and target.leaf is target.resolved.attribute \
            and target.resolved.attribute.multi_valued:
        return op
    return {k: v for k, v in op.items() if k != "value"} | {"op": "remove"}


def coerce_string_booleans(attr: Attribute, value: Any) -> Any:
    """`"True"`/`"false"` for a boolean attribute, anywhere inside `value`, as a real bool.

    Entra sends every boolean as a string; OneLogin sends `"active":"true"`.
    A string that is not a boolean word is left for validation to reject.
    """
    if isinstance(value, list) and attr.multi_valued:
        return [_coerce_one(attr, v) for v in value]
    return _coerce_one(attr, value)


def _coerce_one(attr: Attribute, value: Any) -> Any:
    if attr.type == "boolean" and isinstance(value, str):
        return _BOOLEAN_STRINGS.get(value.strip().lower(), value)
    if attr.type == "complex" and isinstance(value, dict):
        return {k: coerce_string_booleans(sub, v) if (sub := attr.sub(k)) else v
                for k, v in value.items()}
    return value


def coerce_booleans_in_op(op: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """String booleans in a PATCH value, with or without a path."""
    return _map_op_value(op, rtype, coerce_string_booleans)


def wrap_bare_manager_id(attr: Attribute, value: Any) -> Any:
    """Entra sends manager as a bare id string; RFC 7643 §4.3 wants `{"value": id}`.

    Applies to any single-valued complex attribute with a `value`
    sub-attribute, which in the RFC schemas is exactly `manager`.
    """
    if attr.type == "complex" and not attr.multi_valued and attr.sub("value") is not None \
            and isinstance(value, str) and value:
        return {"value": value}
    return value


def wrap_bare_manager_in_op(op: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """The bare-string manager in an add/replace op, with a path or path-less.

    Through a sub-attribute or a [filter] the path names a simple or
    multi-valued attribute, which `wrap_bare_manager_id` leaves alone.
    """
    if op.get("op") not in ("add", "replace"):
        return op
    return _map_op_value(op, rtype, wrap_bare_manager_id)


def expand_remove_by_value(op: dict[str, Any], rtype: ResourceType) -> list[dict[str, Any]]:
    """Entra's `remove members` with `value: [{"value": id}]`, as RFC filtered removes.

    Each listed value becomes `{"op":"remove","path":"members[value eq \\"id\\"]"}`.
    Left alone unless every listed element is an object with a string or
    number `value`.
    """
    if op.get("op") != "remove" or not isinstance(op.get("path"), str) or "value" not in op:
        return [op]
    target = _target(op["path"], rtype)
    if target is None or target.filtered or target.resolved.sub is not None:
        return [op]
    attr = target.resolved.attribute
    if not (attr.multi_valued and attr.type == "complex" and attr.sub("value") is not None):
        return [op]
    value = op["value"]
    items = value if isinstance(value, list) else [value]
    ids = [item.get("value") for item in items if isinstance(item, dict)]
    if not ids or len(ids) != len(items) or not all(
        isinstance(i, str | int | float) and not isinstance(i, bool) for i in ids
    ):
        return [op]
    path = op["path"].strip()
    return [{"op": "remove", "path": f"{path}[value eq {json.dumps(i, ensure_ascii=False)}]"}
            for i in ids]


def drop_null_attributes(body: dict[str, Any]) -> dict[str, Any]:
    """`null` in a resource body means unassigned (RFC 7643 §2.5): drop the key."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out[key] = drop_null_attributes(value)
        elif isinstance(value, list):
            out[key] = [drop_null_attributes(v) if isinstance(v, dict) else v
                        for v in value if v is not None]
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Target:
    """What a PATCH path points at, as far as the rewrites need to know."""

    resolved: ResolvedPath
    filtered: bool
    leaf: Attribute


def _target(path: str, rtype: ResourceType) -> _Target | None:
    """Resolve a PATCH path, or None when it does not parse or resolve (PATCH reports it)."""
    try:
        parsed = parse_patch_path(path)
    except ScimError:
        return None
    resolved = rtype.resolve(parsed.path.urn, parsed.path.attr, parsed.path.sub)
    if resolved is None:
        return None
    leaf = resolved.leaf
    if parsed.filter is not None and parsed.sub is not None and resolved.sub is None:
        sub = resolved.attribute.sub(parsed.sub)
        if sub is None:
            return None
        leaf = sub
    return _Target(resolved, parsed.filter is not None, leaf)


def _is_clearing(value: Any) -> bool:
    return value is None or value == ""


def _writable(resolved: ResolvedPath | None) -> bool:
    """Known, and neither it nor its sub-attribute is readOnly."""
    return resolved is not None and not resolved.read_only


def _map_op_value(
    op: dict[str, Any], rtype: ResourceType, fn: Callable[[Attribute, Any], Any]
) -> dict[str, Any]:
    """`fn(attribute, value)` on an op's value, for whatever attribute(s) its path names.

    Path-less (an object of attributes), a whole schema (an object of that
    schema's attributes) or an attribute path (the attribute it ends at).
    A path that does not parse or resolve is left for PATCH to report.
    """
    if "value" not in op:
        return op
    value = op["value"]
    if "path" not in op:
        if isinstance(value, dict):
            return {**op, "value": _map_attributes(value, rtype, fn)}
        return op
    path = op["path"]
    if not isinstance(path, str):
        return op
    urn, rest = rtype.split_urn(path)
    if urn is not None and not rest and isinstance(value, dict):
        return {**op, "value": _map_attributes({urn: value}, rtype, fn)[urn]}
    target = _target(path, rtype)
    if target is None:
        return op
    return {**op, "value": fn(target.leaf, value)}


def _map_attributes(
    body: dict[str, Any], rtype: ResourceType, fn: Callable[[Attribute, Any], Any]
) -> dict[str, Any]:
    """Apply `fn(attribute, value)` to every known attribute of a resource-shaped dict.

    Keys may be plain, dotted (`name.givenName`), URN-prefixed, or an
    extension URN holding an object of that schema's attributes. Unknown keys
    pass through unchanged.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        urn, rest = rtype.split_urn(key)
        if urn is not None and not rest:
            if isinstance(value, dict):
                out[key] = {name: _map_one(rtype.resolve_text(f"{urn}:{name}"), item, fn)
                            for name, item in value.items()}
            else:
                out[key] = value
            continue
        out[key] = _map_one(rtype.resolve_text(key), value, fn)
    return out


def _map_one(resolved: ResolvedPath | None, value: Any, fn: Callable[[Attribute, Any], Any]) -> Any:
    if resolved is None:
        return value
    return fn(resolved.leaf, value)


# --------------------------------------------------------------- which IdP is calling

#: The IdP names metrics are labelled with: a small fixed set, whatever a caller sends.
IDP_NAMES = ("okta", "entra", "onelogin", "jumpcloud", "other")

# Substrings of the User-Agent (or of the credential's label, which support sets
# to the IdP's name at issue) that identify each IdP, lower case. Okta sends
# "Okta SCIM Client 1.0.0", Entra "Azure Active Directory SCIM Client" (older
# tenants: "Microsoft ... Azure AD"), OneLogin and JumpCloud their names.
_IDP_MARKERS = (
    ("okta", ("okta",)),
    ("entra", ("entra", "azure", "microsoft", "aad")),
    ("onelogin", ("onelogin",)),
    ("jumpcloud", ("jumpcloud",)),
)


def _marked(text: str) -> str | None:
    lowered = text.lower()
    for name, markers in _IDP_MARKERS:
        if any(marker in lowered for marker in markers):
            return name
    return None


@functools.lru_cache(maxsize=256)
def identify_idp(user_agent: str, credential_label: str | None) -> str:
    """One of `IDP_NAMES` for a request: from its User-Agent, else its credential's label.

    The User-Agent wins (it is what the engine calling says it is); the label
    covers clients that send a generic one. Never the raw text: it is
    caller-chosen, and a metric label must stay within a fixed set.
    """
    return _marked(user_agent[:256]) or _marked(credential_label or "") or "other"
