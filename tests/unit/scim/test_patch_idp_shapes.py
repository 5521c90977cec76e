"""Every PATCH shape in idp-wire-shapes.md, normalised then applied as the gateway does."""

from __future__ import annotations

import copy

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.idp_quirks import normalise_patch
from gateway.scim.patch import apply_patch
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

ADA = {
    "schemas": [CORE_USER],
    "id": "u-ada",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "userName": "ada@x.com",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "displayName": "Ada Lovelace",
    "title": "Countess",
    "active": True,
    "emails": [{"value": "ada@home.example", "type": "home", "primary": True}],
    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
}

ENG = {
    "schemas": [CORE_GROUP],
    "id": "g-eng",
    "displayName": "Engineering",
    "members": [
        {"value": "u-ada", "display": "ada@x.com"},
        {"value": "u-bob", "display": "bob@x.com"},
    ],
}


def patch(resource: dict, operations: list[dict], rtype=USER) -> dict:
    """What the gateway does with a PATCH body: normalise quirks, then apply."""
    body = normalise_patch({"schemas": [PATCH_OP], "Operations": operations}, rtype)
    return apply_patch(resource, body["Operations"], rtype)


# --------------------------------------------------------------------------- Okta


@pytest.mark.parametrize("active", [False, True])
def test_okta_deactivate_and_reactivate_with_pathless_replace(active: bool) -> None:
    start = {**ADA, "active": not active}
    out = patch(start, [{"op": "replace", "value": {"active": active}}])
    assert out["active"] is active
    assert {k: v for k, v in out.items() if k != "active"} == \
        {k: v for k, v in start.items() if k != "active"}


def test_okta_deactivation_keeps_every_field() -> None:
    out = patch(ADA, [{"op": "replace", "value": {"active": False}}])
    assert out == {**ADA, "active": False}


def test_okta_group_rename_ignores_stray_id() -> None:
    out = patch(ENG, [{"op": "replace", "value": {"id": "g-eng", "displayName": "Platform"}}],
                GROUP)
    assert out["displayName"] == "Platform"
    assert out["id"] == "g-eng"
    assert out["members"] == ENG["members"]


def test_okta_group_rename_with_a_different_id_in_the_value_still_keeps_ours() -> None:
    out = patch(ENG, [{"op": "replace", "value": {"id": "other", "displayName": "Y"}}], GROUP)
    assert out["id"] == "g-eng"


def test_okta_adds_members_with_display() -> None:
    out = patch(ENG, [{"op": "add", "path": "members",
                       "value": [{"value": "u-cy", "display": "cy@x.com"}]}], GROUP)
    assert [m["value"] for m in out["members"]] == ["u-ada", "u-bob", "u-cy"]


def test_okta_adding_an_existing_member_does_not_duplicate_it() -> None:
    out = patch(ENG, [{"op": "add", "path": "members",
                       "value": [{"value": "u-ada", "display": "someone else"}]}], GROUP)
    assert [m["value"] for m in out["members"]] == ["u-ada", "u-bob"]


def test_okta_removes_member_with_filter_path() -> None:
    out = patch(ENG, [{"op": "remove", "path": 'members[value eq "u-bob"]'}], GROUP)
    assert out["members"] == [{"value": "u-ada", "display": "ada@x.com"}]


def test_okta_removing_a_member_twice_is_harmless() -> None:
    once = patch(ENG, [{"op": "remove", "path": 'members[value eq "u-bob"]'}], GROUP)
    assert patch(once, [{"op": "remove", "path": 'members[value eq "u-bob"]'}], GROUP) == once


def test_okta_full_push_replaces_members() -> None:
    out = patch(ENG, [{"op": "replace", "path": "members",
                       "value": [{"value": "u-cy"}, {"value": "u-dee"}]}], GROUP)
    assert out["members"] == [{"value": "u-cy"}, {"value": "u-dee"}]


def test_okta_full_push_with_empty_list_empties_group() -> None:
    out = patch(ENG, [{"op": "replace", "path": "members", "value": []}], GROUP)
    assert "members" not in out
    assert out["displayName"] == "Engineering"


