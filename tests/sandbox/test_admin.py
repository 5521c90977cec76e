"""The sandbox-only admin API under /_sandbox/ (not part of the contract)."""

from __future__ import annotations

from sandbox.app import SANDBOX_KEY
from sandbox.state import Maintenance
from sandbox.store import Store
from tests.sandbox.conftest import Api


def _person(i: int, **extra: object) -> dict[str, object]:
    return {"email": f"p{i}@acme.example", "first_name": "P", "last_name": str(i), **extra}


async def test_create_org_defaults_flags_and_rate_limit(api: Api) -> None:
    reply = await api.call("POST", "/_sandbox/orgs", {"name": "Acme"})
    assert reply.status == 201
    assert reply.body == {
        "id": reply.body["id"],
        "name": "Acme",
        "saml_enabled": True,
        "scim_enabled": True,
        "rate_limit_per_s": 50,
    }


async def test_admin_routes_need_the_token(api: Api) -> None:
    reply = await api.call("POST", "/_sandbox/orgs", {"name": "Acme"}, auth=False)
    assert reply.status == 401
    assert (await api.call("GET", "/_sandbox/requests", auth=False)).status == 401


async def test_create_org_rejects_bad_bodies(api: Api) -> None:
    assert (await api.call("POST", "/_sandbox/orgs", {"name": 1})).status == 400
    assert (await api.call("POST", "/_sandbox/orgs", {"name": "A", "x": 1})).status == 400
    assert (
        await api.call("POST", "/_sandbox/orgs", {"name": "A", "saml_enabled": 1})
    ).status == 400
    assert (await api.call("POST", "/_sandbox/orgs", {})).status == 422
    negative = {"name": "A", "rate_limit_per_s": -1}
    assert (await api.call("POST", "/_sandbox/orgs", negative)).status == 422


async def test_patch_org_changes_flags_seen_by_the_contract_api(api: Api) -> None:
    org = await api.create_org()
    reply = await api.call("PATCH", f"/_sandbox/orgs/{org['id']}", {"scim_enabled": False})
    assert reply.status == 200
    assert reply.body["scim_enabled"] is False
    seen = await api.call("GET", f"/internal/v1/orgs/{org['id']}")
    assert seen.body["scim_enabled"] is False
    assert "rate_limit_per_s" not in seen.body


async def test_patch_unknown_org_is_not_found(api: Api) -> None:
    assert (await api.call("PATCH", "/_sandbox/orgs/99", {"name": "x"})).status == 404


async def test_bulk_employees_returns_ids_in_order(api: Api, org: int, base: str) -> None:
    reply = await api.call(
        "POST",
        f"/_sandbox/orgs/{org}/employees/bulk",
        {"employees": [_person(i) for i in range(3)]},
    )
    assert reply.status == 201
    ids = reply.body["ids"]
    assert ids == sorted(ids) and len(ids) == 3
    record = (await api.call("GET", f"{base}/employees/{ids[1]}")).body
    assert record["email"] == "p1@acme.example"
    assert (record["status"], record["lock_version"]) == ("active", 1)


async def test_bulk_employees_applies_field_rules_with_row_index(
    api: Api, org: int, base: str
) -> None:
    rows = [_person(0), _person(1, timezone="Nowhere/Land")]
    reply = await api.call("POST", f"/_sandbox/orgs/{org}/employees/bulk", {"employees": rows})
    assert reply.status == 422
    assert list(reply.fields) == ["employees[1].timezone"]
    assert (await api.call("GET", f"{base}/employees")).body["meta"]["total"] == 0


async def test_bulk_employees_rejects_duplicates_in_the_batch(api: Api, org: int) -> None:
    rows = [_person(0), _person(1, email="P0@acme.example")]
    reply = await api.call("POST", f"/_sandbox/orgs/{org}/employees/bulk", {"employees": rows})
    assert reply.status == 409
    assert list(reply.fields) == ["employees[1].email"]


async def test_bulk_employees_rejects_taken_emails_and_inserts_nothing(
    api: Api, org: int, base: str
) -> None:
    await api.create_employee(org, email="p1@acme.example")
    rows = [_person(0), _person(1)]
    reply = await api.call("POST", f"/_sandbox/orgs/{org}/employees/bulk", {"employees": rows})
    assert reply.status == 409
    assert list(reply.fields) == ["email"]
    assert (await api.call("GET", f"{base}/employees")).body["meta"]["total"] == 1


