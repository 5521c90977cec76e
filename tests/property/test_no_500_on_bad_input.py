"""Whatever an IdP or a script sends, the answer is a SCIM status, never a 500.

Generated PATCH operations (real and wrong ops, paths, values) and mutated
create bodies go through the whole gateway to the sandbox; every answer must
be a deliberate one with a SCIM body, and a refused request changes nothing.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import World
from tests.e2e.okta.test_okta_users import ENTERPRISE, PATCH_OP, okta_user

# What each request may answer: it names an existing resource and sends no If-Match, so a
# 404 or 412 would be as wrong as a 500.
USER_PATCH_ALLOWED = {200, 400, 409}
CREATE_ALLOWED = {201, 400, 409}
GROUP_PATCH_ALLOWED = {200, 204, 400, 409}

PATHS = st.sampled_from([
    None, "", "active", "userName", "title", "name.givenName", "name.familyName", "name",
    "emails", 'emails[type eq "work"].value', 'emails[type eq "work"]', "emails[value pr]",
    'phoneNumbers[type eq "work"].value', "externalId", "id", "meta", "groups", "locale",
    "timezone", f"{ENTERPRISE}:manager", f"{ENTERPRISE}:manager.value",
    f"{ENTERPRISE}:department", "members", "nope", "name.nope", "emails[", 'emails[type eq]',
    "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "x509Certificates",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(allow_nan=False),
    st.sampled_from(["", "True", "False", "ada@acme.example", "en_US", "Mars/Base", "123",
                     "not-an-id", "x" * 300, "Europe/Paris"]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["value", "type", "primary", "givenName", "active",
                                         "title", "name.familyName", "display",
                                         f"{ENTERPRISE}:department", "id", "nope"]),
                        inner, max_size=3),
    ),
    max_leaves=6,
)
OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "Replace", "ADD", "move", 7, None])},
        optional={"path": PATHS, "value": VALUES},
    ),
    min_size=0, max_size=3,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def assert_deliberate(status: int, body, what, allowed: set[int]) -> None:
    assert status in allowed, (status, body, what)
    if status >= 400:
        assert isinstance(body, dict) and body["status"] == str(status) and body["detail"], body


async def _user(world: World) -> str:
    """One user per test run, made on first use (the world outlives the examples)."""
    if "fuzz_user" not in world.extra:
        status, user, _ = await world.a.post("/Users", okta_user())
        assert status == 201
        world.extra["fuzz_user"] = user["id"]
    return world.extra["fuzz_user"]


@FUZZ
@given(operations=OPERATIONS, with_schemas=st.booleans())
async def test_generated_patch_operations_never_500_and_refusals_change_nothing(
    world: World, operations, with_schemas
):
    user_id = await _user(world)
    body = {"Operations": operations}
    if with_schemas:
        body["schemas"] = [PATCH_OP]
    before = await world.backend.employee(world.org_a, user_id)
    status, answer, _ = await world.a.patch(f"/Users/{user_id}", body)
    assert_deliberate(status, answer, operations, USER_PATCH_ALLOWED)
    if status >= 400:
        after = await world.backend.employee(world.org_a, user_id)
        assert after == before, operations


async def _people(world: World) -> int:
    status, body = await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/employees", params={"per_page": "1"})
    assert status == 200
    return body["meta"]["total"]


def _mutations():
    base = okta_user()
    keys = [*base, "name.givenName", ENTERPRISE, "emails.0", "active"]
    return st.tuples(st.sampled_from(keys), VALUES, st.booleans())


@FUZZ
@given(mutations=st.lists(_mutations(), max_size=3), n=st.integers(0, 10**6))
async def test_mutated_create_bodies_never_500(world: World, mutations, n):
    body = copy.deepcopy(okta_user(email=f"fuzz{n}@acme.example", external_id=f"f{n}"))
    for key, value, drop in mutations:
        if key == "name.givenName":
            name = body.get("name")
            body["name"] = {**(name if isinstance(name, dict) else {}), "givenName": value}
        elif key == "emails.0":
            emails = body.get("emails")
            body["emails"] = [value, *(emails[1:] if isinstance(emails, list) else [])]
        elif drop:
            body.pop(key, None)
        else:
            body[key] = value
    count_before = await _people(world)
    status, answer, _ = await world.a.post("/Users", body)
    assert_deliberate(status, answer, mutations, CREATE_ALLOWED)
    count_after = await _people(world)
    assert count_after == count_before + (1 if status == 201 else 0), (status, answer)


GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
GROUP_PATHS = st.sampled_from([
    None, "members", 'members[value eq "1"]', 'members[value eq "999999"]', "members[value pr]",
    "displayName", "externalId", "id", "members.value", "members[", "nope",
])
MEMBER_VALUES = st.one_of(
    VALUES,
    st.lists(st.fixed_dictionaries({"value": st.sampled_from(["1", "2", "999999", "x", ""])},
                                   optional={"display": st.text(max_size=4)}), max_size=3),
)
GROUP_OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "Remove", "Add", "copy"])},
        optional={"path": GROUP_PATHS, "value": MEMBER_VALUES},
    ),
    min_size=0, max_size=3,
)


async def _team_state(world: World, team_id: str) -> tuple:
    _, team = await world.backend.call("GET", f"/internal/v1/orgs/{world.org_a}/teams/{team_id}")
    _, members = await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/teams/{team_id}/members",
        params={"per_page": "200"})
    return team, [m["employee_id"] for m in members["members"]]


@FUZZ
@given(operations=GROUP_OPERATIONS)
async def test_generated_group_patches_never_500_and_refusals_change_nothing(
    world: World, operations
):
    if "fuzz_group" not in world.extra:
        for n in (1, 2):
            status, _, _ = await world.a.post("/Users", okta_user(email=f"m{n}@acme.example",
                                                                  external_id=f"m{n}"))
            assert status == 201
        status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP],
                                                          "displayName": "Fuzz"})
        assert status == 201, group
        world.extra["fuzz_group"] = group["id"]
    group_id = world.extra["fuzz_group"]
    before = await _team_state(world, group_id)
    status, answer, _ = await world.a.patch(
        f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": operations})
    assert_deliberate(status, answer, operations, GROUP_PATCH_ALLOWED)
    if status >= 400:
        assert await _team_state(world, group_id) == before, operations
