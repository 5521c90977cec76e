"""RFC 7644 §3.5.2 PATCH semantics on normalised operations: paths, ops, errors."""

from __future__ import annotations

import copy

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.patch import apply_patch
from gateway.scim.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    group_resource_type,
    user_resource_type,
)

USER = user_resource_type()
GROUP = group_resource_type()

BOB = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "u-bob",
    "userName": "bob@x.com",
    "name": {"givenName": "Bob", "familyName": "Smith"},
    "active": True,
    "emails": [
        {"value": "bob@work.example", "type": "work", "primary": True},
        {"value": "bob@home.example", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
    ENTERPRISE_USER: {"department": "Sales", "manager": {"value": "u-boss"}},
}

TEAM = {"schemas": [CORE_GROUP], "id": "g1", "displayName": "Team",
        "members": [{"value": "u1"}, {"value": "u2", "type": "User"}]}


def apply(ops: list[dict], resource: dict = BOB, rtype=USER) -> dict:
    return apply_patch(resource, ops, rtype)


def error(ops: list[dict], resource: dict = BOB, rtype=USER) -> ScimError:
    with pytest.raises(ScimError) as err:
        apply_patch(resource, ops, rtype)
    assert err.value.status == 400
    return err.value


# --------------------------------------------------------------------------- add


def test_add_sets_a_single_valued_attribute() -> None:
    assert apply([{"op": "add", "path": "title", "value": "Boss"}])["title"] == "Boss"


def test_add_on_an_assigned_single_value_replaces_it() -> None:
    out = apply([{"op": "add", "path": "userName", "value": "robert@x.com"}])
    assert out["userName"] == "robert@x.com"


def test_add_appends_to_a_multi_valued_attribute() -> None:
    out = apply([{"op": "add", "path": "emails",
                  "value": [{"value": "b@other.example", "type": "other"}]}])
    assert out["emails"][-1] == {"value": "b@other.example", "type": "other"}
    assert len(out["emails"]) == 3


def test_add_skips_exact_duplicates() -> None:
    out = apply([{"op": "add", "path": "emails",
                  "value": [{"value": "bob@home.example", "type": "home"}]}])
    assert out["emails"] == BOB["emails"]


def test_add_same_address_with_another_type_is_a_new_value() -> None:
    out = apply([{"op": "add", "path": "emails",
                  "value": {"value": "bob@home.example", "type": "other"}}])
    assert len(out["emails"]) == 3


def test_add_merges_into_a_single_valued_complex_attribute() -> None:
    out = apply([{"op": "add", "path": "name", "value": {"middleName": "J"}}])
    assert out["name"] == {"givenName": "Bob", "familyName": "Smith", "middleName": "J"}


def test_pathless_add_merges_attributes() -> None:
    out = apply([{"op": "add", "value": {"title": "CTO", "name": {"formatted": "Bob S"},
                                          "emails": [{"value": "x@y.z"}]}}])
    assert out["title"] == "CTO"
    assert out["name"]["formatted"] == "Bob S"
    assert out["name"]["givenName"] == "Bob"
    assert out["emails"][-1] == {"value": "x@y.z"}


def test_pathless_value_with_nested_extension_object() -> None:
    out = apply([{"op": "replace", "value": {
        ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "u-new"}}}}])
    assert out[ENTERPRISE_USER] == {"department": "R&D", "manager": {"value": "u-new"}}


def test_pathless_value_with_urn_prefixed_key() -> None:
    out = apply([{"op": "replace", "value": {f"{ENTERPRISE_USER}:costCenter": "CC1"}}])
    assert out[ENTERPRISE_USER]["costCenter"] == "CC1"


def test_add_sub_attribute_path() -> None:
    out = apply([{"op": "add", "path": "name.honorificPrefix", "value": "Dr"}])
    assert out["name"]["honorificPrefix"] == "Dr"


def test_add_with_filter_and_sub_sets_it_on_the_matching_element() -> None:
    out = apply([{"op": "add", "path": 'emails[type eq "home"].display', "value": "Home"}])
    assert out["emails"][1] == {"value": "bob@home.example", "type": "home", "display": "Home"}
    assert "display" not in out["emails"][0]


