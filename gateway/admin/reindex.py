"""`workstream-admin reindex --org N [--json]`: rebuild an org's user index on demand.

Reads every person of the org (a few pages in flight at once) and rebuilds the
userName / externalId index in the state database from them: entries added
where missing, fixed where they name the wrong person, removed where nobody
carries the key any more; then the org's watermark is set and, when Redis
answers, its hints refreshed. It is the code the gateway runs to build an org
it never indexed, and `reconcile --fix-index` runs over its own walk
(gateway.provisioning.user_index_rebuild), under the same lock. Progress on
stderr; a summary at the end (`--json`: one JSON object). Exit 0 done, 1
refused (an org Workstream doesn't know), 2 could not run (config, backend,
database, or another process building the same index).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, TextIO

from gateway.admin.common import Progress, positive_int
from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendError, BackendNotFound
from gateway.idstore import MemoryIdStore, RedisIdStore
from gateway.idstore.base import IdStore, IdStoreUnavailable, LockTimeout
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.user_index import BUILD_LOCK, UserIndex
from gateway.provisioning.user_index_rebuild import Rebuild
from gateway.state import StateDB
from gateway.state.user_index_entries import UserIndexEntries

# How long reindex waits for a build another process is running on the same org.
LOCK_TIMEOUT_S = 60.0


class Refused(Exception):
    """The org can't be reindexed; the message says why (exit 1)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", type=positive_int, required=True,
                        help="the org whose index to rebuild")
    parser.add_argument("--json", action="store_true", help="the summary as one JSON object")


async def reindex(args: argparse.Namespace, *, backend_url: str, backend_token: str,
                  store: IdStore, mappings: MappingRegistry, db: StateDB,
                  out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Rebuild `args.org`'s index and print the summary (the caller owns store and db)."""
    backend = BackendClient(backend_url, backend_token)
    progress = Progress(err, f"reindex org {args.org}")
    await backend.start()
    try:
        await db.ready()
        try:
            await backend.get_org(args.org)
        except BackendNotFound:
            print(f"error: org {args.org} not found in Workstream: nothing to reindex",
                  file=err)
            return 1
        except BackendError as exc:
            print(f"error: Workstream can't be read, nothing was changed: {exc}", file=err)
            return 2
        redis = await _redis(store)
        index = UserIndex(backend, store, UserIndexEntries(db))
        mapping = mappings.for_org(args.org).user

        def show(done: int, total: int) -> None:
            progress.show("people", done, total)

        try:
            async with store.lock(args.org, BUILD_LOCK, timeout_s=LOCK_TIMEOUT_S):
                rebuild = await index.rebuild(args.org, mapping, progress=show)
        except IdStoreUnavailable:  # Redis is down: no gateway is building either
            rebuild = await index.rebuild(args.org, mapping, progress=show)
    except BackendError as exc:  # during the walk: the rows written so far are right
        print(f"error: Workstream stopped answering during the walk; run reindex again: "
              f"{exc}", file=err)
        return 2
    except LockTimeout:
        print(f"error: another process has been building org {args.org}'s index for over "
              f"{LOCK_TIMEOUT_S:.0f} s; try again once it is done", file=err)
        return 2
    finally:
        progress.end()
        await backend.close()
    (render_json if args.json else render_text)(rebuild, mappings.for_org(args.org).module,
                                                redis, out)
    return 0


async def _redis(store: IdStore) -> str:
    """What becomes of the Redis hints: refreshed, or why not."""
    if isinstance(store, MemoryIdStore):
        return "not configured"
    return "refreshed" if await store.ping() else "unreachable, not refreshed"


def summary(rebuild: Rebuild, module: str, redis: str) -> dict[str, Any]:
    body = asdict(rebuild.counts)
    body.update(mapping=module, redis=redis)
    return body


def render_text(rebuild: Rebuild, module: str, redis: str, out: TextIO) -> None:
    c = rebuild.counts
    print(f"org {c.org}: {c.people} people read (mapping {module}); entries added {c.added}, "
          f"fixed {c.fixed}, removed {c.removed}; {c.entries} entries now; "
          f"Redis {redis}; {c.seconds} s", file=out)
    print(f"watermark {c.watermark}", file=out)


def render_json(rebuild: Rebuild, module: str, redis: str, out: TextIO) -> None:
    json.dump(summary(rebuild, module, redis), out, indent=2)
    out.write("\n")


async def run_cli(args: argparse.Namespace, *, backend_url: str, backend_token: str,
                  redis_url: str, mappings: MappingRegistry, db: StateDB) -> int:
    """`reindex` with the deployment's own Redis and state database."""
    store: IdStore = RedisIdStore(redis_url) if redis_url else MemoryIdStore()
    try:
        return await reindex(args, backend_url=backend_url, backend_token=backend_token,
                             store=store, mappings=mappings, db=db)
    finally:
        await store.close()
        await db.close()
