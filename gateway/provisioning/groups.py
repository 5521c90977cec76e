"""Group use cases on Workstream teams: create, read, list, replace, patch, delete.

A group is a team: its attributes go through the org's Group mapping (a
versioned team record), its externalId lives in the state database, cached
in the id store (`group_index`: the backend has nowhere to keep it), and its members are the
team's memberships, which the backend changes with unversioned add/remove
calls of at most 100 ids.

Cost rules:

- adding or removing members touches only the ids named: one backend call
  per 100 ids whatever the group's size, no member list read, no lock
  (adds and removes commute at the backend);
- a replace (PUT, or PATCH `replace members`) reads the current members once,
  page by page, and sends only the difference, under the id store's
  distributed lock `group:<id>` so that two replaces can't interleave their
  read-modify-write (a lost update);
- reads never load members unless they are asked for, and then hand them out
  page by page (`member_pages`) so the web layer can stream them.

All-or-nothing: every id to be added is known to be a person of the org before
anything changes. A single add call of at most 100 ids is its own check (the
backend refuses it whole); anything bigger, or an add that follows a rename,
is checked first (`member_check`). Removing an id that isn't a member (or
isn't anyone) is a success: IdPs retry removals.

Deleting a group deletes the team and its memberships; the people stay.

A group's `meta.version` is the team's lock_version: it covers the team's
attributes, not its members (the backend doesn't version memberships), so
`If-Match` guards renames and is checked before membership changes, but
an unchanged version doesn't mean unchanged members.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from gateway.audit import notes as audit
from gateway.backend.client import MAX_MEMBER_IDS, BackendClient, Page, pages
from gateway.backend.errors import BackendInvalid, BackendNotFound, BackendStale
from gateway.idstore.base import IdStore, IdStoreUnavailable, LockTimeout
from gateway.mapping.conversion import changed_fields
from gateway.mapping.ids import from_scim_id, to_scim_id
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.provisioning.backend_errors import (
    WRITE_ATTEMPTS,
    backend_errors,
    check_precondition,
    stale,
)
from gateway.provisioning.context import OrgContext
from gateway.provisioning.group_index import EXTERNAL_ID, INDEXED, ExternalIds, GroupIndex
from gateway.provisioning.group_patch import MembershipChange, member_values, split_operations
from gateway.provisioning.listing import (
    SCAN_PAGE_SIZE,
    ListResult,
    Window,
    backend_window,
    bounded_pages,
    checked_sort_key,
    sort_resources,
)
from gateway.provisioning.member_check import MemberCheck
from gateway.provisioning.planner import Lookup, plan, union_by_id
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, matches
from gateway.scim.filter import And, AttrPath, Filter, Not, Or
from gateway.scim.patch import apply_patch
from gateway.scim.versions import Versions
from gateway.state import StateDB
from gateway.state.scim_unlinks import ScimUnlinks

log = logging.getLogger(__name__)

PER_PAGE = SCAN_PAGE_SIZE
# A scan above max_scan is refused with this (formatted with total and limit).
TOO_MANY_GROUPS = ("This query would scan {total} groups, more than the limit of {limit}; "
                   "filter by displayName, externalId or id instead")


@dataclass(frozen=True)
class Written:
    """A group after a create or replace, and the member ids it now has (SCIM ids)."""

    resource: dict
    members: builtins.list[str]


def _batches(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i:i + MAX_MEMBER_IDS]) for i in range(0, len(ids), MAX_MEMBER_IDS)]


class GroupService:
    def __init__(self, backend: BackendClient, store: IdStore, state: StateDB, *,
                 max_scan: int, lock_timeout_s: float = 20.0, max_lookups: int = 50,
                 lookup_concurrency: int = 4, unlinks: ScimUnlinks | None = None) -> None:
        self._backend = backend
        # People unlinked from SCIM keep their memberships, hidden (see _hidden).
        self.unlinks = unlinks
        self._store = store
        self._max_scan = max_scan
        self._max_lookups = max_lookups
        self._lookup_concurrency = lookup_concurrency
        self._lock_timeout_s = lock_timeout_s
        self.index = GroupIndex(backend, store, state)
        self.check = MemberCheck(backend)

    # ---- reads ----

    @staticmethod
    def _team_id(scim_id: str) -> int:
        team_id = from_scim_id(scim_id)
        if team_id is None:
            raise ScimError(404, f"Group {scim_id} not found")
        return team_id

    async def _team(self, ctx: OrgContext, scim_id: str) -> dict:
        team_id = self._team_id(scim_id)
        with backend_errors(ctx.mappings.group, f"Group {scim_id}"):
            return await self._backend.get_team(ctx.org_id, team_id)

    async def _render(self, ctx: OrgContext, teams: builtins.list[dict]) -> builtins.list[dict]:
        """SCIM resources (no members) for team records, externalIds from the index."""
        with backend_errors(ctx.mappings.group, "Groups"):
            known = await self.index.external_ids(ctx.org_id, [t["id"] for t in teams])
        return [self._resource(ctx, team, known) for team in teams]

    @staticmethod
    def _resource(ctx: OrgContext, team: dict, known: ExternalIds) -> dict:
        resource = ctx.mappings.group.to_scim(team, ctx.base_url)
        external = known.values.get(team["id"])
        if external is None:
            return resource
        out: dict = {}
        for key, value in resource.items():
            out[key] = value
            if key == "id":
                out[EXTERNAL_ID] = external
        return out

    async def get(self, ctx: OrgContext, scim_id: str) -> dict:
        """The group without members (see `member_pages`)."""
        team = await self._team(ctx, scim_id)
        return (await self._render(ctx, [team]))[0]

    async def _hidden(self, ctx: OrgContext) -> frozenset[int]:
        """People unlinked from SCIM: still team members in Workstream, never shown as
        members, never added or removed through SCIM (they are not users to the IdP)."""
        if self.unlinks is None:
            return frozenset()
        return await self.unlinks.ids(ctx.org_id)

    async def member_pages(
        self, ctx: OrgContext, scim_id: str
    ) -> AsyncGenerator[builtins.list[str], None]:
        """The group's member ids, one backend page at a time (never all held at once)."""
        team_id = self._team_id(scim_id)
        hidden = await self._hidden(ctx)
        with backend_errors(ctx.mappings.group, f"Group {scim_id}"):
            async for page in self._member_pages(ctx, team_id):
                yield [to_scim_id(m["employee_id"]) for m in page.items
                       if m["employee_id"] not in hidden]

    def _member_pages(self, ctx: OrgContext, team_id: int) -> AsyncIterator[Page]:
        return pages(lambda number: self._backend.list_members(
            ctx.org_id, team_id, page=number, per_page=PER_PAGE))

    async def _member_ids(self, ctx: OrgContext, team_id: int) -> dict[int, None]:
        """Every current member (backend ids, in order) for a diff."""
        out: dict[int, None] = {}
        async for page in self._member_pages(ctx, team_id):
            out.update((m["employee_id"], None) for m in page.items)
        return out

    # ---- listing ----

    async def list(
        self, ctx: OrgContext, node: Filter | None, window: Window,
        sort_by: str | None = None, descending: bool = False,
    ) -> ListResult:
        mapping = ctx.mappings.group
        if node is not None:
            check_filter(node, mapping.advertised)
            if _names_members(node):
                raise ScimError(400, "Groups can't be filtered by members; filter by "
                                     "displayName, externalId or id", "invalidFilter")
        if sort_by is not None:
            checked_sort_key(sort_by, mapping.rtype)
        # Teams can't be listed by anything but name, so only point lookups help: any
        # other filter is evaluated over every team.
        lookups = plan(node, mapping, INDEXED, self._max_lookups).lookups
        with backend_errors(mapping, "Groups"):
            if lookups is not None:
                teams = await self._lookup(ctx, lookups)
                resources = self._matching(ctx, await self._render(ctx, teams), node)
            elif node is None and sort_by is None:
                return await self._backend_page(ctx, window)
            else:
                resources = await self._scan(ctx, node)
        if sort_by is not None:
            resources = sort_resources(resources, sort_by, descending, mapping.rtype)
        return ListResult(len(resources), window.slice(resources))

    def _matching(
        self, ctx: OrgContext, resources: builtins.list[dict], node: Filter | None
    ) -> builtins.list[dict]:
        if node is None:
            return resources
        # externalIds come from the state database, so a Redis fault can't shorten this.
        return [r for r in resources if matches(node, r, ctx.mappings.group.rtype)]

    async def _lookup(
        self, ctx: OrgContext, lookups: builtins.list[Lookup]
    ) -> builtins.list[dict]:
        return await union_by_id(lookups, lambda lookup: self._one_lookup(ctx, lookup),
                                 self._lookup_concurrency)

    async def _one_lookup(self, ctx: OrgContext, lookup: Lookup) -> builtins.list[dict]:
        if lookup.kind == "search":
            return await self.index.find_by_name(ctx.org_id, ctx.mappings.group, lookup.value,
                                                 lookup.attr)
        if lookup.kind == "index":  # externalId, the only attribute indexed for groups
            found = await self.index.find_by_external_id(ctx.org_id, lookup.value)
            if found is None:
                return []
            try:
                return [await self._backend.get_team(ctx.org_id, found)]
            except BackendNotFound:
                await self.index.forget(ctx.org_id, ctx.mappings.group, {"id": found})
                return []
        backend_id = from_scim_id(lookup.value)
        if backend_id is None:
            return []
        try:
            return [await self._backend.get_team(ctx.org_id, backend_id)]
        except BackendNotFound:
            return []

    async def _backend_page(self, ctx: OrgContext, window: Window) -> ListResult:
        """The backend pages for us: one call (two at most) whatever the org's size.

        The resources come without members (the web layer streams them when asked).
        """
        total, teams = await backend_window(
            lambda **page: self._backend.list_teams(ctx.org_id, **page), window)
        return ListResult(total, await self._render(ctx, teams))

    async def _scan(self, ctx: OrgContext, node: Filter | None) -> builtins.list[dict]:
        """Evaluate `node` over every team, refusing oversized scans."""
        out: builtins.list[dict] = []
        pages = bounded_pages(lambda **page: self._backend.list_teams(ctx.org_id, **page),
                              self._max_scan, TOO_MANY_GROUPS)
        async for teams in pages:
            out += self._matching(ctx, await self._render(ctx, teams), node)
        return out

    # ---- writes ----

    async def create(self, ctx: OrgContext, body: dict) -> Written:
        mapping = ctx.mappings.group
        members = member_values(body.get("members") or [], "members")
        ids = _to_add(members)
        _refuse_hidden(ids, await self._hidden(ctx))
        fields = mapping.to_backend(body)
        audit.target("group", name=body.get("displayName"))
        audit.action("group_create", *(["member_add"] if ids else []))
        audit.changes(mapping, {}, fields)
        audit.members(added=ids)
        with backend_errors(mapping, "Group"):
            await self._refuse_unknown(ctx, ids)
            if _external_id(body):
                await self.index.check_writable()
            team = await self._backend.create_team(
                ctx.org_id, fields, idempotency_key=str(uuid.uuid4()))
            audit.target("group", team["id"])
            for batch in _batches(ids):
                await self._backend.add_members(ctx.org_id, team["id"], batch)
        await self.index.remember_name(ctx.org_id, mapping, team)
        external = _external_id(body)
        await self.index.set_external_id(ctx.org_id, team["id"], external)
        known = ExternalIds({team["id"]: external} if external else {})
        return Written(self._resource(ctx, team, known), [to_scim_id(i) for i in ids])

    async def replace(
        self, ctx: OrgContext, scim_id: str, body: dict, if_match: Versions | None
    ) -> Written:
        """PUT: the group becomes `body`, members included (the difference is sent)."""
        team_id = self._team_id(scim_id)
        target = _to_add(member_values(body.get("members") or [], "members"))
        change = MembershipChange()
        change.replace_all([to_scim_id(i) for i in target])
        resource = await self._write(
            ctx, scim_id, if_match, change, lambda current: body, external_given=True)
        return Written(resource or await self.get(ctx, to_scim_id(team_id)),
                       [to_scim_id(i) for i in target])

    async def patch(
        self, ctx: OrgContext, scim_id: str, operations: builtins.list[dict],
        if_match: Versions | None, *, want_resource: bool,
    ) -> dict | None:
        """PATCH; the resource (no members) only when `want_resource`, else None."""
        rtype = ctx.mappings.group.rtype
        attribute_ops, change = split_operations(operations, rtype)
        names_external = any(_mentions_external_id(op) for _, op in attribute_ops)

        def patched(current: dict) -> dict:
            out = current
            for index, op in attribute_ops:
                try:
                    out = apply_patch(out, [op], rtype)
                except ScimError as error:
                    detail = error.detail.removeprefix("Operations[0]: ")
                    raise ScimError(error.status, f"Operations[{index}]: {detail}",
                                    error.scim_type) from None
            return out

        resource = await self._write(
            ctx, scim_id, if_match, change, patched if attribute_ops else None,
            external_given=names_external)
        if not want_resource:
            return None
        return resource or await self.get(ctx, scim_id)

    async def delete(self, ctx: OrgContext, scim_id: str, if_match: Versions | None) -> None:
        """The team and its memberships go; the people stay."""
        team = await self._team(ctx, scim_id)
        audit.target("group", team["id"],
                     ctx.mappings.group.to_scim_attributes(team).get("displayName"))
        audit.action("group_delete")
        check_precondition(team, if_match, f"Group {scim_id}")
        await self.index.check_writable()
        with backend_errors(ctx.mappings.group, f"Group {scim_id}"):
            await self._backend.delete_team(ctx.org_id, team["id"])
        await self.index.forget(ctx.org_id, ctx.mappings.group, team)

    # ---- the write path shared by PUT and PATCH ----

    async def _write(
        self, ctx: OrgContext, scim_id: str, if_match: Versions | None, change: MembershipChange,
        target: Callable[[dict], dict] | None, *, external_given: bool,
    ) -> dict | None:
        """Attributes first (a rename may fail), then adds, then removes.

        Returns the resource when the attributes were read (else None).
        """
        team_id = self._team_id(scim_id)
        if change.empty:
            return await self._write_unlocked(
                ctx, scim_id, team_id, if_match, change, target, external_given)
        # Every membership change holds the group's lock, so a replace (which
        # reads the members, then sends the difference) never interleaves with
        # an add or remove from another process. Adds and removes alone commute,
        # so they go on unlocked if the store can't be reached.
        async with self._group_lock(ctx, scim_id, team_id,
                                    required=change.replace is not None):
            return await self._write_unlocked(
                ctx, scim_id, team_id, if_match, change, target, external_given)

    async def _write_unlocked(
        self, ctx: OrgContext, scim_id: str, team_id: int, if_match: Versions | None,
        change: MembershipChange, target: Callable[[dict], dict] | None, external_given: bool,
    ) -> dict | None:
        mapping = ctx.mappings.group
        what = f"Group {scim_id}"
        team = attrs = None
        audit.target("group", team_id)
        with backend_errors(mapping, what):
            touches = target is not None or if_match is not None or change.replace is not None
            if touches or (not change.add and not _to_remove(list(change.remove))):
                team = await self._backend.get_team(ctx.org_id, team_id)
                check_precondition(team, if_match, f"Group {scim_id}")
            if target is not None and team is not None:
                attrs = await self._attribute_change(ctx, team, target, external_given)
            if change.replace is not None:
                current = await self._member_ids(ctx, team_id)
                wanted = _to_add(list(change.replace))
                adds = [i for i in wanted if i not in current]
                keep = set(wanted)
                removes = [i for i in current if i not in keep]
                named = wanted
            else:
                adds = named = _to_add(list(change.add))
                removes = _to_remove(list(change.remove))
            hidden = await self._hidden(ctx)
            if hidden:
                _refuse_hidden(named, hidden)
                removes = [i for i in removes if i not in hidden]
            _note_group_write(mapping, team, attrs, adds, removes)
            renaming = attrs is not None and bool(attrs.fields)
            if renaming or len(adds) > MAX_MEMBER_IDS:
                await self._refuse_unknown(ctx, adds)
            if attrs is not None and team is not None and target is not None:
                team = await self._apply_attributes(ctx, scim_id, team, attrs, target, if_match)
            await self._add(ctx, team_id, adds)
            for batch in _batches(removes):
                await self._backend.remove_members(ctx.org_id, team_id, batch)
        if attrs is None or team is None:
            return None
        with backend_errors(mapping, what):  # a lost index is checked against the backend
            known = await self.index.external_ids(ctx.org_id, [team_id])
        return self._resource(ctx, team, known)

    async def _add(self, ctx: OrgContext, team_id: int, adds: builtins.list[int]) -> None:
        """Add in batches; a refused single batch names the unknown ids (nothing was added)."""
        for batch in _batches(adds):
            try:
                await self._backend.add_members(ctx.org_id, team_id, batch)
            except BackendInvalid:
                await self._refuse_unknown(ctx, batch)
                raise

    async def _refuse_unknown(self, ctx: OrgContext, ids: builtins.list[int]) -> None:
        """400 naming every id that is not a person of this org."""
        if not ids:
            return
        unknown = await self.check.unknown(ctx.org_id, ids)
        if unknown:
            raise _unknown_members([to_scim_id(i) for i in unknown])

    @asynccontextmanager
    async def _group_lock(
        self, ctx: OrgContext, scim_id: str, team_id: int, *, required: bool = True
    ) -> AsyncIterator[None]:
        """Hold the group's lock around the block; the lock sees how the block ended."""
        lock = self._store.lock(ctx.org_id, f"group:{team_id}", timeout_s=self._lock_timeout_s)
        async with AsyncExitStack() as held:
            try:
                await held.enter_async_context(lock)
            except LockTimeout:
                raise ScimError(503, f"Another change to Group {scim_id} is still in progress; "
                                     "retry later", retry_after=5) from None
            except IdStoreUnavailable:
                if required:
                    log.error("id store unreachable: can't lock Group %s of org %s for a "
                              "replace", scim_id, ctx.org_id)
                    raise ScimError(503, "The gateway can't lock the group for this change "
                                         "right now; retry later", retry_after=10) from None
                log.warning("id store unreachable: changing Group %s of org %s without its "
                            "lock (adds and removes commute; no replace can run meanwhile)",
                            scim_id, ctx.org_id)
            yield

    # ---- attributes ----

    async def _attribute_change(
        self, ctx: OrgContext, team: dict, target: Callable[[dict], dict], external_given: bool,
    ) -> _Attributes:
        mapping = ctx.mappings.group
        known = await self.index.external_ids(ctx.org_id, [team["id"]])
        current = self._resource(ctx, team, known)
        audit.target("group", team["id"], current.get("displayName"))
        wanted = target(current)
        fields = changed_fields(mapping.to_backend(wanted, previous=current), team)
        old = current.get(EXTERNAL_ID)
        new = _external_id(wanted)
        write_external = new != old
        return _Attributes(fields, write_external, new, old)

    async def _apply_attributes(
        self, ctx: OrgContext, scim_id: str, team: dict, attrs: _Attributes,
        target: Callable[[dict], dict], if_match: Versions | None,
    ) -> dict:
        """One team PATCH guarded by its lock_version (re-read and retried when stale)."""
        before = team
        if attrs.write_external:
            await self.index.check_writable()  # else the team changes and its externalId not
        for attempt in range(WRITE_ATTEMPTS):
            if not attrs.fields:
                break
            try:
                team = await self._backend.update_team(
                    ctx.org_id, team["id"], attrs.fields, if_match=team["lock_version"])
                break
            except BackendStale:
                if if_match is not None or attempt == WRITE_ATTEMPTS - 1:
                    raise stale(f"Group {scim_id}") from None
                log.info("group %s changed while being written; retrying", scim_id)
                team = await self._backend.get_team(ctx.org_id, team["id"])
                fresh = await self._attribute_change(ctx, team, target, True)
                attrs = replace(attrs, fields=fresh.fields)
        await self.index.renamed(ctx.org_id, ctx.mappings.group, before, team)
        if attrs.write_external:
            await self.index.set_external_id(ctx.org_id, team["id"], attrs.external,
                                             attrs.previous)
        return team


