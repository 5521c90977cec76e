"""Request validation: every IdP wire shape passes; wrong types fail naming the attribute."""

from __future__ import annotations

import copy

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.validation import _VALIDATORS, KINDS, scim_path, validate

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# Exactly as idp-wire-shapes.md quotes Okta's create.
OKTA_CREATE = {
    "schemas": [CORE_USER],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}

# Okta's profile update: the resource as read back, id/meta/groups/active included.
OKTA_PUT = {
    **OKTA_CREATE,
    "schemas": [CORE_USER, ENTERPRISE],
    "id": "a1b2c3",
    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
             "location": "https://gw/scim/v2/Users/a1b2c3"},
    "groups": [{"value": "g1", "display": "Eng", "$ref": "https://gw/scim/v2/Groups/g1"}],
    "active": False,
    "title": "Engineer",
    "phoneNumbers": [{"value": "+1 555 0100", "type": "work", "primary": True}],
    "addresses": [{"streetAddress": "1 Main St", "locality": "Springfield", "region": "IL",
                   "postalCode": "62701", "country": "US", "type": "work", "primary": True}],
    ENTERPRISE: {"employeeNumber": "7", "department": "R&D",
                 "manager": {"value": "m1", "displayName": "Boss"}},
}

GOOD_USERS = {
    "okta_create": OKTA_CREATE,
    "okta_put_read_back": OKTA_PUT,
    "put_without_patch_deactivates": {**OKTA_CREATE, "active": False},
    "minimal": {"userName": "ada@x.com"},
    "unknown_attributes_are_ignored": {"userName": "a", "favouriteColour": 5,
                                       "urn:example:custom:1.0:User": {"shoe": 42}},
    "read_only_attributes_of_any_shape": {"userName": "a", "id": 17, "meta": "x",
                                          "groups": {"odd": True}},
    "null_means_unassigned": {"userName": "a", "title": None, "name": None, "emails": None,
                              "active": None, ENTERPRISE: {"manager": None}},
    "every_multi_valued_attribute": {
        "userName": "a",
        **{attr: [{"value": "v", "display": "d", "type": "t", "primary": False}]
           for attr in ("emails", "phoneNumbers", "ims", "photos", "entitlements", "roles",
                        "x509Certificates")},
    },
}

GOOD_GROUPS = {
    "okta_push_group": {"schemas": [GROUP], "displayName": "X", "members": []},
    "put_with_members": {"schemas": [GROUP], "id": "g1", "displayName": "Eng",
                         "meta": {"resourceType": "Group"},
                         "members": [{"value": "u1", "display": "a@x"},
                                     {"value": "u2", "$ref": "https://gw/Users/u2",
                                      "type": "User"}]},
    "no_members": {"displayName": "Solo"},
}


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# PatchOps as they reach validation: after idp_quirks lower-cased ops and coerced booleans.
GOOD_PATCHES = {
    "okta_deactivate": patch({"op": "replace", "value": {"active": False}}),
    "okta_reactivate": patch({"op": "replace", "value": {"active": True}}),
    "okta_group_rename": patch({"op": "replace", "value": {"id": "g1", "displayName": "Y"}}),
    "okta_add_members": patch({"op": "add", "path": "members",
                               "value": [{"value": "u1", "display": "a@x"}]}),
    "okta_remove_member": patch({"op": "remove", "path": 'members[value eq "u1"]'}),
    "okta_full_push": patch({"op": "replace", "path": "members",
                             "value": [{"value": "u1"}, {"value": "u2"}]}),
    "okta_empty_the_group": patch({"op": "replace", "path": "members", "value": []}),
    "entra_disable": patch({"op": "replace", "path": "active", "value": False}),
    "entra_paths": patch(
        {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@x.com"},
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "R&D"},
    ),
    "entra_merged_replace": patch({"op": "replace", "value": {
        "name.givenName": "G", f"{ENTERPRISE}:employeeNumber": "7"}}),
    "entra_manager_as_bare_string": patch({"op": "add", "path": f"{ENTERPRISE}:manager",
                                           "value": "m1"}),
    "entra_remove_members_by_value": patch({"op": "remove", "path": "members",
                                            "value": [{"value": "u1"}]}),
    "entra_clear_with_empty_string": patch({"op": "replace", "path": "title", "value": ""}),
    "entra_clear_with_null": patch({"op": "replace", "path": "title", "value": None}),
    "without_schemas": {"Operations": [{"op": "remove", "path": "title"}]},
}

