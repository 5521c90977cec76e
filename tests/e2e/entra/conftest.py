"""Fixtures for the Entra ID tests."""

from __future__ import annotations

import pytest

from tests.conftest import ScimClient, World


@pytest.fixture
async def entra(world: World) -> ScimClient:
    """Org A's client, holding a long-lived bearer token as Entra does."""
    issued = await world.credentials.issue_token(world.org_a, label="entra")
    return world.client("Bearer " + issued.token)
