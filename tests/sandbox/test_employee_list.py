"""Listing employees: paging, ordering, totals, filters and query validation."""

from __future__ import annotations

from tests.sandbox.conftest import Api, FakeClock


async def _people(api: Api, org: int, count: int) -> list[int]:
    reply = await api.call(
        "POST",
        f"/_sandbox/orgs/{org}/employees/bulk",
        {
            "employees": [
                {"email": f"p{i}@acme.example", "first_name": "P", "last_name": str(i)}
                for i in range(count)
            ]
        },
    )
    assert reply.status == 201
    return reply.body["ids"]


async def test_list_defaults_to_page_one_of_fifty(api: Api, org: int, base: str) -> None:
    ids = await _people(api, org, 60)
    reply = await api.call("GET", f"{base}/employees")
    assert reply.status == 200
    assert reply.body["meta"] == {"page": 1, "per_page": 50, "total": 60}
    assert [e["id"] for e in reply.body["employees"]] == ids[:50]


async def test_list_second_page_continues_by_id(api: Api, org: int, base: str) -> None:
    ids = await _people(api, org, 60)
    reply = await api.call("GET", f"{base}/employees?page=2&per_page=25")
    assert [e["id"] for e in reply.body["employees"]] == ids[25:50]
    assert reply.body["meta"] == {"page": 2, "per_page": 25, "total": 60}


async def test_list_per_page_above_200_is_clamped(api: Api, org: int, base: str) -> None:
    await _people(api, org, 205)
    reply = await api.call("GET", f"{base}/employees?per_page=1000")
    assert reply.status == 200
    assert reply.body["meta"]["per_page"] == 200
    assert len(reply.body["employees"]) == 200


async def test_list_page_past_the_end_is_empty_with_total(api: Api, org: int, base: str) -> None:
    await _people(api, org, 3)
    reply = await api.call("GET", f"{base}/employees?page=7")
    assert reply.body["employees"] == []
    assert reply.body["meta"]["total"] == 3


async def test_list_absurd_page_is_empty_not_a_crash(api: Api, org: int, base: str) -> None:
    await _people(api, org, 1)
    reply = await api.call("GET", f"{base}/employees?page=99999999999999999999")
    assert reply.status == 200
    assert reply.body["employees"] == []


async def test_list_only_shows_the_orgs_own_people(api: Api, org: int, base: str) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    await api.create_employee(other, email="x@other.example")
    mine = await api.create_employee(org, email="ada@acme.example")
    reply = await api.call("GET", f"{base}/employees")
    assert [e["id"] for e in reply.body["employees"]] == [mine["id"]]
    assert reply.body["meta"]["total"] == 1


async def test_email_filter_is_exact_and_case_insensitive(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="Ada.Lovelace@Acme.example")
    await api.create_employee(org, email="ada.lovelace@acme.example.org")
    reply = await api.call("GET", f"{base}/employees?email=ADA.LOVELACE%40ACME.EXAMPLE")
    assert [e["id"] for e in reply.body["employees"]] == [ada["id"]]
    assert reply.body["meta"]["total"] == 1


async def test_email_filter_uses_unicode_case_folding(api: Api, org: int, base: str) -> None:
    strasse = await api.create_employee(org, email="straße@acme.example")
    reply = await api.call("GET", f"{base}/employees?email=STRASSE@acme.example")
    assert [e["id"] for e in reply.body["employees"]] == [strasse["id"]]


async def test_email_filter_without_match_is_empty(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="ada@acme.example")
    reply = await api.call("GET", f"{base}/employees?email=ada@acme")
    assert reply.body == {"employees": [], "meta": {"page": 1, "per_page": 50, "total": 0}}


