"""The employee records this process last saw, so a PUT or PATCH can skip reading first.

Okta's profile update is a GET of the user and then a PUT; Entra sends its
PATCHes in runs. Each write used to read the record again right before
planning against it: two backend calls per update. A record kept here (from a
GET, a write's answer or an action's) is exactly the backend's at its
`lock_version`, so planning against it and sending the fields with `If-Match:
<that lock_version>` is safe: if anyone changed the person since (Workstream
itself, another worker or host), the backend answers 412 and the write is
planned again against a fresh read (`UserService._write`). The store is per
process, bounded (least recently used out first) and keyed by org, so nothing
crosses orgs and memory stays flat however large an org is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Enough for an IdP's burst of GET-then-PUT pairs and for Entra's PATCH runs; about
# 1.5 KB a record.
DEFAULT_CAPACITY = 4_096


class KnownRecords:
    """(org, employee id) → the employee record as the backend last answered it."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._records: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()

    def get(self, org_id: int, employee_id: int) -> dict[str, Any] | None:
        record = self._records.get((org_id, employee_id))
        if record is not None:
            self._records.move_to_end((org_id, employee_id))
        return record

    def remember(self, org_id: int, record: dict[str, Any]) -> None:
        """Keep `record` (a backend answer; callers never change it afterwards)."""
        employee_id = record.get("id")
        if not isinstance(employee_id, int) or not isinstance(record.get("lock_version"), int):
            return
        key = (org_id, employee_id)
        self._records[key] = record
        self._records.move_to_end(key)
        if len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def forget(self, org_id: int, employee_id: int) -> None:
        """A write whose outcome is unknown (an error midway): the next one reads first."""
        self._records.pop((org_id, employee_id), None)

    @contextmanager
    def unsure(self, org_id: int, employee_id: int) -> Iterator[None]:
        """Around a backend write: if it fails (it may have landed), the record is forgotten."""
        try:
            yield
        except BaseException:
            self.forget(org_id, employee_id)
            raise

    def __len__(self) -> int:
        return len(self._records)
