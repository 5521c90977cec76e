"""What an operator sees of SCIM traffic: request ids to the backend, access lines, /metrics.

Gateway → sandbox over real sockets with a real Redis; /metrics is read with
Prometheus's own parser, and counted as before/after differences (the
registry is the process's, shared by every test).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.auth import CredentialStore
from gateway.config import Config
from gateway.idstore import RedisIdStore
from gateway.observability.metrics import render
from gateway.web.app import build_app
from tests.asserts import assert_scim_503
from tests.bodies import okta_user, patch_ops
from tests.conftest import TEST_SCRYPT, World, basic
from tests.net import free_port
from tests.scrape import Samples, parse, scrape, value


def metrics_url(world: World) -> str:
    return world.gateway_url.removesuffix("/scim/v2") + "/metrics"


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def credential_id(world: World, org: int) -> str:
    [info] = [c for c in await world.credentials.list() if c.org_id == org]
    return info.id


async def test_every_backend_call_carries_the_idps_request_id(world: World):
    await world.backend.clear_log()
    status, body, headers = await world.a.post("/Users", okta_user(),
                                               headers={"X-Request-Id": "okta-req-42"})
    assert status == 201, body
    assert headers["X-Request-Id"] == "okta-req-42"
    status, _, headers = await world.a.patch(
        f"/Users/{body['id']}", patch_ops({"op": "replace", "value": {"active": False}}))
    assert status == 200
    generated = headers["X-Request-Id"]
    await world.settle()
    _, log = await world.backend.call("GET", "/_sandbox/requests")
    every = [r["request_id"] for r in log["requests"]]
    # The org's first request also started building its user index: the build's calls
    # carry an id of their own, never the IdP's.
    assert any(i.startswith("user-index-build-") for i in every), every
    ids = [i for i in every if not i.startswith("user-index-build-")]
    assert ids and set(ids) == {"okta-req-42", generated}, ids
    assert ids[0] == "okta-req-42" and ids[-1] == generated


async def test_one_access_line_per_scim_request_names_the_route_template_not_the_id(
    world: World, caplog: pytest.LogCaptureFixture,
):
    created = await world.a.post("/Users", okta_user())
    uid = created[1]["id"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        status, _, headers = await world.a.get(f"/Users/{uid}")
        bad = await world.client(basic("nobody", "wrong")).get("/Users")
        root = world.gateway_url.removesuffix("/scim/v2")
        for probe in ("/healthz", "/metrics"):  # the load balancer's and Prometheus's polls
            async with world.session.get(root + probe) as resp:
                assert resp.status == 200
    assert status == 200 and bad[0] == 401
    lines = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(lines) == 2
    read, refused = lines
    assert read.request_id == headers["X-Request-Id"]
    assert (read.method, read.route, read.status) == ("GET", "/scim/v2/Users/{id}", 200)
    assert read.org == world.org_a and read.credential_id == await credential_id(world, world.org_a)
    assert read.idp == "okta"  # the credential's label: aiohttp's User-Agent names no IdP
    assert read.backend_calls >= 1 and read.retries == 0
    assert isinstance(read.duration_ms, float)
    assert uid not in read.route
    assert (refused.status, refused.org, refused.credential_id) == (401, None, None)
    assert refused.backend_calls == 0


async def test_metrics_count_requests_backend_calls_and_auth_failures(world: World):
    before = await scrape(world.session, metrics_url(world))
    status, body, _ = await world.a.post("/Users", okta_user(), headers={
        "User-Agent": "Okta SCIM Client 1.0.0"})
    assert status == 201, body
    await world.client(basic("nobody", "wrong")).get("/Users")
    await world.client("Bearer wsg_000000000000_nope").get("/Users")
    await world.client("").get("/Users")
    await world.client("Digest x").get("/Users")
    after = await scrape(world.session, metrics_url(world))
    org = str(world.org_a)
    assert delta(before, after, "scim_requests_total", org=org, idp="okta",
                 operation="POST /Users", status="201") == 1
    assert delta(before, after, "scim_request_duration_seconds_count",
                 operation="POST /Users") == 1
    assert delta(before, after, "scim_requests_total", org="none", status="401") == 4
    assert delta(before, after, "backend_requests_total", route="POST employees",
                 status="201") == 1
    for reason in ("invalid_basic", "invalid_bearer", "missing", "unsupported_scheme"):
        assert delta(before, after, "auth_failures_total", reason=reason) == 1, reason
    assert delta(before, after, "auth_failures_total", reason="malformed") == 0


async def test_metrics_carry_no_user_ids_user_names_or_raw_paths(world: World):
    status, body, _ = await world.a.post("/Users", okta_user("private.person@acme.example"))
    assert status == 201, body
    uid = body["id"]
    await world.a.get(f"/Users/{uid}")
    await world.a.get("/Users", params={"filter": 'userName eq "private.person@acme.example"'})
    await world.a.get("/Users/does-not-exist")
    await world.a.get("/NoSuchThing/123")
    async with world.session.get(metrics_url(world)) as resp:
        text = await resp.text()
    assert "private.person" not in text
    assert f"/Users/{uid}\"" not in text and "does-not-exist" not in text
    assert "NoSuchThing" not in text
    assert 'operation="GET /Users/{id}"' in text
    assert 'operation="GET (unmatched)"' in text


async def test_backend_maintenance_shows_as_503s_retries_and_an_access_line_with_them(
    world: World, caplog: pytest.LogCaptureFixture,
):
    status, _, _ = await world.a.get("/Users?count=1")  # the org's flags are now cached
    assert status == 200
    await world.settle()  # and its user index built
    before = await scrape(world.session, metrics_url(world))
    await world.backend.maintenance(True, retry_after=0)
    try:
        with caplog.at_level(logging.INFO, logger="gateway.access"):
            status, body, headers = await world.a.get("/Users?count=1")
    finally:
        await world.backend.maintenance(False)
    assert_scim_503(status, body, headers)
    after = await scrape(world.session, metrics_url(world))
    retries = world.extra["config"].backend.max_retries
    assert delta(before, after, "backend_unavailable_total", route="GET employees") == retries + 1
    assert delta(before, after, "backend_retries_total", route="GET employees") == retries
    assert delta(before, after, "scim_requests_total", org=str(world.org_a),
                 operation="GET /Users", status="503") == 1
    [line] = [r for r in caplog.records if r.name == "gateway.access"]
    assert (line.status, line.backend_calls, line.retries) == (503, retries + 1, retries)
    assert line.levelno == logging.WARNING


async def test_a_full_index_rebuild_is_counted_and_timed(world: World):
    before = await scrape(world.session, metrics_url(world))
    # externalId is answered from the index, built in the background from the org's first
    # user request on (this one, which waits the moment a small org's build takes).
    status, _, _ = await world.a.get("/Users", params={"filter": 'externalId eq "00u-nobody"'})
    assert status == 200
    after = await scrape(world.session, metrics_url(world))
    assert delta(before, after, "index_rebuilds_total", index="users", kind="full") == 1
    assert delta(before, after, "index_rebuild_duration_seconds_count", index="users",
                 kind="full") == 1


async def test_redis_failures_are_counted_by_operation():
    port = free_port()  # nothing listens there: every Redis call fails
    store = RedisIdStore(f"redis://127.0.0.1:{port}/0", prefix="obs-test")
    try:
        before = await _local_samples()
        assert await store.get_many(17, [("users", "k")]) == [None]
        after = await _local_samples()
    finally:
        await store.close()
    assert delta(before, after, "redis_errors_total", operation="get_many") == 1


async def _local_samples() -> Samples:
    """This process's metrics, as /metrics would show them."""
    return parse(render()[0].decode())


