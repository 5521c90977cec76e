"""Groups' lookups: displayName → team hints in the id store, externalIds in the state database.

**displayName.** `displayName:<casefolded name>` → team id is a hint, exactly
like the users' index: the team is re-read and its name compared
case-insensitively before it is trusted; a stale hint is dropped. On a miss
the backend's `name` search answers in one call and the answer is cached.

**externalId.** Workstream teams have no field for it, so the state database
holds it (`gateway.state.group_external_ids`), and reads go there: one indexed
query per request (a page of teams, or one `externalId eq`), never a scan. Redis
is not involved at all, so a Redis flush, eviction or outage changes no answer
and no cached entry can go stale when a write meets a Redis fault (the id store
answers failures as misses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound
from gateway.idstore import values
from gateway.idstore.base import IdStore
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.state import StateDB
from gateway.state.group_external_ids import GroupExternalIds

log = logging.getLogger(__name__)

SPACE = "groups"
DISPLAY_NAME = "displayName"
EXTERNAL_ID = "externalId"
# SCIM attributes the gateway indexes for groups (the query planner looks them up there).
INDEXED = (EXTERNAL_ID,)


@dataclass
class ExternalIds:
    """What the index knows of some teams' externalIds."""

    values: dict[int, str] = field(default_factory=dict)  # team id → externalId (only those set)


def name_key(value: str) -> str:
    return f"{DISPLAY_NAME}:{value.casefold()}"


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
        search: dict[str, Any] = {search_field: value}
        page = await self._backend.list_teams(org_id, per_page=200, **search)
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
        """The externalIds of these teams: one indexed query, whatever Redis is doing."""
        if not team_ids:
            return ExternalIds()
        return ExternalIds(await self._rows.get_many(org_id, team_ids))

    async def set_external_id(self, org_id: int, team_id: int, new: str | None,
                              old: str | None = None) -> None:
        """Record a team's externalId (None: it has none), replacing `old`."""
        taken = await self._rows.set(org_id, team_id, new)
        if taken:
            log.warning("org %s: externalId of group(s) %s moved to group %s (unique per org)",
                        org_id, ", ".join(map(str, taken)), team_id)

    async def check_writable(self) -> None:
        """Refuse (503) before a backend write whose externalId could not then be recorded."""
        await self._rows.check_writable()

    async def forget(self, org_id: int, mapping: ResourceMapping, team: dict) -> None:
        """Drop every entry of a deleted team."""
        team_id = team["id"]
        await self._rows.forget(org_id, team_id)
        name = self.display_name(mapping, team)
        if name:
            # A stale hint is harmless (checked before use); a store not answering skips it.
            await self._store.delete_if_equal(org_id, SPACE, name_key(name), str(team_id))

    async def find_by_external_id(self, org_id: int, value: str) -> int | None:
        """The team id whose externalId is `value` (to be re-read by the caller), or None."""
        return await self._rows.find(org_id, value)
