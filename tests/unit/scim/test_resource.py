"""Resource dict helpers: canonical names, read-only stripping, path access."""

from __future__ import annotations

import copy

from gateway.scim.resource import (
    canonicalise,
    get_value,
    prune_empty,
    strip_read_only,
)
from gateway.scim.schema import (
    CORE_USER,
    ENTERPRISE_USER,
    group_resource_type,
    user_resource_type,
)

USER = user_resource_type()
GROUP = group_resource_type()


def resolve(path: str):
    resolved = USER.resolve_text(path)
    assert resolved is not None
    return resolved


def test_canonicalise_rewrites_attribute_and_sub_attribute_names() -> None:
    out = canonicalise({"username": "a", "NAME": {"GIVENNAME": "G"},
                        "Emails": [{"VALUE": "a@x", "Primary": True}]}, USER)
    assert out == {"userName": "a", "name": {"givenName": "G"},
                   "emails": [{"value": "a@x", "primary": True}]}


def test_canonicalise_nests_dotted_keys() -> None:
    out = canonicalise({"NAME.GIVENNAME": "G", "name": {"familyName": "F"}}, USER)
    assert out == {"name": {"givenName": "G", "familyName": "F"}}


def test_canonicalise_extension_urn_keys() -> None:
    out = canonicalise({
        ENTERPRISE_USER.upper(): {"DEPARTMENT": "D", "Manager": {"VALUE": "m"}},
        f"{ENTERPRISE_USER}:employeeNUMBER": "7",
    }, USER)
    assert out == {ENTERPRISE_USER: {"department": "D", "manager": {"value": "m"},
                                     "employeeNumber": "7"}}


def test_canonicalise_keeps_unknown_attributes_as_they_came() -> None:
    out = canonicalise({"userName": "a", "favouriteColour": "blue",
                        "emails": [{"value": "a@x", "Colour": "red"}]}, USER)
    assert out == {"userName": "a", "favouriteColour": "blue",
                   "emails": [{"value": "a@x", "Colour": "red"}]}


def test_canonicalise_lifts_core_urn_object_to_top_level() -> None:
    assert canonicalise({CORE_USER: {"userName": "a"}}, USER) == {"userName": "a"}


def test_canonicalise_returns_a_deep_copy() -> None:
    body = {"userName": "a", "emails": [{"value": "a@x"}], "other": {"x": [1]}}
    out = canonicalise(body, USER)
    out["emails"][0]["value"] = "changed"
    out["other"]["x"].append(2)
    assert body == {"userName": "a", "emails": [{"value": "a@x"}], "other": {"x": [1]}}


def test_strip_read_only_drops_what_idps_send_back() -> None:
    body = {"schemas": [CORE_USER], "id": "u1", "meta": {"created": "x"},
            "groups": [{"value": "g1"}], "userName": "a", "password": "secret",
            ENTERPRISE_USER: {"manager": {"value": "m", "displayName": "Boss"}}}
    assert strip_read_only(body, USER) == {
        "schemas": [CORE_USER], "userName": "a", "password": "secret",
        ENTERPRISE_USER: {"manager": {"value": "m"}}}


def test_strip_read_only_drops_member_display() -> None:
    body = {"displayName": "G", "members": [{"value": "u1", "display": "Ada"}]}
    assert strip_read_only(body, GROUP) == {"displayName": "G", "members": [{"value": "u1"}]}


def test_get_value_for_simple_sub_and_extension_paths() -> None:
    resource = {"userName": "a", "name": {"givenName": "G"},
                "emails": [{"value": "a@x"}, {"type": "home"}, {"value": "b@x"}],
                ENTERPRISE_USER: {"department": "D"}}
    assert get_value(resource, resolve("userName")) == "a"
    assert get_value(resource, resolve("name.givenName")) == "G"
    assert get_value(resource, resolve("emails.value")) == "a@x"  # no primary: the first
    assert get_value(resource, resolve(f"{ENTERPRISE_USER}:department")) == "D"
    assert get_value(resource, resolve(f"{ENTERPRISE_USER}:manager")) is None
    assert get_value({}, resolve("name.familyName")) is None
    assert get_value({"userName": ""}, resolve("userName")) is None


def test_get_value_picks_the_primary_element_among_those_the_terms_select() -> None:
    resource = {"emails": [{"type": "home", "value": "h@x", "primary": True},
                           {"type": "work", "value": "w1@x"},
                           {"type": "WORK", "value": "w2@x", "primary": True}]}
    assert get_value(resource, resolve("emails.value")) == "h@x"
    assert get_value(resource, resolve("emails.value"), {"type": "work"}) == "w2@x"
    assert get_value(resource, resolve("emails.value"), {"type": "other"}) is None
    assert get_value({"emails": "not a list"}, resolve("emails.value"), {"type": "work"}) is None


def test_prune_empty_removes_nulls_and_empty_containers_but_keeps_schemas() -> None:
    resource = {"schemas": [], "a": None, "b": {}, "c": [], "d": [{}, {"x": None}],
                "e": {"f": {"g": []}}, "h": False, "i": 0, "j": "x"}
    before = copy.deepcopy(resource)
    assert prune_empty(resource) == {"schemas": [], "h": False, "i": 0, "j": "x"}
    assert resource == before
