"""Rebuilding one org's user index from a walk over every person.

One code path for the three that read a whole org: the gateway's background
build of an org never indexed, `workstream-admin reindex`, and
`workstream-admin reconcile --fix-index` (which walks the org at its own pace
and hands the pages over). The walk is compared with the rows page by page, so
memory holds the ids of the people read, not the org's index:

- a key someone carries and no row has is *added*;
- a row naming someone else for it is *fixed* (reported as a wrong entry);
- a row naming a person read for a key they no longer carry, and nobody read
  carries, is *removed* at the end, as is every row naming someone not read.

Applied (the default), each page's rows are forced (a walk reads everyone
afresh), the Redis hints refreshed, and at the end the stale rows dropped and
the org's mark set to the walk's watermark; a dry run only counts. Several
people carrying one key is drift `reconcile` reports: the first read keeps it.
An org with no rows at all when the walk begins (its first build) has nothing
to compare: its pages are only written, every key counted as added.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.idstore.base import IdStore
from gateway.mapping.ids import to_scim_id
from gateway.provisioning.index_watermark import Reading
from gateway.state.user_index_entries import Claim, UserIndexEntries

SPACE = "users"
_ABSENT = object()


@dataclass
class RebuildCounts:
    """What a rebuild read and changed (or, in a dry run, would change)."""

    org: int
    people: int = 0
    added: int = 0
    fixed: int = 0
    removed: int = 0
    entries: int = 0  # rows the org's index holds at the end
    seconds: float = 0.0
    watermark: str = ""


class Rebuild:
    """Feed it every page of the org (`add`), then `finish`."""

    def __init__(self, rows: UserIndexEntries, store: IdStore, org_id: int,
                 claims_of: Callable[[dict], dict[str, Claim]], *, apply: bool = True,
                 check_hints: bool = False,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rows = rows
        self._store = store
        self._org = org_id
        self._claims_of = claims_of
        self.apply = apply
        self._check_hints = check_hints
        self.counts = RebuildCounts(org_id)
        # key → (the id a row or Redis hint names, the id of who carries the key)
        self.wrong: dict[str, tuple[str, str]] = {}
        self._seen: set[int] = set()
        self._stale: dict[str, int] = {}  # rows naming a person read who no longer carries it
        self._fixed: set[str] = set()  # (a dry run leaves those rows as they were)
        self._reading = Reading(monotonic=monotonic)
        self._started = time.monotonic()
        self._fresh: bool | None = None  # no rows at all when the walk began

    async def add(self, records: list[dict]) -> None:
        """Compare one page of people with the rows (and hints) for them."""
        self._reading.saw(records)
        self.counts.people += len(records)
        claims: dict[str, Claim] = {}
        ids = {record["id"] for record in records}
        for record in records:
            for key, claim in self._claims_of(record).items():
                claims.setdefault(key, claim)
        if self._fresh is None:
            self._fresh = self.apply and await self._rows.count(self._org) == 0
        held = {} if self._fresh else await self._rows.rows(self._org, claims.keys(), ids)
        write: dict[str, Claim] = {}
        duplicates = set()
        for key, claim in claims.items():
            named = held.get(key, _ABSENT)
            if named == claim.user_id:
                continue
            if named is _ABSENT:
                self.counts.added += 1
            elif key not in self._stale and named in self._seen:
                duplicates.add(key)  # someone read earlier carries it too: not a fix
                continue
            else:
                self._stale.pop(key, None)
                self._fixed.add(key)
                self.counts.fixed += 1
                self.wrong[key] = (str(named), to_scim_id(claim.user_id))
            write[key] = claim
        for key, named in held.items():
            if (isinstance(named, int) and named in ids and key not in claims
                    and key not in self._fixed):  # (a dry run leaves a fixed row as it was)
                self._stale[key] = named  # dropped at the end, unless someone read carries it
        self._seen.update(ids)
        hints = {key: to_scim_id(claim.user_id) for key, claim in claims.items()
                 if key not in duplicates}
        if self._check_hints and hints:
            await self._compare_hints(hints)
        if self.apply:
            await self._rows.put(self._org, write, force=True)
            await self._store.put(self._org, {SPACE: hints})

    async def _compare_hints(self, hints: dict[str, str]) -> None:
        keys = list(hints)
        found = await self._store.get_many(self._org, [(SPACE, key) for key in keys])
        for key, stored in zip(keys, found, strict=True):
            if stored is not None and stored != hints[key]:
                self.wrong.setdefault(key, (stored, hints[key]))

    async def finish(self) -> RebuildCounts:
        """Drop the rows nobody read carries, set the mark; the counts."""
        gone = list(self._stale.items())
        after: str | None = None
        while page := await self._rows.page(self._org, after):
            after = page[-1][0]
            gone += [(key, user) for key, user in page if user is not None
                     and user not in self._seen and key not in self._stale
                     and key not in self._fixed]
        self.counts.removed = len(gone)
        self.counts.watermark = self._reading.watermark()
        if self.apply:
            for i in range(0, len(gone), 1000):
                await self._rows.drop(self._org, gone[i:i + 1000])
            for key, user in gone:
                await self._store.delete_if_equal(self._org, SPACE, key, to_scim_id(user))
            await self._rows.set_mark(self._org, self.counts.watermark, self.counts.people)
            await self._rows.analyze()
        self.counts.entries = await self._rows.count(self._org)
        self.counts.seconds = round(time.monotonic() - self._started, 2)
        return self.counts
