"""`workstream-credentials`: what Workstream support runs to manage SCIM credentials.

    python -m gateway.cli issue --org 17 [--label okta]     # Basic, for Okta
    python -m gateway.cli issue-token --org 17 [--label entra]
    python -m gateway.cli rotate <id> | revoke <id> | list [--org 17]

The file is `--credentials PATH`, else `$WS_AUTH_CREDENTIALS_FILE`, else
`auth.credentials_file` in the gateway's config file (`--config PATH`, default
`config.toml`), else `credentials.json`: the same file the gateway reads, so
nothing is issued into a file no gateway looks at. Secrets are printed once,
at issue or rotation: only their hashes are kept, so support cannot look them
up later.
Exit codes: 0 done, 1 refused (unknown id, revoked, bad credentials or config
file), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.auth import CredentialError, CredentialStore, Issued
from gateway.config import AuthConfig, ConfigError, load_section

ENV_FILE = "WS_AUTH_CREDENTIALS_FILE"
DEFAULT_FILE = AuthConfig().credentials_file
DEFAULT_CONFIG = "config.toml"

ONCE_NOTE = ("Copy it now into the identity provider's settings: it will not be shown again "
             "(only its hash is stored). If it is lost, rotate the credential.")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # --credentials and --config are accepted before or after the sub-command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--credentials", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"credentials file (default: ${ENV_FILE}, else auth.credentials_file "
                             f"in the config file, else {DEFAULT_FILE})")
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"the gateway's config file, read for auth.credentials_file "
                             f"(default: {DEFAULT_CONFIG} if it exists)")
    parser = argparse.ArgumentParser(
        prog="workstream-credentials", parents=[common],
        description="Issue, rotate, revoke and list the SCIM credentials of customer orgs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    issue = sub.add_parser("issue", parents=[common],
                           help="issue a Basic username and password (Okta)")
    issue.add_argument("--org", type=_positive_int, required=True, help="Workstream org id")
    issue.add_argument("--label", help="a note for support, e.g. 'okta'")

    token = sub.add_parser("issue-token", parents=[common],
                           help="issue a bearer token (Entra ID)")
    token.add_argument("--org", type=_positive_int, required=True, help="Workstream org id")
    token.add_argument("--label", help="a note for support, e.g. 'entra'")

    rotate = sub.add_parser("rotate", parents=[common],
                            help="replace a credential's secret; the old one stops working")
    rotate.add_argument("id", help="credential id (see 'list')")

    revoke = sub.add_parser("revoke", parents=[common], help="revoke a credential for good")
    revoke.add_argument("id", help="credential id (see 'list')")

    listing = sub.add_parser("list", parents=[common], help="list credentials (no secrets)")
    listing.add_argument("--org", type=_positive_int, help="only this org")
    return parser


def _credentials_path(args: argparse.Namespace) -> Path:
    """The file the gateway reads: --credentials, else what its config says (env first)."""
    explicit = getattr(args, "credentials", None)
    if explicit:
        return Path(explicit)
    config = getattr(args, "config", None)
    if config is not None and not Path(config).is_file():
        # Named on purpose: falling back to the defaults would issue into the wrong file.
        raise ConfigError(f"config file {config} does not exist")
    # Relative paths are taken from the working directory, as the gateway does.
    return Path(load_section("auth", config or DEFAULT_CONFIG).credentials_file)


def _print_issued(issued: Issued, verb: str) -> None:
    kind = "Basic credential" if issued.kind == "basic" else "bearer token"
    print(f"{verb} {kind} {issued.credential_id} for org {issued.org_id}.")
    if issued.kind == "basic":
        print(f"  username: {issued.username}")
        print(f"  password: {issued.password}")
    else:
        print(f"  token: {issued.token}")
    print(ONCE_NOTE)


def _print_list(store: CredentialStore, org: int | None) -> None:
    rows = [i for i in store.list() if org is None or i.org_id == org]
    if not rows:
        print("No credentials.")
        return
    header = ("ID", "ORG", "KIND", "STATUS", "USERNAME/TOKEN", "LABEL", "CREATED", "ROTATED")
    table = [header] + [
        (i.id, str(i.org_id), i.kind, "active" if i.active else f"revoked {i.revoked_at}",
         i.username or f"{i.token_prefix}…", i.label or "", i.created_at, i.rotated_at or "")
        for i in rows
    ]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors and --help: report the code, don't exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        store = CredentialStore(_credentials_path(args))
        match args.command:
            case "issue":
                _print_issued(store.issue_basic(args.org, args.label), "Issued")
            case "issue-token":
                _print_issued(store.issue_token(args.org, args.label), "Issued")
            case "rotate":
                _print_issued(store.rotate(args.id), "Rotated")
            case "revoke":
                if store.revoke(args.id):
                    print(f"Revoked credential {args.id}; every gateway stops accepting it "
                          "within a few seconds.")
                else:
                    print(f"Credential {args.id} was already revoked.")
            case "list":
                _print_list(store, args.org)
    except (CredentialError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
