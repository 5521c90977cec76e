"""HTTP handlers for /Groups, with member lists streamed as the backend pages them.

A group can have tens of thousands of members, so a response that includes
them is written as it is read: the group's JSON, then its members one backend
page (200) at a time, never the whole list in memory. The first page is read
before the response starts, so a missing group or a backend fault is still a
proper SCIM error; a fault after that can only cut the response short, which
the IdP sees as a broken transfer rather than a silently shorter list.

A PATCH answers `204` (Entra asks not to be sent member lists back), or `200`
with just what `attributes`/`excludedAttributes` ask for.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway import jsonio
from gateway.provisioning.context import OrgContext
from gateway.provisioning.groups import GroupService
from gateway.request_context import request_id
from gateway.scim.projection import project
from gateway.scim.schema import LIST_RESPONSE, ResourceType
from gateway.scim.validation import validate
from gateway.web.context import org_context
from gateway.web.params import (
    ListParams,
    if_match,
    patch_operations,
    projection_params,
    query_dict,
    read_json_object,
    resource_body,
)
from gateway.web.responses import SCIM_JSON, list_response, resource_response, scim_response
from gateway.web.state import CONFIG, GROUPS

log = logging.getLogger(__name__)

# Every sub-attribute the gateway can say about a member (display would cost a read each).
_MEMBER_KEYS = ("value", "$ref", "type")
_PROBE = {"value": "1", "$ref": "r", "type": "User", "display": "d"}


# A group's member ids, page after page (closed early when the first page was all).
MemberPages = AsyncGenerator[list[str], None]

@dataclass(frozen=True)
class MemberView:
    """Which member sub-attributes a request wants (none: members aren't returned)."""

    keys: tuple[str, ...]
    users_url: str

    @classmethod
    def of(cls, rtype: ResourceType, attributes: list[str] | None, excluded: list[str] | None,
           base_url: str) -> MemberView:
        probe = project({"schemas": [rtype.core.id], "id": "0", "members": [dict(_PROBE)]},
                        rtype, attributes, excluded)
        shown = probe.get("members") or [{}]
        return cls(tuple(k for k in _MEMBER_KEYS if k in shown[0]), f"{base_url}/Users/")

    @property
    def wanted(self) -> bool:
        return bool(self.keys)

    def element(self, member: str) -> dict:
        full = {"value": member, "$ref": self.users_url + member, "type": "User"}
        return {k: full[k] for k in self.keys}

    def encode(self, members: list[str]) -> bytes:
        return b",".join(jsonio.dumps(self.element(m)) for m in members)


def _service(request: web.Request) -> GroupService:
    return request.app[GROUPS]


def _with_members(projected: dict, members: list[str], view: MemberView) -> dict:
    if view.wanted and members:
        return {**projected, "members": [view.element(m) for m in members]}
    return projected


# ---- streaming ----


async def _members_json(
    head: bytes, first: list[str], pages: MemberPages, view: MemberView
) -> AsyncIterator[bytes]:
    """A resource's JSON with its members spliced in, one backend page per chunk."""
    if not first:
        await pages.aclose()
        yield head
        return
    yield head[:-1] + b',"members":[' + view.encode(first)
    async for members in pages:
        if members:
            yield b"," + view.encode(members)
    yield b"]}"


async def _stream(
    request: web.Request, chunks: AsyncIterator[bytes], status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = SCIM_JSON
    response.charset = "utf-8"
    rid = request_id.get()
    if rid:
        response.headers["X-Request-Id"] = rid
    await response.prepare(request)
    try:
        async for chunk in chunks:
            await response.write(chunk)
    except Exception as exc:  # the status line is gone: all that's left is to cut it short
        log.error("%s %s: aborted a streamed response after it started (%s: %s)",
                  request.method, request.path, type(exc).__name__, exc)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


async def _one_group(
    request: web.Request, ctx: OrgContext, resource: dict, projected: dict, view: MemberView,
) -> web.StreamResponse:
    """One group, members streamed when wanted."""
    if not view.wanted:
        return resource_response(resource, projected=projected)
    pages = _service(request).member_pages(ctx, resource["id"])
    first: list[str] = await anext(pages, [])
    headers = {"ETag": resource["meta"]["version"]} if resource.get("meta") else None
    return await _stream(request, _members_json(jsonio.dumps(projected), first, pages, view),
                         headers=headers)


async def _list_body(
    total: int, start_index: int, items: list[tuple[bytes, list[str], MemberPages]],
    view: MemberView,
) -> AsyncIterator[bytes]:
    yield jsonio.dumps({
        "schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start_index,
        "itemsPerPage": len(items),
    })[:-1] + b',"Resources":['
    for n, (head, first, pages) in enumerate(items):
        if n:
            yield b","
        async for chunk in _members_json(head, first, pages, view):
            yield chunk
    yield b"]}"


# ---- handlers ----


async def list_groups(request: web.Request) -> web.StreamResponse:
    return await _search(request, await org_context(request), query_dict(request))


async def search_groups(request: web.Request) -> web.StreamResponse:
    ctx = await org_context(request)  # 401, then 403, before the body costs anything
    body = await read_json_object(request)
    validate("SearchRequest", body)
    return await _search(request, ctx, body)


async def _search(request: web.Request, ctx: OrgContext, source: dict) -> web.StreamResponse:
    config = request.app[CONFIG]
    params = await ListParams.read(source, config.scim.max_page_size, config.limits)
    service = _service(request)
    result = await service.list(ctx, params.filter, params.window, params.sort_by,
                                params.descending)
    rtype = ctx.mappings.group.rtype
    resources = [project(r, rtype, params.attributes, params.excluded) for r in result.resources]
    view = MemberView.of(rtype, params.attributes, params.excluded, ctx.base_url)
    if not view.wanted or not resources:
        return list_response(result.total, params.window.start_index, resources)
    # Every group's first member page is read before answering: faults are still SCIM errors.
    items: list[tuple[bytes, list[str], MemberPages]] = []
    for full, projected in zip(result.resources, resources, strict=True):
        pages = service.member_pages(ctx, full["id"])
        items.append((jsonio.dumps(projected), await anext(pages, []), pages))
    return await _stream(request, _list_body(result.total, params.window.start_index, items,
                                             view))


async def create_group(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    rtype = ctx.mappings.group.rtype
    body = await resource_body(request, rtype, "Group")
    written = await _service(request).create(ctx, body)
    attributes, excluded = projection_params(request)
    view = MemberView.of(rtype, attributes, excluded, ctx.base_url)
    projected = project(written.resource, rtype, attributes, excluded)
    return resource_response(written.resource, 201, location=True,
                             projected=_with_members(projected, written.members, view))


async def get_group(request: web.Request) -> web.StreamResponse:
    ctx = await org_context(request)
    rtype = ctx.mappings.group.rtype
    resource = await _service(request).get(ctx, request.match_info["id"])
    attributes, excluded = projection_params(request)
    view = MemberView.of(rtype, attributes, excluded, ctx.base_url)
    projected = project(resource, rtype, attributes, excluded)
    return await _one_group(request, ctx, resource, projected, view)


async def replace_group(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    rtype = ctx.mappings.group.rtype
    body = await resource_body(request, rtype, "Group")
    written = await _service(request).replace(
        ctx, request.match_info["id"], body, if_match(request))
    attributes, excluded = projection_params(request)
    view = MemberView.of(rtype, attributes, excluded, ctx.base_url)
    projected = project(written.resource, rtype, attributes, excluded)
    return resource_response(written.resource,
                             projected=_with_members(projected, written.members, view))


async def patch_group(request: web.Request) -> web.StreamResponse:
    ctx = await org_context(request)
    rtype = ctx.mappings.group.rtype
    operations = await patch_operations(request, rtype)
    attributes, excluded = projection_params(request)
    wanted = attributes is not None or excluded is not None
    resource = await _service(request).patch(
        ctx, request.match_info["id"], operations, if_match(request),
        want_resource=wanted)
    if resource is None:
        return scim_response(None, 204)
    view = MemberView.of(rtype, attributes, excluded, ctx.base_url)
    projected = project(resource, rtype, attributes, excluded)
    return await _one_group(request, ctx, resource, projected, view)


async def delete_group(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    await _service(request).delete(ctx, request.match_info["id"],
                                   if_match(request))
    return scim_response(None, 204)


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_get(f"{base}/Groups", list_groups)
    app.router.add_post(f"{base}/Groups", create_group)
    app.router.add_post(f"{base}/Groups/.search", search_groups)
    app.router.add_get(f"{base}/Groups/{{id}}", get_group)
    app.router.add_put(f"{base}/Groups/{{id}}", replace_group)
    app.router.add_patch(f"{base}/Groups/{{id}}", patch_group)
    app.router.add_delete(f"{base}/Groups/{{id}}", delete_group)
