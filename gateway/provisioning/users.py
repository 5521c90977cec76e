"""User use cases: create, read, replace, patch, deactivate, list.

Each write takes the current record (the one this process last saw, see
gateway.provisioning.known_records, else a fresh read), computes the SCIM
resource it should become, maps that to backend fields, and sends only the
fields that differ: one backend PATCH (guarded by `If-Match`) plus, when
`active` changed, the deactivate/reactivate action. Nothing is ever deleted: a DELETE deactivates
and *unlinks* the person from SCIM (gateway.state.scim_unlinks): they answer 404
and are left out of lists until a POST with their userName relinks them.
"""

from __future__ import annotations

import builtins
import functools
import logging
import uuid
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from gateway.audit import notes as audit
from gateway.backend.client import BackendClient, Page
from gateway.backend.errors import BackendConflict, BackendNotFound, BackendStale
from gateway.backend.records import (
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_FIELD,
    UNIQUE_EMPLOYEE_FIELDS,
)
from gateway.mapping.ids import from_scim_id, to_scim_id
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.mapping.write_plan import (
    StatusAction,
    WritePlan,
    plan_create,
    plan_status_patch,
    plan_update,
)
from gateway.provisioning.backend_errors import (
    WRITE_ATTEMPTS,
    backend_errors,
    check_precondition,
)
from gateway.provisioning.context import OrgContext
from gateway.provisioning.known_records import KnownRecords
from gateway.provisioning.listing import (
    SCAN_PAGE_SIZE,
    ListResult,
    Window,
    backend_window,
    bounded_pages,
    checked_sort_key,
    sort_resources,
)
from gateway.provisioning.planner import Lookup, plan, union_by_id
from gateway.provisioning.read_ahead import ReadAhead
from gateway.provisioning.user_index import INDEXED, UserIndex
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, compile_filter
from gateway.scim.filter import Filter
from gateway.scim.patch import apply_patch
from gateway.scim.versions import Versions
from gateway.state.scim_unlinks import ScimUnlinks, Unlinked

log = logging.getLogger(__name__)
# One line per unlink and relink, `operation` "unlink" / "relink" (what an audit trail records).
lifecycle = logging.getLogger("gateway.provisioning.lifecycle")

# A scan above max_scan is refused with this (formatted with total and limit).
TOO_MANY_USERS = ("This filter would scan {total} users, more than the limit of {limit}; "
                  "filter by userName, externalId, id or email instead")


R = TypeVar("R")


