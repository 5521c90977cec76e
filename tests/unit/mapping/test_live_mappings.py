"""Mapping changes while the gateway runs: versions, live reloads, refusals, assignments."""

from __future__ import annotations

import hashlib
import logging
import sys
import uuid
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.mapping import check
from gateway.mapping.fields import MappingError
from gateway.mapping.live import MappingWatcher
from gateway.mapping.registry import MappingRegistry, content_version
from gateway.state.mapping_assignments import MappingAssignments

V1 = "from mappings.default import USER as D\nUSER = D.without('title')\n"
V2 = "from mappings.default import USER as D\nUSER = D.without('title', 'locale')\n"
BROKEN = "from mappings.default import USER as D\nUSER = D.without('titel')  # a typo\n"
RECORD = {"id": 5, "email": "ada@example.com", "first_name": "Ada", "last_name": "L",
          "title": "Analyst", "locale": "en-US", "status": "active"}
SAMPLES = Path(__file__).resolve().parents[3] / "mappings" / "examples" / "samples"


@pytest.fixture
def package(tmp_path: Path, monkeypatch):
    """A fresh importable package whose module files a test edits as ops would."""
    name = f"livemaps_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, text: str) -> str:
        (tmp_path / name / f"{module}.py").write_text(text)
        return f"{name}.{module}"

    yield write
    for key in [k for k in sys.modules if k.startswith(name)]:
        del sys.modules[key]


def reads(registry: MappingRegistry, org: int) -> dict:
    return registry.for_org(org).user.to_scim(RECORD, "https://gw.example/scim/v2")


def test_a_version_is_the_first_12_hex_of_the_sha256_of_the_module_file(package):
    name = package("acme", V1)
    registry = MappingRegistry("mappings.default", {"17": name})
    assert registry.for_org(17).version == hashlib.sha256(V1.encode()).hexdigest()[:12]
    default_file = Path(sys.modules["mappings.default"].__file__)
    assert registry.for_org(99).version == content_version(default_file.read_bytes())


def test_an_edited_module_serves_its_new_version_and_a_request_in_flight_keeps_the_old(
    package, caplog,
):
    name = package("acme", V1)
    registry = MappingRegistry("mappings.default", {"17": name})
    in_flight = registry.for_org(17)  # what a request took at its start
    default_module = sys.modules["mappings.default"]
    package("acme", V2)
    with caplog.at_level(logging.INFO, "gateway.mapping.registry"):
        assert registry.refresh() is True
    now = registry.for_org(17)
    assert now.version == content_version(V2.encode()) != in_flight.version
    assert "locale" not in reads(registry, 17)
    # The request that started before the edit finishes on the version it took.
    assert "locale" in in_flight.user.to_scim(RECORD, "https://gw.example/scim/v2")
    assert "title" not in in_flight.user.to_scim(RECORD, "https://gw.example/scim/v2")
    assert sys.modules["mappings.default"] is default_module  # other modules untouched
    assert any(f"org 17 is now served by mapping {name} version {now.version}" in r.message
               for r in caplog.records)
    assert registry.refresh() is False  # nothing changed since


def test_a_broken_edit_is_refused_with_one_log_line_and_the_old_version_keeps_serving(
    package, caplog,
):
    name = package("acme", V1)
    registry = MappingRegistry("mappings.default", {"17": name})
    serving = registry.for_org(17)
    package("acme", BROKEN)
    with caplog.at_level(logging.INFO, "gateway.mapping.registry"):
        registry.refresh()
        registry.refresh()  # the next poll: the same broken file says nothing more
    assert registry.for_org(17) is serving
    assert "title" not in reads(registry, 17)
    refusals = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refusals) == 1, [r.message for r in caplog.records]
    assert (f"mapping module {name} refused" in refusals[0].message
            and "titel" in refusals[0].message
            and f"version {serving.version} keeps serving" in refusals[0].message)
    assert sys.modules[name].USER is serving.user  # the broken code never replaced it
    package("acme", V2)  # fixed: the next poll takes it
    registry.refresh()
    assert registry.for_org(17).version == content_version(V2.encode())


def test_an_assignment_to_a_broken_module_is_refused_and_the_org_keeps_its_mapping(
    package, caplog,
):
    good, broken = package("good", V1), package("broken", BROKEN)
    registry = MappingRegistry("mappings.default", {})
    with caplog.at_level(logging.ERROR, "gateway.mapping.registry"):
        registry.refresh({17: (good, "cli"), 18: (broken, "cli")})
    assert registry.for_org(17).module == good
    assert registry.for_org(18) is registry.default
    assert next(r.message for r in caplog.records if "org 18" in r.message).startswith(
        f"mapping for org 18 refused: mapping module {broken}")
    with pytest.raises(MappingError, match=f"org 18 is assigned mapping module {broken}"):
        registry.refresh({18: (broken, "cli")}, strict=True)


def test_a_new_module_file_created_after_start_up_can_be_assigned(package):
    registry = MappingRegistry("mappings.default", {})
    registry.refresh({})
    name = package("later", V2)  # written after the registry (and the import system) looked
    registry.refresh({17: (name, "cli")})
    assert registry.for_org(17).module == name and "locale" not in reads(registry, 17)


async def test_the_watcher_follows_assignments_in_the_database_and_seeds_only_new_orgs(
    package, state_db,
):
    acme, globex = package("acme", V1), package("globex", V2)
    assignments = MappingAssignments(state_db)
    await assignments.assign(17, globex)  # support's choice, before this start
    registry = MappingRegistry("mappings.default", {"17": acme, "18": acme})
    watcher = MappingWatcher(registry, assignments, {17: acme, 18: acme})
    await watcher.prepare(strict=True)
    _, rows = await assignments.load()
    assert {org: (a.module, a.source) for org, a in rows.items()} == {
        17: (globex, "cli"), 18: (acme, "config")}
    assert registry.for_org(17).module == globex and registry.for_org(18).module == acme
    await assignments.assign(18, globex)
    await assignments.unassign(17)
    assert await watcher.sync() is True
    assert registry.for_org(18).module == globex
    assert registry.for_org(17) is registry.default
    assert await watcher.sync() is False  # counter unchanged: assignments not read again


def test_config_refuses_an_org_key_that_is_not_a_canonical_integer(tmp_path: Path):
    path = tmp_path / "gateway.toml"
    path.write_text('[mappings.orgs]\n"017" = "mappings.examples.acme"\n')
    with pytest.raises(ConfigError, match="org id '017': write it as '17'"):
        load_config(path)


def test_check_reports_a_stored_value_that_does_not_round_trip(capsys):
    # Umbrella translates departments through a table; "Research" (set in Workstream
    # directly) reads back as itself, which the table then refuses on the next write.
    code = check.main(["mappings.examples.umbrella", "--patch",
                       str(SAMPLES / "okta-deactivate.json"),
                       "--current", str(SAMPLES / "employee-record.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert ("FAILS on " in out and "department 'Research' reads as 'Research', which can't "
            "be written back" in out)


def test_check_passes_the_round_trip_where_every_value_comes_back(capsys):
    code = check.main(["mappings.default", "--current", str(SAMPLES / "employee-record.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "round trip (backend -> SCIM -> backend) of 2 translated field(s) on 1 record(s)" \
        in out and "every translated value comes back unchanged" in out
