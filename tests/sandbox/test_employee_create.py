"""Creating employees: the record, body validation (400), field rules (422), uniqueness (409)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Api

ADA = {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace"}


async def _create(api: Api, base: str, **changes: Any) -> Any:
    body = {**ADA, **changes}
    return await api.call("POST", f"{base}/employees", body)


async def test_create_returns_an_active_record_at_lock_version_one(
    api: Api, org: int, base: str
) -> None:
    reply = await _create(api, base, title="Analyst", timezone="Europe/Paris", locale="en-GB")
    assert reply.status == 201
    record = reply.body
    assert record["org_id"] == org
    assert record["status"] == "active"
    assert record["lock_version"] == 1
    assert record["title"] == "Analyst"
    assert record["display_name"] is None
    assert record["created_at"] == record["updated_at"] == "2026-11-28T14:03:11Z"
    assert set(record) == {
        "id", "org_id", "email", "first_name", "last_name", "display_name", "title",
        "department", "employee_number", "cost_center", "manager_id", "phone", "locale",
        "timezone", "sso_id", "status", "lock_version", "created_at", "updated_at",
    }  # fmt: skip
    again = await api.call("GET", f"{base}/employees/{record['id']}")
    assert again.body == record


async def test_email_is_stored_as_given(api: Api, base: str) -> None:
    reply = await _create(api, base, email="Ada.Lovelace@ACME.example")
    assert reply.body["email"] == "Ada.Lovelace@ACME.example"


async def test_ids_are_never_reused(api: Api, org: int) -> None:
    first = await api.create_employee(org, email="a@acme.example")
    second = await api.create_employee(org, email="b@acme.example")
    assert second["id"] > first["id"]


async def test_all_nullable_fields_are_stored_and_returned(api: Api, org: int, base: str) -> None:
    boss = await api.create_employee(org, email="boss@acme.example")
    fields = {
        "display_name": "Ada L.",
        "title": "Analyst",
        "department": "Research",
        "employee_number": "E-1001",
        "cost_center": "CC-42",
        "manager_id": boss["id"],
        "phone": "+1 555 0100",
        "locale": "en-US",
        "timezone": "America/New_York",
        "sso_id": "00u1abcd2EFGH3ijk4l5",
    }
    reply = await _create(api, base, **fields)
    assert reply.status == 201
    assert {k: reply.body[k] for k in fields} == fields


async def test_malformed_json_is_bad_request(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/employees", data='{"email": ')
    assert reply.status == 400
    assert reply.error_code == "bad_request"


async def test_empty_body_is_bad_request(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/employees", data=b"")
    assert reply.status == 400


async def test_body_that_is_not_an_object_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("POST", f"{base}/employees", [ADA])).status == 400
    assert (await api.call("POST", f"{base}/employees", "ada")).status == 400


async def test_nan_is_not_json(api: Api, base: str) -> None:
    data = '{"email": "a@b.c", "first_name": "A", "last_name": "B", "manager_id": NaN}'
    assert (await api.call("POST", f"{base}/employees", data=data)).status == 400


async def test_invalid_utf8_is_bad_request(api: Api, base: str) -> None:
    data = b'{"email": "a\xff@b.c", "first_name": "A", "last_name": "B"}'
    assert (await api.call("POST", f"{base}/employees", data=data)).status == 400


async def test_lone_surrogate_is_bad_request(api: Api, base: str) -> None:
    data = '{"email": "a\\ud800@b.c", "first_name": "A", "last_name": "B"}'
    assert (await api.call("POST", f"{base}/employees", data=data)).status == 400


async def test_unknown_field_is_bad_request(api: Api, base: str) -> None:
    reply = await _create(api, base, nickname="Ada")
    assert reply.status == 400
    assert "nickname" in reply.body["error"]["message"]


@pytest.mark.parametrize(
    "field", ["status", "id", "org_id", "lock_version", "created_at", "updated_at"]
)
async def test_read_only_field_in_create_is_bad_request(api: Api, base: str, field: str) -> None:
    value = "active" if field == "status" else 1
    reply = await _create(api, base, **{field: value})
    assert reply.status == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", 42),
        ("first_name", ["Ada"]),
        ("title", {"text": "x"}),
        ("manager_id", "1"),
        ("manager_id", True),
        ("manager_id", 1.0),
        ("phone", 5550100),
        ("sso_id", False),
    ],
)
async def test_wrong_json_type_is_bad_request(api: Api, base: str, field: str, value: Any) -> None:
    reply = await _create(api, base, **{field: value})
    assert reply.status == 400, (field, value)


@pytest.mark.parametrize("field", ["email", "first_name", "last_name"])
async def test_missing_required_field_is_invalid(api: Api, base: str, field: str) -> None:
    body = {k: v for k, v in ADA.items() if k != field}
    reply = await api.call("POST", f"{base}/employees", body)
    assert reply.status == 422
    assert reply.error_code == "invalid"
    assert list(reply.fields) == [field]


@pytest.mark.parametrize("field", ["email", "first_name", "last_name"])
async def test_null_required_field_is_invalid(api: Api, base: str, field: str) -> None:
    reply = await _create(api, base, **{field: None})
    assert reply.status == 422
    assert list(reply.fields) == [field]


async def test_all_rule_failures_are_reported_together(api: Api, base: str) -> None:
    reply = await _create(api, base, email="no-at-sign", first_name="", timezone="Mars/Olympus")
    assert reply.status == 422
    assert set(reply.fields) == {"email", "first_name", "timezone"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@"),  # 2 characters
        ("email", "x" * 250 + "@a.io"),  # 255 characters
        ("email", "ada.acme.example"),
        ("email", "ada@acme@example"),
        ("first_name", ""),
        ("last_name", "L" * 101),
        ("display_name", "D" * 201),
        ("title", "T" * 201),
        ("department", "D" * 201),
        ("cost_center", "C" * 201),
        ("employee_number", "E" * 65),
        ("phone", "5" * 41),
        ("sso_id", "s" * 256),
        ("locale", "en_US"),
        ("locale", "English"),
        ("locale", ""),
        ("timezone", "Europe/Atlantis"),
        ("timezone", "europe/paris"),
        ("timezone", "CEST+2"),
    ],
)
async def test_field_rule_violation_is_invalid(api: Api, base: str, field: str, value: str) -> None:
    reply = await _create(api, base, **{field: value})
    assert reply.status == 422, (field, value)
    assert list(reply.fields) == [field]
    assert isinstance(reply.fields[field][0], str)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@b"),  # 3 characters
        ("email", "x" * 249 + "@a.io"),  # 254 characters
        ("first_name", "A"),
        ("last_name", "L" * 100),
        ("display_name", "D" * 200),
        ("display_name", ""),
        ("employee_number", "E" * 64),
        ("phone", "5" * 40),
        ("sso_id", "s" * 255),
        ("locale", "zh-Hant-TW"),
        ("locale", "de-CH-1901"),
        ("timezone", "UTC"),
        ("timezone", "Asia/Kolkata"),
    ],
)
async def test_field_rule_boundary_is_accepted(api: Api, base: str, field: str, value: str) -> None:
    reply = await _create(api, base, **{field: value})
    assert reply.status == 201, (field, value, reply.body)
    assert reply.body[field] == value


async def test_lengths_count_unicode_characters(api: Api, base: str) -> None:
    emoji_name = "🦊" * 100  # 100 characters, 400 UTF-8 bytes
    reply = await _create(api, base, first_name=emoji_name)
    assert reply.status == 201
    assert reply.body["first_name"] == emoji_name
    too_long = await _create(api, base, email="b@acme.example", first_name="é" * 101)
    assert too_long.status == 422


async def test_manager_must_exist(api: Api, base: str) -> None:
    reply = await _create(api, base, manager_id=424242)
    assert reply.status == 422
    assert list(reply.fields) == ["manager_id"]


async def test_manager_from_another_org_is_invalid(api: Api, base: str) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    theirs = await api.create_employee(other, email="boss@other.example")
    reply = await _create(api, base, manager_id=theirs["id"])
    assert reply.status == 422


async def test_huge_manager_id_is_invalid_not_a_crash(api: Api, base: str) -> None:
    reply = await _create(api, base, manager_id=10**30)
    assert reply.status == 422


async def test_deactivated_manager_is_still_an_employee(api: Api, org: int, base: str) -> None:
    boss = await api.create_employee(org, email="boss@acme.example")
    await api.call("POST", f"{base}/employees/{boss['id']}/deactivate")
    reply = await _create(api, base, manager_id=boss["id"])
    assert reply.status == 201


async def test_taken_email_is_a_conflict(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="ada@acme.example")
    reply = await _create(api, base, email="ADA@Acme.Example")
    assert reply.status == 409
    assert reply.error_code == "conflict"
    assert list(reply.fields) == ["email"]


async def test_email_uniqueness_uses_unicode_case_folding(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="straße@acme.example")
    reply = await _create(api, base, email="STRASSE@acme.example")
    assert reply.status == 409


async def test_taken_employee_number_is_a_conflict(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="ada@acme.example", employee_number="E-1")
    reply = await _create(api, base, email="bob@acme.example", employee_number="E-1")
    assert reply.status == 409
    assert list(reply.fields) == ["employee_number"]


async def test_conflict_names_both_fields_when_both_are_taken(
    api: Api, org: int, base: str
) -> None:
    await api.create_employee(org, email="ada@acme.example", employee_number="E-1")
    reply = await _create(api, base, employee_number="E-1")
    assert reply.status == 409
    assert set(reply.fields) == {"email", "employee_number"}


async def test_many_null_employee_numbers_do_not_conflict(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="a@acme.example", employee_number=None)
    reply = await _create(api, base, email="b@acme.example", employee_number=None)
    assert reply.status == 201


async def test_same_email_in_another_org_is_fine(api: Api, org: int) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    await api.create_employee(org, email="ada@acme.example", employee_number="E-1")
    twin = await api.create_employee(other, email="ada@acme.example", employee_number="E-1")
    assert twin["org_id"] == other


async def test_failed_create_creates_nothing(api: Api, base: str) -> None:
    await _create(api, base, timezone="Nowhere/Land")
    listing = await api.call("GET", f"{base}/employees")
    assert listing.body["meta"]["total"] == 0


async def test_create_with_query_parameter_is_bad_request(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/employees?notify=1", ADA)
    assert reply.status == 400
