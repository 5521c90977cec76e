"""Fixtures the user-index unit tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.state import StateDB
from gateway.state.user_index_entries import UserIndexEntries


@pytest.fixture
async def rows() -> AsyncIterator[UserIndexEntries]:
    """The index's rows in a migrated in-memory SQLite state database."""
    db = StateDB("sqlite:///:memory:")
    await db.ready()
    yield UserIndexEntries(db)
    await db.close()
