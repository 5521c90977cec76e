"""Backend client under faults the sandbox cannot produce (timeouts, drops, odd bodies)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from yarl import URL

import gateway.backend.client as client_mod
from gateway.backend.client import DEFAULT_RETRY_AFTER_S, BackendClient, pages
from gateway.backend.errors import (
    BackendAuthError,
    BackendBadRequest,
    BackendConflict,
    BackendError,
    BackendInvalid,
    BackendNotFound,
    BackendStale,
    BackendUnavailable,
)
from gateway.request_context import request_id
from tests.net import free_port

BASE = "http://backend.test"
ROOT = BASE + "/internal/v1"
TOKEN = "s3cret-service-token"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's waits between attempts instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(client_mod, "_sleep", fake_sleep)
    return recorded


@pytest.fixture
async def client(sleeps: list[float]) -> AsyncIterator[BackendClient]:
    c = BackendClient(BASE, TOKEN, timeout_s=5, deadline_s=20, max_retries=3)
    await c.start()
    yield c
    await c.close()


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp's required `stream_writer` argument."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as m:
        yield m


EMP_URL = ROOT + "/orgs/1/employees/7"
EMPLOYEES_URL = ROOT + "/orgs/1/employees"
TEAM_URL = ROOT + "/orgs/1/teams/3"
RECORD = {
    "id": 7,
    "org_id": 1,
    "email": "ada@acme.example",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "title": "Analyst",
    "status": "active",
    "lock_version": 4,
}


def calls(m: aioresponses, method: str, url: str) -> list:
    return m.requests.get((method, URL(url)), [])


def error_body(status: int, code: str, fields: dict | None = None) -> dict:
    err: dict = {"code": code, "message": f"{code} happened"}
    if fields is not None:
        err["fields"] = fields
    return {"error": err}


# ------------------------------------------------------------------ retries of safe calls


@pytest.mark.parametrize(
    "fault",
    [
        {"exception": TimeoutError()},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": aiohttp.ClientPayloadError("truncated")},
        {"status": 502},
        {"status": 500, "body": "<html>Internal Server Error</html>"},
        {"status": 503, "payload": error_body(503, "unavailable")},
    ],
    ids=["timeout", "dropped", "truncated", "502-no-body", "500-html", "503"],
)
async def test_get_is_retried_after_a_fault_then_succeeds(client, mock, sleeps, fault):
    mock.get(EMP_URL, **fault)
    mock.get(EMP_URL, payload=RECORD)
    assert await client.get_employee(1, 7) == RECORD
    assert len(calls(mock, "GET", EMP_URL)) == 2
    assert client.stats["GET employees"] == 2
    assert client.stats["retries"] == 1
    assert len(sleeps) == 1


async def test_backoff_grows_between_attempts(client, mock, sleeps):
    for _ in range(4):
        mock.get(EMP_URL, status=500)
    with pytest.raises(BackendUnavailable) as info:
        await client.get_employee(1, 7)
    assert len(calls(mock, "GET", EMP_URL)) == 4  # first try + max_retries
    assert info.value.retry_after == DEFAULT_RETRY_AFTER_S
    assert isinstance(info.value.retry_after, int)
    assert len(sleeps) == 3  # one wait before each retry
    base = client.backoff_base_s
    for n, delay in enumerate(sleeps, start=1):
        cap = min(client.backoff_max_s, base * 2 ** (n - 1))
        assert cap / 2 <= delay <= cap


async def test_retries_exhausted_report_the_backends_retry_after(client, mock, sleeps):
    for _ in range(4):
        mock.get(EMP_URL, status=503, headers={"Retry-After": "2"})
    with pytest.raises(BackendUnavailable) as info:
        await client.get_employee(1, 7)
    assert info.value.retry_after == 2
    assert len(calls(mock, "GET", EMP_URL)) == 4
    assert len(sleeps) == 3
    assert all(2 <= d < 3 for d in sleeps)


async def test_retry_after_is_honoured_when_it_fits_the_deadline(client, mock, sleeps):
    mock.get(
        EMP_URL, status=429, headers={"Retry-After": "3"}, payload=error_body(429, "rate_limited")
    )
    mock.get(EMP_URL, payload=RECORD)
    assert await client.get_employee(1, 7) == RECORD
    assert len(sleeps) == 1 and 3 <= sleeps[0] < 3 + client.backoff_base_s + 1e-9


async def test_retry_after_past_the_deadline_fails_fast_with_that_value(mock, sleeps):
    async with BackendClient("http://backend.test", TOKEN, deadline_s=5) as client:
        mock.get(EMP_URL, status=429, headers={"Retry-After": "30"})
        with pytest.raises(BackendUnavailable) as info:
            await client.get_employee(1, 7)
    assert info.value.retry_after == 30
    assert sleeps == []
    assert len(calls(mock, "GET", EMP_URL)) == 1


async def test_backoff_that_cannot_fit_the_deadline_fails_with_integer_retry_after(mock, sleeps):
    async with BackendClient(
        "http://backend.test", TOKEN, deadline_s=0.05, backoff_base_s=1.0
    ) as client:
        mock.get(EMP_URL, status=500)
        with pytest.raises(BackendUnavailable) as info:
            await client.get_employee(1, 7)
    assert isinstance(info.value.retry_after, int) and info.value.retry_after >= 1
    assert sleeps == []


async def test_unparseable_retry_after_falls_back_to_backoff(client, mock, sleeps):
    mock.get(EMP_URL, status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    mock.get(EMP_URL, payload=RECORD)
    assert await client.get_employee(1, 7) == RECORD
    assert sleeps[0] <= client.backoff_base_s


# ------------------------------------------------------------------ idempotent creates


async def test_create_reuses_one_generated_idempotency_key_across_retries(client, mock):
    mock.post(EMPLOYEES_URL, exception=TimeoutError())
    mock.post(EMPLOYEES_URL, status=502)
    mock.post(EMPLOYEES_URL, status=201, payload=RECORD)
    fields = {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace"}
    assert await client.create_employee(1, fields) == RECORD
    sent = calls(mock, "POST", EMPLOYEES_URL)
    keys = {c.kwargs["headers"]["Idempotency-Key"] for c in sent}
    assert len(sent) == 3 and len(keys) == 1
    uuid.UUID(keys.pop(), version=4)
    assert client.stats["POST employees"] == 3


async def test_create_sends_the_callers_idempotency_key_verbatim(client, mock):
    mock.post(ROOT + "/orgs/1/teams", exception=aiohttp.ServerDisconnectedError())
    mock.post(ROOT + "/orgs/1/teams", status=201, payload={"id": 3, "name": "Eng"})
    await client.create_team(1, {"name": "Eng"}, idempotency_key="scim-req-42")
    sent = calls(mock, "POST", ROOT + "/orgs/1/teams")
    assert [c.kwargs["headers"]["Idempotency-Key"] for c in sent] == ["scim-req-42"] * 2


async def test_each_create_call_gets_its_own_key(client, mock):
    mock.post(EMPLOYEES_URL, status=201, payload=RECORD, repeat=2)
    await client.create_employee(1, {"email": "a@x.example"})
    await client.create_employee(1, {"email": "b@x.example"})
    keys = [c.kwargs["headers"]["Idempotency-Key"] for c in calls(mock, "POST", EMPLOYEES_URL)]
    assert len(set(keys)) == 2


# ------------------------------------------------------------------ unsafe calls are not retried


@pytest.mark.parametrize(
    "fault",
    [
        {"exception": TimeoutError()},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"status": 500},
        {"status": 503, "headers": {"Retry-After": "7"}},
    ],
    ids=["timeout", "dropped", "500", "503"],
)
async def test_patch_without_if_match_is_not_retried(client, mock, sleeps, fault):
    mock.patch(EMP_URL, **fault)
    mock.patch(EMP_URL, payload=RECORD)
    with pytest.raises(BackendUnavailable) as info:
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=None)
    assert len(calls(mock, "PATCH", EMP_URL)) == 1
    assert sleeps == []
    assert info.value.retry_after == (7 if "headers" in fault else DEFAULT_RETRY_AFTER_S)
    assert "If-Match" not in calls(mock, "PATCH", EMP_URL)[0].kwargs["headers"]


async def test_patch_without_if_match_is_retried_after_429(client, mock, sleeps):
    """A 429 is refused before any work is done, so repeating it is always harmless."""
    mock.patch(EMP_URL, status=429, headers={"Retry-After": "1"})
    mock.patch(EMP_URL, payload=RECORD)
    assert await client.update_employee(1, 7, {"title": "Analyst"}, if_match=None) == RECORD
    assert len(calls(mock, "PATCH", EMP_URL)) == 2


@pytest.mark.parametrize(
    ("status", "exc_type", "fields"),
    [
        (400, BackendBadRequest, None),
        (401, BackendAuthError, None),
        (404, BackendNotFound, None),
        (405, BackendError, None),
        (409, BackendConflict, {"email": ["has already been taken"]}),
        (412, BackendStale, None),
        (422, BackendInvalid, {"first_name": ["can't be blank"], "locale": ["is invalid"]}),
    ],
)
async def test_4xx_is_never_retried_and_maps_to_its_exception(
    client, mock, sleeps, status, exc_type, fields
):
    mock.patch(EMP_URL, status=status, payload=error_body(status, f"code{status}", fields))
    mock.patch(EMP_URL, payload=RECORD)
    with pytest.raises(exc_type) as info:
        await client.update_employee(1, 7, {"title": "x"}, if_match=4)
    assert type(info.value) is exc_type
    assert info.value.status == status
    assert info.value.code == f"code{status}"
    assert info.value.message == f"code{status} happened"
    assert info.value.fields == (fields or {})
    assert len(calls(mock, "PATCH", EMP_URL)) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(404, BackendNotFound), (409, BackendConflict), (400, BackendBadRequest)],
)
async def test_non_json_error_body_is_mapped_by_status(client, mock, status, exc_type):
    mock.get(EMP_URL, status=status, body="<html>nope</html>", content_type="text/html")
    with pytest.raises(exc_type) as info:
        await client.get_employee(1, 7)
    assert info.value.fields == {}
    assert info.value.code == f"http_{status}"


async def test_2xx_body_that_is_not_json_is_unavailable_not_a_crash(client, mock):
    mock.get(EMP_URL, status=200, body="<html>proxy login</html>")
    with pytest.raises(BackendUnavailable):
        await client.get_employee(1, 7)


@pytest.mark.parametrize("body", ["", "[]", '"ok"', "null"])
async def test_2xx_body_that_is_not_an_object_is_unavailable_not_a_crash(client, mock, body):
    mock.get(EMP_URL, status=200, body=body)
    with pytest.raises(BackendUnavailable):
        await client.get_employee(1, 7)


@pytest.mark.parametrize("payload", [
    {"employees": [RECORD]},  # no meta
    {"meta": {"total": 1, "page": 1, "per_page": 50}},  # no list
    {"employees": "x", "meta": {"total": 1}},
    {"employees": [RECORD, 3], "meta": {"total": 2}},
    {"employees": [RECORD], "meta": {"total": None, "page": 1, "per_page": 50}},
    {"employees": [RECORD], "meta": {"total": "1", "page": 1, "per_page": 50}},
])
async def test_list_answer_of_the_wrong_shape_is_unavailable_not_a_crash(client, mock, payload):
    mock.get(re.compile(rf"{BASE}/internal/v1/orgs/1/employees\?.*"), payload=payload)
    with pytest.raises(BackendUnavailable):
        await client.list_employees(1)


# ------------------------------------------------------------------ lost answers


async def test_412_after_a_lost_patch_that_landed_is_success(client, mock):
    mock.patch(EMP_URL, exception=TimeoutError())
    mock.patch(EMP_URL, status=412, payload=error_body(412, "stale"))
    landed = {**RECORD, "title": "Boss", "department": None, "lock_version": 5}
    mock.get(EMP_URL, payload=landed)
    result = await client.update_employee(1, 7, {"title": "Boss", "department": None}, if_match=4)
    assert result == landed
    sent = calls(mock, "PATCH", EMP_URL)
    assert [c.kwargs["headers"]["If-Match"] for c in sent] == ["4", "4"]
    assert len(calls(mock, "GET", EMP_URL)) == 1


async def test_412_after_a_lost_patch_with_other_values_is_stale(client, mock):
    mock.patch(EMP_URL, exception=aiohttp.ServerDisconnectedError())
    mock.patch(EMP_URL, status=412, payload=error_body(412, "stale"))
    mock.get(EMP_URL, payload={**RECORD, "title": "Someone else's edit", "lock_version": 5})
    with pytest.raises(BackendStale):
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=4)


async def test_412_after_a_5xx_team_patch_that_landed_is_success(client, mock):
    mock.patch(TEAM_URL, status=504)
    mock.patch(TEAM_URL, status=412, payload=error_body(412, "stale"))
    mock.get(
        TEAM_URL, payload={"id": 3, "name": "Platform", "description": None, "lock_version": 2}
    )
    team = await client.update_team(1, 3, {"name": "Platform"}, if_match=1)
    assert team["name"] == "Platform"


async def test_412_on_a_first_attempt_is_stale_without_a_reread(client, mock):
    mock.patch(EMP_URL, status=412, payload=error_body(412, "stale"))
    with pytest.raises(BackendStale):
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=3)
    assert calls(mock, "GET", EMP_URL) == []


async def test_delete_404_after_a_lost_answer_is_success(client, mock):
    mock.delete(TEAM_URL, exception=TimeoutError())
    mock.delete(TEAM_URL, status=404, payload=error_body(404, "not_found"))
    assert await client.delete_team(1, 3) is None
    assert len(calls(mock, "DELETE", TEAM_URL)) == 2


async def test_delete_404_on_first_attempt_is_not_found(client, mock):
    mock.delete(TEAM_URL, status=404, payload=error_body(404, "not_found"))
    with pytest.raises(BackendNotFound):
        await client.delete_team(1, 3)


async def test_membership_add_is_retried_after_a_drop(client, mock):
    url = TEAM_URL + "/members/add"
    mock.post(url, exception=aiohttp.ServerDisconnectedError())
    mock.post(url, payload={"added": 0})
    assert await client.add_members(1, 3, [7, 8]) == {"added": 0}
    assert [c.kwargs["data"] for c in calls(mock, "POST", url)] == [b'{"employee_ids":[7,8]}'] * 2


async def test_deactivate_is_retried_after_a_timeout(client, mock):
    url = EMP_URL + "/deactivate"
    mock.post(url, exception=TimeoutError())
    mock.post(url, payload={**RECORD, "status": "deactivated"})
    assert (await client.deactivate_employee(1, 7))["status"] == "deactivated"
    assert client.stats["POST employees/deactivate"] == 2


# ---------------------------------------------------------- connection refused (real socket)


async def test_connection_refused_is_retried_even_for_unsafe_calls_then_unavailable(sleeps):
    """Nothing reached the backend, so even a PATCH without If-Match may be repeated."""
    async with BackendClient(f"http://127.0.0.1:{free_port()}", TOKEN, max_retries=2) as client:
        with pytest.raises(BackendUnavailable) as info:
            await client.update_employee(1, 7, {"title": "x"}, if_match=None)
    assert client.stats["PATCH employees"] == 3
    assert len(sleeps) == 2
    assert info.value.retry_after == DEFAULT_RETRY_AFTER_S


# ------------------------------------------------------------------ headers, stats, logs


async def test_request_id_and_token_are_sent(client, mock):
    mock.get(EMP_URL, payload=RECORD)
    token = request_id.set("scim-abc-123")
    try:
        await client.get_employee(1, 7)
    finally:
        request_id.reset(token)
    headers = calls(mock, "GET", EMP_URL)[0].kwargs["headers"]
    assert headers["X-Request-Id"] == "scim-abc-123"
    assert headers["Authorization"] == f"Token {TOKEN}"


async def test_no_request_id_header_when_none_is_set(client, mock):
    mock.get(EMP_URL, payload=RECORD)
    await client.get_employee(1, 7)
    assert "X-Request-Id" not in calls(mock, "GET", EMP_URL)[0].kwargs["headers"]


async def test_retries_are_logged_at_warning_without_the_token(client, mock, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.backend")
    mock.get(EMP_URL, status=503)
    mock.get(EMP_URL, payload=RECORD)
    await client.get_employee(1, 7)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "/orgs/1/employees/7" in warnings[0].getMessage()
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)


async def test_more_than_100_member_ids_is_refused_before_sending(client, mock):
    with pytest.raises(ValueError):
        await client.add_members(1, 3, list(range(101)))
    with pytest.raises(ValueError):
        await client.remove_members(1, 3, list(range(101)))
    assert client.stats["total"] == 0


async def test_calls_before_start_fail_clearly():
    client = BackendClient("http://backend.test", TOKEN)
    with pytest.raises(RuntimeError, match="start"):
        await client.get_org(1)


# ------------------------------------------------------------------ paging


def page_body(ids: list[int], page: int, per_page: int, total: int) -> dict:
    return {
        "employees": [{"id": i} for i in ids],
        "meta": {"page": page, "per_page": per_page, "total": total},
    }


async def test_pages_streams_page_by_page(client, mock):
    pattern = re.compile(r"^http://backend\.test/internal/v1/orgs/1/employees\?.*$")
    mock.get(pattern, payload=page_body([1, 2], 1, 2, 5))
    mock.get(pattern, payload=page_body([3, 4], 2, 2, 5))
    mock.get(pattern, payload=page_body([5], 3, 2, 5))
    stream = pages(lambda n: client.list_employees(1, page=n, per_page=2, status="active"))
    first = await anext(stream)
    assert first.items == [{"id": 1}, {"id": 2}]
    assert client.stats["GET employees"] == 1  # later pages not fetched yet
    rest = [e["id"] async for page in stream for e in page.items]
    assert rest == [3, 4, 5]
    assert client.stats["GET employees"] == 3
    urls = sorted(str(url) for (method, url) in mock.requests)
    assert all("status=active" in u and "per_page=2" in u for u in urls)
    assert {URL(u).query["page"] for u in urls} == {"1", "2", "3"}


async def test_list_employees_sends_only_given_filters(client, mock):
    pattern = re.compile(r"^http://backend\.test/internal/v1/orgs/1/employees\?.*$")
    mock.get(pattern, payload=page_body([9], 1, 50, 1))
    from datetime import UTC, datetime

    page = await client.list_employees(
        1, email="Ada@Acme.example", updated_since=datetime(2026, 11, 28, 14, 3, 11, tzinfo=UTC)
    )
    assert page.items == [{"id": 9}] and page.total == 1 and page.is_last
    (url,) = [u for (_, u) in mock.requests]
    assert dict(url.query) == {
        "page": "1",
        "per_page": "50",
        "email": "Ada@Acme.example",
        "updated_since": "2026-11-28T14:03:11Z",
    }
