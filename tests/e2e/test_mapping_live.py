"""Mapping changes on running gateways: two processes sharing one PostgreSQL state database
follow `workstream-admin mapping assign` and edited module files without a restart, refuse
a broken module while the old one serves, and `mapping diff` / `check --live` read a real
org without writing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.mapping.registry import content_version
from tests.conftest import SANDBOX_TOKEN, ScimClient, World, basic
from tests.e2e.test_two_hosts import (  # noqa: F401 - shared_state is a fixture
    ROOT,
    Host,
    issued,
    shared_state,
    two_gateways,
    until,
)

pytestmark = pytest.mark.e2e

V1 = "from mappings.default import USER as D\nUSER = D.without('title')\n"
V2 = "from mappings.default import USER as D\nUSER = D.without('title', 'timezone')\n"
NO_EMAILS = ("from mappings.default import USER as D\n"
             "USER = D.without('emails[type eq \"work\"].value')\n")
BROKEN = "from mappings.default import USER as D\nUSER = D.without('titel')  # a typo\n"


class Package:
    """A package of mapping modules outside the project, edited as ops would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"livemaps_{uuid.uuid4().hex[:8]}"
        (root / self.name).mkdir(parents=True)
        (root / self.name / "__init__.py").write_text("")

    def write(self, module: str, text: str) -> str:
        (self.root / self.name / f"{module}.py").write_text(text)
        return f"{self.name}.{module}"


def _env(package: Package) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_") and k != "PORT"}
    env["PYTHONPATH"] = os.pathsep.join([str(package.root), str(ROOT)])
    return env


@pytest.fixture
def package(tmp_path: Path) -> Package:
    return Package(tmp_path / "maps")


@pytest.fixture
async def live_hosts(world: World, shared_state: str, tmp_path: Path, package: Package,  # noqa: F811
                     monkeypatch) -> AsyncIterator[list[Host]]:
    monkeypatch.setenv("PYTHONPATH", _env(package)["PYTHONPATH"])  # the gateways import it
    async with two_gateways(world, shared_state, tmp_path, '[log]\nformat = "text"\n') as hosts:
        yield hosts


async def admin(package: Package, config: Path, *argv: str, expect: int = 0) -> tuple[str, str]:
    """`workstream-admin` as support runs it; (stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "--config", str(config), *argv, cwd=ROOT,
        env=_env(package), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == expect, (out.decode(), err.decode())
    return out.decode(), err.decode()


def log_of(host: Host) -> str:
    return host.config.with_suffix(".log").read_text(errors="replace")


async def test_an_assignment_and_module_edits_reach_two_running_gateways_and_a_broken_edit_is_refused(  # noqa: E501
    world: World, live_hosts: list[Host], package: Package,
) -> None:
    one, two = live_hosts
    org = await world.backend.create_org("Live Mapping Co")
    credential = issued((await admin(package, one.config, "credentials", "issue", "--org",
                                     str(org)))[0])
    auth = basic(credential["username"], credential["password"])
    both = [ScimClient(world.session, h.url, auth) for h in live_hosts]

    async def accepted() -> bool:
        return [(await c.get("/Users?count=1"))[0] for c in both] == [200, 200]

    await until(accepted, "the new credential accepted by both gateways")
    status, user, _ = await both[0].post("/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@live.example",
        "name": {"givenName": "Ada", "familyName": "Lovelace"}, "title": "Analyst",
        "timezone": "Europe/London"})
    assert status == 201, user

    async def reads() -> list[dict]:
        return [(await c.get(f"/Users/{user['id']}"))[1] for c in both]

    assert all(r["title"] == "Analyst" for r in await reads())  # the default mapping

    module = package.write("acme", V1)
    out, _ = await admin(package, two.config, "mapping", "assign", "--org", str(org), module)
    assert f"org {org}: mapping {module} version {content_version(V1.encode())}" in out

    async def without_title() -> bool:
        return all("title" not in r for r in await reads())

    took = await until(without_title, "the assignment served by both gateways")
    print(f"assignment served by both gateways after {took:.2f} s")
    listed, _ = await admin(package, one.config, "mapping", "list")
    assert [str(org), module, content_version(V1.encode()), "cli"] in [
        line.split() for line in listed.splitlines()]

    package.write("acme", BROKEN)

    async def refused_by_both() -> bool:
        return all(f"mapping module {module} refused" in log_of(h) for h in live_hosts)

    await until(refused_by_both, "the broken edit refused by both gateways")
    for host in live_hosts:
        assert log_of(host).count(f"mapping module {module} refused") == 1
    for read in await reads():  # the old version keeps serving
        assert "title" not in read and read["timezone"] == "Europe/London"

    one.proc.send_signal(signal.SIGHUP)  # an immediate check; it used to kill the process
    package.write("acme", V2)

    async def new_version() -> bool:
        return all("timezone" not in r for r in await reads())

    took = await until(new_version, "the fixed module served by both gateways")
    print(f"edited module served by both gateways after {took:.2f} s")
    assert one.proc.returncode is None and two.proc.returncode is None
    assert f"version {content_version(V2.encode())}" in log_of(two)


async def test_diff_shows_what_reads_would_change_and_check_live_writes_nothing(
    world: World, package: Package, shared_state: str, tmp_path: Path,  # noqa: F811
) -> None:
    org = world.org_a
    ids = await world.backend.seed_employees(org, 12, tag="diff")
    config = tmp_path / "admin.toml"
    config.write_text(f'[backend]\nurl = "{world.backend.url}"\ntoken = "{SANDBOX_TOKEN}"\n'
                      f'[state]\nurl = "{shared_state}"\n')
    candidate = package.write("v2", NO_EMAILS)
    out, err = await admin(package, config, "mapping", "diff", "--org", str(org), candidate,
                           "--limit", "5")
    assert f"org {org}: mappings.default version" in out
    assert out.count("] -> (absent)") == 5
    assert f'user {ids[0]} (diff0@seed.example):\n  emails: [{{' in out
    assert "5 people read; 5 would read differently\n  emails: 5" in out
    assert "diff: 5 read" in err  # the progress report

    await world.backend.clear_log()
    patch = tmp_path / "patch.json"
    patch.write_text('{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], '
                     '"Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}')
    out, _ = await admin(package, config, "mapping", "check", "--org", str(org), "--live",
                         ids[1], "--patch", str(patch))
    assert f"org {org} is assigned mappings.default (default)" in out
    assert f"== live record {ids[1]} reads as" in out and "diff1@seed.example" in out
    assert '"title": "CTO"' in out and "If-Match: 1" in out
    assert "every translated value comes back unchanged" in out
    writes = [c for c in await world.backend.calls() if not c.startswith("GET")]
    assert writes == []
    record = await world.backend.employee(org, ids[1])
    assert record["title"] is None
