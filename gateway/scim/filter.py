"""RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths, parsed by a real grammar.

IdPs send filters in many spellings (any case, doubled spaces, URN-qualified
names whose URN itself holds a dot, Entra's non-standard
`emails[type eq "work"].value eq "x"`), so the text is parsed by one LALR
grammar built at import, into small frozen dataclasses that the evaluator,
the query planner and the PATCH engine share. Names stay as the caller wrote
them: resolving them against a schema is the caller's job (`evaluate`,
`patch`), since only the resource type knows what exists.

Every syntax problem becomes a `ScimError` (400, invalidFilter / invalidPath)
naming the column and what was expected; no lark exception escapes.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from gateway.scim.budget import FilterBudget, check_filter_text
from gateway.scim.errors import ScimError, invalid_filter, invalid_path
from gateway.scim.schema import CORE_GROUP, CORE_USER, ENTERPRISE_USER

__all__ = [
    "MAX_DEPTH",
    "And",
    "AttrPath",
    "Compare",
    "Filter",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "ValuePath",
    "parse_filter",
    "parse_patch_path",
    "to_text",
]

COMPARE_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")

# Deeper filters are refused: evaluation and rendering recurse once per level,
# and no IdP nests anywhere near this.
MAX_DEPTH = 100


@dataclass(frozen=True)
class AttrPath:
    """An attribute path as written by the caller; resolution happens elsewhere."""

    urn: str | None
    attr: str
    sub: str | None = None


@dataclass(frozen=True)
class Compare:
    """`path op value`; `op` is lower-case (eq ne co sw ew gt ge lt le)."""

    path: AttrPath
    op: str
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Present:
    """`path pr`."""

    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """`emails[type eq "work"]`: inner paths name sub-attributes of `path`."""

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH `path`: attrPath, or valuePath optionally followed by `.subAttr`."""

    path: AttrPath
    filter: Filter | None = None
    sub: str | None = None


# --------------------------------------------------------------------------- grammar

_NAME = r"\$?[A-Za-z][A-Za-z0-9_\-]*"

# One token for a whole attribute path: an optional URN prefix (greedy, so it
# runs to the last colon and may hold dots, as in "...:2.0:User:"), a name and
# an optional ".sub". Keeping it one token lets the contextual lexer tell
# names from keywords by parser state, so an attribute may be called "and".
_GRAMMAR = rf"""
filter_start: filter
path_start: ATTRPATH                                  -> patch_attr
          | ATTRPATH "[" vfilter "]"                  -> patch_value
          | ATTRPATH "[" vfilter "]" SUBATTR          -> patch_value_sub

?filter: and_expr
       | filter OR and_expr                           -> or_
?and_expr: unary
         | and_expr AND unary                         -> and_
?unary: NOT "(" filter ")"                            -> not_
      | "(" filter ")"
      | attr_exp
      | ATTRPATH "[" vfilter "]"                      -> value_path
      | ATTRPATH "[" vfilter "]" SUBATTR COMPAREOP value -> entra_compare
      | ATTRPATH "[" vfilter "]" SUBATTR PR           -> entra_present

?vfilter: vand_expr
        | vfilter OR vand_expr                        -> or_
?vand_expr: vunary
          | vand_expr AND vunary                      -> and_
?vunary: NOT "(" vfilter ")"                          -> not_
       | "(" vfilter ")"
       | attr_exp

?attr_exp: ATTRPATH PR                                -> present
         | ATTRPATH COMPAREOP value                   -> compare

value: STRING | NUMBER | TRUE | FALSE | NULL

ATTRPATH: /(?:urn:[A-Za-z0-9._~%=@\/+:\-]*:)?{_NAME}(?:\.{_NAME})?/i
SUBATTR: /\.{_NAME}/
COMPAREOP.2: /(?:eq|ne|co|sw|ew|gt|ge|lt|le)(?![A-Za-z0-9_$\-])/i
PR.2: /pr(?![A-Za-z0-9_$\-])/i
AND.2: /and(?![A-Za-z0-9_$\-])/i
OR.2: /or(?![A-Za-z0-9_$\-])/i
NOT.3: /not(?=[ \t\r\n]*\()/i
TRUE.2: /true(?![A-Za-z0-9_$\-])/i
FALSE.2: /false(?![A-Za-z0-9_$\-])/i
NULL.2: /null(?![A-Za-z0-9_$\-])/i
NUMBER: /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![A-Za-z0-9_.])/
STRING: /"(?:[^"\\]|\\.)*"/s

%ignore /[ \t\r\n]+/
"""


