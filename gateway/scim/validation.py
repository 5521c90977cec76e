"""Request bodies checked against JSON Schema (schemas/validation/*.schema.json).

The documents say what shape a body must have; this module compiles them
once at import and turns the most relevant failure into a `ScimError` that
names the attribute the way SCIM writes paths (`name.givenName`,
`emails[0].value`, `urn:...:enterprise:2.0:User:manager.value`), so an
IdP admin can find the field in their mapping.

Two annotations in the documents steer the error: `x-scimType` (inherited by
everything below the node carrying it; otherwise `required` failures are
`invalidSyntax` and the rest `invalidValue`) and `x-scimDetail` (message
templates for the failing node, by keyword, `{path}` being the SCIM path).

Every body first goes through a compiled validator of the same documents
(jsonschema-rs: about a microsecond where jsonschema takes 130-160 µs, a sixth
of a PUT's or PATCH's CPU). A body it accepts is accepted; anything else is
judged by jsonschema, which alone words the error, so a body is refused only
when jsonschema refuses it. The two differ in their regex dialect (ECMA 262
there, Python's `re` here): `_FAST_PATTERNS` respells each pattern so that the
compiled validator never accepts what `re` refuses, and a property test
(tests/property/test_validation_agreement.py) holds them to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from gateway.scim.errors import ScimError

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "validation"
KINDS = ("User", "Group", "PatchOp", "SearchRequest")
# Errors looked at before choosing the one to report: a body with 200,000 bad values
# must not cost 200,000 error objects when the answer names one of them.
MAX_ERRORS = 5

_ARTICLE = {
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
}


# Patterns whose ECMA 262 reading is looser than Python's: `\\S` there matches U+001C-U+001F
# and U+0085, which Python's `re` counts as white space. The spelled-out class means the
# same in both dialects.
_FAST_PATTERNS = {r"\S": r"[^\s\x1c-\x1f\x85]"}


def _load() -> dict[str, Draft202012Validator]:
    docs = [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS_DIR.glob("*.schema.json"))]
    registry: Registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs
    )
    by_kind = {doc["$id"].rsplit("/", 1)[-1].removesuffix(".schema.json"): doc for doc in docs}
    validators = {}
    for kind in KINDS:
        Draft202012Validator.check_schema(by_kind[kind])
        root = by_kind[kind]
        inlined = _inline_refs(root, registry.resolver(base_uri=root["$id"]))
        validators[kind] = Draft202012Validator(inlined, registry=registry)
    return validators


# Keywords whose values are data, not schemas: a {"$ref": ...} there is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def _inline_refs(node: Any, resolver: Any, depth: int = 0) -> Any:
    """A copy of a schema with each plain `{"$ref": ...}` replaced by what it points at.

    jsonschema resolves a `$ref` (registry lookup, JSON pointer) on every
    validation; done once here it halves the cost of checking a User body.
    Errors are unchanged: their schema paths never contained the `$ref` hop.
    A copied document root keeps its `$id`, so references left inside it
    (none today) still resolve against it; cycles stop at a fixed depth.
    """
    if isinstance(node, list):
        return [_inline_refs(item, resolver, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) == 1 and depth < 16:
        target = resolver.lookup(ref)
        return _inline_refs(target.contents, target.resolver, depth + 1)
    return {key: value if key in _DATA_KEYWORDS else _inline_refs(value, resolver, depth)
            for key, value in node.items()}


def _fast_schema(node: Any) -> Any:
    """The inlined schema with each pattern in `_FAST_PATTERNS` respelled for jsonschema-rs."""
    if isinstance(node, list):
        return [_fast_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: (_FAST_PATTERNS.get(value, value) if key == "pattern" and isinstance(value, str)
                  else value if key in _DATA_KEYWORDS else _fast_schema(value))
            for key, value in node.items()}


_VALIDATORS = _load()
_FAST = {kind: jsonschema_rs.Draft202012Validator(_fast_schema(validator.schema))
         for kind, validator in _VALIDATORS.items()}


def _fast_accepts(kind: str, body: dict[str, Any]) -> bool:
    """The compiled validator's verdict; a body it cannot take is left to jsonschema."""
    try:
        return bool(_FAST[kind].is_valid(body))
    except (ValueError, TypeError, OverflowError):
        return False


def validate(kind: str, body: object) -> None:
    """Check a request body of `kind` (User, Group, PatchOp, SearchRequest).

    Raises ScimError(400): `invalidSyntax` when the body is not an object,
    misses a required member or has malformed Operations; `invalidValue`
    when a value has the wrong type or is out of range.
    """
    validator = _VALIDATORS[kind]  # an unknown kind is a programming error: KeyError
    if not isinstance(body, dict):
        raise ScimError(400, f"A {kind} request body must be a JSON object", "invalidSyntax")
    if _fast_accepts(kind, body):
        return
    error = best_match(islice(validator.iter_errors(body), MAX_ERRORS))
    if error is None:
        return
    raise ScimError(400, _detail(error), _scim_type(error, validator.schema))


def scim_path(parts: Iterable[str | int]) -> str:
    """A JSON instance path as SCIM writes it: `emails[0].value`, `urn:...:User:manager.value`."""
    out = ""
    after_urn = False
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not out:
            out = part
        else:
            out += (":" if after_urn else ".") + part
        after_urn = isinstance(part, str) and part.lower().startswith("urn:")
    return out


def _detail(error: ValidationError) -> str:
    path = scim_path(error.absolute_path)
    templates = error.schema.get("x-scimDetail", {}) if isinstance(error.schema, dict) else {}
    template = templates.get(error.validator)
    if template:
        return str(template.format(path=path))
    value: Any = error.validator_value
    match error.validator:
        case "required":
            missing = next((name for name in value if name not in error.instance), value[0])
            return f"Attribute '{scim_path([*error.absolute_path, missing])}' is required"
        case "type":
            types = [t for t in ([value] if isinstance(value, str) else value) if t != "null"]
            wanted = " or ".join(_ARTICLE.get(t, t) for t in types)
            return f"Attribute '{path}' must be {wanted}"
        case "enum":
            return f"Attribute '{path}' must be one of: {', '.join(map(str, value))}"
        case "const":
            return f"Attribute '{path}' must be {value!r}"
        case "minLength" | "minItems":
            return f"Attribute '{path}' must not be empty"
        case _:
            return f"Attribute '{path}' is invalid: {error.message}"


def _scim_type(error: ValidationError, root: dict[str, Any]) -> str:
    """The deepest `x-scimType` on the way to the failing node, else by keyword.

    `root` has its references inlined (`_inline_refs`), so the error's schema
    path is a plain walk down it.
    """
    found = None
    node: Any = root
    for key in error.absolute_schema_path:
        if isinstance(node, dict):
            found = node.get("x-scimType", found)
        node = node[key]
    if isinstance(node, dict):
        found = node.get("x-scimType", found)
    if found:
        return str(found)
    return "invalidSyntax" if error.validator == "required" else "invalidValue"
