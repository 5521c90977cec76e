"""Transport rules: token, error body shape, request ids, routes and methods."""

from __future__ import annotations

import re

import pytest

from tests.sandbox.conftest import Api

ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


async def test_missing_token_is_unauthorized(api: Api, base: str) -> None:
    reply = await api.call("GET", base, auth=False)
    assert reply.status == 401
    assert reply.body == {
        "error": {"code": "unauthorized", "message": "missing or wrong service token"}
    }


async def test_wrong_token_is_unauthorized(api: Api, base: str) -> None:
    reply = await api.call("GET", base, headers={"Authorization": "Token nope"})
    assert reply.status == 401
    assert reply.error_code == "unauthorized"


async def test_bearer_scheme_is_not_the_token_scheme(api: Api, base: str) -> None:
    reply = await api.call("GET", base, headers={"Authorization": "Bearer sandbox-token"})
    assert reply.status == 401


async def test_right_token_reads_the_org(api: Api, org: int, base: str) -> None:
    reply = await api.call("GET", base)
    assert reply.status == 200
    assert reply.body == {"id": org, "name": "Acme", "saml_enabled": True, "scim_enabled": True}


async def test_org_flags_are_reported_as_stored(api: Api) -> None:
    created = await api.create_org(name="NoSaml", saml_enabled=False, rate_limit_per_s=0)
    reply = await api.call("GET", f"/internal/v1/orgs/{created['id']}")
    assert reply.body["saml_enabled"] is False
    assert reply.body["scim_enabled"] is True


async def test_unknown_org_is_not_found(api: Api) -> None:
    reply = await api.call("GET", "/internal/v1/orgs/999/employees")
    assert reply.status == 404
    assert reply.error_code == "not_found"
    assert "fields" not in reply.body["error"]


async def test_unknown_route_is_not_found(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/projects")
    assert reply.status == 404
    assert reply.error_code == "not_found"


async def test_method_a_route_lacks_is_method_not_allowed(api: Api, base: str) -> None:
    reply = await api.call("DELETE", f"{base}/employees")
    assert reply.status == 405
    assert reply.error_code == "method_not_allowed"
    assert "POST" in reply.headers["Allow"]


async def test_there_is_no_delete_for_employees(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    reply = await api.call("DELETE", f"{base}/employees/{ada['id']}")
    assert reply.status == 405
    assert (await api.call("GET", f"{base}/employees/{ada['id']}")).status == 200


async def test_request_id_is_echoed_on_success(api: Api, base: str) -> None:
    reply = await api.call("GET", base, headers={"X-Request-Id": "req-123"})
    assert reply.headers["X-Request-Id"] == "req-123"


async def test_request_id_is_echoed_on_errors(api: Api) -> None:
    reply = await api.call("GET", "/internal/v1/orgs/999", headers={"X-Request-Id": "req-404"})
    assert reply.status == 404
    assert reply.headers["X-Request-Id"] == "req-404"


async def test_request_id_is_echoed_on_unauthorized(api: Api, base: str) -> None:
    reply = await api.call("GET", base, auth=False, headers={"X-Request-Id": "req-401"})
    assert reply.headers["X-Request-Id"] == "req-401"


async def test_request_id_is_generated_when_absent(api: Api, base: str) -> None:
    first = await api.call("GET", base)
    second = await api.call("GET", f"{base}/nothing-here")
    assert first.headers["X-Request-Id"]
    assert second.headers["X-Request-Id"]
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


async def test_timestamps_are_utc_seconds_with_z(api: Api, org: int) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    assert ada["created_at"] == "2026-11-28T14:03:11Z"
    assert ISO_Z.fullmatch(ada["updated_at"])


async def test_non_digit_record_id_is_an_unknown_route(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/employees/abc")
    assert reply.status == 404
    assert reply.error_code == "not_found"


async def test_huge_record_id_is_not_found_not_a_crash(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/employees/99999999999999999999999")
    assert reply.status == 404
    reply = await api.call("GET", "/internal/v1/orgs/99999999999999999999999")
    assert reply.status == 404


async def test_unexpected_failure_is_a_json_500_with_request_id(
    api: Api, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: int) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api.sandbox.store, "get_org", broken)
    reply = await api.call("GET", base, headers={"X-Request-Id": "req-500"})
    assert reply.status == 500
    assert reply.error_code == "internal"
    assert "disk on fire" not in reply.body["error"]["message"]
    assert reply.headers["X-Request-Id"] == "req-500"
