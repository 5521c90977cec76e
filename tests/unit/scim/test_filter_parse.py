"""Parsing RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths into the shared AST."""

from __future__ import annotations

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.filter import (
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_filter,
    parse_patch_path,
    to_text,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def p(attr: str, sub: str | None = None, urn: str | None = None) -> AttrPath:
    return AttrPath(urn, attr, sub)


def cmp(attr: str, op: str, value: object) -> Compare:
    return Compare(p(attr), op, value)  # type: ignore[arg-type]


def eq(attr: str, value: object) -> Compare:
    return cmp(attr, "eq", value)


def pr(attr: str) -> Present:
    return Present(p(attr))


# --------------------------------------------------------------------------- IdP shapes


def test_okta_username_lookup_parses_to_one_comparison() -> None:
    assert parse_filter('userName eq "test.user@okta.local"') == eq(
        "userName", "test.user@okta.local"
    )


def test_okta_group_lookup_by_display_name() -> None:
    assert parse_filter('displayName eq "Engineering"') == eq("displayName", "Engineering")


def test_entra_test_connection_with_random_guid() -> None:
    text = 'userName eq "0f6b3c1e-6a0c-4a5f-9d7c-4c5d1c2e3f4a"'
    assert parse_filter(text) == eq("userName", "0f6b3c1e-6a0c-4a5f-9d7c-4c5d1c2e3f4a")


def test_entra_work_email_match_becomes_one_value_path() -> None:
    assert parse_filter('emails[type eq "work"].value eq "x@y.com"') == ValuePath(
        p("emails"), And(eq("type", "work"), eq("value", "x@y.com"))
    )


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_entra_value_path_form_takes_every_operator(op: str) -> None:
    assert parse_filter(f'emails[type eq "work"].value {op} "x"') == ValuePath(
        p("emails"), And(eq("type", "work"), cmp("value", op, "x"))
    )


def test_entra_value_path_form_takes_present() -> None:
    assert parse_filter('emails[type eq "work"].value pr') == ValuePath(
        p("emails"), And(eq("type", "work"), pr("value"))
    )


def test_entra_form_combines_with_and() -> None:
    text = 'emails[type eq "work"].value eq "x" and userName eq "u"'
    assert parse_filter(text) == And(
        ValuePath(p("emails"), And(eq("type", "work"), eq("value", "x"))), eq("userName", "u")
    )


def test_spaces_decoded_from_plus_signs_may_be_doubled() -> None:
    assert parse_filter('  userName   eq\t "a b"  ') == eq("userName", "a b")


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator_parses_lower_cased(op: str) -> None:
    assert parse_filter(f'title {op} "x"') == cmp("title", op, "x")
    assert parse_filter(f'title {op.upper()} "x"') == cmp("title", op, "x")
    assert parse_filter(f'title {op.title()} "x"') == cmp("title", op, "x")


def test_present_operator_parses_in_any_case() -> None:
    assert parse_filter("title pr") == pr("title")
    assert parse_filter("title PR") == pr("title")


def test_operator_glued_to_string_is_tolerated() -> None:
    assert parse_filter('title eq"x"') == eq("title", "x")


# --------------------------------------------------------------------------- logic


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("a pr or b pr and c pr") == Or(pr("a"), And(pr("b"), pr("c")))
    assert parse_filter("a pr and b pr or c pr") == Or(And(pr("a"), pr("b")), pr("c"))


def test_not_binds_tighter_than_and() -> None:
    assert parse_filter("not (a pr) and b pr") == And(Not(pr("a")), pr("b"))


def test_and_and_or_are_left_associative() -> None:
    assert parse_filter("a pr and b pr and c pr") == And(And(pr("a"), pr("b")), pr("c"))
    assert parse_filter("a pr or b pr or c pr") == Or(Or(pr("a"), pr("b")), pr("c"))


def test_parentheses_override_precedence() -> None:
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(pr("a"), pr("b")), pr("c"))
    assert parse_filter("a pr and (b pr or c pr)") == And(pr("a"), Or(pr("b"), pr("c")))


