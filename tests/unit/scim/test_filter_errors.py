"""Bad filters get a 400 invalidFilter that says where and what, never a lark exception."""

from __future__ import annotations

import orjson
import pytest

from gateway.scim.budget import FilterBudget
from gateway.scim.errors import ScimError
from gateway.scim.filter import (
    MAX_DEPTH,
    AttrPath,
    Compare,
    Not,
    Present,
    parse_filter,
    parse_patch_path,
)

VALUE = "a value (a quoted string, a number, true, false or null)"
OPERATOR = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)"


# The parser's own defences, tested without the request budget in front of them.
UNBUDGETED = FilterBudget(max_length=10**7, max_nodes=10**7)


def detail_of(text: str) -> str:
    with pytest.raises(ScimError) as caught:
        parse_filter(text, UNBUDGETED)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    return caught.value.detail


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (
            "userName eq",
            f"Invalid filter at column 12: expected {VALUE} after 'eq', found end of input",
        ),
        (
            "userName eq bjensen",
            f"Invalid filter at column 13: expected {VALUE} after 'eq', found 'bjensen'",
        ),
        (
            "userName eq 'bjensen'",
            f"Invalid filter at column 13: expected {VALUE} after 'eq', found \"'bjensen'\"",
        ),
        (
            'userName eq "abc',
            f"Invalid filter at column 13: expected {VALUE} after 'eq', "
            "found an unterminated string '\"abc'",
        ),
        (
            "userName",
            f"Invalid filter at column 9: expected {OPERATOR} or '[' after 'userName', "
            "found end of input",
        ),
        (
            'userName is "x"',
            f"Invalid filter at column 10: expected {OPERATOR} or '[' after 'userName', found 'is'",
        ),
        (
            "",
            "Invalid filter at column 1: expected an attribute path, 'not (' or '(', "
            "found end of input",
        ),
        (
            'userName eq "x" extra',
            "Invalid filter at column 17: expected 'and', 'or' or end of input after '\"x\"', "
            "found 'extra'",
        ),
        (
            'userName eq "x")',
            "Invalid filter at column 16: expected 'and', 'or' or end of input after '\"x\"', "
            "found ')'",
        ),
        (
            "(a pr",
            "Invalid filter at column 6: expected 'and', 'or' or ')' after 'pr', "
            "found end of input",
        ),
        (
            'emails[type eq "work"',
            "Invalid filter at column 22: expected 'and', 'or' or ']' after '\"work\"', "
            "found end of input",
        ),
        (
            "a pr and",
            "Invalid filter at column 9: expected an attribute path, 'not (' or '(' "
            "after 'and', found end of input",
        ),
        (
            "not a pr",
            "Invalid filter at column 1: 'not' must be followed by a filter in parentheses: "
            "not (...)",
        ),
        (
            'emails[type[value eq "x"]]',
            "Invalid filter at column 12: a [...] filter cannot be nested inside another one",
        ),
        (
            'name.givenName[value eq "x"]',
            "Invalid filter at column 1: a [...] filter applies to a multi-valued attribute, "
            "not to the sub-attribute 'name.givenName'",
        ),
        ('x eq "bad \\q escape"', "Invalid filter at column 6: invalid escape in string"),
        ("x eq 1e999", "Invalid filter at column 6: number '1e999' is out of range"),
        ("x eq 007", f"Invalid filter at column 6: expected {VALUE} after 'eq', found '007'"),
        (
            'emails[type eq "work"].value',
            f"Invalid filter at column 29: expected {OPERATOR} after '.value', found end of input",
        ),
        (
            "a pr andy pr",
            "Invalid filter at column 6: expected 'and', 'or' or end of input after 'pr', "
            "found 'andy'",
        ),
    ],
)
def test_syntax_errors_name_the_column_and_what_was_expected(text: str, detail: str) -> None:
    assert detail_of(text).startswith(detail)


def test_column_counts_from_one_and_includes_leading_spaces() -> None:
    assert detail_of("   userName eq").startswith("Invalid filter at column 15:")


def test_huge_integer_is_refused_not_crashing() -> None:
    assert "out of range" in detail_of("x eq " + "9" * 5000)


def test_long_found_text_is_shortened() -> None:
    detail = detail_of("x eq " + "y" * 500)
    assert len(detail) < 300
    assert "..." in detail


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    text = "not (" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1)
    assert "nested more than" in detail_of(text)


def test_long_or_chain_beyond_the_limit_is_refused() -> None:
    text = " or ".join(f'id eq "{i}"' for i in range(MAX_DEPTH + 2))
    assert "nested more than" in detail_of(text)


def test_nesting_at_the_limit_is_accepted() -> None:
    text = "not (" * (MAX_DEPTH - 1) + "a pr" + ")" * (MAX_DEPTH - 1)
    node = parse_filter(text)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(node, Not)
        node = node.inner
    assert node == Present(AttrPath(None, "a", None))


def test_redundant_parentheses_add_no_depth() -> None:
    text = "(" * 50_000 + "a pr" + ")" * 50_000
    assert parse_filter(text, UNBUDGETED) == Present(AttrPath(None, "a", None))


def test_unbalanced_parenthesis_bomb_is_a_clear_error() -> None:
    text = "(" * 50_000 + "a pr"
    assert detail_of(text).startswith(f"Invalid filter at column {50_005}: expected")


def test_not_bomb_is_refused_by_depth() -> None:
    text = "not (" * 50_000 + "a pr" + ")" * 50_000
    assert "nested more than" in detail_of(text)


def test_not_a_string_is_an_invalid_filter() -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(None)  # type: ignore[arg-type]
    assert caught.value.scim_type == "invalidFilter"


def test_patch_path_errors_name_the_column() -> None:
    with pytest.raises(ScimError) as caught:
        parse_patch_path('members[value eq "x"')
    assert caught.value.scim_type == "invalidPath"
    assert caught.value.detail.startswith("Invalid path at column 21: expected")


def test_bare_schema_urn_is_not_a_patch_path() -> None:
    with pytest.raises(ScimError) as caught:
        parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    assert caught.value.scim_type == "invalidPath"
    assert "schema URN" in caught.value.detail


def test_lone_surrogate_in_a_filter_string_is_an_invalid_filter() -> None:
    # It would decode, then make the JSON answer unencodable: a 500 instead of a 400.
    detail = detail_of('active eq "\\ud800"')
    assert detail.startswith("Invalid filter at column 11: string")
    assert "lone surrogate" in detail
    orjson.dumps(detail)


def test_lone_surrogate_in_a_patch_path_filter_is_an_invalid_path() -> None:
    with pytest.raises(ScimError) as caught:
        parse_patch_path('emails[type eq "\\udc00"].value')
    assert caught.value.scim_type == "invalidPath"
    assert caught.value.detail.startswith("Invalid path at column 16: string")
    assert "lone surrogate" in caught.value.detail
    orjson.dumps(caught.value.body())


def test_escaped_surrogate_pair_is_one_character() -> None:
    node = parse_filter('userName eq "\\ud83d\\ude00"')
    assert isinstance(node, Compare) and node.value == "\U0001f600"
