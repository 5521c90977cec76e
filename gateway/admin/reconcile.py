"""`workstream-admin reconcile --org N [--json] [--fix-index]`: what drifted between the
IdP's view (SCIM), the gateway's own data and Workstream, found in one walk of the org.

The walk reads every person and team of the org once, page by page, at no more
than `--rate` backend calls a second (the backend is a legacy system: never a
burst), with a progress bar on stderr. Each finding has a kind; the summary ends
with a count per kind. Exit 0 when clean, 1 when drift was found, 2 when the
walk could not run. `--fix-index` repairs only the gateway's own data (the user
index, rebuilt from the walk by the same code as `workstream-admin reindex`;
SCIM-unlink markers of people who no longer exist; group externalIds of missing
teams), never a person.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TextIO, TypeVar

from sqlalchemy import delete, select

from gateway.admin.common import Progress
from gateway.backend.client import BackendClient, pages
from gateway.backend.records import STATUS_ACTIVE, STATUS_FIELD
from gateway.idstore import make_id_store
from gateway.idstore.base import IdStore
from gateway.mapping.ids import to_scim_id
from gateway.mapping.registry import MappingRegistry, OrgMappings
from gateway.provisioning.user_index import UserIndex
from gateway.provisioning.user_index_rebuild import Rebuild, RebuildCounts
from gateway.state import StateDB
from gateway.state.audit_events import AuditTrail
from gateway.state.schema import group_external_ids
from gateway.state.scim_unlinks import ScimUnlinks
from gateway.state.user_index_entries import UserIndexEntries

# Every kind a report can hold, in the order the summary lists them.
KINDS = {
    "unlinked_but_active": "unlinked from SCIM, yet active in Workstream",
    "status_differs_from_audit": "active or deactivated unlike the gateway's last write said",
    "unlink_marker_without_person": "an unlink marker for someone Workstream doesn't have",
    "unlinked_team_member": "an unlinked person still in a team (hidden from SCIM)",
    "duplicate_external_id": "one externalId held by several people",
    "index_wrong_person": "a user index entry (database or Redis) pointing at the wrong person",
    "group_external_id_without_team": "a group externalId for a team that doesn't exist",
    "no_idp_link": "a person with no externalId (made in Workstream directly)",
}
# The kinds `--fix-index` repairs (the gateway's own data).
FIXABLE = ("index_wrong_person", "unlink_marker_without_person", "group_external_id_without_team")
PER_PAGE = 200

T = TypeVar("T")


@dataclass
class Finding:
    kind: str
    detail: str
    ids: list[str] = field(default_factory=list)


@dataclass
class Report:
    org: int
    people: int = 0
    teams: int = 0
    unlinked: int = 0
    findings: list[Finding] = field(default_factory=list)
    fixed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    index: RebuildCounts | None = None  # the user index against the walk
    index_rebuilt: bool = False  # --fix-index: rebuilt from the walk

    def add(self, kind: str, detail: str, *ids: str) -> None:
        self.findings.append(Finding(kind, detail, list(ids)))

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for finding in self.findings:
            counts[finding.kind] += 1
        return counts

    @property
    def clean(self) -> bool:
        return not self.findings


class Pace:
    """At most `rate` calls a second, spaced evenly (no bursts)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self.calls = 0

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        wait = self._next - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next = max(self._next, time.monotonic()) + self.interval
        self.calls += 1
        return await call()


