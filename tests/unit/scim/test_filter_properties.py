"""Properties of the filter grammar: canonical text round-trips; no input escapes as a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.errors import ScimError
from gateway.scim.filter import (
    COMPARE_OPS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_filter,
    parse_patch_path,
    to_text,
)

URNS = (
    None,
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:example:ext:1.0:Thing",
    "URN:Example:X",
)

names = st.from_regex(r"\$?[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True)
paths = st.builds(AttrPath, st.sampled_from(URNS), names, st.none() | names)
values = (
    st.text()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
attr_exps = st.builds(Compare, paths, st.sampled_from(COMPARE_OPS), values) | st.builds(
    Present, paths
)


def logic(inner: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.builds(And, inner, inner) | st.builds(Or, inner, inner) | st.builds(Not, inner)


value_filters = st.recursive(attr_exps, logic, max_leaves=8)
value_paths = st.builds(
    ValuePath, st.builds(AttrPath, st.sampled_from(URNS), names, st.none()), value_filters
)
filters = st.recursive(attr_exps | value_paths, logic, max_leaves=12)
patch_paths = st.builds(PatchPath, paths) | st.builds(
    PatchPath,
    st.builds(AttrPath, st.sampled_from(URNS), names, st.none()),
    value_filters,
    st.none() | names,
)


@given(filters)
@settings(max_examples=400)
def test_canonical_text_parses_back_to_the_same_filter(node: Filter) -> None:
    text = to_text(node)
    assert parse_filter(text) == node
    assert to_text(parse_filter(text)) == text


@given(filters, st.data())
def test_keyword_case_and_spacing_change_nothing(node: Filter, data: st.DataObject) -> None:
    assert parse_filter(_noisy(node, data)) == node


def _noisy(node: Filter, data: st.DataObject) -> str:
    """Render like to_text, but with keywords in random case and extra whitespace."""

    def word(text: str) -> str:
        flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
        return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))

    def gap() -> str:
        return data.draw(st.sampled_from([" ", "  ", "\t", " \n "]))

    def render(n: Filter) -> str:
        if isinstance(n, Compare):
            literal = to_text(n)[len(to_text(n.path)) + len(n.op) + 2 :]
            return f"{to_text(n.path)}{gap()}{word(n.op)}{gap()}{literal}"
        if isinstance(n, Present):
            return f"{to_text(n.path)}{gap()}{word('pr')}"
        if isinstance(n, ValuePath):
            return f"{to_text(n.path)}[{gap()}{render(n.filter)}{gap()}]"
        if isinstance(n, Not):
            return f"{word('not')}{gap()}({render(n.inner)})"
        if isinstance(n, And):
            return f"({render(n.left)}){gap()}{word('and')}{gap()}({render(n.right)})"
        assert isinstance(n, Or)
        return f"({render(n.left)}){gap()}{word('or')}{gap()}({render(n.right)})"

    return render(node)


@given(patch_paths)
def test_patch_paths_round_trip(path: PatchPath) -> None:
    assert parse_patch_path(to_text(path)) == path


@given(st.text(max_size=60))
@settings(max_examples=400)
def test_arbitrary_text_is_a_filter_or_an_invalid_filter(text: str) -> None:
    try:
        parse_filter(text)
    except ScimError as error:
        assert error.status == 400
        assert error.scim_type == "invalidFilter"
        assert error.detail.startswith("Invalid filter")


_ALPHABET = [*'aeprnotdqsw.[]()"\\ :$10-', "eq ", " and ", " or ", "not (", "pr", "urn:"]


@given(st.lists(st.sampled_from(_ALPHABET), max_size=25).map("".join))
@settings(max_examples=600)
def test_filter_like_noise_never_crashes_the_parser(text: str) -> None:
    for parse, kind in ((parse_filter, "invalidFilter"), (parse_patch_path, "invalidPath")):
        try:
            parse(text)
        except ScimError as error:
            assert error.status == 400
            assert error.scim_type == kind


@given(filters, st.integers(min_value=0, max_value=200))
def test_truncated_filters_fail_with_a_column_inside_the_text(node: Filter, cut: int) -> None:
    text = to_text(node)
    if cut >= len(text):
        return
    truncated = text[:cut]
    try:
        parse_filter(truncated)
    except ScimError as error:
        if "column" in error.detail:
            column = int(error.detail.split("column ")[1].split(":")[0])
            assert 1 <= column <= len(truncated) + 1


def _grammar(text: str) -> Filter | str:
    """What the grammar alone makes of `text` (the node, or the error's detail)."""
    from gateway.scim.filter import _parse

    try:
        return _parse(text, "filter_start", "filter")
    except ScimError as error:
        return error.detail


def _parsed(text: str) -> Filter | str:
    try:
        return parse_filter(text)
    except ScimError as error:
        return error.detail


_PATH_WORDS = st.sampled_from(["userName", "emails.value", "not", "and", "or", "pr", "eq",
                               "true", "null", "name.givenName", "x-y_1", "a.b.c", "1abc"])


@given(_PATH_WORDS | names, st.text(max_size=40).filter(lambda v: '"' not in v and "\\" not in v))
@settings(max_examples=400)
def test_okta_user_name_lookup_shortcut_agrees_with_the_grammar(path: str, value: str) -> None:
    # `userName eq "x"` with a new x each time skips the grammar (the cache never hits
    # it); whatever the path and the value, the answer must be the grammar's own.
    text = f'{path} eq "{value}"'
    assert _parsed(text) == _grammar(text)


def test_okta_user_name_lookup_shortcut_keeps_the_value_verbatim() -> None:
    node = parse_filter('userName eq "Ünïcode.O\'Brien+tag@example.com"')
    assert node == Compare(AttrPath(None, "userName", None), "eq",
                           "Ünïcode.O'Brien+tag@example.com")
    assert parse_filter('userName eq "a\\"b"') == Compare(AttrPath(None, "userName"), "eq",
                                                           'a"b')
