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


PATCHES = ("entra-patch-name.json", "okta-deactivate.json")


def _rendered(call: check.BackendCall, org_id: int, record_id: int) -> str:
    return f"{call.method} {call.path.format(org_id=org_id, id=record_id)}"


async def _writes(world: World) -> list[str]:
    """The backend calls that changed something, since the log was cleared."""
    return [c for c in await world.backend.calls() if not c.startswith("GET ")]


async def _check_update(world: World, mapping, record: dict, predicted: check.Outcome,
                        status: int, answered: dict) -> None:
    assert status == 200, answered
    assert await _writes(world) == [
        _rendered(call, world.org_a, record["id"]) for call in predicted.calls]
    after = await world.backend.employee(world.org_a, record["id"])
    for call in predicted.calls:
        if call.body is not None:
            assert {k: after[k] for k in call.body} == call.body
    expected = mapping.to_scim(predicted.record, check.BASE_URL)
    assert _without_id_and_meta(answered) == _without_id_and_meta(expected)


@pytest.mark.parametrize("mapping_orgs", list(CASES), indirect=True)
async def test_check_prediction_of_a_patch_and_a_put_matches_the_gateway(
    world: World, mapping_orgs: dict
):
    """Beyond create: PATCH (a rename, a bare deactivation) and PUT make the predicted calls."""
    module = mapping_orgs["a"]
    mapping = check.load(module).user
    status, created, _ = await world.a.post(
        "/Users", json.loads((SAMPLES / CASES[module]).read_text()))
    assert status == 201, created
    for name in PATCHES:
        body = json.loads((SAMPLES / name).read_text())
        record = await world.backend.employee(world.org_a, created["id"])
        predicted = check.plan_patch(mapping, record, body)
        assert predicted.calls, f"{name} changes something"
        await world.backend.clear_log()
        status, answered, _ = await world.a.patch(f"/Users/{created['id']}", body)
        await _check_update(world, mapping, record, predicted, status, answered)

    record = await world.backend.employee(world.org_a, created["id"])
    status, current, _ = await world.a.get(f"/Users/{created['id']}")
    assert status == 200, current
    put_body = {**current, "active": True, "displayName": "Someone Else"}
    predicted = check.plan_replace(mapping, record, put_body)
    assert [c.method for c in predicted.calls][-1:] == ["POST"]  # the reactivation
    await world.backend.clear_log()
    status, answered, _ = await world.a.put(f"/Users/{created['id']}", put_body)
    await _check_update(world, mapping, record, predicted, status, answered)
