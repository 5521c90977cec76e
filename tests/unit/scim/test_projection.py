"""attributes / excludedAttributes (RFC 7644 §3.4.2.5) and the `returned` characteristic."""

from __future__ import annotations

import copy

import pytest

from gateway.scim import projection
from gateway.scim.projection import parse_attribute_list, project
from gateway.scim.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    Attribute,
    ResourceType,
    Schema,
    group_resource_type,
    user_resource_type,
)

USER = user_resource_type()
GROUP = group_resource_type()

ADA = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "u-ada",
    "externalId": "ext-1",
    "userName": "ada@x.com",
    "password": "should-never-leave",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "active": True,
    "emails": [{"value": "ada@work.example", "type": "work", "primary": True},
               {"value": "ada@home.example", "type": "home"}],
    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
    ENTERPRISE_USER: {"department": "Analytics", "manager": {"value": "u-boss"}},
}

ENG = {"schemas": [CORE_GROUP], "id": "g1", "displayName": "Eng",
       "members": [{"value": "u1"}, {"value": "u2"}], "meta": {"resourceType": "Group"}}


def test_no_parameters_returns_everything_but_the_password() -> None:
    out = project(ADA, USER, None, None)
    assert out == {k: v for k, v in ADA.items() if k != "password"}


def test_password_is_never_returned_even_when_asked_for() -> None:
    assert "password" not in project(ADA, USER, ["password", "userName"], None)


def test_attributes_keeps_only_named_plus_id_and_schemas() -> None:
    out = project(ADA, USER, ["userName"], None)
    assert out == {"schemas": ADA["schemas"], "id": "u-ada", "userName": "ada@x.com"}


def test_meta_only_when_asked_for_under_attributes() -> None:
    assert "meta" not in project(ADA, USER, ["userName"], None)
    assert project(ADA, USER, ["userName", "meta"], None)["meta"] == ADA["meta"]


def test_sub_attribute_paths() -> None:
    out = project(ADA, USER, ["name.familyName", "emails.value"], None)
    assert out["name"] == {"familyName": "Lovelace"}
    assert out["emails"] == [{"value": "ada@work.example"}, {"value": "ada@home.example"}]


def test_names_are_case_insensitive() -> None:
    out = project(ADA, USER, ["USERNAME", "Name.GivenName"], None)
    assert out["userName"] == "ada@x.com"
    assert out["name"] == {"givenName": "Ada"}


def test_urn_qualified_names() -> None:
    out = project(ADA, USER, [f"{ENTERPRISE_USER}:department", f"{CORE_USER}:userName"], None)
    assert out[ENTERPRISE_USER] == {"department": "Analytics"}
    assert out["userName"] == "ada@x.com"


def test_whole_extension_by_urn() -> None:
    out = project(ADA, USER, [ENTERPRISE_USER], None)
    assert out[ENTERPRISE_USER] == ADA[ENTERPRISE_USER]
    assert "userName" not in out


def test_extension_attribute_without_urn_when_unambiguous() -> None:
    assert project(ADA, USER, ["department"], None)[ENTERPRISE_USER] == {"department": "Analytics"}


def test_excluded_removes_attributes() -> None:
    out = project(ADA, USER, None, ["emails", "name.givenName", "meta"])
    assert "emails" not in out and "meta" not in out
    assert out["name"] == {"familyName": "Lovelace"}
    assert out["userName"] == "ada@x.com"


def test_excluded_cannot_remove_id() -> None:
    assert project(ADA, USER, None, ["id"])["id"] == "u-ada"


def test_excluded_sub_attribute_of_multi_valued() -> None:
    out = project(ADA, USER, None, ["emails.type", "emails.primary"])
    assert out["emails"] == [{"value": "ada@work.example"}, {"value": "ada@home.example"}]


def test_excluding_the_last_extension_attribute_drops_the_extension_object() -> None:
    out = project(ADA, USER, None, [f"{ENTERPRISE_USER}:department",
                                    f"{ENTERPRISE_USER}:manager"])
    assert ENTERPRISE_USER not in out


def test_entra_group_lookup_excludes_members() -> None:
    out = project(ENG, GROUP, None, ["members"])
    assert out == {"schemas": [CORE_GROUP], "id": "g1", "displayName": "Eng",
                   "meta": {"resourceType": "Group"}}