class Reconciler:
    def __init__(self, backend: BackendClient, store: IdStore, db: StateDB,
                 mappings: OrgMappings, *, rate: float, progress: Progress) -> None:
        self.backend = backend
        self.store = store
        self.db = db
        self.mappings = mappings
        self.rows = UserIndexEntries(db)
        self.index = UserIndex(backend, store, self.rows)
        self.unlinks = ScimUnlinks(db)
        self.pace = Pace(rate)
        self.progress = progress

    async def run(self, org: int, fix: bool) -> Report:
        started = time.monotonic()
        report = Report(org)
        markers = {m.employee_id: m for m in await self.unlinks.all(org)}
        report.unlinked = len(markers)
        audit_status = await AuditTrail(self.db).last_status_actions(org)
        seen = await self._people(org, report, markers, audit_status, fix)
        for employee_id, marker in markers.items():
            if employee_id not in seen:
                report.add("unlink_marker_without_person",
                           f"User {to_scim_id(employee_id)} (userName {marker.user_name!r}) is "
                           f"marked unlinked but Workstream has no such person",
                           to_scim_id(employee_id))
                if fix:
                    await self.unlinks.relink(org, employee_id)
                    report.fixed["unlink_marker_without_person"] = (
                        report.fixed.get("unlink_marker_without_person", 0) + 1)
        await self._teams(org, report, set(markers), fix)
        report.seconds = round(time.monotonic() - started, 2)
        return report

    async def _people(self, org: int, report: Report, markers: dict,
                      audit_status: dict[str, str], fix: bool) -> set[int]:
        """One walk over the org's people; `audit_status`: user id → status per the audit."""
        mapping = self.mappings.user
        seen: set[int] = set()
        by_external: dict[str, list[str]] = defaultdict(list)
        # The user index compared with the walk, page by page; with --fix-index, rebuilt.
        index = Rebuild(self.rows, self.store, org,
                        lambda record: self.index.claims_of(mapping, record), apply=fix,
                        check_hints=True)
        async for page in pages(lambda number: self.pace(partial(
                self.backend.list_employees, org, page=number, per_page=PER_PAGE))):
            report.people = page.total
            for record in page.items:
                seen.add(record["id"])
                scim_id = to_scim_id(record["id"])
                resource = mapping.to_scim_attributes(record)
                external = resource.get("externalId")
                marker = markers.get(record["id"])
                if marker is not None and record.get(STATUS_FIELD) == STATUS_ACTIVE:
                    report.add("unlinked_but_active",
                               f"User {scim_id} (userName {marker.user_name!r}) is unlinked from "
                               f"SCIM but active in Workstream", scim_id)
                wanted = audit_status.get(scim_id)
                status = record.get(STATUS_FIELD)
                if marker is None and wanted is not None and status != wanted:
                    report.add("status_differs_from_audit",
                               f"User {scim_id} is {status} in Workstream, but the gateway's "
                               f"last write for the IdP left them {wanted}: changed in "
                               f"Workstream directly (see workstream-admin audit --user "
                               f"{scim_id})", scim_id)
                if isinstance(external, str) and external:
                    by_external[external].append(scim_id)
                elif marker is None:
                    report.add("no_idp_link", f"User {scim_id} has no externalId: made in "
                               f"Workstream directly, or never linked to the IdP", scim_id)
            await index.add(page.items)
            self.progress.show("people", min(page.page * PER_PAGE, page.total), page.total)
        report.index = await index.finish()
        report.index_rebuilt = fix
        ambiguous = set()
        for external, holders in by_external.items():
            if len(holders) > 1:
                report.add("duplicate_external_id",
                           f"externalId {external!r} is held by Users {', '.join(holders)}",
                           *holders)
                ambiguous.add(self.index.key(mapping, "externalId", external))
        # An entry for a value several people hold has no right person: the duplicate is
        # the finding (and a lookup re-checks every hint anyway).
        wrong = 0
        for key, (stored, expected) in index.wrong.items():
            if key not in ambiguous:
                report.add("index_wrong_person", f"index entry {key!r} points at User "
                           f"{stored}, not User {expected}", expected, stored)
                wrong += 1
        if fix and wrong:
            report.fixed["index_wrong_person"] = wrong
        return seen

    async def _teams(self, org: int, report: Report, unlinked: set[int], fix: bool) -> None:
        team_ids: set[int] = set()
        async for page in pages(lambda number: self.pace(partial(
                self.backend.list_teams, org, page=number, per_page=PER_PAGE))):
            report.teams = page.total
            for team in page.items:
                team_ids.add(team["id"])
                if unlinked:
                    await self._members(org, team, unlinked, report)
            self.progress.show("teams", min(page.page * PER_PAGE, page.total), page.total)
        async with self.db.begin() as conn:
            rows = (await conn.execute(
                select(group_external_ids.c.team_id, group_external_ids.c.external_id)
                .where(group_external_ids.c.org_id == org))).all()
        missing = [(team, external) for team, external in rows if team not in team_ids]
        for team, external in missing:
            report.add("group_external_id_without_team",
                       f"externalId {external!r} belongs to Group {to_scim_id(team)}, which "
                       f"Workstream doesn't have", to_scim_id(team))
        if fix and missing:
            async with self.db.begin() as conn:
                await conn.execute(delete(group_external_ids).where(
                    group_external_ids.c.org_id == org,
                    group_external_ids.c.team_id.in_([t for t, _ in missing])))
            report.fixed["group_external_id_without_team"] = len(missing)

    async def _members(self, org: int, team: dict, unlinked: set[int], report: Report) -> None:
        async for page in pages(lambda number: self.pace(partial(
                self.backend.list_members, org, team["id"], page=number, per_page=PER_PAGE))):
            for member in page.items:
                if member["employee_id"] in unlinked:
                    scim_id = to_scim_id(member["employee_id"])
                    report.add("unlinked_team_member",
                               f"User {scim_id} is unlinked but still a member of Group "
                               f"{to_scim_id(team['id'])} ({team.get('name')!r})",
                               scim_id, to_scim_id(team["id"]))


