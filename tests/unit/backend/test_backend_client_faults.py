"""Backend client under faults the sandbox cannot produce, over real sockets.

Each test scripts a small HTTP server (`tests/scripted_backend.py`) to answer,
misbehave (reset, close before or mid-answer, never answer, answer slowly, send
bytes that are not HTTP) or answer in the less common shapes (chunked,
`Connection: close`, no length, no body), and asserts what the client does:
which calls are retried, with which headers, and what the caller gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

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
from tests.scripted_backend import (
    TLS_PEM,
    ScriptedBackend,
    Step,
    cut_mid_body,
    drop,
    garbage,
    hang,
    reply,
    reset,
    slow_headers,
)

TOKEN = "s3cret-service-token"
#: One attempt's timeout: the scripted server answers at once, unless told to hang.
ATTEMPT_TIMEOUT_S = 0.5


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's waits between attempts instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(client_mod, "_sleep", fake_sleep)
    return recorded


@pytest.fixture
async def server() -> AsyncIterator[ScriptedBackend]:
    async with ScriptedBackend() as backend:
        yield backend


@pytest.fixture
async def client(server: ScriptedBackend, sleeps: list[float]) -> AsyncIterator[BackendClient]:
    c = BackendClient(server.url, TOKEN, timeout_s=ATTEMPT_TIMEOUT_S, deadline_s=20,
                      max_retries=3)
    await c.start()
    yield c
    await c.close()


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds (what a socket event brings), a bounded wait."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


EMP = "/internal/v1/orgs/1/employees/7"
EMPLOYEES = "/internal/v1/orgs/1/employees"
TEAM = "/internal/v1/orgs/1/teams/3"
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


def error_body(status: int, code: str, fields: dict | None = None) -> dict:
    err: dict = {"code": code, "message": f"{code} happened"}
    if fields is not None:
        err["fields"] = fields
    return {"error": err}


# ------------------------------------------------------------------ retries of safe calls

# Every way an attempt can end without a usable answer.
FAULTS: dict[str, Callable[[], Step]] = {
    "timeout": hang,
    "slow-headers": slow_headers,
    "dropped": drop,
    "reset": reset,
    "truncated": cut_mid_body,
    # A body that runs until the server closes is whole only if it closes, not resets.
    "reset-mid-body-until-close": lambda: reset(after=b"HTTP/1.1 200 OK\r\n\r\n{\"id\": 7"),
    "invalid-http": garbage,
    "502-no-body": lambda: reply(502),
    "500-html": lambda: reply(500, body="<html>Internal Server Error</html>"),
    "503": lambda: reply(503, error_body(503, "unavailable")),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_get_is_retried_after_a_fault_then_succeeds(client, server, sleeps, fault):
    server.then(fault(), reply(200, RECORD))
    assert await client.get_employee(1, 7) == RECORD
    assert len(server.requests("GET", EMP)) == 2
    assert client.stats["GET employees"] == 2
    assert client.stats["retries"] == 1
    assert len(sleeps) == 1


async def test_backoff_grows_between_attempts(client, server, sleeps):
    server.then(*(reply(500) for _ in range(4)))
    with pytest.raises(BackendUnavailable) as info:
        await client.get_employee(1, 7)
    assert len(server.requests("GET", EMP)) == 4  # first try + max_retries
    assert info.value.retry_after == DEFAULT_RETRY_AFTER_S
    assert isinstance(info.value.retry_after, int)
    assert len(sleeps) == 3  # one wait before each retry
    base = client.backoff_base_s
    for n, delay in enumerate(sleeps, start=1):
        cap = min(client.backoff_max_s, base * 2 ** (n - 1))
        assert cap / 2 <= delay <= cap


async def test_retries_exhausted_report_the_backends_retry_after(client, server, sleeps):
    server.then(*(reply(503, headers={"Retry-After": "2"}) for _ in range(4)))
    with pytest.raises(BackendUnavailable) as info:
        await client.get_employee(1, 7)
    assert info.value.retry_after == 2
    assert len(server.requests("GET", EMP)) == 4
    assert len(sleeps) == 3
    assert all(2 <= d < 3 for d in sleeps)


async def test_retry_after_is_honoured_when_it_fits_the_deadline(client, server, sleeps):
    server.then(reply(429, error_body(429, "rate_limited"), headers={"Retry-After": "3"}),
                reply(200, RECORD))
    assert await client.get_employee(1, 7) == RECORD
    assert len(sleeps) == 1 and 3 <= sleeps[0] < 3 + client.backoff_base_s + 1e-9


async def test_retry_after_past_the_deadline_fails_fast_with_that_value(server, sleeps):
    server.then(reply(429, headers={"Retry-After": "30"}))
    async with BackendClient(server.url, TOKEN, deadline_s=5) as client:
        with pytest.raises(BackendUnavailable) as info:
            await client.get_employee(1, 7)
    assert info.value.retry_after == 30
    assert sleeps == []
    assert len(server.requests("GET", EMP)) == 1


async def test_backoff_that_cannot_fit_the_deadline_fails_with_integer_retry_after(
    server, sleeps
):
    server.then(reply(500))
    async with BackendClient(server.url, TOKEN, deadline_s=0.05, backoff_base_s=1.0) as client:
        with pytest.raises(BackendUnavailable) as info:
            await client.get_employee(1, 7)
    assert isinstance(info.value.retry_after, int) and info.value.retry_after >= 1
    assert sleeps == []


async def test_unparseable_retry_after_falls_back_to_backoff(client, server, sleeps):
    server.then(reply(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
                reply(200, RECORD))
    assert await client.get_employee(1, 7) == RECORD
    assert sleeps[0] <= client.backoff_base_s


# ------------------------------------------------------------------ idempotent creates


async def test_create_reuses_one_generated_idempotency_key_across_retries(client, server):
    server.then(hang(), reply(502), reply(201, RECORD))
    fields = {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace"}
    assert await client.create_employee(1, fields) == RECORD
    sent = server.requests("POST", EMPLOYEES)
    keys = {s.headers["idempotency-key"] for s in sent}
    assert len(sent) == 3 and len(keys) == 1
    uuid.UUID(keys.pop(), version=4)
    assert client.stats["POST employees"] == 3
    assert all(s.headers["content-type"] == "application/json" for s in sent)


async def test_create_sends_the_callers_idempotency_key_verbatim(client, server):
    server.then(drop(), reply(201, {"id": 3, "name": "Eng"}))
    await client.create_team(1, {"name": "Eng"}, idempotency_key="scim-req-42")
    sent = server.requests("POST", "/orgs/1/teams")
    assert [s.headers["idempotency-key"] for s in sent] == ["scim-req-42"] * 2


async def test_each_create_call_gets_its_own_key(client, server):
    server.then(reply(201, RECORD), reply(201, RECORD))
    await client.create_employee(1, {"email": "a@x.example"})
    await client.create_employee(1, {"email": "b@x.example"})
    keys = [s.headers["idempotency-key"] for s in server.requests("POST", EMPLOYEES)]
    assert len(set(keys)) == 2


async def test_lost_create_answer_on_a_reused_connection_is_retried_with_its_key(
    client, server
):
    """The server closes a kept-alive connection as the create is written: whether it
    was applied is unknown, so only the Idempotency-Key makes the retry safe."""
    server.then(reply(200, RECORD), drop(), reply(201, RECORD))
    await client.get_employee(1, 7)
    assert await client.create_employee(1, {"email": "ada@acme.example"}) == RECORD
    first, second = server.requests("POST", EMPLOYEES)
    assert first.connection == 1  # the kept-alive connection was reused, then lost
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert client.stats["retries"] == 1


# ------------------------------------------------------------------ unsafe calls are not retried


UNSAFE_FAULTS: dict[str, Callable[[], Step]] = {
    "timeout": hang,
    "dropped": drop,
    "reset": reset,
    "truncated": cut_mid_body,
    "invalid-http": garbage,
    "500": lambda: reply(500),
    "503": lambda: reply(503, headers={"Retry-After": "7"}),
}


@pytest.mark.parametrize("fault", UNSAFE_FAULTS.items(), ids=UNSAFE_FAULTS.keys())
async def test_patch_without_if_match_is_not_retried(client, server, sleeps, fault):
    name, step = fault
    server.then(step(), reply(200, RECORD))
    with pytest.raises(BackendUnavailable) as info:
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=None)
    assert len(server.requests("PATCH", EMP)) == 1
    assert sleeps == []
    assert info.value.retry_after == (7 if name == "503" else DEFAULT_RETRY_AFTER_S)
    assert "if-match" not in server.requests("PATCH", EMP)[0].headers


async def test_unsafe_write_lost_on_a_reused_connection_is_not_replayed(client, server, sleeps):
    """A kept-alive connection the server closed under a write: nothing is replayed,
    neither by the client nor underneath it, since the PATCH may have been applied."""
    server.then(reply(200, RECORD), drop(), reply(200, RECORD))
    await client.get_employee(1, 7)
    with pytest.raises(BackendUnavailable, match="not safe to retry"):
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=None)
    (patch,) = server.requests("PATCH", EMP)
    assert patch.connection == 1
    assert sleeps == []


async def test_patch_without_if_match_is_retried_after_429(client, server, sleeps):
    """A 429 is refused before any work is done, so repeating it is always harmless."""
    server.then(reply(429, headers={"Retry-After": "1"}), reply(200, RECORD))
    assert await client.update_employee(1, 7, {"title": "Analyst"}, if_match=None) == RECORD
    assert len(server.requests("PATCH", EMP)) == 2


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
    client, server, sleeps, status, exc_type, fields
):
    server.then(reply(status, error_body(status, f"code{status}", fields)), reply(200, RECORD))
    with pytest.raises(exc_type) as info:
        await client.update_employee(1, 7, {"title": "x"}, if_match=4)
    assert type(info.value) is exc_type
    assert info.value.status == status
    assert info.value.code == f"code{status}"
    assert info.value.message == f"code{status} happened"
    assert info.value.fields == (fields or {})
    assert len(server.requests("PATCH", EMP)) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(404, BackendNotFound), (409, BackendConflict), (400, BackendBadRequest)],
)
async def test_non_json_error_body_is_mapped_by_status(client, server, status, exc_type):
    server.then(reply(status, body="<html>nope</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(exc_type) as info:
        await client.get_employee(1, 7)
    assert info.value.fields == {}
    assert info.value.code == f"http_{status}"


async def test_2xx_body_that_is_not_json_is_unavailable_not_a_crash(client, server):
    server.then(reply(200, body="<html>proxy login</html>"))
    with pytest.raises(BackendUnavailable):
        await client.get_employee(1, 7)


@pytest.mark.parametrize("body", ["", "[]", '"ok"', "null"])
async def test_2xx_body_that_is_not_an_object_is_unavailable_not_a_crash(client, server, body):
    server.then(reply(200, body=body))
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
async def test_list_answer_of_the_wrong_shape_is_unavailable_not_a_crash(client, server, payload):
    server.then(reply(200, payload))
    with pytest.raises(BackendUnavailable):
        await client.list_employees(1)


# ------------------------------------------------------------------ answer shapes


@pytest.mark.parametrize(
    "answer",
    [reply(200, RECORD, chunked=True), reply(200, RECORD, close=True),
     reply(200, RECORD, until_eof=True)],
    ids=["chunked", "connection-close", "body-until-close"],
)
async def test_every_framing_of_an_answer_is_read_whole(client, server, answer):
    server.then(answer, reply(200, RECORD))
    assert await client.get_employee(1, 7) == RECORD
    assert await client.get_employee(1, 7) == RECORD
    assert client.stats["retries"] == 0


async def test_connection_close_answer_makes_the_next_request_use_a_new_connection(
    client, server
):
    server.then(reply(200, RECORD, close=True), reply(200, RECORD), reply(200, RECORD))
    for _ in range(3):
        assert await client.get_employee(1, 7) == RECORD
    assert [s.connection for s in server.seen] == [1, 2, 2]  # kept alive after the second
    assert client.stats["retries"] == 0


async def test_an_idle_connection_the_server_closed_is_not_reused(client, server):
    server.then(reply(200, RECORD, hang_up=True), reply(200, RECORD))
    assert await client.get_employee(1, 7) == RECORD
    await until(lambda: server.open_connections == 0)
    await until(lambda: not client._transport._idle)  # the client saw the close
    assert await client.get_employee(1, 7) == RECORD
    assert [s.connection for s in server.seen] == [1, 2]
    assert client.stats["retries"] == 0


async def test_204_has_no_body_and_the_connection_stays_usable(client, server):
    server.then(reply(204), reply(200, RECORD))
    assert await client.delete_team(1, 3) is None
    assert await client.get_employee(1, 7) == RECORD
    assert [s.connection for s in server.seen] == [1, 1]


# ------------------------------------------------------------------ lost answers


async def test_412_after_a_lost_patch_that_landed_is_success(client, server):
    landed = {**RECORD, "title": "Boss", "department": None, "lock_version": 5}
    server.then(hang(), reply(412, error_body(412, "stale")), reply(200, landed))
    result = await client.update_employee(1, 7, {"title": "Boss", "department": None}, if_match=4)
    assert result == landed
    assert [s.headers["if-match"] for s in server.requests("PATCH", EMP)] == ["4", "4"]
    assert len(server.requests("GET", EMP)) == 1


async def test_412_after_a_lost_patch_with_other_values_is_stale(client, server):
    server.then(drop(), reply(412, error_body(412, "stale")),
                reply(200, {**RECORD, "title": "Someone else's edit", "lock_version": 5}))
    with pytest.raises(BackendStale):
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=4)


async def test_412_after_a_5xx_team_patch_that_landed_is_success(client, server):
    server.then(reply(504), reply(412, error_body(412, "stale")),
                reply(200, {"id": 3, "name": "Platform", "description": None,
                            "lock_version": 2}))
    team = await client.update_team(1, 3, {"name": "Platform"}, if_match=1)
    assert team["name"] == "Platform"


async def test_412_on_a_first_attempt_is_stale_without_a_reread(client, server):
    server.then(reply(412, error_body(412, "stale")))
    with pytest.raises(BackendStale):
        await client.update_employee(1, 7, {"title": "Boss"}, if_match=3)
    assert server.requests("GET") == []


async def test_delete_404_after_a_lost_answer_is_success(client, server):
    server.then(hang(), reply(404, error_body(404, "not_found")))
    assert await client.delete_team(1, 3) is None
    assert len(server.requests("DELETE", TEAM)) == 2


async def test_delete_404_on_first_attempt_is_not_found(client, server):
    server.then(reply(404, error_body(404, "not_found")))
    with pytest.raises(BackendNotFound):
        await client.delete_team(1, 3)


async def test_membership_add_is_retried_after_a_drop(client, server):
    server.then(reset(), reply(200, {"added": 0}))
    assert await client.add_members(1, 3, [7, 8]) == {"added": 0}
    sent = server.requests("POST", TEAM + "/members/add")
    assert [s.body for s in sent] == [b'{"employee_ids":[7,8]}'] * 2


async def test_deactivate_is_retried_after_a_timeout(client, server):
    server.then(hang(), reply(200, {**RECORD, "status": "deactivated"}))
    assert (await client.deactivate_employee(1, 7))["status"] == "deactivated"
    assert client.stats["POST employees/deactivate"] == 2
    # A POST without a body still says so, as a legacy server may insist on it.
    assert [s.headers["content-length"] for s in server.seen] == ["0", "0"]


# ---------------------------------------------------------- connection refused (real socket)


async def test_connection_refused_is_retried_even_for_unsafe_calls_then_unavailable(sleeps):
    """Nothing reached the backend, so even a PATCH without If-Match may be repeated."""
    async with BackendClient(f"http://127.0.0.1:{free_port()}", TOKEN, max_retries=2) as client:
        with pytest.raises(BackendUnavailable) as info:
            await client.update_employee(1, 7, {"title": "x"}, if_match=None)
    assert client.stats["PATCH employees"] == 3
    assert len(sleeps) == 2
    assert info.value.retry_after == DEFAULT_RETRY_AFTER_S


async def test_unknown_host_is_cannot_connect_and_retried(sleeps):
    async with BackendClient("http://backend.invalid", TOKEN, max_retries=1) as client:
        with pytest.raises(BackendUnavailable, match="cannot connect"):
            await client.update_employee(1, 7, {"title": "x"}, if_match=None)
    assert client.stats["PATCH employees"] == 2


# ------------------------------------------------------------------ https


async def test_an_https_backend_is_served_over_one_verified_keep_alive_connection(
    monkeypatch, sleeps
):
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_PEM))  # trust the test certificate
    async with ScriptedBackend(tls=True) as server:
        server.then(reply(200, RECORD), reply(200, RECORD, chunked=True))
        async with BackendClient(server.url, TOKEN) as client:
            assert await client.get_employee(1, 7) == RECORD
            assert await client.get_employee(1, 7) == RECORD
        assert server.connections == 1
        assert server.seen[0].headers["host"] == f"127.0.0.1:{server.port}"


async def test_an_https_backend_with_an_untrusted_certificate_cannot_connect(sleeps):
    """The handshake failed before any request was written: safe to retry, then 503."""
    async with ScriptedBackend(tls=True) as server, BackendClient(
        server.url, TOKEN, max_retries=1
    ) as client:
        with pytest.raises(BackendUnavailable, match="cannot connect"):
            await client.update_employee(1, 7, {"title": "x"}, if_match=None)
        assert client.stats["PATCH employees"] == 2
        assert server.seen == []


# ------------------------------------------------------------------ the pool


async def test_the_pool_never_opens_more_than_pool_size_connections(server, sleeps):
    server.then(*(reply(200, RECORD) for _ in range(6)))
    async with BackendClient(server.url, TOKEN, pool_size=2) as client:
        got = await asyncio.gather(*(client.get_employee(1, 7) for _ in range(6)))
    assert got == [RECORD] * 6
    assert server.connections == 2
    assert client.stats["retries"] == 0


async def test_a_request_waiting_for_a_busy_pool_times_out_as_cannot_connect(server, sleeps):
    """Nothing was sent while it waited, so even an unsafe call is retried."""
    server.then(hang())
    async with BackendClient(server.url, TOKEN, pool_size=1, timeout_s=ATTEMPT_TIMEOUT_S,
                             max_retries=1) as client:
        holder = asyncio.create_task(client.ping(30.0))  # holds the only connection
        await until(lambda: len(server.seen) == 1)
        with pytest.raises(BackendUnavailable, match="cannot connect") as info:
            await client.update_employee(1, 7, {"title": "x"}, if_match=None)
        holder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holder
    assert "no pooled connection free" in str(info.value)
    assert client.stats["PATCH employees"] == 2
    assert server.requests("PATCH") == []


async def test_a_cancelled_request_gives_its_connection_back(server, sleeps):
    server.then(hang(), reply(200, RECORD))
    async with BackendClient(server.url, TOKEN, pool_size=1) as client:
        task = asyncio.create_task(client.get_employee(1, 7))
        await until(lambda: len(server.seen) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await client.get_employee(1, 7) == RECORD
    assert [s.connection for s in server.seen] == [1, 2]  # the cancelled one was not reused


async def test_close_closes_the_pooled_connections(server, sleeps):
    server.then(reply(200, RECORD))
    client = BackendClient(server.url, TOKEN)
    await client.start()
    await client.get_employee(1, 7)
    assert server.open_connections == 1
    await client.close()
    await until(lambda: server.open_connections == 0)
    with pytest.raises(RuntimeError, match="start"):
        await client.get_employee(1, 7)


# ------------------------------------------------------------------ readiness ping


async def test_ping_is_true_when_the_backend_answers_404_for_org_0(server):
    server.then(reply(404, error_body(404, "not_found")), reply(503), reply(401))
    async with BackendClient(server.url, TOKEN) as client:
        assert await client.ping(1.0) is True
        assert await client.ping(1.0) is False
        assert await client.ping(1.0) is False
    assert server.seen[0].path == "/internal/v1/orgs/0"


async def test_ping_is_false_when_refused_and_raises_timeout_on_a_hang(server):
    async with BackendClient(f"http://127.0.0.1:{free_port()}", TOKEN) as client:
        assert await client.ping(1.0) is False
    server.then(hang())
    async with BackendClient(server.url, TOKEN) as client:
        with pytest.raises(TimeoutError):
            await client.ping(0.2)


# ------------------------------------------------------------------ headers, stats, logs


async def test_request_id_and_token_are_sent(client, server):
    server.then(reply(200, RECORD))
    token = request_id.set("scim-abc-123")
    try:
        await client.get_employee(1, 7)
    finally:
        request_id.reset(token)
    headers = server.seen[0].headers
    assert headers["x-request-id"] == "scim-abc-123"
    assert headers["authorization"] == f"Token {TOKEN}"
    assert headers["accept"] == "application/json"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert "accept-encoding" not in headers  # no compressed answers to decode


async def test_no_request_id_header_when_none_is_set(client, server):
    server.then(reply(200, RECORD))
    await client.get_employee(1, 7)
    assert "x-request-id" not in server.seen[0].headers


async def test_a_header_value_with_a_line_break_is_refused_before_sending(client, server):
    with pytest.raises(ValueError):
        await client.create_employee(1, {"email": "a@x.example"},
                                     idempotency_key="k\r\nX-Admin: yes")
    assert server.seen == []


async def test_base_url_with_a_path_prefix(server, sleeps):
    server.then(reply(200, RECORD))
    async with BackendClient(server.url + "/api/ws/", TOKEN) as client:
        assert await client.get_employee(1, 7) == RECORD
    assert server.seen[0].target == "/api/ws/internal/v1/orgs/1/employees/7"


async def test_ids_are_quoted_so_they_cannot_change_the_route(client, server):
    server.then(reply(200, RECORD))
    await client.get_employee(1, "7/../../admin?x=1")
    assert server.seen[0].target == "/internal/v1/orgs/1/employees/7%2F..%2F..%2Fadmin%3Fx%3D1"


async def test_retries_are_logged_at_warning_without_the_token(client, server, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.backend")
    server.then(reply(503), reply(200, RECORD))
    await client.get_employee(1, 7)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "/orgs/1/employees/7" in warnings[0].getMessage()
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)


async def test_more_than_100_member_ids_is_refused_before_sending(client, server):
    with pytest.raises(ValueError):
        await client.add_members(1, 3, list(range(101)))
    with pytest.raises(ValueError):
        await client.remove_members(1, 3, list(range(101)))
    assert client.stats["total"] == 0
    assert server.seen == []


async def test_calls_before_start_fail_clearly():
    client = BackendClient("http://backend.test", TOKEN)
    with pytest.raises(RuntimeError, match="start"):
        await client.get_org(1)


# ------------------------------------------------------------------ paging, query strings


def page_body(ids: list[int], page: int, per_page: int, total: int) -> dict:
    return {
        "employees": [{"id": i} for i in ids],
        "meta": {"page": page, "per_page": per_page, "total": total},
    }


async def test_pages_streams_page_by_page(client, server):
    server.then(reply(200, page_body([1, 2], 1, 2, 5)), reply(200, page_body([3, 4], 2, 2, 5)),
                reply(200, page_body([5], 3, 2, 5)))
    stream = pages(lambda n: client.list_employees(1, page=n, per_page=2, status="active"))
    first = await anext(stream)
    assert first.items == [{"id": 1}, {"id": 2}]
    assert client.stats["GET employees"] == 1  # later pages not fetched yet
    rest = [e["id"] async for page in stream for e in page.items]
    assert rest == [3, 4, 5]
    assert client.stats["GET employees"] == 3
    queries = [s.query for s in server.seen]
    assert all(q["status"] == "active" and q["per_page"] == "2" for q in queries)
    assert [q["page"] for q in queries] == ["1", "2", "3"]


async def test_list_employees_sends_only_given_filters(client, server):
    server.then(reply(200, page_body([9], 1, 50, 1)))
    page = await client.list_employees(
        1, email="Ada@Acme.example", updated_since=datetime(2026, 11, 28, 14, 3, 11, tzinfo=UTC)
    )
    assert page.items == [{"id": 9}] and page.total == 1 and page.is_last
    (seen,) = server.seen
    assert seen.path == EMPLOYEES
    assert seen.query == {
        "page": "1",
        "per_page": "50",
        "email": "Ada@Acme.example",
        "updated_since": "2026-11-28T14:03:11Z",
    }


@pytest.mark.parametrize("value", ["ada+scim@acme.example", "R&D = 100%", "a b/c?d#e", "Zoë ☃"])
async def test_query_values_arrive_exactly_as_given(client, server, value):
    """`+` must not turn into a space, nor `&`, `=` or `#` split the query."""
    server.then(reply(200, {"teams": [], "meta": {"total": 0, "page": 1, "per_page": 50}}))
    await client.list_teams(1, name=value)
    assert server.seen[0].query == {"page": "1", "per_page": "50", "name": value}
