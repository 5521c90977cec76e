"""Teams: records, name uniqueness, listing, PATCH/If-Match and DELETE."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Api, FakeClock


@pytest.fixture
async def eng(api: Api, org: int) -> dict[str, Any]:
    return await api.create_team(org, "Engineering")


async def test_create_team_returns_the_record(api: Api, org: int, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams", {"name": "Engineering", "description": "Eng"})
    assert reply.status == 201
    assert reply.body == {
        "id": reply.body["id"],
        "org_id": org,
        "name": "Engineering",
        "description": "Eng",
        "member_count": 0,
        "lock_version": 1,
        "created_at": "2026-11-28T14:03:11Z",
        "updated_at": "2026-11-28T14:03:11Z",
    }


async def test_description_is_optional(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams", {"name": "Ops"})
    assert reply.status == 201
    assert reply.body["description"] is None


async def test_team_name_is_required(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams", {"description": "x"})
    assert reply.status == 422
    assert list(reply.fields) == ["name"]


async def test_team_name_null_is_invalid(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams", {"name": None})
    assert reply.status == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "N" * 201}, "name"),
        ({"name": "Ok", "description": "d" * 1001}, "description"),
    ],
)
async def test_team_field_rule_violation_is_invalid(
    api: Api, base: str, body: dict, field: str
) -> None:
    reply = await api.call("POST", f"{base}/teams", body)
    assert reply.status == 422
    assert list(reply.fields) == [field]


async def test_team_field_boundaries_are_accepted(api: Api, base: str) -> None:
    reply = await api.call("POST", f"{base}/teams", {"name": "ü" * 200, "description": "d" * 1000})
    assert reply.status == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5},
        {"name": "Ok", "description": 1},
        {"name": "Ok", "member_count": 3},
        {"name": "Ok", "lock_version": 1},
        {"name": "Ok", "members": []},
    ],
)
async def test_team_body_shape_errors_are_bad_request(api: Api, base: str, body: dict) -> None:
    assert (await api.call("POST", f"{base}/teams", body)).status == 400


async def test_taken_team_name_is_a_conflict_case_insensitively(
    api: Api, base: str, eng: dict
) -> None:
    reply = await api.call("POST", f"{base}/teams", {"name": "ENGINEERING"})
    assert reply.status == 409
    assert list(reply.fields) == ["name"]


async def test_same_team_name_in_another_org_is_fine(api: Api, eng: dict) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    twin = await api.create_team(other, "Engineering")
    assert twin["org_id"] == other


async def test_list_teams_by_id_with_meta(api: Api, org: int, base: str) -> None:
    ids = [(await api.create_team(org, f"T{i}"))["id"] for i in range(5)]
    reply = await api.call("GET", f"{base}/teams?page=2&per_page=2")
    assert [t["id"] for t in reply.body["teams"]] == ids[2:4]
    assert reply.body["meta"] == {"page": 2, "per_page": 2, "total": 5}


async def test_team_name_filter_is_exact_and_case_insensitive(
    api: Api, org: int, base: str, eng: dict
) -> None:
    await api.create_team(org, "Engineering Managers")
    reply = await api.call("GET", f"{base}/teams?name=engineering")
    assert [t["id"] for t in reply.body["teams"]] == [eng["id"]]
    assert reply.body["meta"]["total"] == 1


async def test_team_list_rejects_unknown_parameter(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/teams?email=x")).status == 400


async def test_team_list_rejects_repeated_name(api: Api, base: str) -> None:
    assert (await api.call("GET", f"{base}/teams?name=a&name=b")).status == 400


async def test_get_team_of_another_org_is_not_found(api: Api, eng: dict) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    reply = await api.call("GET", f"/internal/v1/orgs/{other}/teams/{eng['id']}")
    assert reply.status == 404


async def test_patch_team_renames_and_bumps(
    api: Api, base: str, eng: dict, clock: FakeClock
) -> None:
    clock.advance(2)
    reply = await api.call("PATCH", f"{base}/teams/{eng['id']}", {"name": "Platform"})
    assert reply.status == 200
    assert reply.body["name"] == "Platform"
    assert reply.body["lock_version"] == 2
    assert reply.body["updated_at"] == "2026-11-28T14:03:13Z"


async def test_patch_team_without_changes_keeps_lock_version(
    api: Api, base: str, eng: dict, clock: FakeClock
) -> None:
    clock.advance(2)
    reply = await api.call(
        "PATCH", f"{base}/teams/{eng['id']}", {"name": "Engineering", "description": None}
    )
    assert reply.body == eng


async def test_patch_team_null_description_clears_it(api: Api, org: int, base: str) -> None:
    team = await api.create_team(org, "Ops", description="on call")
    reply = await api.call("PATCH", f"{base}/teams/{team['id']}", {"description": None})
    assert reply.body["description"] is None


async def test_patch_team_name_to_its_own_other_case_is_allowed(
    api: Api, base: str, eng: dict
) -> None:
    reply = await api.call("PATCH", f"{base}/teams/{eng['id']}", {"name": "ENGINEERING"})
    assert reply.status == 200
    assert reply.body["lock_version"] == 2


async def test_patch_team_to_a_taken_name_is_a_conflict(
    api: Api, org: int, base: str, eng: dict
) -> None:
    ops = await api.create_team(org, "Ops")
    reply = await api.call("PATCH", f"{base}/teams/{ops['id']}", {"name": "engineering"})
    assert reply.status == 409


async def test_patch_team_null_name_is_invalid(api: Api, base: str, eng: dict) -> None:
    reply = await api.call("PATCH", f"{base}/teams/{eng['id']}", {"name": None})
    assert reply.status == 422


async def test_patch_team_with_stale_if_match_is_stale(api: Api, base: str, eng: dict) -> None:
    path = f"{base}/teams/{eng['id']}"
    ok = await api.call("PATCH", path, {"name": "A"}, headers={"If-Match": "1"})
    assert ok.status == 200
    reply = await api.call("PATCH", path, {"name": "B"}, headers={"If-Match": "1"})
    assert reply.status == 412
    assert reply.error_code == "stale"


async def test_delete_team_answers_no_content(api: Api, base: str, eng: dict) -> None:
    reply = await api.call("DELETE", f"{base}/teams/{eng['id']}")
    assert reply.status == 204
    assert reply.body is None
    assert (await api.call("GET", f"{base}/teams/{eng['id']}")).status == 404


async def test_delete_unknown_team_is_not_found(api: Api, base: str) -> None:
    assert (await api.call("DELETE", f"{base}/teams/31337")).status == 404


async def test_deleted_team_ids_are_not_reused(api: Api, org: int, base: str, eng: dict) -> None:
    await api.call("DELETE", f"{base}/teams/{eng['id']}")
    again = await api.create_team(org, "Engineering")
    assert again["id"] > eng["id"]
