"""Groups in the id store: displayName → team hints, and the externalIds teams can't hold.

**displayName.** `displayName:<casefolded name>` → team id is a hint, exactly
like the users' index: the team is re-read and its name compared
case-insensitively before it is trusted; a stale hint is dropped. On a miss
the backend's `name` search answers in one call and the answer is cached.

**externalId.** Workstream teams have no field for it, so the id store is
its only home, and losing Redis loses it. Per org, in the `groups` space:

    ext:<team id>         → the externalId, or "" when the IdP gave none
    externalId:<value>    → team id (a hint for `filter=externalId eq`, checked
                            against ext:<team id> before it is trusted)
    ~epoch                → when this index began (ISO time)

A team without an `ext:` entry while `~epoch` exists never got an externalId
through the gateway (a team made in Workstream directly): it has none. When
`~epoch` is missing the index is new or was lost (Redis flushed, evicted,
replaced), and the two can't be told apart. If the org has no teams yet there
is nothing to lose: the index starts. Otherwise every team without an `ext:`
entry is recorded as *unknown* (space `groups-unknown`) and a WARNING says so.
Then:

- an unknown team is returned without externalId, and a WARNING names it
  (once per team per process);
- `filter=externalId eq "x"` that finds nothing while unknown teams remain
  is answered `503` saying the index was lost (instead of a silent empty list
  that would make the IdP create a duplicate); a hit is still answered;
- the IdP's next write carrying the group's externalId (a PUT, which always
  states it, or a PATCH naming it) restores it and clears the team's unknown
  mark; deleting the team clears it too. When none remain, filters answer
  again;
- the marks only hold for `LOSS_GRACE` after the loss was found (`~lost_at`).
  An IdP that matches groups by externalId retries its lookup on a 503 and may
  never get to the write that would restore it, and teams made in Workstream
  before the gateway existed never had one: after the grace period unknown
  teams count as having no externalId (a WARNING says so), so provisioning
  goes on and a duplicate create still meets the backend's unique team name.

The same happens with Redis down: a lock can't be taken, so the index can't be
checked; externalIds are left out of reads and `externalId eq` misses are `503`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound
from gateway.backend.records import format_timestamp, parse_timestamp
from gateway.idstore import values
from gateway.idstore.base import IdStore, IdStoreError
from gateway.mapping.engine import ResourceMapping
from gateway.observability import metrics

log = logging.getLogger(__name__)

SPACE = "groups"
UNKNOWN = "groups-unknown"
EPOCH = "~epoch"
LOST_AT = "~lost_at"
# How long unknown externalIds block `externalId eq` misses after a loss is found.
LOSS_GRACE = timedelta(hours=1)
DISPLAY_NAME = "displayName"
# How many (org, team) pairs a process remembers having warned about.
WARNED_MAX = 10_000


class IndexLost(Exception):
    """`externalId eq` can't be answered: the index was lost and not yet rebuilt."""

    def __init__(self, unknown: int | None) -> None:
        self.unknown = unknown
        if unknown is None:
            text = "the gateway's id store (Redis) can't be reached"
        else:
            text = (f"the gateway's record of group externalIds was lost (Redis flushed or "
                    f"evicted) and {unknown} group(s) have not been written by the IdP since")
        super().__init__(text)


@dataclass
class ExternalIds:
    """What the index knows of some teams' externalIds."""

    values: dict[int, str] = field(default_factory=dict)  # team id → externalId (only those set)
    lost: set[int] = field(default_factory=set)  # teams whose externalId is unknown


def _now() -> str:
    return format_timestamp(datetime.now(UTC))


def within_grace(lost_at: str | None, now: datetime | None = None) -> bool:
    """Whether unknown marks found at `lost_at` still hold (see LOSS_GRACE)."""
    if not lost_at:
        return False
    found = parse_timestamp(lost_at)
    return (now or datetime.now(UTC)) - found < LOSS_GRACE


def name_key(value: str) -> str:
    return f"{DISPLAY_NAME}:{value.casefold()}"


def ext_key(team_id: int) -> str:
    return f"ext:{team_id}"


def by_external_key(value: str) -> str:
    return f"externalId:{value}"


