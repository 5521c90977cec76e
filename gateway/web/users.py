"""HTTP handlers for /Users: parse, normalise, validate, call the use case, render."""

from __future__ import annotations

from aiohttp import web

from gateway.provisioning.context import OrgContext
from gateway.scim.projection import project
from gateway.scim.schema import ResourceType
from gateway.scim.validation import validate
from gateway.web.context import org_context
from gateway.web.params import (
    ListParams,
    if_match,
    if_none_match,
    patch_operations,
    projection_params,
    query_dict,
    read_json_object,
    resource_body,
)
from gateway.web.responses import list_response, resource_response, scim_response
from gateway.web.state import CONFIG, USERS


def _projected(request: web.Request, resource: dict, rtype: ResourceType) -> dict:
    attributes, excluded = projection_params(request)
    return project(resource, rtype, attributes, excluded, owned=True)


async def list_users(request: web.Request) -> web.Response:
    return await _search(request, await org_context(request), query_dict(request))


async def search_users(request: web.Request) -> web.Response:
    ctx = await org_context(request)  # 401, then 403, before the body costs anything
    body = await read_json_object(request)
    validate("SearchRequest", body)
    return await _search(request, ctx, body)


async def _search(request: web.Request, ctx: OrgContext, source: dict) -> web.Response:
    config = request.app[CONFIG]
    params = await ListParams.read(source, config.scim.max_page_size, config.limits)
    result = await request.app[USERS].list(
        ctx, params.filter, params.window, params.sort_by, params.descending
    )
    rtype = ctx.mappings.user.rtype
    resources = [project(r, rtype, params.attributes, params.excluded, owned=True)
                 for r in result.resources]
    return list_response(result.total, params.window.start_index, resources)


async def create_user(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    rtype = ctx.mappings.user.rtype
    body = await resource_body(request, rtype, "User")
    resource = await request.app[USERS].create(ctx, body)
    return resource_response(resource, 201, location=True,
                             projected=_projected(request, resource, rtype))


async def get_user(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    resource = await request.app[USERS].get(ctx, request.match_info["id"])
    if _not_modified(request, resource):
        return scim_response(None, 304, {"ETag": resource["meta"]["version"]})
    return resource_response(resource, projected=_projected(request, resource,
                                                            ctx.mappings.user.rtype))


async def replace_user(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    rtype = ctx.mappings.user.rtype
    body = await resource_body(request, rtype, "User")
    resource = await request.app[USERS].replace(
        ctx, request.match_info["id"], body, if_match(request)
    )
    return resource_response(resource, projected=_projected(request, resource, rtype))


async def patch_user(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    rtype = ctx.mappings.user.rtype
    operations = await patch_operations(request, rtype)
    resource = await request.app[USERS].patch(
        ctx, request.match_info["id"], operations, if_match(request)
    )
    return resource_response(resource, projected=_projected(request, resource, rtype))


async def delete_user(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    await request.app[USERS].deactivate(ctx, request.match_info["id"],
                                        if_match(request))
    return scim_response(None, 204)


def _not_modified(request: web.Request, resource: dict) -> bool:
    named = if_none_match(request)
    return named is not None and named.names(resource["meta"]["version"])


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_get(f"{base}/Users", list_users)
    app.router.add_post(f"{base}/Users", create_user)
    app.router.add_post(f"{base}/Users/.search", search_users)
    app.router.add_get(f"{base}/Users/{{id}}", get_user)
    app.router.add_put(f"{base}/Users/{{id}}", replace_user)
    app.router.add_patch(f"{base}/Users/{{id}}", patch_user)
    app.router.add_delete(f"{base}/Users/{{id}}", delete_user)
