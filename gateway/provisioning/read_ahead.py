"""Read-ahead for an IdP paging through a whole list (Okta's import, Entra's sync).

An import asks for `startIndex=1, 101, 201, ...` one page after another, and
each answer waits for its backend page: the backend's time and the gateway's
add up. When a caller asks for the page right after the one it asked for
last, the next backend page is fetched while this one is being answered, so
the two overlap. Only one page ahead, only for a caller seen paging in order,
and never past the last page: the backend gets at most one call it would not
have had (when the IdP stops early).

A page read ahead is served only while it is fresh (`max_age_s`) and nothing
was written to the org by this process since it was fetched, so an IdP reads
its own writes; a change made elsewhere in that moment is no different from
the list having been read a moment earlier. A read-ahead that failed is
simply not used: the request fetches its page itself, and its error (if any)
is the one reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from gateway.backend.client import Page
from gateway.observability.context import current

# (org, list parameters, per_page): one sequence of pages.
ScanKey = tuple[int, tuple[tuple[str, Any], ...], int]
Fetch = Callable[[int, int], Coroutine[Any, Any, Page]]  # (page, per_page) → Page


@dataclass
class _Ahead:
    page: int  # the page being read ahead
    task: asyncio.Future[Page]
    generation: int  # the org's write generation when it started
    started: float


class ReadAhead:
    """Pages fetched one ahead of sequential readers, per process."""

    def __init__(self, *, max_age_s: float = 2.0, max_scans: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.max_scans = max_scans
        self._clock = clock
        self._last: OrderedDict[ScanKey, int] = OrderedDict()  # last page each scan asked for
        self._ahead: dict[ScanKey, _Ahead] = {}
        self._generations: dict[int, int] = {}  # org → writes seen by this process
        self.served = 0  # pages answered from a read-ahead (tests and benchmarks read it)

    def wrote(self, org_id: int) -> None:
        """This process changed something in the org: pages read ahead are stale."""
        self._generations[org_id] = self._generations.get(org_id, 0) + 1

    async def page(self, org_id: int, params: dict[str, Any], number: int, per_page: int,
                   fetch: Fetch) -> Page:
        """Page `number`, read ahead if it was; then the next one is read ahead if in order."""
        key: ScanKey = (org_id, tuple(sorted(params.items())), per_page)
        generation = self._generations.get(org_id, 0)
        page = await self._take(key, number, generation)
        in_order = page is not None or self._last.get(key) == number - 1
        if page is None:
            page = await fetch(number, per_page)
        self._remember(key, number)
        if in_order and not page.is_last and key not in self._ahead:
            # Outside this request's context: its access line and counts are its own calls.
            context = contextvars.copy_context()
            context.run(current.set, None)
            loop = asyncio.get_running_loop()
            task: asyncio.Task[Page] = loop.create_task(fetch(number + 1, per_page),
                                                        context=context)
            task.add_done_callback(_consume_error)
            self._ahead[key] = _Ahead(number + 1, task, generation, self._clock())
            # Let it send its request now: otherwise it would start only when this request
            # next yields, after mapping the whole page, and the backend's time and ours
            # would not overlap at all.
            await asyncio.sleep(0)
        return page

    async def _take(self, key: ScanKey, number: int, generation: int) -> Page | None:
        ahead = self._ahead.pop(key, None)
        if ahead is None:
            return None
        if (ahead.page != number or ahead.generation != generation
                or self._clock() - ahead.started > self.max_age_s):
            ahead.task.cancel()
            return None
        try:
            page = await asyncio.shield(ahead.task)
        except asyncio.CancelledError:
            if not ahead.task.cancelled():
                raise  # this request was cancelled, not the read-ahead
            return None
        except Exception:
            return None
        if self._generations.get(key[0], 0) != generation:
            return None  # written while it was in flight
        self.served += 1
        return page

    def _remember(self, key: ScanKey, number: int) -> None:
        self._last[key] = number
        self._last.move_to_end(key)
        while len(self._last) > self.max_scans:
            old, _ = self._last.popitem(last=False)
            dropped = self._ahead.pop(old, None)
            if dropped is not None:
                dropped.task.cancel()

    async def close(self) -> None:
        """Cancel what is still in flight (shutdown)."""
        tasks = [a.task for a in self._ahead.values()]
        self._ahead.clear()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


def _consume_error(task: asyncio.Future[Page]) -> None:
    """A read-ahead's failure is nobody's to report: retrieve it so asyncio doesn't log it."""
    if not task.cancelled():
        task.exception()
