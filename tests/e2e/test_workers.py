"""`server.workers = 2`: a real `python -m gateway` supervisor with two worker processes.

The gateway runs as a deployment does (configured by environment variables),
in front of the test's sandbox (through a fault proxy that can hold a backend
call) and a real Redis. Worker pids are read from the supervisor's children
in /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import CredentialStore
from gateway.idstore import RedisIdStore
from gateway.state import StateDB
from tests.conftest import SANDBOX_TOKEN, TEST_SCRYPT, ScimClient, World, basic
from tests.net import free_port

pytestmark = pytest.mark.e2e

# A Redis database of their own: the gateway uses the production key prefix.
GATEWAY_REDIS = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parents[2]
WAIT_STEPS = 600  # x 0.05 s: how long a wait for the processes may last before it fails


@pytest.fixture
def fault_proxy_enabled() -> bool:
    return True


@dataclass
class Gateway:
    proc: asyncio.subprocess.Process
    port: int
    auth: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> set[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(pid) for pid in path.read_text().split()}

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def workers() -> int:
    return 2


@pytest.fixture
async def gateway(world: World, tmp_path: Path, workers: int) -> AsyncIterator[Gateway]:
    state_url = f"sqlite:///{tmp_path / 'gateway-state.db'}"
    state = StateDB(state_url)
    issued = await CredentialStore(state, params=TEST_SCRYPT).issue_basic(world.org_a)
    await state.close()
    config = tmp_path / "empty.toml"  # the environment says everything
    config.write_text("")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WS_")},
           "WS_BACKEND_URL": world.extra["proxy"].url, "WS_BACKEND_TOKEN": SANDBOX_TOKEN,
           # A held backend call must outlast the wait for SIGTERM, not time out.
           "WS_BACKEND_TIMEOUT_S": "60", "WS_BACKEND_DEADLINE_S": "60",
           "WS_REDIS_URL": GATEWAY_REDIS, "WS_STATE_URL": state_url,
           "WS_SERVER_WORKERS": str(workers), "PORT": str(port)}
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(config), cwd=ROOT, env=env,
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
    gw = Gateway(proc, port, basic(issued.username, issued.password), log)
    try:
        # One worker is the process itself; more are its children.
        children = workers if workers > 1 else 0
        await until(lambda: _serving(gw, world.session, children), gw, "the workers serving")
        yield gw
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        store = RedisIdStore(GATEWAY_REDIS)
        await store.clear_org(world.org_a)
        await store.close()


async def _serving(gw: Gateway, session: aiohttp.ClientSession, children: int) -> bool:
    if len(gw.workers()) != children:
        return False
    try:
        async with session.get(gw.url + "/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def until(condition, gw: Gateway, what: str) -> None:
    """Wait for `condition()` (sync or async) to hold; fail with the gateway's log if never."""
    for _ in range(WAIT_STEPS):
        if gw.proc.returncode is not None:
            break
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}\n{gw.output()}")


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


async def test_killed_worker_is_replaced_and_requests_keep_being_answered(
    world: World, gateway: Gateway
) -> None:
    first = gateway.workers()
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    # A new connection per request, so none rides on a connection the victim held.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        for _ in range(20):
            async with fresh.get(gateway.url + "/scim/v2/Users?count=1",
                                 headers={"Authorization": gateway.auth}) as resp:
                assert resp.status == 200, await resp.text()
    await until(lambda: len(gateway.workers()) == 2 and victim not in gateway.workers(),
                gateway, "a replacement worker")
    replacement = gateway.workers() - first
    assert len(replacement) == 1
    assert "exited with signal SIGKILL; starting a new one" in gateway.output()
    gateway.proc.send_signal(signal.SIGTERM)
    assert await gateway.proc.wait() == 0


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_lets_an_in_flight_request_finish_then_every_process_exits_0(
    world: World, gateway: Gateway
) -> None:
    [person] = await world.backend.seed_employees(world.org_a, 1, tag="drain")
    faults = world.extra["proxy"].faults
    faults.hold = lambda request: request.path.endswith(f"/employees/{person}")
    workers = gateway.workers()

    async def read_person() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as own, own.get(
                gateway.url + f"/scim/v2/Users/{person}",
                headers={"Authorization": gateway.auth}) as resp:
            return resp.status, await resp.json(content_type=None)

    in_flight = asyncio.create_task(read_person())
    await until(faults.held.is_set, gateway, "the request reaching the backend")
    gateway.proc.send_signal(signal.SIGTERM)
    # Every process has stopped accepting (the in-flight request is still held) ...
    await until(lambda: refuses_connections(gateway.port), gateway, "the port closed")
    assert not in_flight.done()
    faults.release.set()
    # ... and the request started before SIGTERM still gets its whole answer.
    status, body = await in_flight
    assert status == 200 and body["id"] == person
    assert await gateway.proc.wait() == 0
    for pid in workers:  # reaped by the supervisor, so gone
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)
            raise AssertionError(f"worker {pid} outlived the supervisor")


async def test_sighup_makes_every_worker_check_its_mappings_and_stops_nothing(
    world: World, gateway: Gateway
) -> None:
    before = gateway.workers()
    await until(lambda: gateway.output().count("mapping modules serving") == len(before),
                gateway, "each worker watching its mappings")
    os.kill(gateway.proc.pid, signal.SIGHUP)  # it used to kill the process
    await until(lambda: gateway.output().count("SIGHUP: checking the mapping") == len(before),
                gateway, "each worker handling SIGHUP")
    assert gateway.proc.returncode is None and gateway.workers() == before
    status, _, _ = await ScimClient(world.session, gateway.url + "/scim/v2",
                                    gateway.auth).get("/Users?count=1")
    assert status == 200
