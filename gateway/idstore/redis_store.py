"""Redis id store, shared by every gateway process.

Layout, per org (the `{org:N}` hash tag keeps an org's keys in one cluster
slot, so pipelines and Lua scripts touching several of them stay legal):

    wsg:{org:17}:idx:<space>   hash  key → value     e.g. wsg:{org:17}:idx:user:userName
    wsg:{org:17}:spaces        set   every space ever written (so clear_org needs no SCAN)
    wsg:{org:17}:meta          hash  name → value    (watermarks and the like)
    wsg:{org:17}:lock:<name>   string token, with a lease (PX)

Redis is a cache here: losing it loses no data. So read and write failures
are logged and degrade to misses; only `lock`, whose callers rely on
exclusion, raises, and only `IdStoreUnavailable` (no redis exception leaves
this module). A bad value (a key of the wrong type, bytes that aren't UTF-8)
is a miss too; what a good value means is parsed by `gateway.idstore.values`.
After a failure the store stops trying for a short cool-down, so a dead
Redis costs requests nothing and floods no logs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from gateway.idstore.base import IdStoreUnavailable, LockTimeout, OrgId
from gateway.idstore.redis_pipe import RedisPipe
from gateway.observability import metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

_STORE_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
# A reply that can't be read (bytes that aren't UTF-8 planted in a key): bad data, not a
# store that is down, so it is a miss without the cool-down.
_DATA_ERRORS = (UnicodeDecodeError,)

# Delete a hash field only while it holds the expected value.
_DELETE_IF_EQUAL = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# Move a meta value forward only. Compared byte by byte: Lua's `<` on strings
# follows the server's locale collation, which would not be lexicographic.
_SET_MAX = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local new = ARGV[2]
local greater = false
if not cur then
  greater = true
else
  local n = math.min(#cur, #new)
  local decided = false
  for i = 1, n do
    local a, b = string.byte(new, i), string.byte(cur, i)
    if a ~= b then greater = a > b; decided = true; break end
  end
  if not decided then greater = #new > #cur end
end
if greater then redis.call('HSET', KEYS[1], ARGV[1], new); return 1 end
return 0
"""

