"""The backend client against the real sandbox, over real sockets.

A test-only outer middleware ("chaos") records the headers each call carried
and can lose an answer after the sandbox did the work, which is the fault the
client's retry rules (idempotency keys, 412/404 after a lost answer) exist for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from gateway.backend.client import BackendClient, pages
from gateway.backend.errors import (
    BackendAuthError,
    BackendBadRequest,
    BackendConflict,
    BackendInvalid,
    BackendNotFound,
    BackendStale,
    BackendUnavailable,
)
from gateway.request_context import request_id
from sandbox.app import SANDBOX_KEY, create_app

TOKEN = "integration-service-token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Chaos:
    """Outermost middleware: records headers, loses chosen answers, ends maintenance."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, CIMultiDict[str]]] = []
        self.lose: dict[tuple[str, str], int] = {}
        self.end_maintenance_after_503 = False
        self.on_lost: Callable[[], Awaitable[None]] | None = None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/internal/v1"):
            self.seen.append((request.method, request.path, CIMultiDict(request.headers)))
        response = await handler(request)
        key = (request.method, request.path)
        if self.lose.get(key):
            self.lose[key] -= 1
            if self.on_lost is not None:
                await self.on_lost()
            assert request.transport is not None
            request.transport.close()  # the work is done; its answer never arrives
        if response.status == 503 and self.end_maintenance_after_503:
            request.app[SANDBOX_KEY].maintenance.enabled = False
        return response

    def headers_of(self, method: str, path_end: str) -> list[CIMultiDict[str]]:
        return [h for m, p, h in self.seen if m == method and p.endswith(path_end)]


@pytest.fixture
def chaos() -> Chaos:
    return Chaos()


@pytest.fixture
async def server(aiohttp_server: Any, chaos: Chaos) -> TestServer:
    app = create_app(db_path=":memory:", service_token=TOKEN, default_rate_limit=0)
    app.middlewares.insert(0, chaos.middleware)
    return await aiohttp_server(app)


@pytest.fixture
async def admin(server: TestServer) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Calls the sandbox's `/_sandbox` admin routes."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Token {TOKEN}"}) as session:

        async def call(method: str, path: str, body: Any = None) -> Any:
            async with session.request(method, server.make_url(path), json=body) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json() if resp.status != 204 else None

        yield call


@pytest.fixture
async def org(admin: Callable[..., Awaitable[Any]]) -> int:
    return (await admin("POST", "/_sandbox/orgs", {"name": "Acme", "rate_limit_per_s": 0}))["id"]


@pytest.fixture
async def client(server: TestServer) -> AsyncIterator[BackendClient]:
    c = BackendClient(
        str(server.make_url("")), TOKEN, timeout_s=5, deadline_s=10, backoff_base_s=0.01
    )
    await c.start()
    yield c
    await c.close()


def person(n: int, **extra: Any) -> dict[str, Any]:
    return {"email": f"p{n}@acme.example", "first_name": "P", "last_name": str(n), **extra}


# ------------------------------------------------------------------ round trips


async def test_employee_round_trip(client: BackendClient, org: int):
    assert (await client.get_org(org))["scim_enabled"] is True
    made = await client.create_employee(org, person(1, title="Analyst", locale="en-US"))
    assert made["status"] == "active" and made["lock_version"] == 1
    assert await client.get_employee(org, made["id"]) == made

    page = await client.list_employees(org, email="P1@ACME.example")
    assert [e["id"] for e in page.items] == [made["id"]] and page.total == 1 and page.is_last

    updated = await client.update_employee(
        org, made["id"], {"title": "Lead", "locale": None}, if_match=1
    )
    assert updated["title"] == "Lead" and updated["locale"] is None
    assert updated["lock_version"] == 2
    blind = await client.update_employee(org, made["id"], {"department": "R&D"}, if_match=None)
    assert blind["department"] == "R&D"

    off = await client.deactivate_employee(org, made["id"])
    assert off["status"] == "deactivated" and off["title"] == "Lead"
    assert (await client.deactivate_employee(org, made["id"]))["lock_version"] == off[
        "lock_version"
    ]
    assert (await client.list_employees(org, status="deactivated")).total == 1
    assert (await client.reactivate_employee(org, made["id"]))["status"] == "active"


