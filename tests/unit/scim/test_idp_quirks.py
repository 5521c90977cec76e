"""Each IdP dialect rewrite, on the exact shapes the IdPs send."""

from __future__ import annotations

import copy

import pytest

from gateway.scim.idp_quirks import (
    expand_remove_by_value,
    normalise_patch,
    normalise_resource,
)
from gateway.scim.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    PATCH_OP,
    group_resource_type,
    user_resource_type,
)

USER = user_resource_type()
GROUP = group_resource_type()


def ops(*operations: dict, rtype=USER) -> list[dict]:
    return normalise_patch({"schemas": [PATCH_OP], "Operations": list(operations)},
                           rtype)["Operations"]


# --------------------------------------------------------------------------- PATCH


@pytest.mark.parametrize("name", ["Replace", "REPLACE", "replace", " Replace "])
def test_entra_capitalised_op_is_lower_cased(name: str) -> None:
    assert ops({"op": name, "path": "title", "value": "x"})[0]["op"] == "replace"


@pytest.mark.parametrize("blank", ["", "  ", " \t"])
def test_blank_path_is_dropped_so_the_op_is_pathless(blank: str) -> None:
    assert ops({"op": "replace", "path": blank, "value": {"title": "x"}}) == [
        {"op": "replace", "value": {"title": "x"}}]


@pytest.mark.parametrize("blank", ["", "  "])
def test_whitespace_path_gets_the_pathless_rewrites(blank: str) -> None:
    out = ops({"op": "Replace", "path": blank,
               "value": {"active": "False", "name.givenName": "G", "title": ""}})
    assert out == [{"op": "replace", "value": {"active": False}},
                   {"op": "replace", "path": "name.givenName", "value": "G"},
                   {"op": "remove", "path": "title"}]


@pytest.mark.parametrize(("sent", "want"), [("False", False), ("True", True),
                                            ("false", False), ("TRUE", True)])
def test_entra_string_boolean_with_path_becomes_bool(sent: str, want: bool) -> None:
    assert ops({"op": "Replace", "path": "active", "value": sent}) == [
        {"op": "replace", "path": "active", "value": want}]


def test_string_boolean_for_sub_attribute_path_with_filter() -> None:
    out = ops({"op": "Add", "path": 'emails[type eq "work"].primary', "value": "True"})
    assert out[0]["value"] is True


def test_string_booleans_inside_a_multi_valued_value() -> None:
    out = ops({"op": "add", "path": "emails",
               "value": [{"value": "a@x", "primary": "True"},
                         {"value": "b@x", "primary": "false"}]})
    assert [e["primary"] for e in out[0]["value"]] == [True, False]


def test_string_booleans_inside_a_pathless_value() -> None:
    out = ops({"op": "replace", "value": {"active": "False",
                                          "emails": [{"value": "a@x", "primary": "true"}]}})
    assert out == [{"op": "replace", "value": {"active": False,
                                               "emails": [{"value": "a@x", "primary": True}]}}]


def test_non_boolean_string_for_boolean_is_left_for_validation() -> None:
    assert ops({"op": "replace", "path": "active", "value": "yes"})[0]["value"] == "yes"


def test_string_true_for_a_string_attribute_is_not_coerced() -> None:
    assert ops({"op": "replace", "path": "title", "value": "True"})[0]["value"] == "True"


