"""A SCIM request body made ready for the use cases, the same way everywhere.

The web handlers and the ops check tool (`gateway.mapping.check`) must see a
body exactly alike, so the steps live once: IdP dialects normalised (which
also canonicalises attribute names), JSON Schema validation, read-only
attributes dropped.
"""

from __future__ import annotations

from typing import Any

from gateway.scim.idp_quirks import normalise_patch, normalise_resource
from gateway.scim.resource import strip_read_only
from gateway.scim.schema import ResourceType
from gateway.scim.validation import validate


def prepare_resource(body: dict[str, Any], rtype: ResourceType, kind: str) -> dict[str, Any]:
    """A POST/PUT body of `kind` ("User" or "Group") ready to map; 400 if it isn't valid."""
    resource = normalise_resource(body, rtype)
    validate(kind, resource)
    return strip_read_only(resource, rtype)


def prepare_patch(body: dict[str, Any], rtype: ResourceType) -> list[dict[str, Any]]:
    """The operations of a PatchOp body, normalised and validated; 400 if it isn't valid."""
    normalised = normalise_patch(body, rtype)
    validate("PatchOp", normalised)
    operations: list[dict[str, Any]] = normalised["Operations"]
    return operations
