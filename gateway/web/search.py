"""HTTP handler for root-level `POST /.search` (RFC 7644 §3.4.3): Users and Groups at once."""

from __future__ import annotations

from aiohttp import web

from gateway.provisioning.search import Source, search_all
from gateway.scim.projection import project
from gateway.scim.validation import validate
from gateway.web.context import org_context
from gateway.web.params import ListParams, read_json_object
from gateway.web.responses import list_response
from gateway.web.state import CONFIG, GROUPS, USERS


async def search_root(request: web.Request) -> web.Response:
    ctx = await org_context(request)  # 401, then 403, before the body costs anything
    body = await read_json_object(request)
    validate("SearchRequest", body)
    config = request.app[CONFIG]
    params = await ListParams.read(body, config.scim.max_page_size, config.limits)
    mappings = ctx.mappings
    sources = [
        Source(mappings.user.advertised, mappings.user.rtype, request.app[USERS].list),
        Source(mappings.group.advertised, mappings.group.rtype, request.app[GROUPS].list),
    ]
    result = await search_all(ctx, sources, params.filter, params.window, params.sort_by,
                              params.descending)
    resources = [project(r, rtype, params.attributes, params.excluded)
                 for rtype, r in result.resources]
    return list_response(result.total, params.window.start_index, resources)


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_post(f"{base}/.search", search_root)