def _config(**metrics: object) -> Config:
    config = Config()
    return replace(config,
                   backend=replace(config.backend, url="http://127.0.0.1:9", token="t"),
                   metrics=replace(config.metrics, **metrics))


async def _metrics_status(config: Config, headers: dict) -> tuple[int, str]:
    app = build_app(config, CredentialStore(None, params=TEST_SCRYPT))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session, session.get(
                str(server.make_url("/metrics")), headers=headers) as resp:
            return resp.status, await resp.text()
    finally:
        await server.close()


async def test_metrics_token_keeps_metrics_from_anyone_without_it():
    config = _config(token="scrape-secret")
    assert (await _metrics_status(config, {}))[0] == 401
    assert (await _metrics_status(config, {"Authorization": "Bearer wrong"}))[0] == 401
    status, text = await _metrics_status(config, {"Authorization": "Bearer scrape-secret"})
    assert status == 200 and "scim_requests_total" in text
    assert "scrape-secret" not in text


async def test_metrics_can_be_switched_off():
    assert (await _metrics_status(_config(enabled=False), {}))[0] == 404
    assert (await _metrics_status(_config(), {}))[0] == 200



def test_start_up_names_the_mapping_module_of_every_org(caplog: pytest.LogCaptureFixture):
    config = _config()
    config = replace(config, mappings=replace(config.mappings, orgs={
        "17": "mappings.examples.acme", "18": "mappings.examples.globex"}))
    with caplog.at_level(logging.INFO, logger="gateway.web.app"):
        build_app(config, CredentialStore(None, params=TEST_SCRYPT))
    [line] = [r for r in caplog.records if r.message.startswith("mapping modules")]
    assert line.default_mapping == "mappings.default"
    assert line.org_mappings == {"17": "mappings.examples.acme", "18": "mappings.examples.globex"}
    assert "mappings.examples.acme for org 17" in line.message
