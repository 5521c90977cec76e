"""Sandbox-only admin routes under `/_sandbox/` (NOT part of the contract).

They let tests, demos and benchmarks set up orgs, load many people quickly,
switch maintenance on and see which `/internal/v1` calls a gateway made. They
share the service token but are never rate-limited, logged or put under
maintenance.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox import api, rules
from sandbox.errors import Fields, bad_request, conflict, invalid, not_found
from sandbox.state import SANDBOX_KEY, Sandbox

PREFIX = "/_sandbox"
_ORG_FIELDS: dict[str, type] = {
    "name": str,
    "saml_enabled": bool,
    "scim_enabled": bool,
    "rate_limit_per_s": int,
}

routes = web.RouteTableDef()


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def _org_values(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    for name, value in body.items():
        kind = _ORG_FIELDS.get(name)
        if kind is None:
            raise bad_request(f"unknown field {name}")
        if type(value) is not kind:
            raise bad_request(f"{name} must be a {kind.__name__}")
    problems: Fields = {}
    if creating and "name" not in body:
        problems["name"] = ["is required"]
    if "name" in body and not body["name"]:
        problems["name"] = ["can't be empty"]
    if body.get("rate_limit_per_s", 0) < 0:
        problems["rate_limit_per_s"] = ["must be 0 (no limit) or more"]
    if problems:
        raise invalid(problems)
    return body


def _org_of(request: web.Request) -> dict[str, Any]:
    org = _sandbox(request).store.get_org(int(request.match_info["org_id"]))
    if org is None:
        raise not_found("no such org")
    return org


@routes.post(PREFIX + "/orgs")
async def create_org(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    values = _org_values(rules.decode_object(await request.read()), creating=True)
    org = sandbox.store.create_org(
        values["name"],
        values.get("saml_enabled", True),
        values.get("scim_enabled", True),
        values.get("rate_limit_per_s", sandbox.default_rate_limit),
    )
    return web.json_response(org, status=201)


@routes.get(PREFIX + r"/orgs/{org_id:\d+}")
async def get_org(request: web.Request) -> web.Response:
    return web.json_response(_org_of(request))


@routes.patch(PREFIX + r"/orgs/{org_id:\d+}")
async def update_org(request: web.Request) -> web.Response:
    raw = await request.read()
    org = _org_of(request)
    values = _org_values(rules.decode_object(raw), creating=False)
    return web.json_response(_sandbox(request).store.update_org(org["id"], values))


def _bulk_rows(sandbox: Sandbox, org_id: int, items: object) -> list[dict[str, Any]]:
    """Every row checked by the contract's rules; errors name the row index."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request("employees must be an array of objects")
    rows: list[dict[str, Any]] = []
    problems: Fields = {}
    for index, item in enumerate(items):
        try:
            values = rules.shape(item, rules.EMPLOYEE_RULES, rules.EMPLOYEE_READ_ONLY)
        except api.ApiError as error:
            raise bad_request(f"employees[{index}]: {error.message}") from None
        for name, messages in rules.problems(values, rules.EMPLOYEE_RULES, creating=True).items():
            problems[f"employees[{index}].{name}"] = messages
        rows.append(values)
    managers = [row["manager_id"] for row in rows if row.get("manager_id") is not None]
    missing = set(sandbox.store.missing_employees(org_id, managers))
    for index, row in enumerate(rows):
        if row.get("manager_id") in missing:
            problems[f"employees[{index}].manager_id"] = ["is not an employee of this org"]
    if problems:
        raise invalid(problems)
    emails: set[str] = set()
    numbers: set[str] = set()
    for index, row in enumerate(rows):
        email, number = row["email"].casefold(), row.get("employee_number")
        if email in emails:
            raise conflict({f"employees[{index}].email": ["is repeated in the batch"]})
        if number is not None and number in numbers:
            raise conflict({f"employees[{index}].employee_number": ["is repeated in the batch"]})
        emails.add(email)
        if number is not None:
            numbers.add(number)
    return rows


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/employees/bulk")
async def bulk_employees(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _org_of(request)
    body = rules.decode_object(raw)
    if set(body) != {"employees"}:
        raise bad_request('the body must be {"employees": [...]}')
    rows = _bulk_rows(sandbox, org["id"], body["employees"])
    ids = sandbox.store.bulk_insert_employees(org["id"], rows, sandbox.now())
    return web.json_response({"ids": ids}, status=201)


@routes.post(PREFIX + r"/orgs/{org_id:\d+}/teams/{team_id:\d+}/members/bulk")
async def bulk_members(request: web.Request) -> web.Response:
    raw = await request.read()
    sandbox = _sandbox(request)
    org = _org_of(request)
    team = sandbox.store.get_team(org["id"], int(request.match_info["team_id"]))
    if team is None:
        raise not_found("no such team")
    ids = api.member_ids(raw, limit=None)
    return web.json_response(api.add_checked_members(sandbox, org["id"], team["id"], ids))


def _maintenance_body(sandbox: Sandbox) -> dict[str, Any]:
    return {"enabled": sandbox.maintenance.enabled, "retry_after": sandbox.maintenance.retry_after}


@routes.get(PREFIX + "/maintenance")
async def get_maintenance(request: web.Request) -> web.Response:
    return web.json_response(_maintenance_body(_sandbox(request)))


@routes.put(PREFIX + "/maintenance")
async def set_maintenance(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = rules.decode_object(await request.read())
    if set(body) - {"enabled", "retry_after"} or type(body.get("enabled")) is not bool:
        raise bad_request('the body must be {"enabled": bool, "retry_after": int | null}')
    retry_after = body.get("retry_after")
    if retry_after is not None and (type(retry_after) is not int or retry_after < 0):
        raise bad_request("retry_after must be a non-negative integer or null")
    sandbox.maintenance.enabled = body["enabled"]
    sandbox.maintenance.retry_after = retry_after
    return web.json_response(_maintenance_body(sandbox))


@routes.get(PREFIX + "/requests")
async def list_requests(request: web.Request) -> web.Response:
    return web.json_response({"requests": _sandbox(request).requests})


@routes.delete(PREFIX + "/requests")
async def clear_requests(request: web.Request) -> web.Response:
    _sandbox(request).requests.clear()
    return web.Response(status=204)
