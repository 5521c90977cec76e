"""Team memberships: add/remove limits and skips, member listing, team untouched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Api, FakeClock


@pytest.fixture
async def team(api: Api, org: int) -> dict[str, Any]:
    return await api.create_team(org, "Engineering")


async def _people(api: Api, org: int, count: int) -> list[int]:
    reply = await api.call(
        "POST",
        f"/_sandbox/orgs/{org}/employees/bulk",
        {
            "employees": [
                {"email": f"m{i}@acme.example", "first_name": "M", "last_name": str(i)}
                for i in range(count)
            ]
        },
    )
    return reply.body["ids"]


async def _add(api: Api, base: str, team_id: int, ids: list[Any]) -> Any:
    return await api.call("POST", f"{base}/teams/{team_id}/members/add", {"employee_ids": ids})


async def _remove(api: Api, base: str, team_id: int, ids: list[Any]) -> Any:
    return await api.call("POST", f"{base}/teams/{team_id}/members/remove", {"employee_ids": ids})


async def _members(api: Api, base: str, team_id: int, query: str = "") -> Any:
    return await api.call("GET", f"{base}/teams/{team_id}/members{query}")


async def test_add_members_counts_what_was_added(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 3)
    reply = await _add(api, base, team["id"], ids)
    assert reply.status == 200
    assert reply.body == {"added": 3}
    after = await api.call("GET", f"{base}/teams/{team['id']}")
    assert after.body["member_count"] == 3


async def test_add_skips_existing_members(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 3)
    await _add(api, base, team["id"], ids[:2])
    reply = await _add(api, base, team["id"], ids)
    assert reply.body == {"added": 1}
    assert (await _members(api, base, team["id"])).body["meta"]["total"] == 3


async def test_add_counts_a_repeated_id_once(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 1)
    reply = await _add(api, base, team["id"], ids * 3)
    assert reply.body == {"added": 1}


async def test_add_with_an_id_outside_the_org_adds_nothing(
    api: Api, org: int, base: str, team: dict
) -> None:
    ids = await _people(api, org, 2)
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    stranger = await api.create_employee(other, email="x@other.example")
    reply = await _add(api, base, team["id"], [*ids, stranger["id"]])
    assert reply.status == 422
    assert reply.error_code == "invalid"
    assert list(reply.fields) == ["employee_ids"]
    assert (await _members(api, base, team["id"])).body["members"] == []


async def test_add_with_an_unknown_id_is_invalid(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 1)
    reply = await _add(api, base, team["id"], [*ids, 424242, 10**30])
    assert reply.status == 422
    assert (await api.call("GET", f"{base}/teams/{team['id']}")).body["member_count"] == 0


async def test_add_more_than_100_ids_is_invalid(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 101)
    reply = await _add(api, base, team["id"], ids)
    assert reply.status == 422
    assert list(reply.fields) == ["employee_ids"]
    assert (await _add(api, base, team["id"], ids[:100])).body == {"added": 100}


async def test_remove_more_than_100_ids_is_invalid(api: Api, base: str, team: dict) -> None:
    reply = await _remove(api, base, team["id"], list(range(1, 102)))
    assert reply.status == 422


async def test_empty_id_list_adds_nothing(api: Api, base: str, team: dict) -> None:
    reply = await _add(api, base, team["id"], [])
    assert (reply.status, reply.body) == (200, {"added": 0})


@pytest.mark.parametrize(
    "body", [{"employee_ids": [True]}, {"employee_ids": ["1"]}, {"employee_ids": 1}, {"ids": [1]}]
)
async def test_membership_body_shape_errors_are_bad_request(
    api: Api, base: str, team: dict, body: dict
) -> None:
    reply = await api.call("POST", f"{base}/teams/{team['id']}/members/add", body)
    assert reply.status == 400


async def test_missing_employee_ids_is_invalid(api: Api, base: str, team: dict) -> None:
    reply = await api.call("POST", f"{base}/teams/{team['id']}/members/add", {})
    assert reply.status == 422


async def test_remove_skips_non_members(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 3)
    await _add(api, base, team["id"], ids[:2])
    reply = await _remove(api, base, team["id"], [ids[0], ids[2], 424242])
    assert reply.body == {"removed": 1}
    listing = await _members(api, base, team["id"])
    assert [m["employee_id"] for m in listing.body["members"]] == [ids[1]]
    assert (await api.call("GET", f"{base}/teams/{team['id']}")).body["member_count"] == 1


async def test_members_are_listed_by_employee_id_with_added_at(
    api: Api, org: int, base: str, team: dict, clock: FakeClock
) -> None:
    ids = await _people(api, org, 3)
    await _add(api, base, team["id"], [ids[2]])
    clock.advance(60)
    await _add(api, base, team["id"], [ids[0], ids[1]])
    listing = await _members(api, base, team["id"])
    assert listing.body == {
        "members": [
            {"employee_id": ids[0], "added_at": "2026-11-28T14:04:11Z"},
            {"employee_id": ids[1], "added_at": "2026-11-28T14:04:11Z"},
            {"employee_id": ids[2], "added_at": "2026-11-28T14:03:11Z"},
        ],
        "meta": {"page": 1, "per_page": 50, "total": 3},
    }


async def test_members_are_paged(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 5)
    await _add(api, base, team["id"], ids)
    listing = await _members(api, base, team["id"], "?page=2&per_page=2")
    assert [m["employee_id"] for m in listing.body["members"]] == ids[2:4]
    assert listing.body["meta"] == {"page": 2, "per_page": 2, "total": 5}


async def test_members_list_rejects_unknown_parameter(api: Api, base: str, team: dict) -> None:
    assert (await _members(api, base, team["id"], "?status=active")).status == 400


async def test_members_of_unknown_team_is_not_found(api: Api, base: str) -> None:
    assert (await _members(api, base, 31337)).status == 404


async def test_membership_changes_do_not_touch_the_team(
    api: Api, org: int, base: str, team: dict, clock: FakeClock
) -> None:
    ids = await _people(api, org, 2)
    clock.advance(60)
    await _add(api, base, team["id"], ids)
    await _remove(api, base, team["id"], ids[:1])
    after = (await api.call("GET", f"{base}/teams/{team['id']}")).body
    assert after["lock_version"] == team["lock_version"]
    assert after["updated_at"] == team["updated_at"]
    assert after["member_count"] == 1


async def test_deleting_a_team_removes_memberships_not_employees(
    api: Api, org: int, base: str, team: dict
) -> None:
    ids = await _people(api, org, 2)
    await _add(api, base, team["id"], ids)
    assert (await api.call("DELETE", f"{base}/teams/{team['id']}")).status == 204
    for employee_id in ids:
        assert (await api.call("GET", f"{base}/employees/{employee_id}")).status == 200
    assert api.sandbox.store.count_memberships(team["id"]) == 0


async def test_deactivated_employee_can_be_added(api: Api, org: int, base: str, team: dict) -> None:
    ids = await _people(api, org, 1)
    await api.call("POST", f"{base}/employees/{ids[0]}/deactivate")
    assert (await _add(api, base, team["id"], ids)).body == {"added": 1}


async def test_deactivating_keeps_team_membership(
    api: Api, org: int, base: str, team: dict
) -> None:
    ids = await _people(api, org, 1)
    await _add(api, base, team["id"], ids)
    await api.call("POST", f"{base}/employees/{ids[0]}/deactivate")
    listing = await _members(api, base, team["id"])
    assert [m["employee_id"] for m in listing.body["members"]] == ids


async def test_membership_of_another_orgs_team_is_not_found(api: Api, org: int, team: dict) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    theirs = await api.create_employee(other, email="x@other.example")
    reply = await _add(api, f"/internal/v1/orgs/{other}", team["id"], [theirs["id"]])
    assert reply.status == 404
