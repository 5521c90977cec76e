"""Shared fixtures: a real sandbox and a real gateway on real sockets, a real Redis.

`world` gives an end-to-end test everything it needs: two orgs (A and B) with
their own credentials, SCIM clients for each, and a look at the backend calls
the gateway made (the sandbox's request log).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from gateway.auth import CredentialStore
from gateway.auth.hashing import ScryptParams
from gateway.config import Config
from gateway.idstore import MemoryIdStore, RedisIdStore
from gateway.idstore.base import IdStore
from gateway.state import StateDB
from gateway.web.app import build_app
from gateway.web.state import USERS
from sandbox.app import create_app
from tests.faultproxy import FaultProxy
from tests.tcpproxy import TcpProxy

REDIS_URL = "redis://127.0.0.1:6379/0"
TESTS = Path(__file__).resolve().parent
# Test trees that run servers over real sockets (gateway, sandbox) or need Redis.
E2E_TREES = {"e2e", "property", "conformance", "integration", "sandbox"}
# Fixtures that talk to the real Redis: any test using one is end to end, wherever it lives.
REDIS_FIXTURES = {"world", "redis_store"}
# Where the tests' PostgreSQL answers (scripts/ensure-postgres.sh); each run makes its own database.
POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SANDBOX_TOKEN = "sandbox-test-token"
# Cheap scrypt for tests: the cost parameters are not what's under test here.
TEST_SCRYPT = ScryptParams(n=2**10, r=8, p=1)


class ScimClient:
    """A SCIM client bound to one credential; returns (status, json-or-None, headers)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, auth: str) -> None:
        self.session = session
        self.base = base
        self.auth = auth

    async def request(
        self, method: str, path: str, body: Any = None, *, headers: dict | None = None,
        raw: bytes | None = None, params: dict | None = None,
    ) -> tuple[int, Any, dict]:
        hdrs = {"Authorization": self.auth}
        if body is not None or raw is not None:
            hdrs["Content-Type"] = "application/scim+json"
        hdrs.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        async with self.session.request(method, self.base + path, data=data, headers=hdrs,
                                        params=params) as resp:
            text = await resp.read()
            payload = None
            if text:
                try:
                    payload = await resp.json(content_type=None)
                except ValueError:
                    payload = text.decode(errors="replace")
            return resp.status, payload, resp.headers.copy()

    async def get(self, path: str, **kw: Any):
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any):
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any):
        return await self.request("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, **kw: Any):
        return await self.request("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any):
        return await self.request("DELETE", path, **kw)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class Backend:
    """Direct access to the sandbox, as the legacy backend's own admin would have."""

    session: aiohttp.ClientSession
    url: str
    # What `clear_log` waits for first: the gateway's background index work (a build
    # an earlier request started), so the log then holds only what the test does next.
    settle: Callable[[], Awaitable[None]] | None = None

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Token {SANDBOX_TOKEN}"}

    async def call(self, method: str, path: str, body: Any = None, params: dict | None = None):
        async with self.session.request(method, self.url + path, json=body,
                                        headers=self.headers, params=params) as resp:
            return resp.status, (await resp.json(content_type=None) if resp.content_length
                                 != 0 else None)

    async def create_org(self, name: str, **flags: Any) -> int:
        status, org = await self.call("POST", "/_sandbox/orgs", {"name": name, **flags})
        assert status == 201, org
        return org["id"]

    async def set_org(self, org_id: int, **flags: Any) -> None:
        status, body = await self.call("PATCH", f"/_sandbox/orgs/{org_id}", flags)
        assert status == 200, body

    async def employee(self, org_id: int, employee_id: int | str) -> dict:
        status, body = await self.call("GET", f"/internal/v1/orgs/{org_id}/employees/{employee_id}")
        assert status == 200, body
        return body

    async def employees(self, org_id: int, **params: Any) -> list[dict]:
        status, body = await self.call("GET", f"/internal/v1/orgs/{org_id}/employees",
                                       params={"per_page": "200", **params})
        assert status == 200, body
        return body["employees"]

    async def update_employee(self, org_id: int, employee_id: int | str, fields: dict) -> dict:
        status, body = await self.call(
            "PATCH", f"/internal/v1/orgs/{org_id}/employees/{employee_id}", fields)
        assert status == 200, body
        return body

    async def clear_log(self) -> None:
        if self.settle is not None:
            await self.settle()
        await self.call("DELETE", "/_sandbox/requests")

    async def calls(self) -> list[str]:
        """Backend calls since the last clear_log, as "METHOD /path?query" strings."""
        _, body = await self.call("GET", "/_sandbox/requests")
        out = []
        for r in body["requests"]:
            query = r.get("query")
            if isinstance(query, dict):
                query = "&".join(f"{k}={v}" for k, v in query.items())
            out.append(f"{r['method']} {r['path']}" + (f"?{query}" if query else ""))
        return out

    async def maintenance(self, enabled: bool, retry_after: int | None = None) -> None:
        await self.call("PUT", "/_sandbox/maintenance",
                        {"enabled": enabled, "retry_after": retry_after})

    async def team(self, org_id: int, team_id: int | str) -> tuple[int, Any]:
        return await self.call("GET", f"/internal/v1/orgs/{org_id}/teams/{team_id}")

    async def members(self, org_id: int, team_id: int | str) -> list[str]:
        """A team's member ids as SCIM ids (strings), read page by page from the backend."""
        out: list[str] = []
        page = 1
        while True:
            status, body = await self.call(
                "GET", f"/internal/v1/orgs/{org_id}/teams/{team_id}/members",
                params={"page": str(page), "per_page": "200"})
            assert status == 200, body
            out += [str(m["employee_id"]) for m in body["members"]]
            if page * 200 >= body["meta"]["total"]:
                return out
            page += 1

    async def seed_employees(self, org_id: int, count: int, tag: str = "p") -> list[str]:
        """`count` people through the sandbox's bulk admin route; their ids as SCIM ids."""
        rows = [{"email": f"{tag}{i}@seed.example", "first_name": "Seed", "last_name": str(i)}
                for i in range(count)]
        status, body = await self.call("POST", f"/_sandbox/orgs/{org_id}/employees/bulk",
                                       {"employees": rows})
        assert status == 201, body
        return [str(i) for i in body["ids"]]

    async def seed_members(self, org_id: int, team_id: int | str, ids: list[str]) -> None:
        """Memberships through the sandbox's bulk admin route (not logged, no 100-id cap)."""
        status, body = await self.call(
            "POST", f"/_sandbox/orgs/{org_id}/teams/{team_id}/members/bulk",
            {"employee_ids": [int(i) for i in ids]})
        assert status == 200, body


@dataclass
class World:
    backend: Backend
    gateway_url: str
    org_a: int
    org_b: int
    a: ScimClient
    b: ScimClient
    credentials: CredentialStore
    store: IdStore
    app: Any
    session: aiohttp.ClientSession
    extra: dict = field(default_factory=dict)

    def client(self, auth: str) -> ScimClient:
        return ScimClient(self.session, self.gateway_url, auth)

    async def settle(self) -> None:
        """Wait for the gateway's background index work and write-behind (see Backend.settle)."""
        await self.app[USERS].index.settle()

    async def index_built(self, client: ScimClient | None = None) -> None:
        """The org's user index built: its first user request starts the build; wait for it."""
        status, body, _ = await (client or self.a).get("/Users", params={"count": "0"})
        assert status == 200, body
        await self.settle()


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisIdStore]:
    store = RedisIdStore(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield store
    await drop_keys(f"{store.prefix}:*")
    await store.close()


async def drop_keys(pattern: str, url: str = REDIS_URL) -> None:
    """Delete every key matching `pattern`: found by SCAN (the server is shared, so never
    KEYS or FLUSHDB) and deleted in batches."""
    client = redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i:i + 500])
    finally:
        await client.aclose()