def test_entra_merged_pathless_op_is_split_into_ops_with_paths() -> None:
    out = ops({"op": "replace", "value": {
        "name.givenName": "G", f"{ENTERPRISE_USER}:employeeNumber": "7", "displayName": "D"}})
    assert out == [
        {"op": "replace", "value": {"displayName": "D"}},
        {"op": "replace", "path": "name.givenName", "value": "G"},
        {"op": "replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "7"},
    ]


def test_pathless_value_of_only_dotted_keys_leaves_no_empty_op() -> None:
    out = ops({"op": "replace", "value": {"name.familyName": "F"}})
    assert out == [{"op": "replace", "path": "name.familyName", "value": "F"}]


def test_nested_extension_object_stays_in_the_pathless_value() -> None:
    op = {"op": "replace", "value": {ENTERPRISE_USER: {"department": "D"}}}
    assert ops(op) == [op]


def test_read_only_and_unknown_dotted_keys_stay_for_patch_to_judge() -> None:
    value = {"meta.created": "2020-01-01T00:00:00Z", "bogus.thing": 1, "title": "T"}
    assert ops({"op": "replace", "value": value}) == [{"op": "replace", "value": value}]


def test_entra_bare_string_manager_is_wrapped() -> None:
    out = ops({"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": "u-boss"})
    assert out == [{"op": "add", "path": f"{ENTERPRISE_USER}:manager",
                    "value": {"value": "u-boss"}}]


def test_bare_string_manager_in_a_pathless_extension_object_is_wrapped() -> None:
    out = ops({"op": "replace", "value": {ENTERPRISE_USER: {"manager": "u-boss"}}})
    assert out[0]["value"][ENTERPRISE_USER]["manager"] == {"value": "u-boss"}


def test_manager_object_is_left_alone() -> None:
    op = {"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": {"value": "u-boss"}}
    assert ops(op) == [op]


@pytest.mark.parametrize("empty", ["", None])
@pytest.mark.parametrize("path", ["title", "name.givenName", f"{ENTERPRISE_USER}:manager",
                                  'emails[type eq "work"].value'])
def test_empty_or_null_value_becomes_remove(path: str, empty: str | None) -> None:
    assert ops({"op": "Replace", "path": path, "value": empty}) == [
        {"op": "remove", "path": path}]


def test_empty_string_for_multi_valued_attribute_is_left_for_patch_to_reject() -> None:
    assert ops({"op": "replace", "path": "emails", "value": ""})[0]["op"] == "replace"


def test_empty_values_in_pathless_value_become_removes() -> None:
    out = ops({"op": "replace", "value": {
        "title": "", "nickName": None, "displayName": "D",
        ENTERPRISE_USER: {"department": "", "division": "X"}}})
    assert out == [
        {"op": "replace", "value": {"displayName": "D", ENTERPRISE_USER: {"division": "X"}}},
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "nickName"},
        {"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
    ]


def test_empty_read_only_value_in_pathless_op_is_not_made_an_explicit_remove() -> None:
    out = ops({"op": "replace", "value": {"id": "", "displayName": "Y"}}, rtype=GROUP)
    assert out == [{"op": "replace", "value": {"id": "", "displayName": "Y"}}]


def test_entra_remove_members_by_value_becomes_filtered_removes() -> None:
    out = ops({"op": "Remove", "path": "members",
               "value": [{"value": "u1"}, {"value": 'we"ird'}]}, rtype=GROUP)
    assert out == [{"op": "remove", "path": 'members[value eq "u1"]'},
                   {"op": "remove", "path": 'members[value eq "we\\"ird"]'}]


def test_remove_by_value_without_value_keys_is_left_alone() -> None:
    op = {"op": "remove", "path": "members", "value": [{"display": "x"}]}
    assert expand_remove_by_value(op, GROUP) == [op]


def test_okta_group_rename_passes_through_untouched() -> None:
    op = {"op": "replace", "value": {"id": "g1", "displayName": "Y"}}
    assert ops(op, rtype=GROUP) == [op]


def test_onelogin_scim1_urn_in_patch_path_and_keys() -> None:
    out = ops({"op": "replace", "path": "urn:scim:schemas:extension:enterprise:1.0:department",
               "value": "D"},
              {"op": "replace", "value": {"urn:scim:schemas:extension:enterprise:1.0":
                                          {"division": "V"}}})
    assert out == [
        {"op": "replace", "path": f"{ENTERPRISE_USER}:department", "value": "D"},
        {"op": "replace", "value": {ENTERPRISE_USER: {"division": "V"}}},
    ]


def test_scim2_client_extension_value_loses_its_own_schemas_list() -> None:
    ext = {"schemas": [ENTERPRISE_USER], "department": "R"}
    out = ops({"op": "add", "path": ENTERPRISE_USER, "value": ext},
              {"op": "replace", "value": {ENTERPRISE_USER: ext, "title": "T"}})
    assert out == [
        {"op": "add", "path": ENTERPRISE_USER, "value": {"department": "R"}},
        {"op": "replace", "value": {ENTERPRISE_USER: {"department": "R"}, "title": "T"}},
    ]


def test_schemas_key_under_an_attribute_path_is_left_for_patch_to_reject() -> None:
    op = {"op": "add", "path": "name", "value": {"schemas": ["x"], "givenName": "G"}}
    assert ops(op) == [op]


def test_normalise_patch_does_not_mutate_its_input() -> None:
    body = {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "value": {"name.givenName": "G", "title": ""}}]}
    before = copy.deepcopy(body)
    normalise_patch(body, USER)
    assert body == before


def test_body_without_operations_list_is_returned_for_validation() -> None:
    assert normalise_patch({"Operations": "nope"}, USER) == {"Operations": "nope"}


# --------------------------------------------------------------------------- resources


def test_onelogin_string_active_in_a_resource_body() -> None:
    out = normalise_resource({"schemas": [CORE_USER], "userName": "a", "active": "true"}, USER)
    assert out["active"] is True


def test_string_booleans_in_sub_attributes_of_a_resource() -> None:
    out = normalise_resource({"userName": "a", "emails": [{"value": "a@x", "primary": "True"}]},
                             USER)
    assert out["emails"] == [{"value": "a@x", "primary": True}]


def test_onelogin_scim1_urns_in_schemas_and_keys() -> None:
    out = normalise_resource({
        "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
        "userName": "a",
        "urn:scim:schemas:extension:enterprise:1.0": {"department": "D"},
    }, USER)
    assert out == {"schemas": [CORE_USER, ENTERPRISE_USER], "userName": "a",
                   ENTERPRISE_USER: {"department": "D"}}


def test_scim1_core_urn_for_a_group_means_the_group_schema() -> None:
    out = normalise_resource({"schemas": ["urn:scim:schemas:core:1.0"], "displayName": "G"},
                             GROUP)
    assert out["schemas"] == [CORE_GROUP]


def test_resource_keys_are_canonicalised() -> None:
    out = normalise_resource({"USERNAME": "a", "name": {"GivenName": "G"}}, USER)
    assert out == {"userName": "a", "name": {"givenName": "G"}}


def test_bare_manager_in_resource_body_is_wrapped() -> None:
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"manager": "u-boss"}}, USER)
    assert out[ENTERPRISE_USER]["manager"] == {"value": "u-boss"}


def test_nulls_in_resource_body_are_dropped() -> None:
    out = normalise_resource({"userName": "a", "title": None,
                              "name": {"givenName": "G", "familyName": None}}, USER)
    assert out == {"userName": "a", "name": {"givenName": "G"}}


def test_okta_create_body_is_unchanged() -> None:
    okta = {"schemas": [CORE_USER], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": True}
    assert normalise_resource(okta, USER) == okta