def test_add_creates_extension_and_lists_it_in_schemas() -> None:
    start = {k: v for k, v in BOB.items() if k != ENTERPRISE_USER}
    start["schemas"] = [CORE_USER]
    out = apply([{"op": "add", "path": f"{ENTERPRISE_USER}:division", "value": "EU"}], start)
    assert out[ENTERPRISE_USER] == {"division": "EU"}
    assert out["schemas"] == [CORE_USER, ENTERPRISE_USER]


def test_add_to_a_whole_schema_path() -> None:
    out = apply([{"op": "add", "path": ENTERPRISE_USER, "value": {"organization": "Acme"}}])
    assert out[ENTERPRISE_USER]["organization"] == "Acme"
    assert out[ENTERPRISE_USER]["department"] == "Sales"


# --------------------------------------------------------------------------- replace


def test_replace_multi_valued_without_filter_replaces_the_list() -> None:
    out = apply([{"op": "replace", "path": "emails", "value": [{"value": "only@x.com"}]}])
    assert out["emails"] == [{"value": "only@x.com"}]


def test_replace_with_filter_replaces_the_matching_element() -> None:
    out = apply([{"op": "replace", "path": 'emails[type eq "home"]',
                  "value": {"value": "new@home.example", "type": "home"}}])
    assert out["emails"] == [BOB["emails"][0], {"value": "new@home.example", "type": "home"}]


def test_replace_with_filter_and_sub() -> None:
    out = apply([{"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value',
                  "value": "+1 777"}])
    assert out["phoneNumbers"] == [{"value": "+1 777", "type": "mobile"}]


def test_replace_with_filter_matching_nothing_is_no_target() -> None:
    err = error([{"op": "replace", "path": 'emails[type eq "other"]',
                  "value": {"value": "z@x.com"}}])
    assert err.scim_type == "noTarget"


def test_replace_filter_and_sub_with_non_eq_filter_matching_nothing_is_no_target() -> None:
    err = error([{"op": "replace", "path": 'emails[value co "nowhere"].type', "value": "x"}])
    assert err.scim_type == "noTarget"


def test_replace_filter_and_sub_creates_element_from_all_eq_clauses() -> None:
    out = apply([{"op": "replace",
                  "path": 'addresses[type eq "work" and country eq "FR"].locality',
                  "value": "Paris"}])
    assert out["addresses"] == [{"type": "work", "country": "FR", "locality": "Paris"}]


def test_replace_complex_merges_sub_attributes() -> None:
    out = apply([{"op": "replace", "path": "name", "value": {"givenName": "Robert"}}])
    assert out["name"] == {"givenName": "Robert", "familyName": "Smith"}


def test_replace_on_unassigned_attribute_adds_it() -> None:
    assert apply([{"op": "replace", "path": "nickName", "value": "Bobby"}])["nickName"] == "Bobby"


def test_urn_prefixed_core_path() -> None:
    out = apply([{"op": "replace", "path": f"{CORE_USER}:name.givenName", "value": "R"}])
    assert out["name"]["givenName"] == "R"


def test_manager_value_sub_path() -> None:
    out = apply([{"op": "replace", "path": f"{ENTERPRISE_USER}:manager.value", "value": "u-2"}])
    assert out[ENTERPRISE_USER]["manager"] == {"value": "u-2"}


# --------------------------------------------------------------------------- remove


def test_remove_single_valued_attribute() -> None:
    out = apply([{"op": "remove", "path": "name.givenName"}])
    assert out["name"] == {"familyName": "Smith"}


def test_remove_last_sub_attribute_leaves_no_empty_object() -> None:
    out = apply([{"op": "remove", "path": "name.givenName"},
                 {"op": "remove", "path": "name.familyName"}])
    assert "name" not in out


def test_remove_multi_valued_attribute_entirely() -> None:
    assert "emails" not in apply([{"op": "remove", "path": "emails"}])


def test_remove_with_filter_removes_matching_elements() -> None:
    out = apply([{"op": "remove", "path": 'emails[type eq "home"]'}])
    assert out["emails"] == [BOB["emails"][0]]


