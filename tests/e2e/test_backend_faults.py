"""Backend faults end in the right answer or a SCIM 503 with an integer Retry-After.

Never a 500, never a duplicate person, never a half-applied change.
"""

from __future__ import annotations

import pytest

from tests.asserts import assert_scim_503
from tests.bodies import PATCH_OP, okta_user
from tests.conftest import World


async def test_backend_maintenance_with_long_retry_after_is_503_with_that_value(world: World):
    await world.backend.maintenance(True, retry_after=7)
    status, body, headers = await world.a.get("/Users")
    assert_scim_503(status, body, headers)
    assert headers["Retry-After"] == "7"


async def test_backend_maintenance_without_retry_after_still_gives_integer_retry_after(
    world: World,
):
    await world.backend.maintenance(True)
    status, body, headers = await world.a.post("/Users", okta_user())
    assert_scim_503(status, body, headers)
    await world.backend.maintenance(False)
    assert await world.backend.employees(world.org_a) == []


@pytest.fixture
def fault_proxy_enabled() -> bool:
    return True


async def test_hung_backend_times_out_into_503(world: World):
    proxy = world.extra["proxy"]
    proxy.faults.hang = lambda r: r.method == "GET"
    proxy.faults.times = 100
    status, body, headers = await world.a.get("/Users")
    assert_scim_503(status, body, headers)


async def test_create_done_by_the_backend_but_answered_503_then_replayed_makes_one_person(
    world: World,
):
    """Every attempt of the create reaches the backend (which makes the person) and loses
    its answer, more times than the client retries, so the IdP gets a 503 for work that
    was done. The IdP then sends the same POST again: one person, never two."""
    proxy = world.extra["proxy"]
    proxy.faults.drop_after_forward = (
        lambda r: r.method == "POST" and r.path.endswith("/employees"))
    proxy.faults.times = world.extra["config"].backend.max_retries + 1
    status, body, headers = await world.a.post("/Users", okta_user())
    assert_scim_503(status, body, headers)
    assert proxy.faults.times == 0  # every attempt was forwarded and its answer dropped
    people = await world.backend.employees(world.org_a)
    assert len(people) == 1  # the backend did the work the 503 hid

    proxy.faults.drop_after_forward = None
    status, body, _ = await world.a.post("/Users", okta_user())
    assert status in (201, 409), body
    if status == 201:
        assert body["id"] == str(people[0]["id"])
    else:
        assert body["scimType"] == "uniqueness"
    assert [p["id"] for p in await world.backend.employees(world.org_a)] == [people[0]["id"]]


async def test_create_whose_answer_is_lost_is_retried_with_its_idempotency_key(world: World):
    proxy = world.extra["proxy"]
    proxy.faults.drop_after_forward = (
        lambda r: r.method == "POST" and r.path.endswith("/employees"))
    status, user, _ = await world.a.post("/Users", okta_user())
    assert status == 201, user
    people = await world.backend.employees(world.org_a)
    assert [p["id"] for p in people] == [int(user["id"])]
    posts = [s for s in proxy.faults.seen if s.startswith("POST") and s.endswith("/employees")]
    assert len(posts) == 2  # the lost one and its replay


async def test_deactivation_whose_answer_is_lost_still_lands_once(world: World):
    _, user, _ = await world.a.post("/Users", okta_user())
    proxy = world.extra["proxy"]
    proxy.faults.drop_after_forward = lambda r: r.path.endswith("/deactivate")
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200, body
    assert body["active"] is False
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"


async def test_profile_patch_whose_answer_is_lost_is_recognised_as_done(world: World):
    _, user, _ = await world.a.post("/Users", okta_user())
    proxy = world.extra["proxy"]
    proxy.faults.drop_after_forward = lambda r: r.method == "PATCH"
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "Director"}]})
    assert status == 200, body
    assert body["title"] == "Director"
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["title"] == "Director" and record["lock_version"] == 2
