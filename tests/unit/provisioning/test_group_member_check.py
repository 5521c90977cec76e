"""Checking would-be group members: the cheaper of reading each id or listing the org once.

The backend is a small in-memory stand-in that counts calls; what is under
test is which calls the check chooses, and that its answer is always the backend's.
"""

from __future__ import annotations

from gateway.backend.client import Page
from gateway.backend.errors import BackendNotFound
from gateway.provisioning.member_check import MemberCheck

ORG = 7


class People:
    """Employees 1..n of one org; counts get_employee and list_employees calls."""

    def __init__(self, count: int) -> None:
        self.ids = list(range(1, count + 1))
        self.gets = 0
        self.lists = 0

    async def get_employee(self, org_id: int, employee_id: int) -> dict:
        self.gets += 1
        if org_id != ORG or employee_id not in self.ids:
            raise BackendNotFound(404, "not_found", "no such employee")
        return {"id": employee_id}

    async def list_employees(self, org_id: int, *, page: int = 1, per_page: int = 50) -> Page:
        self.lists += 1
        chunk = self.ids[(page - 1) * per_page:page * per_page]
        return Page([{"id": i} for i in chunk], len(self.ids), page, per_page)


async def test_a_few_ids_are_read_one_by_one_every_time():
    people = People(5000)
    check = MemberCheck(people)  # type: ignore[arg-type]
    assert await check.unknown(ORG, [3, 99999, 4]) == [99999]
    assert (people.gets, people.lists) == (3, 0)
    people.ids.remove(3)  # the backend is the truth, not what was seen before
    assert await check.unknown(ORG, [3, 4]) == [3]
    assert people.gets == 5


async def test_many_ids_in_a_small_org_are_found_by_one_listing():
    people = People(450)  # three pages
    check = MemberCheck(people)  # type: ignore[arg-type]
    wanted = [*range(1, 300), 777, 778]
    assert await check.unknown(ORG, wanted) == [777, 778]
    assert (people.gets, people.lists) == (0, 3)


async def test_some_ids_in_a_large_org_are_read_one_by_one():
    people = People(100_000)  # 500 pages: reading 40 ids is cheaper
    check = MemberCheck(people)  # type: ignore[arg-type]
    assert await check.unknown(ORG, list(range(1, 41))) == []
    assert (people.gets, people.lists) == (40, 1)


async def test_another_orgs_people_are_unknown():
    people = People(10)
    check = MemberCheck(people)  # type: ignore[arg-type]
    assert await check.unknown(ORG + 1, [1, 2]) == [1, 2]
