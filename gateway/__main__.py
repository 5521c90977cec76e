"""`python -m gateway` / `workstream-gateway`: run the gateway.

With no `backend.url` configured it runs the demo: an embedded sandbox with a
demo org and a printed demo credential.
"""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from gateway.auth import CredentialStore
from gateway.config import ConfigError, load_config
from gateway.mapping.engine import MappingError
from gateway.web.app import build_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstream-gateway", description=__doc__)
    parser.add_argument("--config", default="config.toml", help="path to config.toml")
    parser.add_argument(
        "--require-backend", action="store_true",
        help="refuse to start without backend.url instead of running the demo "
             "(production: a missing WS_BACKEND_URL must not send people to a throwaway sandbox)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
        if config.demo_mode and args.require_backend:
            raise ConfigError("backend.url is not set (WS_BACKEND_URL) and --require-backend "
                              "forbids the demo sandbox")
        if config.demo_mode:
            from gateway.demo import run_demo

            run_demo(config)
            return 0
        app = build_app(config, CredentialStore(config.auth.credentials_file))
    except (ConfigError, MappingError) as exc:
        print(f"workstream-gateway: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=config.server.host, port=config.server.port, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