GOOD_SEARCHES = {
    "everything": {"schemas": [SEARCH], "attributes": ["userName", "name.givenName"],
                   "excludedAttributes": ["groups"], "filter": 'userName eq "x"',
                   "sortBy": "userName", "sortOrder": "descending", "startIndex": 1,
                   "count": 10},
    "empty": {},
    "out_of_range_numbers_are_not_errors": {"startIndex": 0, "count": -5},
}


@pytest.mark.parametrize(("kind", "body"), [
    *(pytest.param("User", b, id=f"User-{n}") for n, b in GOOD_USERS.items()),
    *(pytest.param("Group", b, id=f"Group-{n}") for n, b in GOOD_GROUPS.items()),
    *(pytest.param("PatchOp", b, id=f"PatchOp-{n}") for n, b in GOOD_PATCHES.items()),
    *(pytest.param("SearchRequest", b, id=f"Search-{n}") for n, b in GOOD_SEARCHES.items()),
])
def test_idp_wire_shapes_are_accepted(kind: str, body: dict) -> None:
    before = copy.deepcopy(body)
    validate(kind, body)
    assert body == before  # validation never rewrites the body


def rejection(kind: str, body: object) -> ScimError:
    with pytest.raises(ScimError) as caught:
        validate(kind, body)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(("body", "detail"), [
    ({**OKTA_CREATE, "name": {"givenName": 5}}, "Attribute 'name.givenName' must be a string"),
    ({**OKTA_CREATE, "emails": [{"value": ["a"]}]},
     "Attribute 'emails[0].value' must be a string"),
    ({**OKTA_CREATE, "emails": [{"value": "a"}, {"value": "b", "primary": "yes"}]},
     "Attribute 'emails[1].primary' must be a boolean"),
    ({**OKTA_CREATE, "emails": {"value": "a"}}, "Attribute 'emails' must be an array"),
    ({**OKTA_CREATE, "emails": ["a@x.com"]}, "Attribute 'emails[0]' must be an object"),
    ({**OKTA_CREATE, "active": "false"}, "Attribute 'active' must be a boolean"),
    ({**OKTA_CREATE, "name": "Test User"}, "Attribute 'name' must be an object"),
    ({**OKTA_CREATE, "userName": 17}, "Attribute 'userName' must be a string"),
    ({**OKTA_CREATE, "userName": ""}, "Attribute 'userName' must not be empty"),
    ({**OKTA_CREATE, "userName": "   "}, "Attribute 'userName' must not be empty"),
    ({**OKTA_CREATE, "addresses": [{"postalCode": 62701}]},
     "Attribute 'addresses[0].postalCode' must be a string"),
    ({**OKTA_CREATE, ENTERPRISE: {"manager": {"value": 9}}},
     f"Attribute '{ENTERPRISE}:manager.value' must be a string"),
    ({**OKTA_CREATE, ENTERPRISE: {"department": ["R&D"]}},
     f"Attribute '{ENTERPRISE}:department' must be a string"),
    ({**OKTA_CREATE, ENTERPRISE: "R&D"}, f"Attribute '{ENTERPRISE}' must be an object"),
])
def test_user_with_a_wrong_type_is_invalid_value_naming_the_attribute(body, detail) -> None:
    error = rejection("User", body)
    assert (error.scim_type, error.detail) == ("invalidValue", detail)


def test_user_without_username_is_invalid_syntax() -> None:
    body = {k: v for k, v in OKTA_CREATE.items() if k != "userName"}
    error = rejection("User", body)
    assert (error.scim_type, error.detail) == ("invalidSyntax", "Attribute 'userName' is required")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body", [[], "x", None, 17, [OKTA_CREATE]])
def test_a_body_that_is_not_an_object_is_invalid_syntax(kind, body) -> None:
    error = rejection(kind, body)
    assert error.scim_type == "invalidSyntax"
    assert "JSON object" in error.detail


def test_missing_required_member_wins_over_a_deeper_wrong_type() -> None:
    error = rejection("User", {"name": {"givenName": 5}})
    assert (error.scim_type, error.detail) == ("invalidSyntax", "Attribute 'userName' is required")


