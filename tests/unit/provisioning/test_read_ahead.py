"""ReadAhead: the next page of an in-order reader is fetched while this one is answered."""

from __future__ import annotations

import asyncio

import pytest

from gateway.backend.client import Page
from gateway.provisioning.read_ahead import ReadAhead

TOTAL = 500


class Backend:
    """Pages of 100 ids; records every page asked for; can hold or fail calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail: set[int] = set()
        self.version = 0  # bumped to tell pages read before and after a write apart

    async def fetch(self, number: int, per_page: int) -> Page:
        self.calls.append(number)
        await asyncio.sleep(0)
        if number in self.fail:
            raise ConnectionError(f"page {number} failed")
        first = (number - 1) * per_page
        items = [{"id": i, "v": self.version} for i in range(first, min(TOTAL, first + per_page))]
        return Page(items=items, total=TOTAL, page=number, per_page=per_page)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_in_order_reader_gets_each_next_page_read_ahead() -> None:
    backend, ahead = Backend(), ReadAhead()
    for number in range(1, 6):
        page = await ahead.page(1, {}, number, 100, backend.fetch)
        assert [r["id"] for r in page.items][:1] == [(number - 1) * 100]
        await settle()
    # Page 1 and 2 are asked for by the reader; from then on each page was already read:
    # every page was fetched once, and nothing past the last one.
    assert sorted(backend.calls) == [1, 2, 3, 4, 5]
    assert ahead.served == 3


async def test_the_next_page_is_asked_for_before_this_one_is_handed_back() -> None:
    # The caller maps the page it gets without yielding: the backend must already be
    # working on the next one by then, or the two don't overlap.
    backend, ahead = Backend(), ReadAhead()
    await ahead.page(1, {}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    assert backend.calls[-1] == 3


async def test_a_reader_jumping_around_gets_nothing_read_ahead() -> None:
    backend, ahead = Backend(), ReadAhead()
    for number in (3, 1, 5, 2):
        await ahead.page(1, {}, number, 100, backend.fetch)
        await settle()
    assert backend.calls == [3, 1, 5, 2]
    assert ahead.served == 0


async def test_a_write_to_the_org_makes_the_page_read_ahead_stale() -> None:
    backend, ahead = Backend(), ReadAhead()
    await ahead.page(1, {}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    await settle()  # page 3 read ahead, at version 0
    backend.version = 1
    ahead.wrote(1)
    page = await ahead.page(1, {}, 3, 100, backend.fetch)
    assert {r["v"] for r in page.items} == {1}  # read again, after the write
    assert ahead.served == 0


async def test_another_orgs_write_does_not_waste_the_read_ahead() -> None:
    backend, ahead = Backend(), ReadAhead()
    await ahead.page(1, {}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    await settle()
    ahead.wrote(2)
    await ahead.page(1, {}, 3, 100, backend.fetch)
    assert ahead.served == 1


async def test_an_old_read_ahead_is_not_served() -> None:
    now = [0.0]
    backend, ahead = Backend(), ReadAhead(max_age_s=2.0, clock=lambda: now[0])
    await ahead.page(1, {}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    await settle()
    now[0] = 2.5
    await ahead.page(1, {}, 3, 100, backend.fetch)
    assert ahead.served == 0
    assert backend.calls.count(3) == 2


async def test_a_failed_read_ahead_is_fetched_again_by_the_request() -> None:
    backend, ahead = Backend(), ReadAhead()
    backend.fail = {3}
    await ahead.page(1, {}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    await settle()
    backend.fail = set()
    page = await ahead.page(1, {}, 3, 100, backend.fetch)
    assert page.page == 3 and len(page.items) == 100
    assert backend.calls.count(3) == 2


async def test_the_requests_own_failure_is_reported() -> None:
    backend, ahead = Backend(), ReadAhead()
    backend.fail = {1}
    with pytest.raises(ConnectionError):
        await ahead.page(1, {}, 1, 100, backend.fetch)


async def test_different_filters_are_different_sequences() -> None:
    backend, ahead = Backend(), ReadAhead()
    await ahead.page(1, {"status": "active"}, 1, 100, backend.fetch)
    await ahead.page(1, {}, 2, 100, backend.fetch)
    await settle()
    assert backend.calls == [1, 2]  # page 2 of another list is not "the next page"


async def test_close_cancels_what_is_in_flight() -> None:
    gate = asyncio.Event()
    calls: list[int] = []

    async def slow(number: int, per_page: int) -> Page:
        calls.append(number)
        if number > 2:
            await gate.wait()
        return Page(items=[{"id": number}], total=TOTAL, page=number, per_page=per_page)

    ahead = ReadAhead()
    await ahead.page(1, {}, 1, 100, slow)
    await ahead.page(1, {}, 2, 100, slow)
    await settle()
    assert calls == [1, 2, 3]
    [in_flight] = [ahead_page.task for ahead_page in ahead._ahead.values()]
    await ahead.close()
    assert in_flight.cancelled() and ahead._ahead == {}