def _note_group_write(mapping: ResourceMapping, team: dict | None, attrs: _Attributes | None,
                      adds: list[int], removes: list[int]) -> None:
    """For the audit trail: a rename or other attribute change, member adds and removes."""
    if attrs is not None and team is not None and (attrs.fields or attrs.write_external):
        renamed = any((f := mapping.field_for_backend(name)) is not None
                      and f.spec.scim == "displayName" for name in attrs.fields)
        audit.action("group_rename" if renamed else "group_update")
        audit.changes(mapping, team, attrs.fields)
        if attrs.write_external:
            audit.changes(mapping, {EXTERNAL_ID: attrs.previous}, {EXTERNAL_ID: attrs.external})
    if adds:
        audit.action("member_add")
    if removes:
        audit.action("member_remove")
    audit.members(added=adds, removed=removes)
    if attrs is None and not adds and not removes:
        audit.action("group_update")  # nothing to change: still what the IdP asked


@dataclass(frozen=True)
class _Attributes:
    fields: dict  # backend fields that change
    write_external: bool
    external: str | None
    previous: str | None


def _external_id(resource: dict) -> str | None:
    value = resource.get(EXTERNAL_ID)
    return value if isinstance(value, str) and value else None


def _mentions_external_id(op: Any) -> bool:
    if not isinstance(op, dict):
        return False
    path = op.get("path")
    if isinstance(path, str) and path.strip().casefold() == EXTERNAL_ID.casefold():
        return True
    value = op.get("value")
    return isinstance(value, dict) and any(
        isinstance(k, str) and k.casefold() == EXTERNAL_ID.casefold() for k in value)


