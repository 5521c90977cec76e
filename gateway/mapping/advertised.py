"""What a mapping tells clients it supports: `/Schemas` and `/ResourceTypes` cut to the mapping.

A client reading `/Schemas` must learn what this org's mapping really keeps:
only the attributes (and sub-attributes) it carries, `required` where the
backend refuses a create without one, `readOnly` where the mapping ignores
writes. Filters are checked against the same cut-down resource type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gateway.backend.records import BackendField
from gateway.mapping.fields import BoundComputed, BoundField, ResourceKind
from gateway.scim.schema import Attribute, ResourceType, Schema


def mapped_top_level(
    rtype: ResourceType, bound: tuple[BoundField | BoundComputed, ...]
) -> dict[str, set[str]]:
    """Schema URN → names of its top-level attributes the fields (and computed lines) carry."""
    out: dict[str, set[str]] = {}
    for b in bound:
        schema = b.path.schema or rtype.core.id
        out.setdefault(schema, set()).add(b.path.attribute.name)
    return out


class _Advertiser:
    """One mapping's fields, asked how each schema attribute should be advertised."""

    def __init__(self, rtype: ResourceType, kind: ResourceKind, bound: tuple[BoundField, ...],
                 computed: tuple[BoundComputed, ...], references: tuple[BoundField, ...],
                 catalogue: Mapping[str, BackendField]) -> None:
        self.rtype = rtype
        self.kind = kind
        self.bound = bound
        self.computed = computed
        self.references = references
        self.catalogue = catalogue

    def schemas(self) -> list[Schema]:
        mapped = mapped_top_level(self.rtype, (*self.bound, *self.computed))
        # Served by the gateway itself, not through a mapped field: a group's members
        # are the team's memberships (gateway.provisioning.groups).
        if self.kind is ResourceKind.GROUP:
            mapped.setdefault(self.rtype.core.id, set()).add("members")
        out = []
        for schema in self.rtype.schemas:
            names = mapped.get(schema.id, set())
            if schema.id == self.rtype.core.id or names:
                restricted = schema.restricted_to(names)
                out.append(Schema(
                    restricted.id, restricted.name, restricted.description,
                    tuple(self._mark_read_only(schema.id, self._mark_required(
                        schema.id, self._trim(schema.id, a))) for a in restricted.attributes),
                ))
        return out

    def _trim(self, schema_id: str, attr: Attribute) -> Attribute:
        """Keep only the sub-attributes this mapping carries (plus type/primary selectors).

        A selector's canonicalValues become the values the mapping stores
        (`emails.type`: just "work"), so a client knows an element of another
        type is not kept (RFC 7643 §7: providers MAY ignore unsupported values).
        """
        if not attr.sub_attributes:
            return attr
        keep: set[str] = set()
        selected: dict[str, list[str]] = {}
        for b in self.bound:
            if (b.path.schema or self.rtype.core.id) == schema_id and b.path.attribute == attr:
                if b.path.sub is not None:
                    keep.add(b.path.sub.name)
                if b in self.references:
                    keep.add("$ref")
                if b.element is not None:
                    for key, value in b.element.items():
                        sub = attr.sub(key)
                        if sub is None:
                            continue
                        keep.add(sub.name)
                        if isinstance(value, str) and value not in selected.get(sub.name, []):
                            selected.setdefault(sub.name, []).append(value)
                    if attr.sub("primary"):
                        keep.add("primary")
        for c in self.computed:
            if ((c.path.schema or self.rtype.core.id) == schema_id
                    and c.path.attribute == attr and c.path.sub is not None):
                keep.add(c.path.sub.name)
        subs = tuple(
            replace(s, canonical_values=tuple(selected[s.name])) if s.name in selected else s
            for s in attr.sub_attributes if s.name in keep
        ) or attr.sub_attributes
        return replace(attr, sub_attributes=subs)

    def _sole_sources(self) -> list[BoundField]:
        """Fields that alone feed a required backend field: a create without them is refused."""
        by_backend: dict[str, list[BoundField]] = {}
        for b in self.bound:
            if b.spec.writable:
                by_backend.setdefault(b.spec.backend, []).append(b)
        return [
            sources[0] for name, sources in by_backend.items()
            if self.catalogue[name].required and len(sources) == 1
            and sources[0].spec.fallback is None and sources[0].element is None
        ]

    def _mark_required(self, schema_id: str, attr: Attribute) -> Attribute:
        """Advertise `required` (RFC 7643 §7) where the backend refuses a create without it.

        The RFC's User schema requires only userName, but Workstream needs a
        first and last name: a client reading /Schemas must learn that before
        its first create fails.
        """
        whole, subs = False, set()
        for b in self._sole_sources():
            if (b.path.schema or self.rtype.core.id) == schema_id and (
                b.path.attribute.name == attr.name
            ):
                if b.path.sub is None:
                    whole = True
                else:
                    subs.add(b.path.sub.name)
        if not whole and not subs:
            return attr
        return replace(attr, required=True, sub_attributes=tuple(
            replace(s, required=True) if s.name in subs else s for s in attr.sub_attributes
        ))

    def _mark_read_only(self, schema_id: str, attr: Attribute) -> Attribute:
        """Advertise `readOnly` where every field carrying the attribute ignores writes.

        An org whose mapping keeps an attribute out of writes (Hooli's `title`)
        must not tell clients they can change it.
        """
        def fields_for(sub: str | None) -> list[BoundField]:
            return [
                b for b in self.bound
                if (b.path.schema or self.rtype.core.id) == schema_id
                and b.path.attribute.name == attr.name
                and (b.path.sub.name if b.path.sub else None) == sub
            ]

        def read_only(sub: str | None) -> bool:
            if any((c.path.schema or self.rtype.core.id) == schema_id
                   and c.path.attribute.name == attr.name
                   and (c.path.sub.name if c.path.sub else None) == sub for c in self.computed):
                return True  # computed on reads: a value sent for it is not kept
            found = fields_for(sub)
            return bool(found) and not any(b.spec.writable for b in found)

        if not attr.sub_attributes:
            return replace(attr, mutability="readOnly") if read_only(None) else attr
        subs = tuple(replace(s, mutability="readOnly") if read_only(s.name) else s
                     for s in attr.sub_attributes)
        return replace(attr, sub_attributes=subs) if subs != attr.sub_attributes else attr


def advertised_schemas(
    rtype: ResourceType, kind: ResourceKind, bound: tuple[BoundField, ...],
    computed: tuple[BoundComputed, ...], references: tuple[BoundField, ...],
    catalogue: Mapping[str, BackendField],
) -> list[Schema]:
    """The schemas cut down to what the fields carry (for /Schemas)."""
    return _Advertiser(rtype, kind, bound, computed, references, catalogue).schemas()


def advertised_type(rtype: ResourceType, schemas: list[Schema]) -> ResourceType:
    """`rtype` with its schemas replaced by the advertised ones (extensions not carried go)."""
    by_id = {s.id: s for s in schemas}
    return replace(
        rtype,
        core=by_id[rtype.core.id],
        extensions=tuple((by_id[s.id], req) for s, req in rtype.extensions if s.id in by_id),
    )
