"""What one request may cost, checked before the work it would cause.

A filter is parsed by an LALR parser and a body is checked by JSON Schema:
both cost time in proportion to their size, on the event loop every other
request shares. So their size is measured first, by scans far cheaper than
the work they guard (a regex over the filter text, a bounded walk of the
body), and anything over a limit is a `400` naming the limit's config key.
The limits themselves are `[limits]` in the config (`gateway.config.LimitsConfig`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.scim.errors import ScimError


@dataclass(frozen=True)
class FilterBudget:
    """The largest filter accepted: characters, and nodes (comparisons and and/or/not/[ ])."""

    max_length: int = 10_000
    max_nodes: int = 200


@dataclass(frozen=True)
class BodyBudget:
    """The largest body accepted: values in all, members of one object, PATCH operations."""

    max_values: int = 20_000
    max_attributes: int = 200
    max_operations: int = 1_000


# Quoted strings (skipped: their words are data), then every word or bracket that makes a
# node: an operator (one per comparison), a logical keyword, or the `[` of a value filter.
# An attribute that happens to be called "and" counts too: an over-count, never an under-count.
_NODE_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"|\b(?:and|or|not|eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b|\[', re.I | re.S)


def count_filter_nodes(text: str, stop_after: int) -> int:
    """Nodes a filter will parse into (at least), counting no further than `stop_after` + 1."""
    nodes = 0
    for match in _NODE_TOKENS.finditer(text):
        if match.group(0)[0] != '"':
            nodes += 1
            if nodes > stop_after:
                break
    return nodes


def check_filter_text(text: str, budget: FilterBudget, what: str = "filter") -> None:
    """400 invalidFilter (invalidPath for a PATCH path) when `text` is over the budget."""
    scim_type = "invalidFilter" if what == "filter" else "invalidPath"
    if len(text) > budget.max_length:
        raise ScimError(400, f"The {what} is {len(text)} characters long, more than the limit "
                             f"of {budget.max_length} (limits.filter_max_length)", scim_type)
    if count_filter_nodes(text, budget.max_nodes) > budget.max_nodes:
        raise ScimError(400, f"The {what} has more than {budget.max_nodes} comparisons and "
                             f"operators (limits.filter_max_nodes)", scim_type)


def check_body(body: object, budget: BodyBudget, max_depth: int = 32) -> int:
    """The number of values in a parsed JSON body; 400 invalidSyntax when over the budget.

    One walk, without recursion, that stops at the first excess, so a hostile
    body costs no more than `max_values` steps. It also refuses nesting deeper
    than `max_depth`, which keeps the recursive walks after it (normalising,
    validation) safe.
    """
    seen = 0
    stack: list[tuple[object, int]] = [(body, 1)]
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > budget.max_values:
            raise ScimError(400, f"The request body holds more than {budget.max_values} values "
                                 f"(limits.body_max_values)", "invalidSyntax")
        if isinstance(item, dict):
            if len(item) > budget.max_attributes:
                raise ScimError(400, f"An object in the request body has {len(item)} "
                                     f"attributes, more than the limit of "
                                     f"{budget.max_attributes} (limits.body_max_attributes)",
                                "invalidSyntax")
            if depth > max_depth:
                raise _too_deep(max_depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                raise _too_deep(max_depth)
            stack.extend((child, depth + 1) for child in item)
    return seen


def _too_deep(max_depth: int) -> ScimError:
    return ScimError(400, f"The request body nests deeper than {max_depth} levels",
                     "invalidSyntax")


def check_patch(body: dict[str, Any], budget: BodyBudget, filters: FilterBudget) -> None:
    """A PatchOp body's operation count and path sizes, before it is normalised or validated."""
    operations = next((v for k, v in body.items()
                       if isinstance(k, str) and k.casefold() == "operations"), None)
    if not isinstance(operations, list):
        return  # validation names what is wrong with it
    if len(operations) > budget.max_operations:
        raise ScimError(400, f"The PATCH has {len(operations)} operations, more than the limit "
                             f"of {budget.max_operations} (limits.patch_max_operations)",
                        "tooMany")
    for operation in operations:
        if isinstance(operation, dict):
            path = next((v for k, v in operation.items()
                         if isinstance(k, str) and k.casefold() == "path"), None)
            if isinstance(path, str):
                check_filter_text(path, filters, "path")
