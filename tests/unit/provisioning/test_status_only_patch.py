"""Which PATCH bodies are a bare status action: only `active`, and only where the mapping allows."""

from __future__ import annotations

import pytest

from gateway.mapping import Field
from gateway.provisioning.users import _status_only
from mappings.default import USER


def op(value, path=None, name="replace") -> list[dict]:
    return [{"op": name, "value": value} if path is None else
            {"op": name, "path": path, "value": value}]


@pytest.mark.parametrize(("operations", "status"), [
    (op({"active": False}), "deactivated"),
    (op({"active": True}), "active"),
    (op(False, "active"), "deactivated"),
    (op(True, "ACTIVE", "add"), "active"),
])
def test_a_lone_active_is_the_status_action(operations, status):
    assert _status_only(operations, USER) == status


@pytest.mark.parametrize("operations", [
    op({"active": False, "title": "x"}),
    op({"active": "false"}),
    op(None, "active", "remove"),
    op(False, "urn:ietf:params:scim:schemas:core:2.0:User:active"),
    op({"active": False}) + op({"active": True}),
    [],
])
def test_anything_else_takes_the_general_path(operations):
    assert _status_only(operations, USER) is None


def test_a_mapping_that_guards_or_derives_takes_the_general_path():
    assert _status_only(op({"active": False}), USER.read_only("active")) is None
    assert _status_only(op({"active": False}), USER.without("active")) is None
    derived = USER.extend(Field("title", "title", fallback=lambda resource: "Staff"))
    assert _status_only(op({"active": False}), derived) is None
