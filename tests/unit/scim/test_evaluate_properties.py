"""Properties of in-memory evaluation over generated people and filters."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.evaluate import check_filter, matches
from gateway.scim.filter import (
    COMPARE_OPS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    to_text,
)
from gateway.scim.schema import ENTERPRISE_USER, user_resource_type

USER = user_resource_type()

# Small alphabets so generated filters often hit generated values.
short_text = st.text(alphabet="aAbB@.ßs", max_size=4)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2020, 1, 3)).map(
    lambda d: d.replace(microsecond=0)
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


@st.composite
def iso_instants(draw: st.DrawFn) -> str:
    when = draw(instants).replace(tzinfo=UTC).astimezone(draw(zones))
    text = when.isoformat()
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


emails = st.lists(
    st.fixed_dictionaries(
        {"value": short_text},
        optional={
            "type": st.sampled_from(["work", "home", "Work"]),
            "primary": st.booleans(),
            "display": short_text,
        },
    ),
    max_size=3,
)


@st.composite
def people(draw: st.DrawFn) -> dict:
    person: dict = {"id": draw(short_text)}
    for key, strategy in [
        ("userName", short_text),
        ("externalId", short_text),
        ("title", short_text),
        ("displayName", short_text),
        ("nickName", optional(short_text)),
        ("active", st.booleans()),
        ("emails", emails),
        (
            "name",
            st.fixed_dictionaries({}, optional={"givenName": short_text, "familyName": short_text}),
        ),
        ("meta", st.fixed_dictionaries({"lastModified": iso_instants()})),
        (
            ENTERPRISE_USER,
            st.fixed_dictionaries(
                {},
                optional={
                    "employeeNumber": short_text,
                    "manager": st.fixed_dictionaries({"value": short_text}),
                },
            ),
        ),
    ]:
        if draw(st.booleans()):
            person[key] = draw(strategy)
    return person


def _spelling(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.upper(), name.lower()])


STRING_PATHS = [
    (None, "userName", None),
    (None, "externalId", None),
    (None, "id", None),
    (None, "title", None),
    (None, "displayName", None),
    (None, "nickName", None),
    (None, "name", "givenName"),
    (None, "name", "familyName"),
    (None, "emails", "value"),
    (None, "emails", "type"),
    (None, "emails", None),
    (ENTERPRISE_USER, "employeeNumber", None),
    (ENTERPRISE_USER, "manager", "value"),
]
BOOLEAN_PATHS = [(None, "active", None), (None, "emails", "primary")]


@st.composite
def attr_paths(draw: st.DrawFn, table: list[tuple[str | None, str, str | None]]) -> AttrPath:
    urn, attr, sub = draw(st.sampled_from(table))
    return AttrPath(urn, draw(_spelling(attr)), None if sub is None else draw(_spelling(sub)))


string_compares = st.builds(
    Compare, attr_paths(STRING_PATHS), st.sampled_from(COMPARE_OPS), short_text
)
null_compares = st.builds(
    Compare, attr_paths(STRING_PATHS + BOOLEAN_PATHS), st.sampled_from(["eq", "ne"]), st.none()
)
boolean_compares = st.builds(
    Compare, attr_paths(BOOLEAN_PATHS), st.sampled_from(["eq", "ne"]), st.booleans()
)
date_compares = st.builds(
    Compare,
    st.just(AttrPath(None, "meta", "lastModified")),
    st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]),
    iso_instants(),
)
presents = st.builds(Present, attr_paths(STRING_PATHS + BOOLEAN_PATHS))
element_leaves = (
    st.builds(
        Compare,
        st.builds(AttrPath, st.none(), st.sampled_from(["value", "type", "display"]), st.none()),
        st.sampled_from(COMPARE_OPS),
        short_text,
    )
    | st.builds(
        Compare,
        st.just(AttrPath(None, "primary", None)),
        st.sampled_from(["eq", "ne"]),
        st.booleans(),
    )
    | st.builds(
        Present,
        st.builds(AttrPath, st.none(), st.sampled_from(["value", "type", "primary"]), st.none()),
    )
)


def logic(inner: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.builds(And, inner, inner) | st.builds(Or, inner, inner) | st.builds(Not, inner)


value_paths = st.builds(
    ValuePath,
    st.just(AttrPath(None, "emails", None)),
    st.recursive(element_leaves, logic, max_leaves=4),
)
leaves = string_compares | null_compares | boolean_compares | date_compares | presents | value_paths
filters = st.recursive(leaves, logic, max_leaves=6)


def m(node: Filter, person: dict) -> bool:
    return matches(node, person, USER)


@given(filters, people())
@settings(max_examples=300)
def test_not_is_the_complement(node: Filter, person: dict) -> None:
    assert m(Not(node), person) is (not m(node, person))


@given(filters, filters, people())
@settings(max_examples=300)
def test_and_or_follow_boolean_logic(f: Filter, g: Filter, person: dict) -> None:
    assert m(And(f, g), person) is (m(f, person) and m(g, person))
    assert m(Or(f, g), person) is (m(f, person) or m(g, person))
    assert m(Not(And(f, g)), person) is m(Or(Not(f), Not(g)), person)


@given(filters, people())
def test_generated_filters_pass_the_check_and_survive_text(node: Filter, person: dict) -> None:
    check_filter(node, USER)
    assert m(parse_filter(to_text(node)), person) is m(node, person)


SINGLE_STRINGS = {
    "userName": False,
    "title": False,
    "displayName": False,
    "externalId": True,
    "id": True,
}
ORACLE_OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "co": lambda a, b: b in a,
    "sw": str.startswith,
    "ew": str.endswith,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


@given(st.sampled_from(sorted(SINGLE_STRINGS)), st.sampled_from(COMPARE_OPS), short_text, people())
@settings(max_examples=400)
def test_single_valued_strings_agree_with_a_reference(
    attr: str, op: str, value: str, person: dict
) -> None:
    actual = person.get(attr)
    if actual is None:
        expected = op == "ne"
    elif SINGLE_STRINGS[attr]:
        expected = ORACLE_OPS[op](actual, value)
    else:
        expected = ORACLE_OPS[op](actual.casefold(), value.casefold())
    assert m(Compare(AttrPath(None, attr, None), op, value), person) is expected


@given(st.sampled_from(sorted(SINGLE_STRINGS)), short_text, people())
def test_ne_is_not_eq_on_a_present_single_value(attr: str, value: str, person: dict) -> None:
    path = AttrPath(None, attr, None)
    if person.get(attr) is not None:
        assert m(Compare(path, "ne", value), person) is (not m(Compare(path, "eq", value), person))


@given(
    st.sampled_from(["value", "type", "display"]),
    st.sampled_from([op for op in COMPARE_OPS if op != "ne"]),
    short_text,
    people(),
)
def test_one_condition_value_path_equals_the_sub_attribute_compare(
    sub: str, op: str, value: str, person: dict
) -> None:
    inner = Compare(AttrPath(None, sub, None), op, value)
    flat = Compare(AttrPath(None, "emails", sub), op, value)
    assert m(ValuePath(AttrPath(None, "emails", None), inner), person) is m(flat, person)


@given(short_text, st.sampled_from(["work", "home"]), people())
def test_entra_form_means_one_email_with_both(value: str, kind: str, person: dict) -> None:
    node = parse_filter(f'emails[type eq "{kind}"].value eq "{value}"')
    expected = any(
        e.get("type", "").casefold() == kind and e["value"].casefold() == value.casefold()
        for e in person.get("emails", [])
    )
    assert m(node, person) is expected


@given(iso_instants(), iso_instants())
def test_date_times_order_like_the_instants_they_name(a: str, b: str) -> None:
    person = {"meta": {"lastModified": a}}
    path = AttrPath(None, "meta", "lastModified")
    when_a = datetime.fromisoformat(a)
    when_b = datetime.fromisoformat(b)
    assert m(Compare(path, "gt", b), person) is (when_a > when_b)
    assert m(Compare(path, "eq", b), person) is (when_a == when_b)
    assert m(Compare(path, "le", b), person) is (when_a <= when_b)
