"""A rate-limited backend is waited out (Retry-After honoured) or answered with 503."""

from __future__ import annotations

import asyncio

import pytest

from gateway.web.state import BACKEND
from tests.asserts import assert_scim_503
from tests.conftest import World
from tests.scrape import scrape, value

LIMIT = 2
LIST = "GET /internal/v1/orgs/{org}/employees?page=1&per_page=1"


@pytest.fixture
def sandbox_rate_limit() -> int:
    return LIMIT


async def _warm(world: World) -> None:
    """Fetch the org's flags (and build its user index) once with the limit off, then restore
    it with an empty window, so a burst's backend calls are only its list calls."""
    await world.backend.set_org(world.org_a, rate_limit_per_s=0)
    status, body, _ = await world.a.get("/Users?count=1")
    assert status == 200, body
    await world.settle()  # the org's user index, built in the background, too
    await world.backend.set_org(world.org_a, rate_limit_per_s=LIMIT)
    await world.backend.clear_log()


async def test_rate_limited_backend_is_waited_out_or_503_never_500(world: World):
    results = await asyncio.gather(*(world.a.get("/Users?count=1") for _ in range(8)))
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
    # 8 calls at 2 a second can't all fit in the 3 s deadline: the limiter really refused.
    assert 503 in statuses, statuses
    assert world.app[BACKEND].stats["retries"] >= 1
    for status, body, headers in results:
        if status == 503:
            assert_scim_503(status, body, headers)


async def test_a_burst_that_fits_the_deadline_is_waited_out_and_all_succeed(world: World):
    """Four lists at once against 2 calls a second: two are refused with Retry-After: 1,
    wait it out and are admitted on their one retry (a retry sooner than the
    Retry-After would be refused again), so all four answer 200 within the deadline."""
    await _warm(world)
    results = await asyncio.gather(*(world.a.get("/Users?count=1") for _ in range(4)))
    assert [status for status, _, _ in results] == [200] * 4, results
    assert all(body["totalResults"] == 0 for _, body, _ in results)
    # Six calls reached the sandbox: four admitted, two refused with 429 before their retry.
    assert await world.backend.calls() == [LIST.format(org=world.org_a)] * 6
    assert world.app[BACKEND].stats["retries"] == 2


async def test_rate_limited_calls_and_their_retries_are_counted_in_metrics(world: World):
    """The same burst as above, seen from /metrics: two 429s, two retries, four 200s."""
    metrics_url = world.gateway_url.removesuffix("/scim/v2") + "/metrics"
    await _warm(world)
    before = await scrape(world.session, metrics_url)
    results = await asyncio.gather(*(world.a.get("/Users?count=1") for _ in range(4)))
    assert [status for status, _, _ in results] == [200] * 4, results
    after = await scrape(world.session, metrics_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "GET employees"
    assert delta("backend_rate_limited_total", route=route) == 2
    assert delta("backend_retries_total", route=route) == 2
    assert delta("backend_requests_total", route=route, status="429") == 2
    assert delta("backend_requests_total", route=route, status="200") == 4
    assert delta("backend_request_duration_seconds_count", route=route) == 6
    assert delta("scim_requests_total", org=str(world.org_a), operation="GET /Users",
                 status="200") == 4
