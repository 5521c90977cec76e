"""Custom SCIM extension schemas, declared in one line by a mapping module.

A customer's IdP may send attributes of the customer's own extension
(`urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCode`). The
engine needs a `Schema` for that URN to resolve such paths, and discovery
(`/Schemas`, `/ResourceTypes`) advertises it to that org only.
"""

from __future__ import annotations

import re

from gateway.mapping.fields import MappingError
from gateway.scim.schema import CORE_GROUP, CORE_USER, ENTERPRISE_USER, Attribute, Schema

# RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
_ATTRNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_BUILT_IN = (CORE_USER, ENTERPRISE_USER, CORE_GROUP)


def custom_extension(
    urn: str, name: str, *attributes: str | Attribute, description: str = ""
) -> Schema:
    """An extension schema `urn` carrying `attributes`.

    A name gives a single-valued string attribute (what IdP custom attributes
    almost always are); pass an `Attribute` for anything else, e.g.
    `Attribute("badgeNumber", "integer")`. Mistakes fail loudly at start-up.
    """
    if not isinstance(urn, str) or not urn.startswith("urn:") or urn.endswith(":"):
        raise MappingError(f"custom_extension(): {urn!r} is not a schema URN such as "
                           "'urn:ietf:params:scim:schemas:extension:acme:2.0:User'")
    folded = urn.casefold()
    for built_in in _BUILT_IN:
        if folded == built_in.casefold() or folded.startswith(built_in.casefold() + ":"):
            raise MappingError(f"custom_extension(): {urn!r} is the built-in schema "
                               f"{built_in}; choose a URN of the customer's own")
    if not attributes:
        raise MappingError(f"custom_extension({urn!r}): name at least one attribute")
    built: list[Attribute] = []
    for attribute in attributes:
        attr = attribute if isinstance(attribute, Attribute) else Attribute(
            attribute, "string", description=f"{name} custom attribute"
        )
        if not isinstance(attr.name, str) or not _ATTRNAME.match(attr.name):
            raise MappingError(f"custom_extension({urn!r}): {attr.name!r} is not a SCIM "
                               "attribute name (a letter, then letters, digits, '-' or '_')")
        if any(a.name.casefold() == attr.name.casefold() for a in built):
            raise MappingError(f"custom_extension({urn!r}): {attr.name!r} is named twice")
        built.append(attr)
    return Schema(urn, name, description or f"{name} custom attributes", tuple(built))
