"""Finding a person by userName or externalId in O(1) backend calls, never wrongly.

The backend can search only `email`, slowly, and not `sso_id` at all. So the
id store keeps, per org, `userName → id` and `externalId → id`. A cached id is
only a hint: the record is re-read and its current value compared before it
is trusted, because people change in Workstream directly and Redis may be
flushed or stale.

On a miss, an attribute the backend can search is searched; any other one is
found by catching the index up with the records changed since its watermark
(`updated_since`), so a miss costs one backend call, not a scan of the org.
Only an index with no watermark (new, flushed or evicted: everything about an
org lives in one hash, so it goes as a whole) is rebuilt by one paged scan,
under a lock shared by every gateway process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.backend.client import BackendClient, Page
from gateway.backend.errors import BackendNotFound
from gateway.backend.records import format_timestamp, parse_timestamp
from gateway.idstore import values
from gateway.idstore.base import IdStore, IdStoreError
from gateway.mapping.fields import BoundField, read_scim
from gateway.mapping.ids import to_scim_id
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.observability import metrics

log = logging.getLogger(__name__)

SPACE = "users"
# "<newest updated_at indexed> <when the read that saw it began>", both ISO UTC.
WATERMARK = "~watermark"
# SCIM attributes kept in the index.
INDEXED = ("userName", "externalId")

# Per mapping (mappings live as long as the process): (attr, field, caseExact) of
# each indexed attribute the mapping carries, resolved once instead of per record.
_INDEXED_FIELDS: dict[int, tuple[ResourceMapping, tuple[tuple[str, BoundField, bool], ...]]] = {}


def indexed_fields(mapping: ResourceMapping) -> tuple[tuple[str, BoundField, bool], ...]:
    """The indexed attributes this mapping carries: (name, field, caseExact)."""
    cached = _INDEXED_FIELDS.get(id(mapping))
    if cached is None or cached[0] is not mapping:
        found = []
        for attr in INDEXED:
            resolved = mapping.rtype.resolve(None, attr)
            bound = mapping.field_for_path(resolved) if resolved else None
            if bound is not None and resolved is not None:
                found.append((attr, bound, resolved.leaf.case_exact))
        cached = (mapping, tuple(found))
        _INDEXED_FIELDS[id(mapping)] = cached
    return cached[1]
# Re-read this much before the watermark: timestamps have second precision and
# a write may commit a moment after its updated_at.
OVERLAP = timedelta(seconds=2)
# When the read that indexed the newest change began this long after that change
# (room for commit delay and clock skew), everything stamped at or before it was
# already visible to that read: the next catch-up starts just after it, so a
# same-second mass update isn't re-read on every miss.
SETTLED = timedelta(minutes=5)
EPOCH = "1970-01-01T00:00:00Z"
# Index scans read pages of the backend's largest size, a few in flight at once
# (the backend client honours 429s if that is more than the org's rate limit).
SCAN_PAGE_SIZE = 200
SCAN_CONCURRENCY = 4






def catch_up_from(watermark: str) -> str | None:
    """The `updated_since` for a catch-up after `watermark` (None: read everything)."""
    newest, _, read_at = watermark.partition(" ")
    if newest == EPOCH:
        return None
    newest_at = parse_timestamp(newest)
    if read_at and parse_timestamp(read_at) - newest_at > SETTLED:
        return format_timestamp(newest_at + timedelta(seconds=1))
    return format_timestamp(newest_at - OVERLAP)


class UserIndex:
    def __init__(self, backend: BackendClient, store: IdStore, *, lock_timeout_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._backend = backend
        self._store = store
        self._lock_timeout_s = lock_timeout_s
        self._monotonic = monotonic  # measures how long a scan took

    # ---- keys ----

    @staticmethod
    def _field(mapping: ResourceMapping, attr: str) -> BoundField | None:
        return next((b for name, b, _ in indexed_fields(mapping) if name == attr), None)

    @staticmethod
    def _key(attr: str, case_exact: bool, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        return f"{attr}:{value if case_exact else value.casefold()}"

    @staticmethod
    def key(mapping: ResourceMapping, attr: str, value: Any) -> str | None:
        """The index key for `attr = value`, folded when the attribute isn't caseExact."""
        case_exact = next((c for name, _, c in indexed_fields(mapping) if name == attr), False)
        return UserIndex._key(attr, case_exact, value)

    def keys_of(self, mapping: ResourceMapping, record: dict) -> dict[str, str]:
        """Every index entry a backend record should have."""
        scim = mapping.to_scim_attributes(record)
        out = {}
        for attr, bound, case_exact in indexed_fields(mapping):
            key = self._key(attr, case_exact, read_scim(scim, bound))
            if key:
                out[key] = to_scim_id(record["id"])
        return out

    def _holds(self, mapping: ResourceMapping, record: dict, key: str) -> bool:
        return self.keys_of(mapping, record).get(key) == to_scim_id(record["id"])

    # ---- writes from the gateway's own changes ----

    async def remember(self, org_id: int, mapping: ResourceMapping, records: list[dict]) -> None:
        entries: dict[str, str] = {}
        for record in records:
            entries.update(self.keys_of(mapping, record))
        if entries:
            await self._store.put(org_id, {SPACE: entries})

    async def moved(
        self, org_id: int, mapping: ResourceMapping, before: dict, after: dict
    ) -> None:
        """Update the index after a record changed: add new keys, drop the old ones."""
        old, new = self.keys_of(mapping, before), self.keys_of(mapping, after)
        if new != old:
            await self._store.put(org_id, {SPACE: new})
        for key in old.keys() - new.keys():
            await self._store.delete_if_equal(org_id, SPACE, key, old[key])

    # ---- lookups ----

    async def find(
        self, org_id: int, mapping: ResourceMapping, attr: str, value: Any
    ) -> list[dict]:
        """Backend records whose `attr` equals `value` (SCIM comparison rules)."""
        key = self.key(mapping, attr, value)
        bound = self._field(mapping, attr)
        if key is None or bound is None:
            return []
        hint, watermark = await self._read(org_id, key)
        if hint is not None:
            record = await self._verified(org_id, mapping, key, hint)
            if record is not None:
                return [record]
        backend_field = mapping.catalogue[bound.spec.backend]
        if backend_field.searchable and bound.spec.translate is None:
            page = await self._backend.list_employees(
                org_id, per_page=200, **{bound.spec.backend: value}
            )
            found = [r for r in page.items if self._holds(mapping, r, key)]
            await self.remember(org_id, mapping, found)
            return found
        return await self._catch_up_and_find(org_id, mapping, key, watermark)

    async def _read(self, org_id: int, key: str) -> tuple[str | None, str | None]:
        """The hint for `key` and the watermark, each None when missing or malformed.

        A malformed hint is dropped here; a malformed watermark is as good as
        none: the index is rebuilt, which writes a good one.
        """
        hint, mark = await self._store.get_many(org_id, [(SPACE, key), (SPACE, WATERMARK)])
        if hint is not None and values.record_id(org_id, key, hint) is None:
            await self._store.delete_if_equal(org_id, SPACE, key, hint)
            hint = None
        return hint, values.watermark(org_id, WATERMARK, mark)

    async def _verified(
        self, org_id: int, mapping: ResourceMapping, key: str, hint: str
    ) -> dict | None:
        backend_id = values.record_id(org_id, key, hint)
        try:
            record = None if backend_id is None else await self._backend.get_employee(
                org_id, backend_id)
        except BackendNotFound:
            record = None
        if record is not None and self._holds(mapping, record, key):
            return record
        log.info("index entry for org %s was stale; dropped it", org_id)
        await self._store.delete_if_equal(org_id, SPACE, key, hint)
        return None

    async def _catch_up_and_find(
        self, org_id: int, mapping: ResourceMapping, key: str, watermark: str | None
    ) -> list[dict]:
        if watermark is None:
            try:
                async with self._store.lock(org_id, "users-index", timeout_s=self._lock_timeout_s):
                    # Another process may have rebuilt the index while we waited.
                    hint, watermark = await self._read(org_id, key)
                    if watermark is None:
                        return await self._scan(org_id, mapping, key, since=None)
            except IdStoreError:
                log.warning("id store lock unavailable for org %s; rebuilding without it", org_id)
                return await self._scan(org_id, mapping, key, since=None)
            if hint is not None:
                record = await self._verified(org_id, mapping, key, hint)
                if record is not None:
                    return [record]
        return await self._scan(org_id, mapping, key, since=catch_up_from(watermark),
                                floor=watermark)

    async def _scan(
        self, org_id: int, mapping: ResourceMapping, key: str, since: str | None,
        floor: str = EPOCH,
    ) -> list[dict]:
        """Index every record changed since `since` (all when None); return those matching.

        The new watermark is the newest `updated_at` seen (never below `floor`'s),
        with the time this read began. A read of several pages is several
        snapshots: a record on an early page may change before the last page is
        read, and a newer change seen later would carry the watermark past it.
        Such a change is stamped after the first page's snapshot, and nothing
        seen is stamped more than the read's duration after that snapshot, so
        the watermark steps back by that duration (a difference of durations:
        no clock comparison) and the next catch-up re-reads what changed while
        this one ran. A read begun long after its newest change needs no step.
        """
        found: list[dict] = []
        started = datetime.now(UTC)
        clock = self._monotonic()
        timer = time.monotonic()  # for the metric; `clock` may be a test's
        newest = floor.partition(" ")[0]
        batch: dict[str, str] = {}
        filters = {"updated_since": since} if since else {}
        pages = 0
        async for records in self._pages(org_id, filters):
            pages += 1
            for record in records:
                keys = self.keys_of(mapping, record)
                batch.update(keys)
                if key in keys:
                    found.append(record)
                newest = max(newest, record.get("updated_at") or EPOCH)
            if len(batch) >= 2000:
                await self._store.put(org_id, {SPACE: batch})
                batch = {}
        if pages > 1 and newest != EPOCH and started - parse_timestamp(newest) <= SETTLED:
            took = timedelta(seconds=math.ceil(self._monotonic() - clock))
            newest = format_timestamp(parse_timestamp(newest) - took)
        batch[WATERMARK] = f"{newest} {format_timestamp(started)}"
        await self._store.put(org_id, {SPACE: batch})
        metrics.index_rebuilt("users", "full" if since is None else "catch_up",
                              time.monotonic() - timer)
        return found

    async def _pages(self, org_id: int, filters: dict[str, str]) -> AsyncIterator[list[dict]]:
        """The pages of a list, fetched `SCAN_CONCURRENCY` at a time once the total is known.

        A rebuild of a 100,000-person org is 500 pages: one after another they
        could outlast the IdP's 60 s. Pages are handed over as they arrive and
        a new fetch starts only as one finishes, so at most a few pages are
        held at once (a finished task keeps its page: tasks for all 500 pages
        up front held the whole org in memory until the end). A failure
        cancels the rest.
        """
        first = await self._backend.list_employees(
            org_id, page=1, per_page=SCAN_PAGE_SIZE, **filters)
        last = -(-first.total // SCAN_PAGE_SIZE)
        more = last > 1 and not first.is_last
        yield first.items
        del first
        if not more:
            return

        def fetch(number: int) -> asyncio.Future[Page]:
            return asyncio.ensure_future(self._backend.list_employees(
                org_id, page=number, per_page=SCAN_PAGE_SIZE, **filters))

        numbers = iter(range(2, last + 1))
        running = {fetch(n) for n in itertools.islice(numbers, SCAN_CONCURRENCY)}
        finished: set[asyncio.Future[Page]] = set()
        try:
            while running:
                finished, running = await asyncio.wait(
                    running, return_when=asyncio.FIRST_COMPLETED)
                running |= {fetch(n) for n in itertools.islice(numbers, len(finished))}
                while finished:
                    yield finished.pop().result().items
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, *finished, return_exceptions=True)
