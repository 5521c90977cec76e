"""The state database itself: URLs as operators write them, migrations on both engines,
and faults turned into errors an operator (or the IdP, as a 503) can read."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from gateway.state import StateDB, StateUnavailable
from gateway.state.db import head_revision
from gateway.state.url import BadStateUrl, async_url, describe_url


@pytest.mark.parametrize("written,driver", [
    ("sqlite:///gateway-state.db", "sqlite+aiosqlite"),
    ("sqlite:///:memory:", "sqlite+aiosqlite"),
    ("postgresql://gw@db/workstream", "postgresql+asyncpg"),
    ("postgres://gw@db/workstream", "postgresql+asyncpg"),
    ("postgresql+asyncpg://gw@db/workstream", "postgresql+asyncpg"),
])
def test_plain_urls_are_mapped_to_the_async_drivers(written: str, driver: str) -> None:
    assert async_url(written).drivername == driver


@pytest.mark.parametrize("bad", ["mysql://db/x", "not a url", "postgresql+psycopg2://db/x"])
def test_a_url_the_gateway_cannot_use_is_refused_by_name(bad: str) -> None:
    with pytest.raises(BadStateUrl):
        async_url(bad)


def test_a_password_never_reaches_a_message() -> None:
    assert "s3cret" not in describe_url("postgresql://gw:s3cret@db/workstream")
    db = StateDB("postgresql://gw:s3cret@127.0.0.1:9/workstream")
    assert "s3cret" not in db.description


async def test_migrations_create_every_table_and_run_once(state_url: str) -> None:
    db = StateDB(state_url)
    try:
        await db.migrate()
        assert await db.pending() == []
        assert await db.migrate() == head_revision()  # a second run changes nothing

        async with db.begin() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"credentials", "group_external_ids", "state_versions", "audit_events",
                "mapping_assignments", "scim_unlinks", "scim_unlink_values",
                "user_index_entries", "user_index_marks", "alembic_version"} <= tables
        assert await db.ping() is True
    finally:
        await db.close()


async def test_two_processes_migrating_at_once_both_succeed(state_url: str) -> None:
    first, second = StateDB(state_url), StateDB(state_url)
    try:
        assert await asyncio.gather(first.migrate(), second.migrate()) == [head_revision()] * 2
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_database_is_state_unavailable_with_a_readable_message() -> None:
    db = StateDB("postgresql://postgres@127.0.0.1:9/nowhere", timeout_s=1.0)
    try:
        assert await db.ping() is False
        with pytest.raises(StateUnavailable, match="can't be reached") as raised:
            await db.migrate()
        assert "127.0.0.1:9/nowhere" in str(raised.value)
        assert raised.value.retry_after >= 1
    finally:
        await db.close()


def test_migrations_ship_inside_the_package() -> None:
    from importlib.resources import files

    versions = files("gateway.state") / "migrations" / "versions"
    assert any(p.name.startswith("0001") for p in versions.iterdir())
    assert (files("gateway.state") / "migrations" / "env.py").is_file()
