"""The contract's error precedence: 401, route 404/405, org 404, 429, query 400,
record 404, body 400, 412, 422, 409 — each pair tested with both errors present."""

from __future__ import annotations

from tests.sandbox.conftest import Api


async def test_error_precedence_unauthorized_before_unknown_route(api: Api) -> None:
    reply = await api.call("GET", "/no/such/route", auth=False)
    assert reply.status == 401


async def test_error_precedence_unknown_route_before_unknown_org(api: Api) -> None:
    reply = await api.call("GET", "/internal/v1/orgs/999/widgets")
    assert reply.status == 404
    assert reply.body["error"]["message"] == "no such route"


async def test_error_precedence_method_not_allowed_before_unknown_org(api: Api) -> None:
    reply = await api.call("PUT", "/internal/v1/orgs/999/employees/1")
    assert reply.status == 405


async def test_error_precedence_unknown_org_before_bad_query(api: Api) -> None:
    reply = await api.call("GET", "/internal/v1/orgs/999/employees?page=zero")
    assert reply.status == 404


async def test_error_precedence_rate_limit_before_bad_query(api: Api) -> None:
    limited = await api.create_org(rate_limit_per_s=1)
    base = f"/internal/v1/orgs/{limited['id']}"
    assert (await api.call("GET", base)).status == 200
    reply = await api.call("GET", f"{base}/employees?page=zero")
    assert reply.status == 429


async def test_error_precedence_bad_query_before_unknown_record(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/employees/424242?verbose=1")
    assert reply.status == 400
    assert reply.error_code == "bad_request"


async def test_error_precedence_unknown_record_before_bad_body(api: Api, base: str) -> None:
    reply = await api.call("PATCH", f"{base}/employees/424242", data="{not json")
    assert reply.status == 404


async def test_error_precedence_bad_body_before_stale(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    reply = await api.call(
        "PATCH", f"{base}/employees/{ada['id']}", {"status": "x"}, headers={"If-Match": "9"}
    )
    assert reply.status == 400


async def test_error_precedence_stale_before_invalid(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    reply = await api.call(
        "PATCH", f"{base}/employees/{ada['id']}", {"first_name": ""}, headers={"If-Match": "9"}
    )
    assert reply.status == 412


async def test_error_precedence_invalid_before_conflict(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="ada@acme.example")
    reply = await api.call(
        "POST",
        f"{base}/employees",
        {"email": "ADA@acme.example", "first_name": "", "last_name": "L"},
    )
    assert reply.status == 422
    assert set(reply.fields) == {"first_name"}


async def test_error_precedence_bad_body_before_invalid_on_create(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/employees", {"email": None, "nickname": "x"})
    assert reply.status == 400


async def test_error_precedence_unknown_team_before_bad_body(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams/31337/members/add", data="[]")
    assert reply.status == 404
