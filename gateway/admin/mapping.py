"""`workstream-admin mapping`: which mapping module serves each org, and proving a change first.

    workstream-admin mapping list
    workstream-admin mapping assign --org 17 mappings.examples.acme
    workstream-admin mapping unassign --org 17
    workstream-admin mapping check [MODULE] [SAMPLE] [--patch P] [--current C]
                                   [--org N] [--live EMPLOYEE_ID]
    workstream-admin mapping diff --org 17 mappings.examples.acme_v2 [--limit N]

Assignments live in the state database; every gateway process picks a change
up within seconds, without a restart. `assign` loads and checks the module
first and refuses a broken one. `check --org` checks the org's live
assignment; `--live` reads a real employee record from the backend and runs
the sample or PATCH over it without writing anything. `diff` reads the org's
first people and shows what their SCIM reads would become under another
module. Exit codes: 0 done, 1 refused (or a check/sample failed), 2 usage or
a broken module.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from gateway.admin.common import open_state, positive_int, section
from gateway.backend.client import BackendClient, pages
from gateway.backend.errors import BackendError, BackendNotFound
from gateway.config import ConfigError
from gateway.mapping import check
from gateway.mapping.fields import MappingError
from gateway.mapping.registry import OrgMappings, content_version, load_module, module_path
from gateway.state import StateError
from gateway.state.mapping_assignments import MappingAssignments

DIFF_BASE_URL = check.BASE_URL
DEFAULT_DIFF_LIMIT = 100


class Refused(Exception):
    """The command can't do what was asked; the message says why (exit 1)."""


def org_id(text: str) -> int:
    """An org id as written on the command line: a plain positive integer, canonical."""
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"org id must be a positive integer: {text!r}")
    if text != str(int(text)):
        # "017" and "17" are one org; say so rather than guess silently.
        raise argparse.ArgumentTypeError(f"org id {text!r}: write it as {int(text)}")
    return int(text)


def add_commands(mapping: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = mapping.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", parents=[common],
                   help="every org's module, its version and where the assignment came from")
    assign = sub.add_parser("assign", parents=[common],
                            help="serve an org through a module (checked first; live in seconds)")
    assign.add_argument("--org", type=org_id, required=True)
    assign.add_argument("module", help="dotted module name, e.g. mappings.examples.acme")
    unassign = sub.add_parser("unassign", parents=[common],
                              help="serve an org through the default module again")
    unassign.add_argument("--org", type=org_id, required=True)
    check_parser = sub.add_parser("check", parents=[common],
                                  help="load and check a module; samples, live records")
    check_parser.add_argument("module", nargs="?",
                              help="dotted module name or path (default with --org: the "
                                   "org's live assignment)")
    check_parser.add_argument("sample", nargs="?", help="a SCIM User body, as the IdP sends it")
    check_parser.add_argument("--patch", help="a SCIM PatchOp body, as the IdP sends it")
    check_parser.add_argument("--current", help="the backend employee record to update")
    check_parser.add_argument("--org", type=org_id,
                              help="check the org's live assignment (and read --live from it)")
    check_parser.add_argument("--live", type=positive_int, metavar="EMPLOYEE_ID",
                              help="read this employee from the backend (needs --org) and "
                                   "run the sample or --patch over it, writing nothing")
    diff = sub.add_parser("diff", parents=[common],
                          help="what the org's SCIM reads would become under another module")
    diff.add_argument("--org", type=org_id, required=True)
    diff.add_argument("module", help="the module the org would be assigned")
    diff.add_argument("--limit", type=positive_int, default=DEFAULT_DIFF_LIMIT,
                      help=f"how many of the org's people to read (default "
                           f"{DEFAULT_DIFF_LIMIT})")


