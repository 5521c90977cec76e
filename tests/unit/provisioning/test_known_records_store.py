"""The bounded, per-org store of records last seen (gateway/provisioning/known_records.py)."""

from __future__ import annotations

from gateway.provisioning.known_records import KnownRecords


def _record(employee_id: int, version: int = 1) -> dict:
    return {"id": employee_id, "lock_version": version, "email": f"p{employee_id}@x.example"}


def test_a_record_is_known_only_in_its_own_org() -> None:
    known = KnownRecords()
    known.remember(1, _record(7))
    assert known.get(1, 7) == _record(7)
    assert known.get(2, 7) is None  # another org's employee 7 is another person


def test_the_least_recently_used_record_goes_first_when_full() -> None:
    known = KnownRecords(capacity=2)
    known.remember(1, _record(1))
    known.remember(1, _record(2))
    assert known.get(1, 1) is not None  # 1 used again: 2 is now the oldest
    known.remember(1, _record(3))
    assert len(known) == 2
    assert known.get(1, 2) is None
    assert known.get(1, 1) is not None and known.get(1, 3) is not None


def test_a_newer_answer_replaces_the_record_and_forget_drops_it() -> None:
    known = KnownRecords()
    known.remember(1, _record(7, version=1))
    known.remember(1, _record(7, version=2))
    assert known.get(1, 7)["lock_version"] == 2
    known.forget(1, 7)
    assert known.get(1, 7) is None


def test_an_answer_without_an_id_or_version_is_not_kept() -> None:
    known = KnownRecords()
    known.remember(1, {"id": 7})
    known.remember(1, {"lock_version": 3})
    assert len(known) == 0


def test_a_write_that_fails_leaves_the_record_unknown() -> None:
    known = KnownRecords()
    known.remember(1, _record(7))
    with known.unsure(1, 7):
        pass  # it went through: the caller remembers the answer
    assert known.get(1, 7) is not None
    try:
        with known.unsure(1, 7):
            raise TimeoutError("the backend may or may not have taken it")
    except TimeoutError:
        pass
    assert known.get(1, 7) is None
