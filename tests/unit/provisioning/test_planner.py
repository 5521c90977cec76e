"""One query planner for users and groups, told what each one's id store indexes."""

from __future__ import annotations

import pytest

from gateway.provisioning import group_index, user_index
from gateway.provisioning.planner import Lookup, plan, pushed_down
from gateway.scim.filter import parse_filter
from mappings.default import GROUP, USER


def test_user_identity_attributes_are_index_lookups_and_email_is_searched_through_them():
    assert plan(parse_filter('userName eq "a@x"'), USER, user_index.INDEXED).lookups == [
        Lookup("index", "a@x", "userName")]
    assert plan(parse_filter('emails[type eq "work"].value eq "a@x"'), USER,
                user_index.INDEXED).lookups == [Lookup("index", "a@x", "userName")]


def test_group_external_id_is_an_index_lookup_and_display_name_a_backend_search():
    assert plan(parse_filter('externalId eq "g-1"'), GROUP, group_index.INDEXED).lookups == [
        Lookup("index", "g-1", "externalId")]
    assert plan(parse_filter('displayName eq "Ops"'), GROUP, group_index.INDEXED).lookups == [
        Lookup("search", "Ops", "name")]
    # `externalId eq ""` matches every group without one: no point lookup finds them.
    assert plan(parse_filter('externalId eq ""'), GROUP, group_index.INDEXED).lookups is None


def test_an_id_that_is_not_a_string_is_nobody():
    assert plan(parse_filter("id eq 5"), USER, user_index.INDEXED).lookups == []


@pytest.mark.parametrize(("mapping", "indexed"), [
    (USER, user_index.INDEXED), (GROUP, group_index.INDEXED)])
def test_what_discovery_calls_pushed_down_is_what_the_planner_does(mapping, indexed):
    advertised = pushed_down(mapping, indexed)
    assert "id" in advertised and set(indexed) <= set(advertised)
    for bound in mapping.bound:
        sample = "true" if bound.path.leaf.type == "boolean" else '"x"'
        chosen = plan(parse_filter(f"{bound.text} eq {sample}"), mapping, indexed)
        answered = chosen.lookups is not None or bool(chosen.params)
        assert answered == (bound.text in advertised), bound.text
