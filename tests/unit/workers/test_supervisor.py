"""gateway/workers.py on its own: a supervisor (in a subprocess of its own, since it
forks and sets signal handlers) serving small aiohttp apps over a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[3]
WAIT_STEPS = 600  # x 0.05 s

SERVE = textwrap.dedent("""
    import os, sys
    from aiohttp import web
    from gateway.web.serve import ConnectionLimits
    from gateway.workers import serve_workers

    async def metrics_dir(request):
        return web.Response(text=os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""))

    async def fail_at_start(app):
        raise RuntimeError("this worker cannot start")

    app = web.Application()
    app.router.add_get("/dir", metrics_dir)
    if sys.argv[2] == "broken":
        app.on_startup.append(fail_at_start)
    limits = ConnectionLimits(header_timeout_s=0.5) if sys.argv[2] == "strict" else None
    sys.exit(serve_workers(app, "127.0.0.1", int(sys.argv[1]), 2, limits=limits))
""")


def supervisor(port: int, kind: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`serve_workers` with 2 workers; PROMETHEUS_MULTIPROC_DIR only if `env` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return subprocess.Popen([sys.executable, "-c", SERVE, str(port), kind], cwd=ROOT,
                            env={**base, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.read().decode()
    except OSError:
        return None


def test_workers_share_a_fresh_prometheus_dir_removed_at_exit() -> None:
    port = free_port()
    proc = supervisor(port, "ok")
    try:
        answer = None
        for _ in range(WAIT_STEPS):
            answer = get(port, "/dir")
            if answer is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert answer and Path(answer).is_dir()
        answers = {get(port, "/dir") for _ in range(10)}
        assert answers == {answer}  # every worker writes to the same one
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not Path(answer).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_prometheus_dir_set_by_the_operator_is_kept(tmp_path: Path) -> None:
    port = free_port()
    proc = supervisor(port, "ok", {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    try:
        for _ in range(WAIT_STEPS):
            if get(port, "/dir") is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert get(port, "/dir") == str(tmp_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert tmp_path.is_dir()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_that_keep_dying_stop_the_gateway_with_exit_1() -> None:
    proc = supervisor(free_port(), "broken")
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "this worker cannot start" in stderr
    assert "exited 5 times within 30 s" in stderr and "stopping the gateway" in stderr


def test_workers_cut_off_a_client_dribbling_its_headers() -> None:
    port = free_port()
    proc = supervisor(port, "strict")
    try:
        for _ in range(WAIT_STEPS):
            if get(port, "/dir") is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
            slow.sendall(b"GET /dir HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert get(port, "/dir") is not None  # served meanwhile
            assert slow.recv(1024) == b""  # closed by the worker, never answered
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
