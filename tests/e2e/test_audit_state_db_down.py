"""The state database down while IdPs keep writing: the gateway keeps serving, audit
events wait in their bounded buffer, the overflow is counted and logged, and what
waited is written once the database is back (PostgreSQL behind a TCP proxy)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from gateway.audit.events import AuditEvent
from gateway.audit.writer import AuditWriter
from gateway.observability import metrics
from gateway.state import StateDB
from gateway.state.audit_events import AuditQuery, AuditTrail
from gateway.web.state import AUDIT
from tests.bodies import okta_user
from tests.conftest import World
from tests.tcpproxy import TcpProxy


@pytest.fixture
def proxy(state_db_proxy: TcpProxy) -> TcpProxy:
    return state_db_proxy


@pytest.fixture
def world_state(proxied_state_db: StateDB) -> StateDB:
    return proxied_state_db


async def test_audit_events_wait_for_a_database_that_is_down_and_overflow_is_counted(
    world: World, proxy: TcpProxy, world_state: StateDB, caplog: pytest.LogCaptureFixture,
) -> None:
    writer: AuditWriter = world.app[AUDIT]
    writer.buffer_size = 3
    assert (await world.a.get("/Users"))[0] == 200  # the credential is cached
    dropped = metrics.AUDIT_EVENTS_DROPPED._value.get()
    written = metrics.AUDIT_EVENTS_WRITTEN._value.get()

    await proxy.cut()
    with caplog.at_level(logging.WARNING, logger="gateway.audit.writer"):
        for i in range(5):  # the gateway keeps serving user writes meanwhile
            status, body, _ = await world.a.post(
                "/Users", okta_user(email=f"down{i}@acme.example", external_id=f"d{i}"))
            assert status == 201, body
        assert await writer.flush() == 0
    assert writer.waiting == 3
    assert metrics.AUDIT_EVENTS_DROPPED._value.get() == dropped + 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("dropped" in m for m in messages) == 1  # rate-limited: one line, not two
    assert any("can't write audit events (3 waiting" in m for m in messages)

    await proxy.restore()
    assert await writer.flush() == 3
    assert metrics.AUDIT_EVENTS_WRITTEN._value.get() == written + 3
    found = await AuditTrail(world_state).find(AuditQuery(org_id=world.org_a))
    assert sorted(e["target_name"] for e in found) == [
        "down0@acme.example", "down1@acme.example", "down2@acme.example"]


def _event(org: int, at: datetime, name: str) -> AuditEvent:
    return AuditEvent(
        at=at, org_id=org, credential_id="c", credential_label=None, request_id="r",
        method="POST", path="/scim/v2/Users", action="create", outcome="done", status=201,
        target_type="user", target_id="1", target_name=name, changes=None, members=None,
        backend_calls=[], retries=0, mapping_module=None, mapping_version=None)


async def test_events_past_retention_are_pruned(state_db: StateDB) -> None:
    trail = AuditTrail(state_db)
    now = datetime.now(UTC)
    writer = AuditWriter(trail, retention_days=400)
    writer.submit(_event(17, now - timedelta(days=401), "old@acme.example"))
    writer.submit(_event(17, now - timedelta(days=399), "kept@acme.example"))
    assert await writer.flush() == 2
    await writer._prune_now_and_then()
    found = await trail.find(AuditQuery(org_id=17))
    assert [e["target_name"] for e in found] == ["kept@acme.example"]
    await writer._prune_now_and_then()  # again within the hour: nothing to do, no error
    assert len(await trail.find(AuditQuery(org_id=17))) == 1