async def test_team_and_membership_round_trip(client: BackendClient, org: int):
    people = [await client.create_employee(org, person(n)) for n in range(3)]
    ids = [p["id"] for p in people]
    team = await client.create_team(org, {"name": "Engineering", "description": None})
    assert (await client.list_teams(org, name="engineering")).items == [team]

    renamed = await client.update_team(org, team["id"], {"name": "Platform"}, if_match=1)
    assert renamed["name"] == "Platform" and renamed["lock_version"] == 2

    assert await client.add_members(org, team["id"], ids) == {"added": 3}
    assert await client.add_members(org, team["id"], ids[:1]) == {"added": 0}
    members = [m["employee_id"] async for page in pages(
        lambda n: client.list_members(org, team["id"], page=n, per_page=2)) for m in page.items]
    assert members == sorted(ids)
    assert await client.remove_members(org, team["id"], ids[1:]) == {"removed": 2}
    assert (await client.list_members(org, team["id"])).total == 1
    assert [t["id"] for t in (await client.list_teams(org)).items] == [team["id"]]

    assert await client.delete_team(org, team["id"]) is None
    with pytest.raises(BackendNotFound):
        await client.get_team(org, team["id"])
    assert (await client.get_employee(org, ids[0]))["status"] == "active"  # people stay


async def test_pages_streams_every_page(
    client: BackendClient, org: int, admin: Callable[..., Awaitable[Any]]
):
    made = await admin(
        "POST",
        f"/_sandbox/orgs/{org}/employees/bulk",
        {"employees": [person(n) for n in range(450)]},
    )
    await admin("DELETE", "/_sandbox/requests")
    seen = [e["id"] async for page in pages(
        lambda n: client.list_employees(org, page=n, per_page=200, status="active"))
        for e in page.items]
    assert seen == sorted(made["ids"])
    log = (await admin("GET", "/_sandbox/requests"))["requests"]
    assert [r["query"]["page"] for r in log] == ["1", "2", "3"]
    assert all(r["query"]["per_page"] == "200" for r in log)


# ------------------------------------------------------------------ errors


async def test_duplicate_email_is_a_conflict_naming_the_field(client: BackendClient, org: int):
    await client.create_employee(org, person(1))
    with pytest.raises(BackendConflict) as info:
        await client.create_employee(org, person(1) | {"email": "P1@Acme.Example"})
    assert info.value.status == 409 and "email" in info.value.fields


async def test_field_rule_breaks_are_invalid_naming_the_fields(client: BackendClient, org: int):
    with pytest.raises(BackendInvalid) as info:
        await client.create_employee(
            org,
            {
                "email": "no-at-sign",
                "first_name": "A",
                "last_name": "B",
                "timezone": "Mars/Olympus",
            },
        )
    assert {"email", "timezone"} <= set(info.value.fields)
    assert client.stats["POST employees"] == 1


async def test_stale_if_match_is_stale_and_not_retried(client: BackendClient, org: int):
    made = await client.create_employee(org, person(1))
    await client.update_employee(org, made["id"], {"title": "A"}, if_match=1)
    with pytest.raises(BackendStale):
        await client.update_employee(org, made["id"], {"title": "B"}, if_match=1)
    assert client.stats["PATCH employees"] == 2
    assert client.stats["GET employees"] == 0  # no re-read: nothing was uncertain


async def test_unknown_records_and_org_are_not_found(client: BackendClient, org: int):
    with pytest.raises(BackendNotFound):
        await client.get_employee(org, 999_999)
    with pytest.raises(BackendNotFound):
        await client.get_org(org + 1000)
    with pytest.raises(BackendNotFound):
        await client.delete_team(org, 999_999)


async def test_unknown_field_is_a_bad_request(client: BackendClient, org: int):
    with pytest.raises(BackendBadRequest):
        await client.create_employee(org, person(1, status="active"))


async def test_wrong_service_token_is_an_auth_error(server: TestServer, org: int):
    async with BackendClient(str(server.make_url("")), "wrong-token") as client:
        with pytest.raises(BackendAuthError):
            await client.get_org(org)
        assert client.stats["GET orgs"] == 1


# ------------------------------------------------------------------ rate limit, maintenance


async def test_rate_limit_is_waited_out_via_retry_after(
    client: BackendClient, admin: Callable[..., Awaitable[Any]]
):
    slow = (await admin("POST", "/_sandbox/orgs", {"name": "Slow", "rate_limit_per_s": 1}))["id"]
    for _ in range(3):
        assert (await client.get_org(slow))["id"] == slow
    assert client.stats["retries"] >= 2
    assert client.stats["GET orgs"] == 3 + client.stats["retries"]


async def test_maintenance_longer_than_the_deadline_is_unavailable_at_once(
    client: BackendClient, org: int, admin: Callable[..., Awaitable[Any]]
):
    await admin("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": 120})
    with pytest.raises(BackendUnavailable) as info:
        await client.get_org(org)
    assert info.value.retry_after == 120
    assert client.stats["GET orgs"] == 1


async def test_maintenance_without_retry_after_exhausts_retries(
    client: BackendClient, org: int, admin: Callable[..., Awaitable[Any]]
):
    await admin("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": None})
    with pytest.raises(BackendUnavailable) as info:
        await client.get_employee(org, 1)
    assert isinstance(info.value.retry_after, int) and info.value.retry_after >= 1
    assert client.stats["GET employees"] == client.max_retries + 1