async def test_bulk_employees_rejects_read_only_fields(api: Api, org: int) -> None:
    rows = [_person(0, status="deactivated")]
    reply = await api.call("POST", f"/_sandbox/orgs/{org}/employees/bulk", {"employees": rows})
    assert reply.status == 400


async def test_bulk_members_has_no_100_limit(api: Api, org: int, base: str) -> None:
    rows = [_person(i) for i in range(250)]
    ids = (
        await api.call("POST", f"/_sandbox/orgs/{org}/employees/bulk", {"employees": rows})
    ).body["ids"]
    team = await api.create_team(org, "Everyone")
    reply = await api.call(
        "POST", f"/_sandbox/orgs/{org}/teams/{team['id']}/members/bulk", {"employee_ids": ids}
    )
    assert (reply.status, reply.body) == (200, {"added": 250})
    members = await api.call("GET", f"{base}/teams/{team['id']}/members?per_page=200&page=2")
    assert [m["employee_id"] for m in members.body["members"]] == ids[200:]


async def test_bulk_members_still_refuses_strangers(api: Api, org: int) -> None:
    team = await api.create_team(org, "Everyone")
    reply = await api.call(
        "POST", f"/_sandbox/orgs/{org}/teams/{team['id']}/members/bulk", {"employee_ids": [999]}
    )
    assert reply.status == 422


async def test_maintenance_makes_every_internal_call_unavailable(api: Api, base: str) -> None:
    reply = await api.call("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": 7})
    assert reply.body == {"enabled": True, "retry_after": 7}
    for method, path in [("GET", base), ("POST", f"{base}/employees"), ("GET", f"{base}/nope")]:
        down = await api.call(method, path)
        assert down.status == 503
        assert down.error_code == "unavailable"
        assert down.headers["Retry-After"] == "7"


async def test_maintenance_without_retry_after_sends_no_header(api: Api, base: str) -> None:
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": None})
    down = await api.call("GET", base)
    assert down.status == 503
    assert "Retry-After" not in down.headers


async def test_maintenance_still_requires_the_token(api: Api, base: str) -> None:
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": True})
    assert (await api.call("GET", base, auth=False)).status == 401


async def test_maintenance_off_restores_service(api: Api, base: str) -> None:
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": 1})
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": False, "retry_after": None})
    assert (await api.call("GET", base)).status == 200
    assert (await api.call("GET", "/_sandbox/maintenance")).body == {
        "enabled": False,
        "retry_after": None,
    }


async def test_maintenance_leaves_admin_routes_working(api: Api) -> None:
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": True})
    assert (await api.call("POST", "/_sandbox/orgs", {"name": "Late"})).status == 201


async def test_maintenance_rejects_bad_bodies(api: Api) -> None:
    assert (await api.call("PUT", "/_sandbox/maintenance", {"enabled": "yes"})).status == 400
    bad_wait = {"enabled": True, "retry_after": 1.5}
    assert (await api.call("PUT", "/_sandbox/maintenance", bad_wait)).status == 400


async def test_request_log_lists_internal_calls_in_order(api: Api, org: int, base: str) -> None:
    await api.call("GET", f"{base}/employees?email=ada@acme.example&status=active")
    await api.call("POST", f"{base}/teams", {"name": "Eng"}, headers={"X-Request-Id": "idp-7"})
    await api.call("GET", f"{base}/nope")
    reply = await api.call("GET", "/_sandbox/requests")
    assert reply.body == {
        "requests": [
            {
                "method": "GET",
                "path": f"{base}/employees",
                "query": {"email": "ada@acme.example", "status": "active"},
                "request_id": None,
            },
            {"method": "POST", "path": f"{base}/teams", "query": {}, "request_id": "idp-7"},
            {"method": "GET", "path": f"{base}/nope", "query": {}, "request_id": None},
        ]
    }


async def test_request_log_clears(api: Api, base: str) -> None:
    await api.call("GET", base)
    assert (await api.call("DELETE", "/_sandbox/requests")).status == 204
    await api.call("GET", base)
    reply = await api.call("GET", "/_sandbox/requests")
    assert reply.body["requests"] == [
        {"method": "GET", "path": base, "query": {}, "request_id": None}]


async def test_request_log_is_inspectable_in_process(api: Api, base: str) -> None:
    sandbox = api.app[SANDBOX_KEY]
    await api.call("GET", base)
    assert sandbox.requests == [{"method": "GET", "path": base, "query": {}, "request_id": None}]
    assert isinstance(sandbox.store, Store)
    assert isinstance(sandbox.maintenance, Maintenance)
    sandbox.maintenance.enabled = True
    assert (await api.call("GET", base)).status == 503
