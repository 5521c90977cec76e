"""Updating employees: PATCH semantics, lock_version, If-Match, status actions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Api, FakeClock


@pytest.fixture
async def ada(api: Api, org: int) -> dict[str, Any]:
    return await api.create_employee(
        org, email="ada@acme.example", title="Analyst", employee_number="E-1", phone="+1"
    )


async def test_patch_changes_given_fields_and_leaves_absent_ones(
    api: Api, base: str, ada: dict, clock: FakeClock
) -> None:
    clock.advance(5)
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"title": "Countess"})
    assert reply.status == 200
    assert reply.body["title"] == "Countess"
    assert reply.body["phone"] == "+1"
    assert reply.body["lock_version"] == 2
    assert reply.body["updated_at"] == "2026-11-28T14:03:16Z"
    assert reply.body["created_at"] == ada["created_at"]


async def test_patch_null_clears_a_nullable_field(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"phone": None})
    assert reply.body["phone"] is None
    assert reply.body["lock_version"] == 2


async def test_patch_null_on_required_field_is_invalid(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"last_name": None})
    assert reply.status == 422
    assert list(reply.fields) == ["last_name"]


async def test_patch_without_changes_keeps_lock_version(
    api: Api, base: str, ada: dict, clock: FakeClock
) -> None:
    clock.advance(30)
    reply = await api.call(
        "PATCH", f"{base}/employees/{ada['id']}", {"title": "Analyst", "phone": "+1"}
    )
    assert reply.status == 200
    assert reply.body["lock_version"] == 1
    assert reply.body["updated_at"] == ada["updated_at"]


async def test_empty_patch_changes_nothing(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {})
    assert reply.status == 200
    assert reply.body == ada


async def test_every_change_bumps_lock_version(api: Api, base: str, ada: dict) -> None:
    for version, title in enumerate(["A", "B", "C"], start=2):
        reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"title": title})
        assert reply.body["lock_version"] == version


async def test_changing_only_the_case_of_the_email_is_a_change(
    api: Api, base: str, ada: dict
) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"email": "ADA@acme.example"})
    assert reply.status == 200
    assert reply.body["email"] == "ADA@acme.example"
    assert reply.body["lock_version"] == 2


async def test_patch_to_a_taken_email_is_a_conflict(
    api: Api, org: int, base: str, ada: dict
) -> None:
    await api.create_employee(org, email="bob@acme.example")
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"email": "BOB@acme.example"})
    assert reply.status == 409
    assert list(reply.fields) == ["email"]
    unchanged = await api.call("GET", f"{base}/employees/{ada['id']}")
    assert unchanged.body == ada


async def test_patch_to_a_taken_employee_number_is_a_conflict(
    api: Api, org: int, base: str, ada: dict
) -> None:
    bob = await api.create_employee(org, email="bob@acme.example")
    reply = await api.call("PATCH", f"{base}/employees/{bob['id']}", {"employee_number": "E-1"})
    assert reply.status == 409
    assert list(reply.fields) == ["employee_number"]


async def test_patch_field_rule_violation_is_invalid(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"locale": "en_US"})
    assert reply.status == 422
    assert list(reply.fields) == ["locale"]


async def test_status_is_read_only_in_patch(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"status": "deactivated"})
    assert reply.status == 400
    after = await api.call("GET", f"{base}/employees/{ada['id']}")
    assert after.body["status"] == "active"


async def test_lock_version_is_read_only_in_patch(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"lock_version": 1})
    assert reply.status == 400


async def test_manager_cannot_be_the_employee_itself(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"manager_id": ada["id"]})
    assert reply.status == 422
    assert list(reply.fields) == ["manager_id"]


async def test_manager_can_be_set_and_cleared(api: Api, org: int, base: str, ada: dict) -> None:
    boss = await api.create_employee(org, email="boss@acme.example")
    path = f"{base}/employees/{ada['id']}"
    assert (await api.call("PATCH", path, {"manager_id": boss["id"]})).body["manager_id"] == boss[
        "id"
    ]
    assert (await api.call("PATCH", path, {"manager_id": None})).body["manager_id"] is None


async def test_patch_of_unknown_employee_is_not_found(api: Api, base: str) -> None:
    reply = await api.call("PATCH", f"{base}/employees/424242", {"title": "x"})
    assert reply.status == 404


async def test_patch_of_another_orgs_employee_is_not_found(api: Api, org: int) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    theirs = await api.create_employee(other, email="x@other.example")
    reply = await api.call(
        "PATCH", f"/internal/v1/orgs/{org}/employees/{theirs['id']}", {"title": "x"}
    )
    assert reply.status == 404
    unchanged = await api.call("GET", f"/internal/v1/orgs/{other}/employees/{theirs['id']}")
    assert unchanged.body["title"] is None


async def test_if_match_with_current_lock_version_applies(api: Api, base: str, ada: dict) -> None:
    reply = await api.call(
        "PATCH", f"{base}/employees/{ada['id']}", {"title": "x"}, headers={"If-Match": "1"}
    )
    assert reply.status == 200
    assert reply.body["lock_version"] == 2


async def test_if_match_with_stale_lock_version_is_stale(api: Api, base: str, ada: dict) -> None:
    path = f"{base}/employees/{ada['id']}"
    await api.call("PATCH", path, {"title": "first"})
    reply = await api.call("PATCH", path, {"title": "second"}, headers={"If-Match": "1"})
    assert reply.status == 412
    assert reply.error_code == "stale"
    assert "fields" not in reply.body["error"]
    assert (await api.call("GET", path)).body["title"] == "first"


async def test_stale_if_match_fails_even_without_changes(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {}, headers={"If-Match": "7"})
    assert reply.status == 412


async def test_if_match_that_is_not_an_integer_is_bad_request(
    api: Api, base: str, ada: dict
) -> None:
    reply = await api.call(
        "PATCH", f"{base}/employees/{ada['id']}", {"title": "x"}, headers={"If-Match": '"1"'}
    )
    assert reply.status == 400


async def test_deactivate_keeps_every_field(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    assert reply.status == 200
    assert reply.body["status"] == "deactivated"
    assert reply.body["lock_version"] == 2
    unchanged = {k: v for k, v in ada.items() if k not in ("status", "lock_version")}
    assert {k: reply.body[k] for k in unchanged} == unchanged


async def test_deactivate_twice_changes_nothing_the_second_time(
    api: Api, base: str, ada: dict, clock: FakeClock
) -> None:
    first = await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    clock.advance(60)
    second = await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    assert second.status == 200
    assert second.body == first.body


async def test_reactivate_restores_active(api: Api, base: str, ada: dict) -> None:
    await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    reply = await api.call("POST", f"{base}/employees/{ada['id']}/reactivate")
    assert reply.status == 200
    assert reply.body["status"] == "active"
    assert reply.body["lock_version"] == 3


async def test_reactivate_of_active_employee_changes_nothing(
    api: Api, base: str, ada: dict, clock: FakeClock
) -> None:
    clock.advance(60)
    reply = await api.call("POST", f"{base}/employees/{ada['id']}/reactivate")
    assert reply.status == 200
    assert reply.body == ada


async def test_deactivated_employee_can_still_be_updated(api: Api, base: str, ada: dict) -> None:
    await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    reply = await api.call("PATCH", f"{base}/employees/{ada['id']}", {"title": "Emerita"})
    assert reply.status == 200
    assert reply.body["status"] == "deactivated"


async def test_deactivate_of_unknown_employee_is_not_found(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/employees/424242/deactivate")
    assert reply.status == 404


async def test_deactivate_with_get_is_method_not_allowed(api: Api, base: str, ada: dict) -> None:
    reply = await api.call("GET", f"{base}/employees/{ada['id']}/deactivate")
    assert reply.status == 405
