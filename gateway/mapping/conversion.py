"""SCIM resource ⇄ backend record, through a mapping's bound fields.

Reads build a SCIM resource from a backend record; writes build the backend
field values from a SCIM resource. When two SCIM attributes feed the same
backend field (userName and the work email both feed `email`), the one the
request changed wins, then the one declared first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.mapping.fields import BoundField, TranslationError, read_scim, write_scim
from gateway.mapping.ids import to_scim_id
from gateway.scim.errors import ScimError
from gateway.scim.schema import Attribute, group_resource_type, user_resource_type
from gateway.scim.versions import version_tag

if TYPE_CHECKING:
    from gateway.mapping.resource_mapping import ResourceMapping

# Where each resource type a reference may point at is served (for `$ref` URIs).
ENDPOINTS = {rt.name: rt.endpoint for rt in (user_resource_type(), group_resource_type())}


class TranslatorFault(RuntimeError):
    """A translator raised something other than `TranslationError`: a bug, not bad input.

    It reaches the error middleware, which logs it with the request id and
    answers 500; the IdP is never told its value was wrong when it wasn't.
    """


# (backend field, its translation to SCIM or None, the writer of the SCIM value).
Reader = tuple[str, Callable[[Any], Any] | None, Callable[[dict[str, Any], Any], None]]


def reader(bound: BoundField) -> Reader:
    """How one field is read into a resource, worked out once when the mapping is built.

    `write_scim` with the path already taken apart: a list page maps every field
    of a hundred records, and resolving the container per value was most of it.
    Fields living in an element of a multi-valued attribute keep `write_scim`.
    """
    translate = bound.spec.translate.to_scim if bound.spec.translate is not None else None
    path = bound.path
    name, sub = path.attribute.name, path.sub.name if path.sub is not None else None
    urn = path.schema if path.in_extension else None
    write: Callable[[dict[str, Any], Any], None]
    if bound.element is not None:
        def write(out: dict[str, Any], value: Any) -> None:
            write_scim(out, bound, value)
    elif urn is None and sub is None:
        def write(out: dict[str, Any], value: Any) -> None:
            out[name] = value
    elif urn is None:
        def write(out: dict[str, Any], value: Any) -> None:
            out.setdefault(name, {})[sub] = value
    else:
        def write(out: dict[str, Any], value: Any) -> None:
            container = out.get(urn)
            if not isinstance(container, dict):
                container = out[urn] = {}
            if sub is None:
                container[name] = value
            else:
                container.setdefault(name, {})[sub] = value
    return bound.spec.backend, translate, write


def to_scim_attributes(mapping: ResourceMapping, record: dict[str, Any]) -> dict[str, Any]:
    """SCIM attributes (no id/meta/schemas) built from a backend record."""
    out: dict[str, Any] = {}
    get = record.get
    for backend, translate, write in mapping.readers:
        value = get(backend)
        if value is None:
            continue
        if translate is not None:
            value = translate(value)
            if value is None:
                continue
        write(out, value)
    for c in mapping.computed:
        value = c.spec.compute(out)
        if value is not None:
            write_scim(out, c, value)
    return out


def to_scim(mapping: ResourceMapping, record: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The whole SCIM resource for a backend record: schemas, id, attributes, meta."""
    attrs = to_scim_attributes(mapping, record)
    for endpoint, parent in mapping.reference_parents:
        target = read_scim(attrs, parent)
        if isinstance(target, dict) and target.get("value") is not None:
            target["$ref"] = f"{base_url}{endpoint}/{target['value']}"
    rtype = mapping.rtype
    scim_id = to_scim_id(record["id"])
    schemas = [rtype.core.id, *(s.id for s, _ in rtype.extensions if s.id in attrs)]
    return {
        "schemas": schemas,
        "id": scim_id,
        **attrs,
        "meta": {
            "resourceType": rtype.name,
            "created": record.get("created_at"),
            "lastModified": record.get("updated_at"),
            "location": f"{base_url}{rtype.endpoint}/{scim_id}",
            "version": version_tag(record.get("lock_version", 0)),
        },
    }


def to_backend(
    mapping: ResourceMapping, resource: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Backend field values for every writable mapped field.

    `previous` is the resource before the change (PATCH/PUT); when given,
    a source the request changed wins over one it left as it was. Fields
    whose every source is absent and marked `keep_when_absent` are left
    out (unchanged), and so is a field whose value can't be translated but
    is exactly what `previous` read back (set in Workstream directly). Any
    other untranslatable value raises ScimError 400 naming the SCIM attribute.
    """
    out: dict[str, Any] = {}
    for name, sources in mapping.writers.items():
        chosen, value = _choose(resource, previous, sources)
        if chosen is None:
            if all(s.spec.keep_when_absent for s in sources):
                continue
            chosen = sources[0]
        if value is not None and chosen.spec.translate is not None:
            try:
                value = chosen.spec.translate.to_backend(value)
            except TranslationError as exc:
                if previous is not None and value == read_scim(previous, chosen):
                    # Read from Workstream and sent back as it was (a value set there
                    # directly, outside the table): leave it alone, neither refuse nor guess.
                    continue
                reason = str(exc) or "it can't be translated"
                raise ScimError(
                    400, f"Attribute '{chosen.text}' has an unusable value {value!r}: {reason}",
                    "invalidValue",
                ) from None
            except Exception as exc:
                raise TranslatorFault(
                    f"the translator of {chosen.text!r} raised {type(exc).__name__} instead of "
                    "TranslationError: a bug in the mapping module"
                ) from exc
        backend = mapping.catalogue[name]
        if value is not None and not backend.via_action and not isinstance(value, backend.type):
            raise ScimError(
                400,
                f"Attribute '{chosen.text}' must be a {_scim_type_name(chosen.path.leaf)}",
                "invalidValue",
            )
        if value is None and backend.required:
            raise ScimError(400, f"Attribute '{chosen.text}' is required", "invalidValue")
        out[name] = value
    return out


def _choose(
    resource: dict[str, Any], previous: dict[str, Any] | None, sources: tuple[BoundField, ...]
) -> tuple[BoundField | None, Any]:
    values = []
    for s in sources:
        value = read_scim(resource, s)
        if s.spec.fallback is not None:
            if value is None:
                value = s.spec.fallback(resource)
            elif previous is not None and value == read_scim(previous, s) == (
                s.spec.fallback(previous)
            ):
                # Derived before and not touched now: derive it again from the new sources.
                derived = s.spec.fallback(resource)
                value = value if derived is None else derived
        values.append(value)
    order = list(range(len(sources)))
    if previous is not None:
        changed = [i for i in order if values[i] != read_scim(previous, sources[i])]
        order = changed + [i for i in order if i not in changed]
    for i in order:
        if values[i] is not None:
            return sources[i], values[i]
    # Nothing has a value: absent, unless a keep_when_absent source is present-but-null.
    return None, None


def changed_fields(fields: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """Only the backend fields whose value would change (what a write sends)."""
    return {k: v for k, v in fields.items() if record.get(k) != v}


def _scim_type_name(attr: Attribute) -> str:
    return {"string": "string", "boolean": "boolean", "integer": "integer",
            "decimal": "number", "dateTime": "dateTime string",
            "reference": "reference string"}.get(attr.type, attr.type)
