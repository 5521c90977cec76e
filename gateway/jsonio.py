"""JSON encoding/decoding for the hot path, in one place (orjson: strict and fast)."""

from __future__ import annotations

from typing import Any

import orjson

DecodeError = orjson.JSONDecodeError


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def dumps_text(obj: Any) -> str:
    """`dumps` as text, for APIs that want a str (SQLAlchemy's JSON columns)."""
    return orjson.dumps(obj).decode()


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)
