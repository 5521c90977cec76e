"""Identity → id cache: Redis when configured, in-process otherwise."""

from __future__ import annotations

import logging

from gateway.idstore.base import IdStore, IdStoreError, IdStoreUnavailable, LockTimeout
from gateway.idstore.memory_store import MemoryIdStore
from gateway.idstore.redis_store import RedisIdStore

log = logging.getLogger(__name__)

__all__ = [
    "IdStore",
    "IdStoreError",
    "IdStoreUnavailable",
    "LockTimeout",
    "MemoryIdStore",
    "RedisIdStore",
    "make_id_store",
]


def make_id_store(redis_url: str | None, *, prefix: str = "wsg") -> IdStore:
    """The store for this deployment; warns loudly when it can't be shared."""
    if redis_url:
        return RedisIdStore(redis_url, prefix=prefix)
    log.warning(
        "No Redis URL configured: using an in-process id store. It is NOT shared between "
        "gateway processes, so locks only exclude tasks of this process; run a single "
        "process or configure Redis."
    )
    return MemoryIdStore()
