"""`workstream-admin`: everything an operator runs against a gateway's config and state.

    workstream-admin credentials issue|issue-token|rotate|revoke|list|import ...
    workstream-admin state migrate
    workstream-admin audit --org 17 [--user ID | --user-name EMAIL | --group ID] [--since D]
                           [--action deactivate] [--limit N] [--json]
    workstream-admin mapping list|assign|unassign|check|diff ...
    workstream-admin reconcile --org N [--json] [--fix-index] [--rate CALLS_PER_S]
    workstream-admin reindex --org N [--json]

Readable errors and a non-zero exit (1 refused, 2 usage), never a traceback;
`reconcile` exits 0 when clean, 1 when it found drift, 2 when it could not run;
`reindex` exits 1 for an org Workstream doesn't know, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from gateway.admin import audit, credentials, mapping, reconcile, reindex
from gateway.admin.common import add_common, open_state, section
from gateway.backend.errors import BackendError
from gateway.config import ConfigError
from gateway.idstore.base import IdStoreError
from gateway.mapping.fields import MappingError
from gateway.mapping.registry import MappingRegistry
from gateway.state import StateError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_common(common)
    parser = argparse.ArgumentParser(prog="workstream-admin", description=__doc__, parents=[common],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    areas = parser.add_subparsers(dest="area", required=True, metavar="AREA")
    creds = areas.add_parser("credentials", parents=[common],
                             help="issue, rotate, revoke, list, import SCIM credentials")
    credentials.add_commands(creds, common)
    state = areas.add_parser("state", parents=[common], help="the state database")
    state_sub = state.add_subparsers(dest="command", required=True, metavar="COMMAND")
    state_sub.add_parser("migrate", parents=[common],
                         help="apply pending schema migrations (the gateway also does at start)")
    trail = areas.add_parser("audit", parents=[common],
                             help="the audit trail: who changed whom, when, newest first")
    audit.add_arguments(trail)
    mapping_area = areas.add_parser("mapping", parents=[common],
                                    help="org mapping assignments, checks and dry runs")
    mapping.add_commands(mapping_area, common)
    drift = areas.add_parser("reconcile", parents=[common],
                             help="walk an org once and report drift (exit 1 when found)")
    reconcile.add_arguments(drift)
    rebuild = areas.add_parser("reindex", parents=[common],
                               help="rebuild an org's userName/externalId index from Workstream")
    reindex.add_arguments(rebuild)
    return parser


async def _migrate(args: argparse.Namespace) -> int:
    state = open_state(args)
    try:
        pending = await state.pending()
        revision = await state.migrate()
    finally:
        await state.close()
    applied = f"applied {len(pending)} migration(s)" if pending else "already up to date"
    print(f"State database {state.description}: {applied}, at revision {revision}.")
    return 0


def _walk_org(args: argparse.Namespace) -> int:
    """`reconcile` or `reindex`: both read the whole org from the backend."""
    command = reconcile.run_cli if args.area == "reconcile" else reindex.run_cli
    try:
        backend = section(args, "backend")
        if not backend.url:
            raise ConfigError(f"backend.url is not set: {args.area} reads the org from the "
                              f"backend")

        async def run() -> int:
            return await command(
                args, backend_url=backend.url, backend_token=backend.token,
                redis_url=section(args, "redis").url, mappings=await _org_mappings(args),
                db=open_state(args))

        return asyncio.run(run())
    except (ConfigError, StateError, BackendError, IdStoreError, MappingError,
            mapping.check.CheckFailed, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _org_mappings(args: argparse.Namespace) -> MappingRegistry:
    """The mappings the gateway serves `args.org` with: its assignment in the state
    database (else config.toml's seed, else the default), as `mapping list` shows it."""
    module, _source = await mapping.org_module(args, args.org)
    return MappingRegistry(section(args, "mappings").default, {str(args.org): module})


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.area == "credentials":
        return credentials.execute(args)
    if args.area == "audit":
        return audit.execute(args)
    if args.area == "mapping":
        return mapping.execute(args)
    if args.area in ("reconcile", "reindex"):
        return _walk_org(args)
    try:
        return asyncio.run(_migrate(args))
    except (ConfigError, StateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
