"""Reading SCIM requests: JSON bodies and list parameters, with clear 400s."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.helpers import ETag

from gateway import jsonio
from gateway.config import LimitsConfig
from gateway.provisioning.listing import Window
from gateway.scim.budget import BodyBudget, FilterBudget, check_body, check_patch
from gateway.scim.errors import ScimError
from gateway.scim.filter import Filter, parse_filter
from gateway.scim.projection import parse_attribute_list
from gateway.scim.requests import prepare_patch, prepare_resource
from gateway.scim.schema import ResourceType
from gateway.scim.versions import Versions
from gateway.web.state import CONFIG

# SCIM bodies nest a few levels (extension → manager → value); this leaves room to
# spare while keeping the recursive walks after it (canonicalise, validation) safe.
MAX_BODY_DEPTH = 32
# The largest startIndex accepted: far past any org, and small enough to echo as JSON.
MAX_START_INDEX = 2**31 - 1
# Bodies larger than this are decoded, measured, normalised and validated on a worker
# thread: JSON Schema costs tens of microseconds a value, so on the event loop a
# 5,000-member group push would stall every other org's requests for a quarter of a
# second. The size in bytes decides before any work is done; the thread yields the
# interpreter every few ms, and two workers bound how many such bodies run at once.
OFF_LOOP_BYTES = 16_384
# Filters longer than this are parsed on the same worker (a filter's parse costs about
# as much per character as a body's validation does per byte).
OFF_LOOP_FILTER_CHARS = 1_024
# One worker: pure-Python work on a thread competes with the event loop for the
# interpreter, so each busy worker takes a share of the loop's time. With one, the
# loop keeps at least half however many large bodies arrive (they queue).
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scim-body")
# How long a running thread keeps the interpreter before handing it over (CPython's
# default is 5 ms). The event loop waits up to this long for the worker at each of a
# request's wake-ups, so with the default a 3 ms lookup took 25 ms while a large body
# was being validated; with 1 ms, 6 ms (python -m bench.bench_attack).
SWITCH_INTERVAL_S = 0.001


def share_the_interpreter() -> None:
    """Called once at start-up: the worker hands the interpreter back to the loop often."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)

T = TypeVar("T")


async def off_loop_if_large(size: int, work: Callable[..., T], *args: Any,
                            limit: int = OFF_LOOP_BYTES) -> T:
    """`work(*args)`, on the worker thread when `size` is more than `limit`."""
    if size <= limit:
        return work(*args)
    return await asyncio.get_running_loop().run_in_executor(_WORKER, work, *args)


def filter_budget(limits: LimitsConfig) -> FilterBudget:
    """The filter budget of `limits` (a config's limits are fixed: built once per config)."""
    cached = _FILTER_BUDGETS.get(id(limits))
    if cached is None or cached[0] is not limits:
        if len(_FILTER_BUDGETS) > 64:
            _FILTER_BUDGETS.clear()
        cached = _FILTER_BUDGETS[id(limits)] = (
            limits, FilterBudget(limits.filter_max_length, limits.filter_max_nodes))
    return cached[1]


_FILTER_BUDGETS: dict[int, tuple[LimitsConfig, FilterBudget]] = {}


def body_budget(limits: LimitsConfig) -> BodyBudget:
    return BodyBudget(limits.body_max_values, limits.body_max_attributes,
                      limits.patch_max_operations)


async def read_json_object(request: web.Request) -> dict:
    """The body as a JSON object within the body budget; anything else is a 400 invalidSyntax.

    Call it only after the org gate (`org_context`): a caller whose org may not
    provision learns that (403) before the gateway spends anything on the body.
    """
    try:
        raw = await request.read()
    except ConnectionResetError:
        # The client left, or was cut off for a body slower than server.body_timeout_s.
        raise ScimError(408, "The request body did not arrive in time") from None
    return await off_loop_if_large(len(raw), parse_body, raw, body_budget(_limits(request)))


