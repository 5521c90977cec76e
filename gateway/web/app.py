"""The aiohttp application: middlewares, routes, and services built once at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web

from gateway.audit.writer import AuditWriter
from gateway.auth import CredentialStore
from gateway.backend.client import BackendClient
from gateway.config import Config
from gateway.idstore import MemoryIdStore, make_id_store
from gateway.idstore.base import IdStore
from gateway.mapping.live import MappingWatcher
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.groups import GroupService
from gateway.provisioning.orgs import OrgGate
from gateway.provisioning.user_index import UserIndex
from gateway.provisioning.user_index_writer import IndexWriter
from gateway.provisioning.users import UserService
from gateway.state import StateDB
from gateway.state.audit_events import AuditTrail
from gateway.state.mapping_assignments import MappingAssignments
from gateway.state.scim_unlinks import ScimUnlinks
from gateway.state.user_index_entries import UserIndexEntries
from gateway.web import discovery, groups, health, search, users
from gateway.web.auth import ScimAuthMiddleware
from gateway.web.client_address import TrustedProxies
from gateway.web.health import READINESS
from gateway.web.metrics import metrics_endpoint
from gateway.web.middlewares import request_ids, scim_errors
from gateway.web.observe import observe_requests
from gateway.web.params import share_the_interpreter
from gateway.web.state import (
    ALLOWED_HOSTS,
    AUDIT,
    BACKEND,
    CONFIG,
    CREDENTIALS,
    GROUPS,
    ID_STORE,
    MAPPINGS,
    ORG_GATE,
    STATE_DB,
    USERS,
)

log = logging.getLogger(__name__)


def build_app(
    config: Config,
    credentials: CredentialStore,
    *,
    id_store: IdStore | None = None,
    state: StateDB | None = None,
) -> web.Application:
    """The gateway. `config.backend.url` must be set (demo mode sets it to the sandbox).

    Mapping modules are loaded and checked here, so a broken mapping stops
    start-up instead of failing a customer's request. `state` is the state
    database; by default the one `credentials` reads (one database per gateway).
    """
    proxies = TrustedProxies(config.auth.trusted_proxy_header, config.auth.trusted_proxies)
    auth = ScimAuthMiddleware(credentials, prefix=config.server.base_path, proxies=proxies)
    state = state or credentials.db
    audit = None
    if config.audit.enabled:
        audit = AuditWriter(AuditTrail(state), buffer_size=config.audit.buffer_size,
                            flush_interval_s=config.audit.flush_interval_s,
                            retention_days=config.audit.retention_days)
    observe = observe_requests(config.server.base_path, audit.submit if audit else None)
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[request_ids, observe, scim_errors, auth],
    )
    app[AUDIT] = audit
    app[CONFIG] = config
    app[ALLOWED_HOSTS] = frozenset(host.lower() for host in config.server.allowed_hosts)
    app[MAPPINGS] = MappingRegistry(config.mappings.default, config.mappings.orgs)
    app[CREDENTIALS] = credentials
    app[STATE_DB] = state
    log.info("mapping modules: %s by default%s (config.toml; the state database's "
             "assignments apply when serving starts)", app[MAPPINGS].default.module,
             "".join(f", {m} for org {o}" for o, m in app[MAPPINGS].modules().items()),
             extra={"default_mapping": app[MAPPINGS].default.module,
                    "org_mappings": {str(o): m for o, m in app[MAPPINGS].modules().items()}})
    app.cleanup_ctx.append(_services(id_store))
    app.on_cleanup.append(_flush_failures(auth))

    base = config.server.base_path
    users.add_routes(app, base)
    groups.add_routes(app, base)
    search.add_routes(app, base)
    discovery.add_routes(app, base)
    health.add_routes(app, auth.ignore)
    if config.metrics.enabled:
        app.router.add_get("/metrics", auth.ignore(metrics_endpoint))
    return app


def _flush_failures(auth: ScimAuthMiddleware):
    async def flush(app: web.Application) -> None:
        auth.failures.flush()  # the failed logins of the last interval, before exiting

    return flush


def _services(id_store: IdStore | None):
    async def services(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        share_the_interpreter()  # large bodies are checked on a worker thread
        backend = BackendClient(
            config.backend.url,
            config.backend.token,
            timeout_s=config.backend.timeout_s,
            deadline_s=config.backend.deadline_s,
            max_retries=config.backend.max_retries,
            pool_size=config.backend.pool_size,
        )
        await backend.start()
        store = id_store or make_id_store(config.redis.url or None)
        state = app[STATE_DB]
        await state.ready()
        await app[CREDENTIALS].start()
        watcher = MappingWatcher(app[MAPPINGS], MappingAssignments(state),
                                 {int(org): m for org, m in config.mappings.orgs.items()})
        await watcher.start()
        hangup = _reload_on_sighup(watcher)
        app[BACKEND] = backend
        app[ID_STORE] = store
        app[ORG_GATE] = OrgGate(backend, app[MAPPINGS], config.scim.org_cache_ttl_s)
        fan_out = {"max_lookups": config.limits.filter_max_lookups,
                   "lookup_concurrency": config.limits.lookup_concurrency}
        unlinks = ScimUnlinks(state)  # one per process: its cache serves users and groups
        index_rows = UserIndexEntries(state)
        index_writer = IndexWriter(index_rows)  # the index's rows, written off the request path
        await index_writer.start()
        index = UserIndex(backend, store, index_rows, writer=index_writer)
        app[USERS] = UserService(backend, index, max_scan=config.scim.max_scan,
                                 unlinks=unlinks, **fan_out)
        app[GROUPS] = GroupService(backend, store, state, max_scan=config.scim.max_scan,
                                   unlinks=unlinks, **fan_out)
        readiness = app[READINESS]
        readiness.add("backend", partial(backend.ping, readiness.timeout_s))
        if not isinstance(store, MemoryIdStore):  # the in-process store has nothing to reach
            readiness.add("redis", store.ping)
        readiness.add("state", state.ping)
        audit = app[AUDIT]
        if audit is not None:
            await audit.start()
        try:
            yield
        finally:
            if audit is not None:  # before the database can go: a clean stop loses nothing
                await audit.close()
            await index.close()  # background builds and catch-ups stop, then
            await index_writer.close()  # the index rows still waiting are written
            hangup()
            await watcher.close()
            await app[CREDENTIALS].close()
            await app[USERS].read_ahead.close()  # before the backend session it reads with
            await backend.close()
            if id_store is None:
                await store.close()

    return services


def _hangup(watcher: MappingWatcher) -> None:
    log.info("SIGHUP: checking the mapping assignments and module files now")
    watcher.wake()


def _reload_on_sighup(watcher: MappingWatcher) -> Callable[[], None]:
    """SIGHUP makes this process check its mappings now (it used to kill it); the undo."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, _hangup, watcher)
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (tests)
        return lambda: None

    def undo() -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)

    return undo