def execute(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except check.CheckFailed as exc:
        print(f"mapping check FAILED: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, StateError, OSError, Refused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    match args.command:
        case "list":
            return await _list(args, sys.stdout)
        case "assign":
            return await _assign(args, sys.stdout)
        case "unassign":
            return await _unassign(args, sys.stdout)
        case "check":
            return await _check(args, sys.stdout)
        case _:
            return await _diff(args, sys.stdout)


# ---- where an org's assignment comes from ----


def _config_orgs(args: argparse.Namespace) -> tuple[str, dict[int, str]]:
    mappings = section(args, "mappings")
    orgs: dict[int, str] = {}
    for key, module in mappings.orgs.items():
        orgs[org_id_from_config(key)] = module
    return mappings.default, orgs


def org_id_from_config(key: str) -> int:
    try:
        return org_id(key)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"config key 'mappings.orgs': {exc}") from None


async def _assignments(args: argparse.Namespace) -> dict[int, tuple[str, str]]:
    """Org → (module, source): the database's rows, then config.toml's not yet seeded."""
    _default, config_orgs = _config_orgs(args)
    state = open_state(args)
    try:
        await state.ready()
        _version, rows = await MappingAssignments(state).load()
    finally:
        await state.close()
    found = {org: (a.module, a.source) for org, a in rows.items()}
    for org, module in config_orgs.items():
        found.setdefault(org, (module, "config.toml, seeded at the gateway's next start"))
    return found


async def org_module(args: argparse.Namespace, org: int) -> tuple[str, str]:
    """The module serving `org` (its assignment, else the default) and where that came from."""
    default, _ = _config_orgs(args)
    return (await _assignments(args)).get(org, (default, "default"))


def _version_of(module: str) -> str:
    """The module's version from its file on this host (not executed)."""
    path = module_path(module)
    if path is None:
        return "(not found)"
    with open(path, "rb") as source:
        return content_version(source.read())


def _load(module: str, default: str) -> OrgMappings:
    try:
        fallback = load_module(default)
        return fallback if module == default else load_module(module, fallback)
    except MappingError as exc:
        raise check.CheckFailed(str(exc)) from None


# ---- list, assign, unassign ----


async def _list(args: argparse.Namespace, out: TextIO) -> int:
    default, _ = _config_orgs(args)
    rows = await _assignments(args)
    table = [("ORG", "MODULE", "VERSION", "SOURCE"),
             ("*", default, _version_of(default), "default (every org not listed)")]
    table += [(str(org), module, _version_of(module), source)
              for org, (module, source) in sorted(rows.items())]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell
                        for i, cell in enumerate(row)).rstrip(), file=out)
    return 0


async def _assign(args: argparse.Namespace, out: TextIO) -> int:
    default, _ = _config_orgs(args)
    loaded = _load(args.module, default)  # a broken module never reaches the database
    previous = await org_module(args, args.org)
    state = open_state(args)
    try:
        await state.ready()
        await MappingAssignments(state).assign(args.org, args.module)
    finally:
        await state.close()
    print(f"org {args.org}: mapping {args.module} version {loaded.version} (was {previous[0]}, "
          f"{previous[1]}). Every gateway process serves it within seconds.", file=out)
    return 0


async def _unassign(args: argparse.Namespace, out: TextIO) -> int:
    default, config_orgs = _config_orgs(args)
    state = open_state(args)
    try:
        await state.ready()
        had = await MappingAssignments(state).unassign(args.org)
    finally:
        await state.close()
    if not had:
        raise Refused(f"org {args.org} has no assignment of its own (it uses {default})")
    print(f"org {args.org}: back to the default mapping {default}.", file=out)
    if args.org in config_orgs:
        print(f"note: config.toml's [mappings.orgs] still names {config_orgs[args.org]} for "
              f"org {args.org}; the next gateway start seeds it again unless it is removed "
              f"there.", file=out)
    return 0


# ---- check --org / --live ----


