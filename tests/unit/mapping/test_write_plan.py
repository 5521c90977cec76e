"""The write plan: the backend calls a user write makes (the gateway and the check tool share it).

Which PATCH bodies are a bare status action: only `active`, and only where the
mapping allows; and what a create or an update sends.
"""

from __future__ import annotations

import pytest

from gateway.mapping import Field
from gateway.mapping.write_plan import WritePlan, plan_create, plan_status_patch, plan_update
from mappings.default import USER


def op(value, path=None, name="replace") -> list[dict]:
    return [{"op": name, "value": value} if path is None else
            {"op": name, "path": path, "value": value}]


@pytest.mark.parametrize(("operations", "action"), [
    (op({"active": False}), "deactivate"),
    (op({"active": True}), "reactivate"),
    (op(False, "active"), "deactivate"),
    (op(True, "ACTIVE", "add"), "reactivate"),
])
def test_a_lone_active_is_the_status_action(operations, action):
    assert plan_status_patch(USER, operations) == WritePlan(action=action)


@pytest.mark.parametrize("operations", [
    op({"active": False, "title": "x"}),
    op({"active": "false"}),
    op(None, "active", "remove"),
    op(False, "urn:ietf:params:scim:schemas:core:2.0:User:active"),
    op({"active": False}) + op({"active": True}),
    [],
])
def test_anything_else_takes_the_general_path(operations):
    assert plan_status_patch(USER, operations) is None


def test_a_mapping_that_guards_or_derives_takes_the_general_path():
    assert plan_status_patch(USER.read_only("active"), op({"active": False})) is None
    assert plan_status_patch(USER.without("active"), op({"active": False})) is None
    derived = USER.extend(Field("title", "title", fallback=lambda resource: "Staff"))
    assert plan_status_patch(derived, op({"active": False})) is None


RECORD = {"id": 7, "email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace",
          "display_name": "Ada Lovelace", "title": None, "department": None,
          "employee_number": None, "cost_center": None, "manager_id": None, "phone": None,
          "locale": None, "timezone": None, "sso_id": None, "status": "active",
          "lock_version": 4}
ADA = {"userName": "ada@acme.example", "name": {"givenName": "Ada", "familyName": "Lovelace"},
       "displayName": "Ada Lovelace", "active": True}


def test_an_inactive_create_is_the_create_then_deactivate():
    plan = plan_create(USER, {**ADA, "active": False})
    assert plan.action == "deactivate" and "status" not in (plan.create or {})
    assert plan_create(USER, ADA).action is None


def test_an_update_sends_only_what_changed_and_the_action_when_active_changed():
    current = USER.to_scim(RECORD, "https://gw.example")
    plan = plan_update(USER, RECORD, current, {**current, "title": "Countess", "active": False})
    assert plan == WritePlan(update={"title": "Countess"}, action="deactivate")
    assert plan_update(USER, RECORD, current, current).empty