def test_okta_rename_and_membership_in_one_request() -> None:
    out = patch(ENG, [
        {"op": "replace", "value": {"id": "g-eng", "displayName": "Eng 2"}},
        {"op": "add", "path": "members", "value": [{"value": "u-cy", "display": "cy"}]},
        {"op": "remove", "path": 'members[value eq "u-ada"]'},
    ], GROUP)
    assert out["displayName"] == "Eng 2"
    assert [m["value"] for m in out["members"]] == ["u-bob", "u-cy"]


# --------------------------------------------------------------------------- Entra ID


def test_entra_disable_with_capitalised_op_and_string_false() -> None:
    out = patch(ADA, [{"op": "Replace", "path": "active", "value": "False"}])
    assert out["active"] is False


def test_entra_enable_with_string_true() -> None:
    out = patch({**ADA, "active": False}, [{"op": "Replace", "path": "active", "value": "True"}])
    assert out["active"] is True


def test_entra_non_boolean_string_for_active_is_invalid_value() -> None:
    with pytest.raises(ScimError) as err:
        patch(ADA, [{"op": "Replace", "path": "active", "value": "maybe"}])
    assert err.value.status == 400
    assert err.value.scim_type == "invalidValue"
    assert "active" in err.value.detail


def test_entra_replaces_family_name() -> None:
    out = patch(ADA, [{"op": "Replace", "path": "name.familyName", "value": "Byron"}])
    assert out["name"] == {"givenName": "Ada", "familyName": "Byron"}


def test_entra_adds_work_email_the_user_does_not_have() -> None:
    out = patch(ADA, [{"op": "Add", "path": 'emails[type eq "work"].value',
                       "value": "ada@work.example"}])
    assert out["emails"] == [
        {"value": "ada@home.example", "type": "home", "primary": True},
        {"type": "work", "value": "ada@work.example"},
    ]


def test_entra_replaces_work_email_the_user_does_not_have() -> None:
    out = patch(ADA, [{"op": "Replace", "path": 'emails[type eq "work"].value',
                       "value": "ada@work.example"}])
    assert {"type": "work", "value": "ada@work.example"} in out["emails"]
    assert len(out["emails"]) == 2


def test_entra_replaces_existing_work_email_in_place() -> None:
    start = {**ADA, "emails": [{"value": "old@work.example", "type": "work", "primary": True}]}
    out = patch(start, [{"op": "Replace", "path": 'emails[type eq "work"].value',
                         "value": "new@work.example"}])
    assert out["emails"] == [{"value": "new@work.example", "type": "work", "primary": True}]


def test_entra_sets_department_through_enterprise_urn_path() -> None:
    out = patch(ADA, [{"op": "Add", "path": f"{ENTERPRISE_USER}:department",
                       "value": "Analytics"}])
    assert out[ENTERPRISE_USER] == {"department": "Analytics"}
    assert ENTERPRISE_USER in out["schemas"]


