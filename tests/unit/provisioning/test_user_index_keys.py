"""The index keys of a record, read straight from its fields, are those of its full mapping."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from gateway.mapping.fields import Computed
from gateway.provisioning.user_index import UserIndex, direct_readers, indexed_fields

SAMPLE = Path(__file__).resolve().parents[3] / "mappings/examples/samples/employee-record.json"
MODULES = ("mappings.default", *(f"mappings.examples.{n}" for n in
                                 ("acme", "initech", "globex", "umbrella", "hooli")))


def full_keys(mapping, record: dict) -> dict[str, str]:
    """keys_of as it was: the whole resource mapped, then the indexed values read from it."""
    from gateway.mapping.fields import read_scim

    scim = mapping.to_scim_attributes(record)
    out = {}
    for attr, bound, case_exact in indexed_fields(mapping):
        key = UserIndex._key(attr, case_exact, read_scim(scim, bound))
        if key:
            out[key] = str(record["id"])
    return out


def records() -> list[dict]:
    base = json.loads(SAMPLE.read_text())
    return [base, {**base, "email": "MiXeD.Case@Example.COM"}, {**base, "sso_id": None},
            {**base, "email": ""}, {**base, "sso_id": "00uCaseExact"}]


@pytest.mark.parametrize("module", MODULES)
def test_every_example_mapping_reads_the_same_keys_directly(module: str) -> None:
    mapping = importlib.import_module(module).USER
    index = UserIndex.__new__(UserIndex)
    assert direct_readers(mapping) is not None  # every shipped mapping takes the short way
    for record in records():
        assert index.keys_of(mapping, record) == full_keys(mapping, record)


def test_a_computed_externalId_reads_the_same_keys() -> None:
    """A computed externalId is not indexed (no field holds it) either way."""
    default = importlib.import_module("mappings.default").USER
    mapping = default.without("externalId").extend(
        Computed("externalId", lambda scim: (scim.get("userName") or "").upper() or None))
    assert [r[0] for r in direct_readers(mapping) or ()] == [
        attr for attr, _, _ in indexed_fields(mapping)]
    index = UserIndex.__new__(UserIndex)
    for record in records():
        assert index.keys_of(mapping, record) == full_keys(mapping, record)
