"""Discovery endpoints (RFC 7644 §4): exactly what this org's mapping supports.

/Schemas is built from the org's mapping, so an org whose mapping adds a
custom attribute sees it, and no other org does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.provisioning.planner import pushed_down
from gateway.provisioning.user_index import INDEXED
from gateway.scim.errors import ScimError
from gateway.web.context import org_context
from gateway.web.params import projection_params
from gateway.web.responses import list_response, scim_response
from gateway.web.state import CONFIG

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
# Our own extension: how queries are answered (issue: advertise the scan limit).
QUERY_EXTENSION = "urn:workstream:params:scim:gateway:1.0:Query"


async def service_provider_config(request: web.Request) -> web.Response:
    """RFC 7643 §5 exactly; the query extension only when `attributes` names it.

    RFC 7644 §4: "The attributes returned in the JSON object are defined in
    Section 5 of [RFC7643]", and strict clients (scim2-client) refuse the
    whole document over one unknown schema. So the extension is returned the
    way RFC 7643 §7 `returned: "request"` attributes are:
    `GET /ServiceProviderConfig?attributes=urn:workstream:params:scim:gateway:1.0:Query`.
    """
    ctx = await org_context(request)
    config = request.app[CONFIG]
    body: dict[str, Any] = {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://support.workstream.example/scim",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": config.scim.max_page_size},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {"type": "httpbasic", "name": "HTTP Basic",
             "description": "Username and password issued by Workstream support",
             "primary": True},
            {"type": "oauthbearertoken", "name": "Bearer token",
             "description": "Long-lived token issued by Workstream support"},
        ],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{ctx.base_url}/ServiceProviderConfig"},
    }
    attributes, _ = projection_params(request)
    if any(a.casefold().startswith(QUERY_EXTENSION.casefold()) for a in attributes or ()):
        body["schemas"].append(QUERY_EXTENSION)
        body[QUERY_EXTENSION] = {
            "maxScan": config.scim.max_scan,
            "pushedDown": pushed_down(ctx.mappings.user, INDEXED),
            "indexed": list(INDEXED),
        }
    return scim_response(body)


def _resource_types(ctx) -> list:
    return [ctx.mappings.user.advertised, ctx.mappings.group.advertised]


async def resource_types(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    docs = [rt.to_scim(ctx.base_url) for rt in _resource_types(ctx)]
    return list_response(len(docs), 1, docs)


async def resource_type(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    name = request.match_info["name"]
    for rt in _resource_types(ctx):
        if rt.name == name:
            return scim_response(rt.to_scim(ctx.base_url))
    raise ScimError(404, f"No resource type {name}")


def _schemas(ctx) -> list:
    seen: dict[str, object] = {}
    for rt in _resource_types(ctx):
        for schema in rt.schemas:
            seen.setdefault(schema.id, schema)
    return list(seen.values())


async def schemas(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    docs = [s.to_scim(ctx.base_url) for s in _schemas(ctx)]
    return list_response(len(docs), 1, docs)


async def schema(request: web.Request) -> web.Response:
    ctx = await org_context(request)
    wanted = request.match_info["id"]
    for s in _schemas(ctx):
        if s.id.casefold() == wanted.casefold():
            return scim_response(s.to_scim(ctx.base_url))
    raise ScimError(404, f"No schema {wanted}")


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_get(f"{base}/ServiceProviderConfig", service_provider_config)
    app.router.add_get(f"{base}/ResourceTypes", resource_types)
    app.router.add_get(f"{base}/ResourceTypes/{{name}}", resource_type)
    app.router.add_get(f"{base}/Schemas", schemas)
    app.router.add_get(f"{base}/Schemas/{{id}}", schema)
