"""A translator that crashes is a gateway fault (logged 500), never the IdP's 400."""

from __future__ import annotations

import logging

import pytest

from tests.bodies import okta_user
from tests.conftest import World


@pytest.fixture
def mapping_orgs() -> dict:
    return {"a": "tests.e2e.mappings.buggy_translator"}


async def test_a_crashing_translator_is_a_logged_500_not_an_invalid_value(
    world: World, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR)
    status, body, _ = await world.a.post("/Users", {**okta_user(), "title": "Engineer"})
    assert status == 500, body
    assert body.get("scimType") != "invalidValue"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged, "the fault must be logged with its traceback"
    assert any("translator of 'title'" in str(r.exc_info[1]) for r in logged)
    # A value the translator knows still works: only the bug is a fault.
    status, body, _ = await world.a.post("/Users", {**okta_user(), "title": "known"})
    assert status == 201, body
