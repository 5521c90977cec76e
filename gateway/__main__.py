"""`python -m gateway` / `workstream-gateway`: run the gateway.

With no `backend.url` configured it runs the demo: an embedded sandbox with a
demo org and a printed demo credential. With `server.workers` > 1 this process
becomes the supervisor of that many workers (gateway/workers.py). Every
start-up mistake (config, mapping, credentials file, an address it cannot
listen on) is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.auth import CredentialError, CredentialStore
from gateway.auth.guard import AuthGuard, GuardSettings
from gateway.config import Config, ConfigError, load_config
from gateway.mapping.fields import MappingError
from gateway.observability import logs
from gateway.state import StateDB, StateError
from gateway.web import serve
from gateway.web.app import build_app
from gateway.web.serve import ConnectionLimits
from gateway.workers import ListenError, listen_error, serve_workers, shared_metrics_dir

log = logging.getLogger("gateway")

# How every server process runs the app (one process: gateway.web.serve.run; several: each
# worker's AppRunner): one place, so both paths serve alike.
RUNNER_OPTIONS: dict[str, Any] = {"access_log": None}
# What binding the listening socket can fail with: each a one-line message, no traceback.
_LISTEN_ERRNOS = {errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES}


async def prepare_state(config: Config, state: StateDB) -> None:
    """Migrate the state database before serving; unreachable → StateUnavailable.

    A credentials.json left next to an empty database is worth shouting about:
    every SCIM request would get a 401 until it is imported.
    """
    try:
        await state.migrate()
        store = CredentialStore(state)
        if not await store.list() and Path(config.auth.credentials_file).exists():
            log.warning("the state database %s holds no credentials but %s exists: every SCIM "
                        "request will be refused (401) until `workstream-admin credentials "
                        "import %s` copies them in", state.description,
                        Path(config.auth.credentials_file).resolve(),
                        config.auth.credentials_file)
    finally:
        await state.close()  # the app's own loop opens its connections afresh


def open_state(config: Config) -> tuple[StateDB, CredentialStore]:
    """The production state database and the credential store reading it (not yet connected)."""
    state = StateDB(config.state.url)
    return state, CredentialStore(state, rotation_grace_s=config.auth.rotation_grace_s,
                                  cache_ttl_s=config.auth.success_cache_ttl_s,
                                  guard=AuthGuard(GuardSettings.from_config(config.auth)))


DEFAULT_CONFIG = "config.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstream-gateway", description=__doc__)
    parser.add_argument(
        "--config", help=f"path to the config file; it must exist (default: {DEFAULT_CONFIG} "
                         "in the working directory when there is one, else built-in defaults)")
    parser.add_argument("--host", help="address to listen on (server.host, WS_SERVER_HOST), "
                                       "e.g. 0.0.0.0 behind a PaaS router")
    parser.add_argument(
        "--require-backend", action="store_true",
        help="refuse to start without backend.url instead of running the demo "
             "(production: a missing WS_BACKEND_URL must not send people to a throwaway sandbox)",
    )
    args = parser.parse_args(argv)
    try:
        config_path = args.config
        if config_path is None and Path(DEFAULT_CONFIG).is_file():
            config_path = DEFAULT_CONFIG
        config = load_config(config_path)
        if args.host:
            config = replace(config, server=replace(config.server, host=args.host))
        if config.demo_mode and args.require_backend:
            raise ConfigError("backend.url is not set (WS_BACKEND_URL) and --require-backend "
                              "forbids the demo sandbox")
        # Before any fork, so every worker inherits the JSON handler.
        logs.configure(config.log.format, config.log.level)
        log.info("starting with this configuration (secrets masked)",
                 extra={"config": logs.masked_config(config)})
        if config.demo_mode:
            from gateway.demo import run_demo

            if config.server.workers > 1:
                log.warning("demo mode runs one process; server.workers=%d applies only with "
                            "backend.url set", config.server.workers)
            run_demo(config)
            return 0
    except (ConfigError, MappingError, CredentialError, StateError) as exc:  # demo builds one too
        return _refuse(exc, 2)
    except ListenError as exc:  # the demo's ports
        return _refuse(exc, 1)
    if config.server.workers == 1:
        return _serve(config)
    # Set before the app (and any metric) is built, so every worker shares it.
    with shared_metrics_dir():
        return _serve(config)


def _serve(config: Config) -> int:
    """Build the app and serve it, in this process or in `server.workers` workers."""
    try:
        state, credentials = open_state(config)
        app = build_app(config, credentials, state=state)  # mappings checked first: no I/O
        # Migrated (and found reachable) once, before any worker is forked.
        asyncio.run(prepare_state(config, state))
        app.on_cleanup.append(lambda _app: state.close())
    except (ConfigError, MappingError, CredentialError, StateError) as exc:
        return _refuse(exc, 2)
    host, port = config.server.host, config.server.port
    log.info("starting SCIM on http://%s:%s%s with %d worker(s)", host, port,
             config.server.base_path, config.server.workers)
    try:
        if config.server.workers > 1:
            return serve_workers(app, host, port, config.server.workers,
                                 limits=ConnectionLimits.from_config(config.server),
                                 **RUNNER_OPTIONS,
                                 keepalive_timeout=config.server.keepalive_timeout_s)
        # Read deadlines and the connection cap: gateway/web/serve.py.
        serve.run(app, config, **RUNNER_OPTIONS)
    except ListenError as exc:
        return _refuse(exc, 1)
    except OSError as exc:
        if exc.errno not in _LISTEN_ERRNOS:
            raise
        return _refuse(listen_error(host, port, exc), 1)
    return 0


def _refuse(problem: Exception, code: int) -> int:
    """A start-up mistake: one line on stderr naming it, and the exit code."""
    print(f"workstream-gateway: {problem}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
