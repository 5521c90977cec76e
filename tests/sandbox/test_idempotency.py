"""Idempotency-Key on creates: the first answer is replayed for 24 h, per org."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.app import SANDBOX_KEY, create_app
from tests.sandbox.conftest import Api, FakeClock

ADA = {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace"}


def _key(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def _count(api: Api, base: str) -> int:
    return (await api.call("GET", f"{base}/employees")).body["meta"]["total"]


async def test_idempotent_create_replays_first_answer(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    second = await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    assert first.status == second.status == 201
    assert second.body == first.body
    assert await _count(api, base) == 1


async def test_replay_ignores_a_different_body(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    other = {**ADA, "email": "bob@acme.example"}
    second = await api.call("POST", f"{base}/employees", other, headers=_key("k1"))
    assert second.body == first.body
    assert await _count(api, base) == 1


async def test_replay_returns_the_record_as_first_created(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    await api.call("PATCH", f"{base}/employees/{first.body['id']}", {"title": "Countess"})
    second = await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    assert second.body["title"] is None
    assert second.body["lock_version"] == 1


async def test_create_without_key_is_not_deduplicated(api: Api, base: str) -> None:
    await api.call("POST", f"{base}/employees", ADA)
    second = await api.call("POST", f"{base}/employees", ADA)
    assert second.status == 409


async def test_different_keys_create_separately(api: Api, base: str) -> None:
    await api.call("POST", f"{base}/employees", ADA, headers=_key("k1"))
    other = {**ADA, "email": "bob@acme.example"}
    second = await api.call("POST", f"{base}/employees", other, headers=_key("k2"))
    assert second.status == 201
    assert await _count(api, base) == 2


async def test_invalid_answer_is_replayed(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", {**ADA, "locale": "x_y"}, headers=_key("k"))
    assert first.status == 422
    second = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert second.status == 422
    assert second.body == first.body
    assert await _count(api, base) == 0


async def test_bad_request_answer_is_replayed(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", data="{", headers=_key("k"))
    assert first.status == 400
    second = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert (second.status, second.body) == (400, first.body)


async def test_conflict_answer_is_replayed(api: Api, org: int, base: str) -> None:
    await api.create_employee(org, email="ada@acme.example")
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert first.status == 409
    await api.call("PATCH", f"{base}/employees/1", {"email": "moved@acme.example"})
    second = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert (second.status, second.body) == (409, first.body)


async def test_unauthorized_answer_is_not_remembered(api: Api, base: str) -> None:
    denied = await api.call("POST", f"{base}/employees", ADA, auth=False, headers=_key("k"))
    assert denied.status == 401
    reply = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert reply.status == 201


async def test_rate_limited_answer_is_not_remembered(api: Api, clock: FakeClock) -> None:
    org = (await api.create_org(rate_limit_per_s=1))["id"]
    base = f"/internal/v1/orgs/{org}"
    assert (await api.call("GET", base)).status == 200
    limited = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert limited.status == 429
    clock.advance(1)
    reply = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert reply.status == 201


async def test_unavailable_answer_is_not_remembered(api: Api, base: str) -> None:
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": 3})
    down = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert down.status == 503
    await api.call("PUT", "/_sandbox/maintenance", {"enabled": False, "retry_after": None})
    reply = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert reply.status == 201


async def test_unknown_org_answer_is_not_remembered(api: Api) -> None:
    reply = await api.call("POST", "/internal/v1/orgs/77/employees", ADA, headers=_key("k"))
    assert reply.status == 404
    store = api.app[SANDBOX_KEY].store
    assert store.recall(77, "k", api.app[SANDBOX_KEY].now()) is None


async def test_keys_are_remembered_per_org(api: Api, base: str) -> None:
    other = (await api.create_org(name="Other", rate_limit_per_s=0))["id"]
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    theirs = await api.call("POST", f"/internal/v1/orgs/{other}/employees", ADA, headers=_key("k"))
    assert theirs.status == 201
    assert theirs.body["org_id"] == other
    assert theirs.body["id"] != first.body["id"]


async def test_key_is_forgotten_after_24_hours(api: Api, base: str, clock: FakeClock) -> None:
    await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    clock.advance(24 * 3600 - 1)
    replay = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert replay.status == 201
    clock.advance(1)
    fresh = await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    assert fresh.status == 409  # a real second attempt: the email is taken


async def test_idempotent_team_create_replays_first_answer(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/teams", {"name": "Eng"}, headers=_key("t"))
    second = await api.call("POST", f"{base}/teams", {"name": "Eng"}, headers=_key("t"))
    assert first.status == second.status == 201
    assert second.body == first.body
    listing = await api.call("GET", f"{base}/teams")
    assert listing.body["meta"]["total"] == 1


async def test_key_is_shared_by_employee_and_team_creates(api: Api, base: str) -> None:
    first = await api.call("POST", f"{base}/employees", ADA, headers=_key("same"))
    second = await api.call("POST", f"{base}/teams", {"name": "Eng"}, headers=_key("same"))
    assert (second.status, second.body) == (201, first.body)
    assert (await api.call("GET", f"{base}/teams")).body["meta"]["total"] == 0


async def test_replay_echoes_the_new_request_id(api: Api, base: str) -> None:
    await api.call("POST", f"{base}/employees", ADA, headers=_key("k"))
    second = await api.call(
        "POST", f"{base}/employees", ADA, headers={**_key("k"), "X-Request-Id": "retry-2"}
    )
    assert second.headers["X-Request-Id"] == "retry-2"


async def test_remembered_answers_survive_a_restart(tmp_path: Path, aiohttp_client: Any) -> None:
    db = str(tmp_path / "sandbox.db")
    first_app = create_app(db)
    first_api = Api(await aiohttp_client(first_app), first_app)
    org = (await first_api.create_org(rate_limit_per_s=0))["id"]
    path = f"/internal/v1/orgs/{org}/employees"
    first = await first_api.call("POST", path, ADA, headers=_key("k"))
    await first_api.client.close()
    second_app = create_app(db)
    second_api = Api(await aiohttp_client(second_app), second_app)
    second = await second_api.call("POST", path, ADA, headers=_key("k"))
    assert (second.status, second.body) == (201, first.body)