def test_redundant_parentheses_disappear() -> None:
    assert parse_filter("((a pr))") == pr("a")


def test_keywords_are_case_insensitive() -> None:
    assert parse_filter("a pr AND NOT (b pr) Or c pr") == Or(And(pr("a"), Not(pr("b"))), pr("c"))


def test_not_hugging_its_parenthesis() -> None:
    assert parse_filter("not(a pr)") == Not(pr("a"))


def test_rfc_example_with_nested_groups() -> None:
    text = 'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'
    assert parse_filter(text) == And(
        eq("userType", "Employee"),
        Or(cmp("emails", "co", "example.com"), Compare(p("emails", "value"), "co", "example.org")),
    )


# --------------------------------------------------------------------------- paths


def test_value_path_with_and_inside() -> None:
    assert parse_filter('emails[type eq "work" and primary eq true]') == ValuePath(
        p("emails"), And(eq("type", "work"), eq("primary", True))
    )


def test_value_path_with_not_and_parentheses_inside() -> None:
    assert parse_filter('emails[not (type eq "work") and (primary pr or display pr)]') == ValuePath(
        p("emails"), And(Not(eq("type", "work")), Or(pr("primary"), pr("display")))
    )


def test_value_path_joined_with_other_filters() -> None:
    assert parse_filter('userType eq "x" and emails[type eq "work"]') == And(
        eq("userType", "x"), ValuePath(p("emails"), eq("type", "work"))
    )


def test_sub_attribute_path() -> None:
    assert parse_filter('name.givenName eq "Ada"') == Compare(p("name", "givenName"), "eq", "Ada")


def test_meta_last_modified_path() -> None:
    assert parse_filter('meta.lastModified gt "2011-05-13T04:42:34Z"') == Compare(
        p("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z"
    )


def test_ref_is_a_name() -> None:
    assert parse_filter('members[$ref eq "x"]') == ValuePath(p("members"), eq("$ref", "x"))
    assert parse_filter("manager.$ref pr") == Present(p("manager", "$ref"))


def test_extension_urn_with_a_dotted_version_is_split_at_the_last_colon() -> None:
    assert parse_filter(f'{ENTERPRISE}:employeeNumber eq "7"') == Compare(
        p("employeeNumber", None, ENTERPRISE), "eq", "7"
    )


def test_core_urn_with_sub_attribute() -> None:
    assert parse_filter(f'{CORE}:name.givenName sw "A"') == Compare(
        p("name", "givenName", CORE), "sw", "A"
    )


def test_urn_with_sub_attribute_in_extension() -> None:
    assert parse_filter(f'{ENTERPRISE}:manager.value eq "m"') == Compare(
        p("manager", "value", ENTERPRISE), "eq", "m"
    )


def test_urn_prefix_is_case_insensitive_and_kept_as_written() -> None:
    upper = ENTERPRISE.upper()
    assert parse_filter(f"{upper}:DEPARTMENT pr") == Present(p("DEPARTMENT", None, upper))


def test_urn_qualified_value_path() -> None:
    assert parse_filter(f'{CORE}:emails[type eq "work"]') == ValuePath(
        p("emails", None, CORE), eq("type", "work")
    )


def test_names_keep_the_callers_spelling() -> None:
    assert parse_filter('USERNAME eq "x"') == eq("USERNAME", "x")


def test_keywords_can_be_attribute_names_where_a_name_is_expected() -> None:
    assert parse_filter("and pr") == pr("and")
    assert parse_filter("not eq 1") == eq("not", 1)
    assert parse_filter("pr pr") == pr("pr")


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"plain"', "plain"),
        ('""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\tnew\nline"', "tab\tnew\nline"),
        (r'"\u00e9t\u00E9"', "été"),
        (r'"\ud83d\ude00"', "\U0001f600"),
        (r'"\/"', "/"),
        ('"été ✓"', "été ✓"),
        ("true", True),
        ("FALSE", False),
        ("Null", None),
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("3.25", 3.25),
        ("-0.5", -0.5),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
    ],
)
def test_json_literals(literal: str, value: object) -> None:
    node = parse_filter(f"x eq {literal}")
    assert isinstance(node, Compare)
    assert node.value == value
    assert type(node.value) is type(value)


