"""Per-request org context: who is asking, and may their org be provisioned."""

from __future__ import annotations

from aiohttp import web

from gateway.provisioning.context import OrgContext
from gateway.web.auth import ORG_ID
from gateway.web.state import ALLOWED_HOSTS, CONFIG, MAPPINGS, ORG_GATE


def base_url(request: web.Request) -> str:
    """The SCIM base URL as the IdP sees it (for meta.location and Location).

    `server.public_url` when set (production sets it). Otherwise the Host
    header is attacker-controlled, so it is echoed only when it is one of
    `server.allowed_hosts`; any other Host gets the first allowed host, and
    with none configured the address the connection actually reached (the
    server's own socket), never the header.
    """
    server = request.app[CONFIG].server
    if server.public_url:
        return server.public_url.rstrip("/") + server.base_path
    return f"{request.scheme}://{_url_host(request, server.allowed_hosts)}{server.base_path}"


def _url_host(request: web.Request, allowed_hosts: tuple[str, ...]) -> str:
    host = (request.host or "").lower()
    if host in request.app[ALLOWED_HOSTS]:
        return host
    if allowed_hosts:
        return allowed_hosts[0]
    return _socket_host(request)


def _socket_host(request: web.Request) -> str:
    """host:port of the local end of the connection ("localhost" if it cannot be read)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return "localhost"
    address, port = sockname[0], sockname[1]
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def org_context(request: web.Request) -> OrgContext:
    """The authenticated org's context; 403 unless SAML and SCIM are enabled for it."""
    org_id = request[ORG_ID]
    await request.app[ORG_GATE].check(org_id)
    return OrgContext(org_id, request.app[MAPPINGS].for_org(org_id), base_url(request))