@pytest.mark.parametrize(("body", "scim_type", "detail"), [
    ({"schemas": [GROUP], "members": []}, "invalidSyntax", "Attribute 'displayName' is required"),
    ({"displayName": 5}, "invalidValue", "Attribute 'displayName' must be a string"),
    ({"displayName": ""}, "invalidValue", "Attribute 'displayName' must not be empty"),
    ({"displayName": "X", "members": [{"display": "a@x"}]}, "invalidSyntax",
     "Attribute 'members[0].value' is required"),
    ({"displayName": "X", "members": [{"value": "u1"}, {"value": 2}]}, "invalidValue",
     "Attribute 'members[1].value' must be a string"),
    ({"displayName": "X", "members": "u1"}, "invalidValue",
     "Attribute 'members' must be an array"),
])
def test_bad_group_is_rejected_naming_the_attribute(body, scim_type, detail) -> None:
    error = rejection("Group", body)
    assert (error.scim_type, error.detail) == (scim_type, detail)


@pytest.mark.parametrize(("body", "scim_type", "detail"), [
    ({"schemas": [PATCH_OP]}, "invalidSyntax", "Attribute 'Operations' is required"),
    (patch(), "invalidSyntax", "Attribute 'Operations' must be a non-empty array of operations"),
    ({"Operations": {"op": "add"}}, "invalidSyntax",
     "Attribute 'Operations' must be a non-empty array of operations"),
    (patch("replace"), "invalidSyntax", "Attribute 'Operations[0]' must be an object"),
    (patch({"path": "title", "value": "x"}), "invalidSyntax",
     "Attribute 'Operations[0].op' is required"),
    (patch({"op": "remove", "path": "title"}, {"op": "delete", "path": "title"}),
     "invalidSyntax", "Attribute 'Operations[1].op' must be one of: add, remove, replace"),
    (patch({"op": "replace", "path": 5, "value": "x"}), "invalidSyntax",
     "Attribute 'Operations[0].path' must be a string"),
    (patch({"op": "add", "path": "title"}), "invalidSyntax",
     "Attribute 'Operations[0].value' is required"),
    (patch({"op": "replace", "value": "x"}), "invalidSyntax",
     "Attribute 'Operations[0].value' must be an object of attributes when the operation "
     "has no 'path'"),
    (patch({"op": "add", "value": [{"value": "u1"}]}), "invalidSyntax",
     "Attribute 'Operations[0].value' must be an object of attributes when the operation "
     "has no 'path'"),
    (patch({"op": "remove"}), "noTarget",
     "Operation 'Operations[0]' is a 'remove' without a 'path'"),
])
def test_malformed_patch_operations_are_rejected(body, scim_type, detail) -> None:
    error = rejection("PatchOp", body)
    assert (error.scim_type, error.detail) == (scim_type, detail)


@pytest.mark.parametrize(("body", "detail"), [
    ({"count": "10"}, "Attribute 'count' must be an integer"),
    ({"startIndex": 1.5}, "Attribute 'startIndex' must be an integer"),
    ({"count": True}, "Attribute 'count' must be an integer"),
    ({"sortOrder": "up"}, "Attribute 'sortOrder' must be one of: ascending, descending"),
    ({"attributes": "userName"}, "Attribute 'attributes' must be an array"),
    ({"excludedAttributes": [1]}, "Attribute 'excludedAttributes[0]' must be a string"),
    ({"filter": {"userName": "x"}}, "Attribute 'filter' must be a string"),
])
def test_bad_search_request_is_invalid_value(body, detail) -> None:
    error = rejection("SearchRequest", body)
    assert (error.scim_type, error.detail) == ("invalidValue", detail)


@pytest.mark.parametrize(("parts", "text"), [
    (["userName"], "userName"),
    (["name", "givenName"], "name.givenName"),
    (["emails", 0, "value"], "emails[0].value"),
    ([ENTERPRISE, "manager", "value"], f"{ENTERPRISE}:manager.value"),
    (["Operations", 2], "Operations[2]"),
])
def test_paths_are_written_the_way_scim_writes_them(parts, text) -> None:
    assert scim_path(parts) == text


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        validate("Widget", {})


def _references(node: object) -> list[str]:
    """Every `$ref` keyword left in a schema (a property called "$ref" holds an object)."""
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    if not isinstance(node, dict):
        return []
    here = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return here + [ref for value in node.values() for ref in _references(value)]


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_schemas_hold_no_reference_left_to_follow(kind: str) -> None:
    # The x-scimType lookup walks error schema paths straight down the compiled
    # schema; a `$ref` that survived inlining would hide the annotations behind it.
    assert _references(_VALIDATORS[kind].schema) == []