async def test_short_maintenance_is_ridden_out(
    client: BackendClient, org: int, admin: Callable[..., Awaitable[Any]], chaos: Chaos
):
    await admin("PUT", "/_sandbox/maintenance", {"enabled": True, "retry_after": 1})
    chaos.end_maintenance_after_503 = True
    assert (await client.get_org(org))["id"] == org
    assert client.stats["GET orgs"] == 2 and client.stats["retries"] == 1


# ------------------------------------------------------------------ headers


async def test_request_id_token_and_idempotency_key_are_sent(
    client: BackendClient, org: int, chaos: Chaos
):
    token = request_id.set("scim-req-7f3a")
    try:
        made = await client.create_employee(org, person(1))
        await client.get_employee(org, made["id"])
    finally:
        request_id.reset(token)
    (post,) = chaos.headers_of("POST", "/employees")
    (get,) = chaos.headers_of("GET", f"/employees/{made['id']}")
    for headers in (post, get):
        assert headers["X-Request-Id"] == "scim-req-7f3a"
        assert headers["Authorization"] == f"Token {TOKEN}"
    assert len(post["Idempotency-Key"]) == 36
    assert "Idempotency-Key" not in get


# ------------------------------------------------------------------ lost answers


async def test_lost_create_answer_is_retried_without_a_duplicate(
    client: BackendClient, org: int, chaos: Chaos
):
    chaos.lose[("POST", f"/internal/v1/orgs/{org}/employees")] = 1
    made = await client.create_employee(org, person(1))
    assert made["email"] == "p1@acme.example"
    sent = chaos.headers_of("POST", "/employees")
    assert len(sent) == 2
    assert sent[0]["Idempotency-Key"] == sent[1]["Idempotency-Key"]
    everyone = await client.list_employees(org)
    assert everyone.total == 1 and everyone.items[0]["id"] == made["id"]


async def test_lost_patch_answer_then_412_is_recognised_as_done(
    client: BackendClient, org: int, chaos: Chaos
):
    made = await client.create_employee(org, person(1))
    chaos.lose[("PATCH", f"/internal/v1/orgs/{org}/employees/{made['id']}")] = 1
    result = await client.update_employee(
        org, made["id"], {"title": "Lead", "phone": None}, if_match=1
    )
    assert result["title"] == "Lead" and result["lock_version"] == 2
    assert client.stats["PATCH employees"] == 2  # the second one got 412
    assert client.stats["GET employees"] == 1  # the re-read that proved it landed


async def test_lost_patch_answer_then_412_from_another_writer_is_stale(
    client: BackendClient, server: TestServer, org: int, chaos: Chaos
):
    """Our PATCH landed, then another writer changed the field before our retry:
    the record no longer holds our value, so the client must not claim success."""
    made = await client.create_employee(org, person(1))
    async with BackendClient(client.base_url, TOKEN) as other:

        async def other_writer() -> None:
            await other.update_employee(org, made["id"], {"title": "Theirs"}, if_match=2)

        chaos.lose[("PATCH", f"/internal/v1/orgs/{org}/employees/{made['id']}")] = 1
        chaos.on_lost = other_writer
        with pytest.raises(BackendStale):
            await client.update_employee(org, made["id"], {"title": "Mine"}, if_match=1)
    assert (await client.get_employee(org, made["id"]))["title"] == "Theirs"


async def test_lost_delete_answer_then_404_is_done(client: BackendClient, org: int, chaos: Chaos):
    team = await client.create_team(org, {"name": "Temp"})
    chaos.lose[("DELETE", f"/internal/v1/orgs/{org}/teams/{team['id']}")] = 1
    assert await client.delete_team(org, team["id"]) is None
    assert client.stats["DELETE teams"] == 2
    assert (await client.list_teams(org)).total == 0


async def test_lost_membership_answer_is_retried(client: BackendClient, org: int, chaos: Chaos):
    a = await client.create_employee(org, person(1))
    team = await client.create_team(org, {"name": "Ops"})
    chaos.lose[("POST", f"/internal/v1/orgs/{org}/teams/{team['id']}/members/add")] = 1
    await client.add_members(org, team["id"], [a["id"]])
    assert client.stats["POST teams/members/add"] == 2
    assert [m["employee_id"] for m in (await client.list_members(org, team["id"])).items] == [
        a["id"]]


async def test_lost_answer_of_an_unsafe_patch_is_not_retried(
    client: BackendClient, org: int, chaos: Chaos
):
    made = await client.create_employee(org, person(1))
    chaos.lose[("PATCH", f"/internal/v1/orgs/{org}/employees/{made['id']}")] = 1
    with pytest.raises(BackendUnavailable):
        await client.update_employee(org, made["id"], {"title": "X"}, if_match=None)
    assert client.stats["PATCH employees"] == 1
