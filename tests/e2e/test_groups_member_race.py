"""A large remove racing a replace on one group ends as one of the two serial orders.

A remove of more than 100 members is several backend calls (the backend takes
100 ids a call). A replace that read the members between two of them would
re-add part of what the remove took out while the next batch still removes:
a half-applied change. Every membership change holds the group's lock, so the
replace waits, and the group ends as "remove, then replace": exactly R.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.web.state import BACKEND
from tests.bodies import GROUP, patch_ops
from tests.conftest import World


async def test_replace_cannot_slip_between_the_batches_of_a_large_remove(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    people = await world.backend.seed_employees(world.org_a, 300)
    x = people[:150]  # removed by one PATCH: two backend batches
    r = people[75:300]  # the replace's list: half of X, and others
    status, group, _ = await world.a.post("/Groups", {
        "schemas": [GROUP], "displayName": "Race",
        "members": [{"value": p} for p in people[:250]]})
    assert status == 201, group
    gid = group["id"]

    def replace():
        return world.a.patch(f"/Groups/{gid}", patch_ops(
            {"op": "replace", "path": "members", "value": [{"value": p} for p in r]}))

    # After the remove's first batch, start the replace and give it a second to
    # finish: unlocked it would, reading the members between the two batches.
    backend = world.app[BACKEND]
    real_remove = backend.remove_members
    started: list[asyncio.Task] = []

    async def remove_pausing_after_first_batch(org_id, team_id, ids):
        answer = await real_remove(org_id, team_id, ids)
        if not started:
            started.append(asyncio.ensure_future(replace()))
            await asyncio.wait(started, timeout=1.0)
        return answer

    monkeypatch.setattr(backend, "remove_members", remove_pausing_after_first_batch)
    status, _, _ = await world.a.patch(f"/Groups/{gid}", patch_ops(
        *({"op": "remove", "path": f'members[value eq "{p}"]'} for p in x)))
    assert status == 204
    replace_status, _, _ = await started[0]
    assert replace_status == 204
    final = set(await world.backend.members(world.org_a, gid))
    assert final == set(r), sorted(final ^ set(r))[:10]