def test_brackets_and_parentheses_inside_strings_are_just_text() -> None:
    assert parse_filter('displayName eq "a (b) [c] and d"') == eq("displayName", "a (b) [c] and d")


# --------------------------------------------------------------------------- PATCH paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("members", PatchPath(p("members"))),
        ("active", PatchPath(p("active"))),
        ("name.familyName", PatchPath(p("name", "familyName"))),
        (f"{ENTERPRISE}:department", PatchPath(p("department", None, ENTERPRISE))),
        (f"{ENTERPRISE}:manager", PatchPath(p("manager", None, ENTERPRISE))),
        (f"{ENTERPRISE}:manager.value", PatchPath(p("manager", "value", ENTERPRISE))),
        (f"{CORE}:name.givenName", PatchPath(p("name", "givenName", CORE))),
        ('members[value eq "00u1"]', PatchPath(p("members"), eq("value", "00u1"))),
        ('emails[type eq "work"].value', PatchPath(p("emails"), eq("type", "work"), "value")),
        (
            'addresses[type eq "work" and primary eq true].streetAddress',
            PatchPath(
                p("addresses"), And(eq("type", "work"), eq("primary", True)), "streetAddress"
            ),
        ),
        (
            f'{CORE}:emails[type eq "work"].value',
            PatchPath(p("emails", None, CORE), eq("type", "work"), "value"),
        ),
        (" members ", PatchPath(p("members"))),
    ],
)
def test_patch_paths(text: str, expected: PatchPath) -> None:
    assert parse_patch_path(text) == expected


def test_patch_path_op_names_are_not_keywords() -> None:
    assert parse_patch_path("Members") == PatchPath(p("Members"))


@pytest.mark.parametrize(
    "text",
    [
        ENTERPRISE,
        CORE,
        ENTERPRISE.upper(),
        "",
        "   ",
        "members[",
        'members[value eq "x"',
        'members[value eq "x"]value',
        'members[value eq "x"] and x pr',
        'userName eq "x"',
        "name.givenName.x",
        'name.givenName[value eq "x"]',
        'emails[type eq "work"][value pr]',
        "emails.",
        "a b",
    ],
)
def test_bad_patch_paths_are_invalid_path(text: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_patch_path(text)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidPath"
    assert caught.value.detail.startswith("Invalid path")


# --------------------------------------------------------------------------- canonical text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('USERNAME EQ "x"', 'USERNAME eq "x"'),
        ("((a pr))", "a pr"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("(a pr and b pr) and c pr", "a pr and b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("NOT(a pr)", "not (a pr)"),
        ('emails[type eq "work"].value eq "x"', 'emails[type eq "work" and value eq "x"]'),
        ("x eq 1E3", "x eq 1000.0"),
        (r'x eq "\u00e9\n"', r'x eq "é\n"'),
        ("x eq TRUE", "x eq true"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    node = parse_filter(text)
    assert to_text(node) == canonical
    assert parse_filter(canonical) == node


def test_canonical_text_of_patch_paths_round_trips() -> None:
    for text in ["members", 'emails[type eq "work"].value', f"{ENTERPRISE}:manager.value"]:
        assert to_text(parse_patch_path(text)) == text


def test_repeated_filters_come_from_the_cache() -> None:
    text = 'userName eq "cached@x.com"'
    assert parse_filter(text) is parse_filter(text)
