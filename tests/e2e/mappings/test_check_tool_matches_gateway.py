"""What `python -m gateway.mapping.check` predicts is what the gateway does.

Each example module with its shipped sample: the create body the tool prints
is what lands in the backend, and the resource it says the record reads back
as is what the gateway answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.mapping import check
from tests.conftest import World

SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"
CASES = {
    "mappings.examples.acme": "acme-create.json",
    "mappings.examples.initech": "initech-create.json",
    "mappings.examples.globex": "globex-create.json",
    "mappings.examples.umbrella": "umbrella-create.json",
    "mappings.examples.hooli": "okta-create.json",
}


@pytest.fixture
def mapping_orgs(request) -> dict:
    return {"a": request.param}


def _without_id_and_meta(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


@pytest.mark.parametrize("mapping_orgs", list(CASES), indirect=True)
async def test_check_prediction_matches_the_gateway(world: World, mapping_orgs: dict):
    module = mapping_orgs["a"]
    body = json.loads((SAMPLES / CASES[module]).read_text())
    mapping = check.load(module).user
    predicted = check.plan_create(mapping, body)
    (call,) = predicted.calls
    assert call.method == "POST" and call.path == "/internal/v1/orgs/{org_id}/employees"

    status, created, _ = await world.a.post("/Users", body)
    assert status == 201, created
    record = await world.backend.employee(world.org_a, created["id"])
    assert {k: record[k] for k in call.body} == call.body
    expected = mapping.to_scim(predicted.record, check.BASE_URL)
    assert _without_id_and_meta(created) == _without_id_and_meta(expected)
