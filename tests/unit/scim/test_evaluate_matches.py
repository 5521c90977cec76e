"""Evaluating filters against SCIM resource dicts in memory (RFC 7644 §3.4.2.2)."""

from __future__ import annotations

import pytest

from gateway.scim.evaluate import compile_filter, matches, matches_element
from gateway.scim.filter import parse_filter
from gateway.scim.schema import (
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
    "id": "A1b2",
    "externalId": "Ext-1",
    "userName": "ada@x.com",
    "displayName": "Ada Lovelace",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "title": "Countess",
    "active": True,
    "emails": [
        {"value": "ada@work.com", "type": "work", "primary": True},
        {"value": "ada@home.org", "type": "home"},
    ],
    "meta": {
        "resourceType": "User",
        "created": "2024-01-01T00:00:00Z",
        "lastModified": "2024-05-01T12:00:00Z",
    },
    ENTERPRISE_USER: {"employeeNumber": "7", "department": "R&D", "manager": {"value": "M1"}},
}

THING = ResourceType(
    name="Thing",
    endpoint="/Things",
    description="a resource type with every attribute type",
    core=Schema(
        "urn:example:params:scim:schemas:Thing",
        "Thing",
        "",
        (
            Attribute("count", "integer"),
            Attribute("score", "decimal"),
            Attribute("blob", "binary", case_exact=True),
            Attribute("tags", "string", multi_valued=True),
            Attribute("code", "string", case_exact=True),
            Attribute("seen", "dateTime"),
            Attribute("flag", "boolean"),
        ),
    ),
)


def user_matches(text: str, resource: dict | None = None) -> bool:
    return matches(parse_filter(text), ADA if resource is None else resource, USER)


def thing_matches(text: str, resource: dict) -> bool:
    return matches(parse_filter(text), resource, THING)


# --------------------------------------------------------------------------- IdP lookups


def test_okta_lookup_by_username_ignores_case() -> None:
    assert user_matches('userName eq "ADA@X.COM"')
    assert not user_matches('userName eq "bob@x.com"')


def test_entra_lookup_by_external_id_is_case_exact() -> None:
    assert user_matches('externalId eq "Ext-1"')
    assert not user_matches('externalId eq "ext-1"')


def test_id_is_case_exact() -> None:
    assert user_matches('id eq "A1b2"')
    assert not user_matches('id eq "a1b2"')
    assert not user_matches('id sw "a1"')


def test_entra_lookup_by_work_email() -> None:
    assert user_matches('emails[type eq "work"].value eq "ADA@work.com"')
    assert not user_matches('emails[type eq "home"].value eq "ada@work.com"')


def test_okta_group_lookup_by_display_name() -> None:
    group = {"id": "g1", "displayName": "Engineering", "members": [{"value": "u1"}]}
    assert matches(parse_filter('displayName eq "engineering"'), group, GROUP)
    assert matches(parse_filter('members[value eq "u1"]'), group, GROUP)
    assert not matches(parse_filter('members[value eq "u2"]'), group, GROUP)


# --------------------------------------------------------------------------- string operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('title eq "countess"', True),
        ('title eq "Count"', False),
        ('title ne "countess"', False),
        ('title ne "duchess"', True),
        ('title co "UNTE"', True),
        ('title co "xyz"', False),
        ('title sw "COUNT"', True),
        ('title sw "ess"', False),
        ('title ew "TESS"', True),
        ('title ew "count"', False),
        ('title gt "BARONESS"', True),
        ('title gt "duchess"', False),
        ('title ge "COUNTESS"', True),
        ('title lt "DUCHESS"', True),
        ('title lt "countess"', False),
        ('title le "COUNTESS"', True),
        ('title le "baroness"', False),
    ],
)
def test_string_operators_ignore_case_when_not_case_exact(text: str, expected: bool) -> None:
    assert user_matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('code eq "AbC"', True),
        ('code eq "abc"', False),
        ('code co "bC"', True),
        ('code co "bc"', False),
        ('code sw "Ab"', True),
        ('code sw "ab"', False),
        ('code ew "C"', True),
        ('code ew "c"', False),
        ('code gt "ABC"', True),  # "a" (97) sorts after "A" (65) when case matters
        ('code lt "abc"', True),
    ],
)
def test_case_exact_string_operators(text: str, expected: bool) -> None:
    assert thing_matches(text, {"code": "AbC"}) is expected


def test_casefold_matches_german_sharp_s() -> None:
    assert user_matches('title eq "STRASSE"', {"title": "straße"})


def test_sub_attribute_comparison() -> None:
    assert user_matches('name.givenName eq "ada"')
    assert user_matches('name.familyName sw "love"')
    assert not user_matches("name.middleName pr")


