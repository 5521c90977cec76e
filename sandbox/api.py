"""The `/internal/v1` routes of the contract, one handler per call.

Each handler checks in the contract's precedence order: org (404), rate limit
(429), query (400), record (404), body (400), If-Match (412), field rules
(422), uniqueness (409). Bodies are read before any check, so everything from
the first check to the write runs without yielding to another request.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox import params, rules
from sandbox.errors import ApiError, Fields, bad_request, conflict, invalid, not_found
from sandbox.errors import rate_limited as too_many
from sandbox.errors import stale as stale_error
from sandbox.state import SANDBOX_KEY, Sandbox
from sandbox.timestamps import to_seconds

PREFIX = "/internal/v1"
REMEMBERED_ERRORS = frozenset({400, 409, 422})
_IF_MATCH = re.compile(r"[0-9]+", re.ASCII)

routes = web.RouteTableDef()


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _admit(request: web.Request) -> dict[str, Any]:
    """The org of the path (404 when unknown), counted against its rate limit (429)."""
    sandbox = _sandbox(request)
    org = sandbox.store.get_org(_id(request, "org_id"))
    if org is None:
        raise not_found("no such org")
    wait = sandbox.limiter.admit(org["id"], org["rate_limit_per_s"], to_seconds(sandbox.clock()))
    if wait is not None:
        raise too_many(wait)
    return org


def _employee(sandbox: Sandbox, org: dict[str, Any], request: web.Request) -> dict[str, Any]:
    record = sandbox.store.get_employee(org["id"], _id(request, "employee_id"))
    if record is None:
        raise not_found("no such employee")
    return record


def _team(sandbox: Sandbox, org: dict[str, Any], request: web.Request) -> dict[str, Any]:
    record = sandbox.store.get_team(org["id"], _id(request, "team_id"))
    if record is None:
        raise not_found("no such team")
    return record


def _check_if_match(request: web.Request, lock_version: int) -> None:
    """`If-Match: <int>` must equal the record's lock_version (412); absent is fine."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    text = header.strip()
    if not _IF_MATCH.fullmatch(text):
        raise bad_request("If-Match must be a bare integer lock_version")
    if int(text) != lock_version:
        raise stale_error(lock_version)


def _manager_problems(sandbox: Sandbox, org_id: int, values: dict, self_id: int | None) -> Fields:
    manager_id = values.get("manager_id")
    if manager_id is None:
        return {}
    if manager_id == self_id:
        return {"manager_id": ["can't be the employee itself"]}
    if sandbox.store.missing_employees(org_id, [manager_id]):
        return {"manager_id": ["is not an employee of this org"]}
    return {}


def _page_body(name: str, items: list, page: params.Page, total: int) -> dict[str, Any]:
    return {name: items, "meta": page.meta(total)}


def _remembering(
    request: web.Request, org: dict[str, Any], create: Any, raw: bytes
) -> web.Response:
    """Run a create, honouring `Idempotency-Key` (replay the first answer for 24 h)."""
    sandbox = _sandbox(request)
    key = request.headers.get("Idempotency-Key") or None
    now = sandbox.now()
    if key is not None:
        first = sandbox.store.recall(org["id"], key, now)
        if first is not None:
            status, body = first
            return web.json_response(body, status=status)
    try:
        record = create(sandbox, org, request, raw)
    except ApiError as error:
        if key is not None and error.status in REMEMBERED_ERRORS:
            sandbox.store.remember(org["id"], key, error.status, error.body(), now)
        raise
    if key is not None:
        sandbox.store.remember(org["id"], key, 201, record, now)
    return web.json_response(record, status=201)


# ---- orgs -------------------------------------------------------------------


@routes.get(PREFIX + r"/orgs/{org_id:\d+}")
async def get_org(request: web.Request) -> web.Response:
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    return web.json_response({k: org[k] for k in ("id", "name", "saml_enabled", "scim_enabled")})


# ---- employees --------------------------------------------------------------


@routes.get(PREFIX + r"/orgs/{org_id:\d+}/employees")
async def list_employees(request: web.Request) -> web.Response:
    org = _admit(request)
    values = params.single_values(request.query, params.EMPLOYEE_LIST)
    page = params.page_of(values)
    where = params.employee_filter(values)
    records, total = _sandbox(request).store.list_employees(org["id"], where, page)
    return web.json_response(_page_body("employees", records, page, total))


@routes.get(PREFIX + r"/orgs/{org_id:\d+}/employees/{employee_id:\d+}")
async def get_employee(request: web.Request) -> web.Response:
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    return web.json_response(_employee(_sandbox(request), org, request))


def _create_employee(
    sandbox: Sandbox, org: dict[str, Any], request: web.Request, raw: bytes
) -> dict[str, Any]:
    params.single_values(request.query, params.NONE)
    body = rules.decode_object(raw)
    values = rules.shape(body, rules.EMPLOYEE_RULES, rules.EMPLOYEE_READ_ONLY)
    problems = rules.problems(values, rules.EMPLOYEE_RULES, creating=True)
    problems = _manager_problems(sandbox, org["id"], values, None) | problems
    if problems:
        raise invalid(problems)
    taken = sandbox.store.employee_conflicts(org["id"], values)
    if taken:
        raise conflict(taken)
    return sandbox.store.insert_employee(org["id"], values, sandbox.now())


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/employees")
async def create_employee(request: web.Request) -> web.Response:
    raw = await request.read()
    org = _admit(request)
    return _remembering(request, org, _create_employee, raw)


