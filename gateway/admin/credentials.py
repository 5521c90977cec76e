"""`workstream-admin credentials` (alias `workstream-credentials`): SCIM credentials of orgs.

    workstream-admin credentials issue --org 17 [--label okta] [--expires 90d]
    workstream-admin credentials issue-token --org 17 [--label entra] [--expires 2027-06-30]
    workstream-admin credentials rotate <id> [--now] | revoke <id>
    workstream-admin credentials list [--org 17] [--json]
    workstream-admin credentials import [credentials.json]

They act on the gateway's state database (`--state-url`, else `$WS_STATE_URL`,
else `state.url` in the config file): every gateway process on every host
sees a change within about two seconds. Secrets are printed once, at issue or
rotation: only their hashes are kept, so support cannot look them up later.
After `rotate` the old secret keeps working for `auth.rotation_grace_s`
(default a day) so the IdP can be updated without an outage; `--now` cuts
over at once. When a backend is configured, `issue` refuses an org it doesn't
know. Exit codes: 0 done, 1 refused, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gateway.admin.common import add_common, open_state, positive_int, section
from gateway.auth import CredentialError, CredentialStore, Issued
from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendError, BackendNotFound
from gateway.config import ConfigError
from gateway.state import StateError

ONCE_NOTE = ("Copy it now into the identity provider's settings: it will not be shown again "
             "(only its hash is stored). If it is lost, rotate the credential.")
_RELATIVE = re.compile(r"^(\d+)([dh])$")


def _expiry(text: str) -> datetime:
    """`90d`, `12h`, or an ISO date or time (UTC unless it says otherwise)."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(UTC) + (timedelta(days=amount) if unit == "d"
                                    else timedelta(hours=amount))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date, time or duration: {text!r} (e.g. 2027-06-30, 90d, 12h)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_commands(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, what in (("issue", "a Basic username and password (Okta)"),
                       ("issue-token", "a bearer token (Entra ID)")):
        issue = sub.add_parser(name, parents=[common], help=f"issue {what}")
        issue.add_argument("--org", type=positive_int, required=True, help="Workstream org id")
        issue.add_argument("--label", help="a note for support, e.g. 'okta'")
        issue.add_argument("--expires", type=_expiry, metavar="WHEN",
                           help="stop working at this date/time (ISO, UTC) or after 90d / 12h")

    rotate = sub.add_parser("rotate", parents=[common],
                            help="replace a credential's secret; the old one works for "
                                 "auth.rotation_grace_s more")
    rotate.add_argument("id", help="credential id (see 'list')")
    rotate.add_argument("--now", action="store_true", help="the old secret stops at once")

    revoke = sub.add_parser("revoke", parents=[common], help="revoke a credential for good")
    revoke.add_argument("id", help="credential id (see 'list')")

    listing = sub.add_parser("list", parents=[common], help="list credentials (no secrets)")
    listing.add_argument("--org", type=positive_int, help="only this org")
    listing.add_argument("--json", action="store_true", help="one JSON document, for scripts")

    importing = sub.add_parser("import", parents=[common],
                               help="copy a credentials.json into the database (once)")
    importing.add_argument("file", nargs="?",
                           help="the file (default: auth.credentials_file, credentials.json)")


def build_parser(prog: str = "workstream-credentials") -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_common(common)
    parser = argparse.ArgumentParser(
        prog=prog, parents=[common],
        description="Issue, rotate, revoke, list and import the SCIM credentials of orgs.")
    add_commands(parser, common)
    return parser


def _print_issued(issued: Issued, verb: str) -> None:
    kind = "Basic credential" if issued.kind == "basic" else "bearer token"
    print(f"{verb} {kind} {issued.credential_id} for org {issued.org_id}.")
    if issued.kind == "basic":
        print(f"  username: {issued.username}")
        print(f"  password: {issued.password}")
    else:
        print(f"  token: {issued.token}")
    print(ONCE_NOTE)
    if issued.previous_valid_until:
        print(f"The previous secret keeps working until {issued.previous_valid_until}; "
              "`rotate --now` would have cut it off at once.")


async def _print_list(store: CredentialStore, org: int | None, as_json: bool) -> None:
    rows = [i for i in await store.list() if org is None or i.org_id == org]
    if as_json:
        print(json.dumps({"credentials": [i.to_json() for i in rows]}, indent=2))
        return
    if not rows:
        print("No credentials.")
        return
    header = ("ID", "ORG", "KIND", "STATUS", "USERNAME/TOKEN", "LABEL", "CREATED", "ROTATED",
              "EXPIRES", "LAST USED")
    table = [header] + [
        (i.id, str(i.org_id), i.kind,
         f"revoked {i.revoked_at}" if i.revoked_at else i.status(),
         i.username or f"{i.token_prefix}…", i.label or "", i.created_at, i.rotated_at or "",
         i.expires_at or "", i.last_used_at or "")
        for i in rows
    ]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def _check_org_known(args: argparse.Namespace, org_id: int) -> None:
    """With a backend configured, refuse to issue for an org it doesn't know."""
    backend = section(args, "backend")
    if not backend.url:
        return
    if not backend.token:
        raise ConfigError("backend.url is set but backend.token is not (WS_BACKEND_TOKEN): "
                          "can't check the org exists")
    client = BackendClient(backend.url, backend.token, timeout_s=backend.timeout_s,
                           deadline_s=backend.deadline_s, max_retries=1)
    await client.start()
    try:
        await client.get_org(org_id)
    except BackendNotFound:
        raise CredentialError(f"org {org_id} does not exist in Workstream ({backend.url}); "
                              "check the org id") from None
    except BackendError as exc:
        raise CredentialError(f"can't check org {org_id} with Workstream ({backend.url}): "
                              f"{exc}") from None
    finally:
        await client.close()


async def run(args: argparse.Namespace) -> int:
    state = open_state(args)
    auth = section(args, "auth")
    store = CredentialStore(state, rotation_grace_s=auth.rotation_grace_s)
    try:
        match args.command:
            case "issue" | "issue-token":
                await _check_org_known(args, args.org)
                issue = store.issue_basic if args.command == "issue" else store.issue_token
                _print_issued(await issue(args.org, args.label, expires_at=args.expires),
                              "Issued")
            case "rotate":
                _print_issued(await store.rotate(args.id, grace_s=0 if args.now else None),
                              "Rotated")
            case "revoke":
                if await store.revoke(args.id):
                    print(f"Revoked credential {args.id}; every gateway stops accepting it "
                          "within a few seconds.")
                else:
                    print(f"Credential {args.id} was already revoked.")
            case "list":
                await _print_list(store, args.org, args.json)
            case "import":
                path = args.file or auth.credentials_file
                imported, present = await store.import_file(path)
                print(f"Imported {len(imported)} credential(s) from {path}"
                      + (f"; {len(present)} were already there." if present else "."))
                if imported:
                    print("They keep their usernames, tokens and passwords. Keep the file "
                          "somewhere safe or delete it: the gateway no longer reads it.")
        for reason in store.corrupt.values():
            print(f"error: {reason}", file=sys.stderr)
        return 1 if store.corrupt else 0
    finally:
        await state.close()


def execute(args: argparse.Namespace) -> int:
    """Run a parsed command: readable errors and exit 1, never a traceback."""
    try:
        return asyncio.run(run(args))
    except (CredentialError, ConfigError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """`workstream-credentials`: returns the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors and --help: report the code, don't exit
        return exc.code if isinstance(exc.code, int) else 2
    return execute(args)


if __name__ == "__main__":
    sys.exit(main())
