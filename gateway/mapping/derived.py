"""Derived values: `Field(..., fallback=joined(...))` builds an attribute from others.

A fallback receives the whole SCIM resource being written and returns the
value to use when the IdP didn't send the attribute (see `Field.fallback`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.mapping.fields import MappingError
from gateway.scim.resource import get_value
from gateway.scim.schema import ResolvedPath, user_resource_type


def _resolve(path: str) -> ResolvedPath:
    rtype = user_resource_type()
    resolved = rtype.resolve_text(path)
    if resolved is None or resolved.attribute.multi_valued or resolved.leaf.type != "string":
        raise MappingError(f"joined(): {path!r} is not a single-valued string attribute "
                           "of a User, such as 'name.givenName'")
    return resolved


def joined(*paths: str, sep: str = " ") -> Callable[[dict[str, Any]], Any]:
    """The values at `paths` that are present, joined by `sep`; None if none is.

    `joined("name.givenName", "name.familyName")` gives "Ada Lovelace".
    """
    if not paths:
        raise MappingError("joined(): name at least one attribute")
    resolved = [_resolve(p) for p in paths]

    def derive(resource: dict[str, Any]) -> str | None:
        parts = [get_value(resource, r) for r in resolved]
        text = sep.join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        return text or None

    derive.__doc__ = f"{sep!r}.join of {', '.join(paths)}"
    return derive
