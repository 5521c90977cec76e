"""A resource type's mapping: its fields, bound and checked once, and what it answers.

A mapping module (in `mappings/`) only declares fields; everything here is
generic. `UserMapping(...)`/`GroupMapping(...)` build one; per-org variants
derive from it with `extend`, `without` and `read_only`. The work itself lives
by job: `fields` (the DSL), `conversion` (SCIM ⇄ record), `lookups` (the
planner's questions), `advertised` (/Schemas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.backend.records import EMPLOYEE_FIELDS, TEAM_FIELDS, BackendField
from gateway.mapping import advertised, conversion, lookups
from gateway.mapping.fields import (
    BoundComputed,
    BoundField,
    Computed,
    Field,
    Line,
    MappingError,
    ResourceKind,
    bind,
    bind_computed,
)
from gateway.scim.filter import Filter
from gateway.scim.schema import (
    ResolvedPath,
    ResourceType,
    Schema,
    group_resource_type,
    user_resource_type,
)

_CATALOGUES: dict[ResourceKind, Mapping[str, BackendField]] = {
    ResourceKind.USER: EMPLOYEE_FIELDS, ResourceKind.GROUP: TEAM_FIELDS,
}
# The attribute every mapping of a kind must carry (the backend needs it to create).
_IDENTITY = {ResourceKind.USER: "userName", ResourceKind.GROUP: "displayName"}


@dataclass(frozen=True)
class ResourceMapping:
    """Fields plus custom extension schemas, resolved once by `build`.

    Only `fields`, `extensions` and `kind` say what a mapping is (equality);
    the rest is derived from them at build time so that no request repeats it.
    """

    fields: tuple[Line, ...]
    extensions: tuple[Schema, ...]
    kind: ResourceKind
    rtype: ResourceType = field(repr=False, compare=False)
    catalogue: Mapping[str, BackendField] = field(repr=False, compare=False)
    bound: tuple[BoundField, ...] = field(repr=False, compare=False)
    # The `Computed` attributes, filled in on reads after the fields.
    computed: tuple[BoundComputed, ...] = field(repr=False, compare=False)
    # Backend field → the writable fields feeding it, in declaration order.
    writers: Mapping[str, tuple[BoundField, ...]] = field(repr=False, compare=False)
    # `<attr>.value` fields that also serve `<attr>.$ref` (see Translator.references).
    references: tuple[BoundField, ...] = field(repr=False, compare=False)
    # Each of those as (the endpoint its ids live under, its complex parent `manager`).
    reference_parents: tuple[tuple[str, BoundField], ...] = field(repr=False, compare=False)
    # The schemas cut down to what this mapping carries: /Schemas and filters use them.
    schemas: tuple[Schema, ...] = field(repr=False, compare=False)
    advertised: ResourceType = field(repr=False, compare=False)
    # Each bound field as (backend field, its to_scim translation or None, a writer of the
    # SCIM value into a resource), so reads don't walk paths per record (conversion.py).
    readers: tuple[conversion.Reader, ...] = field(repr=False, compare=False, default=())

    @classmethod
    def build(
        cls, fields: Iterable[Line], extensions: Iterable[Schema], kind: ResourceKind
    ) -> ResourceMapping:
        """Bind and check `fields`; a mistake raises MappingError naming it."""
        fields, extensions = tuple(fields), tuple(extensions)
        base = user_resource_type() if kind is ResourceKind.USER else group_resource_type()
        rtype = replace(base, extensions=(*base.extensions, *((s, False) for s in extensions)))
        catalogue = _CATALOGUES[kind]
        bound = tuple(bind(f, rtype) for f in fields if isinstance(f, Field))
        computed = tuple(bind_computed(f, rtype) for f in fields if isinstance(f, Computed))
        _check(kind, bound, computed, catalogue)
        writers: dict[str, tuple[BoundField, ...]] = {}
        for b in bound:
            if b.spec.writable:
                writers[b.spec.backend] = (*writers.get(b.spec.backend, ()), b)
        references = _reference_fields(bound)
        schemas = advertised.advertised_schemas(
            rtype, kind, bound, computed, references, catalogue)
        return cls(
            fields, extensions, kind, rtype=rtype, catalogue=catalogue, bound=bound,
            computed=computed,
            writers=writers, references=references,
            reference_parents=tuple((_endpoint(b), _parent(b)) for b in references),
            schemas=tuple(schemas), advertised=advertised.advertised_type(rtype, schemas),
            readers=tuple(conversion.reader(b) for b in bound),
        )

    # ---- derivation (what per-org modules use) ----

    def extend(self, *fields: Line, extensions: Iterable[Schema] = ()) -> ResourceMapping:
        """This mapping plus `fields`; a field for an already-mapped SCIM path replaces it."""
        new_paths = {f.scim.casefold() for f in fields}
        kept = tuple(f for f in self.fields if f.scim.casefold() not in new_paths)
        return self.build(kept + tuple(fields), self.extensions + tuple(extensions), self.kind)

    def without(self, *scim_paths: str) -> ResourceMapping:
        """This mapping minus the fields for `scim_paths`."""
        self._check_mapped("without", scim_paths)
        drop = {p.casefold() for p in scim_paths}
        kept = tuple(f for f in self.fields if f.scim.casefold() not in drop)
        return self.build(kept, self.extensions, self.kind)

    def read_only(self, *scim_paths: str) -> ResourceMapping:
        """This mapping with `scim_paths` ignored on writes (still returned on reads)."""
        self._check_mapped("read_only", scim_paths)
        wanted = {p.casefold() for p in scim_paths}
        fields = tuple(
            replace(f, writable=False) if isinstance(f, Field) and f.scim.casefold() in wanted
            else f for f in self.fields
        )
        return self.build(fields, self.extensions, self.kind)

    def _check_mapped(self, method: str, scim_paths: tuple[str, ...]) -> None:
        mapped = {f.scim.casefold() for f in self.fields}
        missing = [p for p in scim_paths if p.casefold() not in mapped]
        if missing:
            raise MappingError(f"{method}(): no field for {missing[0]!r}")

    # ---- what the rest of the gateway asks (each answered in its own module) ----

    def to_scim_attributes(self, record: dict[str, Any]) -> dict[str, Any]:
        return conversion.to_scim_attributes(self, record)

    def to_scim(self, record: dict[str, Any], base_url: str) -> dict[str, Any]:
        return conversion.to_scim(self, record, base_url)

    def to_backend(
        self, resource: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return conversion.to_backend(self, resource, previous)

    def field_for_backend(self, backend_field: str) -> BoundField | None:
        return lookups.field_for_backend(self, backend_field)

    def field_for_path(
        self, path: ResolvedPath, element: dict[str, Any] | None = None
    ) -> BoundField | None:
        return lookups.field_for_path(self, path, element)

    def field_for_filter(self, node: Filter) -> tuple[BoundField, Any] | None:
        return lookups.field_for_filter(self, node)

    def mapped_top_level(self) -> dict[str, set[str]]:
        return advertised.mapped_top_level(self.rtype, (*self.bound, *self.computed))

    def advertised_schemas(self) -> list[Schema]:
        return list(self.schemas)


def _check(
    kind: ResourceKind, bound: tuple[BoundField, ...], computed: tuple[BoundComputed, ...],
    catalogue: Mapping[str, BackendField],
) -> None:
    """Fail loudly on anything that would otherwise reach the backend silently."""
    for b in bound:
        backend = catalogue.get(b.spec.backend)
        if backend is None:
            raise MappingError(
                f"{b.spec.scim!r} maps to unknown backend field {b.spec.backend!r}; known: "
                + ", ".join(sorted(catalogue))
            )
        if b.spec.writable and not (backend.writable or backend.via_action):
            raise MappingError(
                f"{b.spec.scim!r} writes backend field {b.spec.backend!r}, which is read-only;"
                " declare the field with writable=False"
            )
        if b.path.leaf.mutability == "readOnly" and b.spec.writable:
            raise MappingError(f"{b.spec.scim!r} is read-only in SCIM; use writable=False")
    stored = {b.path.text().casefold() for b in bound}
    for c in computed:
        if c.path.text().casefold() in stored:
            raise MappingError(f"{c.text!r} is both mapped to a field and computed; "
                               "keep one (extend() with the one you want replaces the other)")
    identity = _IDENTITY[kind]
    if not any(b.path.text() == identity for b in bound):
        raise MappingError(f"a {kind} mapping must map {identity}")
    for name, backend in catalogue.items():
        if backend.required and not any(b.spec.backend == name and b.spec.writable for b in bound):
            raise MappingError(f"required backend field {name!r} has no writable field")


def _reference_fields(bound: tuple[BoundField, ...]) -> tuple[BoundField, ...]:
    """`<attr>.value` fields holding another resource's id, where `<attr>` has a `$ref`
    sub-attribute (RFC 7643 §2.3.7): the enterprise manager."""
    return tuple(
        b for b in bound
        if b.spec.translate is not None
        and b.spec.translate.references in conversion.ENDPOINTS and b.element is None
        and b.path.sub is not None and b.path.sub.name == "value"
        and b.path.attribute.sub("$ref") is not None
    )


def _endpoint(bound: BoundField) -> str:
    references = bound.spec.translate.references if bound.spec.translate else None
    return conversion.ENDPOINTS[references or ""]


def _parent(bound: BoundField) -> BoundField:
    """The field's complex attribute itself (`manager` for `manager.value`)."""
    return replace(bound, path=replace(bound.path, sub=None))


def UserMapping(fields: Iterable[Line], extensions: Iterable[Schema] = ()) -> ResourceMapping:
    """A User ↔ employee mapping (checked when built)."""
    return ResourceMapping.build(fields, extensions, ResourceKind.USER)


def GroupMapping(fields: Iterable[Line], extensions: Iterable[Schema] = ()) -> ResourceMapping:
    """A Group ↔ team mapping (checked when built)."""
    return ResourceMapping.build(fields, extensions, ResourceKind.GROUP)
