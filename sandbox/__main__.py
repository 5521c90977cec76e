"""`python -m sandbox` / `workstream-sandbox`: run the sandbox over a SQLite file."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from aiohttp import web

from sandbox.app import SANDBOX_KEY, create_app


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="workstream-sandbox",
        description="A stand-in of Workstream's internal API, persisted in SQLite.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--db", default="sandbox.db", help='SQLite file, or ":memory:"')
    parser.add_argument(
        "--token",
        default=os.environ.get("WORKSTREAM_SANDBOX_TOKEN", "sandbox-token"),
        help="service token (default: $WORKSTREAM_SANDBOX_TOKEN or sandbox-token)",
    )
    parser.add_argument("--rate-limit", type=int, default=50, help="default per-org req/s")
    parser.add_argument(
        "--org", metavar="NAME", help="make sure an org with this name exists and print its id"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    args = _arguments(argv)
    app = create_app(args.db, args.token, args.rate_limit)
    if args.org:
        store = app[SANDBOX_KEY].store
        org = store.find_org(args.org) or store.create_org(args.org, True, True, args.rate_limit)
        print(f"org {org['name']!r} id={org['id']}", flush=True)
    listening = f"sandbox listening on http://{args.host}:{args.port}"
    # run_app calls `print` once the socket is bound: readiness for scripts and tests.
    web.run_app(app, host=args.host, port=args.port, print=lambda _: _ready(listening))


def _ready(listening: str) -> None:
    """Bound: settle the heap (as gateway/heap.py does for the gateway, so a full collection
    of the stand-in doesn't stop every request for tens of ms and blur what benchmarks
    measure of the gateway), then say so."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7_000, 20, 100)
    print(listening, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
