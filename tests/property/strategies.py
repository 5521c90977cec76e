"""Hypothesis strategies for query tests: people as backend records, filters as text.

Filters are generated as text, in every case spelling the RFC allows for
names, operators and keywords, with values mostly taken from the generated
people (so they match someone) and case-mangled. People's ids and the
current time are only known after seeding, so filters name them as
`@ID<n>@` and `@NOW<shift><zone>@`; `fill` puts the real values in.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.bodies import ENTERPRISE

# ------------------------------------------------------------------ people

FIRST = ["Ada", "ada", "ADA", "Grace", "Åsa", "Jürgen", "Zoë"]
LAST = ["Lovelace", "lovelace", "Hopper", "Straße", "STRASSE", "Ångström"]
TITLES = [None, "Analyst", "analyst", "Senior Analyst", "Engineer", "ENGINEER lead", "x"]
DEPARTMENTS = [None, "R&D", "r&d", "Research", "Sales"]
LOCALES = [None, "en-US", "en-GB", "de-DE"]
ZONES = [None, "Europe/Paris", "America/New_York"]
PHONES = [None, "+1 555 0100", "+1 555 0199", "+44 20"]
LOCALS = ["ada", "ADA.lovelace", "grace", "straße", "STRASSE", "zoë", "o'neil"]
DOMAINS = ["acme.example", "ACME.example", "b.example"]
SSO = [None, "00uAB", "00uab", "ext", "EXT"]


@st.composite
def people(draw: st.DrawFn) -> tuple[list[dict[str, Any]], set[int]]:
    """Backend records (unique email, employee_number and sso_id) and who is deactivated."""
    count = draw(st.integers(min_value=0, max_value=9))
    records: list[dict[str, Any]] = []
    inactive: set[int] = set()
    for i in range(count):
        record: dict[str, Any] = {
            # The index suffix keeps emails unique under Unicode case folding too.
            "email": f"{draw(st.sampled_from(LOCALS))}{i}@{draw(st.sampled_from(DOMAINS))}",
            "first_name": draw(st.sampled_from(FIRST)),
            "last_name": draw(st.sampled_from(LAST)),
        }
        optional = {
            "display_name": st.sampled_from([None, "", "Ada L", "ada l", "Grace H"]),
            "title": st.sampled_from(TITLES),
            "department": st.sampled_from(DEPARTMENTS),
            "cost_center": st.sampled_from([None, "CC-1", "cc-1", "CC-2"]),
            "locale": st.sampled_from(LOCALES),
            "timezone": st.sampled_from(ZONES),
            "phone": st.sampled_from(PHONES),
        }
        for name, strategy in optional.items():
            value = draw(strategy)
            if value is not None:
                record[name] = value
        number = draw(st.sampled_from([None, "E-", "e-", "X"]))
        if number is not None:
            record["employee_number"] = f"{number}{i}"
        # externalIds stay unique per org: the index keeps one id per externalId
        # (see the report of this test's author), as an IdP's own ids are.
        sso = draw(st.sampled_from(SSO))
        if sso is not None:
            record["sso_id"] = f"{sso}{i}"
        if draw(st.booleans()):
            inactive.add(i)
        records.append(record)
    return records, inactive


# ------------------------------------------------------------------ filters


def _case(draw: st.DrawFn, text: str) -> str:
    """The same name or keyword in another case (names and operators are case-insensitive)."""
    return draw(st.sampled_from([text, text.lower(), text.upper(), text.swapcase()]))


def _value_case(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from([text, text, text.lower(), text.upper()]))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Mapped string attributes: (path as written, backend field its values come from).
STRING_PATHS = [
    ("userName", "email"),
    ("name.givenName", "first_name"),
    ("name.familyName", "last_name"),
    ("displayName", "display_name"),
    ("title", "title"),
    ("externalId", "sso_id"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("emails.value", "email"),
    ("phoneNumbers.value", "phone"),
    (f"{ENTERPRISE}:department", "department"),
    (f"{ENTERPRISE}:employeeNumber", "employee_number"),
    (f"{ENTERPRISE}:costCenter", "cost_center"),
    ("id", "@id"),
]
ALL_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


def _known_values(records: list[dict[str, Any]], field: str) -> list[str]:
    if field == "@id":
        return [f"@ID{i}@" for i in range(len(records))]
    return [r[field] for r in records if isinstance(r.get(field), str) and r[field]]


@st.composite
def string_compare(draw: st.DrawFn, records: list[dict[str, Any]]) -> str:
    # Identity attributes and `eq` are drawn more often: they take the planner's lookups.
    path, field = draw(st.sampled_from(STRING_PATHS[:1] + STRING_PATHS[5:6] + STRING_PATHS[-1:])
                       | st.sampled_from(STRING_PATHS))
    op = draw(st.sampled_from(["eq", "eq", "eq", *ALL_OPS]))
    known = _known_values(records, field)
    if draw(st.integers(0, 9)) == 0:
        return f"{_case(draw, path)} {_case(draw, op)} null"
    if known and draw(st.integers(0, 4)) > 0:
        value = draw(st.sampled_from(known))
        if op in ("co", "sw", "ew") and not value.startswith("@ID"):
            start = draw(st.integers(0, len(value)))
            value = value[start:draw(st.integers(start, len(value)))]
        if not value.startswith("@ID"):
            value = _value_case(draw, value)
    else:
        # Literals, and the values `changes` may give people later (moved0-3, moved1.3@...).
        k = draw(st.integers(0, max(0, len(records) - 1)))
        value = draw(st.sampled_from(["", "a", "E", "zzz", "00u", "Lovelace", "@", "moved",
                                      f"moved0-{k}", f"MOVED0-{k}", f"moved0.{k}@b.example",
                                      f"Moved1.{k}@B.example"]))
    return f"{_case(draw, path)} {_case(draw, op)} {_quote(value)}"


@st.composite
def other_leaf(draw: st.DrawFn, records: list[dict[str, Any]]) -> str:
    kind = draw(st.sampled_from(["bool", "present", "work_email", "entra", "value_path",
                                 "time", "unmapped"]))
    emails = _known_values(records, "email") or ["nobody@acme.example"]
    if kind == "bool":
        path = draw(st.sampled_from(["active", "emails.primary", "phoneNumbers.primary"]))
        value = draw(st.sampled_from(["true", "false", "TRUE", "False"]))
        return f"{_case(draw, path)} {_case(draw, draw(st.sampled_from(['eq', 'ne'])))} {value}"
    if kind == "present":
        path = draw(st.sampled_from([p for p, _ in STRING_PATHS] + [
            "active", "emails", "phoneNumbers", "name", f"{ENTERPRISE}:manager"]))
        return f"{_case(draw, path)} {_case(draw, 'pr')}"
    if kind == "work_email":
        email = _value_case(draw, draw(st.sampled_from(emails)))
        return f'emails[{_case(draw, "type")} eq {_quote(_value_case(draw, "work"))} and ' \
               f'{_case(draw, "value")} eq {_quote(email)}]'
    if kind == "entra":
        email = _value_case(draw, draw(st.sampled_from(emails)))
        attr = draw(st.sampled_from(["emails", "phoneNumbers"]))
        return f'{_case(draw, attr)}[type eq "work"].value eq {_quote(email)}'
    if kind == "value_path":
        op = draw(st.sampled_from(["sw", "co", "ew", "eq", "ne"]))
        email = draw(st.sampled_from(emails))
        part = email[: draw(st.integers(0, len(email)))]
        inner_type = draw(st.sampled_from(["work", "home"]))
        joiner = _case(draw, draw(st.sampled_from(["and", "or"])))
        return f'emails[value {op} {_quote(part)} {joiner} type eq "{inner_type}"]'
    if kind == "time":
        path = draw(st.sampled_from(["meta.lastModified", "meta.created"]))
        op = draw(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]))
        shift = draw(st.integers(-2, 2))
        zone = draw(st.sampled_from(["Z", "+00:00", "+02:00"]))
        return f"{_case(draw, path)} {op} \"@NOW{shift}{zone}@\""
    # Attributes of the SCIM schema this org's mapping does not carry: invalidFilter.
    path = draw(st.sampled_from(["nickName", "name.middleName", "emails.display",
                                 "addresses.locality", f"{ENTERPRISE}:division"]))
    return f'{path} eq "x"'


def filters(records: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    leaves = st.one_of(string_compare(records), string_compare(records), other_leaf(records))

    @st.composite
    def combine(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
        kind = draw(st.sampled_from(["and", "or", "not", "paren"]))
        left = draw(inner)
        if kind == "not":
            return f"{_case(draw, 'not')} ({left})"
        if kind == "paren":
            return f"({left})"
        right = draw(inner)
        return f"{left} {_case(draw, kind)} {right}"

    return st.recursive(leaves, combine, max_leaves=4)


SORTABLE = [None, None, "userName", "name.familyName", "title", "externalId", "displayName",
            f"{ENTERPRISE}:employeeNumber", "emails", "meta.lastModified"]


@st.composite
def query(draw: st.DrawFn, records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    via = draw(st.sampled_from(["get", "get", "search"]))
    # GET takes sortOrder in any case; a SearchRequest body is held to the RFC's spelling.
    orders = [None, "ascending", "descending"] + (["DESCENDING"] if via == "get" else [])
    return {
        "filter": draw(filters(records)),
        "startIndex": draw(st.integers(min_value=-1, max_value=n + 2)),
        "count": draw(st.one_of(st.none(), st.integers(min_value=0, max_value=n + 2))),
        "sortBy": draw(st.sampled_from(SORTABLE)),
        "sortOrder": draw(st.sampled_from(orders)),
        "via": via,
    }


_PLACEHOLDER = re.compile(r"@ID(\d+)@|@NOW(-?\d)(Z|[+-]\d\d:\d\d)@")


def fill(text: str, ids: list[int], now: datetime) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return str(ids[int(match.group(1))]) if ids else "1"
        moment = now + timedelta(seconds=int(match.group(2)))
        zone = match.group(3)
        if zone == "Z":
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        return (moment + offset).replace(tzinfo=None).isoformat() + zone

    return _PLACEHOLDER.sub(one, text)


@st.composite
def identity_filter(draw: st.DrawFn, records: list[dict[str, Any]]) -> str:
    """A filter one identity answers: userName, externalId, id or the work email, eq."""
    i = draw(st.integers(0, max(0, len(records) - 1)))
    record = records[i] if records else {"email": "nobody@acme.example"}
    email = _value_case(draw, record["email"])
    external = record.get("sso_id") or "no-such-id"
    return draw(st.sampled_from([
        f'{_case(draw, "userName")} {_case(draw, "eq")} {_quote(email)}',
        f'{_case(draw, "externalId")} eq {_quote(_value_case(draw, external))}',
        f'id eq "@ID{i}@"',
        f'emails[type eq "work"].value eq {_quote(email)}',
        f'{_case(draw, "emails")}[{_case(draw, "type")} eq "WORK" and value eq {_quote(email)}]',
        f'urn:ietf:params:scim:schemas:core:2.0:User:userName eq {_quote(email)}',
    ]))


def identity_heavy_filters(records: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    """Identity filters alone, under `and`, on both sides of `or`, or anything else."""
    identity, other = identity_filter(records), filters(records)
    return st.one_of(
        identity,
        st.tuples(identity, other).map(lambda p: f"{p[0]} and ({p[1]})"),
        st.tuples(other, identity).map(lambda p: f"({p[0]}) AND {p[1]}"),
        st.tuples(identity, identity).map(lambda p: f"{p[0]} or {p[1]}"),
        st.tuples(identity, other).map(lambda p: f"{p[0]} or ({p[1]})"),
        other,
    )
