"""Values read back from the id store, parsed defensively in one place.

Redis is shared, outlives gateway versions, and anyone with access to it can
write anything; a value the gateway wrote itself may still come back
truncated or from an older format. So every value the provisioning layer
reads from its own keys goes through one of these parsers: a bad value is a
miss (the caller then repairs the entry, by dropping or rewriting it) and
one warning per (org, key) per process, never an exception on a request.
"""

from __future__ import annotations

import logging

from gateway.mapping.ids import from_scim_id

log = logging.getLogger(__name__)

# How many (org, key) pairs a process remembers having warned about.
_WARNED_MAX = 10_000
_warned: set[tuple[str, str]] = set()


def _bad(org_id: object, key: str, value: object, expected: str) -> None:
    mark = (str(org_id), key)
    if mark in _warned:
        return
    if len(_warned) >= _WARNED_MAX:
        _warned.clear()
    _warned.add(mark)
    log.warning("id store: org %s key %r holds %r, not %s; treated as a miss and repaired",
                org_id, key, str(value)[:80], expected)


def record_id(org_id: object, key: str, value: str | None) -> int | None:
    """A backend record id stored as a hint (`"48213"`), or None (missing or malformed)."""
    if value is None:
        return None
    parsed = from_scim_id(value)
    if parsed is None:
        _bad(org_id, key, value, "a record id")
    return parsed