async def _check(args: argparse.Namespace, out: TextIO) -> int:
    default, _ = _config_orgs(args)
    if args.live is not None and args.org is None:
        raise check.CheckFailed("--live reads an employee of an org: give --org too")
    if args.module is None:
        if args.org is None:
            raise check.CheckFailed("give a MODULE, or --org N to check the org's live "
                                    "assignment")
        args.module, source = await org_module(args, args.org)
        print(f"org {args.org} is assigned {args.module} ({source})", file=out)
    elif args.org is not None and args.module.endswith(".json"):
        # `check --org 17 sample.json`: the sample, against the org's live assignment.
        args.sample, args.module = args.module, (await org_module(args, args.org))[0]
        print(f"org {args.org} is assigned {args.module}", file=out)
    mappings = _load(check.module_name(args.module), default)
    live = None
    if args.live is not None:
        async with _backend(args) as backend:
            try:
                live = await backend.get_employee(args.org, args.live)
            except BackendNotFound:
                raise Refused(f"employee {args.live} not found in org {args.org}") from None
            except BackendError as exc:
                raise Refused(f"the backend can't be read: {exc}") from None
    return check.run(args, out, mappings=mappings, live=live)


class _backend:
    """The configured backend, read-only use: `async with _backend(args) as client`."""

    def __init__(self, args: argparse.Namespace) -> None:
        config = section(args, "backend")
        if not config.url:
            raise ConfigError("backend.url is not set (WS_BACKEND_URL): nothing to read from")
        if not config.token:
            raise ConfigError("backend.url is set but backend.token is not (WS_BACKEND_TOKEN)")
        self.client = BackendClient(config.url, config.token, timeout_s=config.timeout_s,
                                    deadline_s=config.deadline_s, max_retries=config.max_retries)

    async def __aenter__(self) -> BackendClient:
        await self.client.start()
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()


# ---- diff ----


def flatten(resource: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(attribute path, value) of every leaf of a SCIM resource; lists compared whole."""
    if isinstance(resource, dict):
        for key, value in resource.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, resource


def read_differences(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """What a read of one person changes: (attribute path, old, new), meta aside."""
    old = {k: v for k, v in flatten(before) if not k.startswith("meta.")}
    new = {k: v for k, v in flatten(after) if not k.startswith("meta.")}
    return [(path, _show(old, path), _show(new, path))
            for path in sorted(old.keys() | new.keys()) if old.get(path) != new.get(path)]


def _show(values: dict, path: str) -> str:
    return json.dumps(values[path], ensure_ascii=False) if path in values else "(absent)"


class Progress:
    """`diff: 40/100 people` on stderr, redrawn in place when it is a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.tty = stream.isatty()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total}")
            self.stream.flush()
        elif self.done % 100 == 0:
            print(f"{self.label}: {self.done}/{self.total}", file=self.stream)

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
        print(f"{self.label}: {self.done} read", file=self.stream)


async def _diff(args: argparse.Namespace, out: TextIO) -> int:
    default, _ = _config_orgs(args)
    current_module, source = await org_module(args, args.org)
    current = _load(current_module, default)
    candidate = _load(check.module_name(args.module), default)
    print(f"org {args.org}: {current.module} version {current.version} ({source}) -> "
          f"{candidate.module} version {candidate.version}; reads of the first "
          f"{args.limit} people", file=out)
    changed_people = 0
    changed_paths: dict[str, int] = {}
    read = 0
    async with _backend(args) as backend:
        progress = Progress("diff", args.limit)
        try:
            per_page = min(args.limit, 200)
            async for page in pages(lambda n: backend.list_employees(
                    args.org, page=n, per_page=per_page)):
                for record in page.items[:args.limit - read]:
                    read += 1
                    progress.step()
                    before = current.user.to_scim(record, DIFF_BASE_URL)
                    after = candidate.user.to_scim(record, DIFF_BASE_URL)
                    differences = read_differences(before, after)
                    if differences:
                        changed_people += 1
                        print(f"\nuser {before.get('id')} ({before.get('userName')}):",
                              file=out)
                        for path, old, new in differences:
                            print(f"  {path}: {old} -> {new}", file=out)
                            changed_paths[path] = changed_paths.get(path, 0) + 1
                if read >= args.limit:
                    break
        except BackendNotFound:
            raise Refused(f"org {args.org} not found in the backend") from None
        except BackendError as exc:
            raise Refused(f"the backend can't be read: {exc}") from None
        finally:
            progress.finish()
    print(f"\n{read} people read; {changed_people} would read differently", file=out)
    for path, count in sorted(changed_paths.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {path}: {count}", file=out)
    return 0
