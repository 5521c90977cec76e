"""Query parameters of the contract: which are allowed where, and their values.

Every route states its allowed parameters; an unknown or repeated one, or a bad
value, is a 400 checked after the org and the rate limit but before any record
is looked up (the contract's error precedence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from multidict import MultiMapping

from sandbox.errors import bad_request

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
PAGING = frozenset({"page", "per_page"})
EMPLOYEE_LIST = PAGING | {"email", "status", "updated_since"}
TEAM_LIST = PAGING | {"name"}
NONE: frozenset[str] = frozenset()
STATUSES = ("active", "deactivated")
_MAX_OFFSET = 2**62  # beyond this SQLite cannot take the OFFSET; such a page is empty anyway


def single_values(query: MultiMapping[str], allowed: frozenset[str]) -> dict[str, str]:
    """One value per name, or 400 for an unknown or repeated name."""
    values: dict[str, str] = {}
    for name, value in query.items():
        if name not in allowed:
            raise bad_request(f"unknown query parameter {name}")
        if name in values:
            raise bad_request(f"query parameter {name} is repeated")
        values[name] = value
    return values


def _positive_int(values: Mapping[str, str], name: str, default: int) -> int:
    text = values.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise bad_request(f"{name} must be a positive integer")
    return int(text)


@dataclass(frozen=True)
class Page:
    """A requested page; `per_page` already clamped to the maximum."""

    page: int
    per_page: int

    @property
    def offset(self) -> int | None:
        """Rows to skip, or None when the page lies beyond anything storable."""
        offset = (self.page - 1) * self.per_page
        return offset if offset < _MAX_OFFSET else None

    def meta(self, total: int) -> dict[str, int]:
        return {"page": self.page, "per_page": self.per_page, "total": total}


def page_of(values: Mapping[str, str]) -> Page:
    """`page` (default 1) and `per_page` (default 50, clamped to 200)."""
    page = _positive_int(values, "page", 1)
    per_page = min(_positive_int(values, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    return Page(page, per_page)


@dataclass(frozen=True)
class EmployeeFilter:
    """The AND-combined filters of the employee list."""

    email: str | None = None
    status: str | None = None
    updated_since: float | None = None  # POSIX seconds


def parse_timestamp(text: str) -> float:
    """An ISO 8601 timestamp as POSIX seconds; one without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request("updated_since must be an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def employee_filter(values: Mapping[str, str]) -> EmployeeFilter:
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise bad_request("status must be active or deactivated")
    since = values.get("updated_since")
    return EmployeeFilter(
        email=values.get("email"),
        status=status,
        updated_since=None if since is None else parse_timestamp(since),
    )
