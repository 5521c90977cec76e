"""Reading SCIM requests: JSON bodies and list parameters, with clear 400s."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.helpers import ETag

from gateway import jsonio
from gateway.provisioning.listing import Window
from gateway.scim.errors import ScimError
from gateway.scim.filter import Filter, parse_filter
from gateway.scim.projection import parse_attribute_list
from gateway.scim.requests import prepare_patch, prepare_resource
from gateway.scim.schema import ResourceType
from gateway.scim.versions import Versions

# SCIM bodies nest a few levels (extension → manager → value); this leaves room to
# spare while keeping the recursive walks after it (canonicalise, validation) safe.
MAX_BODY_DEPTH = 32
# The largest startIndex accepted: far past any org, and small enough to echo as JSON.
MAX_START_INDEX = 2**31 - 1


def _depth_exceeds(value: object, limit: int) -> bool:
    """Whether JSON `value` nests deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


async def read_json_object(request: web.Request) -> dict:
    """The body as a JSON object; anything else is a 400 invalidSyntax."""
    raw = await request.read()
    if not raw.strip():
        raise ScimError(400, "The request body is empty; a JSON object is required",
                        "invalidSyntax")
    try:
        body = jsonio.loads(raw)
    except (jsonio.DecodeError, UnicodeDecodeError, ValueError):
        raise ScimError(400, "The request body is not valid JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object", "invalidSyntax")
    if _depth_exceeds(body, MAX_BODY_DEPTH):
        raise ScimError(400, f"The request body nests deeper than {MAX_BODY_DEPTH} levels",
                        "invalidSyntax")
    return body


def _versions(tags: tuple[ETag, ...] | None) -> Versions | None:
    return None if tags is None else Versions.of(tag.value for tag in tags)


def if_match(request: web.Request) -> Versions | None:
    """The versions `If-Match` accepts (aiohttp parses the header), or None without one."""
    return _versions(request.if_match)


def if_none_match(request: web.Request) -> Versions | None:
    """The versions `If-None-Match` names, or None without the header."""
    return _versions(request.if_none_match)


async def resource_body(request: web.Request, rtype: ResourceType, kind: str) -> dict:
    """A POST/PUT body of `kind`, normalised, validated, read-only attributes dropped."""
    return prepare_resource(await read_json_object(request), rtype, kind)


async def patch_operations(request: web.Request, rtype: ResourceType) -> list[dict]:
    """The operations of a PATCH body, normalised and validated."""
    return prepare_patch(await read_json_object(request), rtype)


def _integer(name: str, raw: object) -> int:
    if isinstance(raw, bool):
        raise ScimError(400, f"{name} must be an integer", "invalidValue")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        raise ScimError(400, f"{name} must be an integer, got {text[:40]!r}",
                        "invalidValue") from None


@dataclass(frozen=True)
class ListParams:
    """The list/search parameters of RFC 7644 §3.4.2 (query string or SearchRequest)."""

    filter: Filter | None
    window: Window
    sort_by: str | None
    descending: bool
    attributes: list[str] | None
    excluded: list[str] | None

    @classmethod
    def parse(cls, source: dict, max_page_size: int) -> ListParams:
        """Build from query parameters or a SearchRequest body (same names)."""
        start = _integer("startIndex", source["startIndex"]) if "startIndex" in source else 1
        if start > MAX_START_INDEX:
            raise ScimError(400, f"startIndex must be at most {MAX_START_INDEX}", "invalidValue")
        count = _integer("count", source["count"]) if "count" in source else max_page_size
        text = source.get("filter")
        if text is not None and not isinstance(text, str):
            raise ScimError(400, "filter must be a string", "invalidFilter")
        node = parse_filter(text) if text and text.strip() else None
        sort_order = str(source.get("sortOrder") or "ascending")
        if sort_order.lower() not in ("ascending", "descending"):
            raise ScimError(400, "sortOrder must be 'ascending' or 'descending'", "invalidValue")
        sort_by = source.get("sortBy") or None
        if sort_by is not None and not isinstance(sort_by, str):
            raise ScimError(400, "sortBy must be a string", "invalidValue")
        return cls(
            filter=node,
            window=Window(max(1, start), min(max(0, count), max_page_size)),
            sort_by=sort_by,
            descending=sort_order.lower() == "descending",
            attributes=_names(source.get("attributes")),
            excluded=_names(source.get("excludedAttributes")),
        )


def _names(value: object) -> list[str] | None:
    """attributes/excludedAttributes as a comma-separated string or a JSON list."""
    if value is None:
        return None
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)] or None
    if isinstance(value, str):
        return parse_attribute_list(value)
    raise ScimError(400, "attributes must be a string or a list of strings", "invalidValue")


def projection_params(request: web.Request) -> tuple[list[str] | None, list[str] | None]:
    """attributes/excludedAttributes of a single-resource request."""
    return (parse_attribute_list(request.query.get("attributes")),
            parse_attribute_list(request.query.get("excludedAttributes")))


def query_dict(request: web.Request) -> dict[str, str]:
    """Query parameters as a dict, case-insensitive names folded to RFC spelling.

    A repeated parameter is a 400: which of two filters was meant can't be guessed.
    """
    canonical = {n.lower(): n for n in ("filter", "startIndex", "count", "sortBy", "sortOrder",
                                        "attributes", "excludedAttributes")}
    out: dict[str, str] = {}
    for key, value in request.query.items():
        if not key:
            continue
        name = canonical.get(key.lower(), key)
        if name in out:
            raise ScimError(400, f"Query parameter {name} is given twice", "invalidValue")
        out[name] = value
    return out
