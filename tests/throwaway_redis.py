"""A redis-server of a test's own, for what the shared one must not suffer.

A password, a process paused with SIGSTOP or killed and started again: none of
these can be done to the Redis every test shares, so a test starts its own on a
free port (no persistence) and this stops it again, whatever state it is in.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import redis.asyncio as redis

from tests.net import free_port


class ThrowawayRedis:
    """One redis-server process on 127.0.0.1:`port`; `start` again after `kill` reuses the port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    def url(self, *, db: int = 0, auth: str = "") -> str:
        return f"redis://{auth}{'@' if auth else ''}127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", *self.args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        # Wait until it answers: a connection refused means not listening yet.
        for _ in range(500):
            if self.proc.returncode is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            with suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} never listened")

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        """Stop it for good (its data goes with it); `start` brings up a fresh one."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused process can't act on SIGTERM
        proc.terminate()
        await proc.wait()

    def client(self, *, db: int = 0, password: str | None = None) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=password)


@asynccontextmanager
async def throwaway_redis(*args: str) -> AsyncIterator[ThrowawayRedis]:
    server = ThrowawayRedis(*args)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()
