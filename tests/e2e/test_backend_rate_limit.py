"""A rate-limited backend is waited out (Retry-After honoured) or answered with 503."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import World
from tests.e2e.test_backend_faults import assert_scim_503


@pytest.fixture
def sandbox_rate_limit() -> int:
    return 2


async def test_rate_limited_backend_is_waited_out_or_503_never_500(world: World):
    results = await asyncio.gather(*(world.a.get("/Users?count=1") for _ in range(8)))
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
    for status, body, headers in results:
        if status == 503:
            assert_scim_503(status, body, headers)