def test_entra_merged_pathless_replace_with_dotted_and_urn_keys() -> None:
    out = patch(ADA, [{"op": "replace", "value": {
        "name.givenName": "Augusta",
        f"{ENTERPRISE_USER}:employeeNumber": "7",
        "displayName": "Augusta Ada",
    }}])
    assert out["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}
    assert out[ENTERPRISE_USER] == {"employeeNumber": "7"}
    assert out["displayName"] == "Augusta Ada"


def test_entra_sets_manager_from_bare_string() -> None:
    out = patch(ADA, [{"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": "u-boss"}])
    assert out[ENTERPRISE_USER]["manager"] == {"value": "u-boss"}


def test_entra_changing_manager_forgets_the_old_managers_display_name() -> None:
    start = {**ADA, ENTERPRISE_USER: {"manager": {"value": "u-old", "displayName": "Old"}}}
    out = patch(start, [{"op": "Replace", "path": f"{ENTERPRISE_USER}:manager",
                         "value": "u-new"}])
    assert out[ENTERPRISE_USER]["manager"] == {"value": "u-new"}


def test_entra_removes_member_by_value() -> None:
    out = patch(ENG, [{"op": "Remove", "path": "members", "value": [{"value": "u-ada"}]}],
                GROUP)
    assert out["members"] == [{"value": "u-bob", "display": "bob@x.com"}]


def test_entra_removes_several_members_by_value() -> None:
    out = patch(ENG, [{"op": "Remove", "path": "members",
                       "value": [{"value": "u-ada"}, {"value": "u-bob"}]}], GROUP)
    assert "members" not in out


def test_entra_adds_member() -> None:
    out = patch(ENG, [{"op": "Add", "path": "members", "value": [{"value": "u-cy"}]}], GROUP)
    assert out["members"][-1] == {"value": "u-cy"}


@pytest.mark.parametrize("empty", ["", None])
def test_entra_clears_title_with_empty_value(empty: str | None) -> None:
    out = patch(ADA, [{"op": "Replace", "path": "title", "value": empty}])
    assert "title" not in out


@pytest.mark.parametrize("empty", ["", None])
def test_entra_clears_department_with_empty_value(empty: str | None) -> None:
    start = {**ADA, "schemas": [CORE_USER, ENTERPRISE_USER],
             ENTERPRISE_USER: {"department": "Analytics"}}
    out = patch(start, [{"op": "Replace", "path": f"{ENTERPRISE_USER}:department",
                         "value": empty}])
    assert ENTERPRISE_USER not in out


@pytest.mark.parametrize("empty", ["", None])
def test_entra_clears_manager_with_empty_value(empty: str | None) -> None:
    start = {**ADA, ENTERPRISE_USER: {"manager": {"value": "u-boss"}, "department": "D"}}
    out = patch(start, [{"op": "Replace", "path": f"{ENTERPRISE_USER}:manager",
                         "value": empty}])
    assert out[ENTERPRISE_USER] == {"department": "D"}


@pytest.mark.parametrize("empty", ["", None])
def test_entra_clears_work_email_with_empty_value(empty: str | None) -> None:
    start = {**ADA, "emails": [*ADA["emails"], {"value": "ada@work.example", "type": "work"}]}
    out = patch(start, [{"op": "Replace", "path": 'emails[type eq "work"].value',
                         "value": empty}])
    assert out["emails"] == ADA["emails"]


def test_entra_clears_given_name_in_merged_pathless_op() -> None:
    out = patch(ADA, [{"op": "replace", "value": {"name.givenName": "", "title": None}}])
    assert out["name"] == {"familyName": "Lovelace"}
    assert "title" not in out


def test_entra_clearing_user_name_is_a_mutability_error() -> None:
    with pytest.raises(ScimError) as err:
        patch(ADA, [{"op": "Replace", "path": "userName", "value": ""}])
    assert (err.value.status, err.value.scim_type) == (400, "mutability")


# --------------------------------------------------------------------------- OneLogin


def test_onelogin_scim1_enterprise_urn_path() -> None:
    out = patch(ADA, [{"op": "replace",
                       "path": "urn:scim:schemas:extension:enterprise:1.0:department",
                       "value": "Ops"}])
    assert out[ENTERPRISE_USER] == {"department": "Ops"}


def test_onelogin_string_true_in_pathless_value() -> None:
    out = patch({**ADA, "active": False}, [{"op": "replace", "value": {"active": "true"}}])
    assert out["active"] is True


def test_whitespace_path_is_pathless_with_its_string_booleans_coerced() -> None:
    out = patch(ADA, [{"op": "Replace", "path": "  ", "value": {"active": "False"}}])
    assert out["active"] is False


def test_patch_never_touches_the_stored_resource() -> None:
    before = copy.deepcopy(ENG)
    patch(ENG, [{"op": "remove", "path": 'members[value eq "u-bob"]'},
                {"op": "replace", "value": {"displayName": "Z"}}], GROUP)
    assert before == ENG
