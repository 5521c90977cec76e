"""Credentials as rows of the state database: the persistence half of the credential store.

Every change runs in one transaction that also bumps the `credentials` change
counter, which each gateway process polls about every second; that is how an
issue, rotation or revocation reaches every process on every host. Hashes are
stored as the same JSON documents the old credentials file held, so an
imported credential keeps working unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth.hashing import SecretHash
from gateway.state import StateCorrupt, StateDB
from gateway.state.db import utc
from gateway.state.schema import CREDENTIALS_TOPIC, credentials

KINDS = ("basic", "bearer")


@dataclass(frozen=True)
class Row:
    """One credentials row, decoded and checked (a bad row raises StateCorrupt naming it)."""

    id: str
    kind: str
    org_id: int
    label: str | None
    username: str | None
    secret_hash: SecretHash | None
    previous_hash: SecretHash | None
    previous_valid_until: datetime | None
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None

    def __repr__(self) -> str:  # hashes stay out of logs, like secrets
        return f"Row(id={self.id!r}, kind={self.kind!r}, org_id={self.org_id})"

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> Row:
        name = raw.get("id")
        try:
            kind = raw["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            org_id = raw["org_id"]
            if not isinstance(org_id, int) or org_id <= 0:
                raise ValueError(f"org_id must be a positive integer, not {org_id!r}")
            if kind == "basic" and not raw["username"]:
                raise ValueError("a basic credential needs a username")
            created = _time(raw["created_at"])
            if created is None:
                raise ValueError("created_at is empty")
            return cls(
                id=str(name), kind=kind, org_id=org_id, label=raw["label"],
                username=raw["username"],
                secret_hash=_hash(raw["secret_hash"], "secret_hash"),
                previous_hash=_hash(raw["previous_hash"], "previous_hash"),
                previous_valid_until=_time(raw["previous_valid_until"]),
                created_at=created, rotated_at=_time(raw["rotated_at"]),
                revoked_at=_time(raw["revoked_at"]), expires_at=_time(raw["expires_at"]),
                last_used_at=_time(raw["last_used_at"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateCorrupt(f"credentials row {name!r} can't be read: {exc}") from None


def _hash(text: str | None, column: str) -> SecretHash | None:
    if text is None:
        return None
    try:
        return SecretHash.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{column}: {exc}") from None


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return utc(value)
    raise ValueError(f"not a timestamp: {value!r}")


def encode_hash(secret_hash: SecretHash | None) -> str | None:
    return None if secret_hash is None else json.dumps(secret_hash.to_json())


class DuplicateCredential(Exception):
    """The id or username is already taken."""


class CredentialTable:
    """Reads and writes of the credentials table."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def version(self) -> int:
        async with self.db.begin() as conn:
            return await self.db.version(conn, CREDENTIALS_TOPIC)

    async def load(self) -> tuple[int, list[Row], dict[str, str]]:
        """(change counter, readable rows, {row id: why it can't be read}); one snapshot."""
        async with self.db.begin() as conn:
            version = await self.db.version(conn, CREDENTIALS_TOPIC)
            result = await conn.execute(select(credentials))
            raws = [dict(r._mapping) for r in result]
        rows: list[Row] = []
        corrupt: dict[str, str] = {}
        for raw in raws:
            try:
                rows.append(Row.decode(raw))
            except StateCorrupt as exc:
                corrupt[str(raw.get("id"))] = str(exc)
        return version, rows, corrupt

    async def get(self, conn: AsyncConnection, credential_id: str) -> Row | None:
        raw = (await conn.execute(select(credentials).where(credentials.c.id == credential_id)
                                  .with_for_update())).first()
        return None if raw is None else Row.decode(dict(raw._mapping))

    async def status(self, conn: AsyncConnection, credential_id: str) -> tuple[object, bool] | None:
        """(org id as stored, revoked?) without decoding the rest of the row; None if absent."""
        raw = (await conn.execute(
            select(credentials.c.org_id, credentials.c.revoked_at)
            .where(credentials.c.id == credential_id).with_for_update())).first()
        return None if raw is None else (raw[0], raw[1] is not None)

    async def insert(self, conn: AsyncConnection, values: Iterable[dict]) -> None:
        try:
            await conn.execute(insert(credentials), list(values))
        except IntegrityError as exc:
            raise DuplicateCredential(str(exc.orig)) from None
        await self.db.bump(conn, CREDENTIALS_TOPIC)

    async def change(self, conn: AsyncConnection, credential_id: str, **values: Any) -> None:
        await conn.execute(update(credentials).where(credentials.c.id == credential_id)
                           .values(**values))
        await self.db.bump(conn, CREDENTIALS_TOPIC)

    async def ids(self, conn: AsyncConnection, candidates: Iterable[str]) -> set[str]:
        found = await conn.execute(select(credentials.c.id)
                                   .where(credentials.c.id.in_(list(candidates))))
        return {r[0] for r in found}

    async def record_use(self, used: Mapping[str, datetime]) -> None:
        """last_used_at for many credentials at once; no change counter (nothing to reload)."""
        if not used:
            return
        statement = (update(credentials).where(credentials.c.id == bindparam("cid"))
                     .values(last_used_at=bindparam("used")))
        async with self.db.begin() as conn:
            await conn.execute(statement, [{"cid": c, "used": t} for c, t in used.items()])

