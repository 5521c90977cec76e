"""Groups' lookups: displayName → team hints in the id store, externalIds in the state database.

**displayName.** `displayName:<casefolded name>` → team id is a hint, exactly
like the users' index: the team is re-read and its name compared
case-insensitively before it is trusted; a stale hint is dropped. On a miss
the backend's `name` search answers in one call and the answer is cached.

**externalId.** Workstream teams have no field for it, so the state database
holds it (`gateway.state.group_external_ids`): that is the truth, and the id
store only caches it, per org, in the `groups` space:

    ext:<team id>         → the externalId, or "" when the team has none
    externalId:<value>    → team id (a hint, checked against ext:<team id>)

A cache miss (Redis flushed, evicted, replaced or down) is answered from the
database, so `filter=externalId eq` is right at once after a Redis loss. A
change of a team's externalId drops its cache entries before the database is
written (if the id store can't be reached the write is refused, so no stale
entry can outlive it) and refills them after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound
from gateway.idstore import values
from gateway.idstore.base import IdStore, IdStoreError, IdStoreUnavailable
from gateway.mapping.engine import ResourceMapping
from gateway.state import StateDB
from gateway.state.group_external_ids import GroupExternalIds

log = logging.getLogger(__name__)

SPACE = "groups"
DISPLAY_NAME = "displayName"


@dataclass
class ExternalIds:
    """What the index knows of some teams' externalIds."""

    values: dict[int, str] = field(default_factory=dict)  # team id → externalId (only those set)


def name_key(value: str) -> str:
    return f"{DISPLAY_NAME}:{value.casefold()}"


def ext_key(team_id: int) -> str:
    return f"ext:{team_id}"


def by_external_key(value: str) -> str:
    return f"externalId:{value}"


class GroupIndex:
    def __init__(self, backend: BackendClient, store: IdStore, state: StateDB) -> None:
        self._backend = backend
        self._store = store
        self._rows = GroupExternalIds(state)

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
        """The externalIds of these teams: the cache, then one query for what it lacks."""
        if not team_ids:
            return ExternalIds()
        try:
            cached = await self._store.get_many(org_id, [(SPACE, ext_key(t)) for t in team_ids])
        except IdStoreError:
            cached = [None] * len(team_ids)
        out = ExternalIds({t: v for t, v in zip(team_ids, cached, strict=True) if v})
        missing = [t for t, v in zip(team_ids, cached, strict=True) if v is None]
        if missing:
            found = await self._rows.get_many(org_id, missing)
            out.values.update(found)
            await self._cache(org_id, {ext_key(t): found.get(t, "") for t in missing})
        return out

    async def _cache(self, org_id: int, entries: dict[str, str]) -> None:
        """Best effort: a cache that can't be written is only a slower next read."""
        try:
            await self._store.put(org_id, {SPACE: entries})
        except IdStoreError as exc:
            log.info("id store unreachable; group externalIds of org %s not cached: %s",
                     org_id, exc)

    async def set_external_id(self, org_id: int, team_id: int, new: str | None,
                              old: str | None = None) -> None:
        """Record a team's externalId (None: it has none), replacing `old`."""
        stale = [ext_key(team_id)] + [by_external_key(v) for v in (old, new) if v]
        # Cache entries first: if the id store is down this refuses before anything changes.
        await self._store.delete(org_id, {SPACE: stale})
        taken = await self._rows.set(org_id, team_id, new)
        entries = {ext_key(team_id): new or ""}
        if new:
            entries[by_external_key(new)] = str(team_id)
        await self._cache(org_id, entries)
        if taken:
            log.warning("org %s: externalId of group(s) %s moved to group %s (unique per org)",
                        org_id, ", ".join(map(str, taken)), team_id)
            try:
                await self._store.delete(org_id, {SPACE: [ext_key(t) for t in taken]})
            except IdStoreError:
                log.warning("id store unreachable; cached externalIds of org %s may be stale",
                            org_id)

    async def check_writable(self) -> None:
        """Refuse (503) before a backend write whose externalId could not then be recorded,
        or whose cached entries could not be dropped (they would outlive the change)."""
        if not self._store.answering:
            raise IdStoreUnavailable("the id store is not answering: group externalIds can't "
                                     "be changed now")
        await self._rows.check_writable()

    async def forget(self, org_id: int, mapping: ResourceMapping, team: dict) -> None:
        """Drop every entry of a deleted team."""
        team_id = team["id"]
        held = (await self._rows.get_many(org_id, [team_id])).get(team_id)
        await self._rows.forget(org_id, team_id)
        try:
            await self._store.delete(org_id, {SPACE: [ext_key(team_id)]})
            if held:
                await self._store.delete_if_equal(org_id, SPACE, by_external_key(held),
                                                  str(team_id))
            name = self.display_name(mapping, team)
            if name:
                await self._store.delete_if_equal(org_id, SPACE, name_key(name), str(team_id))
        except IdStoreError:
            # A stale hint is harmless: it is checked, and the team re-read, before use.
            log.info("id store unreachable; cache entries of deleted group %s of org %s left",
                     team_id, org_id)

    async def find_by_external_id(self, org_id: int, value: str) -> int | None:
        """The team id whose externalId is `value` (to be re-read by the caller), or None."""
        try:
            key = by_external_key(value)
            [hint] = await self._store.get_many(org_id, [(SPACE, key)])
            team_id = values.record_id(org_id, key, hint)
            if team_id is not None:
                [held] = await self._store.get_many(org_id, [(SPACE, ext_key(team_id))])
                if held == value:
                    return team_id
        except IdStoreError:
            pass  # the database answers alone
        found = await self._rows.find(org_id, value)
        if found is not None:
            await self._cache(org_id, {by_external_key(value): str(found),
                                       ext_key(found): value})
        return found