def _column(token: Token) -> int:
    """Where a token starts (1-based); lark always knows for the tokens we report."""
    return token.column if token.column is not None else 1


class _Problem(Exception):
    """A syntax problem found while building the AST (raised from grammar callbacks)."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _split_attrpath(token: Token) -> AttrPath:
    """Split one ATTRPATH token into (URN, name, sub): the URN ends at the last colon."""
    text = str(token)
    urn: str | None = None
    if ":" in text:
        urn, _, text = text.rpartition(":")
    attr, _, sub = text.partition(".")
    return AttrPath(urn, attr, sub or None)


def _no_sub_before_filter(token: Token) -> AttrPath:
    path = _split_attrpath(token)
    if path.sub is not None:
        raise _Problem(
            _column(token),
            f"a [...] filter applies to a multi-valued attribute, not to the sub-attribute "
            f"'{token}'",
        )
    return path


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    """Grammar callbacks run inline by the LALR parser: no parse tree, no recursion."""

    def filter_start(self, node: Filter) -> Filter:
        return node

    def compare(self, path: Token, op: Token, value: Any) -> Compare:
        return Compare(_split_attrpath(path), str(op).lower(), value)

    def present(self, path: Token, _pr: Token) -> Present:
        return Present(_split_attrpath(path))

    def and_(self, left: Filter, _op: Token, right: Filter) -> And:
        return And(left, right)

    def or_(self, left: Filter, _op: Token, right: Filter) -> Or:
        return Or(left, right)

    def not_(self, _not: Token, inner: Filter) -> Not:
        return Not(inner)

    def value_path(self, path: Token, inner: Filter) -> ValuePath:
        return ValuePath(_no_sub_before_filter(path), inner)

    def entra_compare(
        self, path: Token, inner: Filter, sub: Token, op: Token, value: Any
    ) -> ValuePath:
        # Entra: emails[type eq "work"].value eq "x" means one email matching both.
        leaf = Compare(AttrPath(None, str(sub)[1:], None), str(op).lower(), value)
        return ValuePath(_no_sub_before_filter(path), And(inner, leaf))

    def entra_present(self, path: Token, inner: Filter, sub: Token, _pr: Token) -> ValuePath:
        leaf = Present(AttrPath(None, str(sub)[1:], None))
        return ValuePath(_no_sub_before_filter(path), And(inner, leaf))

    def patch_attr(self, path: Token) -> PatchPath:
        return PatchPath(_split_attrpath(path), None, None)

    def patch_value(self, path: Token, inner: Filter) -> PatchPath:
        return PatchPath(_no_sub_before_filter(path), inner, None)

    def patch_value_sub(self, path: Token, inner: Filter, sub: Token) -> PatchPath:
        return PatchPath(_no_sub_before_filter(path), inner, str(sub)[1:])

    def value(self, token: Token) -> str | int | float | bool | None:
        kind = token.type
        if kind == "STRING":
            try:
                text: str = json.loads(str(token), strict=False)
            except ValueError:
                message = f"invalid escape in string {_shorten(token)}"
                raise _Problem(_column(token), message) from None
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # "\ud800" decodes, but no UTF-8 text (so no JSON answer) can hold it.
                message = (f"string {_shorten(token)} holds a lone surrogate "
                           "(a \\uD800-\\uDFFF escape outside a valid pair)")
                raise _Problem(_column(token), message) from None
            return text
        if kind == "NUMBER":
            return _number(token)
        if kind == "TRUE":
            return True
        if kind == "FALSE":
            return False
        return None


def _number(token: Token) -> int | float:
    text = str(token)
    try:
        if any(c in text for c in ".eE"):
            number = float(text)
            if number in (float("inf"), float("-inf")):
                raise ValueError(text)
            return number
        return int(text)
    except ValueError:
        raise _Problem(_column(token), f"number {_shorten(token)} is out of range") from None


class _History(threading.local):
    """The tokens lexed so far in this thread's current parse, for error messages."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []


