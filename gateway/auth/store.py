"""The credential store: who may call the SCIM API, and for which org.

Workstream support issues each customer org a Basic username/password (Okta)
or a bearer token (Entra); each credential is bound to exactly one org. Only
scrypt hashes are kept, in a JSON file shared by every gateway process and the
`workstream-credentials` CLI. The file is replaced atomically on every change,
and each process re-reads it when it changes (checked at most once per
`reload_interval_s`), so a revocation reaches every process within about a
second.

Verification is the hot path: scrypt runs in an executor in a few slots
handed out by `gateway.auth.guard` (a flood of bad passwords cannot starve
the event loop nor queue the real IdP behind it: see that module), concurrent
checks of the same secret share one hash, and successful checks are cached for
`cache_ttl_s` (an hour by default) under an HMAC of the secret (never the
secret itself). Each cache entry remembers the hash it was checked against,
and a hit counts only while the current record still holds that hash for that
org: a rotated or revoked credential misses at once, while reloading the file
for an unrelated change leaves every other org's warm entries alone (no
scrypt stampede). Failed secrets are remembered the same way, so a wrong
secret seen again costs no scrypt.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from gateway.auth.guard import AuthGuard, Priority, SlotsFull
from gateway.auth.hashing import (
    DEFAULT_PARAMS,
    ScryptParams,
    SecretHash,
    dummy_hash,
    hash_secret,
    matches,
)

log = logging.getLogger(__name__)

Kind = Literal["basic", "bearer"]

FILE_FORMAT = "workstream-scim-credentials"
FILE_VERSION = 1
TOKEN_PREFIX = "wsg"
# Credential ids are 12 lower-case hex digits; tokens read wsg_<id>_<secret>.
_ID_BYTES = 6
_TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}_([0-9a-f]{{{2 * _ID_BYTES}}})_([A-Za-z0-9_-]+)$")
PASSWORD_BYTES = 24  # token_urlsafe(24) -> 32 characters
TOKEN_SECRET_BYTES = 32  # token_urlsafe(32) -> 43 characters
# Nothing we issue is longer; longer input is rejected before it reaches scrypt.
MAX_SECRET_CHARS = 512
MAX_LABEL_CHARS = 100
MAX_CACHE_ENTRIES = 10_000


class CredentialError(Exception):
    """A credential operation that cannot be done (the CLI prints the message)."""


class UnknownCredential(CredentialError):
    """No credential has that id."""


class CredentialRevoked(CredentialError):
    """The credential has been revoked and cannot be rotated."""


class CredentialFileError(CredentialError):
    """The credentials file cannot be read or is not ours."""


@dataclass(frozen=True)
class Issued:
    """A freshly issued or rotated credential: the only time its secret exists in clear.

    `repr` leaves the secret out so it cannot leak through a log line.
    """

    credential_id: str
    org_id: int
    kind: Kind
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: no secret, no hash."""

    id: str
    kind: Kind
    org_id: int
    label: str | None
    username: str | None  # Basic only
    created_at: str
    rotated_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def token_prefix(self) -> str | None:
        """The non-secret start of a bearer token, to recognise it in the IdP's settings."""
        return f"{TOKEN_PREFIX}_{self.id}_" if self.kind == "bearer" else None


@dataclass(frozen=True)
class _Record:
    """One stored credential: its public facts and its hash (None once revoked).

    `repr` leaves the hash out, like `Issued` leaves out the secret.
    """

    info: CredentialInfo
    secret_hash: SecretHash | None = field(repr=False)

    @property
    def active(self) -> bool:
        return self.info.active and self.secret_hash is not None

    def to_json(self) -> dict:
        i = self.info
        return {
            "id": i.id,
            "kind": i.kind,
            "org_id": i.org_id,
            "label": i.label,
            "username": i.username,
            "created_at": i.created_at,
            "rotated_at": i.rotated_at,
            "revoked_at": i.revoked_at,
            "hash": self.secret_hash.to_json() if self.secret_hash else None,
        }

    @classmethod
    def from_json(cls, doc: dict) -> _Record:
        kind = doc["kind"]
        if kind not in ("basic", "bearer"):
            raise ValueError(f"unknown credential kind {kind!r}")
        org_id = doc["org_id"]
        if not isinstance(org_id, int) or isinstance(org_id, bool):
            raise ValueError(f"credential {doc.get('id')!r}: org_id must be an integer")
        info = CredentialInfo(
            id=str(doc["id"]),
            kind=kind,
            org_id=org_id,
            label=doc.get("label"),
            username=doc.get("username"),
            created_at=doc["created_at"],
            rotated_at=doc.get("rotated_at"),
            revoked_at=doc.get("revoked_at"),
        )
        if kind == "basic" and not info.username:
            raise ValueError(f"credential {info.id!r}: a basic credential needs a username")
        raw_hash = doc.get("hash")
        return cls(info, SecretHash.from_json(raw_hash) if raw_hash else None)


