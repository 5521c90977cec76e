"""One caller's expensive request is refused before it costs anyone anything.

Each attack from issue 10 replayed over a real socket: oversized filters,
filters that fan out into backend calls, PATCHes with thousands of
operations, bodies with hundreds of thousands of values, the dateTime that
overflowed, and a body sent to an org whose SCIM is off. The backend's call
log shows what each one cost.
"""

from __future__ import annotations

import json

import pytest

from gateway.scim.filter import FILTER_CACHE
from gateway.web.state import ORG_GATE
from tests.bodies import PATCH_OP, create_user, patch_ops
from tests.conftest import World
from tests.property.people import SEARCH_REQUEST, person, seed


@pytest.fixture
def scim_settings() -> dict:
    return {"max_scan": 300}


def _scim_error(status: int, body: dict, scim_type: str, limit: str) -> None:
    assert status == 400, body
    assert body["scimType"] == scim_type, body
    assert limit in body["detail"], body


async def test_a_megabyte_filter_is_refused_before_it_is_parsed(world: World):
    huge = " and ".join(f'userName eq "u{i}"' for i in range(35_000))  # ~0.8 MB
    await world.a.get("/Users?count=0")  # org flags cached, so calls below are the filter's
    FILTER_CACHE.clear()
    await world.backend.clear_log()
    status, body, _ = await world.a.post("/Users/.search",
                                         {"schemas": [SEARCH_REQUEST], "filter": huge})
    _scim_error(status, body, "invalidFilter", "limits.filter_max_length")
    assert await world.backend.calls() == []
    assert len(FILTER_CACHE) == 0  # nothing parsed, nothing kept


async def test_a_filter_of_many_short_terms_is_refused_by_its_node_count(world: World):
    many = " or ".join(f"id eq {i}" for i in range(600))  # < 10,000 characters
    assert len(many) < 10_000
    status, body, _ = await world.a.get("/Users", params={"filter": many})
    _scim_error(status, body, "invalidFilter", "limits.filter_max_nodes")


async def test_many_id_branches_are_a_bounded_scan_not_one_call_each(world: World):
    ids = [str(i) for i in await seed(world, world.org_a, [person(i) for i in range(60)])]
    await world.a.get("/Users?count=0")  # org flags cached
    wanted = ids[:55]  # more than filter_max_lookups (50), fewer than filter_max_nodes
    flt = " or ".join(f'id eq "{i}"' for i in wanted)
    await world.backend.clear_log()
    status, body, _ = await world.a.post("/Users/.search", {"schemas": [SEARCH_REQUEST],
                                                            "filter": flt, "count": 100})
    assert status == 200, body
    assert sorted(r["id"] for r in body["Resources"]) == sorted(wanted)
    calls = await world.backend.calls()
    assert not any("/employees/" in c for c in calls), calls  # no point reads at all
    assert len(calls) == 1, calls  # one page of 200 holds the org
    # A few branches are still point reads.
    flt = " or ".join(f'id eq "{i}"' for i in ids[:10])
    await world.backend.clear_log()
    status, body, _ = await world.a.get("/Users", params={"filter": flt})
    assert status == 200 and sorted(r["id"] for r in body["Resources"]) == sorted(ids[:10])
    calls = await world.backend.calls()
    assert sorted(calls) == sorted(f"GET /internal/v1/orgs/{world.org_a}/employees/{i}"
                                   for i in ids[:10])


async def test_many_username_branches_are_a_bounded_scan_not_one_lookup_each(world: World):
    await seed(world, world.org_a, [person(i) for i in range(60)])
    await world.a.get("/Users?count=0")
    flt = " or ".join(f'userName eq "person{i}@acme.example"' for i in range(55))
    await world.backend.clear_log()
    status, body, _ = await world.a.get("/Users", params={"filter": flt, "count": "100"})
    assert status == 200 and body["totalResults"] == 55, body
    calls = await world.backend.calls()
    assert not any("email=" in c for c in calls), calls
    assert len(calls) == 1, calls