async def test_status_filter(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    bob = await api.create_employee(org, email="bob@acme.example")
    await api.call("POST", f"{base}/employees/{bob['id']}/deactivate")
    active = await api.call("GET", f"{base}/employees?status=active")
    gone = await api.call("GET", f"{base}/employees?status=deactivated")
    assert [e["id"] for e in active.body["employees"]] == [ada["id"]]
    assert [e["id"] for e in gone.body["employees"]] == [bob["id"]]


async def test_updated_since_is_inclusive(api: Api, org: int, base: str, clock: FakeClock) -> None:
    await api.create_employee(org, email="old@acme.example")
    clock.advance(60)
    fresh = await api.create_employee(org, email="new@acme.example")
    since = fresh["updated_at"]
    reply = await api.call("GET", f"{base}/employees?updated_since={since}")
    assert [e["id"] for e in reply.body["employees"]] == [fresh["id"]]


async def test_updated_since_accepts_an_offset(
    api: Api, org: int, base: str, clock: FakeClock
) -> None:
    await api.create_employee(org, email="old@acme.example")
    clock.advance(3600)
    fresh = await api.create_employee(org, email="new@acme.example")
    # 15:03:11Z written in UTC+01:00
    reply = await api.call("GET", f"{base}/employees?updated_since=2026-11-28T16:03:11%2B01:00")
    assert [e["id"] for e in reply.body["employees"]] == [fresh["id"]]


async def test_updated_since_sees_updates(api: Api, org: int, base: str, clock: FakeClock) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    await api.create_employee(org, email="bob@acme.example")
    clock.advance(10)
    await api.call("PATCH", f"{base}/employees/{ada['id']}", {"title": "Countess"})
    reply = await api.call("GET", f"{base}/employees?updated_since=2026-11-28T14:03:21Z")
    assert [e["id"] for e in reply.body["employees"]] == [ada["id"]]


async def test_filters_combine_with_and(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    await api.call("POST", f"{base}/employees/{ada['id']}/deactivate")
    reply = await api.call("GET", f"{base}/employees?email=ada@acme.example&status=active")
    assert reply.body["meta"]["total"] == 0
    reply = await api.call("GET", f"{base}/employees?email=ada@acme.example&status=deactivated")
    assert reply.body["meta"]["total"] == 1


async def test_unknown_query_parameter_is_bad_request(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/employees?sso_id=00u1")
    assert reply.status == 400
    assert reply.error_code == "bad_request"
    assert "fields" not in reply.body["error"]


async def test_repeated_query_parameter_is_bad_request(api: Api, base: str) -> None:
    reply = await api.call("GET", f"{base}/employees?status=active&status=deactivated")
    assert reply.status == 400


async def test_page_zero_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?page=0")).status == 400


async def test_negative_page_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?page=-1")).status == 400


async def test_non_numeric_per_page_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?per_page=ten")).status == 400


async def test_empty_page_value_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?page=")).status == 400


async def test_per_page_zero_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?per_page=0")).status == 400


async def test_unknown_status_value_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?status=suspended")).status == 400


async def test_malformed_updated_since_is_bad_request(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/employees?updated_since=yesterday")).status == 400


async def test_get_one_employee_is_not_found_in_another_org(api: Api, org: int) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    theirs = await api.create_employee(other, email="x@other.example")
    reply = await api.call("GET", f"/internal/v1/orgs/{org}/employees/{theirs['id']}")
    assert reply.status == 404
    assert reply.error_code == "not_found"


async def test_get_with_query_parameter_is_bad_request(api: Api, org: int, base: str) -> None:
    ada = await api.create_employee(org, email="ada@acme.example")
    assert (await api.call("GET", f"{base}/employees/{ada['id']}?fields=email")).status == 400


async def test_plus_addressed_email_is_found_when_percent_encoded(
    api: Api, org: int, base: str
) -> None:
    ada = await api.create_employee(org, email="ada+scim@acme.example")
    reply = await api.call("GET", f"{base}/employees?email=ADA%2Bscim%40acme.example")
    assert [e["id"] for e in reply.body["employees"]] == [ada["id"]]
