"""Client of Workstream's internal API (`shared/workstream-internal-api.md`).

One pool of keep-alive connections per process (`gateway/backend/transport.py`);
one method per contract call. The backend is legacy and fragile, so this is
where "treat it gently" lives:

- only calls the contract calls safe are retried (GET, PATCH with If-Match,
  deactivate/reactivate, membership add/remove, creates carrying an
  Idempotency-Key, DELETE of a team), with exponential backoff + jitter and
  within one per-call deadline;
- a request that provably never reached the backend (connection refused,
  connect timeout) or was refused by the rate limiter (429) is retried for
  every call, since it changed nothing;
- `Retry-After` is honoured when it fits in the deadline, otherwise the caller
  gets `BackendUnavailable` with an integer `retry_after` to pass to the IdP;
- every create carries an `Idempotency-Key` (the same one on every retry), so
  a lost response never creates a person twice.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from gateway import jsonio
from gateway.backend.errors import BackendUnavailable, error_for
from gateway.backend.records import format_timestamp
from gateway.backend.transport import CannotConnect, HttpTransport, NoAnswer, path_prefix
from gateway.observability import backend as observe
from gateway.request_context import request_id

log = logging.getLogger(__name__)

#: Seconds to tell the IdP to wait when the backend gave no Retry-After of its own.
DEFAULT_RETRY_AFTER_S = 5
#: The backend's cap on employee ids per membership call.
MAX_MEMBER_IDS = 100
#: A connect that takes longer than this is a dead host; failing it fast is safe to retry.
CONNECT_TIMEOUT_S = 3.0
API_PREFIX = "/internal/v1"
#: Query characters sent as they are, as aiohttp (yarl) did; the rest is percent-encoded,
#: `+` too (an email's `+` would otherwise arrive as a space), and a space as `+`.
_QUERY_SAFE = "?/:@!$'()*,"

# Waits between attempts go through this name so tests can observe them.
_sleep = asyncio.sleep

OrgId = int | str
RecordId = int | str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list call, with the backend's `meta`."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def is_last(self) -> bool:
        return not self.items or self.page * self.per_page >= self.total


def _seg(value: RecordId) -> str:
    """Quote one path segment so an id can never change the route."""
    text = str(value)
    if text.isascii() and text.isalnum():  # the usual id: nothing to quote (hot path)
        return text
    return quote(text, safe="")


def _iso(value: str | datetime | None) -> str | None:
    return format_timestamp(value) if isinstance(value, datetime) else value


def _retry_after(header: str | None) -> int | None:
    """The contract's `Retry-After` is integer seconds; anything else is ignored."""
    if header is None:
        return None
    try:
        return max(0, int(header.strip()))
    except ValueError:
        return None


async def pages(fetch: Callable[[int], Awaitable[Page]]) -> AsyncIterator[Page]:
    """Every page of a paged list, page after page until the last, one at a time.

    `fetch(n)` asks for page `n`; the next page is asked for only when the
    caller wants it, so a list of any length holds one page in memory.
    """
    number = 1
    while True:
        page = await fetch(number)
        yield page
        if page.is_last:
            return
        number += 1


def _check_ids(employee_ids: Sequence[int]) -> list[int]:
    ids = list(employee_ids)
    if len(ids) > MAX_MEMBER_IDS:
        raise ValueError(f"at most {MAX_MEMBER_IDS} employee ids per call, got {len(ids)}")
    return ids


# A check run when a retried call meets an answer its own lost first attempt
# may have caused (412 after a PATCH landed, 404 after a DELETE landed). It
# returns (True, value) when the call should count as a success.
_Recovery = Callable[[int, float], Awaitable[tuple[bool, Any]]]