def _writes(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """A write use case: when it ends (even failed: it may have landed), pages read
    ahead for its org are stale."""

    @functools.wraps(method)
    async def write(self: UserService, ctx: OrgContext, *args: Any, **kwargs: Any) -> R:
        try:
            return await method(self, ctx, *args, **kwargs)
        finally:
            self.read_ahead.wrote(ctx.org_id)

    return write


class UserService:
    def __init__(self, backend: BackendClient, index: UserIndex, *, max_scan: int,
                 max_lookups: int = 50, lookup_concurrency: int = 4,
                 unlinks: ScimUnlinks | None = None) -> None:
        self._backend = backend
        self.index = index
        self.unlinks = unlinks  # None: DELETE only deactivates (nothing is hidden)
        self._max_scan = max_scan
        self._max_lookups = max_lookups
        self._lookup_concurrency = lookup_concurrency
        self.read_ahead = ReadAhead()  # an IdP's import: the next page fetched meanwhile
        self.known = KnownRecords()  # records last seen: an update needs no read first

    # ---- reads ----

    async def _hidden(self, ctx: OrgContext) -> frozenset[int]:
        """The org's people unlinked from SCIM (held in memory, see ScimUnlinks.ids).

        Every user request asks this first, so it is also where an org's user index
        starts being built (in the background) if it never was: normally done before
        the IdP's first lookup that needs it.
        """
        self.index.warm(ctx.org_id, ctx.mappings.user)
        if self.unlinks is None:
            return frozenset()
        return await self.unlinks.ids(ctx.org_id)

    async def _backend_id(self, ctx: OrgContext, scim_id: str) -> int:
        """The employee id behind `scim_id`; 404 when it can't be one or is unlinked."""
        backend_id = from_scim_id(scim_id)
        if backend_id is None or backend_id in await self._hidden(ctx):
            raise ScimError(404, f"User {scim_id} not found")
        return backend_id

    async def _read(self, ctx: OrgContext, backend_id: int, what: str) -> dict:
        """The employee as the backend has it now (and now known to this process)."""
        with backend_errors(ctx.mappings.user, what):
            record = await self._backend.get_employee(ctx.org_id, backend_id)
        self.known.remember(ctx.org_id, record)
        return record

    async def get(self, ctx: OrgContext, scim_id: str) -> dict:
        record = await self._read(ctx, await self._backend_id(ctx, scim_id), f"User {scim_id}")
        return ctx.mappings.user.to_scim(record, ctx.base_url)

    # ---- writes ----

    @_writes
    async def create(self, ctx: OrgContext, resource: dict) -> dict:
        """POST; a userName of a person unlinked from SCIM relinks that person (see _relink)."""
        mapping = ctx.mappings.user
        hidden = await self._hidden(ctx)
        user_name = resource.get("userName")
        if hidden and isinstance(user_name, str) and self.unlinks is not None:
            unlinked = await self.unlinks.by_user_name(ctx.org_id, user_name)
            if unlinked is not None:
                return await self._relink(ctx, unlinked, resource)
        plan = plan_create(mapping, resource)
        audit.target("user", name=resource.get("userName"))
        _note_plan(mapping, {}, plan, "create")
        with backend_errors(mapping, "User"):
            try:
                record = await self._backend.create_employee(
                    ctx.org_id, plan.create or {}, idempotency_key=str(uuid.uuid4())
                )
            except BackendConflict as exc:
                if hidden:
                    await self._refuse_if_held(ctx, plan.create or {}, exc)
                raise
            audit.target("user", record["id"])
            if plan.action is not None:
                record = await self._status_call(plan.action)(ctx.org_id, record["id"])
        self.known.remember(ctx.org_id, record)
        await self.index.remember(ctx.org_id, mapping, [record])
        return mapping.to_scim(record, ctx.base_url)

    @_writes
    async def replace(
        self, ctx: OrgContext, scim_id: str, resource: dict, if_match: Versions | None
    ) -> dict:
        return await self._write(ctx, scim_id, if_match, lambda current: resource)

    @_writes
    async def patch(
        self, ctx: OrgContext, scim_id: str, operations: builtins.list[dict],
        if_match: Versions | None,
    ) -> dict:
        mapping = ctx.mappings.user
        plan = plan_status_patch(mapping, operations) if if_match is None else None
        if plan is not None and plan.action is not None:
            return await self._set_status(ctx, scim_id, plan.action)
        return await self._write(
            ctx, scim_id, if_match, lambda current: apply_patch(current, operations, mapping.rtype)
        )

    async def _set_status(self, ctx: OrgContext, scim_id: str, action: StatusAction) -> dict:
        """The idempotent action alone: no read first (a missing user is the backend's 404)."""
        mapping = ctx.mappings.user
        backend_id = await self._backend_id(ctx, scim_id)
        audit.target("user", backend_id)
        audit.action(action)
        with backend_errors(mapping, f"User {scim_id}"), self.known.unsure(ctx.org_id, backend_id):
            record = await self._status_call(action)(ctx.org_id, backend_id)
        self.known.remember(ctx.org_id, record)
        # The action answers with the record as it now is: the status before is unknown.
        audit.changes(mapping, {}, {STATUS_FIELD: record.get(STATUS_FIELD)})
        resource = mapping.to_scim(record, ctx.base_url)
        audit.target("user", name=resource.get("userName"))
        return resource

    def _status_call(self, action: StatusAction) -> Callable[[int, int], Awaitable[dict]]:
        """The backend action endpoint (both are idempotent and answer with the record)."""
        if action == "deactivate":
            return self._backend.deactivate_employee
        return self._backend.reactivate_employee

    @_writes
    async def deactivate(self, ctx: OrgContext, scim_id: str, if_match: Versions | None) -> None:
        """DELETE: the backend has no delete, and a person is never lost: deactivate,
        then unlink from SCIM (404 from now on, until a POST relinks them).

        Without If-Match there is nothing to compare, so the idempotent action
        is the only backend call (a missing user is the backend's 404). The
        marker is written after the deactivation (the database is checked first,
        so an outage is a 503 before anything changed); should it fail in
        between, the IdP's retry of the DELETE finishes the job.
        """
        what = f"User {scim_id}"
        mapping = ctx.mappings.user
        backend_id = await self._backend_id(ctx, scim_id)
        audit.target("user", backend_id)
        audit.action("deactivate", *(["unlink"] if self.unlinks is not None else []))
        if self.unlinks is not None:
            await self.unlinks.check_writable()
        before: dict[str, Any] = {}
        with backend_errors(mapping, what):
            if if_match is not None:
                before = await self._backend.get_employee(ctx.org_id, backend_id)
                check_precondition(before, if_match, what)
            with self.known.unsure(ctx.org_id, backend_id):
                record = await self._backend.deactivate_employee(ctx.org_id, backend_id)
        self.known.remember(ctx.org_id, record)
        audit.changes(mapping, before, {STATUS_FIELD: record.get(STATUS_FIELD)})
        if self.unlinks is not None:
            await self._unlink(ctx, record)

    async def _unlink(self, ctx: OrgContext, record: dict) -> None:
        assert self.unlinks is not None
        resource = ctx.mappings.user.to_scim(record, ctx.base_url)
        marker = await self.unlinks.unlink(
            ctx.org_id, record["id"], user_name=str(resource.get("userName") or ""),
            external_id=resource.get("externalId"),
            values={field: record.get(field) for field in UNIQUE_EMPLOYEE_FIELDS})
        audit.target("user", record["id"], marker.user_name)
        lifecycle.info("user %s unlinked from SCIM", resource["id"], extra={
            "operation": "unlink", "org_id": ctx.org_id, "user_id": resource["id"],
            "user_name": marker.user_name})

    async def _relink(self, ctx: OrgContext, unlinked: Unlinked, resource: dict) -> dict:
        """POST for an unlinked person's userName: the same person again, old id and history.

        The body is applied as a PUT would (`write_plan.plan_update`: only changed
        fields are sent) and the person is reactivated unless the body says
        `active: false`; the marker goes only once the backend took the write.
        """
        mapping = ctx.mappings.user
        scim_id = to_scim_id(unlinked.employee_id)
        what = f"User {scim_id}"
        audit.target("user", unlinked.employee_id, unlinked.user_name)
        for attempt in range(WRITE_ATTEMPTS):
            with backend_errors(mapping, what):
                record = await self._backend.get_employee(ctx.org_id, unlinked.employee_id)
            current = mapping.to_scim(record, ctx.base_url)
            plan = plan_update(mapping, record, current, resource)
            if (plan.action is None and resource.get("active") is not False
                    and record.get(STATUS_FIELD) != STATUS_ACTIVE):
                plan = replace(plan, action="reactivate")
            _note_plan(mapping, record, plan, "update")
            audit.action("relink")
            with backend_errors(mapping, what):
                try:
                    updated = await self._apply(ctx, record, plan, record["lock_version"])
                except BackendStale:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise  # we gave up: 412
                    continue
                except BackendConflict as exc:
                    await self._refuse_if_held(ctx, plan.update or {}, exc)
                    raise
            assert self.unlinks is not None
            await self.unlinks.relink(ctx.org_id, unlinked.employee_id)
            await self.index.moved(ctx.org_id, mapping, record, updated)
            lifecycle.info("user %s relinked to SCIM", scim_id, extra={
                "operation": "relink", "org_id": ctx.org_id, "user_id": scim_id,
                "user_name": unlinked.user_name})
            return mapping.to_scim(updated, ctx.base_url)
        raise RuntimeError("unreachable: the last attempt returns or raises")

    async def _refuse_if_held(self, ctx: OrgContext, sent: dict, exc: BackendConflict) -> None:
        """409 naming the unlinked person who holds a value the backend refused, if one does."""
        if self.unlinks is None:
            return
        mapping = ctx.mappings.user
        for field in [f for f in (exc.fields or sent) if f in UNIQUE_EMPLOYEE_FIELDS]:
            value = sent.get(field)
            if not isinstance(value, str):
                continue
            holder = await self.unlinks.holder(ctx.org_id, field, value)
            if holder is None:
                continue
            bound = mapping.field_for_backend(field)
            label = bound.text if bound else "a unique attribute"
            raise ScimError(
                409, f"User already exists: '{label}' {value!r} is held by User "
                f"{to_scim_id(holder.employee_id)} (userName {holder.user_name!r}), unlinked "
                f"from SCIM at {holder.unlinked_at.isoformat()}; a POST with that userName "
                f"relinks that person", "uniqueness")

    async def _write(
        self, ctx: OrgContext, scim_id: str, if_match: Versions | None,
        change: Callable[[dict], dict],
    ) -> dict:
        """Read, plan (`write_plan.plan_update`), carry out; re-read on a 412 without If-Match.

        A record this process already knows is planned against without reading it,
        when the plan has fields for `If-Match` to guard (see `_write_known`).
        """
        mapping = ctx.mappings.user
        what = f"User {scim_id}"
        backend_id = await self._backend_id(ctx, scim_id)
        known = self.known.get(ctx.org_id, backend_id)
        if known is not None:
            written = await self._write_known(ctx, what, known, if_match, change)
            if written is not None:
                return written
        for attempt in range(WRITE_ATTEMPTS):
            record = await self._read(ctx, backend_id, what)
            expected, plan = self._planned(ctx, what, record, if_match, change)
            with backend_errors(mapping, what):
                try:
                    updated = await self._apply(ctx, record, plan, expected)
                except BackendStale:
                    if if_match is not None or attempt == WRITE_ATTEMPTS - 1:
                        raise  # the IdP's own version is stale, or we gave up: 412
                    log.info("user %s changed while being written; retrying", scim_id)
                    continue
            return await self._written(ctx, record, updated)
        raise RuntimeError("unreachable: the last attempt returns or raises")

    async def _write_known(
        self, ctx: OrgContext, what: str, known: dict, if_match: Versions | None,
        change: Callable[[dict], dict],
    ) -> dict | None:
        """The write planned against the record this process last saw, or None: plan it
        again from a fresh read.

        Only a plan with fields to send is carried out here: its backend PATCH carries
        `If-Match: <known lock_version>`, so it lands only if the record is still the
        one planned against. None when that PATCH is refused as stale, and when the
        known record fails the IdP's If-Match, makes the PATCH operations fail, or
        leaves nothing to guard (no field to send; an action alone has no If-Match).
        """
        mapping = ctx.mappings.user
        try:
            expected, plan = self._planned(ctx, what, known, if_match, change)
        except ScimError:
            plan = None  # perhaps only the known record's doing: judged on a fresh one
        if plan is None or not plan.update:
            audit.withdraw_changes()  # the fresh plan notes its own
            return None
        with backend_errors(mapping, what):
            try:
                updated = await self._apply(ctx, known, plan, expected)
            except BackendStale:
                audit.withdraw_changes()  # nothing landed; the fresh plan notes its own
                return None
        return await self._written(ctx, known, updated)

    def _planned(
        self, ctx: OrgContext, what: str, record: dict, if_match: Versions | None,
        change: Callable[[dict], dict],
    ) -> tuple[int, WritePlan]:
        """The IdP's If-Match checked against `record` (the lock_version to send), and the
        write that makes `change` of it (`write_plan.plan_update`), noted for the audit."""
        mapping = ctx.mappings.user
        expected = check_precondition(record, if_match, what)
        current = mapping.to_scim(record, ctx.base_url)
        audit.target("user", record["id"], current.get("userName"))
        plan = plan_update(mapping, record, current, change(current))
        _note_plan(mapping, record, plan, "update")
        return expected, plan

    async def _written(self, ctx: OrgContext, before: dict, updated: dict) -> dict:
        """After an update landed: the index follows, and the IdP gets the record as it is."""
        mapping = ctx.mappings.user
        await self.index.moved(ctx.org_id, mapping, before, updated)
        resource = mapping.to_scim(updated, ctx.base_url)
        audit.target("user", name=resource.get("userName"))
        return resource

    async def _apply(self, ctx: OrgContext, record: dict, plan: WritePlan, lock: int) -> dict:
        """One backend PATCH for the fields, then the status action if active changed.

        The answer is remembered (`known`); after an error the outcome is unknown, so
        the record is forgotten and the next write reads first.
        """
        with self.known.unsure(ctx.org_id, record["id"]):
            if plan.update:
                record = await self._backend.update_employee(
                    ctx.org_id, record["id"], plan.update, if_match=lock
                )
            if plan.action is not None:
                record = await self._status_call(plan.action)(ctx.org_id, record["id"])
        self.known.remember(ctx.org_id, record)
        return record

    # ---- listing ----

    async def list(
        self, ctx: OrgContext, node: Filter | None, window: Window,
        sort_by: str | None = None, descending: bool = False,
    ) -> ListResult:
        mapping = ctx.mappings.user
        if node is not None:
            check_filter(node, mapping.advertised)
        if sort_by is not None:
            checked_sort_key(sort_by, mapping.rtype)
        chosen = plan(node, mapping, INDEXED, self._max_lookups)
        hidden = await self._hidden(ctx)
        with backend_errors(mapping, "Users"):
            if chosen.lookups is not None:
                records = await self._lookup(ctx, chosen.lookups)
                resources = self._matching(ctx, records, node, hidden)
            elif chosen.exact and sort_by is None and (
                    not hidden or set(chosen.params) <= {STATUS_FIELD}):
                if hidden:
                    return await self._visible_page(ctx, window, chosen.params, hidden)
                return await self._backend_page(ctx, chosen.params, window)
            else:
                resources = await self._scan(ctx, chosen.params, node, hidden)
        if sort_by is not None:
            resources = sort_resources(resources, sort_by, descending, mapping.rtype)
        return ListResult(len(resources), window.slice(resources))

    def _matching(
        self, ctx: OrgContext, records: builtins.list[dict], node: Filter | None,
        hidden: frozenset[int],
    ) -> builtins.list[dict]:
        mapping = ctx.mappings.user
        resources = [mapping.to_scim(r, ctx.base_url) for r in records if r["id"] not in hidden]
        if node is None:
            return resources
        predicate = compile_filter(node, mapping.rtype)  # cached: compiled once per filter
        return [r for r in resources if predicate(r)]

    async def _lookup(
        self, ctx: OrgContext, lookups: builtins.list[Lookup]
    ) -> builtins.list[dict]:
        return await union_by_id(lookups, lambda lookup: self._one_lookup(ctx, lookup),
                                 self._lookup_concurrency)

    async def _one_lookup(self, ctx: OrgContext, lookup: Lookup) -> builtins.list[dict]:
        mapping = ctx.mappings.user
        if lookup.kind == "id":
            backend_id = from_scim_id(lookup.value)
            if backend_id is None:
                return []
            try:
                return [await self._backend.get_employee(ctx.org_id, backend_id)]
            except BackendNotFound:
                return []
        if lookup.kind == "index":
            return await self.index.find(ctx.org_id, mapping, lookup.attr, lookup.value)
        search: dict[str, Any] = {lookup.attr: lookup.value}
        page = await self._backend.list_employees(ctx.org_id, per_page=200, **search)
        return page.items

    async def _backend_page(
        self, ctx: OrgContext, params: dict[str, Any], window: Window
    ) -> ListResult:
        """The backend pages for us: one call (two at most) whatever the org's size."""
        async def fetch(number: int, per_page: int) -> Page:
            return await self._backend.list_employees(
                ctx.org_id, page=number, per_page=per_page, **params)

        total, records = await backend_window(
            lambda page, per_page: self.read_ahead.page(ctx.org_id, params, page, per_page,
                                                        fetch), window)
        mapping = ctx.mappings.user
        return ListResult(total, [mapping.to_scim(r, ctx.base_url) for r in records])

    async def _visible_page(self, ctx: OrgContext, window: Window, params: dict[str, Any],
                            hidden: frozenset[int]) -> ListResult:
        """A page of the org's people (all, or by status) with the unlinked left out.

        The backend lists by id, and every unlinked person is still in it (nobody
        is deleted) and deactivated (DELETE did that), so a record's place among
        the visible ones is its place in the backend's list less the unlinked ids
        below its own: the window is read from its backend offset on, at most
        count + len(hidden) records more. An `active` list holds no unlinked
        person, unless one was reactivated in Workstream directly (drift that
        `workstream-admin reconcile` reports): they are still left out.
        """
        fetch = self._backend.list_employees
        listed: builtins.list[int] = (
            [] if params.get(STATUS_FIELD) == STATUS_ACTIVE else sorted(hidden))
        if window.count == 0:
            page = await fetch(ctx.org_id, page=1, per_page=1, **params)
            return ListResult(max(0, page.total - len(listed)), [])
        skip = hidden
        number = window.offset // SCAN_PAGE_SIZE + 1
        end = window.offset + window.count
        records: builtins.list[dict] = []
        while True:
            page = await fetch(ctx.org_id, page=number, per_page=SCAN_PAGE_SIZE, **params)
            first = (number - 1) * SCAN_PAGE_SIZE
            for i, record in enumerate(page.items):
                if record["id"] in skip:
                    continue
                place = first + i - bisect_left(listed, record["id"])
                if window.offset <= place < end:
                    records.append(record)
            if len(records) >= window.count or page.is_last:
                break
            number += 1
        mapping = ctx.mappings.user
        return ListResult(max(0, page.total - len(listed)),
                          [mapping.to_scim(r, ctx.base_url) for r in records])

    async def _scan(
        self, ctx: OrgContext, params: dict[str, Any], node: Filter | None,
        hidden: frozenset[int],
    ) -> builtins.list[dict]:
        """Evaluate `node` over every record the params select, refusing oversized scans."""
        out: builtins.list[dict] = []
        pages = bounded_pages(
            lambda **page: self._backend.list_employees(ctx.org_id, **page, **params),
            self._max_scan, TOO_MANY_USERS)
        async for records in pages:
            out += self._matching(ctx, records, node, hidden)
        return out


_ACTION_STATUS = {"deactivate": STATUS_DEACTIVATED, "reactivate": STATUS_ACTIVE}


def _note_plan(mapping: ResourceMapping, record: dict[str, Any], plan: WritePlan,
               verb: str) -> None:
    """For the audit trail: the fields a create/update sets and the status action, if any."""
    fields = plan.create if verb == "create" else plan.update
    audit.action(*([verb] if fields or plan.action is None else []),
                 *([plan.action] if plan.action is not None else []))
    audit.changes(mapping, record, fields or {})
    if plan.action is not None:
        audit.changes(mapping, record, {STATUS_FIELD: _ACTION_STATUS[plan.action]})
