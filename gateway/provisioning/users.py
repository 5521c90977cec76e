"""User use cases: create, read, replace, patch, deactivate, list.

Each write reads the current record, computes the SCIM resource it should
become, maps that to backend fields, and sends only the fields that differ:
one backend PATCH (guarded by `If-Match`) plus, when `active` changed, the
deactivate/reactivate action. Nothing is ever deleted.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendNotFound, BackendStale
from gateway.idstore.base import IdStore
from gateway.mapping.ids import from_scim_id
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
from gateway.provisioning.listing import (
    ListResult,
    Window,
    backend_window,
    bounded_pages,
    checked_sort_key,
    sort_resources,
)
from gateway.provisioning.planner import Lookup, plan, union_by_id
from gateway.provisioning.user_index import INDEXED, UserIndex
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, compile_filter
from gateway.scim.filter import Filter
from gateway.scim.patch import apply_patch
from gateway.scim.versions import Versions

log = logging.getLogger(__name__)

# A scan above max_scan is refused with this (formatted with total and limit).
TOO_MANY_USERS = ("This filter would scan {total} users, more than the limit of {limit}; "
                  "filter by userName, externalId, id or email instead")


class UserService:
    def __init__(self, backend: BackendClient, store: IdStore, *, max_scan: int,
                 max_lookups: int = 50, lookup_concurrency: int = 4) -> None:
        self._backend = backend
        self.index = UserIndex(backend, store)
        self._max_scan = max_scan
        self._max_lookups = max_lookups
        self._lookup_concurrency = lookup_concurrency

    # ---- reads ----

    async def _record(self, ctx: OrgContext, scim_id: str) -> dict:
        backend_id = from_scim_id(scim_id)
        if backend_id is None:
            raise ScimError(404, f"User {scim_id} not found")
        with backend_errors(ctx.mappings.user, f"User {scim_id}"):
            return await self._backend.get_employee(ctx.org_id, backend_id)

    async def get(self, ctx: OrgContext, scim_id: str) -> dict:
        record = await self._record(ctx, scim_id)
        return ctx.mappings.user.to_scim(record, ctx.base_url)

    # ---- writes ----

    async def create(self, ctx: OrgContext, resource: dict) -> dict:
        mapping = ctx.mappings.user
        plan = plan_create(mapping, resource)
        with backend_errors(mapping, "User"):
            record = await self._backend.create_employee(
                ctx.org_id, plan.create or {}, idempotency_key=str(uuid.uuid4())
            )
            if plan.action is not None:
                record = await self._status_call(plan.action)(ctx.org_id, record["id"])
        await self.index.remember(ctx.org_id, mapping, [record])
        return mapping.to_scim(record, ctx.base_url)

    async def replace(
        self, ctx: OrgContext, scim_id: str, resource: dict, if_match: Versions | None
    ) -> dict:
        return await self._write(ctx, scim_id, if_match, lambda current: resource)

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
        backend_id = from_scim_id(scim_id)
        if backend_id is None:
            raise ScimError(404, f"User {scim_id} not found")
        with backend_errors(mapping, f"User {scim_id}"):
            record = await self._status_call(action)(ctx.org_id, backend_id)
        return mapping.to_scim(record, ctx.base_url)

    def _status_call(self, action: StatusAction) -> Callable[[int, int], Awaitable[dict]]:
        """The backend action endpoint (both are idempotent and answer with the record)."""
        if action == "deactivate":
            return self._backend.deactivate_employee
        return self._backend.reactivate_employee

    async def deactivate(self, ctx: OrgContext, scim_id: str, if_match: Versions | None) -> None:
        """DELETE: the backend has no delete, and a person is never lost: deactivate.

        Without If-Match there is nothing to compare, so the idempotent action
        is the only call (a missing user is the backend's 404).
        """
        if if_match is None:
            await self._set_status(ctx, scim_id, "deactivate")
            return
        record = await self._record(ctx, scim_id)
        check_precondition(record, if_match, f"User {scim_id}")
        with backend_errors(ctx.mappings.user, f"User {scim_id}"):
            await self._backend.deactivate_employee(ctx.org_id, record["id"])

    async def _write(
        self, ctx: OrgContext, scim_id: str, if_match: Versions | None,
        change: Callable[[dict], dict],
    ) -> dict:
        """Read, plan (`write_plan.plan_update`), carry out; re-read on a 412 without If-Match."""
        mapping = ctx.mappings.user
        what = f"User {scim_id}"
        for attempt in range(WRITE_ATTEMPTS):
            record = await self._record(ctx, scim_id)
            expected = check_precondition(record, if_match, what)
            current = mapping.to_scim(record, ctx.base_url)
            plan = plan_update(mapping, record, current, change(current))
            with backend_errors(mapping, what):
                try:
                    updated = await self._apply(ctx, record, plan, expected)
                except BackendStale:
                    if if_match is not None or attempt == WRITE_ATTEMPTS - 1:
                        raise  # the IdP's own version is stale, or we gave up: 412
                    log.info("user %s changed while being written; retrying", scim_id)
                    continue
            await self.index.moved(ctx.org_id, mapping, record, updated)
            return mapping.to_scim(updated, ctx.base_url)
        raise RuntimeError("unreachable: the last attempt returns or raises")

    async def _apply(self, ctx: OrgContext, record: dict, plan: WritePlan, lock: int) -> dict:
        """One backend PATCH for the fields, then the status action if active changed."""
        if plan.update:
            record = await self._backend.update_employee(
                ctx.org_id, record["id"], plan.update, if_match=lock
            )
        if plan.action is not None:
            record = await self._status_call(plan.action)(ctx.org_id, record["id"])
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
        with backend_errors(mapping, "Users"):
            if chosen.lookups is not None:
                records = await self._lookup(ctx, chosen.lookups)
                resources = self._matching(ctx, records, node)
            elif chosen.exact and sort_by is None:
                return await self._backend_page(ctx, chosen.params, window)
            else:
                resources = await self._scan(ctx, chosen.params, node)
        if sort_by is not None:
            resources = sort_resources(resources, sort_by, descending, mapping.rtype)
        return ListResult(len(resources), window.slice(resources))

    def _matching(
        self, ctx: OrgContext, records: builtins.list[dict], node: Filter | None
    ) -> builtins.list[dict]:
        mapping = ctx.mappings.user
        resources = [mapping.to_scim(r, ctx.base_url) for r in records]
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
        total, records = await backend_window(
            lambda **page: self._backend.list_employees(ctx.org_id, **page, **params), window)
        mapping = ctx.mappings.user
        return ListResult(total, [mapping.to_scim(r, ctx.base_url) for r in records])

    async def _scan(
        self, ctx: OrgContext, params: dict[str, Any], node: Filter | None
    ) -> builtins.list[dict]:
        """Evaluate `node` over every record the params select, refusing oversized scans."""
        out: builtins.list[dict] = []
        pages = bounded_pages(
            lambda **page: self._backend.list_employees(ctx.org_id, **page, **params),
            self._max_scan, TOO_MANY_USERS)
        async for records in pages:
            out += self._matching(ctx, records, node)
        return out