_history = _History()


def _remember(token: Token) -> Token:
    _history.tokens.append(token)
    return token


_TERMINALS = (
    "ATTRPATH",
    "SUBATTR",
    "COMPAREOP",
    "PR",
    "AND",
    "OR",
    "NOT",
    "TRUE",
    "FALSE",
    "NULL",
    "NUMBER",
    "STRING",
    "LPAR",
    "RPAR",
    "LSQB",
    "RSQB",
)

_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    lexer="contextual",
    start=["filter_start", "path_start"],
    transformer=_Build(),
    maybe_placeholders=False,
    lexer_callbacks={name: _remember for name in _TERMINALS},
)


# --------------------------------------------------------------------------- errors

_VALUE = "a value (a quoted string, a number, true, false or null)"
_DESCRIPTIONS = {
    "ATTRPATH": "an attribute path",
    "NOT": "'not ('",
    "LPAR": "'('",
    "COMPAREOP": "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
    "PR": "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
    "STRING": _VALUE,
    "NUMBER": _VALUE,
    "TRUE": _VALUE,
    "FALSE": _VALUE,
    "NULL": _VALUE,
    "LSQB": "'['",
    "SUBATTR": "'.' and a sub-attribute",
    "AND": "'and'",
    "OR": "'or'",
    "RPAR": "')'",
    "RSQB": "']'",
    "$END": "end of input",
}
_ORDER = list(dict.fromkeys(_DESCRIPTIONS.values()))


def _describe_expected(names: set[str] | frozenset[str]) -> str:
    found = {_DESCRIPTIONS.get(n, n) for n in names}
    items = [d for d in _ORDER if d in found] + sorted(found - set(_ORDER))
    if not items:
        return "something else"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _shorten(text: str, limit: int = 80) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


_WORD = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\s()\[\]"]+|.', re.S)