def parse_token(token: str) -> tuple[str, str] | None:
    """Split `wsg_<id>_<secret>` into (credential id, secret); None if not that shape."""
    found = _TOKEN_RE.match(token)
    return (found.group(1), found.group(2)) if found else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_org(org_id: object) -> int:
    if not isinstance(org_id, int) or isinstance(org_id, bool) or org_id <= 0:
        raise CredentialError(f"org id must be a positive integer, not {org_id!r}")
    return org_id


def _check_label(label: str | None) -> str | None:
    if label is not None and len(label) > MAX_LABEL_CHARS:
        raise CredentialError(f"label is longer than {MAX_LABEL_CHARS} characters")
    return label or None


_Signature = tuple[int, int, int]  # (st_ino, st_mtime_ns, st_size)


@dataclass(frozen=True)
class _CacheEntry:
    """A verified secret: valid until `expires` while its credential still has this hash."""

    credential_id: str
    org_id: int
    secret_hash: SecretHash = field(repr=False)
    expires: float


class CredentialStore:
    """Credentials bound to orgs, kept as scrypt hashes in a JSON file (or in memory).

    `path=None` keeps everything in memory (demo mode and tests). The
    management methods (`issue_*`, `rotate`, `revoke`) are synchronous and
    meant for the CLI; `verify_*` are for the request path.
    """

    def __init__(
        self,
        path: Path | str | None,
        *,
        params: ScryptParams = DEFAULT_PARAMS,
        cache_ttl_s: float = 3600.0,
        reload_interval_s: float = 1.0,
        guard: AuthGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(path) if path is not None else None
        self._params = params
        self._cache_ttl_s = cache_ttl_s
        self._reload_interval_s = reload_interval_s
        self._guard = guard or AuthGuard()
        self._clock = clock
        self._dummy = dummy_hash(params)
        # Cache keys are HMACs under a key that never leaves this process.
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, _CacheEntry] = {}
        self._by_id: dict[str, _Record] = {}
        self._by_username: dict[str, _Record] = {}
        self._signature: _Signature | None = None
        self._next_check = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[tuple[bytes, SecretHash], asyncio.Task[bool]] = {}
        if self._path is not None:
            self._install(*self._read())
            self._next_check = clock() + reload_interval_s

    # -- management (CLI) ---------------------------------------------------

    def issue_basic(self, org_id: int, label: str | None = None) -> Issued:
        """A new username/password for `org_id`, for the customer's Okta admin."""
        org_id, label = _check_org(org_id), _check_label(label)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        with self._mutation() as records:
            cid = self._new_id(records)
            username = f"scim-{org_id}-{cid}"
            info = CredentialInfo(cid, "basic", org_id, label, username, _now(), None, None)
            records[cid] = _Record(info, hash_secret(password, self._params))
        log.info("issued basic credential %s (user %s) for org %s", cid, username, org_id)
        return Issued(cid, org_id, "basic", username=username, password=password)

    def issue_token(self, org_id: int, label: str | None = None) -> Issued:
        """A new long-lived bearer token for `org_id` (Entra's "Secret Token")."""
        org_id, label = _check_org(org_id), _check_label(label)
        with self._mutation() as records:
            cid = self._new_id(records)
            token = self._new_token(cid)
            info = CredentialInfo(cid, "bearer", org_id, label, None, _now(), None, None)
            records[cid] = _Record(info, hash_secret(token, self._params))
        log.info("issued bearer token %s for org %s", cid, org_id)
        return Issued(cid, org_id, "bearer", token=token)

    def rotate(self, credential_id: str) -> Issued:
        """A new secret for an existing credential; the old one stops working at once.

        A Basic credential keeps its username (the admin only re-enters the
        password); a token keeps its id.
        """
        with self._mutation() as records:
            record = records.get(credential_id)
            if record is None:
                raise UnknownCredential(f"no credential {credential_id!r}")
            if not record.active:
                raise CredentialRevoked(f"credential {credential_id!r} is revoked; issue a new one")
            info = replace(record.info, rotated_at=_now())
            if info.kind == "basic":
                password = secrets.token_urlsafe(PASSWORD_BYTES)
                issued = Issued(info.id, info.org_id, "basic", username=info.username,
                                password=password)
                secret = password
            else:
                token = self._new_token(info.id)
                issued = Issued(info.id, info.org_id, "bearer", token=token)
                secret = token
            records[credential_id] = _Record(info, hash_secret(secret, self._params))
        log.info("rotated credential %s of org %s", credential_id, info.org_id)
        return issued

    def revoke(self, credential_id: str) -> bool:
        """Revoke a credential (its hash is dropped); False if it already was."""
        with self._mutation() as records:
            record = records.get(credential_id)
            if record is None:
                raise UnknownCredential(f"no credential {credential_id!r}")
            if not record.active:
                return False
            records[credential_id] = _Record(replace(record.info, revoked_at=_now()), None)
        log.info("revoked credential %s of org %s", credential_id, record.info.org_id)
        return True

    def list(self) -> list[CredentialInfo]:
        """Every credential, revoked ones included, by org then age."""
        self._maybe_reload(force=True)
        return sorted((r.info for r in self._by_id.values()),
                      key=lambda i: (i.org_id, i.created_at, i.id))

    # -- verification (request path) ----------------------------------------

    @property
    def guard(self) -> AuthGuard:
        """The brute-force defence around each check (settings, failure counts)."""
        return self._guard

    async def verify_basic(self, username: str, password: str,
                           client: str | None = None) -> int | None:
        """The org id `username`/`password` belong to, or None."""
        info = await self.identify_basic(username, password, client)
        return None if info is None else info.org_id

    async def verify_bearer(self, token: str, client: str | None = None) -> int | None:
        """The org id a bearer token belongs to, or None."""
        info = await self.identify_bearer(token, client)
        return None if info is None else info.org_id

    async def identify_basic(self, username: str, password: str,
                             client: str | None = None) -> CredentialInfo | None:
        """The credential `username`/`password` are (its org, id, label), or None.

        `client` is the caller's address when a trusted proxy vouches for it
        (see `gateway.auth.guard`). Raises `AuthRefused` (429/503) instead of
        hashing when the guard says so.
        """
        self._maybe_reload()
        record = self._by_username.get(username)
        return await self._verify("basic", username, password, record, client)

    async def identify_bearer(self, token: str,
                              client: str | None = None) -> CredentialInfo | None:
        """The credential a bearer token is, or None (`client`, errors: as Basic).

        The id inside the token finds the one hash to check, so no scan.
        """
        self._maybe_reload()
        parsed = parse_token(token)
        if parsed is None:
            return None
        record = self._by_id.get(parsed[0])
        if record is not None and record.info.kind != "bearer":
            record = None
        return await self._verify("bearer", parsed[0], token, record, client)

    async def _verify(self, kind: Kind, lookup: str, secret: str,
                      record: _Record | None, client: str | None) -> CredentialInfo | None:
        if len(secret) > MAX_SECRET_CHARS:
            return None
        key = hmac.new(self._cache_key, f"{kind}\0{lookup}\0{secret}".encode("utf-8",
                       "surrogatepass"), hashlib.sha256).digest()
        usable = record is not None and record.active
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None:
            # Only while the record still holds the hash this secret matched, for the same org.
            if (usable and now < hit.expires and record.info.id == hit.credential_id
                    and record.info.org_id == hit.org_id
                    and record.secret_hash == hit.secret_hash):
                return record.info
            del self._cache[key]
        guard = self._guard
        credential_id = record.info.id if usable else None
        stored = record.secret_hash if usable else None
        # Checked before the failure cache: a throttled address hears 429 whatever it sends.
        guard.check_client(client, now)
        if guard.failure_cache.seen(key, stored, now):
            guard.failed(credential_id, client, now)
            return None
        priority = guard.priority(credential_id, client, now)
        try:
            with guard.pending(credential_id):
                # Unknown names and revoked credentials hash against a dummy: same cost.
                ok = await self._hash_check(key, secret, stored or self._dummy, priority)
        except SlotsFull as full:
            if full.priority is Priority.UNKNOWN:
                ok = False  # no such credential, and no idle slot to hide that in: refuse
            else:
                raise guard.refusal(full) from None
        now = self._clock()
        if not ok or not usable:
            guard.failure_cache.add(key, stored, now)
            guard.failed(credential_id, client, now)
            return None
        # The file may have been reloaded while we hashed: accept only if the hash still stands.
        current = self._by_id.get(record.info.id)
        if current is None or not current.active or current.secret_hash != stored:
            return None
        if len(self._cache) >= MAX_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = _CacheEntry(record.info.id, record.info.org_id, stored,
                                       now + self._cache_ttl_s)
        return current.info

    async def _hash_check(self, key: bytes, secret: str, stored: SecretHash,
                          priority: Priority) -> bool:
        """Run scrypt in a guard slot; identical concurrent checks share one hash."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._inflight = {}
        task = self._inflight.get((key, stored))
        if task is None:
            task = loop.create_task(self._guard.slots.run(priority, matches, secret, stored))
            self._inflight[(key, stored)] = task
            task.add_done_callback(lambda _t: self._inflight.pop((key, stored), None))
        # shield: a client hanging up must not cancel a hash other requests wait on.
        return await asyncio.shield(task)

    # -- file handling ------------------------------------------------------

    def _maybe_reload(self, *, force: bool = False) -> None:
        """Re-read the file if it changed; throttled so the hot path stats it rarely."""
        if self._path is None:
            return
        now = self._clock()
        if not force and now < self._next_check:
            return
        self._next_check = now + self._reload_interval_s
        try:
            signature = self._stat_signature()
            if signature == self._signature:
                return
            records, signature = self._read()
        except CredentialFileError:
            # Keep serving the last good state; a broken file must not open or close the door.
            log.exception("credentials file %s unreadable; keeping the previous state",
                          self._path)
            return
        self._install(records, signature)
        log.info("credentials reloaded from %s (%d credentials)", self._path, len(records))

    def _stat_signature(self) -> _Signature | None:
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialFileError(f"cannot stat {self._path}: {exc}") from exc
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> tuple[dict[str, _Record], _Signature | None]:
        """Parse the file; a missing file is an empty store (the CLI creates it)."""
        assert self._path is not None
        try:
            with open(self._path, "rb") as fh:
                st = os.fstat(fh.fileno())
                raw = fh.read()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            raise CredentialFileError(f"cannot read {self._path}: {exc}") from exc
        try:
            doc = json.loads(raw)
            if doc.get("format") != FILE_FORMAT or doc.get("version") != FILE_VERSION:
                raise ValueError(f"not a {FILE_FORMAT} v{FILE_VERSION} file")
            records = [_Record.from_json(c) for c in doc["credentials"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CredentialFileError(f"{self._path} is not a valid credentials file: {exc}"
                                      ) from exc
        if st.st_mode & 0o077:
            log.warning("credentials file %s is readable by other users (mode %o)",
                        self._path, st.st_mode & 0o777)
        return {r.info.id: r for r in records}, (st.st_ino, st.st_mtime_ns, st.st_size)

    def _install(self, records: dict[str, _Record], signature: _Signature | None) -> None:
        self._by_id = records
        self._by_username = {r.info.username: r for r in records.values()
                             if r.info.kind == "basic" and r.info.username}
        self._signature = signature
        # No cache clear: each entry is checked against the record's current hash on use.

    @contextlib.contextmanager
    def _mutation(self) -> Iterator[dict[str, _Record]]:
        """Read-modify-write under an exclusive lock, so two CLI runs never lose a change."""
        if self._path is None:
            records = dict(self._by_id)
            yield records
            self._install(records, None)
            return
        directory = self._path.parent
        directory.mkdir(parents=True, exist_ok=True)
        # Lock the directory: the file itself is replaced, so a lock on it would not hold.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            records, _ = self._read()
            yield records
            signature = self._write(records)
            self._install(records, signature)
        finally:
            os.close(dir_fd)  # closing releases the lock

    def _write(self, records: dict[str, _Record]) -> _Signature:
        """Write atomically: a temp file (mode 0600) in the same directory, then os.replace."""
        assert self._path is not None
        doc = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "credentials": [r.to_json() for r in records.values()],
        }
        data = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.",
                                   suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                st = os.fstat(fh.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @staticmethod
    def _new_id(records: dict[str, _Record]) -> str:
        while True:
            cid = secrets.token_hex(_ID_BYTES)
            if cid not in records:
                return cid

    @staticmethod
    def _new_token(credential_id: str) -> str:
        return f"{TOKEN_PREFIX}_{credential_id}_{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"
