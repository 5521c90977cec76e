"""The SCIM attribute model (RFC 7643 §2, §7): what an attribute is and how a path resolves.

Filters, PATCH, projection and discovery all need the same facts about an
attribute (type, multi-valued, caseExact, mutability, returned), so they read
them from one place: the RFC's own schema representations in `schemas/scim/`,
loaded once at start-up. Nothing here knows about Workstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "scim"

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 §7)."""

    name: str
    type: str = "string"  # string boolean decimal integer dateTime reference binary complex
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly readWrite immutable writeOnly
    returned: str = "default"  # always never default request
    uniqueness: str = "none"
    description: str = ""
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    # Folded name -> sub-attribute, built once: every request resolves names.
    _subs: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_subs", _index(self.sub_attributes))

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called `name` (case-insensitive), or None."""
        return self._subs.get(name.casefold())

    @property
    def read_only(self) -> bool:
        """The server owns it: a client's value is ignored or refused (RFC 7643 §2.2)."""
        return self.mutability == "readOnly"

    def to_scim(self) -> dict[str, Any]:
        """The attribute as RFC 7643 §7 represents it in `/Schemas`."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.sub_attributes:
            out["subAttributes"] = [s.to_scim() for s in self.sub_attributes]
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        return out

    @classmethod
    def from_scim(cls, doc: dict[str, Any]) -> Attribute:
        return cls(
            name=doc["name"],
            type=doc.get("type", "string"),
            multi_valued=doc.get("multiValued", False),
            required=doc.get("required", False),
            case_exact=doc.get("caseExact", False),
            mutability=doc.get("mutability", "readWrite"),
            returned=doc.get("returned", "default"),
            uniqueness=doc.get("uniqueness", "none"),
            description=doc.get("description", ""),
            sub_attributes=tuple(cls.from_scim(s) for s in doc.get("subAttributes", ())),
            canonical_values=tuple(doc.get("canonicalValues", ())),
            reference_types=tuple(doc.get("referenceTypes", ())),
        )


@dataclass(frozen=True)
class Schema:
    """A schema (core or extension): its URN and its attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_name: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", _index(self.attributes))

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name.casefold())

    def restricted_to(self, names: set[str], extra: tuple[Attribute, ...] = ()) -> Schema:
        """A copy keeping only the named top-level attributes (plus `extra` ones).

        Discovery advertises exactly what an org's mapping carries, so the
        schema served is the RFC's one cut down to the mapped attributes.
        """
        folded = {n.casefold() for n in names}
        kept = tuple(a for a in self.attributes if a.name.casefold() in folded)
        known = {a.name.casefold() for a in kept}
        kept += tuple(a for a in extra if a.name.casefold() not in known)
        return Schema(self.id, self.name, self.description, kept)

    def to_scim(self, base_url: str = "") -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{self.id}"},
        }


def _index(attributes: tuple[Attribute, ...]) -> dict[str, Attribute]:
    """Folded name -> attribute; the first of two same-named ones wins, as a scan would."""
    out: dict[str, Attribute] = {}
    for attr in attributes:
        out.setdefault(attr.name.casefold(), attr)
    return out


# The attributes common to every resource, typed so filters and sorting work on them.
ID_ATTRIBUTE = Attribute("id", case_exact=True, mutability="readOnly", returned="always",
                         uniqueness="server")
EXTERNAL_ID_ATTRIBUTE = Attribute("externalId", case_exact=True)
META_ATTRIBUTE = Attribute(
    "meta", "complex", mutability="readOnly",
    sub_attributes=(
        Attribute("resourceType", case_exact=True, mutability="readOnly"),
        Attribute("created", "dateTime", mutability="readOnly"),
        Attribute("lastModified", "dateTime", mutability="readOnly"),
        Attribute("location", "reference", case_exact=True, mutability="readOnly"),
        Attribute("version", case_exact=True, mutability="readOnly"),
    ),
)
COMMON_ATTRIBUTES = (ID_ATTRIBUTE, EXTERNAL_ID_ATTRIBUTE, META_ATTRIBUTE)
_COMMON_BY_NAME = _index(COMMON_ATTRIBUTES)


@dataclass(frozen=True)
class ResolvedPath:
    """An attribute path resolved against a resource type.

    `schema` is the URN the attribute lives in ("" for the common attributes
    id/externalId/meta); `attribute` the top-level definition; `sub` the
    sub-attribute definition when the path names one. Names are canonical
    (as the schema spells them), whatever case the caller used.
    """

    schema: str
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def leaf(self) -> Attribute:
        return self.sub or self.attribute

    @property
    def in_extension(self) -> bool:
        return self.schema not in ("", self._core)

    @property
    def read_only(self) -> bool:
        """The attribute, or the sub-attribute the path names, is readOnly."""
        return self.attribute.read_only or (self.sub is not None and self.sub.read_only)

    _core: str = field(default="", compare=False, repr=False)

    def text(self) -> str:
        """The canonical dotted path, URN-prefixed for extension attributes."""
        name = self.attribute.name + (f".{self.sub.name}" if self.sub else "")
        return f"{self.schema}:{name}" if self.in_extension else name


