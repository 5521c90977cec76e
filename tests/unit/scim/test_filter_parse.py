"""Parsing RFC 7644 filters and PATCH paths into the shared AST."""

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


def eq(attr: str, value: object) -> Compare:
    return Compare(p(attr), "eq", value)  # type: ignore[arg-type]


def test_okta_username_lookup_parses_to_one_comparison() -> None:
    assert parse_filter('userName eq "test.user@okta.local"') == eq(
        "userName", "test.user@okta.local"
    )


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator_parses_lower_cased(op: str) -> None:
    assert parse_filter(f'title {op.upper()} "x"') == Compare(p("title"), op, "x")


def test_present_operator_parses() -> None:
    assert parse_filter("title pr") == Present(p("title"))


def test_entra_work_email_match_becomes_one_value_path() -> None:
    assert parse_filter('emails[type eq "work"].value eq "x@y.com"') == ValuePath(
        p("emails"), And(eq("type", "work"), eq("value", "x@y.com"))
    )


def test_patch_path_with_value_filter_and_sub_attribute() -> None:
    assert parse_patch_path('emails[type eq "work"].value') == PatchPath(
        p("emails"), eq("type", "work"), "value"
    )


def test_patch_path_with_urn_and_sub_attribute() -> None:
    assert parse_patch_path(f"{ENTERPRISE}:manager.value") == PatchPath(
        p("manager", "value", ENTERPRISE)
    )


def test_okta_member_removal_path() -> None:
    assert parse_patch_path('members[value eq "00u1"]') == PatchPath(
        p("members"), eq("value", "00u1")
    )


def test_bad_filter_names_column_and_expectation() -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter("userName eq")
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    assert caught.value.detail == (
        "Invalid filter at column 12: expected a value (a quoted string, a number, true, "
        "false or null) after 'eq', found end of input"
    )


def test_bad_patch_path_is_invalid_path() -> None:
    with pytest.raises(ScimError) as caught:
        parse_patch_path("members[")
    assert caught.value.scim_type == "invalidPath"
    assert "column 9" in caught.value.detail


def test_canonical_text_round_trips() -> None:
    node = Or(And(eq("a", 1), Not(Present(p("b")))), eq("c", True))
    assert parse_filter(to_text(node)) == node
