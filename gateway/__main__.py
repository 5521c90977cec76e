"""`python -m gateway` / `workstream-gateway`: run the gateway.

With no `backend.url` configured it runs the demo: an embedded sandbox with a
demo org and a printed demo credential.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from gateway.auth import CredentialError, CredentialStore
from gateway.config import Config, ConfigError, load_config
from gateway.eventloop import new_event_loop
from gateway.mapping.engine import MappingError
from gateway.observability import logs
from gateway.web.app import build_app

log = logging.getLogger("gateway")


def open_credentials(config: Config) -> CredentialStore:
    """The production credential store; a missing file is legal but worth shouting about.

    The store treats a missing file as empty (the CLI creates it), which means every
    SCIM request gets a 401: usually a wrong `auth.credentials_file`, not intent.
    """
    path = Path(config.auth.credentials_file)
    if not path.exists():
        log.warning("credentials file %s does not exist: every SCIM request will be refused "
                    "(401) until `workstream-credentials issue` creates it there, or "
                    "auth.credentials_file / WS_AUTH_CREDENTIALS_FILE points at the right file",
                    path.resolve())
    return CredentialStore(path)


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
        app = build_app(config, open_credentials(config))
    except (ConfigError, MappingError, CredentialError) as exc:
        print(f"workstream-gateway: {exc}", file=sys.stderr)
        return 2
    log.info("serving SCIM on http://%s:%s%s", config.server.host, config.server.port,
             config.server.base_path)
    # print=None: aiohttp's banner would be the one line on stdout that isn't a log record.
    web.run_app(app, host=config.server.host, port=config.server.port, access_log=None,
                print=None, loop=new_event_loop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
