"""Per-request org context: who is asking, and may their org be provisioned."""

from __future__ import annotations

from aiohttp import web

from gateway.provisioning.context import OrgContext
from gateway.web.auth import ORG_ID
from gateway.web.state import CONFIG, MAPPINGS, ORG_GATE


def base_url(request: web.Request) -> str:
    """The SCIM base URL as the IdP sees it (for meta.location)."""
    config = request.app[CONFIG]
    if config.server.public_url:
        return config.server.public_url.rstrip("/") + config.server.base_path
    return f"{request.scheme}://{request.host}{config.server.base_path}"


async def org_context(request: web.Request) -> OrgContext:
    """The authenticated org's context; 403 unless SAML and SCIM are enabled for it."""
    org_id = request[ORG_ID]
    await request.app[ORG_GATE].check(org_id)
    return OrgContext(org_id, request.app[MAPPINGS].for_org(org_id), base_url(request))
