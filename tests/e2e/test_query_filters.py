"""Every filter operator and combination over a known population, answers worked out by hand.

The population (tests/property/people.py) is seeded into the sandbox as if
the people had been created in Workstream directly; every query goes through
the gateway and is answered through whatever the planner picks (point
lookup, pushdown or scan), both as `GET /Users?filter=` and `POST /Users/.search`.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.bodies import CORE, ENTERPRISE
from tests.conftest import World
from tests.property.people import (
    POPULATION,
    POPULATION_INACTIVE,
    SEARCH_REQUEST,
    seed,
)

# filter → indexes into POPULATION, in id order.
CASES: list[tuple[str, list[int]]] = [
    # eq, with the case rules of each attribute
    ('userName eq "ADA.LOVELACE@acme.example"', [0]),
    ('userName eq "grace.hopper@acme.example"', [1]),
    ('userName eq "STRASSE@acme.example"', [3]),  # Unicode case folding: ß ~ SS
    ('externalId eq "00uADA"', [0]),
    ('externalId eq "00uada"', [2]),  # externalId is caseExact
    ('externalId eq "00UADA"', []),
    ('title eq "analyst"', [0, 2]),
    ('name.familyName eq "lovelace"', [0, 5]),
    ('name.givenName eq "zoë"', [4]),
    (f'{ENTERPRISE}:department eq "RESEARCH"', [0, 1]),
    (f'{ENTERPRISE}:costCenter eq "CC-1"', [0, 5]),
    ('locale eq "en-GB"', [0, 2]),
    ('timezone eq "europe/berlin"', [3]),
    ('active eq false', [2, 5]),
    ('active eq true', [0, 1, 3, 4]),
    # ne: a person without the attribute is "not equal" too
    ('title ne "analyst"', [1, 3, 4, 5]),
    ('externalId ne "00uADA"', [1, 2, 3, 4, 5]),
    ('active ne true', [2, 5]),
    # co / sw / ew
    ('title co "analyst"', [0, 1, 2]),
    ('userName co "LOVELACE"', [0]),
    ('name.familyName co "STRÖM"', [4]),
    ('userName sw "A"', [0, 2]),
    ('emails.value sw "GRACE"', [1]),
    ('externalId sw "00u"', [0, 1, 2, 4, 5]),
    ('externalId sw "00U"', []),
    ('userName ew "@B.EXAMPLE"', [4, 5]),
    ('title ew "LEAD"', [4]),
    ('phoneNumbers.value co "555"', [0]),
    ('emails co "LOVELACE@"', [0]),  # a multi-valued attribute compares its values
    # gt / ge / lt / le on strings (case-insensitive unless caseExact)
    (f'{ENTERPRISE}:employeeNumber gt "E-100"', [1, 2]),
    (f'{ENTERPRISE}:employeeNumber ge "e-100"', [0, 1, 2]),
    (f'{ENTERPRISE}:employeeNumber lt "E-100"', [4]),
    (f'{ENTERPRISE}:employeeNumber le "e-100"', [0, 4]),
    ('userName lt "B"', [0, 2]),
    ('externalId gt "00ua"', [2]),  # caseExact: "00uADA" < "00ua" < "00uada"
    # pr and null
    ('title pr', [0, 1, 2, 3, 4]),
    ('displayName pr', [0, 1, 3]),  # "" is not a value
    ('externalId pr', [0, 1, 2, 4, 5]),
    ('phoneNumbers pr', [0, 2]),
    (f'{ENTERPRISE}:employeeNumber pr', [0, 1, 2, 4]),
    (f'{ENTERPRISE}:manager pr', []),
    ('displayName eq null', [2, 4, 5]),
    ('externalId eq null', [3]),
    ('title ne null', [0, 1, 2, 3, 4]),
    # and / or / not / parentheses and precedence
    ('title co "analyst" and active eq true', [0, 1]),
    (f'title co "analyst" or {ENTERPRISE}:department eq "Sales"', [0, 1, 2, 5]),
    ('not (title co "analyst")', [3, 4, 5]),
    ('(title eq "Engineer" or title sw "engineer") and not (active eq false)', [3, 4]),
    ('title eq "Analyst" or title eq "x" and active eq false', [0, 2]),
    ('(title eq "Analyst" or title eq "x") and active eq false', [2]),
    ('not (not (userName eq "kay@b.example"))', [5]),
    # point lookups combined with the rest
    ('userName eq "zoe@b.example" or externalId eq "00uADA"', [0, 4]),
    ('userName eq "zoe@b.example" and title co "lead"', [4]),
    ('userName eq "zoe@b.example" and title co "analyst"', []),
    ('externalId eq "00uKAY" and active eq false', [5]),
    ('externalId eq "00uKAY" and active eq true', []),
    ('userName eq "nobody@acme.example" or title eq "Engineer"', [3]),
    # value paths, RFC and Entra forms
    ('emails[type eq "work" and value co "lovelace"]', [0]),
    ('emails[type eq "home"]', []),
    ('emails[value ew "b.example"]', [4, 5]),
    ('emails[not (value ew "b.example")]', [0, 1, 2, 3]),
    ('not (emails[value ew "b.example"])', [0, 1, 2, 3]),
    ('phoneNumbers[type eq "work" and value sw "+44"]', [2]),
    ('emails[type eq "work"].value eq "kay@b.example"', [5]),
    ('emails[type eq "work"].value eq "KAY@B.EXAMPLE"', [5]),
    ('emails[primary eq true and value sw "straße"]', [3]),
    # names, operators and keywords in any case; URN-qualified core names
    ('USERNAME EQ "kay@b.example"', [5]),
    ('Title Co "ANALYST" AnD Active Eq True', [0, 1]),
    ('EMAILS[TYPE EQ "WORK"].VALUE EQ "ZOE@B.EXAMPLE"', [4]),
    (f'{ENTERPRISE}:DEPARTMENT eq "sales"', [5]),
    (f'{CORE}:userName eq "kay@b.example"', [5]),
    ('NOT (active EQ true) or EXTERNALID Eq "00uZOE"', [2, 4, 5]),
]


@pytest.fixture
async def people(world: World) -> list[str]:
    ids = await seed(world, world.org_a, POPULATION, POPULATION_INACTIVE)
    return [str(i) for i in ids]


async def query(world: World, flt: str, via: str) -> list[str]:
    if via == "get":
        status, body, _ = await world.a.get("/Users", params={"filter": flt})
    else:
        status, body, _ = await world.a.post(
            "/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": flt})
    assert status == 200, (flt, body)
    assert body["totalResults"] == len(body["Resources"]) == body["itemsPerPage"]
    return [r["id"] for r in body["Resources"]]


@pytest.mark.parametrize("via", ["get", "search"])
async def test_every_operator_and_combination(world: World, people: list[str], via: str):
    wrong = []
    for flt, expected in CASES:
        got = await query(world, flt, via)
        if got != [people[i] for i in expected]:
            wrong.append((flt, got, [people[i] for i in expected]))
    assert wrong == []


async def test_id_eq_and_or_of_ids(world: World, people: list[str]):
    assert await query(world, f'id eq "{people[3]}"', "get") == [people[3]]
    assert await query(world, f'id eq "{people[4]}" or id eq "{people[1]}"', "get") == [
        people[1], people[4]]
    assert await query(world, 'id eq "999999"', "get") == []
    assert await query(world, 'id eq "not-a-number"', "get") == []
    assert await query(world, f'id eq "{people[3]}" and active eq false', "get") == []


async def test_other_orgs_people_never_match(world: World, people: list[str]):
    for flt in ('userName eq "kay@b.example"', 'externalId eq "00uKAY"', 'title pr',
                f'id eq "{people[0]}"'):
        status, body, _ = await world.b.get("/Users", params={"filter": flt})
        assert status == 200 and body["totalResults"] == 0, flt


async def test_manager_value_filter(world: World, people: list[str]):
    status, body, _ = await world.a.patch(f"/Users/{people[1]}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager",
                        "value": {"value": people[0]}}]})
    assert status == 200, body
    assert await query(world, f'{ENTERPRISE}:manager.value eq "{people[0]}"', "get") == [
        people[1]]
    assert await query(world, f'{ENTERPRISE}:manager pr', "get") == [people[1]]


async def test_last_modified_filters_use_updated_since_and_stay_exact(
    world: World, people: list[str]
):
    _, before, _ = await world.a.get(f"/Users/{people[4]}")
    seeded_at = before["meta"]["lastModified"]
    await asyncio.sleep(1.1)  # timestamps have second precision
    await world.backend.update_employee(world.org_a, people[4], {"title": "Chief"})
    await world.backend.clear_log()
    assert await query(world, f'meta.lastModified gt "{seeded_at}"', "get") == [people[4]]
    calls = await world.backend.calls()
    assert len(calls) == 1 and f"updated_since={seeded_at}" in calls[0], calls
    # ge includes the boundary; an offset is the same instant; lt/le are evaluated.
    assert await query(world, f'meta.lastModified ge "{seeded_at}"', "get") == people
    offset = seeded_at.replace("Z", "+00:00")
    assert await query(world, f'meta.lastModified gt "{offset}"', "get") == [people[4]]
    assert await query(world, f'meta.lastModified le "{seeded_at}"', "get") == [
        *people[:4], people[5]]
    assert await query(world, f'meta.lastModified gt "{seeded_at}" and title eq "chief"',
                       "get") == [people[4]]
    assert await query(world, f'meta.created gt "{seeded_at}"', "get") == []


@pytest.mark.parametrize("flt", [
    'nickName eq "x"',
    'name.middleName eq "x"',
    'emails.display eq "x"',
    'addresses[type eq "work"].locality eq "x"',
    f'{ENTERPRISE}:division eq "x"',
    'groups.value eq "1"',
    'userName eq 1',
    'title co 3',
    'active gt true',
    'active eq "maybe"',
    'meta.lastModified gt "yesterday"',
    'userName eq',
    'userName xx "a"',
    '(userName eq "a"',
    'userName eq "a" and',
    'emails[type eq "work"',
])
async def test_unsupported_filters_are_400_invalid_filter_never_empty(
    world: World, people: list[str], flt: str
):
    await world.a.get("/Users?count=0")  # org flags cached: what follows costs nothing
    await world.backend.clear_log()
    for via in ("get", "search"):
        if via == "get":
            status, body, _ = await world.a.get("/Users", params={"filter": flt})
        else:
            status, body, _ = await world.a.post(
                "/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": flt})
        assert status == 400, (flt, body)
        assert body["scimType"] == "invalidFilter" and body["detail"], body
    assert await world.backend.calls() == []
