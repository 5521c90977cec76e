"""Under a tiny scan limit: an answer is the oracle's or `400 tooMany`, never wrong or empty.

With `max_scan` = 3, filters over more people than that that the gateway must
evaluate itself are refused; what may never be refused is a filter an
identity answers (an `eq` on userName, externalId, id or the work email,
alone, under `and`, or on both sides of `or`), or one the backend answers
exactly (`active eq`). Any 200 must still equal the in-memory oracle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, matches
from gateway.scim.filter import And, Compare, Filter, Or, ValuePath, parse_filter
from tests.conftest import World
from tests.property.people import new_org, read_all, seed, user_mapping
from tests.property.strategies import fill, identity_heavy_filters, people

MAX_SCAN = 3
CORE = "urn:ietf:params:scim:schemas:core:2.0:user"
IDENTITIES = {"username", "externalid", "id"}


@pytest.fixture
def scim_settings() -> dict:
    return {"max_scan": MAX_SCAN}


def _identity_value(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def answered_by_identity(node: Filter) -> bool:
    """An independent statement of which filters must never need a scan."""
    if isinstance(node, And):
        return answered_by_identity(node.left) or answered_by_identity(node.right)
    if isinstance(node, Or):
        return answered_by_identity(node.left) and answered_by_identity(node.right)
    if isinstance(node, Compare):
        core = node.path.urn is None or node.path.urn.lower() == CORE
        return (core and node.op == "eq" and node.path.sub is None
                and node.path.attr.lower() in IDENTITIES and _identity_value(node.value))
    if isinstance(node, ValuePath) and node.path.attr.lower() == "emails" \
            and node.path.urn is None and isinstance(node.filter, And):
        terms = {}
        for leaf in (node.filter.left, node.filter.right):
            if not (isinstance(leaf, Compare) and leaf.op == "eq" and leaf.path.sub is None):
                return False
            terms[leaf.path.attr.lower()] = leaf.value
        return (set(terms) == {"type", "value"} and isinstance(terms["type"], str)
                and terms["type"].lower() == "work" and _identity_value(terms["value"]))
    return False


def answered_by_backend(node: Filter) -> bool:
    return (isinstance(node, Compare) and node.op == "eq" and node.path.sub is None
            and node.path.attr.lower() == "active" and isinstance(node.value, bool))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict], set[int], list[str]]:
    records, inactive = draw(people())
    return records, inactive, draw(st.lists(identity_heavy_filters(records), min_size=1,
                                            max_size=6))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(scenarios())
async def test_scan_limit_refuses_only_what_needs_a_scan(world: World, scenario):
    records, inactive, queries = scenario
    org_id, client = await new_org(world)
    ids = await seed(world, org_id, records, inactive)
    resources = await read_all(client)
    mapping = user_mapping(world, org_id)
    now = max((datetime.fromisoformat(r["meta"]["lastModified"].replace("Z", "+00:00"))
               for r in resources), default=datetime.now(UTC))
    for generated in queries:
        text = fill(generated, ids, now)
        node = parse_filter(text)
        status, body, _ = await client.get("/Users", params={"filter": text})
        try:
            check_filter(node, mapping.advertised)
        except ScimError:
            assert status == 400 and body["scimType"] == "invalidFilter", (text, body)
            continue
        if status == 400 and body.get("scimType") == "tooMany":
            assert len(records) > MAX_SCAN, text
            assert not answered_by_identity(node), text
            assert not answered_by_backend(node), text
            continue
        assert status == 200, (text, body)
        want = [r["id"] for r in resources if matches(node, r, mapping.rtype)]
        assert [r["id"] for r in body["Resources"]] == want, text
        assert body["totalResults"] == len(want)
