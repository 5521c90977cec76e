"""Per-request org context: who is asking, and may their org be provisioned."""

from __future__ import annotations

from aiohttp import web

from gateway.observability.context import current
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
    mappings = request.app[MAPPINGS].for_org(org_id)
    observed = current.get()
    if observed is not None:  # the audit trail names the mapping, refused requests too
        observed.mapping_module, observed.mapping_version = mappings.module, mappings.version
    await request.app[ORG_GATE].check(org_id)
    return OrgContext(org_id, mappings, base_url(request))