def _to_add(members: list[str]) -> list[int]:
    """Backend ids of members to add; an id that can't be anyone's is a 400 naming it."""
    ids: dict[int, None] = {}
    bad: list[str] = []
    for member in members:
        backend_id = from_scim_id(member)
        if backend_id is None:
            bad.append(member)
        else:
            ids[backend_id] = None
    if bad:
        raise _unknown_members(bad)
    return list(ids)


def _refuse_hidden(ids: list[int], hidden: frozenset[int]) -> None:
    """An unlinked person is no user to SCIM: naming one as a member is a 400."""
    named = [to_scim_id(i) for i in ids if i in hidden]
    if named:
        raise _unknown_members(named)


def _to_remove(members: list[str]) -> list[int]:
    """Backend ids of members to remove; an id that can't be anyone's is already absent."""
    return [i for m in members if (i := from_scim_id(m)) is not None]


def _unknown_members(ids: list[str]) -> ScimError:
    shown = ", ".join(f'"{i}"' for i in ids[:20])
    more = f" and {len(ids) - 20} more" if len(ids) > 20 else ""
    return ScimError(400, f"members {shown}{more} are not users of this organization; "
                          "nothing was changed", "invalidValue")


def _names_members(node: Filter) -> bool:
    """Whether a filter is about members (the backend can't answer that without a scan)."""
    if isinstance(node, And | Or):
        return _names_members(node.left) or _names_members(node.right)
    if isinstance(node, Not):
        return _names_members(node.inner)
    path: AttrPath = node.path
    return path.attr.casefold() == "members"


