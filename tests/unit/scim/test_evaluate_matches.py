"""Evaluating filters against SCIM resource dicts in memory."""

from __future__ import annotations

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, matches, matches_element
from gateway.scim.filter import parse_filter
from gateway.scim.schema import ENTERPRISE_USER, group_resource_type, user_resource_type

USER = user_resource_type()
GROUP = group_resource_type()

ADA = {
    "id": "A1",
    "externalId": "Ext-1",
    "userName": "ada@x.com",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "active": True,
    "emails": [
        {"value": "ada@work.com", "type": "work", "primary": True},
        {"value": "ada@home.org", "type": "home"},
    ],
    "meta": {"lastModified": "2024-05-01T12:00:00Z"},
    ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "M1"}},
}


def test_username_matches_whatever_the_case() -> None:
    assert matches(parse_filter('userName eq "ADA@X.COM"'), ADA, USER)


def test_external_id_is_case_exact() -> None:
    assert not matches(parse_filter('externalId eq "ext-1"'), ADA, USER)
    assert matches(parse_filter('externalId eq "Ext-1"'), ADA, USER)


def test_entra_work_email_lookup_matches() -> None:
    assert matches(parse_filter('emails[type eq "work"].value eq "ada@work.com"'), ADA, USER)
    assert not matches(parse_filter('emails[type eq "home"].value eq "ada@work.com"'), ADA, USER)


def test_enterprise_attribute_read_under_its_urn() -> None:
    f = parse_filter(f'{ENTERPRISE_USER}:employeeNumber eq "7"')
    assert matches(f, ADA, USER)


def test_group_member_element_matches_by_value() -> None:
    members = GROUP.core.attribute("members")
    assert members is not None
    f = parse_filter('value eq "u1"')
    assert matches_element(f, {"value": "u1"}, members)
    assert not matches_element(f, {"value": "u2"}, members)


def test_unknown_attribute_is_invalid_filter_naming_it() -> None:
    with pytest.raises(ScimError) as caught:
        check_filter(parse_filter('nickname2 eq "x"'), USER)
    assert caught.value.scim_type == "invalidFilter"
    assert "nickname2" in caught.value.detail
