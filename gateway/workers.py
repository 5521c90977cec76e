"""`server.workers` > 1: a small pre-fork supervisor, N worker processes on one socket.

The process `python -m gateway` started (the supervisor) builds the application
(config, mappings and credentials checked once), binds the listening socket,
then forks the workers. Each worker serves that socket with aiohttp's own
runner, as a single process does; the kernel gives each connection to whichever
worker accepts it first, from the one accept queue they share.

Why hand-written rather than gunicorn's aiohttp worker: the job is ~150 lines
(fork, wait, replace, pass SIGTERM on), gunicorn would add a second
configuration and logging system beside ours, its own messages for a taken
port (after five retries) and a second way to start the app. Why one socket
bound before the fork rather than SO_REUSEPORT: with SO_REUSEPORT a second
gateway started by mistake on the same port silently shares its traffic, and
the connections queued on a killed worker's own socket are reset; a shared
socket has neither problem and a taken port is one clear error here.

- A worker that exits while the supervisor is not stopping is replaced (and
  logged). Workers that keep dying (CRASH_LOOP_EXITS within CRASH_LOOP_WINDOW_S)
  stop the gateway with exit 1 rather than fork forever.
- SIGTERM or SIGINT: the supervisor closes its copy of the socket and passes
  SIGTERM to every worker; each stops accepting, lets its in-flight requests
  finish (up to `SHUTDOWN_TIMEOUT_S`), and exits 0; the supervisor exits 0 once
  every worker did.
- Workers ask the kernel (Linux) for SIGTERM when the supervisor dies, so a
  killed supervisor leaves no orphan serving the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from gateway import heap
from gateway.eventloop import new_event_loop
from gateway.web.serve import ConnectionLimits, GuardedSite

log = logging.getLogger(__name__)

# How long a stopping worker lets in-flight requests finish (aiohttp's default; the
# backend deadline is 20 s, the IdP waits 60 s).
SHUTDOWN_TIMEOUT_S = 60.0
CRASH_LOOP_EXITS = 5
CRASH_LOOP_WINDOW_S = 30.0
_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class ListenError(Exception):
    """The address cannot be listened on (taken, not local, not allowed); names it."""


def listen_error(host: str, port: int, exc: OSError) -> ListenError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return ListenError(f"cannot listen on {host}:{port}: {reason.lower()}")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket the workers share; a taken port is a `ListenError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT after a restart
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise listen_error(host, port, exc) from None
    return sock


def serve_workers(app: web.Application, host: str, port: int, workers: int,
                  limits: ConnectionLimits | None = None, **runner_options: Any) -> int:
    """Run `workers` processes serving `app` on host:port until SIGTERM; the exit code.

    `runner_options` go to each worker's `web.AppRunner`, as the one-process path passes
    them to `web.run_app` (access log, timeouts...); `limits` are each worker's read
    deadlines and connection cap (gateway/web/serve.py).
    """
    sock = bind(host, port)
    try:
        with shared_metrics_dir():
            return _Supervisor(app, sock, workers, limits or ConnectionLimits(),
                               runner_options).run()
    finally:
        sock.close()


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR for the workers: the operator's, else a fresh temporary
    directory removed on the way out. prometheus_client's multiprocess mode has every
    worker write its samples there; entered before the app is built, no metric is created
    outside it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    path = tempfile.mkdtemp(prefix="workstream-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


class _Supervisor:
    def __init__(self, app: web.Application, sock: socket.socket, workers: int,
                 limits: ConnectionLimits, runner_options: dict[str, Any]) -> None:
        self.app, self.sock, self.workers, self.limits = app, sock, workers, limits
        self.runner_options = runner_options
        self.children: dict[int, int] = {}  # pid → worker number
        self.stopping = False
        self.failed = False
        self.unexpected_exits: deque[float] = deque(maxlen=CRASH_LOOP_EXITS)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hangup)
        host, port = self.sock.getsockname()[:2]
        log.info("serving on %s:%s with %d worker processes (supervisor pid %d)",
                 host, port, self.workers, os.getpid())
        for number in range(1, self.workers + 1):
            self._spawn(number)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:  # pragma: no cover - every child already reaped
                break
            if pid not in self.children:
                continue
            number = self.children.pop(pid)
            _forget_metrics_of(pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                # -SIGTERM: stopped before it served anything (its handler wasn't set yet).
                if code not in (0, -signal.SIGTERM):
                    self.failed = True
                    log.warning("worker %d (pid %d) exited with %s while stopping",
                                number, pid, _describe(code))
                continue
            self._replace(number, pid, code)
        log.info("every worker has stopped")
        return 1 if self.failed else 0

    def _replace(self, number: int, pid: int, code: int) -> None:
        now = time.monotonic()
        self.unexpected_exits.append(now)
        if (len(self.unexpected_exits) == CRASH_LOOP_EXITS
                and now - self.unexpected_exits[0] < CRASH_LOOP_WINDOW_S):
            log.error("worker processes exited %d times within %.0f s (last: worker %d, %s); "
                      "stopping the gateway", CRASH_LOOP_EXITS, CRASH_LOOP_WINDOW_S, number,
                      _describe(code))
            self.failed = True
            self._stop(signal.SIGTERM, None)
            return
        log.warning("worker %d (pid %d) exited with %s; starting a new one",
                    number, pid, _describe(code))
        self._spawn(number)

    def _spawn(self, number: int) -> None:
        # Blocked across the fork, so a SIGTERM can't fall between fork and bookkeeping.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                code = _work(self.app, self.sock, self.limits, self.runner_options)
            except BaseException:
                log.exception("worker %d failed", number)
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = number
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        log.info("worker %d started (pid %d)", number, pid)

    def _hangup(self, _signum: int, _frame: object) -> None:
        """SIGHUP: every worker checks its mappings now (see gateway.mapping.live)."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def _stop(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("stopping: %d workers finish their in-flight requests", len(self.children))
            # New connections are refused once the workers close theirs too.
            self.sock.close()
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _work(app: web.Application, sock: socket.socket, limits: ConnectionLimits,
          runner_options: dict[str, Any]) -> int:
    """A worker's life: serve `sock` until SIGTERM, then drain; the exit code."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the app's loop handles it (mapping check)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:  # uvloop when installed
        runner.run(serve_until_stopped(app, sock, limits, **runner_options))
    return 0


async def serve_until_stopped(app: web.Application, sock: socket.socket,
                              limits: ConnectionLimits | None = None,
                              **runner_options: Any) -> None:
    """Serve until SIGTERM/SIGINT (any number of them), then let in-flight requests finish."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    runner = web.AppRunner(app, **{"shutdown_timeout": SHUTDOWN_TIMEOUT_S, **runner_options})
    await runner.setup()
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await GuardedSite(runner, limits or ConnectionLimits(), sock=sock).start()
        heap.settle()
        await stop.wait()
    finally:
        await runner.cleanup()


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _forget_metrics_of(pid: int) -> None:
    """Tell prometheus_client (when installed) that a worker's live gauges died with it."""
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    with contextlib.suppress(Exception):
        multiprocess.mark_process_dead(pid)
