"""What each kind of query costs the legacy backend, counted from the sandbox's request log.

Identity lookups (userName, externalId, the work email, id) are O(1) backend
calls whatever the org's size; `active eq` pages through the backend; anything
else is a scan of at most `max_scan` people, and a bigger one is refused with
`400 tooMany` before it starts, never answered slowly or wrongly.
"""

from __future__ import annotations

import pytest

from tests.conftest import World
from tests.property.people import SEARCH_REQUEST, person, seed

SIZE = 450  # three backend pages of 200
INACTIVE = set(range(0, SIZE, 10))  # 45 people
MAX_SCAN = 400


@pytest.fixture
def scim_settings(request: pytest.FixtureRequest) -> dict:
    return getattr(request, "param", {"max_scan": MAX_SCAN})


@pytest.fixture
async def people(world: World) -> list[str]:
    employees = [person(i, sso_id=f"ext-{i}", title="Lead" if i == 7 else "Staff")
                 for i in range(SIZE)]
    ids = await seed(world, world.org_a, employees, INACTIVE)
    # Org flags cached and the user index built, so calls below are the query's.
    await world.index_built()
    return [str(i) for i in ids]


async def cost(world: World, params: dict) -> tuple[int, dict, list[str]]:
    await world.backend.clear_log()
    status, body, _ = await world.a.get("/Users", params=params)
    return status, body, await world.backend.calls()


async def test_username_and_work_email_lookups_cost_one_call(world: World, people: list[str]):
    for flt in ('userName eq "person321@acme.example"',
                'userName eq "PERSON321@ACME.EXAMPLE"',
                'emails[type eq "work"].value eq "Person321@acme.example"',
                'emails[type eq "work" and value eq "person321@acme.example"]'):
        status, body, calls = await cost(world, {"filter": flt})
        assert status == 200 and [r["id"] for r in body["Resources"]] == [people[321]], flt
        assert len(calls) == 1, (flt, calls)
    # A miss in a built index catches it up (see the externalId miss below): everyone here
    # was loaded in the same second, so that re-reads the org; in an org loaded earlier it
    # is one call. No slow email search.
    status, body, calls = await cost(world, {"filter": 'userName eq "nobody@acme.example"'})
    assert body["totalResults"] == 0
    assert 1 <= len(calls) <= 3 and all("updated_since=" in c for c in calls), calls


async def test_external_id_lookup_is_constant_once_the_index_is_built(
    world: World, people: list[str]
):
    for i in (5, 6, 449, 0):
        _, body, calls = await cost(world, {"filter": f'externalId eq "ext-{i}"'})
        assert [r["id"] for r in body["Resources"]] == [people[i]]
        assert calls == [f"GET /internal/v1/orgs/{world.org_a}/employees/{people[i]}"], calls
    # A miss (externalId is caseExact) catches the index up with what changed since its
    # watermark: one backend call per 200 people changed in the overlap before it. Here
    # everyone was loaded in the same second, so that is the whole org, once per miss.
    _, body, calls = await cost(world, {"filter": 'externalId eq "EXT-6"'})
    assert body["totalResults"] == 0
    assert 1 <= len(calls) <= 3 and all("updated_since=" in c for c in calls), calls


async def test_id_and_or_of_identities_cost_one_call_each(world: World, people: list[str]):
    status, body, calls = await cost(world, {"filter": f'id eq "{people[100]}"'})
    assert [r["id"] for r in body["Resources"]] == [people[100]] and len(calls) == 1
    flt = 'userName eq "person1@acme.example" or userName eq "person2@acme.example"'
    status, body, calls = await cost(world, {"filter": flt})
    assert status == 200 and [r["id"] for r in body["Resources"]] == people[1:3]
    assert len(calls) == 2, calls
    flt = 'userName eq "person7@acme.example" and title eq "Lead"'
    _, body, calls = await cost(world, {"filter": flt})
    assert [r["id"] for r in body["Resources"]] == [people[7]] and len(calls) == 1, calls


async def test_active_eq_is_paged_by_the_backend(world: World, people: list[str]):
    active = [p for i, p in enumerate(people) if i not in INACTIVE]
    status, body, calls = await cost(world, {"filter": "active eq true", "startIndex": "101",
                                             "count": "100"})
    assert status == 200 and body["totalResults"] == len(active)
    assert [r["id"] for r in body["Resources"]] == active[100:200]
    assert len(calls) == 1 and "status=active" in calls[0], calls
    _, body, calls = await cost(world, {"filter": "active eq false", "count": "0"})
    assert body["totalResults"] == len(INACTIVE) and body["Resources"] == []
    assert len(calls) == 1 and "status=deactivated" in calls[0], calls


async def test_import_pages_cost_one_call_each(world: World, people: list[str]):
    """One backend call per page. From the third page on, a page is read ahead while the
    one before is answered (gateway/provisioning/read_ahead.py), so a call lands in the
    previous request's time: counted over the whole import, each page once, none past
    the end."""
    seen: list[str] = []
    await world.backend.clear_log()
    for start in range(1, SIZE + 1, 100):
        status, body, _ = await world.a.get(
            "/Users", params={"startIndex": str(start), "count": "100"})
        assert status == 200 and body["totalResults"] == SIZE
        seen += [r["id"] for r in body["Resources"]]
    assert seen == people
    calls = [c for c in await world.backend.calls() if "per_page=100" in c]
    pages = sorted(int(c.split("page=")[1].split("&")[0]) for c in calls)
    assert pages == list(range(1, -(-SIZE // 100) + 1)), calls


async def test_scan_above_max_scan_is_400_too_many_after_one_call(
    world: World, people: list[str]
):
    for params in ({"filter": 'title eq "Lead"'},
                   {"filter": 'title eq "Lead"', "count": "0"},
                   {"filter": 'active eq true and title eq "Lead"'},
                   {"filter": 'userName sw "person7"'},
                   {"filter": 'not (active eq false)'},
                   {"sortBy": "userName"}):
        status, body, calls = await cost(world, params)
        assert status == 400, (params, body)
        assert body["scimType"] == "tooMany" and str(MAX_SCAN) in body["detail"], body
        assert len(calls) == 1, (params, calls)
    await world.backend.clear_log()
    status, body, _ = await world.a.post("/Users/.search", {
        "schemas": [SEARCH_REQUEST], "filter": 'title eq "Lead"'})
    assert status == 400 and body["scimType"] == "tooMany"


async def test_scan_narrowed_below_max_scan_is_answered(world: World, people: list[str]):
    # 45 deactivated people: the status pushdown narrows the scan under the limit.
    status, body, calls = await cost(world, {"filter": 'active eq false and title eq "Staff"'})
    assert status == 200, body
    assert [r["id"] for r in body["Resources"]] == [people[i] for i in sorted(INACTIVE)]
    assert len(calls) == 1 and "status=deactivated" in calls[0], calls


@pytest.mark.parametrize("scim_settings", [{"max_scan": SIZE}], indirect=True)
async def test_scan_at_the_limit_reads_every_page_once(world: World, people: list[str]):
    status, body, calls = await cost(world, {"filter": 'title eq "Lead"'})
    assert status == 200 and [r["id"] for r in body["Resources"]] == [people[7]]
    assert len(calls) == 3, calls  # 450 people, 200 a page
    pages = sorted(c.split("page=")[1].split("&")[0] for c in calls)
    assert pages == ["1", "2", "3"], calls
