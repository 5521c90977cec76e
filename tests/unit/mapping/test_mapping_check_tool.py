"""`python -m gateway.mapping.check`: what ops run before any customer traffic."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gateway.mapping import check
from gateway.mapping.check import main

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "mappings" / "examples" / "samples"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
EXAMPLES = ("acme", "initech", "globex", "umbrella", "hooli")


def sample(name: str) -> str:
    return str(SAMPLES / name)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def blocks(out: str) -> list[dict]:
    """The JSON documents printed, in order (backend bodies and read-back resources)."""
    docs, lines, depth = [], [], 0
    for line in out.splitlines():
        stripped = line.strip()
        if depth == 0 and stripped != "{":
            continue
        lines.append(stripped)
        depth += stripped.count("{") + stripped.count("[") - stripped.count("}") - \
            stripped.count("]")
        if depth == 0:
            docs.append(json.loads("\n".join(lines)))
            lines = []
    return docs


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_module_loads_and_lists_its_fields(capsys, example: str):
    code, out, err = run(capsys, f"mappings.examples.{example}")
    assert code == 0 and err == ""
    assert f"mapping module mappings.examples.{example}: OK" in out
    assert "displayName" in out and "-> display_name" in out


@pytest.mark.parametrize("example,sample_file", [
    ("acme", "acme-create.json"), ("initech", "initech-create.json"),
    ("globex", "globex-create.json"), ("umbrella", "umbrella-create.json"),
    ("hooli", "okta-create.json"), ("default", "okta-create.json"),
])
def test_every_shipped_sample_goes_through_its_example(capsys, example: str, sample_file: str):
    module = "mappings.default" if example == "default" else f"mappings.examples.{example}"
    code, out, _ = run(capsys, module, sample(sample_file))
    assert code == 0, out
    assert "POST /internal/v1/orgs/{org_id}/employees\n" in out


def test_acme_create_shows_the_backend_body_and_the_read_back(capsys):
    code, out, _ = run(capsys, "mappings.examples.acme", sample("acme-create.json"))
    assert code == 0
    assert f"extension schema {ACME} (costCode)" in out
    body, resource = blocks(out)
    assert body["cost_center"] == "CC-42" and body["email"] == "ada.lovelace@acme.example"
    assert "status" not in body and "password" not in json.dumps(body)
    assert resource[ACME] == {"costCode": "CC-42"} and ACME in resource["schemas"]
    assert resource["active"] is True


def test_initech_takes_the_primary_work_email_and_keeps_username(capsys):
    code, out, _ = run(capsys, "mappings.examples.initech", sample("initech-create.json"))
    assert code == 0
    body, resource = blocks(out)
    assert body["email"] == "john.doe@initech.example"
    assert body["employee_number"] == "jdoe"
    assert resource["userName"] == "jdoe"


def test_globex_derives_display_name_and_follows_a_rename(capsys):
    code, out, _ = run(capsys, "mappings.examples.globex", sample("globex-create.json"),
                       "--patch", sample("entra-patch-name.json"))
    assert code == 0
    created, _, patch_body, patched = blocks(out)
    assert created["display_name"] == "Hank Scorpio"
    assert patch_body == {"last_name": "King", "title": "Countess", "display_name": "Hank King"}
    assert "If-Match: 1" in out and patched["displayName"] == "Hank King"


def test_umbrella_translates_and_refuses_an_unknown_code(capsys):
    code, out, _ = run(capsys, "mappings.examples.umbrella", sample("umbrella-create.json"),
                       "--patch", sample("umbrella-bad-department.json"))
    assert code == 1
    body, resource = blocks(out)
    assert (body["department"], body["locale"], body["phone"]) == (
        "Engineering", "en-US", "+15550100199")
    assert resource[ENTERPRISE]["department"] == "ENG"
    assert ("REFUSED: the IdP would get 400 invalidValue: Attribute "
            f"'{ENTERPRISE}:department' has an unusable value 'MKT'") in out


def test_a_put_of_what_was_read_makes_no_call(capsys, tmp_path: Path):
    code, out, _ = run(capsys, "mappings.examples.umbrella", sample("umbrella-create.json"))
    _, resource = blocks(out)
    read_back = tmp_path / "read.json"
    read_back.write_text(json.dumps(resource))
    record = check.plan_create(check.load("mappings.examples.umbrella").user,
                               json.loads(Path(sample("umbrella-create.json")).read_text())).record
    current = tmp_path / "record.json"
    current.write_text(json.dumps(record))
    code, out, _ = run(capsys, "mappings.examples.umbrella", str(read_back),
                       "--current", str(current))
    assert code == 0 and "backend calls: none (nothing would change)" in out


def test_hooli_put_over_a_record_ignores_title_and_says_so(capsys, tmp_path: Path):
    body = json.loads(Path(sample("okta-create.json")).read_text())
    body["title"] = "Intern"
    put = tmp_path / "put.json"
    put.write_text(json.dumps(body))
    code, out, _ = run(capsys, "mappings.examples.hooli", str(put),
                       "--current", sample("employee-record.json"))
    assert code == 0
    assert "note: read-only in this mapping, ignored on writes: title" in out
    patch_body, resource = blocks(out)
    assert "title" not in patch_body and resource["title"] == "Analyst"
    assert "If-Match: 3" in out and "PATCH /internal/v1/orgs/{org_id}/employees/{id}" in out


def test_deactivation_patch_shows_the_action_call(capsys):
    code, out, _ = run(capsys, "mappings.default", "--patch", sample("okta-deactivate.json"),
                       "--current", sample("employee-record.json"))
    assert code == 0
    assert "POST /internal/v1/orgs/{org_id}/employees/{id}/deactivate" in out
    assert "PATCH /internal" not in out
    (resource,) = blocks(out)
    assert resource["active"] is False


def test_attributes_the_mapping_drops_are_pointed_out(capsys, tmp_path: Path):
    body = json.loads(Path(sample("acme-create.json")).read_text())
    body["nickName"] = "Ada"
    body["urn:example:other:1.0:User"] = {"x": "y"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(body))
    _, out, _ = run(capsys, "mappings.default", str(path))
    assert "note: not mapped, ignored: nickName" in out
    assert f"note: not mapped, ignored: {ACME}" in out  # the default doesn't know Acme's schema
    assert "ignored: groups" not in out and "ignored: password" not in out


def test_computed_formatted_name_is_listed_and_a_different_one_pointed_out(
    capsys, tmp_path: Path
):
    body = json.loads(Path(sample("okta-create.json")).read_text())
    body["name"]["formatted"] = "Dr. " + body["name"]["givenName"]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(body))
    code, out, _ = run(capsys, "mappings.default", str(path))
    assert code == 0
    assert "name.formatted" in out and "<- computed on reads:" in out
    assert "note: computed on reads, the value sent is not kept: name.formatted" in out
    given, family = body["name"]["givenName"], body["name"]["familyName"]
    (_, resource) = blocks(out)
    assert resource["name"]["formatted"] == f"{given} {family}"


def test_a_sample_the_gateway_would_refuse_exits_1(capsys, tmp_path: Path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"userName": "a@x", "name": {"givenName": "A"}}))
    code, out, _ = run(capsys, "mappings.default", str(path))
    assert code == 1
    assert "REFUSED: the IdP would get 400 invalidValue: Attribute 'name.familyName' is " \
           "required" in out


def test_module_can_be_given_as_a_path(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "mappings/examples/hooli.py")
    assert code == 0 and "mapping module mappings.examples.hooli: OK" in out
    assert "title" in out and "[read-only]" in out


# ---- failing loudly: exit 2 with a clear message ----


@pytest.fixture
def package(tmp_path: Path, monkeypatch):
    name = f"opscheck_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, text: str) -> str:
        (tmp_path / name / f"{module}.py").write_text(text)
        return f"{name}.{module}"

    yield write
    for key in [k for k in sys.modules if k.startswith(name)]:
        del sys.modules[key]


HEADER = "from gateway.mapping import Field\nfrom mappings.default import USER as D\n"


@pytest.mark.parametrize("text,message", [
    (HEADER + "USER = D.extend(Field('costCentre', 'cost_center'))\n",
     "unknown SCIM attribute path 'costCentre'"),
    (HEADER + "USER = D.extend(Field('nickName', 'nickname'))\n",
     "unknown backend field 'nickname'"),
    (HEADER + "USER = D.extend(Field('nickName', 'created_at'))\n", "read-only"),
    (HEADER + "USER = D.without('name.givenName')\n", "required backend field 'first_name'"),
    ("USER = D.read_only(\n", "can't be imported: SyntaxError"),
])
def test_a_broken_module_exits_2_with_the_reason(capsys, package, text: str, message: str):
    name = package("broken", text)
    code, out, err = run(capsys, name, sample("okta-create.json"))
    assert code == 2 and out == ""
    assert err.startswith(f"mapping check FAILED: mapping module {name}")
    assert message in err


def test_an_unknown_module_exits_2(capsys):
    code, _, err = run(capsys, "mappings.examples.nosuch")
    assert code == 2 and "mappings.examples.nosuch can't be imported" in err


def test_unusable_files_exit_2(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, _, err = run(capsys, "mappings.default", "/nonexistent/sample.json")
    assert code == 2 and "sample /nonexistent/sample.json: can't be read" in err
    code, _, err = run(capsys, "mappings.default", "--patch", sample("okta-deactivate.json"))
    assert code == 2 and "--patch needs a record to patch" in err
    code, _, err = run(capsys, "mappings/nosuch.py")
    assert code == 2 and "mappings/nosuch.py: no such file" in err


def test_invalid_json_and_bad_records_exit_2(capsys, tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"userName": ')
    code, _, err = run(capsys, "mappings.default", str(broken))
    assert code == 2 and "not valid JSON" in err
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"id": 5, "mail": "a@x"}))
    code, _, err = run(capsys, "mappings.default", sample("okta-create.json"),
                       "--current", str(record))
    assert code == 2 and "fields employees don't have: mail" in err
    record.write_text(json.dumps({"email": "a@x"}))
    code, _, err = run(capsys, "mappings.default", sample("okta-create.json"),
                       "--current", str(record))
    assert code == 2 and "integer 'id'" in err


def test_runs_as_a_module_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "gateway.mapping.check", "mappings.examples.acme",
         "mappings/examples/samples/acme-create.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"cost_center": "CC-42"' in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "gateway.mapping.check", "mappings.examples.nosuch"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "mapping check FAILED" in result.stderr
