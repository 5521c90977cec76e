"""Resource versions (RFC 7644 §3.14): `meta.version`, ETag, If-Match, If-None-Match.

A resource's version is the backend record's `lock_version`, shown as a weak
entity tag. The web layer hands the use cases the versions an `If-Match` or
`If-None-Match` header names, already parsed (aiohttp splits the header), so
nothing below it sees a raw header string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The entity tag value that matches any version ("If-Match: *").
ANY = "*"
# Longer digit strings can't be a lock_version (and int() of a huge string is slow).
_MAX_DIGITS = 18


def version_tag(lock_version: int) -> str:
    """meta.version / ETag: a weak entity tag made from the backend's lock_version."""
    return f'W/"{lock_version}"'


def lock_version_of(value: str) -> int | None:
    """The lock_version an entity tag's value names (`7` inside `W/"7"`), or None."""
    if value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
        return int(value)
    return None


@dataclass(frozen=True)
class Versions:
    """The versions a precondition header accepts: any (`*`), or these lock_versions.

    Compared weakly (RFC 7232 §2.3.2): `"7"` and `W/"7"` both name version 7.
    A tag that is not one of ours names no version, so it matches nothing.
    """

    any: bool
    lock_versions: frozenset[int]

    @classmethod
    def of(cls, tag_values: Iterable[str]) -> Versions:
        """From entity tag values as the HTTP layer parsed them (no quotes, no `W/`)."""
        values = list(tag_values)
        found = (lock_version_of(v) for v in values if v != ANY)
        return cls(ANY in values, frozenset(v for v in found if v is not None))

    def matches(self, lock_version: int) -> bool:
        return self.any or lock_version in self.lock_versions

    def names(self, tag: str) -> bool:
        """Whether a resource whose `meta.version` is `tag` is one of these versions."""
        return self.any or any(tag == version_tag(v) for v in self.lock_versions)