def _found_at(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of input"
    if text[pos] == '"' and not re.match(r'"(?:[^"\\]|\\.)*"', text[pos:], re.S):
        return f"an unterminated string {_shorten(text[pos:])}"
    match = _WORD.match(text, pos)
    return _shorten(match.group(0) if match else text[pos])


def _accepted_at_error(tokens: list[Token], start: str) -> set[str] | None:
    """The terminals the grammar accepts after `tokens`, computed exactly.

    LALR merges lookaheads of states that share a rule, so the sets lark
    reports can name `]` outside any brackets; replaying the tokens that were
    accepted and asking the resulting state is precise. Error path only.
    """
    try:
        parser = _PARSER.parse_interactive("", start=start)
        for token in tokens:
            parser.feed_token(token)
        return set(parser.accepts())  # type: ignore[no-untyped-call]  # lark leaves it untyped
    except Exception:  # diagnostics must never mask the real error
        return None


def _explain(error: UnexpectedInput, text: str, start: str) -> tuple[int, str]:
    """(1-based column, 'expected X after Y, found Z') for a lark error."""
    if isinstance(error, UnexpectedToken):
        token = error.token
        at_end = token.type == "$END"
        pos = len(text) if at_end or token.start_pos is None else token.start_pos
        expected = set(error.expected)
        found = "end of input" if at_end else _found_at(text, pos)
    elif isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream if isinstance(error.pos_in_stream, int) else 0
        expected = set(error.allowed or ())
        found = _found_at(text, pos)
    else:  # pragma: no cover - LALR raises only the two kinds above
        pos, expected, found = 0, set(), "something unexpected"
    seen = [t for t in _history.tokens if t.end_pos is not None and t.end_pos <= pos]
    precise = _accepted_at_error(seen, start)
    if precise:
        expected = precise
    expected.discard("<END-OF-FILE>")
    previous = seen[-1] if seen else None
    if previous is not None and previous.type == "ATTRPATH" and previous.lower() == "not":
        return _column(previous), "'not' must be followed by a filter in parentheses: not (...)"
    depth = sum(t.type == "LSQB" for t in seen) - sum(t.type == "RSQB" for t in seen)
    if found == "'['" and depth > 0:
        return pos + 1, "a [...] filter cannot be nested inside another one"
    after = f" after {_shorten(previous)}" if previous is not None else ""
    return pos + 1, f"expected {_describe_expected(expected)}{after}, found {found}"


def _depth(node: Filter) -> int:
    """Nesting depth, computed without recursion so a hostile filter cannot blow the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(current, (And, Or)):
            stack.append((current.left, level + 1))
            stack.append((current.right, level + 1))
        elif isinstance(current, Not):
            stack.append((current.inner, level + 1))
        elif isinstance(current, ValuePath):
            stack.append((current.filter, level + 1))
    return deepest


def _parse(text: str, start: str, what: str) -> Any:
    if not isinstance(text, str):
        raise ScimError(400, f"Invalid {what}: expected a string", _scim_type(what))
    _history.tokens = []
    try:
        return _PARSER.parse(text, start=start)
    except _Problem as problem:
        detail = f"Invalid {what} at column {problem.column}: {problem.message}"
        raise _error(what, detail) from None
    except UnexpectedInput as error:
        column, message = _explain(error, text, start)
        raise _error(what, f"Invalid {what} at column {column}: {message}") from None
    except LarkError as error:  # pragma: no cover - defensive: never let lark escape
        raise _error(what, f"Invalid {what}: {error}") from None
    finally:
        _history.tokens = []


def _scim_type(what: str) -> str:
    return "invalidFilter" if what == "filter" else "invalidPath"


def _error(what: str, detail: str) -> ScimError:
    return invalid_filter(detail) if what == "filter" else invalid_path(detail)


# --------------------------------------------------------------------------- public API


# The filter an IdP sends before every create, `userName eq "x"` with a new "x" each
# time: the cache never hits it, and a grammar parse costs more than the rest of the
# lookup. A string without a backslash or quote is its own value, so only the path
# needs the grammar, and that is parsed once per path.
_SIMPLE_EQ = re.compile(r'(?P<path>[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z][A-Za-z0-9_\-]*)?) '
                        r'eq "(?P<value>[^"\\]*)"')


class ParseCache:
    """Successful parses by text, least recently used first out, bounded in bytes.

    IdPs repeat the same few filters endlessly, so parses are worth keeping;
    but a cache counted in entries alone lets a caller fill it with a thousand
    large distinct texts. The tree a text parses into grows with the text, so
    the text's length stands for an entry's cost. Failures are never stored:
    they raise before anything is added.
    """

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.bytes = 0
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()  # check.py's tool may parse from threads

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> Any | None:
        with self._lock:
            found = self._entries.get(text)
            if found is not None:
                self._entries.move_to_end(text)
            return found

    def put(self, text: str, value: Any) -> None:
        size = len(text)
        if size > self.max_bytes // 16:  # one huge text must not evict everything else
            return
        with self._lock:
            if text in self._entries:
                return
            self._entries[text] = value
            self.bytes += size
            while self.bytes > self.max_bytes or len(self._entries) > self.max_entries:
                old, _ = self._entries.popitem(last=False)
                self.bytes -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


FILTER_CACHE = ParseCache(max_bytes=2_000_000, max_entries=1024)
PATH_CACHE = ParseCache(max_bytes=1_000_000, max_entries=1024)
EQUALITY_CACHE = ParseCache(max_bytes=100_000, max_entries=256)  # `path eq ""`, by path
_DEFAULT_BUDGET = FilterBudget()


def parse_filter(text: str, budget: FilterBudget = _DEFAULT_BUDGET) -> Filter:
    """Parse a SCIM filter; texts over `budget` are refused before the parser sees them."""
    if not isinstance(text, str):
        raise invalid_filter("Invalid filter: expected a string")
    check_filter_text(text, budget)
    cached: Filter | None = FILTER_CACHE.get(text)
    if cached is not None:
        return cached
    simple = _SIMPLE_EQ.fullmatch(text)
    if simple is not None and simple["value"].isprintable():
        # Okta's lookup (`userName eq "x"`) carries a new value every time: skip the grammar.
        template = _equality_on(simple["path"])
        if isinstance(template, Compare) and template.op == "eq" and template.value == "":
            shortcut = Compare(template.path, "eq", simple["value"])
            FILTER_CACHE.put(text, shortcut)
            return shortcut
    node: Filter = _parse(text, "filter_start", "filter")
    if _depth(node) > MAX_DEPTH:
        raise invalid_filter(f"Invalid filter: nested more than {MAX_DEPTH} levels deep")
    FILTER_CACHE.put(text, node)
    return node


def _equality_on(path: str) -> Filter | None:
    """`path eq ""` as the grammar parses it (cached), or None when it refuses the path
    (the full parse then reports the error, with its own columns)."""
    node: Filter | None = EQUALITY_CACHE.get(path)
    if node is None:
        try:
            node = _parse(f'{path} eq ""', "filter_start", "filter")
        except ScimError:
            return None
        EQUALITY_CACHE.put(path, node)
    return node


_SCHEMA_URNS = frozenset(u.casefold() for u in (CORE_USER, ENTERPRISE_USER, CORE_GROUP))


def parse_patch_path(text: str, budget: FilterBudget = _DEFAULT_BUDGET) -> PatchPath:
    """Parse a PATCH operation's `path` (RFC 7644 §3.5.2); errors are invalidPath."""
    if not isinstance(text, str):
        raise invalid_path("Invalid path: expected a string")
    if text.strip().casefold() in _SCHEMA_URNS:
        raise invalid_path(
            f"Invalid path: {_shorten(text.strip())} is a schema URN, not an attribute path"
        )
    check_filter_text(text, budget, "path")
    cached: PatchPath | None = PATH_CACHE.get(text)
    if cached is not None:
        return cached
    path: PatchPath = _parse(text, "path_start", "path")
    if path.filter is not None and _depth(path.filter) > MAX_DEPTH:
        raise invalid_path(f"Invalid path: nested more than {MAX_DEPTH} levels deep")
    PATH_CACHE.put(text, path)
    return path


def _path_text(path: AttrPath) -> str:
    name = path.attr + (f".{path.sub}" if path.sub is not None else "")
    return f"{path.urn}:{name}" if path.urn is not None else name


def _value_text(value: str | int | float | bool | None) -> str:
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} has no SCIM filter spelling")
        return repr(value)
    raise TypeError(f"not a SCIM filter value: {value!r}")


