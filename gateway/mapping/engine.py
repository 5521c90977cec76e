"""The mapping engine: turns a list of `Field`s into SCIM ⇄ backend conversions.

A mapping module (in `mappings/`) only declares fields; everything here is
generic. Reads build a SCIM resource from a backend record; writes build the
backend field values from a SCIM resource. When two SCIM attributes feed the
same backend field (userName and the work email both feed `email`), the one
the request changed wins, then the one declared first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.backend.records import EMPLOYEE_FIELDS, TEAM_FIELDS, BackendField
from gateway.mapping.ids import to_scim_id
from gateway.scim.errors import ScimError
from gateway.scim.filter import And, Compare, Filter, ValuePath, parse_patch_path
from gateway.scim.schema import (
    Attribute,
    ResolvedPath,
    ResourceType,
    Schema,
    group_resource_type,
    user_resource_type,
)


class MappingError(Exception):
    """A mapping module is wrong (unknown SCIM path, unknown backend field...)."""


class TranslationError(ValueError):
    """A value can't be translated; becomes a SCIM 400 naming the attribute."""


@dataclass(frozen=True)
class Translator:
    """A pair of value conversions; `to_scim(to_backend(v))` should give `v` back."""

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
    readable: bool = True
    keep_when_absent: bool = False
    fallback: Callable[[dict], Any] | None = None


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
    compute: Callable[[dict], Any]


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


def _eq_terms(node: Filter) -> dict[str, Any]:
    """The `sub eq value` terms of an element filter; mappings allow only those."""
    if isinstance(node, Compare) and node.op == "eq" and node.path.sub is None:
        return {node.path.attr: node.value}
    if isinstance(node, And):
        return {**_eq_terms(node.left), **_eq_terms(node.right)}
    raise MappingError("an element filter in a mapping may only use 'eq' joined by 'and'")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return a == b


def _element_matches(element: Any, terms: dict[str, Any]) -> bool:
    if not isinstance(element, dict):
        return False
    folded = {k.casefold(): v for k, v in element.items()}
    return all(_same(folded.get(k.casefold()), v) for k, v in terms.items())


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
        element = _eq_terms(parsed.filter)
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


def _container(resource: dict, path: ResolvedPath, create: bool) -> dict | None:
    if not path.in_extension:
        return resource
    ext = resource.get(path.schema)
    if ext is None and create:
        ext = resource[path.schema] = {}
    return ext if isinstance(ext, dict) else None


def read_scim(resource: dict, bound: BoundField | BoundComputed) -> Any:
    """The value at a field's SCIM path in `resource`, or None."""
    container = _container(resource, bound.path, create=False)
    if container is None:
        return None
    value = container.get(bound.path.attribute.name)
    if bound.element is not None:
        if not isinstance(value, list):
            return None
        matching = [e for e in value if _element_matches(e, bound.element)]
        # Several work emails: the one marked primary is the one meant (RFC 7643 §2.4).
        value = next((e for e in matching if e.get("primary") is True),
                     matching[0] if matching else None)
    if bound.path.sub is not None:
        if not isinstance(value, dict):
            return None
        value = value.get(bound.path.sub.name)
    return None if value == "" else value


def write_scim(resource: dict, bound: BoundField | BoundComputed, value: Any) -> None:
    """Set the value at a field's SCIM path, creating the element/extension as needed."""
    container = _container(resource, bound.path, create=True)
    assert container is not None
    name = bound.path.attribute.name
    if bound.element is not None:
        elements = container.setdefault(name, [])
        target = next((e for e in elements if _element_matches(e, bound.element)), None)
        if target is None:
            target = dict(bound.element)
            if not elements:
                target["primary"] = True
            elements.append(target)
        target[bound.path.sub.name] = value  # type: ignore[union-attr]
    elif bound.path.sub is not None:
        container.setdefault(name, {})[bound.path.sub.name] = value
    else:
        container[name] = value