def render_text(report: Report, out: TextIO) -> None:
    print(f"org {report.org}: {report.people} people, {report.teams} teams, "
          f"{report.unlinked} unlinked from SCIM; walked in {report.seconds} s", file=out)
    for finding in report.findings:
        print(f"{finding.kind}: {finding.detail}", file=out)
    if report.index is not None:
        done = " (rebuilt)" if report.index_rebuilt else ""
        print(f"user index: {report.index.added} entries missing, {report.index.fixed} "
              f"wrong, {report.index.removed} stale{done}", file=out)
    for kind, count in report.fixed.items():
        print(f"fixed {kind}: {count}", file=out)
    print("summary: " + ", ".join(f"{kind}={n}" for kind, n in report.counts().items()),
          file=out)
    print("clean" if report.clean else f"drift found: {len(report.findings)} finding(s)",
          file=out)


def render_json(report: Report, out: TextIO) -> None:
    body: dict[str, Any] = asdict(report)
    body["counts"] = report.counts()
    body["clean"] = report.clean
    json.dump(body, out, indent=2)
    out.write("\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", type=int, required=True, help="the org to walk")
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument("--fix-index", action="store_true",
                        help="repair the gateway's own index and marker data (never people)")
    parser.add_argument("--rate", type=float, default=20.0, metavar="CALLS_PER_S",
                        help="at most this many backend calls a second (default 20)")


async def reconcile(args: argparse.Namespace, *, backend_url: str, backend_token: str,
                    store: IdStore, mappings: MappingRegistry, db: StateDB,
                    out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Walk `args.org`, print the report; 0 clean, 1 drift (the caller owns store and db)."""
    backend = BackendClient(backend_url, backend_token)
    progress = Progress(err, f"reconcile org {args.org}")
    await backend.start()
    try:
        await db.ready()
        reconciler = Reconciler(backend, store, db, mappings.for_org(args.org),
                                rate=args.rate, progress=progress)
        report = await reconciler.run(args.org, args.fix_index)
    finally:
        progress.end()
        await backend.close()
    (render_json if args.json else render_text)(report, out)
    return 0 if report.clean else 1


async def run_cli(args: argparse.Namespace, *, backend_url: str, backend_token: str,
                  redis_url: str, mappings: MappingRegistry, db: StateDB) -> int:
    """`reconcile` with the deployment's own Redis and state database."""
    store = make_id_store(redis_url or None)
    try:
        return await reconcile(args, backend_url=backend_url, backend_token=backend_token,
                               store=store, mappings=mappings, db=db)
    finally:
        await store.close()
        await db.close()
