"""Finding a person by userName or externalId in O(1) backend calls, never wrongly.

The backend can search only `email`, slowly, and not `sso_id` at all. So the
gateway keeps, per org, `userName → id` and `externalId → id`: durably in the
state database (gateway.state.user_index_entries), cached in the id store
(Redis) as hints. Nothing in it is trusted: the record is re-read and its
current value compared, because people change in Workstream directly.

A lookup, cheapest first:

1. the Redis hint, verified (one HMGET, one backend GET: the hot path);
2. on a Redis miss (a flush, a fault), one indexed query of the database,
   verified, and the hint put back;
3. on a database miss in an org whose index is built, a catch-up: the records
   changed since its watermark (`updated_since`, normally one backend call),
   written to both; concurrent catch-ups of an org share one backend read.
   A miss after it is authoritative;
4. an org never built is built in the background (one build per org per
   process, under a lock every process shares), never inside a request, and
   from its first user request on. Meanwhile a searchable attribute (userName
   as the work email) is found by the backend's search, and any other waits
   `BUILD_WAIT_S` at most (a small org's build) before answering 503 with
   Retry-After.

The gateway's own writes go to Redis at once and to the database through a
write-behind (gateway.provisioning.user_index_writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway import request_context
from gateway.backend.client import BackendClient, Page
from gateway.backend.errors import BackendError, BackendNotFound
from gateway.idstore import values
from gateway.idstore.base import IdStore, IdStoreUnavailable, LockTimeout
from gateway.mapping.fields import BoundField, read_scim
from gateway.mapping.ids import to_scim_id
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.observability import metrics
from gateway.provisioning import index_watermark
from gateway.provisioning.index_watermark import EPOCH, Reading, catch_up_from
from gateway.provisioning.user_index_rebuild import SPACE, Rebuild
from gateway.provisioning.user_index_writer import IndexWriter
from gateway.scim.errors import ScimError
from gateway.state import StateError
from gateway.state.user_index_entries import Change, Claim, UserIndexEntries

log = logging.getLogger(__name__)

__all__ = ["EPOCH", "INDEXED", "SPACE", "UserIndex", "catch_up_from", "indexed_fields"]

# SCIM attributes kept in the index.
INDEXED = ("userName", "externalId")
# The lock (in the id store) every process takes to build an org's index.
BUILD_LOCK = "users-index"
# After a failed build, an org's requests start another no sooner than this.
BUILD_RETRY_S = 5.0
# Retry-After while an org's index is built, when its progress gives no estimate.
BUILDING_RETRY_AFTER_S = 5
# How long a lookup that needs an index being built waits for it before answering 503:
# a small org is built in moments (an IdP's first request may well be such a lookup,
# Entra's "Test Connection" is), a large one never inside the request.
BUILD_WAIT_S = 1.0
# How long a lookup waits for a catch-up before answering without it: one is normally a
# single backend call, but in the minutes after a mass change made in Workstream within
# one second it re-reads everyone changed then (100,000 people: 12 s). It goes on in the
# background; the request searches by email, or answers 503 for what can't be searched.
CATCH_UP_WAIT_S = 3.0
# Retry-After of a lookup that could not wait for its catch-up.
CATCHING_UP_RETRY_AFTER_S = 5
# Index scans read pages of the backend's largest size, a few in flight at once
# (the backend client honours 429s if that is more than the org's rate limit).
SCAN_PAGE_SIZE = 200
SCAN_CONCURRENCY = 4

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


# (attr, caseExact, backend field, its to_scim translation or None) per indexed attribute.
DirectReader = tuple[str, bool, str, Callable[[Any], Any] | None]
_DIRECT: dict[int, tuple[ResourceMapping, tuple[DirectReader, ...] | None]] = {}


def direct_readers(mapping: ResourceMapping) -> tuple[DirectReader, ...] | None:
    """How to read each indexed value straight from a record, or None when one can't be.

    Checking a hint (every lookup) needs only the record's userName and externalId,
    not the whole resource: when each is one plain field of its own (no element of
    a multi-valued attribute, no other field or computed value writing the same
    path), its value is the backend field's, translated. Worked out once per mapping.
    """
    cached = _DIRECT.get(id(mapping))
    if cached is None or cached[0] is not mapping:
        readers: list[DirectReader] | None = []
        for attr, bound, case_exact in indexed_fields(mapping):
            path = bound.path.text()
            writers = [b for b in mapping.bound if b.path.text() == path]
            computed = [c for c in mapping.computed if c.path.text() == path]
            if bound.element is not None or len(writers) != 1 or computed or readers is None:
                readers = None
                continue
            backend, translate, _ = mapping.readers[mapping.bound.index(bound)]
            readers.append((attr, case_exact, backend, translate))
        cached = (mapping, None if readers is None else tuple(readers))
        _DIRECT[id(mapping)] = cached
    return cached[1]


class _CatchUpTooLong(Exception):
    """The catch-up a lookup needs did not end within CATCH_UP_WAIT_S (it goes on)."""


class _Flight:
    """One catch-up of an org, and the keys the requests waiting on it look for."""

    def __init__(self, mapping: ResourceMapping) -> None:
        self.mapping = mapping
        self.wanted: set[str] = set()
        self.done: asyncio.Future[dict[str, list[dict]]] = (
            asyncio.get_running_loop().create_future())
        self.done.add_done_callback(_retrieved)
        self.task: asyncio.Task | None = None


def _retrieved(future: asyncio.Future) -> None:
    """A catch-up every waiter gave up on logs nothing about its failure."""
    if not future.cancelled():
        future.exception()


class _Build:
    """A background build in this process, and how far it got (for Retry-After)."""

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.started = time.monotonic()
        self.done = 0
        self.total = 0

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def retry_after(self) -> int:
        if not self.done or self.total <= self.done:
            return BUILDING_RETRY_AFTER_S
        left = (time.monotonic() - self.started) * (self.total - self.done) / self.done
        return max(1, min(60, math.ceil(left)))


class UserIndex:
    def __init__(self, backend: BackendClient, store: IdStore, rows: UserIndexEntries, *,
                 writer: IndexWriter | None = None, lock_timeout_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._backend = backend
        self._store = store
        self.rows = rows
        self.writer = writer  # None: the database is written at once (the admin CLI)
        self._lock_timeout_s = lock_timeout_s
        self._monotonic = monotonic  # measures how long a scan took
        self._built: set[int] = set()  # orgs whose mark this process has seen
        self._builds: dict[int, _Build] = {}
        self._retry_at: dict[int, float] = {}  # org → when a failed build may be tried again
        self._flights: dict[int, list[_Flight]] = {}  # org → [running, next]
        self._closing = False

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
        direct = direct_readers(mapping)
        out = {}
        if direct is not None:  # each indexed value read from its one backend field
            for attr, case_exact, backend, translate in direct:
                value = record.get(backend)
                if translate is not None and value is not None:
                    value = translate(value)
                key = self._key(attr, case_exact, value)
                if key:
                    out[key] = to_scim_id(record["id"])
            return out
        scim = mapping.to_scim_attributes(record)
        for attr, bound, case_exact in indexed_fields(mapping):
            key = self._key(attr, case_exact, read_scim(scim, bound))
            if key:
                out[key] = to_scim_id(record["id"])
        return out

    def claims_of(self, mapping: ResourceMapping, record: dict) -> dict[str, Claim]:
        """The index rows a backend record should have, stamped with its updated_at."""
        claim = Claim(record["id"], index_watermark.updated_at(record))
        return dict.fromkeys(self.keys_of(mapping, record), claim)

    def _holds(self, mapping: ResourceMapping, record: dict, key: str) -> bool:
        return self.keys_of(mapping, record).get(key) == to_scim_id(record["id"])

    # ---- writes from the gateway's own changes ----

    async def remember(self, org_id: int, mapping: ResourceMapping, records: list[dict]) -> None:
        claims: dict[str, Claim] = {}
        for record in records:
            claims.update(self.claims_of(mapping, record))
        if claims:
            await self._store.put(org_id, {SPACE: _hints(claims)})
            await self._write(Change(org_id, claims))

    async def moved(
        self, org_id: int, mapping: ResourceMapping, before: dict, after: dict
    ) -> None:
        """Update the index after a record changed: add new keys, drop the old ones."""
        old, new = self.keys_of(mapping, before), self.keys_of(mapping, after)
        if new == old:
            return
        await self._store.put(org_id, {SPACE: new})
        gone = old.keys() - new.keys()
        for key in gone:
            await self._store.delete_if_equal(org_id, SPACE, key, old[key])
        await self._write(Change(org_id, self.claims_of(mapping, after),
                                 [(key, before["id"]) for key in gone]))

    async def _write(self, change: Change) -> None:
        if self.writer is not None:
            self.writer.submit(change)
            return
        try:
            await self.rows.apply([change])
        except StateError as exc:  # a catch-up finds it (it changed after the watermark)
            log.warning("user index entries of org %s not written: %s", change.org_id, exc)

    # ---- lookups ----

    async def find(
        self, org_id: int, mapping: ResourceMapping, attr: str, value: Any
    ) -> list[dict]:
        """Backend records whose `attr` equals `value` (SCIM comparison rules)."""
        key = self.key(mapping, attr, value)
        bound = self._field(mapping, attr)
        if key is None or bound is None:
            return []
        [hint] = await self._store.get_many(org_id, [(SPACE, key)])
        tried = None
        if hint is not None:
            tried = values.record_id(org_id, key, hint)
            record = await self._verified(org_id, mapping, key, hint, tried)
            if record is not None:
                return [record]
        return await self._find_cold(org_id, mapping, bound, key, value, tried)

    async def _verified(self, org_id: int, mapping: ResourceMapping, key: str, hint: str,
                        backend_id: int | None) -> dict | None:
        """The record a Redis hint names, if it still carries `key`; else the hint goes."""
        record = None if backend_id is None else await self._record(org_id, backend_id)
        if record is not None and self._holds(mapping, record, key):
            return record
        log.info("index entry for org %s was stale; dropped it", org_id)
        await self._store.delete_if_equal(org_id, SPACE, key, hint)
        return None

    async def _record(self, org_id: int, backend_id: int) -> dict | None:
        try:
            return await self._backend.get_employee(org_id, backend_id)
        except BackendNotFound:
            return None

    async def _find_cold(self, org_id: int, mapping: ResourceMapping, bound: BoundField,
                         key: str, value: Any, tried: int | None,
                         waited: bool = False) -> list[dict]:
        """Redis had nothing (true) for `key`: the database, a catch-up, or a search."""
        backend_field = mapping.catalogue[bound.spec.backend]
        searchable = backend_field.searchable and bound.spec.translate is None
        try:
            user_id, watermark = await self.rows.lookup(org_id, key)
        except StateError:
            if not searchable:
                raise  # 503 with Retry-After
            log.warning("state database unreachable: userName lookup in org %s searched "
                        "in Workstream", org_id)
            return await self._search(org_id, mapping, bound, key, value)
        if user_id is not None and user_id != tried:
            record = await self._record(org_id, user_id)
            if record is not None and self._holds(mapping, record, key):
                await self._store.put(org_id, {SPACE: {key: to_scim_id(user_id)}})
                return [record]
        if user_id is not None:
            log.info("index row for org %s was stale; dropped it", org_id)
            await self._write(Change(org_id, drops=[(key, user_id)]))
        watermark = index_watermark.valid(org_id, watermark)
        if watermark is not None:
            self._built.add(org_id)
            try:
                return await self._catch_up(org_id, mapping, key, watermark)
            except _CatchUpTooLong:
                if searchable:
                    log.info("catch-up of org %s still running after %.0f s: userName lookup "
                             "searched in Workstream", org_id, CATCH_UP_WAIT_S)
                    return await self._search(org_id, mapping, bound, key, value)
                raise ScimError(503, f"The index for this org is catching up with changes made "
                                     f"in Workstream; {bound.text} lookups answer once it has, "
                                     f"retry shortly",
                                retry_after=CATCHING_UP_RETRY_AFTER_S) from None
        self._built.discard(org_id)  # (its mark went, or can't be read)
        self.build_soon(org_id, mapping)
        if searchable:
            return await self._search(org_id, mapping, bound, key, value)
        build = self._builds.get(org_id)
        if build is not None and build.task is not None and not waited:
            await asyncio.wait({build.task}, timeout=BUILD_WAIT_S)  # (never cancels it)
            if org_id in self._built:
                return await self._find_cold(org_id, mapping, bound, key, value, tried, True)
            build = self._builds.get(org_id)
        raise ScimError(503, f"The index for this org is being built; {bound.text} lookups "
                        f"answer once it is, retry shortly",
                        retry_after=build.retry_after() if build else BUILDING_RETRY_AFTER_S)

    async def _search(self, org_id: int, mapping: ResourceMapping, bound: BoundField,
                      key: str, value: Any) -> list[dict]:
        """The backend's own search (the work email): one call, however large the org."""
        page = await self._backend.list_employees(
            org_id, per_page=200, **{bound.spec.backend: value})
        found = [r for r in page.items if self._holds(mapping, r, key)]
        await self.remember(org_id, mapping, found)
        return found

    # ---- catch-ups: what changed in Workstream since the watermark ----

    async def _catch_up(self, org_id: int, mapping: ResourceMapping, key: str,
                        watermark: str) -> list[dict]:
        """The records carrying `key` among those changed since the watermark.

        One catch-up of an org runs at a time in this process. A request arriving
        while one runs waits for the next, which starts when it ends and serves
        every request that arrived meanwhile: each answer comes from a read begun
        after its request, and a burst of misses costs two backend reads, not one
        per request.
        """
        queue = self._flights.get(org_id)
        if queue is None:
            flight = _Flight(mapping)
            self._flights[org_id] = [flight]
            self._launch(org_id, flight, watermark)
        else:
            if len(queue) == 1:
                queue.append(_Flight(mapping))
            flight = queue[1]
        flight.wanted.add(key)
        try:  # (a timeout cancels only the shield: the catch-up goes on for the others)
            found = await asyncio.wait_for(asyncio.shield(flight.done), CATCH_UP_WAIT_S)
        except TimeoutError:
            raise _CatchUpTooLong from None
        return [r for r in found.get(key, ()) if self._holds(mapping, r, key)]

    def _launch(self, org_id: int, flight: _Flight, watermark: str | None) -> None:
        flight.task = asyncio.ensure_future(self._fly(org_id, flight, watermark))

    async def _fly(self, org_id: int, flight: _Flight, watermark: str | None) -> None:
        try:
            found = await self._catch_up_once(org_id, flight.mapping, flight.wanted, watermark)
        except asyncio.CancelledError:
            flight.done.cancel()
            raise
        except BaseException as exc:
            flight.done.set_exception(exc)
        else:
            flight.done.set_result(found)
        finally:
            queue = self._flights.get(org_id, [])
            if queue and queue[0] is flight:
                queue.pop(0)
            if queue and not self._closing:
                self._launch(org_id, queue[0], None)
            else:
                for waiting in queue:
                    waiting.done.cancel()
                self._flights.pop(org_id, None)

    async def _catch_up_once(self, org_id: int, mapping: ResourceMapping, wanted: set[str],
                             watermark: str | None) -> dict[str, list[dict]]:
        if watermark is None:  # a flight queued behind another: the mark it left
            mark = await self.rows.mark(org_id)
            watermark = index_watermark.valid(org_id, mark.watermark if mark else None)
            if watermark is None:  # the mark went (a reindex under way): nothing to read
                return {}
        timer = time.monotonic()
        reading = Reading(watermark, monotonic=self._monotonic)
        since = catch_up_from(watermark)
        found: dict[str, list[dict]] = {}
        written = True
        async for page in self._pages(org_id, {"updated_since": since} if since else {}):
            reading.saw(page.items)
            claims: dict[str, Claim] = {}
            for record in page.items:
                for key, claim in self.claims_of(mapping, record).items():
                    claims[key] = claim
                    if key in wanted:
                        found.setdefault(key, []).append(record)
            written = await self._absorb(org_id, claims, {r["id"] for r in page.items}) \
                and written
        if written:
            try:
                await self.rows.advance(org_id, reading.watermark())
            except StateError as exc:
                log.warning("user index of org %s: watermark not advanced: %s", org_id, exc)
        metrics.index_rebuilt("users", "catch_up", time.monotonic() - timer)
        return found

    async def _absorb(self, org_id: int, claims: dict[str, Claim], ids: set[int]) -> bool:
        """Records just read, into the database and Redis; False if the database failed."""
        try:
            gone = await self.rows.absorb(org_id, claims, ids)
        except StateError as exc:
            log.warning("user index of org %s: catch-up not written to the state database "
                        "(the next one reads it again): %s", org_id, exc)
            gone, written = [], False
        else:
            written = True
        await self._store.put(org_id, {SPACE: _hints(claims)})
        for key, user in gone:
            await self._store.delete_if_equal(org_id, SPACE, key, to_scim_id(user))
        return written

    # ---- builds: an org's whole index, from every person ----

    def warm(self, org_id: int, mapping: ResourceMapping) -> None:
        """At an org's user requests: its index built in the background if it never was."""
        if org_id not in self._built:
            self.build_soon(org_id, mapping)

    def build_soon(self, org_id: int, mapping: ResourceMapping) -> None:
        """Start building the org's index in the background (unless built or building)."""
        if (self._closing or org_id in self._built or org_id in self._builds
                or time.monotonic() < self._retry_at.get(org_id, 0.0)):
            return
        build = self._builds[org_id] = _Build()
        # Its own context: the build is no request's (logs, metrics, X-Request-Id).
        build.task = asyncio.get_running_loop().create_task(
            self._build(org_id, mapping, build), name=f"user-index-build-{org_id}",
            context=contextvars.Context())

    async def _build(self, org_id: int, mapping: ResourceMapping, build: _Build) -> None:
        request_context.request_id.set(f"user-index-build-{org_id}-{uuid.uuid4().hex[:8]}")
        try:
            if not await self._is_built(org_id):
                await self._build_alone(org_id, mapping, build)
            self._built.add(org_id)
        except LockTimeout:
            log.info("user index of org %s: another process is still building it", org_id)
            self._retry_at[org_id] = time.monotonic() + BUILD_RETRY_S
        except (StateError, BackendError) as exc:
            log.warning("building the user index of org %s failed (%s); its next request "
                        "tries again after %.0f s", org_id, exc, BUILD_RETRY_S)
            self._retry_at[org_id] = time.monotonic() + BUILD_RETRY_S
        except Exception:
            log.exception("building the user index of org %s failed", org_id)
            self._retry_at[org_id] = time.monotonic() + BUILD_RETRY_S
        finally:
            self._builds.pop(org_id, None)

    async def _build_alone(self, org_id: int, mapping: ResourceMapping, build: _Build) -> None:
        """Build under the lock every process shares (without it if the store is down)."""
        try:
            async with self._store.lock(org_id, BUILD_LOCK, timeout_s=self._lock_timeout_s):
                if not await self._is_built(org_id):  # another process built it meanwhile
                    await self.rebuild(org_id, mapping, progress=build.progress)
                    log.info("user index of org %s built", org_id)
        except IdStoreUnavailable:
            log.warning("id store lock unavailable for org %s; building without it", org_id)
            await self.rebuild(org_id, mapping, progress=build.progress)

    async def _is_built(self, org_id: int) -> bool:
        mark = await self.rows.mark(org_id)
        return index_watermark.valid(org_id, mark.watermark if mark else None) is not None

    async def rebuild(self, org_id: int, mapping: ResourceMapping, *,
                      progress: Callable[[int, int], None] | None = None) -> Rebuild:
        """Read every person of the org (a few pages at once) into a `Rebuild`, applied."""
        timer = time.monotonic()
        rebuild = Rebuild(self.rows, self._store, org_id,
                          lambda record: self.claims_of(mapping, record),
                          monotonic=self._monotonic)
        await self.walk(org_id, rebuild, progress)
        await rebuild.finish()
        metrics.index_rebuilt("users", "full", time.monotonic() - timer)
        return rebuild

    async def walk(self, org_id: int, rebuild: Rebuild,
                   progress: Callable[[int, int], None] | None = None) -> None:
        """Every person of the org into `rebuild`, page by page."""
        done = 0
        async for page in self._pages(org_id, {}):
            await rebuild.add(page.items)
            done += len(page.items)
            if progress is not None:
                progress(done, max(page.total, done))

    # ---- lifecycle ----

    async def settle(self) -> None:
        """Wait for background builds and catch-ups, then write what waits (tests, bench)."""
        while self._builds or self._flights:
            tasks = [b.task for b in self._builds.values() if b.task is not None]
            tasks += [f.task for q in self._flights.values() for f in q if f.task is not None]
            if not tasks:
                await asyncio.sleep(0)
                continue
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.writer is not None:
            await self.writer.flush()

    async def close(self) -> None:
        """Stop background builds and catch-ups (the app's cleanup, before the writer's)."""
        self._closing = True
        tasks = [b.task for b in self._builds.values() if b.task is not None]
        tasks += [f.task for q in self._flights.values() for f in q if f.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- paging ----

    async def _pages(self, org_id: int, filters: dict[str, str]) -> AsyncIterator[Page]:
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
        yield first
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
                    yield finished.pop().result()
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, *finished, return_exceptions=True)


def _hints(claims: dict[str, Claim]) -> dict[str, str]:
    """Redis hints (SCIM ids) for index rows."""
    return {key: to_scim_id(claim.user_id) for key, claim in claims.items()}
