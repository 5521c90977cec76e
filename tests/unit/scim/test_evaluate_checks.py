"""check_filter refuses what a resource type cannot answer, naming the attribute."""

from __future__ import annotations

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.evaluate import check_filter, matches, matches_element
from gateway.scim.filter import AttrPath, Present, ValuePath, parse_filter
from gateway.scim.schema import ENTERPRISE_USER, group_resource_type, user_resource_type

USER = user_resource_type()
GROUP = group_resource_type()


def refusal(text: str) -> str:
    with pytest.raises(ScimError) as caught:
        check_filter(parse_filter(text), USER)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    return caught.value.detail


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('nickname2 eq "x"', "'nickname2'"),
        ('name.nickName eq "x"', "'name' has no sub-attribute 'nickName'"),
        ('userName.value eq "x"', "'userName' has no sub-attribute 'value'"),
        ('emails[kind eq "work"]', "'emails' has no sub-attribute 'kind'"),
        ('emails[type eq "work"].address eq "x"', "'emails' has no sub-attribute 'address'"),
        ('urn:example:nope:Thing:x eq "1"', "unknown schema 'urn:example:nope:Thing'"),
        (f'{ENTERPRISE_USER}:userName eq "x"', f"'{ENTERPRISE_USER}:userName'"),
        ('members[value eq "x"]', "'members'"),
    ],
)
def test_unknown_attributes_are_named(text: str, named: str) -> None:
    assert named in refusal(text)


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le"])
def test_ordering_a_boolean_is_refused(op: str) -> None:
    assert f"'{op}' cannot compare boolean attribute 'active'" in refusal(f"active {op} true")


def test_ordering_binary_is_refused() -> None:
    assert "binary" in refusal('x509Certificates.value gt "QUJD"')


@pytest.mark.parametrize("op", ["co", "sw", "ew"])
def test_substring_operators_need_strings(op: str) -> None:
    assert f"'{op}' needs a string attribute; 'active' is boolean" in refusal(f'active {op} "t"')
    assert "is dateTime" in refusal(f'meta.created {op} "2024"')
    assert "is binary" in refusal(f'x509Certificates.value {op} "QU"')


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("userName eq 1", "compare it with a quoted string"),
        ("userName eq true", "compare it with a quoted string"),
        ("active eq 1", "compare it with true or false"),
        ('active eq "yes"', "compare it with true or false"),
        ('meta.lastModified gt "last week"', "ISO 8601"),
        ("meta.lastModified gt 5", "ISO 8601"),
        ("userName gt null", "only eq and ne take null"),
        ('name eq "Ada"', "'name' is a complex attribute"),
        ('userName[value eq "x"]', "'userName' is not a complex attribute"),
        ('emails[value.x eq "y"]', "name a sub-attribute of 'emails'"),
        (f'emails[{ENTERPRISE_USER}:department eq "y"]', "name a sub-attribute of 'emails'"),
    ],
)
def test_mistyped_comparisons_are_refused(text: str, says: str) -> None:
    assert says in refusal(text)


ADA = {"userName": "x", "externalId": "2", "active": True,
       "emails": [{"type": "work", "value": "x", "primary": True}],
       ENTERPRISE_USER: {"manager": {"value": "m"}},
       "meta": {"lastModified": "2025-05-01T00:00:00Z"}}


@pytest.mark.parametrize(("text", "matches_ada"), [
    ('userName eq "x"', True),
    ('emails[type eq "work"].value eq "x"', True),
    (f'{ENTERPRISE_USER}:manager.value eq "m"', True),
    ('meta.lastModified gt "2024-01-01T00:00:00Z"', True),
    ('id eq "1" or externalId eq "2"', True),
    ("not (active eq false)", True),
    ("groups.$ref pr", False),
    ('emails co "example.com"', False),
])
def test_supported_filters_pass_the_check_and_evaluate(text: str, matches_ada: bool) -> None:
    node = parse_filter(text)
    check_filter(node, USER)  # raises for what the type can't answer
    assert matches(node, ADA, USER) is matches_ada


def test_group_filters_are_checked_against_the_group_type() -> None:
    check_filter(parse_filter('members[value eq "u"]'), GROUP)
    with pytest.raises(ScimError):
        check_filter(parse_filter('userName eq "x"'), GROUP)


def test_matches_refuses_unknown_attributes_too() -> None:
    with pytest.raises(ScimError) as caught:
        matches(parse_filter('nope eq "x"'), {"nope": "x"}, USER)
    assert caught.value.scim_type == "invalidFilter"


def test_matches_element_refuses_unknown_sub_attributes() -> None:
    members = GROUP.core.attribute("members")
    assert members is not None
    with pytest.raises(ScimError) as caught:
        matches_element(parse_filter('nope eq "x"'), {"nope": "x"}, members)
    assert caught.value.scim_type == "invalidFilter"
    assert "'members' has no sub-attribute 'nope'" in caught.value.detail


def test_matches_element_refuses_a_nested_value_path() -> None:
    members = GROUP.core.attribute("members")
    assert members is not None
    nested = ValuePath(AttrPath(None, "value", None), Present(AttrPath(None, "value", None)))
    with pytest.raises(ScimError) as caught:
        matches_element(nested, {"value": "x"}, members)
    assert "nested" in caught.value.detail


def test_true_is_not_mistaken_for_one_after_a_cached_compile() -> None:
    # Python says True == 1, so a cache keyed by the node would confuse these two.
    emails = USER.core.attribute("emails")
    assert emails is not None
    assert matches(parse_filter("active eq true"), {"active": True}, USER)
    with pytest.raises(ScimError):
        check_filter(parse_filter("active eq 1"), USER)
    with pytest.raises(ScimError):
        matches_element(parse_filter("primary eq 1"), {"primary": True}, emails)
    assert matches_element(parse_filter("primary eq true"), {"primary": True}, emails)
    with pytest.raises(ScimError):
        matches_element(parse_filter("primary eq 1"), {"primary": True}, emails)
