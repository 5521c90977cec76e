"""The org gate's cached flags: read once per expiry, however many requests are waiting."""

from __future__ import annotations

import asyncio

from gateway.web.state import ORG_GATE
from tests.conftest import World


async def test_requests_arriving_together_share_one_read_of_the_org_flags(world: World):
    world.app[ORG_GATE].forget(world.org_a)
    await world.backend.clear_log()
    answers = await asyncio.gather(*(world.a.get("/Users/999999") for _ in range(12)))
    assert [status for status, _, _ in answers] == [404] * 12
    calls = await world.backend.calls()
    assert calls.count(f"GET /internal/v1/orgs/{world.org_a}") == 1
    assert calls.count(f"GET /internal/v1/orgs/{world.org_a}/employees/999999") == 12


async def test_flags_changed_then_forgotten_are_read_again(world: World):
    assert (await world.a.get("/Users"))[0] == 200
    await world.backend.set_org(world.org_a, scim_enabled=False)
    world.app[ORG_GATE].forget(world.org_a)
    answers = await asyncio.gather(*(world.a.get("/Users") for _ in range(4)))
    assert [status for status, _, _ in answers] == [403] * 4
    await world.backend.set_org(world.org_a, scim_enabled=True)
    world.app[ORG_GATE].forget(world.org_a)
    assert (await world.a.get("/Users"))[0] == 200
