"""Check a mapping module before any customer traffic reaches it (ops tool).

    python -m gateway.mapping.check MODULE [SAMPLE.json] [--patch PATCH.json]
                                    [--current RECORD.json]

MODULE is a dotted name (`mappings.acme`) or a path (`mappings/acme.py`).
The module is loaded and checked exactly as the gateway does at start-up, and
its fields are listed. With files, the tool shows what the gateway would do,
going through the same steps as a real request (IdP quirks, validation,
mapping) without calling anything:

- SAMPLE alone: a `POST /Users` of SAMPLE (a SCIM User body from the IdP);
- SAMPLE and --current: a `PUT /Users/{id}` of SAMPLE over RECORD (a backend
  employee record, as `GET /internal/v1/orgs/{org_id}/employees/{id}` answers);
- --patch: a `PATCH /Users/{id}` of PATCH (a SCIM PatchOp body) over RECORD,
  or over the record SAMPLE's create would make when no --current is given.

For each it prints the backend calls (method, path template, JSON body) and
the SCIM resource the resulting record reads back as.

Exit status: 0 all good; 1 a sample would be refused (the SCIM error the IdP
would get is printed); 2 the module is broken (doesn't import, unknown SCIM
path or backend field, ...) or a file can't be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.backend.records import STATUS_ACTIVE, STATUS_DEACTIVATED, STATUS_FIELD
from gateway.config import MappingsConfig
from gateway.mapping import write_plan
from gateway.mapping.fields import MappingError, read_scim
from gateway.mapping.registry import OrgMappings, load_module
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.mapping.write_plan import WritePlan
from gateway.scim.errors import ScimError
from gateway.scim.patch import apply_patch
from gateway.scim.requests import prepare_patch, prepare_resource
from gateway.scim.schema import CORE_GROUP

API = "/internal/v1/orgs/{org_id}"
EMPLOYEES = f"{API}/employees"
EMPLOYEE = f"{API}/employees/{{id}}"
# What a simulated record carries where the real backend would put its own values.
BASE_URL = "https://gateway.example/scim/v2"
PLACEHOLDER_ID = 1
PLACEHOLDER_TIME = "2026-01-01T00:00:00Z"
# Attributes a User body may carry that no mapping ever stores.
NEVER_STORED = {"schemas", "password"}


class CheckFailed(Exception):
    """The module or a file is unusable: exit status 2."""


@dataclass(frozen=True)
class BackendCall:
    """One call the gateway would make on the internal API."""

    method: str
    path: str  # a template: {org_id}, {id}
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"{self.method} {self.path}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body is not None:
            lines.append(json.dumps(self.body, indent=2, ensure_ascii=False))
        return "\n".join(lines)


@dataclass
class Outcome:
    """What one simulated request does: the calls, and the record afterwards."""

    calls: list[BackendCall]
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# ---- loading ----


def module_name(target: str) -> str:
    """A dotted module name from `target` (a dotted name, or a .py path under the cwd)."""
    if not (target.endswith(".py") or "/" in target or "\\" in target):
        return target
    path = Path(target).resolve()
    if not path.is_file():
        raise CheckFailed(f"{target}: no such file")
    try:
        relative = path.relative_to(Path.cwd().resolve())
    except ValueError:
        raise CheckFailed(f"{target}: run the check from the project directory, or give the "
                          "module's dotted name (e.g. mappings.acme)") from None
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    return ".".join(relative.with_suffix("").parts)


def load(target: str, default: str = MappingsConfig().default) -> OrgMappings:
    """Load and check a mapping module as the gateway's registry does."""
    name = module_name(target)
    try:
        fallback = load_module(default)
        return fallback if name == default else load_module(name, fallback)
    except MappingError as exc:
        raise CheckFailed(str(exc)) from None