class BackendClient:
    """The internal API, one method per contract call; create one per process.

    `timeout_s` bounds one attempt, `deadline_s` the whole call including
    retries and waits; `stats` counts HTTP attempts by "METHOD resource" plus
    "total" and "retries", for tests and benchmarks.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        deadline_s: float = 20.0,
        max_retries: int = 3,
        pool_size: int = 100,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._root = path_prefix(self.base_url) + API_PREFIX  # request targets start so
        self._token = token
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.max_retries = max_retries
        self.pool_size = pool_size
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.stats: Counter[str] = Counter()
        self._transport: HttpTransport | None = None

    def __repr__(self) -> str:  # never show the token
        return f"BackendClient({self.base_url!r})"

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the one pool of keep-alive connections every call shares.

        The transport never replays a request on its own (not even on a reused
        connection the server closed): a hidden replay would hide an unknown
        outcome from the retry rules here, e.g. a DELETE that landed would come
        back as a bare 404. This client owns its retries.
        """
        if self._transport is not None:
            return
        self._transport = HttpTransport(
            self.base_url,
            {"Authorization": f"Token {self._token}", "Accept": "application/json"},
            pool_size=self.pool_size,
        )

    async def close(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.close()

    async def __aenter__(self) -> BackendClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def ping(self, timeout_s: float) -> bool:
        """True when the backend answers and accepts our token (readiness; no retries).

        The contract has no health route, so this reads org 0, which no org has:
        404 means the backend answered and accepted the token; 401, 429, 5xx or a
        refused connection mean SCIM calls would fail too. No answer within
        `timeout_s` raises TimeoutError, so a caller can tell a hang from a refusal.
        """
        if self._transport is None:
            return False
        try:
            resp = await self._transport.request(
                "GET", self._root + "/orgs/0", timeout_s=timeout_s, connect_timeout_s=timeout_s
            )
        except (CannotConnect, NoAnswer) as exc:
            if exc.timed_out:  # a hang stays a hang
                raise TimeoutError(str(exc)) from exc
            return False
        return resp.status in (200, 404)

    # ------------------------------------------------------------------- orgs

    async def get_org(self, org_id: OrgId) -> dict[str, Any]:
        return await self._request("GET", f"/orgs/{_seg(org_id)}", "GET orgs", retry=True)

    # -------------------------------------------------------------- employees

    async def list_employees(
        self,
        org_id: OrgId,
        *,
        page: int = 1,
        per_page: int = 50,
        email: str | None = None,
        status: str | None = None,
        updated_since: str | datetime | None = None,
    ) -> Page:
        params = {
            "page": page,
            "per_page": per_page,
            "email": email,
            "status": status,
            "updated_since": _iso(updated_since),
        }
        body = await self._request(
            "GET", f"/orgs/{_seg(org_id)}/employees", "GET employees", params=params, retry=True
        )
        return self._page(body, "employees")

    async def get_employee(self, org_id: OrgId, employee_id: RecordId) -> dict[str, Any]:
        return await self._request(
            "GET",
            f"/orgs/{_seg(org_id)}/employees/{_seg(employee_id)}",
            "GET employees",
            retry=True,
        )

    async def create_employee(
        self, org_id: OrgId, fields: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        return await self._create(f"/orgs/{_seg(org_id)}/employees", "POST employees",
                                  fields, idempotency_key)

    async def update_employee(
        self,
        org_id: OrgId,
        employee_id: RecordId,
        fields: Mapping[str, Any],
        *,
        if_match: int | None,
    ) -> dict[str, Any]:
        """PATCH; retried only with `if_match`, since only that makes a repeat harmless."""
        path = f"/orgs/{_seg(org_id)}/employees/{_seg(employee_id)}"
        return await self._update(path, "employees", fields, if_match)

    async def deactivate_employee(self, org_id: OrgId, employee_id: RecordId) -> dict[str, Any]:
        return await self._request(
            "POST",
            f"/orgs/{_seg(org_id)}/employees/{_seg(employee_id)}/deactivate",
            "POST employees/deactivate",
            retry=True,
        )

    async def reactivate_employee(self, org_id: OrgId, employee_id: RecordId) -> dict[str, Any]:
        return await self._request(
            "POST",
            f"/orgs/{_seg(org_id)}/employees/{_seg(employee_id)}/reactivate",
            "POST employees/reactivate",
            retry=True,
        )

    # ------------------------------------------------------------------ teams

    async def list_teams(
        self, org_id: OrgId, *, page: int = 1, per_page: int = 50, name: str | None = None
    ) -> Page:
        body = await self._request(
            "GET",
            f"/orgs/{_seg(org_id)}/teams",
            "GET teams",
            params={"page": page, "per_page": per_page, "name": name},
            retry=True,
        )
        return self._page(body, "teams")

    async def get_team(self, org_id: OrgId, team_id: RecordId) -> dict[str, Any]:
        return await self._request(
            "GET", f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}", "GET teams", retry=True
        )

    async def create_team(
        self, org_id: OrgId, fields: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        return await self._create(f"/orgs/{_seg(org_id)}/teams", "POST teams",
                                  fields, idempotency_key)

    async def update_team(
        self, org_id: OrgId, team_id: RecordId, fields: Mapping[str, Any], *, if_match: int | None
    ) -> dict[str, Any]:
        """PATCH; retried only with `if_match`, since only that makes a repeat harmless."""
        return await self._update(
            f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}", "teams", fields, if_match
        )

    async def delete_team(self, org_id: OrgId, team_id: RecordId) -> None:
        """DELETE; a 404 after an attempt whose answer was lost means our delete landed."""

        async def gone(status: int, deadline: float) -> tuple[bool, Any]:
            return status == 404, None

        await self._request(
            "DELETE",
            f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}",
            "DELETE teams",
            retry=True,
            recover=gone,
        )

    async def list_members(
        self, org_id: OrgId, team_id: RecordId, *, page: int = 1, per_page: int = 50
    ) -> Page:
        body = await self._request(
            "GET",
            f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}/members",
            "GET teams/members",
            params={"page": page, "per_page": per_page},
            retry=True,
        )
        return self._page(body, "members")

    async def add_members(
        self, org_id: OrgId, team_id: RecordId, employee_ids: Sequence[int]
    ) -> dict[str, Any]:
        """Add ≤100 employees; `added` may undercount after a retry (repeats are skipped)."""
        ids = _check_ids(employee_ids)
        return await self._request(
            "POST",
            f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}/members/add",
            "POST teams/members/add",
            body={"employee_ids": ids},
            retry=True,
        )

    async def remove_members(
        self, org_id: OrgId, team_id: RecordId, employee_ids: Sequence[int]
    ) -> dict[str, Any]:
        """Remove ≤100 employees; `removed` may undercount after a retry."""
        ids = _check_ids(employee_ids)
        return await self._request(
            "POST",
            f"/orgs/{_seg(org_id)}/teams/{_seg(team_id)}/members/remove",
            "POST teams/members/remove",
            body={"employee_ids": ids},
            retry=True,
        )

    # --------------------------------------------------------------- plumbing

    async def _create(
        self, path: str, stat: str, fields: Mapping[str, Any], idempotency_key: str | None
    ) -> dict[str, Any]:
        """Create with an Idempotency-Key (given or fresh) so retries cannot duplicate."""
        return await self._request(
            "POST", path, stat, body=dict(fields),
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())}, retry=True,
        )

    async def _update(
        self, path: str, resource: str, fields: Mapping[str, Any], if_match: int | None
    ) -> dict[str, Any]:
        sent = dict(fields)

        async def landed(status: int, deadline: float) -> tuple[bool, Any]:
            # Our earlier attempt may have applied the change and bumped
            # lock_version; if the record now holds every value we sent,
            # the update is done.
            if status != 412:
                return False, None
            record = await self._request(
                "GET", path, f"GET {resource}", retry=True, deadline=deadline
            )
            ok = isinstance(record, dict) and all(
                k in record and record[k] == v for k, v in sent.items()
            )
            return ok, record

        headers = {"If-Match": str(int(if_match))} if if_match is not None else None
        return await self._request(
            "PATCH",
            path,
            f"PATCH {resource}",
            body=sent,
            headers=headers,
            retry=if_match is not None,
            recover=landed,
        )

    @staticmethod
    def _page(body: Any, key: str) -> Page:
        """A list answer as a Page; one of another shape is a backend fault, not our bug."""
        meta = body.get("meta") if isinstance(body, dict) else None
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(meta, dict) or not isinstance(items, list) or not all(
            isinstance(i, dict) for i in items
        ):
            raise BackendUnavailable(DEFAULT_RETRY_AFTER_S, f"list of {key}: unexpected shape")
        numbers = [meta.get("total", len(items)), meta.get("page", 1),
                   meta.get("per_page", len(items) or 1)]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise BackendUnavailable(DEFAULT_RETRY_AFTER_S, f"list of {key}: meta is not numeric")
        total, page, per_page = numbers
        return Page(items=items, total=total, page=page, per_page=per_page or 1)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so a fleet of gateways doesn't retry in step."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)

    async def _request(
        self,
        method: str,
        path: str,
        stat: str,
        *,
        retry: bool,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        recover: _Recovery | None = None,
    ) -> Any:
        """Send one contract call, retrying as the contract allows, within one deadline."""
        transport = self._transport
        if transport is None:
            raise RuntimeError("BackendClient.start() was not awaited")
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self.deadline_s
        target = self._root + path
        if params:
            query = {k: str(v) for k, v in params.items() if v is not None}
            if query:
                target += "?" + urlencode(query, safe=_QUERY_SAFE)
        hdrs: dict[str, str] = dict(headers or {})
        data: bytes | None = None
        if body is not None:
            data = jsonio.dumps(body)
            hdrs["Content-Type"] = "application/json"
        rid = request_id.get()
        if rid:
            hdrs["X-Request-Id"] = rid

        attempt = 0
        # True once an attempt may have reached the backend and been applied
        # without us seeing the answer (timeout, dropped connection, 5xx).
        uncertain = False
        while True:
            attempt += 1
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BackendUnavailable(
                    DEFAULT_RETRY_AFTER_S, f"{stat}: no answer within {self.deadline_s}s"
                )
            self.stats[stat] += 1
            self.stats["total"] += 1
            retry_after: int | None = None
            started = loop.time()
            try:
                resp = await transport.request(
                    method,
                    target,
                    hdrs,
                    data,
                    timeout_s=min(self.timeout_s, remaining),
                    connect_timeout_s=min(self.timeout_s, remaining, CONNECT_TIMEOUT_S),
                )
                status = resp.status
                raw = resp.body
                retry_after_header = resp.headers.get("retry-after")
                observe.attempt(stat, status, loop.time() - started)
            except CannotConnect as exc:
                observe.attempt(stat, 0, loop.time() - started)
                # Never reached the backend: repeating it is harmless for any call.
                fault, may_retry = f"cannot connect ({exc})", True
            except NoAnswer as exc:
                observe.attempt(stat, 0, loop.time() - started)
                uncertain = True
                fault, may_retry = f"no answer ({exc})", retry
            else:
                if 200 <= status < 300:
                    return self._parse_ok(raw, stat, status)
                if uncertain and recover is not None:
                    done, value = await recover(status, deadline)
                    if done:
                        log.info("backend %s %s: earlier attempt had landed", method, path)
                        return value
                if status == 429:
                    # Refused by the rate limiter before any work: always safe to repeat.
                    retry_after = _retry_after(retry_after_header)
                    fault, may_retry = "rate limited (429)", True
                elif status >= 500:
                    uncertain = True
                    retry_after = _retry_after(retry_after_header)
                    fault, may_retry = f"HTTP {status}", retry
                else:
                    raise error_for(status, self._parse_error(raw))

            reported = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER_S
            if not may_retry:
                raise BackendUnavailable(reported, f"{stat}: {fault}; not safe to retry")
            if attempt > self.max_retries:
                raise BackendUnavailable(reported, f"{stat}: {fault} after {attempt} attempts")
            remaining = deadline - loop.time()
            if retry_after is not None:
                if retry_after >= remaining:
                    raise BackendUnavailable(
                        retry_after, f"{stat}: {fault}; Retry-After {retry_after}s exceeds deadline"
                    )
                # A little jitter past Retry-After, never past the deadline.
                delay = retry_after + random.uniform(
                    0, min(self.backoff_base_s, (remaining - retry_after) / 2)
                )
            else:
                delay = self._backoff(attempt)
                if delay >= remaining:
                    raise BackendUnavailable(
                        max(1, math.ceil(delay)), f"{stat}: {fault}; deadline too close to retry"
                    )
            self.stats["retries"] += 1
            observe.retry(stat)
            log.warning(
                "backend %s %s: %s; retry %d/%d in %.2fs (request_id=%s)",
                method,
                path,
                fault,
                attempt,
                self.max_retries,
                delay,
                rid,
            )
            await _sleep(delay)

    @staticmethod
    def _parse_ok(raw: bytes, stat: str, status: int) -> Any:
        """A 2xx body: nothing for 204, else the JSON object every contract call answers."""
        if status == 204:
            return None
        try:
            body = jsonio.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BackendUnavailable(
                DEFAULT_RETRY_AFTER_S, f"{stat}: {status} with a body that is not a JSON object"
            )
        return body

    @staticmethod
    def _parse_error(raw: bytes) -> Any:
        try:
            return jsonio.loads(raw) if raw else None
        except ValueError:
            return None