class GroupIndex:
    def __init__(self, backend: BackendClient, store: IdStore, *, lock_timeout_s: float = 30.0):
        self._backend = backend
        self._store = store
        self._lock_timeout_s = lock_timeout_s
        self._warned: set[tuple[int, int]] = set()

    # ---- displayName ----

    @staticmethod
    def display_name(mapping: ResourceMapping, team: dict) -> str | None:
        value = mapping.to_scim_attributes(team).get(DISPLAY_NAME)
        return value if isinstance(value, str) else None

    def _named(self, mapping: ResourceMapping, team: dict, value: str) -> bool:
        name = self.display_name(mapping, team)
        return name is not None and name.casefold() == value.casefold()

    async def find_by_name(
        self, org_id: int, mapping: ResourceMapping, value: str, search_field: str
    ) -> list[dict]:
        """The team whose displayName equals `value` (case-insensitive), if any.

        `search_field` is the backend list parameter the planner found for
        displayName (it plans a name search only where the backend can answer it).
        """
        key = name_key(value)
        [hint] = await self._store.get_many(org_id, [(SPACE, key)])
        if hint is not None:
            team = await self._team(org_id, key, hint)
            if team is not None and self._named(mapping, team, value):
                return [team]
            log.info("group name hint for org %s was stale; dropped it", org_id)
            await self._store.delete_if_equal(org_id, SPACE, key, hint)
        page = await self._backend.list_teams(org_id, per_page=200, **{search_field: value})
        found = [t for t in page.items if self._named(mapping, t, value)]
        for team in found:
            await self.remember_name(org_id, mapping, team)
        return found

    async def _team(self, org_id: int, key: str, hint: str) -> dict | None:
        team_id = values.record_id(org_id, key, hint)
        if team_id is None:
            return None
        try:
            return await self._backend.get_team(org_id, team_id)
        except BackendNotFound:
            return None

    async def _lost_at(self, org_id: int, raw: str | None) -> str | None:
        """The `~lost_at` mark; a malformed one is dropped (as if no loss was found)."""
        lost_at = values.timestamp(org_id, LOST_AT, raw)
        if raw is not None and lost_at is None:
            await self._store.delete_if_equal(org_id, SPACE, LOST_AT, raw)
        return lost_at

    async def remember_name(self, org_id: int, mapping: ResourceMapping, team: dict) -> None:
        name = self.display_name(mapping, team)
        if name:
            await self._store.put(org_id, {SPACE: {name_key(name): str(team["id"])}})

    async def renamed(
        self, org_id: int, mapping: ResourceMapping, before: dict, after: dict
    ) -> None:
        old, new = self.display_name(mapping, before), self.display_name(mapping, after)
        if new and (old is None or old.casefold() != new.casefold()):
            await self.remember_name(org_id, mapping, after)
            if old:
                await self._store.delete_if_equal(org_id, SPACE, name_key(old), str(before["id"]))

    # ---- externalId ----

    async def external_ids(self, org_id: int, team_ids: Sequence[int]) -> ExternalIds:
        """The externalIds of these teams, and which of them are unknown; one round trip."""
        if not team_ids:
            return ExternalIds()
        lookups = [(SPACE, ext_key(t)) for t in team_ids]
        lookups += [(UNKNOWN, str(t)) for t in team_ids]
        lookups += [(SPACE, EPOCH), (SPACE, LOST_AT)]
        answers = await self._store.get_many(org_id, lookups)
        count = len(team_ids)
        values, unknown = answers[:count], answers[count:2 * count]
        epoch, lost_at = answers[-2], await self._lost_at(org_id, answers[-1])
        if epoch is None:
            try:
                await self.ensure_epoch(org_id)
            except IdStoreError:
                unknown, lost_at = ["store down"] * count, _now()
            else:
                unknown = await self._store.get_many(org_id, [(UNKNOWN, str(t)) for t in team_ids])
                [lost_at] = await self._store.get_many(org_id, [(SPACE, LOST_AT)])
                lost_at = await self._lost_at(org_id, lost_at)
        if not within_grace(lost_at):
            unknown = [None] * count
        out = ExternalIds()
        for team_id, value, mark in zip(team_ids, values, unknown, strict=True):
            if value:
                out.values[team_id] = value
            elif value is None and mark is not None:
                out.lost.add(team_id)
        self._warn(org_id, out.lost)
        return out

    def _warn(self, org_id: int, lost: set[int]) -> None:
        fresh = [t for t in sorted(lost) if (org_id, t) not in self._warned]
        if not fresh:
            return
        if len(self._warned) > WARNED_MAX:
            self._warned.clear()
        self._warned.update((org_id, t) for t in fresh)
        shown = ", ".join(str(t) for t in fresh[:20])
        log.warning(
            "org %s: group(s) %s returned without externalId: the gateway's record of it was "
            "lost (Redis flushed, evicted or unreachable); the IdP's next PUT, or PATCH "
            "carrying externalId, restores it", org_id, shown,
        )

    async def set_external_id(self, org_id: int, team_id: int, new: str | None,
                              old: str | None = None) -> None:
        """Record a team's externalId (None: it has none), replacing `old`."""
        entries = {ext_key(team_id): new or ""}
        if new:
            entries[by_external_key(new)] = str(team_id)
        await self._store.put(org_id, {SPACE: entries})
        await self._store.delete(org_id, {UNKNOWN: [str(team_id)]})
        self._warned.discard((org_id, team_id))
        if old and old != new:
            await self._store.delete_if_equal(org_id, SPACE, by_external_key(old), str(team_id))

    async def forget(self, org_id: int, mapping: ResourceMapping, team: dict) -> None:
        """Drop every entry of a deleted team."""
        team_id = team["id"]
        [ext] = await self._store.get_many(org_id, [(SPACE, ext_key(team_id))])
        await self._store.delete(org_id, {SPACE: [ext_key(team_id)], UNKNOWN: [str(team_id)]})
        if ext:
            await self._store.delete_if_equal(org_id, SPACE, by_external_key(ext), str(team_id))
        name = self.display_name(mapping, team)
        if name:
            await self._store.delete_if_equal(org_id, SPACE, name_key(name), str(team_id))

    async def find_by_external_id(self, org_id: int, value: str) -> int | None:
        """The team id whose externalId is `value` (to be re-read by the caller), or None.

        Raises `IndexLost` when it finds nothing but can't say that nothing exists.
        """
        key = by_external_key(value)
        hint, epoch, lost_at = await self._store.get_many(
            org_id, [(SPACE, key), (SPACE, EPOCH), (SPACE, LOST_AT)])
        lost_at = await self._lost_at(org_id, lost_at)
        if hint is not None:
            team_id = values.record_id(org_id, key, hint)
            if team_id is not None:
                [held] = await self._store.get_many(org_id, [(SPACE, ext_key(team_id))])
                if held == value:
                    return team_id
            await self._store.delete_if_equal(org_id, SPACE, key, hint)
        if epoch is None:
            try:
                await self.ensure_epoch(org_id)
            except IdStoreError:
                raise IndexLost(None) from None
            [lost_at] = await self._store.get_many(org_id, [(SPACE, LOST_AT)])
            lost_at = await self._lost_at(org_id, lost_at)
        if not self._store.answering:
            # One of the reads above failed and came back as a miss: an empty answer
            # would make the IdP create a duplicate.
            raise IndexLost(None)
        if not within_grace(lost_at):
            return None
        unknown = await self._store.count(org_id, UNKNOWN)
        if unknown or not self._store.answering:
            raise IndexLost(unknown or None)
        return None

    async def start(self, org_id: int) -> None:
        """Make sure the index has begun before the gateway creates a team (cheap once begun).

        On an org's first group ever this costs one backend call and spares a
        later read from wondering whether the index was lost.
        """
        [epoch] = await self._store.get_many(org_id, [(SPACE, EPOCH)])
        if epoch is None:
            try:
                await self.ensure_epoch(org_id)
            except IdStoreError:
                log.warning("id store unreachable: group index of org %s not started", org_id)

    async def ensure_epoch(self, org_id: int) -> None:
        """Start the index, or find out it was lost and mark what is now unknown.

        Runs once per org (per loss) under a lock shared by every process.
        Raises `IdStoreError` when the store can't be reached.
        """
        async with self._store.lock(org_id, "groups-index", timeout_s=self._lock_timeout_s):
            [epoch] = await self._store.get_many(org_id, [(SPACE, EPOCH)])
            if epoch is not None:
                return
            started = time.monotonic()
            now = _now()
            first = await self._backend.list_teams(org_id, per_page=1)
            unknown = 0
            if first.total:
                unknown = await self._mark_unknown(org_id, now)
            await self._store.put(
                org_id, {SPACE: {EPOCH: now, **({LOST_AT: now} if unknown else {})}})
            metrics.index_rebuilt("groups", "start", time.monotonic() - started)
            if unknown:
                log.warning(
                    "org %s: the group index is empty but the org has teams: Redis lost it, or "
                    "this is the gateway's first look at teams made in Workstream. %d team(s) "
                    "have an unknown externalId until the IdP writes them (PUT, or PATCH "
                    "carrying externalId), or for %s at most", org_id, unknown, LOSS_GRACE,
                )

    async def _mark_unknown(self, org_id: int, now: str) -> int:
        marked = 0
        batch: list[int] = []

        async def flush() -> int:
            held = await self._store.get_many(org_id, [(SPACE, ext_key(t)) for t in batch])
            missing = [t for t, v in zip(batch, held, strict=True) if v is None]
            await self._store.put(org_id, {UNKNOWN: {str(t): now for t in missing}})
            batch.clear()
            return len(missing)

        async for team in self._backend.iter_teams(org_id, per_page=200):
            batch.append(team["id"])
            if len(batch) >= 1000:
                marked += await flush()
        if batch:
            marked += await flush()
        return marked