@dataclass(frozen=True)
class ResourceMapping:
    """A resource type's mapping: fields plus custom extension schemas.

    Build one with `UserMapping(...)`/`GroupMapping(...)` in a mapping module;
    derive per-org variants with `extend`, `without` and `read_only`.
    """

    fields: tuple[Line, ...]
    extensions: tuple[Schema, ...] = ()
    kind: str = "User"

    # Filled by __post_init__: everything resolved once.
    rtype: ResourceType = field(init=False, repr=False, compare=False)
    bound: tuple[BoundField, ...] = field(init=False, repr=False, compare=False)
    # The `Computed` attributes, filled in on reads after the fields.
    computed: tuple[BoundComputed, ...] = field(init=False, repr=False, compare=False)
    catalogue: dict[str, BackendField] = field(init=False, repr=False, compare=False)
    # The resource type cut down to what this mapping carries: /Schemas and filters use it.
    advertised: ResourceType = field(init=False, repr=False, compare=False)
    # `<attr>.value` fields that also serve `<attr>.$ref` (see Translator.references).
    references: tuple[BoundField, ...] = field(init=False, repr=False, compare=False)
    # Each of those with its complex parent (`manager`), built once: to_scim reads it per record.
    _reference_parents: tuple[tuple[BoundField, BoundField], ...] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = user_resource_type() if self.kind == "User" else group_resource_type()
        rtype = replace(base, extensions=(*base.extensions, *((s, False) for s in self.extensions)))
        catalogue = EMPLOYEE_FIELDS if self.kind == "User" else TEAM_FIELDS
        object.__setattr__(self, "rtype", rtype)
        object.__setattr__(self, "catalogue", catalogue)
        object.__setattr__(self, "bound", tuple(
            bind(f, rtype) for f in self.fields if isinstance(f, Field)))
        object.__setattr__(self, "computed", tuple(
            bind_computed(f, rtype) for f in self.fields if isinstance(f, Computed)))
        object.__setattr__(self, "references", self._reference_fields())
        object.__setattr__(self, "_reference_parents",
                           tuple((b, _parent(b)) for b in self.references))
        self.check()
        schemas = {s.id: s for s in self.advertised_schemas()}
        advertised = replace(
            rtype,
            core=schemas[rtype.core.id],
            extensions=tuple(
                (schemas[s.id], req) for s, req in rtype.extensions if s.id in schemas
            ),
        )
        object.__setattr__(self, "advertised", advertised)

    # ---- derivation (what per-org modules use) ----

    def extend(self, *fields: Line, extensions: Iterable[Schema] = ()) -> ResourceMapping:
        """This mapping plus `fields`; a field for an already-mapped SCIM path replaces it."""
        new_paths = {f.scim.casefold() for f in fields}
        kept = tuple(f for f in self.fields if f.scim.casefold() not in new_paths)
        return ResourceMapping(kept + tuple(fields), self.extensions + tuple(extensions), self.kind)

    def without(self, *scim_paths: str) -> ResourceMapping:
        """This mapping minus the fields for `scim_paths`."""
        drop = {p.casefold() for p in scim_paths}
        mapped = {f.scim.casefold() for f in self.fields}
        missing = [p for p in scim_paths if p.casefold() not in mapped]
        if missing:
            raise MappingError(f"without(): no field for {missing[0]!r}")
        kept = tuple(f for f in self.fields if f.scim.casefold() not in drop)
        return ResourceMapping(kept, self.extensions, self.kind)

    def read_only(self, *scim_paths: str) -> ResourceMapping:
        """This mapping with `scim_paths` ignored on writes (still returned on reads)."""
        wanted = {p.casefold() for p in scim_paths}
        mapped = {f.scim.casefold() for f in self.fields}
        missing = [p for p in scim_paths if p.casefold() not in mapped]
        if missing:
            raise MappingError(f"read_only(): no field for {missing[0]!r}")
        fields = tuple(
            replace(f, writable=False) if isinstance(f, Field) and f.scim.casefold() in wanted
            else f for f in self.fields
        )
        return ResourceMapping(fields, self.extensions, self.kind)

    # ---- checks ----

    def check(self) -> None:
        """Fail loudly on anything that would otherwise reach the backend silently."""
        for b in self.bound:
            backend = self.catalogue.get(b.spec.backend)
            if backend is None:
                raise MappingError(
                    f"{b.spec.scim!r} maps to unknown backend field {b.spec.backend!r}; known: "
                    + ", ".join(sorted(self.catalogue))
                )
            if b.spec.writable and not (backend.writable or backend.via_action):
                raise MappingError(
                    f"{b.spec.scim!r} writes backend field {b.spec.backend!r}, which is read-only;"
                    " declare the field with writable=False"
                )
            if b.path.leaf.mutability == "readOnly" and b.spec.writable:
                raise MappingError(f"{b.spec.scim!r} is read-only in SCIM; use writable=False")
        stored = {b.path.text().casefold() for b in self.bound}
        for c in self.computed:
            if c.path.text().casefold() in stored:
                raise MappingError(f"{c.text!r} is both mapped to a field and computed; "
                                   "keep one (extend() with the one you want replaces the other)")
        if self.kind == "User" and not any(b.path.text() == "userName" for b in self.bound):
            raise MappingError("a User mapping must map userName")
        if self.kind == "Group" and not any(b.path.text() == "displayName" for b in self.bound):
            raise MappingError("a Group mapping must map displayName")
        for name, backend in self.catalogue.items():
            if backend.required and not any(
                b.spec.backend == name and b.spec.writable for b in self.bound
            ):
                raise MappingError(f"required backend field {name!r} has no writable field")

    # ---- reads ----

    def to_scim_attributes(self, record: dict) -> dict:
        """SCIM attributes (no id/meta/schemas) built from a backend record."""
        out: dict = {}
        for b in self.bound:
            if not b.spec.readable:
                continue
            value = record.get(b.spec.backend)
            if value is None:
                continue
            if b.spec.translate is not None:
                value = b.spec.translate.to_scim(value)
                if value is None:
                    continue
            write_scim(out, b, value)
        for c in self.computed:
            value = c.spec.compute(out)
            if value is not None:
                write_scim(out, c, value)
        return out

    def to_scim(self, record: dict, base_url: str) -> dict:
        """The whole SCIM resource for a backend record: schemas, id, attributes, meta."""
        attrs = self.to_scim_attributes(record)
        for b, parent in self._reference_parents:
            target = read_scim(attrs, parent)
            if isinstance(target, dict) and target.get("value") is not None:
                endpoint = _ENDPOINTS[b.spec.translate.references]  # type: ignore[union-attr]
                target["$ref"] = f"{base_url}{endpoint}/{target['value']}"
        scim_id = to_scim_id(record["id"])
        schemas = [self.rtype.core.id, *(s.id for s, _ in self.rtype.extensions if s.id in attrs)]
        return {
            "schemas": schemas,
            "id": scim_id,
            **attrs,
            "meta": {
                "resourceType": self.rtype.name,
                "created": record.get("created_at"),
                "lastModified": record.get("updated_at"),
                "location": f"{base_url}{self.rtype.endpoint}/{scim_id}",
                "version": version_tag(record.get("lock_version", 0)),
            },
        }

    # ---- writes ----

    def to_backend(self, resource: dict, previous: dict | None = None) -> dict:
        """Backend field values for every writable mapped field.

        `previous` is the resource before the change (PATCH/PUT); when given,
        a source the request changed wins over one it left as it was. Fields
        whose every source is absent and marked `keep_when_absent` are left
        out (unchanged), and so is a field whose value can't be translated but
        is exactly what `previous` read back (set in Workstream directly). Any
        other untranslatable value raises ScimError 400 naming the SCIM attribute.
        """
        by_backend: dict[str, list[BoundField]] = {}
        for b in self.bound:
            if b.spec.writable:
                by_backend.setdefault(b.spec.backend, []).append(b)
        out: dict = {}
        for name, sources in by_backend.items():
            chosen, value = self._choose(resource, previous, sources)
            if chosen is None:
                if all(s.spec.keep_when_absent for s in sources):
                    continue
                chosen = sources[0]
            if value is not None and chosen.spec.translate is not None:
                try:
                    value = chosen.spec.translate.to_backend(value)
                except (TranslationError, ValueError, TypeError, KeyError) as exc:
                    if previous is not None and value == read_scim(previous, chosen):
                        # Read from Workstream and sent back as it was (a value set there
                        # directly, outside the table): leave it alone, neither refuse nor guess.
                        continue
                    reason = str(exc) or "it can't be translated"
                    raise ScimError(
                        400, f"Attribute '{chosen.text}' has an unusable value {value!r}: {reason}",
                        "invalidValue",
                    ) from None
            backend = self.catalogue[name]
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

    @staticmethod
    def _choose(
        resource: dict, previous: dict | None, sources: list[BoundField]
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

    # ---- lookups used by the query planner and error translation ----

    def field_for_backend(self, backend_field: str) -> BoundField | None:
        """The first field reading `backend_field` (to name backend errors in SCIM terms)."""
        return next((b for b in self.bound if b.spec.backend == backend_field), None)

    def field_for_path(self, path: ResolvedPath, element: dict | None = None) -> BoundField | None:
        """The field mapping `path` (and element filter terms, if any)."""
        for b in self.bound:
            if b.path.text() != path.text():
                continue
            if element is None and b.element is None:
                return b
            if element is None or b.element is None:
                continue
            # Sub-attribute names are case-insensitive: `emails[TYPE eq "work"]` is this field.
            terms = {k.casefold(): v for k, v in element.items()}
            if len(terms) == len(b.element) and all(
                _same(terms.get(k.casefold()), v) for k, v in b.element.items()
            ):
                return b
        return None

    def field_for_filter(self, node: Filter) -> tuple[BoundField, Any] | None:
        """For `attr eq v` or `attr[type eq "work"].value eq v` (Entra): (field, v)."""
        if isinstance(node, Compare) and node.op == "eq":
            resolved = self.rtype.resolve(node.path.urn, node.path.attr, node.path.sub)
            if resolved is None:
                return None
            bound = self.field_for_path(resolved)
            return (bound, node.value) if bound else None
        if isinstance(node, ValuePath):
            try:
                terms = _eq_terms(node.filter)
            except MappingError:
                return None
            for sub_name, value in terms.items():
                resolved = self.rtype.resolve(node.path.urn, node.path.attr, sub_name)
                if resolved is None:
                    continue
                element = {k: v for k, v in terms.items() if k != sub_name}
                bound = self.field_for_path(resolved, element)
                if bound is not None:
                    return bound, value
        return None

    def mapped_top_level(self) -> dict[str, set[str]]:
        """Schema URN → names of its top-level attributes this mapping carries."""
        out: dict[str, set[str]] = {}
        lines: list[BoundField | BoundComputed] = [*self.bound, *self.computed]
        for b in lines:
            schema = b.path.schema or self.rtype.core.id
            out.setdefault(schema, set()).add(b.path.attribute.name)
        return out

    def advertised_schemas(self) -> list[Schema]:
        """The schemas cut down to what this mapping carries (for /Schemas)."""
        mapped = self.mapped_top_level()
        # Served by the gateway itself, not through a mapped field: a group's members
        # are the team's memberships (gateway.provisioning.groups).
        if self.kind == "Group":
            mapped.setdefault(self.rtype.core.id, set()).add("members")
        out = []
        for schema in self.rtype.schemas:
            names = mapped.get(schema.id, set())
            if schema.id == self.rtype.core.id or names:
                restricted = schema.restricted_to(names)
                restricted = Schema(
                    restricted.id, restricted.name, restricted.description,
                    tuple(self._mark_read_only(schema.id, self._mark_required(
                        schema.id, self._trim(schema.id, a))) for a in restricted.attributes),
                )
                out.append(restricted)
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

    def _reference_fields(self) -> tuple[BoundField, ...]:
        """Readable `<attr>.value` fields holding another resource's id, where `<attr>` has
        a `$ref` sub-attribute (RFC 7643 §2.3.7): the enterprise manager."""
        return tuple(
            b for b in self.bound
            if b.spec.readable and b.spec.translate is not None
            and b.spec.translate.references in _ENDPOINTS and b.element is None
            and b.path.sub is not None and b.path.sub.name == "value"
            and b.path.attribute.sub("$ref") is not None
        )

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


# Where each resource type a reference may point at is served (for `$ref` URIs).
_ENDPOINTS = {rt.name: rt.endpoint for rt in (user_resource_type(), group_resource_type())}


def _parent(bound: BoundField) -> BoundField:
    """The field's complex attribute itself (`manager` for `manager.value`)."""
    return replace(bound, path=replace(bound.path, sub=None))


def changed_fields(fields: dict, record: dict) -> dict:
    """Only the backend fields whose value would change (what a write sends)."""
    return {k: v for k, v in fields.items() if record.get(k) != v}


def version_tag(lock_version: int) -> str:
    """meta.version / ETag: a weak entity tag made from the backend's lock_version."""
    return f'W/"{lock_version}"'


def parse_version_tag(tag: str) -> int | None:
    """The lock_version inside an If-Match value (`W/"3"`, `"3"` or `3`); None if not one."""
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    return int(tag) if tag.isascii() and tag.isdigit() and len(tag) < 19 else None


def _scim_type_name(attr: Attribute) -> str:
    return {"string": "string", "boolean": "boolean", "integer": "integer",
            "decimal": "number", "dateTime": "dateTime string",
            "reference": "reference string"}.get(attr.type, attr.type)


def UserMapping(fields: Iterable[Line], extensions: Iterable[Schema] = ()) -> ResourceMapping:
    """A User ↔ employee mapping (checked when built)."""
    return ResourceMapping(tuple(fields), tuple(extensions), "User")


def GroupMapping(fields: Iterable[Line], extensions: Iterable[Schema] = ()) -> ResourceMapping:
    """A Group ↔ team mapping (checked when built)."""
    return ResourceMapping(tuple(fields), tuple(extensions), "Group")
