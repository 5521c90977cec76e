"""Generated people, generated filters: the gateway's answer equals an in-memory oracle.

Each example makes a fresh org (so a cold index), seeds generated people into
the sandbox, reads them back through the gateway as SCIM resources, then runs
generated queries through `GET /Users?filter=` or `POST /Users/.search`, with
generated paging and sorting. The oracle is `gateway.scim.evaluate.matches`
over the read-back resources, so what is under test is everything between:
the planner's point lookups, the Redis index, pushdowns to the backend,
scans, paging and sorting. People's ids are only known after seeding, so
generated filters name them as `@ID<n>@` and are filled in afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, matches
from gateway.scim.filter import parse_filter
from tests.bodies import ENTERPRISE
from tests.conftest import World
from tests.property.people import (
    SEARCH_REQUEST,
    new_org,
    read_all,
    seed,
    user_mapping,
)
from tests.property.strategies import TITLES, fill, people, query


@st.composite
def changes(draw: st.DrawFn, records: list[dict[str, Any]]) -> list[tuple[int, dict]]:
    """Edits made in Workstream directly, behind the gateway's (and its index's) back."""
    if not records:
        return []
    out = []
    for n in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(records) - 1))
        field = draw(st.sampled_from(["email", "sso_id", "title", "status"]))
        if field == "email":
            value: Any = f"moved{n}.{i}@b.example"
        elif field == "sso_id":
            value = draw(st.sampled_from([None, f"moved{n}-{i}", f"MOVED{n}-{i}"]))
        elif field == "title":
            value = draw(st.sampled_from(TITLES))
        else:
            value = draw(st.sampled_from(["deactivate", "reactivate"]))
        out.append((i, {field: value}))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    records, inactive = draw(people())
    return {
        "records": records,
        "inactive": inactive,
        "before": draw(st.lists(query(records), min_size=1, max_size=5)),
        "changes": draw(changes(records)),
        "after": draw(st.lists(query(records), max_size=3)),
    }


# ------------------------------------------------------------------ oracle

def _sort_value(resource: dict, sort_by: str) -> Any:
    """An independent reading of RFC 7644 §3.4.2.3 for the attributes SORTABLE names."""
    if sort_by == "userName":
        return resource["userName"].casefold()
    if sort_by == "name.familyName":
        return resource.get("name", {}).get("familyName", "").casefold() or None
    if sort_by == "title":
        value = resource.get("title")
        return value.casefold() if value is not None else None
    if sort_by == "displayName":
        return (resource.get("displayName") or "").casefold() or None  # "" is no value
    if sort_by == "externalId":
        return resource.get("externalId")  # caseExact
    if sort_by == "emails":
        emails = resource.get("emails") or []
        primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
        return primary["value"].casefold() if primary else None
    if sort_by == "meta.lastModified":
        return datetime.fromisoformat(resource["meta"]["lastModified"].replace("Z", "+00:00"))
    value = resource.get(ENTERPRISE, {}).get("employeeNumber")
    return value.casefold() if value is not None else None


def expected(resources: list[dict], q: dict[str, Any], world: World, org_id: int) -> Any:
    mapping = user_mapping(world, org_id)
    node = parse_filter(q["filter"])
    try:
        check_filter(node, mapping.advertised)
    except ScimError as error:
        return error
    found = [r for r in resources if matches(node, r, mapping.rtype)]
    if q["sortBy"]:
        descending = (q["sortOrder"] or "").lower() == "descending"
        keyed = [(_sort_value(r, q["sortBy"]), r) for r in found]
        have = sorted([p for p in keyed if p[0] is not None], key=lambda p: p[0],
                      reverse=descending)
        found = [r for _, r in have] + [r for v, r in keyed if v is None]
    start = max(1, q["startIndex"])
    count = 200 if q["count"] is None else q["count"]
    return len(found), start, [r["id"] for r in found[start - 1:start - 1 + count]]


async def run(client, q: dict[str, Any]) -> tuple[int, Any]:
    params = {k: v for k, v in q.items() if k not in ("via",) and v is not None}
    if q["via"] == "search":
        status, body, _ = await client.post("/Users/.search",
                                            {"schemas": [SEARCH_REQUEST], **params})
    else:
        status, body, _ = await client.get("/Users", params={k: str(v)
                                                             for k, v in params.items()})
    return status, body


async def check_queries(world: World, org_id: int, client, ids: list[int],
                        queries: list[dict[str, Any]]) -> None:
    resources = await read_all(client)
    assert [int(r["id"]) for r in resources] == ids
    now = max((datetime.fromisoformat(r["meta"]["lastModified"].replace("Z", "+00:00"))
               for r in resources), default=datetime.now(UTC))
    for q in queries:
        q = {**q, "filter": fill(q["filter"], ids, now)}
        want = expected(resources, q, world, org_id)
        status, body = await run(client, q)
        if isinstance(want, ScimError):
            assert status == 400, (q, body)
            assert body["scimType"] == want.scim_type == "invalidFilter", (q, body)
            continue
        total, start, want_ids = want
        assert status == 200, (q, body)
        got = [r["id"] for r in body["Resources"]]
        assert (body["totalResults"], body["startIndex"], got) == (total, start, want_ids), q
        assert body["itemsPerPage"] == len(got)


async def change_directly(world: World, org_id: int, backend_id: int, change: dict) -> None:
    if "status" in change:
        path = f"/internal/v1/orgs/{org_id}/employees/{backend_id}/{change['status']}"
        status, body = await world.backend.call("POST", path)
    else:
        status, body = await world.backend.call(
            "PATCH", f"/internal/v1/orgs/{org_id}/employees/{backend_id}", change)
    assert status == 200, body


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(scenarios())
async def test_filter_results_equal_the_in_memory_oracle(world: World, scenario):
    org_id, client = await new_org(world)
    ids = await seed(world, org_id, scenario["records"], scenario["inactive"])
    await check_queries(world, org_id, client, ids, scenario["before"])
    # The index is warm now; people change in Workstream without the gateway knowing.
    for i, change in scenario["changes"]:
        await change_directly(world, org_id, ids[i], change)
    await check_queries(world, org_id, client, ids, scenario["after"] + scenario["before"])
