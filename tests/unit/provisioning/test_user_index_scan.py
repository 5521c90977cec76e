"""A multi-page index scan never lets its watermark pass a change it could have missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.backend.client import Page
from gateway.idstore import MemoryIdStore
from gateway.provisioning.user_index import SPACE, UserIndex, catch_up_from
from mappings.default import USER

FMT = "%Y-%m-%dT%H:%M:%SZ"


def person(n: int, stamped: datetime) -> dict:
    return {"id": n, "email": f"u{n}@x.example", "first_name": "A", "last_name": "B",
            "sso_id": f"s{n}", "status": "active", "lock_version": 1,
            "created_at": stamped.strftime(FMT), "updated_at": stamped.strftime(FMT)}


class TwoPageBackend:
    """Page 1 is read at T; the scan then takes 10 s, and page 2 shows a change at T+9."""

    def __init__(self, start: datetime) -> None:
        self.start = start

    async def list_employees(self, org_id, *, page=1, per_page=50, **filters) -> Page:
        if page == 1:
            items = [person(n, self.start - timedelta(hours=1)) for n in range(1, 201)]
        else:
            items = [person(n, self.start - timedelta(hours=1)) for n in range(201, 400)]
            items.append(person(400, self.start + timedelta(seconds=9)))
        return Page(items, 400, page, per_page)


async def test_long_multi_page_scan_steps_its_watermark_back_by_its_duration(rows):
    start = datetime.now(UTC).replace(microsecond=0)
    ticks = iter([0.0, 10.0])
    store = MemoryIdStore()
    index = UserIndex(TwoPageBackend(start), store, rows,  # type: ignore[arg-type]
                      monotonic=lambda: next(ticks))

    await index.rebuild(17, USER)

    mark = await rows.mark(17)
    assert mark is not None and mark.people == 400
    # Someone on page 1 may have changed at T+1, after page 1 was read: the next
    # catch-up must start at or before that.
    since = catch_up_from(mark.watermark)
    assert since is not None and since <= (start + timedelta(seconds=1)).strftime(FMT)
    assert await rows.get(17, "externalId:s400") == 400
    assert await store.get_many(17, [(SPACE, "externalId:s123")]) == ["123"]


async def test_single_page_build_keeps_the_newest_change_as_watermark(rows):
    start = datetime.now(UTC).replace(microsecond=0)

    class OnePage:
        async def list_employees(self, org_id, *, page=1, per_page=50, **filters) -> Page:
            return Page([person(1, start), person(2, start + timedelta(seconds=3))], 2, 1,
                        per_page)

    await UserIndex(OnePage(), MemoryIdStore(), rows).rebuild(17, USER)  # type: ignore[arg-type]
    mark = await rows.mark(17)
    assert mark is not None
    assert mark.watermark.split(" ")[0] == (start + timedelta(seconds=3)).strftime(FMT)


class Traced(dict):
    """A record that can be watched for being freed (a plain dict can't be weakly referenced)."""


async def test_index_rebuild_frees_each_page_once_indexed_so_memory_stays_flat(rows):
    import gc
    import weakref

    start = datetime.now(UTC).replace(microsecond=0)
    watched: dict[int, list[weakref.ref]] = {}

    class ManyPages:
        async def list_employees(self, org_id, *, page=1, per_page=50, **filters) -> Page:
            items = [Traced(person(n, start - timedelta(hours=1)))
                     for n in range((page - 1) * per_page + 1, page * per_page + 1)]
            watched[page] = [weakref.ref(item) for item in items]
            return Page(items, 20 * per_page, page, per_page)

    index = UserIndex(ManyPages(), MemoryIdStore(), rows)  # type: ignore[arg-type]
    pages = index._pages(17, {})
    seen = 0
    async for page in pages:
        seen += len(page.items)
        del page
        if seen == 10 * 200:  # halfway through a 20-page rebuild
            break
    gc.collect()
    held = [n for n, refs in watched.items() if any(ref() is not None for ref in refs)]
    await pages.aclose()
    # The pages already handed over are gone; only those still in flight may be held.
    assert len(held) <= 4, f"pages still in memory: {sorted(held)}"
