"""SCIM responses: content type, ETag, Location, list envelopes."""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDict

from gateway import jsonio
from gateway.scim.errors import ScimError
from gateway.scim.schema import LIST_RESPONSE

SCIM_JSON = "application/scim+json"
_SCIM_CONTENT_TYPE = f"{SCIM_JSON}; charset=utf-8"


def scim_response(
    body: dict | None, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    # The header as one ready string: aiohttp builds it from content_type= and charset=
    # anew for every response otherwise.
    head = CIMultiDict(headers) if headers else CIMultiDict()
    head[hdrs.CONTENT_TYPE] = _SCIM_CONTENT_TYPE
    return web.Response(body=jsonio.dumps(body), status=status, headers=head)


def resource_response(resource: dict, status: int = 200, *, location: bool = False,
                      projected: dict | None = None) -> web.Response:
    """One resource, with its version as ETag (and Location on create)."""
    meta = resource.get("meta", {})
    headers = {}
    if meta.get("version"):
        headers["ETag"] = meta["version"]
    if location and meta.get("location"):
        headers["Location"] = meta["location"]
    return scim_response(projected if projected is not None else resource, status, headers)


def list_response(total: int, start_index: int, resources: list[dict]) -> web.Response:
    return scim_response({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    })


def error_response(error: ScimError) -> web.Response:
    """The SCIM Error body; always encodable, since it is the answer of last resort.

    A detail may quote what the client sent, lone surrogates included, which
    no JSON encoder writes as UTF-8: those are escaped rather than crash here.
    """
    error.detail = error.detail.encode("utf-8", "backslashreplace").decode("utf-8")
    headers = dict(error.headers)
    if error.retry_after is not None:
        headers["Retry-After"] = str(int(error.retry_after))
    return scim_response(error.body(), error.status, headers)