async def test_a_bounded_scan_bigger_than_max_scan_is_too_many(world: World):
    ids = [str(i) for i in await seed(world, world.org_a, [person(i) for i in range(310)])]
    await world.a.get("/Users?count=0")
    flt = " or ".join(f'id eq "{i}"' for i in ids[:55])
    await world.backend.clear_log()
    status, body, _ = await world.a.get("/Users", params={"filter": flt})
    assert status == 400 and body["scimType"] == "tooMany", body
    assert len(await world.backend.calls()) == 1  # refused from the first page's total


async def test_many_group_id_branches_are_a_bounded_scan(world: World):
    gids = []
    for i in range(55):
        status, body, _ = await world.a.post("/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"G{i}"})
        assert status == 201, body
        gids.append(body["id"])
    flt = " or ".join(f'id eq "{g}"' for g in gids)
    await world.backend.clear_log()
    status, body, _ = await world.a.get("/Groups", params={"filter": flt,
                                                           "excludedAttributes": "members"})
    assert status == 200 and body["totalResults"] == 55, body
    calls = await world.backend.calls()
    assert not any(f"/teams/{g}" in c for c in calls for g in gids), calls


async def test_a_patch_with_thousands_of_operations_is_refused_before_it_is_read(world: World):
    user = await create_user(world)
    ops = [{"op": "remove", "path": "title"}] * 5_000
    await world.backend.clear_log()
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", patch_ops(*ops))
    _scim_error(status, body, "tooMany", "limits.patch_max_operations")
    assert await world.backend.calls() == []


async def test_a_patch_path_over_the_filter_budget_is_refused(world: World):
    user = await create_user(world)
    path = "emails[" + " or ".join(f'value eq "{i}"' for i in range(2_000)) + "].type"
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", patch_ops(
        {"op": "replace", "path": path, "value": "work"}))
    _scim_error(status, body, "invalidPath", "limits.filter_max_length")


async def test_a_body_with_200000_values_is_refused_before_validation(world: World):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.c",
            "emails": [1] * 200_000}
    status, answer, _ = await world.a.post("/Users", body)
    _scim_error(status, answer, "invalidSyntax", "limits.body_max_values")


async def test_an_object_with_thousands_of_attributes_is_refused(world: World):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.c",
            **{f"x{i}": i for i in range(1_000)}}
    status, answer, _ = await world.a.post("/Users", body)
    _scim_error(status, answer, "invalidSyntax", "limits.body_max_attributes")


async def test_last_modified_before_year_one_in_utc_is_a_400_not_a_500(world: World):
    await create_user(world)
    for flt in ('meta.lastModified gt "0001-01-01T00:00:00+14:00"',
                'meta.lastModified lt "0001-01-01T00:00:00+14:00"',
                'meta.lastModified ge "9999-12-31T23:59:59-14:00"'):
        status, body, _ = await world.a.get("/Users", params={"filter": flt})
        assert status == 400 and body["scimType"] == "invalidFilter", (flt, body)


async def test_search_with_an_invalid_body_to_an_org_without_scim_is_403(world: World):
    await world.backend.set_org(world.org_a, scim_enabled=False)
    world.app[ORG_GATE].forget(world.org_a)
    for path in ("/.search", "/Users/.search", "/Groups/.search"):
        status, body, _ = await world.a.request("POST", path, raw=b"{not json")
        assert status == 403, (path, body)
        status, body, _ = await world.a.request(
            "POST", path, raw=json.dumps({"schemas": [PATCH_OP], "count": "x"}).encode())
        assert status == 403, (path, body)
    status, _, _ = await world.client("Basic bm9ib2R5Om5vcGU=").request(
        "POST", "/.search", raw=b"{not json")
    assert status == 401


async def test_a_started_gateway_hands_the_interpreter_to_its_loop_every_millisecond(
    world: World,
):
    import sys

    from gateway.web.params import SWITCH_INTERVAL_S

    # Large bodies are validated on a worker thread; with CPython's default 5 ms the
    # loop waited that long at each wake-up of every other request meanwhile.
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