def test_remove_last_matching_element_leaves_no_empty_list() -> None:
    assert "phoneNumbers" not in apply([{"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'}])


def test_remove_with_filter_and_sub_removes_only_that_sub_attribute() -> None:
    out = apply([{"op": "remove", "path": 'emails[type eq "work"].primary'}])
    assert out["emails"][0] == {"value": "bob@work.example", "type": "work"}


def test_remove_with_value_on_multi_valued_removes_those_values() -> None:
    out = apply([{"op": "remove", "path": "members", "value": [{"value": "U2"}]}], TEAM, GROUP)
    assert out["members"] == [{"value": "u1"}]


def test_remove_last_extension_attribute_drops_the_extension_object() -> None:
    out = apply([{"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
                 {"op": "remove", "path": f"{ENTERPRISE_USER}:manager"}])
    assert ENTERPRISE_USER not in out


def test_remove_absent_attribute_is_a_no_op() -> None:
    assert apply([{"op": "remove", "path": "nickName"}]) == BOB


def test_remove_without_path_is_no_target() -> None:
    assert error([{"op": "remove"}]).scim_type == "noTarget"


def test_remove_required_attribute_is_mutability() -> None:
    err = error([{"op": "remove", "path": "userName"}])
    assert err.scim_type == "mutability"
    assert "userName" in err.detail


def test_remove_required_group_display_name_is_mutability() -> None:
    assert error([{"op": "remove", "path": "displayName"}], TEAM, GROUP).scim_type == "mutability"


def test_pathless_replace_with_null_removes_the_attribute() -> None:
    out = apply([{"op": "replace", "value": {"active": None}}])
    assert "active" not in out


# --------------------------------------------------------------------------- primary


def test_add_primary_email_demotes_the_old_primary() -> None:
    out = apply([{"op": "add", "path": "emails",
                  "value": [{"value": "new@x.com", "type": "other", "primary": True}]}])
    assert [e.get("primary") for e in out["emails"]] == [False, None, True]


def test_setting_primary_through_filter_demotes_the_others() -> None:
    out = apply([{"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}])
    assert [e.get("primary") for e in out["emails"]] == [False, True]


def test_replace_list_with_two_primaries_is_invalid_value() -> None:
    err = error([{"op": "replace", "path": "emails", "value": [
        {"value": "a@x.com", "primary": True}, {"value": "b@x.com", "primary": True}]}])
    assert err.scim_type == "invalidValue"


def test_creating_element_from_filter_with_primary_demotes_the_others() -> None:
    out = apply([{"op": "add", "path": 'emails[type eq "other"].primary', "value": True}])
    assert out["emails"][0]["primary"] is False
    assert out["emails"][-1] == {"type": "other", "primary": True}


# --------------------------------------------------------------------------- all-or-nothing


def test_error_in_a_later_operation_applies_nothing() -> None:
    before = copy.deepcopy(BOB)
    err = error([
        {"op": "replace", "path": "title", "value": "CEO"},
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "replace", "path": "nope", "value": "x"},
    ])
    assert err.scim_type == "invalidPath"
    assert err.detail.startswith("Operations[2]")
    assert before == BOB


def test_input_is_never_mutated_on_success() -> None:
    before = copy.deepcopy(BOB)
    out = apply([{"op": "replace", "path": 'emails[type eq "work"].value', "value": "z@x.com"},
                 {"op": "add", "path": "name.middleName", "value": "Q"}])
    assert before == BOB
    assert out is not BOB
    assert out["emails"] is not BOB["emails"]


def test_empty_operation_list_changes_nothing() -> None:
    assert apply([]) == BOB


# --------------------------------------------------------------------------- mutability


@pytest.mark.parametrize("path", ["id", "meta", "meta.created", "groups",
                                  f"{ENTERPRISE_USER}:manager.displayName"])
def test_explicit_path_to_read_only_attribute_is_mutability(path: str) -> None:
    err = error([{"op": "replace", "path": path, "value": "x"}])
    assert err.scim_type == "mutability"


def test_remove_read_only_attribute_is_mutability() -> None:
    assert error([{"op": "remove", "path": "groups"}]).scim_type == "mutability"


def test_read_only_attributes_in_a_pathless_value_are_ignored() -> None:
    out = apply([{"op": "replace", "value": {
        "id": "hijack", "meta": {"created": "1999-01-01T00:00:00Z"},
        "groups": [{"value": "g9"}], "schemas": ["x"], "title": "T"}}])
    assert out == {**BOB, "title": "T"}


def test_read_only_sub_attributes_in_a_value_are_ignored() -> None:
    out = apply([{"op": "add", "path": "members", "value": [{"value": "u3", "display": "C"}]}],
                TEAM, GROUP)
    assert out["members"][-1] == {"value": "u3"}


def test_immutable_member_value_may_be_set_when_unassigned() -> None:
    out = apply([{"op": "add", "path": "members", "value": [{"value": "u9"}]}], TEAM, GROUP)
    assert {"value": "u9"} in out["members"]


def test_changing_an_immutable_member_value_is_mutability() -> None:
    err = error([{"op": "replace", "path": 'members[value eq "u1"].value', "value": "u7"}],
                TEAM, GROUP)
    assert err.scim_type == "mutability"


def test_writing_the_same_immutable_value_is_allowed() -> None:
    out = apply([{"op": "replace", "path": 'members[value eq "u2"]',
                  "value": {"value": "u2", "type": "User"}}], TEAM, GROUP)
    assert out == TEAM


# --------------------------------------------------------------------------- paths and values


def test_attribute_names_are_case_insensitive_and_result_canonical() -> None:
    out = apply([{"op": "replace", "path": "NAME.GIVENNAME", "value": "R"},
                 {"op": "add", "path": 'EMAILS[TYPE eq "work"].Display', "value": "W"},
                 {"op": "replace", "value": {"NickName": "B", "NAME": {"FamilyName": "S2"}}}])
    assert out["name"] == {"givenName": "R", "familyName": "S2"}
    assert out["nickName"] == "B"
    assert out["emails"][0]["display"] == "W"
    assert "NickName" not in out


def test_non_canonical_stored_resource_is_canonicalised() -> None:
    out = apply([{"op": "replace", "path": "title", "value": "T"}],
                {"username": "a@x.com", "Name": {"GIVENNAME": "A"}})
    assert out == {"userName": "a@x.com", "name": {"givenName": "A"}, "title": "T"}


@pytest.mark.parametrize("path", ["bogus", "name.bogus", 'emails[bogus eq "x"].value',
                                  'emails[type eq "work"].bogus', "urn:x:y:Z:title",
                                  "name[givenName eq \"x\"]", 'emails[type eq "work"'])
def test_unknown_or_malformed_path_is_invalid_path(path: str) -> None:
    assert error([{"op": "replace", "path": path, "value": "x"}]).scim_type == "invalidPath"


def test_lone_surrogate_in_a_path_filter_is_an_invalid_path() -> None:
    err = error([{"op": "add", "path": 'emails[type eq "\\ud800"].value', "value": "a@x"}])
    assert err.scim_type == "invalidPath"
    assert "lone surrogate" in err.detail


def test_unknown_attribute_in_pathless_value_is_invalid_path() -> None:
    err = error([{"op": "replace", "value": {"favouriteColour": "blue"}}])
    assert err.scim_type == "invalidPath"
    assert "favouriteColour" in err.detail


@pytest.mark.parametrize(("path", "value", "named"), [
    ("userName", {"a": 1}, "userName"),
    ("active", "yes", "active"),
    ("name", "Bob", "name"),
    ("name.givenName", 5, "name.givenName"),
    ("emails", ["plain@string"], "emails"),
    ('emails[type eq "work"].primary', "sure", "emails.primary"),
    (f"{ENTERPRISE_USER}:department", ["x"], "department"),
])
def test_type_mismatch_is_invalid_value_naming_the_attribute(
    path: str, value: object, named: str
) -> None:
    err = error([{"op": "replace", "path": path, "value": value}])
    assert err.scim_type == "invalidValue"
    assert named in err.detail


def test_unknown_sub_attribute_in_value_is_invalid_value() -> None:
    err = error([{"op": "add", "path": "emails", "value": [{"value": "a@b.c", "colour": "red"}]}])
    assert err.scim_type == "invalidValue"
    assert "colour" in err.detail


@pytest.mark.parametrize("op", ["add", "replace"])
def test_missing_value_is_invalid_value(op: str) -> None:
    assert error([{"op": op, "path": "title"}]).scim_type == "invalidValue"
    assert error([{"op": op}]).scim_type == "invalidValue"


def test_pathless_value_that_is_not_an_object_is_invalid_value() -> None:
    assert error([{"op": "replace", "value": "x"}]).scim_type == "invalidValue"


@pytest.mark.parametrize("op", [{"op": "merge", "path": "title", "value": "x"},
                                {"path": "title", "value": "x"}, "replace"])
def test_unknown_op_is_invalid_syntax(op: object) -> None:
    assert error([op]).scim_type == "invalidSyntax"  # type: ignore[list-item]