def gateway_config(backend_url: str, **scim: Any) -> Config:
    config = Config()
    return replace(
        config,
        backend=replace(config.backend, url=backend_url, token=SANDBOX_TOKEN, deadline_s=3.0,
                        timeout_s=2.0),
        scim=replace(config.scim, **scim),
    )


@pytest.fixture
def sandbox_rate_limit() -> int:
    return 0


@pytest.fixture
def scim_settings() -> dict:
    return {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `e2e` what needs Redis or servers, so `pytest -m "not e2e"` runs the pure units.

    A test is end to end if it lives in one of `E2E_TREES`, uses a Redis fixture,
    or runs against the Redis store through a parametrised `store` fixture or against
    PostgreSQL through the `state_url` fixture; a
    unit test that opens Redis itself carries `@pytest.mark.e2e` by hand.
    """
    e2e = pytest.mark.e2e
    for item in items:
        tree = item.path.relative_to(TESTS).parts[0]
        params = getattr(item, "callspec", None)
        on_redis = params is not None and params.params.get("store") == "redis"
        on_postgres = params is not None and params.params.get("state_url") == "postgresql"
        if (tree in E2E_TREES or REDIS_FIXTURES & set(item.fixturenames) or on_redis
                or on_postgres):
            item.add_marker(e2e)


@pytest.fixture
def mapping_orgs() -> dict:
    return {}


@pytest.fixture
def fault_proxy_enabled() -> bool:
    """Override to True to put a FaultProxy between the gateway and the sandbox."""
    return False


@pytest.fixture
def world_state() -> StateDB | None:
    """The gateway's state database; None: a private in-memory SQLite one. Override to share."""
    return None


@pytest.fixture
async def world(
    redis_store, sandbox_rate_limit, scim_settings, mapping_orgs, fault_proxy_enabled,
    world_state,
) -> AsyncIterator[World]:
    sandbox = TestServer(create_app(":memory:", SANDBOX_TOKEN, sandbox_rate_limit),
                         host="127.0.0.1")
    await sandbox.start_server()
    session = aiohttp.ClientSession()
    backend = Backend(session, str(sandbox.make_url("")).rstrip("/"))
    org_a = await backend.create_org("Org A")
    org_b = await backend.create_org("Org B")
    credentials = CredentialStore(world_state, params=TEST_SCRYPT)
    issued_a = await credentials.issue_basic(org_a, label="okta")
    issued_b = await credentials.issue_basic(org_b, label="okta")
    proxy = None
    backend_url = backend.url
    if fault_proxy_enabled:
        proxy = FaultProxy(backend.url)
        await proxy.start()
        backend_url = proxy.url
    config = gateway_config(backend_url, **scim_settings)
    if mapping_orgs:
        config = replace(config, mappings=replace(
            config.mappings, orgs={str(org_a): m for m in mapping_orgs.values()}))
    app = build_app(config, credentials, id_store=redis_store)
    gateway = TestServer(app, host="127.0.0.1")
    await gateway.start_server()
    backend.settle = app[USERS].index.settle
    url = str(gateway.make_url("/scim/v2")).rstrip("/")
    w = World(
        backend=backend, gateway_url=url, org_a=org_a, org_b=org_b,
        a=ScimClient(session, url, basic(issued_a.username, issued_a.password)),
        b=ScimClient(session, url, basic(issued_b.username, issued_b.password)),
        credentials=credentials, store=redis_store, app=app, session=session,
        extra={"proxy": proxy, "config": config},
    )
    try:
        yield w
    finally:
        await session.close()
        await gateway.close()
        if proxy is not None:
            await proxy.close()
        await sandbox.close()


async def start_gateway(world: World, id_store: IdStore, config: Config | None = None,
                        credentials: CredentialStore | None = None) -> tuple[TestServer, str]:
    """A second gateway (by default the same config and credentials) with its own id store."""
    app = build_app(config or world.extra["config"], credentials or world.credentials,
                    id_store=id_store)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, str(server.make_url("/scim/v2")).rstrip("/")


@pytest.fixture
def memory_store() -> MemoryIdStore:
    return MemoryIdStore()


async def _postgres_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test run's own (parallel runs never meet), dropped after."""
    name = f"ws_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def state_db_proxy(postgres_database: str) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of this run's PostgreSQL: tests cut it to take the state DB down."""
    url = make_url(postgres_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def proxied_state_db(state_db_proxy: TcpProxy,
                           postgres_database: str) -> AsyncIterator[StateDB]:
    """A migrated, empty state database reached through `state_db_proxy` (short timeout)."""
    url = make_url(postgres_database).set(host="127.0.0.1", port=state_db_proxy.port)
    db = StateDB(url.render_as_string(hide_password=False), timeout_s=1.0)
    await db.ready()
    await _empty(db)
    try:
        yield db
    finally:
        await db.close()


async def _empty(db: StateDB) -> None:
    """Every row a test may have written, gone (the schema stays migrated)."""
    from gateway.state.schema import (
        audit_events,
        credentials,
        group_external_ids,
        mapping_assignments,
        scim_unlink_values,
        scim_unlinks,
        user_index_entries,
        user_index_marks,
    )

    async with db.begin() as conn:
        for table in (audit_events, credentials, group_external_ids, mapping_assignments,
                      scim_unlinks, scim_unlink_values, user_index_entries, user_index_marks):
            await conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The state database URL, once for real SQLite (a file) and once for real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway-state.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
async def state_db(state_url: str) -> AsyncIterator[StateDB]:
    """A migrated, empty state database on each engine."""
    db = StateDB(state_url)
    await db.ready()
    await _empty(db)
    try:
        yield db
    finally:
        await db.close()