# --------------------------------------------------------------------------- other types


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count eq 3", True),
        ("count eq 3.0", True),
        ("count ne 3", False),
        ("count gt 2", True),
        ("count gt 3", False),
        ("count ge 3", True),
        ("count lt 3.5", True),
        ("count le 2", False),
        ("score gt 0.5", True),
        ("score lt 0.75", False),
        ("score eq 0.75", True),
        ("score ge -1", True),
    ],
)
def test_numbers_compare_numerically(text: str, expected: bool) -> None:
    assert thing_matches(text, {"count": 3, "score": 0.75}) is expected


def test_number_text_in_a_resource_is_not_a_number() -> None:
    assert not thing_matches("count eq 3", {"count": "3"})
    assert thing_matches("count ne 3", {"count": "3"})


def test_boolean_eq_and_ne() -> None:
    assert user_matches("active eq true")
    assert not user_matches("active eq false")
    assert user_matches("active ne false")
    assert user_matches("active eq false", {"active": False})


def test_boolean_compared_with_entra_string_spelling() -> None:
    assert user_matches('active eq "True"')
    assert not user_matches('active eq "False"')


def test_binary_compares_exactly() -> None:
    assert thing_matches('blob eq "QUJD"', {"blob": "QUJD"})
    assert not thing_matches('blob eq "qujd"', {"blob": "QUJD"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('meta.lastModified eq "2024-05-01T12:00:00Z"', True),
        ('meta.lastModified eq "2024-05-01T14:00:00+02:00"', True),
        ('meta.lastModified eq "2024-05-01T12:00:00.000Z"', True),
        ('meta.lastModified gt "2024-05-01T11:59:59Z"', True),
        ('meta.lastModified gt "2024-05-01T13:00:00+02:00"', True),
        ('meta.lastModified gt "2024-05-01T12:00:00Z"', False),
        ('meta.lastModified ge "2024-05-01T12:00:00Z"', True),
        ('meta.lastModified lt "2024-05-01T12:00:00.1234567Z"', True),
        ('meta.lastModified le "2024-04-30T23:59:59Z"', False),
        ('meta.lastModified ne "2024-05-01T12:00:00Z"', False),
        ('meta.created lt "2024-01-01T00:00:01"', True),
    ],
)
def test_date_times_compare_as_instants(text: str, expected: bool) -> None:
    assert user_matches(text) is expected


def test_date_time_compare_is_not_a_string_compare() -> None:
    # As strings "2024-05-01T14:00:00+02:00" > "2024-05-01T13:00:00Z"; as instants it is earlier.
    resource = {"meta": {"lastModified": "2024-05-01T14:00:00+02:00"}}
    assert user_matches('meta.lastModified lt "2024-05-01T13:00:00Z"', resource)


def test_unreadable_date_time_in_a_resource_never_matches_an_order() -> None:
    resource = {"meta": {"lastModified": "yesterday"}}
    assert not user_matches('meta.lastModified gt "2000-01-01T00:00:00Z"', resource)
    assert not user_matches('meta.lastModified lt "2100-01-01T00:00:00Z"', resource)


# --------------------------------------------------------------------------- absence and pr


@pytest.mark.parametrize("op", ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_comparisons_on_an_absent_attribute_are_false(op: str) -> None:
    assert not user_matches(f'nickName {op} "x"')


def test_ne_on_an_absent_attribute_is_true() -> None:
    assert user_matches('nickName ne "x"')
    assert user_matches('nickName ne "x"', {"nickName": None})
    assert user_matches(f'{ENTERPRISE_USER}:manager.value ne "x"', {})


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"nickName": "Countess"}, True),
        ({"nickName": ""}, False),
        ({"nickName": None}, False),
        ({}, False),
    ],
)
def test_present_on_a_simple_attribute(resource: dict, expected: bool) -> None:
    assert user_matches("nickName pr", resource) is expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"emails": [{"value": "a@b.c"}]}, True),
        ({"emails": []}, False),
        ({"emails": [{}]}, False),
        ({"emails": [{"value": ""}]}, False),
        ({"emails": [{"value": None, "type": "work"}]}, True),
        ({"name": {}}, False),
    ],
)
def test_present_on_a_complex_attribute(resource: dict, expected: bool) -> None:
    assert user_matches("emails pr", resource) is expected


def test_present_on_a_false_boolean_is_true() -> None:
    assert user_matches("active pr", {"active": False})


def test_eq_null_means_absent_and_ne_null_means_present() -> None:
    assert user_matches("nickName eq null")
    assert not user_matches("title eq null")
    assert user_matches("title ne null")
    assert not user_matches("nickName ne null")


# --------------------------------------------------------------------------- multi-valued


def test_multi_valued_matches_when_any_value_matches() -> None:
    assert user_matches('emails.type eq "home"')
    assert user_matches('emails.value ew ".org"')
    assert not user_matches('emails.type eq "other"')


