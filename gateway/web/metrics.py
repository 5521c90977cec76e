"""GET /metrics: the Prometheus exposition, optionally behind a bearer token.

Served on the gateway's own port so every worker answers it (in multiprocess
mode each answer covers all workers). Its content is counts and timings
labelled with org ids, IdP names, route templates and statuses: no secret,
no person. `metrics.token`, when set, keeps it from anyone without the token.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from gateway.observability import metrics
from gateway.web.state import CONFIG


async def metrics_endpoint(request: web.Request) -> web.Response:
    token = request.app[CONFIG].metrics.token
    if token:
        scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()):
            return web.Response(status=401, text="metrics need the metrics.token bearer token\n",
                                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="metrics"'})
    body, content_type = metrics.render()
    # content_type carries its own charset parameter, so it goes in as a raw header.
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: content_type})
