"""Fixtures: a sandbox on a real socket, a frozen clock, and a thin API caller."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sandbox.app import SANDBOX_KEY, create_app
from sandbox.state import Sandbox

TOKEN = "sandbox-token"
AUTH = {"Authorization": f"Token {TOKEN}"}
START = datetime(2026, 11, 28, 14, 3, 11, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def error_code(self) -> str:
        return self.body["error"]["code"]

    @property
    def fields(self) -> dict[str, list[str]]:
        return self.body["error"]["fields"]


class Api:
    """Calls the sandbox over its socket with the service token by default."""

    def __init__(self, client: TestClient, app: web.Application) -> None:
        self.client = client
        self.app = app

    @property
    def sandbox(self) -> Sandbox:
        return self.app[SANDBOX_KEY]

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        sent = dict(AUTH) if auth else {}
        sent.update(headers or {})
        if json is not None:
            data = jsonlib.dumps(json)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(method, path, data=data, headers=sent) as response:
            text = await response.text()
            body = jsonlib.loads(text) if text else None
            return Reply(response.status, body, response.headers)

    async def create_org(self, **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/_sandbox/orgs", {"name": "Acme", **fields})
        assert reply.status == 201, reply.body
        return reply.body

    async def create_employee(self, org_id: int, **fields: Any) -> dict[str, Any]:
        body = {"first_name": "Ada", "last_name": "Lovelace", **fields}
        reply = await self.call("POST", f"/internal/v1/orgs/{org_id}/employees", body)
        assert reply.status == 201, reply.body
        return reply.body

    async def create_team(self, org_id: int, name: str, **fields: Any) -> dict[str, Any]:
        reply = await self.call(
            "POST", f"/internal/v1/orgs/{org_id}/teams", {"name": name, **fields}
        )
        assert reply.status == 201, reply.body
        return reply.body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> web.Application:
    return create_app(clock=clock)


@pytest.fixture
async def api(aiohttp_client: Any, app: web.Application) -> Api:
    return Api(await aiohttp_client(app), app)


@pytest.fixture
async def org(api: Api) -> int:
    """An org without a rate limit, so tests may make any number of calls."""
    return (await api.create_org(rate_limit_per_s=0))["id"]


@pytest.fixture
def base(org: int) -> str:
    return f"/internal/v1/orgs/{org}"