def test_ne_on_multi_valued_means_some_value_differs() -> None:
    assert user_matches('emails.type ne "work"')
    assert not user_matches('emails.type ne "work"', {"emails": [{"type": "work"}]})


def test_complex_multi_valued_without_sub_compares_its_value() -> None:
    assert user_matches('emails co "work.com"')
    assert user_matches('emails eq "ADA@HOME.ORG"')
    assert not user_matches('emails eq "work"')


def test_multi_valued_simple_strings() -> None:
    assert thing_matches('tags eq "red"', {"tags": ["blue", "Red"]})
    assert not thing_matches('tags eq "green"', {"tags": ["blue", "Red"]})


def test_value_path_needs_one_element_to_satisfy_everything() -> None:
    assert user_matches('emails.type eq "work" and emails.value eq "ada@home.org"')
    assert not user_matches('emails[type eq "work" and value eq "ada@home.org"]')
    assert user_matches('emails[type eq "work" and primary eq true]')
    assert not user_matches('emails[type eq "home" and primary eq true]')


def test_value_path_with_not_inside() -> None:
    assert user_matches('emails[not (type eq "work")]')
    assert not user_matches('emails[not (type eq "work")]', {"emails": [{"type": "work"}]})


def test_value_path_on_a_single_complex_attribute() -> None:
    assert user_matches('name[givenName eq "ada" and familyName pr]')


def test_value_path_on_an_absent_attribute_is_false() -> None:
    assert not user_matches('emails[type eq "work"]', {})


# --------------------------------------------------------------------------- URNs and names


def test_enterprise_attribute_is_read_under_its_urn() -> None:
    assert user_matches(f'{ENTERPRISE_USER}:employeeNumber eq "7"')
    assert user_matches(f'{ENTERPRISE_USER}:department co "r&d"')
    assert not user_matches(f'{ENTERPRISE_USER}:employeeNumber eq "8"')


def test_enterprise_sub_attribute_and_urn_in_any_case() -> None:
    assert user_matches(f'{ENTERPRISE_USER.upper()}:MANAGER.VALUE eq "m1"')


def test_enterprise_attribute_absent_when_the_extension_is() -> None:
    resource = {"userName": "x"}
    assert not user_matches(f"{ENTERPRISE_USER}:employeeNumber pr", resource)
    assert user_matches(f'{ENTERPRISE_USER}:employeeNumber ne "7"', resource)


def test_core_urn_qualified_names_read_the_top_level() -> None:
    assert user_matches(f'{CORE_USER}:userName eq "ada@x.com"')
    assert user_matches(f'{CORE_USER}:name.givenName eq "Ada"')


def test_filter_names_in_any_case_read_canonical_keys() -> None:
    assert user_matches('USERNAME eq "ada@x.com"')
    assert user_matches('Emails[TYPE eq "work"].VALUE eq "ada@work.com"')
    assert user_matches("META.LASTMODIFIED pr")
    assert user_matches('NAME.GIVENNAME eq "ada"')


# --------------------------------------------------------------------------- logic


def test_and_or_not() -> None:
    assert user_matches('userName eq "ada@x.com" and active eq true')
    assert not user_matches('userName eq "ada@x.com" and active eq false')
    assert user_matches('userName eq "bob" or title sw "count"')
    assert not user_matches('not (userName eq "ada@x.com")')
    assert user_matches('title eq "x" or title eq "y" or not (nickName pr)')


def test_precedence_is_respected_in_evaluation() -> None:
    # a or (b and c): true via a, even though c is false
    assert user_matches('userName pr or title eq "x" and active eq false')
    # (a or b) and c: false because c is false
    assert not user_matches('(userName pr or title eq "x") and active eq false')


# --------------------------------------------------------------------------- elements


def test_matches_element_for_the_patch_engine() -> None:
    members = GROUP.core.attribute("members")
    assert members is not None
    node = parse_filter('value eq "u1" or display sw "ada"')
    assert matches_element(node, {"value": "u1"}, members)
    assert matches_element(node, {"value": "u2", "display": "Ada L"}, members)
    assert not matches_element(node, {"value": "u2"}, members)


def test_matches_element_honours_sub_attribute_types() -> None:
    emails = USER.core.attribute("emails")
    assert emails is not None
    node = parse_filter('TYPE eq "WORK" and primary eq true')
    assert matches_element(node, {"type": "work", "primary": True}, emails)
    assert not matches_element(node, {"type": "work", "primary": False}, emails)
    assert not matches_element(node, {"type": "work"}, emails)


def test_compiled_filter_can_be_reused_across_resources() -> None:
    match = compile_filter(parse_filter('userName sw "a"'), USER)
    people = [{"userName": "ada"}, {"userName": "bob"}, {"userName": "Alan"}]
    assert [p["userName"] for p in people if match(p)] == ["ada", "Alan"]
