"""`workstream-admin audit`: who changed whom, when, and what exactly the IdP sent.

    workstream-admin audit --org 17 [--user ID | --user-name EMAIL | --group ID]
                           [--since 2026-11-01] [--action deactivate] [--limit N] [--json]

Reads the audit trail in the state database (every gateway process writes
there): a readable timeline, newest first, or one JSON object per line.
`--user-name` matches the userName recorded with each event, ignoring case,
so "who deactivated jane@acme.example?" is
`workstream-admin audit --org 17 --user-name jane@acme.example --action deactivate`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from gateway.admin.common import open_state, positive_int
from gateway.config import ConfigError
from gateway.state import StateError
from gateway.state.audit_events import AuditQuery, AuditTrail

ACTIONS = ("create", "update", "deactivate", "reactivate", "unlink", "relink", "group_create",
           "group_rename", "group_update", "group_delete", "member_add", "member_remove")


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time: {text!r} (e.g. 2026-11-01 or 2026-11-01T09:30)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", type=positive_int, required=True, help="Workstream org id")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--user", metavar="ID", help="one person, by employee (SCIM) id")
    target.add_argument("--user-name", metavar="EMAIL",
                        help="one person, by the userName recorded (any case)")
    target.add_argument("--group", metavar="ID", help="one group, by team (SCIM) id")
    parser.add_argument("--since", type=_since, metavar="WHEN",
                        help="only events at or after this date/time (ISO, UTC)")
    parser.add_argument("--action", choices=ACTIONS, help="only events that did this")
    parser.add_argument("--limit", type=positive_int, default=50,
                        help="at most this many events (default 50)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _shown(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False) \
        if not isinstance(value, str) else value


def _timeline(event: dict[str, Any]) -> list[str]:
    """One event as a few readable lines."""
    at = event["at"].strftime("%Y-%m-%d %H:%M:%S UTC")
    target = f"{event['target_type'] or '?'} {event['target_id'] or '?'}"
    if event["target_name"]:
        target += f" ({event['target_name']})"
    who = event["credential_id"] or "?"
    if event["credential_label"]:
        who += f" [{event['credential_label']}]"
    lines = [f"{at}  {event['action']}  {target}  {event['outcome']} {event['status']}",
             f"    by {who}: {event['method']} {event['path']}  request {event['request_id']}"]
    for name, (old, new) in (event["changes"] or {}).items():
        lines.append(f"    {name}: {_shown(old)} → {_shown(new)}")
    members = event["members"] or {}
    if members.get("added"):
        lines.append(f"    members added: {', '.join(members['added'])}")
    if members.get("removed"):
        lines.append(f"    members removed: {', '.join(members['removed'])}")
    calls = ", ".join(f"{route} {status or 'no answer'}"
                      for route, status in event["backend_calls"] or [])
    retries = f" ({event['retries']} retried)" if event["retries"] else ""
    lines.append(f"    backend: {calls or 'none'}{retries}")
    if event["mapping_module"]:
        lines.append(f"    mapping: {event['mapping_module']} {event['mapping_version'] or ''}"
                     .rstrip())
    return lines


def _json(event: dict[str, Any]) -> str:
    out = {k: v for k, v in event.items() if k != "target_name_folded"}
    out["at"] = event["at"].isoformat()
    return json.dumps(out, ensure_ascii=False)


async def run(args: argparse.Namespace) -> int:
    state = open_state(args)
    try:
        await state.ready()
        events = await AuditTrail(state).find(AuditQuery(
            org_id=args.org, user_id=args.user, user_name=args.user_name,
            group_id=args.group, since=args.since, action=args.action, limit=args.limit))
    finally:
        await state.close()
    if args.json:
        for event in events:
            print(_json(event))
        return 0
    if not events:
        print(f"No audit events for org {args.org} match.")
        return 0
    for event in events:
        print("\n".join(_timeline(event)))
    return 0


def execute(args: argparse.Namespace) -> int:
    """Run the parsed command: readable errors and exit 1, never a traceback."""
    try:
        return asyncio.run(run(args))
    except (ConfigError, StateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
