"""Group PATCH operations sorted into team attributes and one folded membership change.

The operations go through `idp_quirks.normalise_patch` first, as they do in
the web layer, so each IdP's shape is tested as it would arrive.
"""

from __future__ import annotations

import pytest

from gateway.provisioning.group_patch import member_values, split_operations
from gateway.scim.errors import ScimError
from gateway.scim.idp_quirks import normalise_patch
from mappings.default import GROUP
from tests.bodies import PATCH_OP

RTYPE = GROUP.rtype


def split(*operations: dict):
    body = normalise_patch({"schemas": [PATCH_OP], "Operations": list(operations)}, RTYPE)
    return split_operations(body["Operations"], RTYPE)


def test_okta_add_is_an_add_and_nothing_else():
    attributes, change = split(
        {"op": "add", "path": "members", "value": [{"value": "7", "display": "a@x"}]})
    assert attributes == []
    assert list(change.add) == ["7"] and not change.remove and change.replace is None


def test_okta_filtered_remove():
    _, change = split({"op": "remove", "path": 'members[value eq "7"]'})
    assert list(change.remove) == ["7"] and change.replace is None


def test_entra_remove_by_value_is_rewritten_then_folded():
    _, change = split({"op": "Remove", "path": "members",
                       "value": [{"value": "7"}, {"value": "8"}]})
    assert list(change.remove) == ["7", "8"]


def test_or_joined_filter_removes_every_id():
    _, change = split({"op": "remove", "path": 'members[value eq "1" or value eq "2"]'})
    assert list(change.remove) == ["1", "2"]


def test_okta_rename_with_stray_id_stays_an_attribute_operation():
    op = {"op": "replace", "value": {"id": "12", "displayName": "Y"}}
    attributes, change = split(op)
    assert attributes == [(0, op)] and change.empty


def test_pathless_value_with_members_is_split_in_two():
    attributes, change = split(
        {"op": "replace", "value": {"displayName": "Y", "members": [{"value": "3"}]}})
    assert attributes == [(0, {"op": "replace", "value": {"displayName": "Y"}})]
    assert change.replace == {"3": None}


def test_replace_then_add_and_remove_edit_the_replacing_list():
    _, change = split(
        {"op": "replace", "path": "members", "value": [{"value": "1"}, {"value": "2"}]},
        {"op": "add", "path": "members", "value": [{"value": "3"}]},
        {"op": "remove", "path": 'members[value eq "1"]'})
    assert list(change.replace or {}) == ["2", "3"] and not change.add and not change.remove


def test_add_after_remove_of_the_same_id_wins_and_vice_versa():
    _, change = split(
        {"op": "remove", "path": 'members[value eq "1"]'},
        {"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]},
        {"op": "remove", "path": 'members[value eq "2"]'})
    assert list(change.add) == ["1"] and list(change.remove) == ["2"]


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "members", "value": []},
    {"op": "remove", "path": "members"},
    {"op": "replace", "path": "members", "value": None},
])
def test_emptying_the_group_is_a_replace_with_nobody(operation):
    _, change = split(operation)
    assert change.replace == {}


def test_urn_qualified_members_path():
    _, change = split({"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members",
                       "value": [{"value": "5"}]})
    assert list(change.add) == ["5"]


def test_other_attributes_keep_their_request_index():
    attributes, _ = split(
        {"op": "add", "path": "members", "value": [{"value": "5"}]},
        {"op": "replace", "path": "externalId", "value": "x"})
    assert attributes == [(1, {"op": "replace", "path": "externalId", "value": "x"})]


@pytest.mark.parametrize("operation,words", [
    ({"op": "add", "path": 'members[value eq "1"]', "value": {"value": "1"}}, "only remove"),
    ({"op": "remove", "path": 'members[display eq "A"]'}, "can only name ids"),
    ({"op": "replace", "path": "members.value", "value": "1"}, "as a whole"),
    ({"op": "add", "path": "members", "value": "1"}, "must be an object"),
    ({"op": "add", "path": "members", "value": [{"display": "A"}]}, "must be the id"),
    ({"op": "add", "path": "members", "value": [{"value": "9", "type": "Group"}]}, "people"),
])
def test_refused_membership_shapes_name_the_operation(operation, words):
    with pytest.raises(ScimError) as caught:
        split({"op": "add", "path": "members", "value": [{"value": "1"}]}, operation)
    assert caught.value.status == 400
    assert caught.value.detail.startswith("Operations[1]:") and words in caught.value.detail


def test_member_values_accept_integers_and_drop_repeats():
    assert member_values([{"value": 5}, {"VALUE": "5"}, {"value": " 6 "}], "members") == ["5", "6"]
