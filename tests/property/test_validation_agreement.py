"""The compiled validator in front of jsonschema never accepts what jsonschema refuses.

`gateway/scim/validation.py` accepts a body on jsonschema-rs's word alone and asks
jsonschema only about the rest. Generated bodies (valid IdP shapes with values
swapped, dropped and added, strings full of the white space the two regex
dialects disagree on) must never be accepted by the first and refused by the
second; and the wire shapes real IdPs send must be accepted by the first, or
the fast path buys nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim import validation
from gateway.scim.validation import _FAST, _VALIDATORS
from tests.bodies import ENTERPRISE, GROUP, PATCH_OP, okta_user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "User": [
        okta_user(),
        {**okta_user(), "schemas": [okta_user()["schemas"][0], ENTERPRISE],
         ENTERPRISE: {"department": "R&D", "manager": {"value": "17"}},
         "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}], "title": "Analyst"},
    ],
    "Group": [{"schemas": [GROUP], "displayName": "Engineering",
               "members": [{"value": "17", "display": "Ada"}]}],
    "PatchOp": [
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
        {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "title", "value": "Lead"},
            {"op": "add", "path": "members", "value": [{"value": "17"}]},
            {"op": "remove", "path": 'members[value eq "17"]'}]},
    ],
    "SearchRequest": [{"schemas": [SEARCH], "filter": 'userName eq "a"', "startIndex": 1,
                       "count": 10, "sortBy": "userName", "sortOrder": "descending"}],
}

# The characters the regex dialects read differently, and some they agree on.
SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2028\u202f\u3000\ufeff\u200b"
STRINGS = st.one_of(
    st.text(alphabet=SPACES, max_size=3),
    st.text(alphabet=SPACES + "a\u017fK\u212a", max_size=4),
    st.sampled_from(["", "ascending", "DESCENDING", "ascending\n", "descending\x85", "add",
                     "replace", "Remove", "urn:x", "17", "True"]),
    st.text(max_size=6),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**63), st.floats(allow_nan=False),
                    STRINGS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(STRINGS, inner, max_size=3)), max_leaves=6)


def _paths(node: Any, at: tuple = ()) -> list[tuple]:
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*at, i))
    return found


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, dict]:
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    body = copy.deepcopy(draw(st.sampled_from(TEMPLATES[kind])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)[1:]))
        parent: Any = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["swap", "drop", "add"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
            return kind, body
        if action == "add" and isinstance(parent, dict):
            parent[draw(STRINGS)] = draw(VALUES)
        else:
            parent[path[-1]] = draw(VALUES)
    return kind, body


@settings(max_examples=1500, deadline=None)
@given(bodies())
def test_the_compiled_validator_never_accepts_what_jsonschema_refuses(
    case: tuple[str, dict],
) -> None:
    kind, body = case
    if validation._fast_accepts(kind, body):
        errors = list(_VALIDATORS[kind].iter_errors(body))
        assert errors == [], f"{kind} accepted by jsonschema-rs, refused by jsonschema: {body!r}"


def test_idp_wire_shapes_take_the_compiled_path() -> None:
    for kind, templates in TEMPLATES.items():
        for body in templates:
            assert _FAST[kind].is_valid(body), (kind, body)
            assert list(_VALIDATORS[kind].iter_errors(body)) == []


def test_whitespace_python_knows_and_ecma_does_not_is_still_an_empty_user_name() -> None:
    for blank in ("\x1c", "\x1f \x85", "\x85"):
        body = {**okta_user(), "userName": blank}
        assert not validation._fast_accepts("User", body)
        assert list(_VALIDATORS["User"].iter_errors(body)) != []
