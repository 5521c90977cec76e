"""Paging and sorting (RFC 7644 §3.4.2.3-4) on every kind of query plan.

`totalResults` counts every match, `startIndex` is 1-based (below 1 counts as
1), `count=0` returns only the total, a window past the end is empty, and
the order is the same on every page, whether the backend pages for us
(no filter, `active eq`), the gateway scans (`title co`), the planner looks
people up (`userName eq ... or ...`) or results are sorted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.property.people import SEARCH_REQUEST, person, seed

SIZE = 450
INACTIVE = {i for i in range(SIZE) if i % 7 == 3}
TITLES = ["Alpha", "beta", None, "Gamma", "alpha"]


def title(i: int) -> str | None:
    return TITLES[i % len(TITLES)]


EMPLOYEES = [person(i, **({"title": title(i)} if title(i) else {})) for i in range(SIZE)]

# Windows as (startIndex, count); None leaves the parameter out.
WINDOWS: list[tuple[Any, Any]] = [
    (None, None), (1, 0), (1, 1), (1, 200), (0, 5), (-3, 5), (199, 3), (200, 2),
    (201, 200), (400, 100), (SIZE, 1), (SIZE + 1, 10), (1000, 10), (150, 100), (101, 100),
    (3, 300), (2, -1), (None, 7), (120, None),
]
# filter → (the indexes it matches, in id order)
FILTERS: dict[str | None, list[int]] = {
    None: list(range(SIZE)),
    "active eq true": [i for i in range(SIZE) if i not in INACTIVE],
    "active eq false": sorted(INACTIVE),
    'title co "a"': [i for i in range(SIZE) if title(i) in ("Alpha", "beta", "Gamma", "alpha")],
    'title eq "ALPHA" and active eq true': [
        i for i in range(SIZE) if (title(i) or "").lower() == "alpha" and i not in INACTIVE],
    " or ".join(f'userName eq "person{i}@acme.example"' for i in (5, 300, 17, 444)):
        [5, 17, 300, 444],
    'meta.lastModified ge "2000-01-01T00:00:00Z"': list(range(SIZE)),
    'userName eq "nobody@acme.example"': [],
}
SORTS: list[tuple[str | None, str | None]] = [
    (None, None), ("userName", "descending"), ("title", None), ("title", "descending"),
    ("meta.created", "ascending"),
]


def sort_key(i: int, sort_by: str) -> Any:
    if sort_by == "userName":
        return f"person{i}@acme.example"
    if sort_by == "title":
        return title(i).casefold() if title(i) else None
    return 0  # meta.created: everyone was loaded in the same second, so all tie


def expected(flt: str | None, sort: tuple[str | None, str | None]) -> list[int]:
    matched = FILTERS[flt]
    sort_by, order = sort
    if sort_by is None:
        return matched
    keyed = [(sort_key(i, sort_by), i) for i in matched]
    have = sorted([p for p in keyed if p[0] is not None], key=lambda p: p[0],
                  reverse=order == "descending")
    return [i for _, i in have] + [i for k, i in keyed if k is None]


@pytest.fixture
async def people(world: World) -> list[str]:
    return [str(i) for i in await seed(world, world.org_a, EMPLOYEES, INACTIVE)]


def params_of(flt, start, count, sort) -> dict[str, Any]:
    out: dict[str, Any] = {"filter": flt, "startIndex": start, "count": count,
                           "sortBy": sort[0], "sortOrder": sort[1]}
    return {k: v for k, v in out.items() if v is not None}


async def check(world: World, people: list[str], flt, start, count, sort, via: str) -> None:
    params = params_of(flt, start, count, sort)
    if via == "get":
        status, body, _ = await world.a.get("/Users", params={k: str(v)
                                                              for k, v in params.items()})
    else:
        status, body, _ = await world.a.post("/Users/.search",
                                             {"schemas": [SEARCH_REQUEST], **params})
    assert status == 200, (params, body)
    everything = [people[i] for i in expected(flt, sort)]
    first = max(1, start if start is not None else 1)
    size = min(200, max(0, count if count is not None else 200))
    want = everything[first - 1:first - 1 + size]
    got = [r["id"] for r in body["Resources"]]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (
        len(everything), first, len(want)), params
    assert got == want, params
    assert isinstance(body["totalResults"], int) and isinstance(body["startIndex"], int)


@pytest.mark.parametrize("flt", list(FILTERS))
async def test_every_window_of_every_plan(world: World, people: list[str], flt):
    for start, count in WINDOWS:
        await check(world, people, flt, start, count, (None, None), "get")


@pytest.mark.parametrize("sort", SORTS[1:])
async def test_every_window_sorted(world: World, people: list[str], sort):
    lookups = next(f for f in FILTERS if f and " or " in f)
    for flt in (None, 'title co "a"', "active eq false", lookups):
        for start, count in WINDOWS[::2]:
            await check(world, people, flt, start, count, sort, "get")


async def test_search_request_pages_the_same(world: World, people: list[str]):
    for flt in FILTERS:
        for start, count in WINDOWS[::4]:
            await check(world, people, flt, start, count, ("userName", "ascending"), "search")
            await check(world, people, flt, start, count, (None, None), "search")


async def test_walking_pages_sees_everyone_exactly_once(world: World, people: list[str]):
    for flt, sort in ((None, (None, None)), ('title co "a"', ("title", "descending")),
                      ("active eq true", (None, None))):
        seen: list[str] = []
        start = 1
        while True:
            params = params_of(flt, start, 33, sort)
            status, body, _ = await world.a.get("/Users", params={k: str(v)
                                                                  for k, v in params.items()})
            assert status == 200
            seen += [r["id"] for r in body["Resources"]]
            start += 33
            if start > body["totalResults"]:
                break
        assert seen == [people[i] for i in expected(flt, sort)]


@pytest.mark.parametrize("params,scim_type", [
    ({"startIndex": "one"}, "invalidValue"),
    ({"count": "1.5"}, "invalidValue"),
    ({"count": "true"}, "invalidValue"),
    ({"sortOrder": "sideways"}, "invalidValue"),
    ({"sortBy": "noSuchAttribute"}, "invalidValue"),
    ({"filter": 'title co "a"', "filter ": "x"}, None),
])
async def test_bad_paging_parameters_are_clear_400s(world: World, people: list[str],
                                                    params, scim_type):
    status, body, _ = await world.a.get("/Users", params=params)
    if scim_type is None:  # an unknown parameter is ignored: the same answer as without it
        assert status == 200, body
        known = {k: v for k, v in params.items() if k in ("filter", "count", "startIndex")}
        _, plain, _ = await world.a.get("/Users", params=known)
        assert body == plain
        assert 0 < body["totalResults"] < len(people)  # the filter still applied
        return
    assert status == 400, (params, body)
    assert body["scimType"] == scim_type and body["detail"]


async def test_repeated_parameter_is_400(world: World, people: list[str]):
    status, body, _ = await world.a.get("/Users?count=1&COUNT=2")
    assert status == 400 and "count" in body["detail"]