def read_json(path: str, what: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckFailed(f"{what} {path}: can't be read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CheckFailed(f"{what} {path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CheckFailed(f"{what} {path}: must hold a JSON object")
    return doc


# ---- the request path, as the gateway runs it (gateway/web/users.py, provisioning/users.py) ----


def scim_resource(mapping: ResourceMapping, body: dict[str, Any]) -> dict[str, Any]:
    """A POST/PUT body as the gateway sees it after quirks, validation and read-only stripping."""
    if CORE_GROUP in (body.get("schemas") or []):
        raise CheckFailed("Group samples are not supported yet: give a SCIM User body")
    return prepare_resource(body, mapping.rtype, "User")


def patch_operations(mapping: ResourceMapping, body: dict[str, Any]) -> list[dict[str, Any]]:
    return prepare_patch(body, mapping.rtype)


def calls_of(plan: WritePlan, record: dict[str, Any]) -> list[BackendCall]:
    """The backend calls the gateway makes to carry `plan` out over `record`."""
    calls: list[BackendCall] = []
    if plan.create is not None:
        calls.append(BackendCall("POST", EMPLOYEES, plan.create,
                                 {"Idempotency-Key": "<a new UUID for each create>"}))
    if plan.update:
        calls.append(BackendCall("PATCH", EMPLOYEE, plan.update,
                                 {"If-Match": str(record.get("lock_version"))}))
    if plan.action is not None:
        calls.append(BackendCall("POST", f"{EMPLOYEE}/{plan.action}"))
    return calls


def carried_out(plan: WritePlan, record: dict[str, Any]) -> dict[str, Any]:
    """The record after `plan`, as the backend would store it (ids and times are placeholders)."""
    after = dict(record)
    if plan.create is not None:
        after.update(plan.create, id=PLACEHOLDER_ID, status=STATUS_ACTIVE, lock_version=0,
                     created_at=PLACEHOLDER_TIME, updated_at=PLACEHOLDER_TIME)
    for changed in (plan.create, plan.update):
        if changed is not None:
            after.update(changed)
            after["lock_version"] = (after.get("lock_version") or 0) + 1
    if plan.action is not None:
        after[STATUS_FIELD] = STATUS_DEACTIVATED if plan.action == "deactivate" else STATUS_ACTIVE
        after["lock_version"] = (after.get("lock_version") or 0) + 1
    return after


def plan_create(mapping: ResourceMapping, body: dict[str, Any]) -> Outcome:
    """`POST /Users` with `body`: the create call (and deactivate when active is false)."""
    resource = scim_resource(mapping, body)
    plan = write_plan.plan_create(mapping, resource)
    record = carried_out(plan, {name: None for name in mapping.catalogue})
    return Outcome(calls_of(plan, record), record, ignored_attributes(mapping, resource))


def plan_update(
    mapping: ResourceMapping, record: dict[str, Any], target: dict[str, Any],
    current: dict[str, Any],
) -> Outcome:
    """The calls turning `record` (read back as `current`) into `target`."""
    plan = write_plan.plan_update(mapping, record, current, target)
    return Outcome(calls_of(plan, record), carried_out(plan, record),
                   ignored_attributes(mapping, target, current))


def plan_replace(mapping: ResourceMapping, record: dict[str, Any], body: dict[str, Any]) -> Outcome:
    """`PUT /Users/{id}` with `body` over `record`."""
    current = mapping.to_scim(record, BASE_URL)
    return plan_update(mapping, record, scim_resource(mapping, body), current)


def plan_patch(mapping: ResourceMapping, record: dict[str, Any], body: dict[str, Any]) -> Outcome:
    """`PATCH /Users/{id}` with the PatchOp `body` over `record` (sent without If-Match)."""
    operations = patch_operations(mapping, body)
    status_only = write_plan.plan_status_patch(mapping, operations)
    if status_only is not None:
        # The gateway sends the action alone, without reading the record first.
        return Outcome(calls_of(status_only, record), carried_out(status_only, record))
    current = mapping.to_scim(record, BASE_URL)
    target = apply_patch(current, operations, mapping.rtype)
    return plan_update(mapping, record, target, current)


def as_record(mapping: ResourceMapping, doc: dict[str, Any]) -> dict[str, Any]:
    """A --current file as a full employee record (absent fields are null)."""
    if not isinstance(doc.get("id"), int) or isinstance(doc.get("id"), bool):
        raise CheckFailed("the --current record needs an integer 'id' (a backend employee "
                          "record, as GET .../employees/{id} returns it)")
    unknown = sorted(set(doc) - set(mapping.catalogue) - {"org_id"})
    if unknown:
        raise CheckFailed(f"the --current record has fields employees don't have: "
                          f"{', '.join(unknown)}")
    record: dict[str, Any] = {name: None for name in mapping.catalogue}
    record.update(status=STATUS_ACTIVE, lock_version=1)
    record.update(doc)
    return record


def ignored_attributes(
    mapping: ResourceMapping, resource: dict[str, Any], previous: dict[str, Any] | None = None
) -> list[str]:
    """What in `resource` this mapping won't write, so ops see a missing line.

    With `previous` (an update), a read-only field is reported only when the
    request tried to change it.
    """
    notes = []
    mapped = mapping.mapped_top_level()
    core = mapping.rtype.core.id
    for key, value in resource.items():
        resolved = mapping.rtype.resolve_text(key)
        if key in NEVER_STORED or (resolved and resolved.attribute.mutability == "readOnly"):
            continue  # id, meta, groups: what the IdP read back, ignored by design
        schema = mapping.rtype.schema_by_urn(key) if key.startswith("urn:") else None
        if key.startswith("urn:") and isinstance(value, dict) and schema is not None:
            for name in value:
                if name not in mapped.get(schema.id, set()):
                    notes.append(f"not mapped, ignored: {schema.id}:{name}")
        elif key.startswith("urn:") and schema is None:
            notes.append(f"not mapped, ignored: {key} (a schema this mapping doesn't declare)")
        elif key not in mapped.get(core, set()):
            notes.append(f"not mapped, ignored: {key}")
    for b in mapping.bound:
        value = read_scim(resource, b)
        if b.spec.writable or value is None:
            continue
        if previous is None or value != read_scim(previous, b):
            notes.append(f"read-only in this mapping, ignored on writes: {b.text}")
    for c in mapping.computed:
        value = read_scim(resource, c)
        computed = c.spec.compute(resource)
        if value is not None and value != computed:
            notes.append(f"computed on reads, the value sent is not kept: {c.text} "
                         f"{value!r} reads back as {computed!r}")
    return notes


# ---- output ----


def describe(mappings: OrgMappings) -> str:
    """The module's fields, one line each, as ops read them."""
    lines = [f"mapping module {mappings.module}: OK (loaded and checked as at start-up)"]
    for label, mapping, backend in (("User", mappings.user, "employee"),
                                    ("Group", mappings.group, "team")):
        lines.append(f"\n{label}: SCIM attribute -> Workstream {backend} field")
        width = max(len(line.scim) for line in mapping.fields)
        for b in mapping.bound:
            flags = [name for name, on in (
                ("read-only", not b.spec.writable),
                ("kept when absent", b.spec.keep_when_absent),
                ("translated", b.spec.translate is not None),
                ("derived when absent", b.spec.fallback is not None),
            ) if on]
            suffix = f"  [{', '.join(flags)}]" if flags else ""
            lines.append(f"  {b.text:<{width}} -> {b.spec.backend}{suffix}")
        for c in mapping.computed:
            how = c.spec.compute.__doc__ or "a function of the other attributes"
            lines.append(f"  {c.text:<{width}} <- computed on reads: {how}  [read-only]")
        for schema in mapping.extensions:
            names = ", ".join(a.name for a in schema.attributes)
            lines.append(f"  extension schema {schema.id} ({names}): "
                         "in /Schemas for this module's orgs only")
    return "\n".join(lines)


def render(title: str, mapping: ResourceMapping, outcome: Outcome) -> str:
    lines = [f"\n== {title}"]
    lines += [f"  note: {n}" for n in outcome.notes]
    if outcome.calls:
        lines.append("backend calls:")
        lines += [_indent(call.render()) for call in outcome.calls]
    else:
        lines.append("backend calls: none (nothing would change)")
    lines.append("reads back as (id, meta and timestamps are placeholders):")
    lines.append(_indent(json.dumps(mapping.to_scim(outcome.record, BASE_URL), indent=2,
                                    ensure_ascii=False)))
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _refused(title: str, exc: ScimError) -> str:
    kind = f" {exc.scim_type}" if exc.scim_type else ""
    return f"\n== {title}\nREFUSED: the IdP would get {exc.status}{kind}: {exc.detail}"


# ---- command line ----


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.mapping.check",
        description="Load and check a mapping module; with a sample, show the backend calls "
                    "the gateway would make and what the result reads back as.",
    )
    parser.add_argument("module", help="dotted module name (mappings.acme) or path")
    parser.add_argument("sample", nargs="?", help="a SCIM User body, as the IdP sends it")
    parser.add_argument("--patch", help="a SCIM PatchOp body, as the IdP sends it")
    parser.add_argument("--current", help="the backend employee record to update")
    return parser


def run(args: argparse.Namespace, out: Any) -> int:
    mappings = load(args.module)
    mapping = mappings.user
    print(describe(mappings), file=out)
    sample = read_json(args.sample, "sample") if args.sample else None
    patch = read_json(args.patch, "--patch") if args.patch else None
    current = as_record(mapping, read_json(args.current, "--current")) if args.current else None
    if patch is not None and current is None and sample is None:
        raise CheckFailed("--patch needs a record to patch: give --current RECORD.json "
                          "or a SAMPLE to create first")
    refused = False
    base = current
    if sample is not None:
        if current is None:
            title = f"POST /Users with {args.sample}"
            try:
                created = plan_create(mapping, sample)
                print(render(title, mapping, created), file=out)
                base = created.record
            except ScimError as exc:
                print(_refused(title, exc), file=out)
                refused = True
        else:
            title = f"PUT /Users/{{id}} with {args.sample} over {args.current}"
            try:
                print(render(title, mapping, plan_replace(mapping, current, sample)), file=out)
            except ScimError as exc:
                print(_refused(title, exc), file=out)
                refused = True
    if patch is not None and base is not None:
        over = args.current or "the record created above"
        title = f"PATCH /Users/{{id}} with {args.patch} over {over}"
        try:
            print(render(title, mapping, plan_patch(mapping, base, patch)), file=out)
        except ScimError as exc:
            print(_refused(title, exc), file=out)
            refused = True
    return 1 if refused else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args, sys.stdout)
    except CheckFailed as exc:
        print(f"mapping check FAILED: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
