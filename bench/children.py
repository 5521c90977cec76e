"""Benchmarks' child processes: the sandbox, the gateway as production starts it, floors.

Each child's CPU and memory are read from /proc, its stderr kept in a log file
(removed unless asked to keep it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness import REDIS_URL, SANDBOX_TOKEN

STARTUP_TIMEOUT_S = 60.0


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: str
    announce: dict = field(default_factory=dict)

    def pids(self) -> list[int]:
        """This process and its children (the workers, with --workers)."""
        pid = self.proc.pid
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return [pid, *map(int, children)]
        return [pid]

    def cpu_s(self) -> tuple[float, float]:
        """(user, system) CPU seconds used so far, workers included (robust on a busy
        machine)."""
        tick = os.sysconf("SC_CLK_TCK")
        user = system = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                user += int(fields[11]) / tick
                system += int(fields[12]) / tick
        return user, system

    def rss_mb(self) -> float:
        """Resident memory, workers included."""
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        return total

    def stop(self, keep_log: bool) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep_log:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)


def start_child(name: str, argv: list[str], lines: int = 1) -> Child:
    """A child process; the last of its first `lines` stdout lines is its JSON announcement."""
    fd, log_path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=fd,
                            stdin=subprocess.DEVNULL, text=True)
    os.close(fd)
    child = Child(name, proc, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    got = []
    assert proc.stdout is not None
    while len(got) < lines and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        got.append(line.strip())
    if len(got) < lines:
        child.stop(keep_log=True)
        raise RuntimeError(f"{name} did not start; its log: {log_path}")
    last = got[-1]
    child.announce = json.loads(last) if last.startswith("{") else {"line": got}
    return child


async def issue_credential(state_url: str, org: int) -> str:
    """A Basic credential for `org` in the gateway's state database (as support issues it)."""
    from gateway.auth import CredentialStore
    from gateway.state import StateDB

    state = StateDB(state_url)
    try:
        await state.migrate()
        issued = await CredentialStore(state).issue_basic(org, label="bench")
    finally:
        await state.close()
    return "Basic " + base64.b64encode(f"{issued.username}:{issued.password}".encode()).decode()


def start_gateway(port: int, backend: str, state_url: str, redis_url: str, workdir: Path,
                  *, workers: int = 1, env: dict[str, str] | None = None) -> Child:
    """`python -m gateway` as production starts it: a config file and the WS_* environment
    (`env` adds to it); its output goes to a log file. `wait_ready` waits for it."""
    config = workdir / "gateway.toml"
    config.write_text("")
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("WS_")},
                   "WS_BACKEND_URL": backend, "WS_BACKEND_TOKEN": SANDBOX_TOKEN,
                   "WS_REDIS_URL": redis_url, "WS_STATE_URL": state_url,
                   "WS_SERVER_WORKERS": str(workers), "PORT": str(port), **(env or {})}
    fd, log_path = tempfile.mkstemp(prefix="bench-gateway-", suffix=".log")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config)],
                            stdout=fd, stderr=fd, stdin=subprocess.DEVNULL, env=environment)
    os.close(fd)
    return Child("gateway", proc, log_path)


async def wait_ready(session: aiohttp.ClientSession, base: str, gateway: Child) -> None:
    """Until `base`/readyz answers 200; a gateway that exits or never gets ready is an error
    naming its log."""
    for _ in range(int(STARTUP_TIMEOUT_S / 0.05)):
        if gateway.proc.poll() is not None:
            raise RuntimeError(f"gateway exited; its log: {gateway.log_path}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base + "/readyz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"gateway not ready; its log: {gateway.log_path}")


def redis_db_url(db: int) -> str:
    """The local Redis, database `db`: a benchmark's own, emptied with `flush_redis`."""
    return f"{REDIS_URL.rstrip('/').rsplit('/', 1)[0]}/{db}"


async def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database (the gateway keeps its production key prefix)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