@routes.patch(PREFIX + r"/orgs/{org_id:\d+}/employees/{employee_id:\d+}")
async def update_employee(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    current = _employee(sandbox, org, request)
    body = rules.decode_object(raw)
    values = rules.shape(body, rules.EMPLOYEE_RULES, rules.EMPLOYEE_READ_ONLY)
    _check_if_match(request, current["lock_version"])
    problems = rules.problems(values, rules.EMPLOYEE_RULES, creating=False)
    problems = _manager_problems(sandbox, org["id"], values, current["id"]) | problems
    if problems:
        raise invalid(problems)
    taken = sandbox.store.employee_conflicts(org["id"], values, exclude_id=current["id"])
    if taken:
        raise conflict(taken)
    record = sandbox.store.update_employee(org["id"], current["id"], values, sandbox.now())
    return web.json_response(record)


async def _set_status(request: web.Request, status: str) -> web.Response:
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    current = _employee(sandbox, org, request)
    record = sandbox.store.set_status(org["id"], current["id"], status, sandbox.now())
    return web.json_response(record)


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/employees/{employee_id:\d+}/deactivate")
async def deactivate_employee(request: web.Request) -> web.Response:
    return await _set_status(request, "deactivated")


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/employees/{employee_id:\d+}/reactivate")
async def reactivate_employee(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


# ---- teams ------------------------------------------------------------------


@routes.get(PREFIX + r"/orgs/{org_id:\d+}/teams")
async def list_teams(request: web.Request) -> web.Response:
    org = _admit(request)
    values = params.single_values(request.query, params.TEAM_LIST)
    page = params.page_of(values)
    records, total = _sandbox(request).store.list_teams(org["id"], values.get("name"), page)
    return web.json_response(_page_body("teams", records, page, total))


def _create_team(
    sandbox: Sandbox, org: dict[str, Any], request: web.Request, raw: bytes
) -> dict[str, Any]:
    params.single_values(request.query, params.NONE)
    body = rules.decode_object(raw)
    values = rules.shape(body, rules.TEAM_RULES, rules.TEAM_READ_ONLY)
    problems = rules.problems(values, rules.TEAM_RULES, creating=True)
    if problems:
        raise invalid(problems)
    taken = sandbox.store.team_conflicts(org["id"], values)
    if taken:
        raise conflict(taken)
    return sandbox.store.insert_team(org["id"], values, sandbox.now())


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/teams")
async def create_team(request: web.Request) -> web.Response:
    raw = await request.read()
    org = _admit(request)
    return _remembering(request, org, _create_team, raw)


@routes.get(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}")
async def get_team(request: web.Request) -> web.Response:
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    return web.json_response(_team(_sandbox(request), org, request))


@routes.patch(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}")
async def update_team(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    current = _team(sandbox, org, request)
    body = rules.decode_object(raw)
    values = rules.shape(body, rules.TEAM_RULES, rules.TEAM_READ_ONLY)
    _check_if_match(request, current["lock_version"])
    problems = rules.problems(values, rules.TEAM_RULES, creating=False)
    if problems:
        raise invalid(problems)
    taken = sandbox.store.team_conflicts(org["id"], values, exclude_id=current["id"])
    if taken:
        raise conflict(taken)
    return web.json_response(
        sandbox.store.update_team(org["id"], current["id"], values, sandbox.now())
    )


@routes.delete(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}")
async def delete_team(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    current = _team(sandbox, org, request)
    sandbox.store.delete_team(current["id"])
    return web.Response(status=204)


@routes.get(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}/members")
async def list_members(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    org = _admit(request)
    page = params.page_of(params.single_values(request.query, params.PAGING))
    team = _team(sandbox, org, request)
    members, total = sandbox.store.list_members(team["id"], page)
    return web.json_response(_page_body("members", members, page, total))


def member_ids(raw: bytes, limit: int | None) -> list[int]:
    """The `employee_ids` of a membership body: 400 for its shape, 422 for its size."""
    ids = rules.member_ids_shape(rules.decode_object(raw))
    problems = rules.member_ids_problems(ids, limit)
    if problems or ids is None:
        raise invalid(problems)
    return ids


def add_checked_members(
    sandbox: Sandbox, org_id: int, team_id: int, ids: list[int]
) -> dict[str, int]:
    """Add members when every id is an employee of the org; otherwise 422, nothing added."""
    missing = sandbox.store.missing_employees(org_id, ids)
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise invalid({"employee_ids": [f"are not employees of this org: {shown}"]})
    return {"added": sandbox.store.add_members(team_id, ids, sandbox.now())}


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}/members/add")
async def add_members(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    team = _team(sandbox, org, request)
    ids = member_ids(raw, rules.MAX_MEMBER_IDS)
    return web.json_response(add_checked_members(sandbox, org["id"], team["id"], ids))


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}/members/remove")
async def remove_members(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _admit(request)
    params.single_values(request.query, params.NONE)
    team = _team(sandbox, org, request)
    ids = member_ids(raw, rules.MAX_MEMBER_IDS)
    return web.json_response({"removed": sandbox.store.remove_members(team["id"], ids)})


def is_internal(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
