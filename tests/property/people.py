"""People for query tests: seeded straight into the sandbox, read back through the gateway.

Seeding goes through the sandbox's bulk admin route (fast, and it is how
people who never came from an IdP look); everything a test compares is read
back as SCIM resources through the gateway, so the oracle sees exactly what
an IdP would.
"""

from __future__ import annotations

from typing import Any

from gateway.mapping.resource_mapping import ResourceMapping
from gateway.web.state import MAPPINGS
from tests.conftest import ScimClient, World, basic

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def new_org(world: World, name: str = "Query org") -> tuple[int, ScimClient]:
    """A fresh org with its own Basic credential (and so its own, empty, index)."""
    org_id = await world.backend.create_org(name)
    issued = await world.credentials.issue_basic(org_id, label="query")
    return org_id, world.client(basic(issued.username, issued.password))


async def seed(world: World, org_id: int, employees: list[dict[str, Any]],
               inactive: set[int] = frozenset()) -> list[int]:
    """Insert `employees` (backend records) and deactivate those whose index is in `inactive`."""
    if not employees:
        return []
    status, body = await world.backend.call(
        "POST", f"/_sandbox/orgs/{org_id}/employees/bulk", {"employees": employees})
    assert status == 201, body
    ids = body["ids"]
    for index in sorted(inactive):
        status, body = await world.backend.call(
            "POST", f"/internal/v1/orgs/{org_id}/employees/{ids[index]}/deactivate")
        assert status == 200, body
    return ids


async def read_all(client: ScimClient) -> list[dict]:
    """Every user of the client's org as SCIM resources, in the gateway's (id) order."""
    out: list[dict] = []
    start = 1
    while True:
        status, body, _ = await client.get("/Users", params={"startIndex": str(start),
                                                             "count": "200"})
        assert status == 200, body
        out += body["Resources"]
        start += len(body["Resources"])
        if not body["Resources"] or start > body["totalResults"]:
            return out


def user_mapping(world: World, org_id: int) -> ResourceMapping:
    return world.app[MAPPINGS].for_org(org_id).user


def person(i: int, **fields: Any) -> dict[str, Any]:
    """A backend employee record with sensible defaults for index `i`."""
    return {"email": f"person{i}@acme.example", "first_name": f"First{i}",
            "last_name": f"Last{i}", **fields}


# A small, fixed population with every mapped attribute and every awkward value
# the operators must handle: case variants, missing values, shared prefixes.
POPULATION: list[dict[str, Any]] = [
    person(0, email="ada.lovelace@acme.example", first_name="Ada", last_name="Lovelace",
           display_name="Ada Lovelace", title="Analyst", department="Research",
           employee_number="E-100", cost_center="CC-1", phone="+1 555 0100",
           locale="en-GB", timezone="Europe/London", sso_id="00uADA"),
    person(1, email="Grace.Hopper@ACME.example", first_name="Grace", last_name="Hopper",
           display_name="Grace Hopper", title="Senior Analyst", department="research",
           employee_number="E-200", cost_center="CC-2", locale="en-US",
           timezone="America/New_York", sso_id="00uGRACE"),
    person(2, email="alan.turing@acme.example", first_name="Alan", last_name="Turing",
           title="ANALYST", department="Crypto", employee_number="E-300",
           phone="+44 20 7946 0000", locale="en-GB", sso_id="00uada"),
    person(3, email="straße@acme.example", first_name="Jürgen", last_name="Straße",
           display_name="Jürgen Straße", title="Engineer", department="R&D",
           locale="de-DE", timezone="Europe/Berlin"),
    person(4, email="zoe@b.example", first_name="Zoë", last_name="Ångström",
           title="engineer lead", employee_number="E-050", sso_id="00uZOE"),
    person(5, email="kay@b.example", first_name="Kay", last_name="Lovelace",
           display_name="", title=None, department="Sales", cost_center="CC-1",
           sso_id="00uKAY"),
]
# Indexes into POPULATION that are deactivated.
POPULATION_INACTIVE = {2, 5}
