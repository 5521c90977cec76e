"""The state database: one async SQLAlchemy engine, migrations, and its failure modes.

One code path for the embedded database (SQLite through aiosqlite, the
single-host default) and for PostgreSQL (asyncpg, shared by every host).
Callers get `StateUnavailable` when the database can't be reached (the web
layer answers 503 with Retry-After) and `StateCorrupt` when a row can't be
read back (the message names the row); never a raw driver error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from gateway import jsonio
from gateway.state.schema import versions
from gateway.state.url import async_url, describe_url, is_memory

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Two processes starting at once must not both run the same migration (PostgreSQL).
_MIGRATION_LOCK_KEY = 0x57534754  # "WSGT"
RETRY_AFTER_S = 5


class StateError(Exception):
    """Something about the state database; the message is for an operator."""


class StateUnavailable(StateError):
    """The state database can't be reached (down, refused, timed out, locked)."""

    retry_after = RETRY_AFTER_S


class StateCorrupt(StateError):
    """A row can't be read back (hand-edited or damaged); the message names it."""


# What a database that is down or unreachable raises, across both drivers.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, OSError, asyncio.TimeoutError)


def utc(value: datetime | None) -> datetime | None:
    """A timestamp read back, always aware UTC (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class StateDB:
    """The gateway's state database, by `state.url` (see `gateway.state.url`)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = async_url(url)
        self.description = describe_url(url)
        self.timeout_s = timeout_s
        backend = self.url.get_backend_name()
        options: dict = {}
        if backend == "sqlite":
            options["connect_args"] = {"timeout": timeout_s}
            if is_memory(self.url):
                # One shared connection, or each would see its own empty database.
                options["poolclass"] = StaticPool
        else:
            options["connect_args"] = {"timeout": timeout_s, "command_timeout": timeout_s}
            options["pool_pre_ping"] = True
        self.is_postgres = backend == "postgresql"
        # JSON columns (audit changes, backend calls) encoded by orjson, not the stdlib's
        # pure-Python encoder: the audit writer encodes three of them per event.
        options["json_serializer"] = jsonio.dumps_text
        options["json_deserializer"] = jsonio.loads
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if backend == "sqlite" and not is_memory(self.url):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._migrated = False
        self._migrating: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # An in-memory database is one shared connection: transactions must take turns.
        self._shared = is_memory(self.url)
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def ready(self) -> None:
        """Migrate once per process (every user of the database calls this first)."""
        if self._migrated:
            return
        loop = asyncio.get_running_loop()
        if self._migrating is None or self._migrating[0] is not loop:
            self._migrating = (loop, asyncio.Lock())
        async with self._migrating[1]:
            if not self._migrated:
                await self.migrate()
                self._migrated = True

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; a database that can't be reached raises StateUnavailable.

        Constraint violations (IntegrityError) reach the caller, which knows what
        they mean; every other driver error is the database's fault, not the caller's.
        """
        try:
            if self._shared:
                async with self._turn(), self.engine.begin() as conn:
                    yield conn
            else:
                async with self.engine.begin() as conn:
                    yield conn
        except IntegrityError:
            raise
        except (*_UNAVAILABLE, DBAPIError) as exc:
            raise StateUnavailable(self._unreachable(exc)) from exc

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Lock())
        return self._turns[1]

    def _unreachable(self, exc: BaseException) -> str:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return (f"state database {self.description} can't be reached: "
                f"{reason[0] if reason else type(exc).__name__}")

    async def ping(self) -> bool:
        """Whether the database answers within its timeout (for /readyz)."""
        try:
            async with asyncio.timeout(self.timeout_s), self.begin() as conn:
                await conn.execute(text("SELECT 1"))
        except (StateUnavailable, TimeoutError):
            return False
        return True

    async def migrate(self) -> str | None:
        """Apply every pending migration (under a lock on PostgreSQL); the revision after."""
        async with asyncio.timeout(max(self.timeout_s, 60.0)), self.begin() as conn:
            if self.is_postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _MIGRATION_LOCK_KEY})
            else:
                # SQLite has no advisory lock: a write takes the database's write lock
                # for this transaction, so a second process waits here, as long as the
                # migrations may take (not the request path's short busy timeout).
                await conn.execute(text("PRAGMA busy_timeout = 60000"))
                await conn.execute(text("CREATE TABLE IF NOT EXISTS state_migration_lock "
                                        "(n INTEGER)"))
                await conn.execute(text("DELETE FROM state_migration_lock"))
            try:
                await conn.run_sync(_upgrade)
                revision = await conn.run_sync(_current)
            finally:
                if not self.is_postgres:  # the pooled connection goes back to the short wait
                    await conn.execute(text(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}"))
        self._migrated = True
        return revision

    async def pending(self) -> list[str]:
        """Revisions not yet applied (empty once migrated)."""
        async with self.begin() as conn:
            current = await conn.run_sync(_current)
        script = ScriptDirectory.from_config(_alembic_config())
        return [rev.revision for rev in script.iterate_revisions("head", current)]

    async def version(self, conn: AsyncConnection, name: str) -> int:
        """The change counter of a topic (see schema.versions)."""
        found = (await conn.execute(select(versions.c.version)
                                    .where(versions.c.name == name))).scalar()
        return int(found or 0)

    async def bump(self, conn: AsyncConnection, name: str) -> None:
        """Count a change of `name`, in the caller's transaction."""
        await conn.execute(update(versions).where(versions.c.name == name)
                           .values(version=versions.c.version + 1))

    async def close(self) -> None:
        """Close every pooled connection (the engine can be used again afterwards)."""
        await self.engine.dispose()


def head_revision() -> str:
    """The newest migration shipped (what `migrate` brings a database to)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers (every gateway process) don't block the writer (the CLI), nor it them.
    # Switching a new file to WAL answers "locked" without waiting while another process
    # is switching or migrating it (the busy timeout doesn't cover it): retry briefly.
    cursor = dbapi_connection.cursor()
    try:
        for attempt in range(_WAL_ATTEMPTS):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except Exception as exc:  # the driver's OperationalError, wrapped by the adapter
                if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)  # only when connecting, and only while another one holds it
    finally:
        cursor.close()


_WAL_ATTEMPTS = 200  # 10 s at most


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
