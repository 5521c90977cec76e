"""Assertions about SCIM answers that several test modules make."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def assert_scim_503(status: int, body: Any, headers: Mapping[str, str]) -> None:
    """A SCIM 503 error body with an integer Retry-After of at least one second."""
    assert status == 503, body
    assert body["status"] == "503" and body["detail"]
    assert headers["Retry-After"].isdigit() and int(headers["Retry-After"]) >= 1
