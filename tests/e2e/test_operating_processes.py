"""What an operator gets from real `python -m gateway` processes: their stderr and /metrics.

Each gateway is a separate process with its stderr captured, in front of the
test's sandbox. One runs a whole provisioning sequence with every kind of
secret in play and its log is searched for each of them; two sharing a
PROMETHEUS_MULTIPROC_DIR show that /metrics adds up both workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import CredentialStore
from gateway.provisioning.index_watermark import Reading
from gateway.state import StateDB
from gateway.state.user_index_entries import UserIndexEntries
from tests.bodies import GROUP, okta_user, patch_ops
from tests.conftest import SANDBOX_TOKEN, TEST_SCRYPT, ScimClient, World, basic
from tests.net import free_port
from tests.scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-scrape-token-7Qx"
USER_PASSWORD = "Idp-Sent-Passw0rd-9Zk"  # a SCIM password attribute in the create body
WRONG_PASSWORD = "Wr0ng-Passw0rd-Tz4"


@dataclass
class GatewayProcess:
    proc: asyncio.subprocess.Process
    url: str  # http://127.0.0.1:<port>
    stderr: Path
    stdout: Path

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def start_gateway(world: World, state_url: str, directory: Path, name: str,
                        **env: str) -> GatewayProcess:
    port = free_port()
    full_env = {**os.environ, "WS_BACKEND_URL": world.backend.url,
                "WS_BACKEND_TOKEN": SANDBOX_TOKEN, "WS_STATE_URL": state_url,
                "PORT": str(port), **env}
    full_env.pop("WS_REDIS_URL", None)  # in-process id store: nothing shared to clean up
    stderr, stdout = directory / f"{name}.stderr", directory / f"{name}.stdout"
    config = directory / "empty.toml"  # every setting from the environment
    config.write_text("")
    with stderr.open("wb") as err, stdout.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(config),
            cwd=ROOT, env=full_env, stdout=out, stderr=err, stdin=asyncio.subprocess.DEVNULL)
    gateway = GatewayProcess(proc, f"http://127.0.0.1:{port}", stderr, stdout)
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                break
            try:
                async with session.get(gateway.url + "/healthz") as resp:
                    if resp.status == 200:
                        return gateway
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    await gateway.stop()
    raise AssertionError("gateway did not start:\n" + stderr.read_text(errors="replace"))


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for gateway in started:
        await gateway.stop()


async def test_a_whole_okta_and_entra_run_logs_json_lines_with_request_ids_and_no_secret(
    world: World, tmp_path: Path, processes: list[GatewayProcess],
):
    path = f"sqlite:///{tmp_path / 'gateway-state.db'}"
    state = StateDB(path)
    store = CredentialStore(state, params=TEST_SCRYPT)
    okta = await store.issue_basic(world.org_a, label="okta")
    entra = await store.issue_token(world.org_a, label="entra")
    await state.close()
    assert okta.username and okta.password and entra.token
    gateway = await start_gateway(world, path, tmp_path, "gw", WS_METRICS_TOKEN=METRICS_TOKEN)
    processes.append(gateway)
    scim = gateway.url + "/scim/v2"
    basic_header = basic(okta.username, okta.password)
    a = ScimClient(world.session, scim, basic_header)
    b = ScimClient(world.session, scim, f"Bearer {entra.token}")
    answered: list[tuple[int, str]] = []  # (status, X-Request-Id) of every SCIM request

    async def call(client: ScimClient, method: str, path: str, body=None, **kw):
        status, payload, headers = await client.request(method, path, body, **kw)
        answered.append((status, headers["X-Request-Id"]))
        return status, payload

    okta_ua = {"User-Agent": "Okta SCIM Client 1.0.0"}
    assert (await call(a, "GET", "/Users?startIndex=1&count=2", headers=okta_ua))[0] == 200
    user = okta_user("jane@acme.example") | {"password": USER_PASSWORD}
    status, created = await call(a, "POST", "/Users", user,
                                 headers={**okta_ua, "X-Request-Id": "okta-create-1"})
    assert status == 201, created
    uid = created["id"]
    status, current = await call(a, "GET", f"/Users/{uid}", headers=okta_ua)
    assert status == 200
    status, _ = await call(a, "PUT", f"/Users/{uid}", current | {"title": "Engineer"},
                           headers=okta_ua)
    assert status == 200
    deactivate = patch_ops({"op": "replace", "value": {"active": False}})
    assert (await call(a, "PATCH", f"/Users/{uid}", deactivate, headers=okta_ua))[0] == 200
    status, group = await call(a, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": "Engineering", "members": [{"value": uid}]},
        headers=okta_ua)
    assert status == 201, group
    add = patch_ops({"op": "add", "path": "members", "value": [{"value": uid}]})
    assert (await call(a, "PATCH", f"/Groups/{group['id']}", add, headers=okta_ua))[0] == 204
    entra_ua = {"User-Agent": "Azure Active Directory SCIM Client"}
    reactivate = patch_ops({"op": "Replace", "path": "active", "value": "True"})
    assert (await call(b, "PATCH", f"/Users/{uid}", reactivate, headers=entra_ua))[0] == 200
    wrong = basic(okta.username, WRONG_PASSWORD)
    assert (await call(ScimClient(world.session, scim, wrong), "GET", "/Users"))[0] == 401
    forged = entra.token[:-4] + "AAAA"
    assert (await call(ScimClient(world.session, scim, f"Bearer {forged}"), "GET",
                       "/Users"))[0] == 401
    samples = await scrape(world.session, gateway.url + "/metrics", METRICS_TOKEN)
    await gateway.stop()

    lines = gateway.stderr.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(r, dict) and {"time", "level", "message"} <= set(r) for r in records)

    access = [r for r in records if r.get("logger") == "gateway.access"]
    assert [(r["status"], r["request_id"]) for r in access] == answered
    assert access[1]["request_id"] == "okta-create-1"
    for r in access:
        assert "{" in r["route"] or r["route"].endswith(("/Users", "/Groups")), r
        assert uid not in r["route"]
    ok = [r for r in access if r["status"] < 400]
    assert all(r["org"] == world.org_a and r["backend_calls"] >= 1 for r in ok)
    assert {r["credential_id"] for r in ok} == {okta.credential_id, entra.credential_id}
    assert [r["idp"] for r in ok] == ["okta"] * 7 + ["entra"]
    # The two refusals are in the access log with their request ids (checked above), and
    # in one summary line of failed logins (not one line per attempt), written at exit.
    [refused] = [r for r in records if r.get("logger") == "gateway.auth.guard"]
    assert "2 failed logins" in refused["message"]
    assert [r["status"] for r in access[-2:]] == [401, 401]

    [start] = [r for r in records if r["message"].startswith("starting with")]
    assert start["config"]["backend"]["token"] == "***"
    assert start["config"]["metrics"]["token"] == "***"
    assert any(r.get("default_mapping") == "mappings.default" for r in records)

    output = gateway.stderr.read_text() + gateway.stdout.read_text()
    secrets = {
        "Basic password": okta.password,
        "bearer token": entra.token,
        "bearer token's secret part": entra.token.rsplit("_", 1)[1],
        "forged bearer token": forged,
        "wrong password": WRONG_PASSWORD,
        "SCIM password attribute": USER_PASSWORD,
        "backend service token": SANDBOX_TOKEN,
        "metrics token": METRICS_TOKEN,
        "Basic header": basic_header.split(" ", 1)[1],
        "wrong Basic header": wrong.split(" ", 1)[1],
    }
    leaked = [name for name, secret in secrets.items() if secret in output]
    assert leaked == []

    org = str(world.org_a)
    assert value(samples, "scim_requests_total", org=org, idp="okta", operation="POST /Users",
                 status="201") == 1
    assert value(samples, "scim_requests_total", org=org, idp="entra",
                 operation="PATCH /Users/{id}", status="200") == 1
    assert value(samples, "auth_failures_total", reason="invalid_basic") == 1
    assert value(samples, "auth_failures_total", reason="invalid_bearer") == 1


async def test_metrics_add_up_every_worker_sharing_the_multiprocess_directory(
    world: World, tmp_path: Path, processes: list[GatewayProcess],
):
    path = f"sqlite:///{tmp_path / 'gateway-state.db'}"
    state = StateDB(path)
    okta = await CredentialStore(state, params=TEST_SCRYPT).issue_basic(world.org_a,
                                                                       label="okta")
    # The org's user index already built, so no worker builds it: every backend call
    # below is a request's own.
    await UserIndexEntries(state).set_mark(world.org_a, Reading().watermark(), people=0)
    await state.close()
    shared = tmp_path / "prometheus"
    shared.mkdir()
    for name in ("worker-1", "worker-2"):
        processes.append(await start_gateway(world, path, tmp_path, name,
                                             PROMETHEUS_MULTIPROC_DIR=str(shared)))
    one, two = (ScimClient(world.session, p.url + "/scim/v2",
                           basic(okta.username, okta.password)) for p in processes)
    for client, times in ((one, 2), (two, 3)):
        for _ in range(times):
            status, body, _ = await client.get("/Users?count=1")
            assert status == 200, body

    org = str(world.org_a)
    for gateway in processes:  # either worker answers for both
        samples = await scrape(world.session, gateway.url + "/metrics")
        assert value(samples, "scim_requests_total", org=org, operation="GET /Users",
                     status="200") == 5
        assert value(samples, "scim_request_duration_seconds_count",
                     operation="GET /Users") == 5
        assert value(samples, "backend_requests_total", route="GET employees",
                     status="200") == 5
