"""Paging and sorting of list results (RFC 7644 §3.4.2.3, §3.4.2.4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.backend.client import Page, pages
from gateway.scim.errors import ScimError
from gateway.scim.resource import get_value
from gateway.scim.schema import ResourceType

# Backend pages read by a scan: the backend's largest page.
SCAN_PAGE_SIZE = 200

# A backend list call for one page: fetch(page=, per_page=) → Page.
Fetch = Callable[..., Awaitable[Page]]


@dataclass(frozen=True)
class ListResult:
    """All matches' count and the requested page of them (SCIM resources)."""

    total: int
    resources: list[dict]


@dataclass(frozen=True)
class Window:
    """A 1-based `startIndex` and a `count` turned into a slice."""

    start_index: int
    count: int

    @property
    def offset(self) -> int:
        return self.start_index - 1

    def slice(self, items: list) -> list:
        return items[self.offset:self.offset + self.count]


def _sortable(value: Any, case_exact: bool, kind: str) -> Any:
    if isinstance(value, str):
        if kind == "dateTime":
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except (ValueError, OverflowError):
                pass
        return value if case_exact else value.casefold()
    return value


def sort_key(sort_by: str, rtype: ResourceType) -> Callable[[dict], Any] | None:
    """The value a resource sorts by (None when it has none), or None if `sort_by` is unknown.

    A multi-valued attribute sorts by its primary value (RFC 7644 §3.4.2.3).
    """
    resolved = rtype.resolve_text(sort_by)
    if resolved is None:
        return None
    leaf = resolved.leaf

    def value_of(resource: dict) -> Any:
        value = get_value(resource, resolved)
        if isinstance(value, dict) and resolved.sub is None:
            value = value.get("value")  # `emails` sorts by the primary email's value
        if value is None or value == "" or isinstance(value, dict | list):
            return None  # "" is no value, as for `pr`: it sorts with the missing ones
        return _sortable(value, leaf.case_exact, leaf.type)

    return value_of


def sort_keyed(keyed: list[tuple[Any, Any]], sort_by: str, descending: bool) -> list[Any]:
    """Items of (sort value or None, item) in order; None goes last; ties keep their order."""
    have = [(v, item) for v, item in keyed if v is not None]
    missing = [item for v, item in keyed if v is None]
    try:
        have.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:
        raise ScimError(400, f"sortBy '{sort_by}' has values that can't be ordered",
                        "invalidValue") from None
    return [item for _, item in have] + missing


def sort_resources(
    resources: list[dict], sort_by: str, descending: bool, rtype: ResourceType
) -> list[dict]:
    """Sort by `sort_by`; resources missing the attribute go last; ties keep id order."""
    key = checked_sort_key(sort_by, rtype)
    return sort_keyed([(key(r), r) for r in resources], sort_by, descending)


def checked_sort_key(sort_by: str, rtype: ResourceType) -> Callable[[dict], Any]:
    """The sort key for `sort_by`, or a 400: called before listing, so no scan is wasted."""
    key = sort_key(sort_by, rtype)
    if key is None:
        raise ScimError(400, f"sortBy names an unknown attribute '{sort_by}'", "invalidValue")
    return key


def page_window(offset: int, count: int, max_per_page: int = 200) -> tuple[int, int, int]:
    """Backend (page, per_page, skip) covering [offset, offset+count) in ONE call if possible.

    Chooses the smallest page size ≥ count whose page boundaries don't split
    the window; falls back to per_page=count (the caller reads a second page).
    """
    count = max(1, count)
    for per_page in range(min(count, max_per_page), max_per_page + 1):
        if offset // per_page == (offset + count - 1) // per_page:
            return offset // per_page + 1, per_page, offset % per_page
    per_page = min(count, max_per_page)
    return offset // per_page + 1, per_page, offset % per_page


async def backend_window(fetch: Fetch, window: Window) -> tuple[int, list[dict]]:
    """(total, records) of `window`, paged by the backend: one call, two at most."""
    if window.count == 0:
        page = await fetch(page=1, per_page=1)
        return page.total, []
    number, per_page, skip = page_window(window.offset, window.count)
    page = await fetch(page=number, per_page=per_page)
    records = page.items[skip:skip + window.count]
    if len(records) < window.count and not page.is_last:
        more = await fetch(page=number + 1, per_page=per_page)
        records += more.items[: window.count - len(records)]
    return page.total, records


async def bounded_pages(fetch: Fetch, max_scan: int, refusal: str) -> AsyncIterator[list[dict]]:
    """Every page of a list the gateway must evaluate itself, refusing oversized scans.

    `refusal` is the 400 tooMany detail, formatted with `total` and `limit`; it
    is raised after the first call, before the backend is asked for more.
    """
    async for page in pages(lambda number: fetch(page=number, per_page=SCAN_PAGE_SIZE)):
        if page.page == 1 and page.total > max_scan:
            raise ScimError(400, refusal.format(total=page.total, limit=max_scan), "tooMany")
        yield page.items
