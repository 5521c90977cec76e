"""Per-org rate limit: `rate_limit_per_s` requests a second, then 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.app import create_app
from tests.sandbox.conftest import Api, FakeClock


async def _limited_org(api: Api, limit: int) -> str:
    org = await api.create_org(rate_limit_per_s=limit)
    return f"/internal/v1/orgs/{org['id']}"


async def test_requests_over_the_limit_are_rate_limited(api: Api) -> None:
    base = await _limited_org(api, 3)
    statuses = [(await api.call("GET", base)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_rate_limited_answer_has_integer_retry_after(api: Api) -> None:
    base = await _limited_org(api, 1)
    await api.call("GET", base)
    reply = await api.call("GET", f"{base}/employees")
    assert reply.status == 429
    assert reply.error_code == "rate_limited"
    assert int(reply.headers["Retry-After"]) >= 1


async def test_rate_limit_frees_up_after_a_second(api: Api, clock: FakeClock) -> None:
    base = await _limited_org(api, 2)
    await api.call("GET", base)
    await api.call("GET", base)
    assert (await api.call("GET", base)).status == 429
    clock.advance(1)
    assert (await api.call("GET", base)).status == 200


async def test_rate_limit_window_slides(api: Api, clock: FakeClock) -> None:
    base = await _limited_org(api, 2)
    await api.call("GET", base)
    clock.advance(0.6)
    await api.call("GET", base)
    clock.advance(0.6)  # the first request left the window, the second has not
    assert (await api.call("GET", base)).status == 200
    assert (await api.call("GET", base)).status == 429


async def test_rate_limit_zero_disables_it(api: Api) -> None:
    base = await _limited_org(api, 0)
    statuses = {(await api.call("GET", base)).status for _ in range(120)}
    assert statuses == {200}


async def test_rate_limit_is_per_org(api: Api) -> None:
    busy = await _limited_org(api, 1)
    calm = await _limited_org(api, 1)
    await api.call("GET", busy)
    assert (await api.call("GET", busy)).status == 429
    assert (await api.call("GET", calm)).status == 200


async def test_unknown_route_does_not_use_up_the_limit(api: Api) -> None:
    base = await _limited_org(api, 1)
    assert (await api.call("GET", f"{base}/widgets")).status == 404
    assert (await api.call("GET", base)).status == 200


async def test_admin_routes_are_not_rate_limited(api: Api) -> None:
    org = await api.create_org(rate_limit_per_s=1)
    statuses = {(await api.call("GET", f"/_sandbox/orgs/{org['id']}")).status for _ in range(5)}
    assert statuses == {200}


async def test_raising_the_limit_takes_effect(api: Api) -> None:
    org = await api.create_org(rate_limit_per_s=1)
    base = f"/internal/v1/orgs/{org['id']}"
    await api.call("GET", base)
    assert (await api.call("GET", base)).status == 429
    await api.call("PATCH", f"/_sandbox/orgs/{org['id']}", {"rate_limit_per_s": 0})
    assert (await api.call("GET", base)).status == 200


async def test_default_rate_limit_applies_to_new_orgs(aiohttp_client: Any) -> None:
    clock = FakeClock()
    app: web.Application = create_app(default_rate_limit=2, clock=clock)
    api = Api(await aiohttp_client(app), app)
    org = await api.create_org()
    assert org["rate_limit_per_s"] == 2
    base = f"/internal/v1/orgs/{org['id']}"
    statuses = [(await api.call("GET", base)).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_sandbox_default_rate_limit_is_fifty(aiohttp_client: Any) -> None:
    app = create_app(clock=FakeClock())
    api = Api(await aiohttp_client(app), app)
    org = await api.create_org()
    assert org["rate_limit_per_s"] == 50
    base = f"/internal/v1/orgs/{org['id']}"
    statuses = [(await api.call("GET", base)).status for _ in range(51)]
    assert statuses.count(200) == 50
    assert statuses[-1] == 429
