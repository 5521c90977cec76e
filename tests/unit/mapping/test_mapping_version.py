"""A mapping's version is its module's content hash: the audit trail names the exact text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.mapping.registry import MappingRegistry

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


def test_mapping_version_is_the_sha256_of_the_module_source() -> None:
    registry = MappingRegistry("mappings.default", {"17": "mappings.examples.acme"})
    default = hashlib.sha256((MAPPINGS / "default.py").read_bytes()).hexdigest()[:12]
    acme = hashlib.sha256((MAPPINGS / "examples" / "acme.py").read_bytes()).hexdigest()[:12]
    assert registry.default.version == default
    assert registry.for_org(17).version == acme != default