def test_unknown_names_are_ignored() -> None:
    assert project(ADA, USER, None, ["bogus", "name.bogus"]) == project(ADA, USER, None, None)
    assert project(ADA, USER, ["userName", "bogus"], None) == \
        project(ADA, USER, ["userName"], None)


def test_projection_returns_a_copy() -> None:
    before = copy.deepcopy(ADA)
    out = project(ADA, USER, None, None)
    out["name"]["givenName"] = "changed"
    assert before == ADA


def _request_only_type() -> ResourceType:
    core = Schema("urn:test:Thing", "Thing", "", (
        Attribute("label"),
        Attribute("secretNote", returned="request"),
        Attribute("detail", "complex", sub_attributes=(
            Attribute("shown"), Attribute("hidden", returned="request"))),
    ))
    return ResourceType("Thing", "/Things", "", core)


def test_returned_request_only_when_named() -> None:
    rtype = _request_only_type()
    thing = {"id": "t", "label": "L", "secretNote": "S",
             "detail": {"shown": "a", "hidden": "b"}}
    assert project(thing, rtype, None, None) == {"id": "t", "label": "L",
                                                  "detail": {"shown": "a"}}
    assert project(thing, rtype, ["secretNote", "detail.hidden"], None) == {
        "id": "t", "secretNote": "S", "detail": {"hidden": "b"}}


@pytest.mark.parametrize(("param", "want"), [
    (None, None),
    ("", None),
    (" , ", None),
    ("userName", ["userName"]),
    ("userName, name.givenName ,emails", ["userName", "name.givenName", "emails"]),
    (f"{ENTERPRISE_USER}:department,id", [f"{ENTERPRISE_USER}:department", "id"]),
])
def test_parse_attribute_list(param: str | None, want: list[str] | None) -> None:
    assert parse_attribute_list(param) == want


def test_names_are_resolved_once_for_every_resource_of_a_request(monkeypatch) -> None:
    calls: list[list[str]] = []
    real = projection._select

    def counting(names: list[str], rtype: ResourceType) -> projection._Selection:
        calls.append(list(names))
        return real(names, rtype)

    monkeypatch.setattr(projection, "_select", counting)
    names = ["userName", "emails.value"]
    people = [{**ADA, "id": f"u-{i}", "userName": f"p{i}@x.com"} for i in range(50)]
    out = [project(p, USER, list(names), ["emails"]) for p in people]
    assert out[7] == {"schemas": ADA["schemas"], "id": "u-7", "userName": "p7@x.com"}
    assert len(calls) <= 2  # the first call resolves `attributes` and `excluded`; no more


def test_a_projection_is_shared_by_name_but_never_across_resource_types() -> None:
    one = projection.projection_for(USER, ["userName"], None)
    assert projection.projection_for(USER, ["userName"], None) is one
    assert projection.projection_for(USER, ["userName"], []) is one
    assert projection.projection_for(USER, ["displayName"], None) is not one
    twin = user_resource_type()  # equal, but another org's type may differ later: by identity
    assert projection.projection_for(twin, ["userName"], None) is not one
    assert one.apply(ADA) == project(ADA, USER, ["userName"], None)


ODD = {  # what a mapping or a future attribute could put in a resource
    **ADA,
    "nickName": None,
    "x-unknown": {"kept": [1, 2]},
    "emails": [{}, {"value": "a@b.example"}],
    "phoneNumbers": [],
    "name": {},
    ENTERPRISE_USER: "not an object",
}


@pytest.mark.parametrize("resource", [ADA, ODD, ENG], ids=["ada", "odd", "group"])
@pytest.mark.parametrize("owned", [False, True])
def test_the_default_projection_matches_the_general_one(resource: dict, owned: bool) -> None:
    # No names: the per-key fast path. An excluded name nobody has: the general loop,
    # which must keep exactly the same.
    rtype = GROUP if resource is ENG else USER
    fast = project(copy.deepcopy(resource), rtype, None, None, owned=owned)
    general = project(copy.deepcopy(resource), rtype, None, ["noSuchAttribute"], owned=owned)
    assert fast == general
    assert "password" not in fast
    again = project(copy.deepcopy(resource), rtype, None, None, owned=owned)
    assert again == fast  # the second time from the learnt keys
