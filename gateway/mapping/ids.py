"""SCIM ids ⇄ backend ids.

A SCIM id is the backend record id written as a decimal string: stable, never
reused (the backend never reuses ids) and resolvable without Redis. It is
opaque to the IdP; only this module knows how it is made.
"""

from __future__ import annotations

# Backend ids are positive integers; anything longer than this can't be one.
_MAX_DIGITS = 18


def to_scim_id(backend_id: int) -> str:
    return str(backend_id)


def from_scim_id(scim_id: object) -> int | None:
    """The backend id inside a SCIM id, or None if it can't be one (→ 404)."""
    if not isinstance(scim_id, str) or not scim_id.isascii() or not scim_id.isdigit():
        return None
    if len(scim_id) > _MAX_DIGITS or scim_id.startswith("0"):
        return None
    return int(scim_id)
