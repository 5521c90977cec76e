"""The IdP setup guides stay backed by tests (docs/setup/*.md, README).

Every step of a guide names the end-to-end test that replays the requests it
makes the IdP send (`tests/...py::test_name`), or says it makes none. These
checks fail when a named test is renamed or removed, or a step loses its
test, so a guide can't silently drift from what is proven.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDES = sorted((ROOT / "docs" / "setup").glob("*.md"))
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
# A numbered step ("1. ..."), up to the next step or heading.
STEP = re.compile(r"^\d+\. .*?(?=^\d+\. |^#|\Z)", re.S | re.M)
NO_REQUEST = re.compile(r"no\s+(further\s+)?request")


@cache
def defined_tests(path: str) -> frozenset[str]:
    """Names of the module-level test functions of a test file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    )


def broken(text: str) -> list[str]:
    out = []
    for path, name in REFERENCE.findall(text):
        if not (ROOT / path).is_file():
            out.append(f"{path}::{name} (no such file)")
        elif name not in defined_tests(path):
            out.append(f"{path}::{name} (no such test)")
    return out


def test_there_is_a_guide_for_each_idp():
    assert [g.name for g in GUIDES] == ["entra.md", "okta.md", "onelogin-jumpcloud.md"]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_test_a_guide_names_exists(guide: Path):
    text = guide.read_text(encoding="utf-8")
    assert REFERENCE.search(text), f"{guide.name} names no test"
    assert broken(text) == []


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_guide_step_names_its_test_or_says_it_sends_nothing(guide: Path):
    steps = STEP.findall(guide.read_text(encoding="utf-8"))
    assert steps, f"{guide.name} has no numbered steps"
    bare = [s.splitlines()[0] for s in steps
            if not REFERENCE.search(s) and not NO_REQUEST.search(s)]
    assert bare == [], f"{guide.name}: steps without a test: {bare}"


def test_readme_points_at_every_guide_and_its_test_references_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"](docs/setup/{guide.name})" in readme, guide.name
    assert broken(readme) == []


def test_the_checks_catch_a_renamed_test():
    assert broken("tests/e2e/okta/test_okta_users.py::test_no_such_scenario") == [
        "tests/e2e/okta/test_okta_users.py::test_no_such_scenario (no such test)"]
    assert broken("tests/e2e/nowhere/test_gone.py::test_x") == [
        "tests/e2e/nowhere/test_gone.py::test_x (no such file)"]
