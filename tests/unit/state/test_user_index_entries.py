"""The durable user index's rows on both engines: one-query lookups, guarded writes that
converge whatever order racing writers land in, and a watermark that only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.state import StateDB
from gateway.state.user_index_entries import Change, Claim, UserIndexEntries

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_lookup_is_the_entry_and_the_watermark_in_one_query(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    assert await rows.lookup(17, "userName:a@x") == (None, None)  # never built, no entry
    await rows.put(17, {"userName:a@x": Claim(5, at(0))})
    assert await rows.lookup(17, "userName:a@x") == (5, None)
    mark = "2026-11-28T12:00:00Z 2026-11-28T12:00:01Z"
    await rows.set_mark(17, mark, people=1)
    assert await rows.lookup(17, "userName:a@x") == (5, mark)
    assert await rows.lookup(17, "userName:b@x") == (None, mark)
    assert await rows.lookup(18, "userName:a@x") == (None, None)  # another org sees nothing
    found = await rows.mark(17)
    assert found is not None and found.people == 1


async def test_a_guarded_put_never_takes_a_key_from_a_newer_claim(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    await rows.put(17, {"externalId:e": Claim(2, at(10))})
    await rows.put(17, {"externalId:e": Claim(1, at(5))})  # older news, landing late
    assert await rows.get(17, "externalId:e") == 2
    await rows.put(17, {"externalId:e": Claim(3, at(10))})  # same second: the later write wins
    assert await rows.get(17, "externalId:e") == 3
    await rows.put(17, {"externalId:e": Claim(1, at(5))}, force=True)  # a rebuild forces
    assert await rows.get(17, "externalId:e") == 1


async def test_drop_only_removes_a_row_still_naming_that_user(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    await rows.put(17, {"userName:a": Claim(1, at(0)), "userName:b": Claim(2, at(0))})
    await rows.drop(17, [("userName:a", 9), ("userName:b", 2)])
    assert await rows.get(17, "userName:a") == 1
    assert await rows.get(17, "userName:b") is None
    assert await rows.count(17) == 1


async def test_absorb_drops_the_keys_a_record_no_longer_carries(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    await rows.put(17, {"userName:old": Claim(1, at(0)), "externalId:x": Claim(1, at(0)),
                        "userName:other": Claim(2, at(0))})
    gone = await rows.absorb(17, {"userName:new": Claim(1, at(9)),
                                  "externalId:x": Claim(1, at(9))}, [1])
    assert gone == [("userName:old", 1)]
    assert await rows.rows(17, ["userName:new", "userName:old"], [2]) == {
        "userName:new": 1, "userName:other": 2}


async def test_write_behind_changes_apply_in_order(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    await rows.apply([
        Change(17, {"userName:a": Claim(1, at(0))}),
        Change(17, {"userName:b": Claim(1, at(1))}, drops=[("userName:a", 1)]),  # renamed
        Change(18, {"userName:a": Claim(7, at(1))}),
        Change(17, {"userName:a": Claim(2, at(2))}),  # someone else took the old name
    ])
    assert await rows.get(17, "userName:a") == 2
    assert await rows.get(17, "userName:b") == 1
    assert await rows.get(18, "userName:a") == 7


async def test_the_watermark_only_moves_forward_once_built(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    assert await rows.advance(17, "2026-11-28T12:00:00Z") is False  # not built: nothing to move
    await rows.set_mark(17, "2026-11-28T12:00:00Z 2026-11-28T12:00:05Z", people=3)
    assert await rows.advance(17, "2026-11-28T11:59:00Z 2026-11-28T12:01:00Z") is False
    assert await rows.advance(17, "2026-11-28T12:00:09Z 2026-11-28T12:00:10Z") is True
    mark = await rows.mark(17)
    assert mark is not None and mark.watermark == "2026-11-28T12:00:09Z 2026-11-28T12:00:10Z"
    await rows.set_mark(17, "2026-11-28T11:00:00Z 2026-11-28T11:00:01Z", people=4)  # rebuilt
    mark = await rows.mark(17)
    assert mark is not None and mark.watermark.startswith("2026-11-28T11:00:00Z")


async def test_walking_every_row_in_pages(state_db: StateDB) -> None:
    rows = UserIndexEntries(state_db)
    await rows.put(17, {f"userName:{i:03d}": Claim(i, at(0)) for i in range(12)})
    seen, after = [], None
    while page := await rows.page(17, after, limit=5):
        seen += page
        after = page[-1][0]
    assert seen == [(f"userName:{i:03d}", i) for i in range(12)]