@dataclass(frozen=True)
class ResourceType:
    """A resource type: its core schema and its extensions (RFC 7643 §6)."""

    name: str
    endpoint: str
    description: str
    core: Schema
    extensions: tuple[tuple[Schema, bool], ...] = ()  # (schema, required)
    # Built once, since every request resolves attribute names against them:
    _schemas: tuple[Schema, ...] = field(init=False, repr=False, compare=False)
    _by_urn: dict[str, Schema] = field(init=False, repr=False, compare=False)
    _longest_first: tuple[tuple[str, Schema], ...] = field(init=False, repr=False, compare=False)
    _resolved: dict[tuple[Any, ...], ResolvedPath] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schemas = (self.core, *(s for s, _ in self.extensions))
        by_urn: dict[str, Schema] = {}
        for schema in schemas:
            by_urn.setdefault(schema.id.casefold(), schema)
        longest = sorted(schemas, key=lambda s: len(s.id), reverse=True)
        object.__setattr__(self, "_schemas", schemas)
        object.__setattr__(self, "_by_urn", by_urn)
        object.__setattr__(self, "_longest_first", tuple((s.id.casefold(), s) for s in longest))
        # Only paths that resolve are remembered: they are finite, unlike what callers send.
        object.__setattr__(self, "_resolved", {})

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return self._schemas

    def schema_by_urn(self, urn: str) -> Schema | None:
        return self._by_urn.get(urn.casefold())

    def split_urn(self, path: str) -> tuple[str | None, str]:
        """Split "urn:...:User:name.givenName" into (schema URN, "name.givenName").

        A path with no known URN prefix comes back as (None, path). URNs are
        matched case-insensitively and the longest known URN wins, so the core
        User URN never swallows the enterprise extension's.
        """
        if ":" not in path:  # every URN has one; most paths are plain names
            return None, path
        folded = path.casefold()
        for prefix, schema in self._longest_first:
            if folded == prefix:
                return schema.id, ""
            if folded.startswith(prefix + ":"):
                return schema.id, path[len(prefix) + 1:]
        return None, path

    def resolve(self, urn: str | None, attr: str, sub: str | None = None) -> ResolvedPath | None:
        """Resolve (optional URN, attribute, optional sub-attribute); None if unknown."""
        key = (urn and urn.casefold(), attr.casefold(), sub and sub.casefold())
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(urn, attr, sub)
            if found is not None:
                self._resolved[key] = found
        return found

    def _resolve(self, urn: str | None, attr: str, sub: str | None) -> ResolvedPath | None:
        if urn is not None:
            schema = self.schema_by_urn(urn)
            candidates: tuple[tuple[str, Attribute | None], ...] = (
                (schema.id, schema.attribute(attr)) if schema else ("", None),
            )
        else:
            common = _COMMON_BY_NAME.get(attr.casefold())
            candidates = (("", common), (self.core.id, self.core.attribute(attr)))
        for schema_id, found in candidates:
            if found is None:
                continue
            if sub is None:
                return ResolvedPath(schema_id, found, None, self.core.id)
            sub_attr = found.sub(sub)
            if sub_attr is None:
                return None
            return ResolvedPath(schema_id, found, sub_attr, self.core.id)
        return None

    def resolve_text(self, path: str) -> ResolvedPath | None:
        """Resolve a dotted path such as "name.givenName" or "urn:...:User:manager.value"."""
        urn, rest = self.split_urn(path)
        if not rest:
            return None
        attr, _, sub = rest.partition(".")
        return self.resolve(urn, attr, sub or None)

    def to_scim(self, base_url: str = "") -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.core.id,
            "schemaExtensions": [
                {"schema": s.id, "required": required} for s, required in self.extensions
            ],
            "meta": {"resourceType": "ResourceType",
                     "location": f"{base_url}/ResourceTypes/{self.name}"},
        }


@cache
def load_schema(filename: str) -> Schema:
    """Load one RFC schema representation from `schemas/scim/` (once per process)."""
    doc = json.loads((SCHEMAS_DIR / filename).read_text(encoding="utf-8"))
    return Schema(
        id=doc["id"],
        name=doc["name"],
        description=doc.get("description", ""),
        attributes=tuple(Attribute.from_scim(a) for a in doc["attributes"]),
    )


def user_resource_type() -> ResourceType:
    """The full RFC User resource type, before any mapping cuts it down."""
    return ResourceType(
        name="User",
        endpoint="/Users",
        description="User Account",
        core=load_schema("User.json"),
        extensions=((load_schema("EnterpriseUser.json"), False),),
    )


def group_resource_type() -> ResourceType:
    """The full RFC Group resource type."""
    return ResourceType(
        name="Group", endpoint="/Groups", description="Group", core=load_schema("Group.json")
    )