def parse_body(raw: bytes, budget: BodyBudget) -> dict:
    """Decode a request body and measure it against `budget` (400 invalidSyntax if not fit)."""
    if not raw.strip():
        raise ScimError(400, "The request body is empty; a JSON object is required",
                        "invalidSyntax")
    try:
        body = jsonio.loads(raw)
    except (jsonio.DecodeError, UnicodeDecodeError, ValueError):
        raise ScimError(400, "The request body is not valid JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object", "invalidSyntax")
    check_body(body, budget, MAX_BODY_DEPTH)
    return body


def _versions(tags: tuple[ETag, ...] | None) -> Versions | None:
    return None if tags is None else Versions.of(tag.value for tag in tags)


def if_match(request: web.Request) -> Versions | None:
    """The versions `If-Match` accepts (aiohttp parses the header), or None without one."""
    return _versions(request.if_match)


def if_none_match(request: web.Request) -> Versions | None:
    """The versions `If-None-Match` names, or None without the header."""
    return _versions(request.if_none_match)


def prepared_resource(raw: bytes, budget: BodyBudget, rtype: ResourceType, kind: str) -> dict:
    """A POST/PUT body decoded, within the budget, normalised and validated (one step)."""
    return prepare_resource(parse_body(raw, budget), rtype, kind)


def prepared_patch(raw: bytes, budget: BodyBudget, filters: FilterBudget,
                   rtype: ResourceType) -> list[dict]:
    """A PatchOp body decoded, within both budgets, normalised and validated (one step)."""
    body = parse_body(raw, budget)
    check_patch(body, budget, filters)
    return prepare_patch(body, rtype)


def _limits(request: web.Request) -> LimitsConfig:
    return request.app[CONFIG].limits


async def resource_body(request: web.Request, rtype: ResourceType, kind: str) -> dict:
    """A POST/PUT body of `kind`, normalised, validated, read-only attributes dropped."""
    raw = await request.read()
    budget = body_budget(_limits(request))
    return await off_loop_if_large(len(raw), prepared_resource, raw, budget, rtype, kind)


async def patch_operations(request: web.Request, rtype: ResourceType) -> list[dict]:
    """The operations of a PATCH body (within the budget), normalised and validated."""
    raw = await request.read()
    limits = _limits(request)
    return await off_loop_if_large(len(raw), prepared_patch, raw, body_budget(limits),
                                   filter_budget(limits), rtype)


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
    async def read(cls, source: dict, max_page_size: int, limits: LimitsConfig) -> ListParams:
        """`parse`, on the worker thread when the filter is long (see OFF_LOOP_FILTER_CHARS)."""
        text = source.get("filter")
        size = len(text) if isinstance(text, str) else 0
        return await off_loop_if_large(size, cls.parse, source, max_page_size, limits,
                                       limit=OFF_LOOP_FILTER_CHARS)

    @classmethod
    def parse(cls, source: dict, max_page_size: int,
              limits: LimitsConfig | None = None) -> ListParams:
        """Build from query parameters or a SearchRequest body (same names)."""
        start = _integer("startIndex", source["startIndex"]) if "startIndex" in source else 1
        if start > MAX_START_INDEX:
            raise ScimError(400, f"startIndex must be at most {MAX_START_INDEX}", "invalidValue")
        count = _integer("count", source["count"]) if "count" in source else max_page_size
        text = source.get("filter")
        if text is not None and not isinstance(text, str):
            raise ScimError(400, "filter must be a string", "invalidFilter")
        budget = filter_budget(limits or LimitsConfig())
        node = parse_filter(text, budget) if text and text.strip() else None
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


# The list parameters by their folded names (RFC 7644 §3.4.2 spells them in camelCase).
_LIST_PARAMETERS = {n.lower(): n for n in ("filter", "startIndex", "count", "sortBy",
                                           "sortOrder", "attributes", "excludedAttributes")}


def query_dict(request: web.Request) -> dict[str, str]:
    """Query parameters as a dict, case-insensitive names folded to RFC spelling.

    A repeated parameter is a 400: which of two filters was meant can't be guessed.
    """
    canonical = _LIST_PARAMETERS
    out: dict[str, str] = {}
    for key, value in request.query.items():
        if not key:
            continue
        name = canonical.get(key.lower(), key)
        if name in out:
            raise ScimError(400, f"Query parameter {name} is given twice", "invalidValue")
        out[name] = value
    return out
