"""One org's user index rebuilt from a walk of everyone: exactly what is added, fixed and
removed, page by page, whether applied or only counted (reconcile's dry run)."""

from __future__ import annotations

from gateway.idstore import MemoryIdStore
from gateway.provisioning.user_index import UserIndex
from gateway.provisioning.user_index_rebuild import SPACE, Rebuild
from gateway.state.user_index_entries import Claim, UserIndexEntries
from mappings.default import USER


def person(n: int, sso: str | None = None) -> dict:
    return {"id": n, "email": f"u{n}@x.example", "first_name": "A", "last_name": "B",
            "sso_id": sso or f"s{n}", "status": "active", "lock_version": 1,
            "created_at": "2026-12-01T00:00:00Z", "updated_at": f"2026-12-01T00:00:{n:02d}Z"}


def rebuild(rows: UserIndexEntries, store: MemoryIdStore, *, apply: bool = True) -> Rebuild:
    index = UserIndex(None, store, rows)  # type: ignore[arg-type]
    return Rebuild(rows, store, 17, lambda r: index.claims_of(USER, r), apply=apply,
                   check_hints=True)


async def corrupt(rows: UserIndexEntries) -> None:
    """Four people (u1..u4) indexed, then: one row missing, one naming the wrong person,
    one a person no longer carries, one naming nobody who exists."""
    await rows.put(17, {f"userName:u{n}@x.example": Claim(n, None) for n in range(1, 5)})
    await rows.put(17, {f"externalId:s{n}": Claim(n, None) for n in (1, 2, 4)})  # s3 missing
    await rows.put(17, {"externalId:s2": Claim(4, None),  # wrong person
                        "externalId:s-old": Claim(1, None),  # u1 no longer carries it
                        "userName:ghost@x.example": Claim(99, None)}, force=True)  # nobody


async def test_a_rebuild_adds_fixes_and_removes_exactly(rows: UserIndexEntries) -> None:
    await corrupt(rows)
    store = MemoryIdStore()
    await store.put(17, {SPACE: {"userName:u1@x.example": "3"}})  # a wrong hint, too
    walk = rebuild(rows, store)
    await walk.add([person(1), person(2)])  # two pages, the wrong row's owner (u4) later
    await walk.add([person(3), person(4)])
    counts = await walk.finish()
    assert (counts.people, counts.added, counts.fixed, counts.removed, counts.entries) == (
        4, 1, 1, 2, 8)
    assert walk.wrong == {"externalId:s2": ("4", "2"), "userName:u1@x.example": ("3", "1")}
    for n in range(1, 5):
        assert await rows.get(17, f"externalId:s{n}") == n
        assert await store.get_many(17, [(SPACE, f"externalId:s{n}")]) == [str(n)]
    assert await rows.get(17, "externalId:s-old") is None
    assert await rows.get(17, "userName:ghost@x.example") is None
    mark = await rows.mark(17)
    assert mark is not None and mark.people == 4 and mark.watermark == counts.watermark


async def test_a_dry_run_counts_the_same_and_changes_nothing(rows: UserIndexEntries) -> None:
    await corrupt(rows)
    walk = rebuild(rows, MemoryIdStore(), apply=False)
    await walk.add([person(1), person(2)])
    await walk.add([person(3), person(4)])
    counts = await walk.finish()
    assert (counts.added, counts.fixed, counts.removed) == (1, 1, 2)
    assert await rows.get(17, "externalId:s2") == 4 and await rows.count(17) == 9
    assert await rows.mark(17) is None


async def test_one_value_carried_by_two_people_is_a_duplicate_not_a_fix(
    rows: UserIndexEntries,
) -> None:
    await rows.put(17, {"userName:gone@x.example": Claim(50, None)})  # not a first build
    walk = rebuild(rows, MemoryIdStore())
    await walk.add([person(1, sso="same")])
    await walk.add([person(2, sso="same")])
    counts = await walk.finish()
    assert (counts.fixed, counts.removed) == (0, 1) and walk.wrong == {}
    assert await rows.get(17, "externalId:same") == 1  # the first read keeps it


async def test_a_first_build_only_writes(rows: UserIndexEntries) -> None:
    store = MemoryIdStore()
    walk = rebuild(rows, store)
    await walk.add([person(1), person(2)])
    await walk.add([person(3)])
    counts = await walk.finish()
    assert (counts.people, counts.added, counts.fixed, counts.removed, counts.entries) == (
        3, 6, 0, 0, 6)
    assert await rows.get(17, "externalId:s3") == 3
    assert await store.get_many(17, [(SPACE, "userName:u2@x.example")]) == ["2"]
