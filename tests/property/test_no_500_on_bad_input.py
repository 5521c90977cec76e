"""Whatever an IdP or a script sends, the answer is a SCIM status, never a 500.

Generated PATCH operations (real and wrong ops, paths, values) and mutated
create bodies go through the whole gateway to the sandbox; every answer must
be a deliberate one with a SCIM body, and a refused request changes nothing.
Valid operations and changes are mixed in, so success paths are exercised too
and a request made only of them must succeed (`--hypothesis-show-statistics`
shows the mix).
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.bodies import ENTERPRISE, GROUP, PATCH_OP, okta_user
from tests.conftest import World

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
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1,
                max_size=20)
FUZZ_OPERATION = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Replace", "ADD", "move", 7, None])},
    optional={"path": PATHS, "value": VALUES},
)
# Operations an IdP may rightly send to an existing user; a request of only these succeeds.
VALID_OPERATION = st.one_of(
    st.builds(lambda op, v: {"op": op, "path": "title", "value": v},
              st.sampled_from(["add", "replace", "Replace"]), WORDS),
    st.builds(lambda v: {"op": "replace", "path": "active", "value": v}, st.booleans()),
    st.builds(lambda v: {"op": "replace", "path": "name.givenName", "value": v}, WORDS),
    st.builds(lambda v: {"op": "add", "path": f"{ENTERPRISE}:department", "value": v}, WORDS),
    st.builds(lambda t, g: {"op": "replace", "value": {"title": t, "name.givenName": g}},
              WORDS, WORDS),
    st.just({"op": "remove", "path": "title"}),
)


def _tagged(fuzz: st.SearchStrategy, valid: st.SearchStrategy) -> st.SearchStrategy:
    """(item, is_valid): two generated items to one valid one, so fuzzing stays the bulk.

    The kind is drawn first: a plain one_of leans to the valid branch (about 70% of
    requests came out all valid), starving the fuzzing.
    """
    return st.sampled_from([False, False, True]).flatmap(
        lambda ok: (valid if ok else fuzz).map(lambda item: (item, ok)))


OPERATIONS = st.lists(_tagged(FUZZ_OPERATION, VALID_OPERATION), min_size=0, max_size=3)
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


def _mix(valid: list[bool]) -> str:
    return "no operations" if not valid else "all valid" if all(valid) else (
        "some valid" if any(valid) else "none valid")


@FUZZ
@given(tagged=OPERATIONS, with_schemas=st.booleans())
async def test_generated_patch_operations_never_500_and_refusals_change_nothing(
    world: World, tagged, with_schemas
):
    user_id = await _user(world)
    operations = [op for op, _ in tagged]
    body = {"Operations": operations}
    if with_schemas:
        body["schemas"] = [PATCH_OP]
    before = await world.backend.employee(world.org_a, user_id)
    status, answer, _ = await world.a.patch(f"/Users/{user_id}", body)
    mix = _mix([valid for _, valid in tagged])
    event(f"user PATCH, {mix}: {status}")
    assert_deliberate(status, answer, operations, USER_PATCH_ALLOWED)
    if mix == "all valid" and with_schemas:
        assert status == 200, (answer, operations)
    if status >= 400:
        after = await world.backend.employee(world.org_a, user_id)
        assert after == before, operations
    else:
        _, stored, _ = await world.a.get(f"/Users/{user_id}")
        assert answer == stored, operations  # the answer is what was kept


async def _people(world: World) -> int:
    status, body = await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/employees", params={"per_page": "1"})
    assert status == 200
    return body["meta"]["total"]


def _mutations():
    base = okta_user()
    keys = [*base, "name.givenName", ENTERPRISE, "emails.0", "active"]
    return st.tuples(st.sampled_from(keys), VALUES, st.booleans())


# Changes that leave a create body valid: (key, value, drop) as _mutations gives them.
VALID_MUTATION = st.one_of(
    st.tuples(st.just("title"), WORDS, st.just(False)),
    st.tuples(st.just("active"), st.booleans(), st.just(False)),
    st.tuples(st.just("name.givenName"), WORDS, st.just(False)),
    st.tuples(st.just(ENTERPRISE), WORDS.map(lambda d: {"department": d}), st.just(False)),
    st.tuples(st.sampled_from(["groups", "password", "locale", "displayName"]),
              st.none(), st.just(True)),
)


@FUZZ
@given(tagged=st.lists(_tagged(_mutations(), VALID_MUTATION), max_size=3))
async def test_mutated_create_bodies_never_500(world: World, tagged):
    mutations = [m for m, _ in tagged]
    n = world.extra["fuzz_creates"] = world.extra.get("fuzz_creates", 0) + 1  # a fresh person
    body = copy.deepcopy(okta_user(email=f"fuzz{n}@acme.example", external_id=f"f{n}"))
    for (key, value, drop), valid in tagged:
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
            schemas = body.get("schemas")
            if valid and key == ENTERPRISE and isinstance(schemas, list):
                body["schemas"] = [*schemas, ENTERPRISE]
    count_before = await _people(world)
    status, answer, _ = await world.a.post("/Users", body)
    mix = _mix([valid for _, valid in tagged])
    event(f"create, {mix}: {status}")
    assert_deliberate(status, answer, mutations, CREATE_ALLOWED)
    if mix in ("all valid", "no operations"):
        assert status == 201, (answer, mutations)
    count_after = await _people(world)
    assert count_after == count_before + (1 if status == 201 else 0), (status, answer)


GROUP_PATHS = st.sampled_from([
    None, "members", 'members[value eq "1"]', 'members[value eq "999999"]', "members[value pr]",
    "displayName", "externalId", "id", "members.value", "members[", "nope",
])
MEMBER_VALUES = st.one_of(
    VALUES,
    st.lists(st.fixed_dictionaries({"value": st.sampled_from(["1", "2", "999999", "x", ""])},
                                   optional={"display": st.text(max_size=4)}), max_size=3),
)
FUZZ_GROUP_OPERATION = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Remove", "Add", "copy"])},
    optional={"path": GROUP_PATHS, "value": MEMBER_VALUES},
)
# Operations an IdP may rightly send to the group, whose people are "1" and "2".
MEMBERS = st.lists(st.sampled_from(["1", "2"]), unique=True).map(
    lambda ids: [{"value": i} for i in ids])
VALID_GROUP_OPERATION = st.one_of(
    st.builds(lambda op, v: {"op": op, "path": "members", "value": v},
              st.sampled_from(["add", "Add", "replace"]), MEMBERS),
    st.builds(lambda i: {"op": "remove", "path": f'members[value eq "{i}"]'},
              st.sampled_from(["1", "2"])),
    st.builds(lambda v: {"op": "remove", "path": "members", "value": v}, MEMBERS),
    st.builds(lambda v: {"op": "replace", "path": "displayName", "value": v}, WORDS),
    st.builds(lambda v: {"op": "replace", "value": {"displayName": v}}, WORDS),
)
GROUP_OPERATIONS = st.lists(_tagged(FUZZ_GROUP_OPERATION, VALID_GROUP_OPERATION),
                            min_size=0, max_size=3)


async def _team_state(world: World, team_id: str) -> tuple:
    _, team = await world.backend.call("GET", f"/internal/v1/orgs/{world.org_a}/teams/{team_id}")
    _, members = await world.backend.call(
        "GET", f"/internal/v1/orgs/{world.org_a}/teams/{team_id}/members",
        params={"per_page": "200"})
    return team, [m["employee_id"] for m in members["members"]]


@FUZZ
@given(tagged=GROUP_OPERATIONS)
async def test_generated_group_patches_never_500_and_refusals_change_nothing(
    world: World, tagged
):
    operations = [op for op, _ in tagged]
    if "fuzz_group" not in world.extra:
        for n in (1, 2):
            status, user, _ = await world.a.post("/Users", okta_user(email=f"m{n}@acme.example",
                                                                     external_id=f"m{n}"))
            assert status == 201
            assert user["id"] == str(n)  # the paths and values above name people 1 and 2
        status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP],
                                                          "displayName": "Fuzz"})
        assert status == 201, group
        world.extra["fuzz_group"] = group["id"]
    group_id = world.extra["fuzz_group"]
    before = await _team_state(world, group_id)
    status, answer, _ = await world.a.patch(
        f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": operations})
    mix = _mix([valid for _, valid in tagged])
    event(f"group PATCH, {mix}: {status}")
    assert_deliberate(status, answer, operations, GROUP_PATCH_ALLOWED)
    if mix == "all valid":
        assert status in (200, 204), (answer, operations)
    if status >= 400:
        assert await _team_state(world, group_id) == before, operations
