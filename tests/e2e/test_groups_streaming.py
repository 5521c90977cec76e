"""Streamed member lists under backend faults: an error before the answer starts is a SCIM
error; one after can only cut the answer short, never pass for a shorter list.

The sandbox can fail every call (maintenance) but not exactly the second page of
one listing, so that fault is injected by wrapping the gateway's backend client.
"""

from __future__ import annotations

import aiohttp
import pytest

from gateway.backend.errors import BackendUnavailable
from gateway.web.state import BACKEND
from tests.bodies import GROUP
from tests.conftest import World


async def big_group(world: World, size: int = 450) -> str:
    status, group, _ = await world.a.post("/Groups", {"schemas": [GROUP], "displayName": "Big"})
    assert status == 201, group
    crowd = await world.backend.seed_employees(world.org_a, size)
    await world.backend.seed_members(world.org_a, group["id"], crowd)
    return group["id"]


def fail_member_page(world: World, monkeypatch: pytest.MonkeyPatch, page_number: int) -> None:
    backend = world.app[BACKEND]
    real = backend.list_members

    async def flaky(org_id, team_id, *, page=1, per_page=50):
        if page == page_number:
            raise BackendUnavailable(7, "injected fault")
        return await real(org_id, team_id, page=page, per_page=per_page)

    monkeypatch.setattr(backend, "list_members", flaky)


async def test_fault_on_the_first_page_is_a_scim_503(world: World, monkeypatch):
    gid = await big_group(world)
    fail_member_page(world, monkeypatch, 1)
    for path in (f"/Groups/{gid}", "/Groups"):
        status, body, headers = await world.a.get(path)
        assert status == 503, body
        assert body["status"] == "503" and headers["Retry-After"] == "7"


async def test_fault_after_the_answer_started_cuts_it_short(world: World, monkeypatch):
    gid = await big_group(world)
    fail_member_page(world, monkeypatch, 2)
    for path in (f"/Groups/{gid}", "/Groups"):
        with pytest.raises(aiohttp.ClientPayloadError):
            await world.a.get(path)
    # The gateway is fine afterwards, and the group is whole when the backend is.
    monkeypatch.undo()
    status, body, _ = await world.a.get(f"/Groups/{gid}")
    assert status == 200 and len(body["members"]) == 450


async def test_excluding_members_never_reads_them_even_when_they_would_fail(
    world: World, monkeypatch,
):
    gid = await big_group(world, 10)
    fail_member_page(world, monkeypatch, 1)
    status, body, _ = await world.a.get(f"/Groups/{gid}?excludedAttributes=members")
    assert status == 200 and body["displayName"] == "Big"