def to_text(node: Filter | AttrPath | PatchPath) -> str:
    """Canonical text of a filter, path or PATCH path; parsing it gives `node` back.

    Operators and keywords are lower-case, strings JSON-quoted, and parentheses
    appear only where precedence (not > and > or, both left-associative)
    needs them.
    """
    if isinstance(node, AttrPath):
        return _path_text(node)
    if isinstance(node, PatchPath):
        if node.filter is None:
            return _path_text(node.path)
        sub = f".{node.sub}" if node.sub is not None else ""
        return f"{_path_text(node.path)}[{to_text(node.filter)}]{sub}"
    if isinstance(node, Compare):
        return f"{_path_text(node.path)} {node.op} {_value_text(node.value)}"
    if isinstance(node, Present):
        return f"{_path_text(node.path)} pr"
    if isinstance(node, ValuePath):
        return f"{_path_text(node.path)}[{to_text(node.filter)}]"
    if isinstance(node, Not):
        return f"not ({to_text(node.inner)})"
    if isinstance(node, And):
        left = _wrap(node.left, isinstance(node.left, Or))
        right = _wrap(node.right, isinstance(node.right, (And, Or)))
        return f"{left} and {right}"
    if isinstance(node, Or):
        return f"{to_text(node.left)} or {_wrap(node.right, isinstance(node.right, Or))}"
    raise TypeError(f"not a SCIM filter node: {node!r}")


def _wrap(node: Filter, needed: bool) -> str:
    text = to_text(node)
    return f"({text})" if needed else text
