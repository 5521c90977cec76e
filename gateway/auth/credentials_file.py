"""The credentials.json the gateway used before the state database, read for a one-time import.

Its scrypt hashes are imported as they are (same salt, same cost), so every
credential issued into the file keeps working, with the same username, token
and id, once it lives in the database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from gateway.auth.hashing import SecretHash
from gateway.auth.table import KINDS, Row
from gateway.state.db import utc

FILE_FORMAT = "workstream-scim-credentials"
FILE_VERSION = 1


class CredentialFileError(Exception):
    """The file can't be read or is not a credentials file; the message names it."""


def _time(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO timestamp")
    return utc(datetime.fromisoformat(value))


def _row(doc: dict) -> Row:
    kind = doc["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown credential kind {kind!r}")
    org_id = doc["org_id"]
    if not isinstance(org_id, int) or isinstance(org_id, bool) or org_id <= 0:
        raise ValueError(f"credential {doc.get('id')!r}: org_id must be a positive integer")
    if kind == "basic" and not doc.get("username"):
        raise ValueError(f"credential {doc.get('id')!r}: a basic credential needs a username")
    raw_hash = doc.get("hash")
    created = _time(doc["created_at"], "created_at")
    assert created is not None
    return Row(
        id=str(doc["id"]), kind=kind, org_id=org_id, label=doc.get("label"),
        username=doc.get("username") if kind == "basic" else None,
        secret_hash=SecretHash.from_json(raw_hash) if raw_hash else None,
        previous_hash=None, previous_valid_until=None, created_at=created,
        rotated_at=_time(doc.get("rotated_at"), "rotated_at"),
        revoked_at=_time(doc.get("revoked_at"), "revoked_at"),
        expires_at=None, last_used_at=None,
    )


def read_credentials_file(path: Path) -> list[Row]:
    """Every credential in the file, revoked ones included; raises CredentialFileError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CredentialFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = orjson.loads(raw)
        if doc.get("format") != FILE_FORMAT or doc.get("version") != FILE_VERSION:
            raise ValueError(f"not a {FILE_FORMAT} v{FILE_VERSION} file")
        return [_row(c) for c in doc["credentials"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialFileError(f"{path} is not a valid credentials file: {exc}") from None
