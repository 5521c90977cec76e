"""`python -m gateway` / `workstream-gateway`: run the gateway.

With no `backend.url` configured it runs the demo: an embedded sandbox with a
demo org and a printed demo credential.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from gateway.auth import CredentialError, CredentialStore
from gateway.config import Config, ConfigError, load_config
from gateway.mapping.engine import MappingError
from gateway.observability import logs
from gateway.state import StateDB, StateError
from gateway.web.app import build_app

log = logging.getLogger("gateway")


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
    return state, CredentialStore(state, rotation_grace_s=config.auth.rotation_grace_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstream-gateway", description=__doc__)
    parser.add_argument("--config", default="config.toml", help="path to config.toml")
    parser.add_argument(
        "--require-backend", action="store_true",
        help="refuse to start without backend.url instead of running the demo "
             "(production: a missing WS_BACKEND_URL must not send people to a throwaway sandbox)",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        logs.configure(config.log.format, config.log.level)
        log.info("starting with this configuration (secrets masked)",
                 extra={"config": logs.masked_config(config)})
        if config.demo_mode and args.require_backend:
            raise ConfigError("backend.url is not set (WS_BACKEND_URL) and --require-backend "
                              "forbids the demo sandbox")
        if config.demo_mode:
            from gateway.demo import run_demo

            run_demo(config)
            return 0
        state, credentials = open_state(config)
        app = build_app(config, credentials, state=state)  # mappings checked first: no I/O
        asyncio.run(prepare_state(config, state))
        app.on_cleanup.append(lambda _app: state.close())
    except (ConfigError, MappingError, CredentialError, StateError) as exc:
        print(f"workstream-gateway: {exc}", file=sys.stderr)
        return 2
    log.info("serving SCIM on http://%s:%s%s", config.server.host, config.server.port,
             config.server.base_path)
    # print=None: aiohttp's banner would be the one line on stdout that isn't a log record.
    web.run_app(app, host=config.server.host, port=config.server.port, access_log=None,
                print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