# Release or extend a lock only while we still hold it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _split_cluster_flag(url: str) -> tuple[str, bool]:
    """`redis://host:7000?cluster=true` selects Redis Cluster; the flag is ours, not redis-py's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [v for k, v in query if k == "cluster"]
    if not flags:
        return url, False
    rest = urlencode([(k, v) for k, v in query if k != "cluster"])
    return urlunsplit(parts._replace(query=rest)), flags[-1].lower() in {"1", "true", "yes"}



def _text(value: bytes | str | None) -> str | None:
    """A reply as text (the client decodes replies; this only tells the type checker)."""
    return value.decode() if isinstance(value, bytes) else value

class RedisIdStore:
    """The `IdStore` interface on Redis (`redis.asyncio`), standalone or cluster.

    The per-request lookup (`get_many` of one space) goes through `RedisPipe`, one
    multiplexed connection, on a plain `redis://` URL; everything else, and every read
    on a TLS, unix-socket or cluster URL, through redis-py.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "wsg",
        lock_lease_s: float = 30.0,
        socket_timeout_s: float = 1.0,
        cooldown_s: float = 1.0,
        read_pipe: bool = True,
    ) -> None:
        """`read_pipe=False` keeps the lookups on redis-py too (the bench compares the two)."""
        clean_url, cluster = _split_cluster_flag(url)
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": socket_timeout_s,
            # One quick retry covers a pooled connection dropped by a Redis
            # restart; more would only stall requests while Redis is down.
            "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), 1),
        }
        self._redis: Redis | RedisCluster = (
            RedisCluster.from_url(clean_url, **options)
            if cluster
            else Redis.from_url(clean_url, **options)
        )
        self._pipe: RedisPipe | None = None if cluster or not read_pipe else RedisPipe.from_url(
            clean_url, timeout_s=socket_timeout_s, connect_timeout_s=socket_timeout_s)
        self.prefix = prefix
        self.lock_lease_s = lock_lease_s
        self.cooldown_s = cooldown_s
        self._down_until = 0.0
        self._delete_if_equal = self._redis.register_script(_DELETE_IF_EQUAL)
        self._set_max = self._redis.register_script(_SET_MAX)
        self._release = self._redis.register_script(_RELEASE)
        self._extend = self._redis.register_script(_EXTEND)

    def __repr__(self) -> str:  # the URL may carry a password
        return f"RedisIdStore(prefix={self.prefix!r})"

    # ------------------------------------------------------------------ keys

    def _org(self, org_id: OrgId) -> str:
        org = str(org_id)
        if "{" in org or "}" in org:
            raise ValueError(f"org id {org!r} would break the cluster hash tag")
        return f"{self.prefix}:{{org:{org}}}"

    def _space_key(self, org_id: OrgId, space: str) -> str:
        return f"{self._org(org_id)}:idx:{space}"

    # --------------------------------------------------------- failure policy

    def _cooling_down(self) -> bool:
        return asyncio.get_running_loop().time() < self._down_until

    @property
    def answering(self) -> bool:
        return not self._cooling_down()

    def _failed(self, what: str, exc: BaseException) -> None:
        metrics.redis_error(what)
        log.warning(
            "id store: %s failed (%s: %s); treating as a miss for %.1fs",
            what,
            type(exc).__name__,
            exc,
            self.cooldown_s,
        )
        self._down_until = asyncio.get_running_loop().time() + self.cooldown_s

    async def _soft(self, what: str, op: Any, fallback: T) -> T:
        """Run a cache operation; on a Redis failure, log and return `fallback`."""
        if self._cooling_down():
            return fallback
        try:
            return await op()
        except ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                self._failed(what, exc)
                return fallback
            # A key of the wrong type (planted or left by something else): this key is bad,
            # the store is fine.
            log.warning("id store: %s met a key of the wrong type (%s); treated as a miss",
                        what, exc)
            return fallback
        except _DATA_ERRORS as exc:
            log.warning("id store: %s read a value that is not UTF-8 (%s); treated as a miss",
                        what, exc)
            return fallback
        except _STORE_ERRORS as exc:
            self._failed(what, exc)
            return fallback

    # -------------------------------------------------------------- mappings

    async def get_many(self, org_id: OrgId, lookups: Sequence[tuple[str, str]]) -> list[str | None]:
        if not lookups:
            return []
        positions: dict[str, list[int]] = {}
        for i, (space, _key) in enumerate(lookups):
            positions.setdefault(space, []).append(i)

        async def op() -> list[str | None]:
            if len(positions) == 1:
                # One space (every user and group lookup): a plain HMGET, on the pipe
                # when there is one.
                [(space, idxs)] = positions.items()
                key = self._space_key(org_id, space)
                fields = [lookups[i][1] for i in idxs]
                replies: list[Any] = [
                    await self._pipe.execute("HMGET", key, *fields) if self._pipe is not None
                    else await self._redis.hmget(key, fields)]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for space, idxs in positions.items():
                    pipe.hmget(self._space_key(org_id, space), [lookups[i][1] for i in idxs])
                replies = await pipe.execute()
            out: list[str | None] = [None] * len(lookups)
            for idxs, values in zip(positions.values(), replies, strict=True):
                for i, value in zip(idxs, values, strict=True):
                    out[i] = value
            return out

        return await self._soft("get_many", op, [None] * len(lookups))

    async def put(self, org_id: OrgId, entries: Mapping[str, Mapping[str, str]]) -> None:
        spaces: dict[str, Mapping[FieldT, EncodableT]] = {
            space: {k: v for k, v in m.items()} for space, m in entries.items() if m}
        if not spaces:
            return

        async def op() -> None:
            pipe = self._redis.pipeline(transaction=False)
            for space, mapping in spaces.items():
                pipe.hset(self._space_key(org_id, space), mapping=mapping)
            pipe.sadd(f"{self._org(org_id)}:spaces", *spaces)
            await pipe.execute()

        await self._soft("put", op, None)

    async def delete(self, org_id: OrgId, entries: Mapping[str, Sequence[str]]) -> None:
        spaces = {space: list(keys) for space, keys in entries.items() if keys}
        if not spaces:
            return

        async def op() -> None:
            pipe = self._redis.pipeline(transaction=False)
            for space, keys in spaces.items():
                pipe.hdel(self._space_key(org_id, space), *keys)
            await pipe.execute()

        await self._soft("delete", op, None)

    async def delete_if_equal(self, org_id: OrgId, space: str, key: str, expected: str) -> bool:
        async def op() -> bool:
            keys = [self._space_key(org_id, space)]
            return bool(await self._delete_if_equal(keys=keys, args=[key, expected]))

        return await self._soft("delete_if_equal", op, False)

    async def count(self, org_id: OrgId, space: str) -> int:
        async def op() -> int:
            return int(await self._redis.hlen(self._space_key(org_id, space)))

        return await self._soft("count", op, 0)

    # ------------------------------------------------------------------ meta

    async def get_meta(self, org_id: OrgId, name: str) -> str | None:
        async def op() -> str | None:
            value = await self._redis.hget(f"{self._org(org_id)}:meta", name)
            return _text(value)

        return await self._soft("get_meta", op, None)

    async def set_meta(self, org_id: OrgId, name: str, value: str) -> None:
        async def op() -> None:
            await self._redis.hset(f"{self._org(org_id)}:meta", name, value)

        await self._soft("set_meta", op, None)

    async def set_meta_max(self, org_id: OrgId, name: str, value: str) -> None:
        async def op() -> None:
            await self._set_max(keys=[f"{self._org(org_id)}:meta"], args=[name, value])

        await self._soft("set_meta_max", op, None)

    # ----------------------------------------------------------------- locks

    @asynccontextmanager
    async def lock(self, org_id: OrgId, name: str, *, timeout_s: float) -> AsyncIterator[None]:
        """Redis `SET NX PX` lock with a random token; kept alive while held.

        The lease bounds how long a crashed holder blocks others; a live
        holder renews it every third of the lease.
        """
        key = f"{self._org(org_id)}:lock:{name}"
        token = secrets.token_hex(16)
        lease_ms = int(self.lock_lease_s * 1000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pause = 0.01
        while True:
            try:
                acquired = await self._redis.set(key, token, nx=True, px=lease_ms)
            except (*_STORE_ERRORS, *_DATA_ERRORS) as exc:
                metrics.redis_error("lock")
                raise IdStoreUnavailable(f"cannot take lock {name!r}: {exc}") from exc
            if acquired:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockTimeout(org_id, name, timeout_s)
            await asyncio.sleep(min(remaining, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, 0.25)

        keeper = asyncio.create_task(self._keep_lock(key, token, lease_ms))
        try:
            yield
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            try:
                await self._release(keys=[key], args=[token])
            except _STORE_ERRORS as exc:
                metrics.redis_error("unlock")
                log.warning(
                    "id store: releasing lock %r failed (%s); it expires by itself", name, exc
                )

    async def _keep_lock(self, key: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                held = await self._extend(keys=[key], args=[token, lease_ms])
            except _STORE_ERRORS as exc:
                metrics.redis_error("renew_lock")
                log.warning("id store: renewing lock %s failed (%s)", key, exc)
                continue
            if not held:
                log.error("id store: lock %s was lost while held (lease expired)", key)
                return

    # ------------------------------------------------------------- lifecycle

    async def clear_org(self, org_id: OrgId) -> None:
        """Forget an org's spaces and meta; a direct call, so failures are raised."""
        org = self._org(org_id)
        try:
            spaces = await self._redis.smembers(f"{org}:spaces")
            keys = [f"{org}:idx:{_text(space)}" for space in spaces]
            await self._redis.delete(*keys, f"{org}:spaces", f"{org}:meta")
        except (*_STORE_ERRORS, *_DATA_ERRORS) as exc:
            raise IdStoreUnavailable(f"cannot clear org {org_id}: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except _STORE_ERRORS:
            return False

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        await self._redis.aclose()
