"""The credential store: who may call the SCIM API, and for which org.

Workstream support issues each customer org a Basic username/password (Okta)
or a bearer token (Entra); each credential is bound to exactly one org. Only
scrypt hashes are kept, in the state database shared by every gateway process
on every host and by `workstream-admin credentials` (see `table`). Each
process holds a snapshot of the rows in memory and polls the database's
change counter about every second (`reload_interval_s`), so an issue,
rotation or revocation reaches every process within about a second, without
a restart. A rotation keeps the old secret working for a grace window
(`auth.rotation_grace_s`), so the customer can update their IdP without an
outage. `last_used_at` is recorded in the background, at most once a minute
per credential, never on the request path.

Verification is the hot path: scrypt runs in an executor in a few slots
handed out by `gateway.auth.guard` (a flood of bad passwords cannot starve
the event loop nor queue the real IdP behind it), concurrent checks of the
same secret share one hash, and successful checks are cached for `cache_ttl_s`
(an hour by default) under an HMAC of the secret (never the secret itself).
Each cache entry remembers the hash it was checked against, and a hit counts
only while the current record still accepts that hash for that org: a rotated
(past its grace) or revoked credential misses at once, while reloading for an
unrelated change leaves every other org's warm entries alone (no scrypt
stampede). Failed secrets are remembered the same way (the guard's failure
cache). When the database has been unreachable for longer than
`stale_after_s`, cached successes keep working for their lifetime but a
secret that would need a fresh check is answered 503 (StateUnavailable)
rather than judged against a snapshot that may miss a revocation.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from gateway.auth.credentials_file import CredentialFileError as _UnreadableFile
from gateway.auth.credentials_file import read_credentials_file
from gateway.auth.guard import AuthGuard, Priority, SlotsFull
from gateway.auth.hashing import (
    DEFAULT_PARAMS,
    ScryptParams,
    SecretHash,
    dummy_hash,
    hash_secret,
    matches,
)
from gateway.auth.table import CredentialTable, DuplicateCredential, Row, encode_hash
from gateway.state import StateDB, StateError, StateUnavailable
from gateway.state.db import now as db_now

log = logging.getLogger(__name__)

Kind = Literal["basic", "bearer"]

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
DEFAULT_ROTATION_GRACE_S = 86_400.0
# last_used_at is written at most this often per credential (and per process).
LAST_USED_EVERY_S = 60.0
MEMORY_URL = "sqlite:///:memory:"


class CredentialError(Exception):
    """A credential operation that cannot be done (the CLI prints the message)."""


class UnknownCredential(CredentialError):
    """No credential has that id."""


class CredentialRevoked(CredentialError):
    """The credential has been revoked and cannot be rotated."""


class CredentialFileError(CredentialError):
    """A credentials file (for `import`) cannot be read or is not ours."""


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
    # After a rotation with a grace window: until when the previous secret still works.
    previous_valid_until: str | None = None


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
    expires_at: str | None = None
    last_used_at: str | None = None
    previous_valid_until: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def token_prefix(self) -> str | None:
        """The non-secret start of a bearer token, to recognise it in the IdP's settings."""
        return f"{TOKEN_PREFIX}_{self.id}_" if self.kind == "bearer" else None

    def status(self, at: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        at = at or datetime.now(UTC)
        if self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= at:
            return "expired"
        return "active"

    def to_json(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "org_id": self.org_id, "label": self.label,
            "username": self.username, "token_prefix": self.token_prefix,
            "status": self.status(), "created_at": self.created_at,
            "rotated_at": self.rotated_at, "revoked_at": self.revoked_at,
            "expires_at": self.expires_at, "last_used_at": self.last_used_at,
            "previous_valid_until": self.previous_valid_until,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


@dataclass(frozen=True)
class _Record:
    """One credential as verification sees it: its public facts and the hashes it accepts.

    `repr` leaves the hashes out, like `Issued` leaves out the secret.
    """

    info: CredentialInfo
    secret_hash: SecretHash | None = field(repr=False)
    previous_hash: SecretHash | None = field(default=None, repr=False)
    previous_until: float | None = None  # wall-clock end of the rotation grace window
    expires: float | None = None  # wall-clock expiry (--expires)

    @property
    def active(self) -> bool:
        return self.info.active and self.secret_hash is not None

    def usable(self, wall: float) -> bool:
        return self.active and (self.expires is None or wall < self.expires)

    def hashes(self, wall: float) -> list[SecretHash]:
        """The hashes a secret may match now: the current one, and the previous in grace."""
        assert self.secret_hash is not None
        if self.previous_hash is not None and self.previous_until is not None \
                and wall < self.previous_until:
            return [self.secret_hash, self.previous_hash]
        return [self.secret_hash]

    def accepts(self, stored: SecretHash, wall: float) -> bool:
        return self.usable(wall) and stored in self.hashes(wall)

    @classmethod
    def from_row(cls, row: Row) -> _Record:
        info = CredentialInfo(
            id=row.id, kind=row.kind, org_id=row.org_id,  # type: ignore[arg-type]
            label=row.label, username=row.username, created_at=_iso(row.created_at) or "",
            rotated_at=_iso(row.rotated_at), revoked_at=_iso(row.revoked_at),
            expires_at=_iso(row.expires_at), last_used_at=_iso(row.last_used_at),
            previous_valid_until=_iso(row.previous_valid_until),
        )
        return cls(info, row.secret_hash if row.revoked_at is None else None,
                   row.previous_hash if row.revoked_at is None else None,
                   _epoch(row.previous_valid_until), _epoch(row.expires_at))


def parse_token(token: str) -> tuple[str, str] | None:
    """Split `wsg_<id>_<secret>` into (credential id, secret); None if not that shape."""
    found = _TOKEN_RE.match(token)
    return (found.group(1), found.group(2)) if found else None


def _check_org(org_id: object) -> int:
    if not isinstance(org_id, int) or isinstance(org_id, bool) or org_id <= 0:
        raise CredentialError(f"org id must be a positive integer, not {org_id!r}")
    return org_id


def _check_label(label: str | None) -> str | None:
    if label is not None and len(label) > MAX_LABEL_CHARS:
        raise CredentialError(f"label is longer than {MAX_LABEL_CHARS} characters")
    return label or None


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= datetime.now(UTC):
        raise CredentialError(f"expiry {_iso(expires_at)} is in the past")
    return expires_at.astimezone(UTC)


@dataclass(frozen=True)
class _CacheEntry:
    """A verified secret: valid until `expires` while its credential still accepts this hash."""

    credential_id: str
    org_id: int
    secret_hash: SecretHash = field(repr=False)
    expires: float


class CredentialStore:
    """Credentials bound to orgs, kept as scrypt hashes in the state database.

    `db=None` keeps them in a private in-memory database (demo mode and
    tests). The management methods (`issue_*`, `rotate`, `revoke`, `list`,
    `import_file`) are for `workstream-admin`; `verify_*` are for the request
    path and read only the in-memory snapshot, which `start()` keeps fresh.
    """

    def __init__(
        self,
        db: StateDB | None,
        *,
        params: ScryptParams = DEFAULT_PARAMS,
        cache_ttl_s: float = 3600.0,
        reload_interval_s: float = 1.0,
        stale_after_s: float = 10.0,
        rotation_grace_s: float = DEFAULT_ROTATION_GRACE_S,
        guard: AuthGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db if db is not None else StateDB(MEMORY_URL)
        self._table = CredentialTable(self.db)
        self._params = params
        self._cache_ttl_s = cache_ttl_s
        self._reload_interval_s = reload_interval_s
        self._stale_after_s = stale_after_s
        self._rotation_grace_s = rotation_grace_s
        self._guard = guard or AuthGuard()
        self._clock = clock
        self._wall = wall_clock
        self._dummy = dummy_hash(params)
        # Cache keys are HMACs under a key that never leaves this process.
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, _CacheEntry] = {}
        self._by_id: dict[str, _Record] = {}
        self._by_username: dict[str, _Record] = {}
        self._version: int | None = None
        self._generation = 0
        self._fresh_at: float | None = None  # monotonic time of the last good read (if polling)
        self._db_down = False
        self.corrupt: dict[str, str] = {}  # row id → why it can't be read
        self._used_pending: dict[str, float] = {}
        self._used_noted: dict[str, float] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._starts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[tuple[bytes, SecretHash], asyncio.Task[bool]] = {}

    @property
    def generation(self) -> int:
        """Grows whenever a credential is added, or a secret or revocation changes."""
        return self._generation

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Load the snapshot and keep it fresh in the background (idempotent, counted)."""
        self._starts += 1
        if self._refresher is not None:
            return
        await self.db.ready()
        await self.reload()
        self._fresh_at = self._clock()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def close(self) -> None:
        """Stop refreshing (after the last `start`) and write pending last_used_at."""
        self._starts = max(0, self._starts - 1)
        if self._starts or self._refresher is None:
            return
        self._refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._refresher
        self._refresher = None
        self._fresh_at = None
        with contextlib.suppress(StateError):
            await self._flush_last_used()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reload_interval_s)
            try:
                await self.refresh()
            except StateError as exc:
                if not self._db_down:
                    log.error("credentials: %s; keeping the last snapshot (cached credentials "
                              "keep working, new checks answer 503 after %ss)", exc,
                              self._stale_after_s)
                self._db_down = True
            except Exception:  # never let the refresher die: the snapshot would freeze
                log.exception("credentials refresh failed")

    async def refresh(self) -> None:
        """Reload if the change counter moved; write pending last_used_at."""
        version = await self._table.version()
        if version != self._version:
            await self.reload()
        await self._flush_last_used()
        self._fresh_at = self._clock()
        if self._db_down:
            log.info("credentials: state database reachable again")
            self._db_down = False

    async def reload(self) -> None:
        """Read every row into a new snapshot (a row that can't be read is skipped, named)."""
        version, rows, corrupt = await self._table.load()
        if self._version is not None and version < self._version:
            return  # a slower, older read (the poller racing a change made here): keep the newer
        for name, reason in corrupt.items():
            if self.corrupt.get(name) != reason:
                log.error("%s; until it is fixed, that credential keeps the state this process "
                          "last read (refused if it never read one)", reason)
        self.corrupt = corrupt
        records = {r.id: _Record.from_row(r) for r in rows}
        # A row that became unreadable keeps its last good state here (a hand edit gone
        # wrong must neither lock a customer out nor let a revoked secret back in).
        records.update({cid: self._by_id[cid] for cid in corrupt if cid in self._by_id})
        self._install(records, version)

    def _install(self, records: dict[str, _Record], version: int) -> None:
        changed = self._secrets(records) != self._secrets(self._by_id)
        self._by_id = records
        self._by_username = {r.info.username: r for r in records.values()
                             if r.info.kind == "basic" and r.info.username}
        self._version = version
        if changed:
            self._generation += 1
        # No cache clear: each entry is checked against the record's current hashes on use.

    @staticmethod
    def _secrets(records: dict[str, _Record]) -> dict:
        return {cid: (r.info.org_id, r.secret_hash, r.previous_hash, r.previous_until,
                      r.expires, r.info.revoked_at) for cid, r in records.items()}

    def _stale(self) -> bool:
        """Whether the snapshot is too old to judge a new secret (the database is down)."""
        return (self._fresh_at is not None
                and self._clock() - self._fresh_at > self._stale_after_s)

    def _note_use(self, credential_id: str) -> None:
        """Remember a use for the background writer; at most once a minute per credential."""
        wall = self._wall()
        if wall - self._used_noted.get(credential_id, float("-inf")) >= LAST_USED_EVERY_S:
            self._used_noted[credential_id] = wall
            self._used_pending[credential_id] = wall
            if len(self._used_noted) > MAX_CACHE_ENTRIES:
                self._used_noted.clear()

    async def _flush_last_used(self) -> None:
        if not self._used_pending:
            return
        pending, self._used_pending = self._used_pending, {}
        try:
            await self._table.record_use({cid: datetime.fromtimestamp(t, UTC)
                                          for cid, t in pending.items()})
        except StateError:
            self._used_pending = {**pending, **self._used_pending}
            raise

    # -- management (workstream-admin) ------------------------------------------

    async def issue_basic(self, org_id: int, label: str | None = None, *,
                          expires_at: datetime | None = None) -> Issued:
        """A new username/password for `org_id`, for the customer's Okta admin."""
        org_id, label = _check_org(org_id), _check_label(label)
        expires_at = _check_expiry(expires_at)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        cid = await self._insert_new(lambda cid: {
            "kind": "basic", "org_id": org_id, "label": label,
            "username": f"scim-{org_id}-{cid}",
            "secret_hash": encode_hash(hash_secret(password, self._params)),
            "expires_at": expires_at,
        })
        username = f"scim-{org_id}-{cid}"
        log.info("issued basic credential %s (user %s) for org %s", cid, username, org_id)
        return Issued(cid, org_id, "basic", username=username, password=password)

    async def issue_token(self, org_id: int, label: str | None = None, *,
                          expires_at: datetime | None = None) -> Issued:
        """A new long-lived bearer token for `org_id` (Entra's "Secret Token")."""
        org_id, label = _check_org(org_id), _check_label(label)
        expires_at = _check_expiry(expires_at)
        tokens: dict[str, str] = {}

        def values(cid: str) -> dict:
            tokens[cid] = self._new_token(cid)
            return {"kind": "bearer", "org_id": org_id, "label": label, "username": None,
                    "secret_hash": encode_hash(hash_secret(tokens[cid], self._params)),
                    "expires_at": expires_at}

        cid = await self._insert_new(values)
        log.info("issued bearer token %s for org %s", cid, org_id)
        return Issued(cid, org_id, "bearer", token=tokens[cid])

    async def _insert_new(self, values: Callable[[str], dict]) -> str:
        await self.db.ready()
        for _ in range(5):  # a random 48-bit id colliding twice is not going to happen
            cid = secrets.token_hex(_ID_BYTES)
            row = {"id": cid, "created_at": db_now(), **values(cid)}
            try:
                async with self.db.begin() as conn:
                    await self._table.insert(conn, [row])
            except DuplicateCredential:
                continue
            await self.reload()
            return cid
        raise CredentialError("could not find a free credential id")  # pragma: no cover

    async def rotate(self, credential_id: str, *, grace_s: float | None = None) -> Issued:
        """A new secret for an existing credential.

        The old secret keeps working for `grace_s` (default `rotation_grace_s`;
        0 cuts over at once), so the IdP can be updated without an outage. A
        Basic credential keeps its username (the admin only re-enters the
        password); a token keeps its id.
        """
        grace = self._rotation_grace_s if grace_s is None else grace_s
        if grace < 0:
            raise CredentialError("the grace window can't be negative")
        await self.db.ready()
        async with self.db.begin() as conn:
            row = await self._row(conn, credential_id)
            if row.revoked_at is not None or row.secret_hash is None:
                raise CredentialRevoked(f"credential {credential_id!r} is revoked; issue a new one")
            if row.kind == "basic":
                password = secrets.token_urlsafe(PASSWORD_BYTES)
                issued_secret = password
            else:
                issued_secret = self._new_token(row.id)
            rotated = db_now()
            until = rotated + timedelta(seconds=grace) if grace > 0 else None
            await self._table.change(
                conn, row.id, secret_hash=encode_hash(hash_secret(issued_secret, self._params)),
                previous_hash=encode_hash(row.secret_hash) if until else None,
                previous_valid_until=until, rotated_at=rotated)
        await self.reload()
        log.info("rotated credential %s of org %s (old secret valid until %s)", row.id,
                 row.org_id, _iso(until) or "now")
        if row.kind == "basic":
            return Issued(row.id, row.org_id, "basic", username=row.username,
                          password=issued_secret, previous_valid_until=_iso(until))
        return Issued(row.id, row.org_id, "bearer", token=issued_secret,
                      previous_valid_until=_iso(until))

    async def revoke(self, credential_id: str) -> bool:
        """Revoke a credential (its hashes are dropped); False if it already was.

        Works on a row that can't otherwise be read (a hand edit gone wrong), too.
        """
        await self.db.ready()
        async with self.db.begin() as conn:
            found = await self._table.status(conn, credential_id)
            if found is None:
                raise UnknownCredential(f"no credential {credential_id!r}")
            org_id, revoked = found
            if revoked:
                return False
            await self._table.change(conn, credential_id, secret_hash=None,
                                     previous_hash=None, previous_valid_until=None,
                                     revoked_at=db_now())
        await self.reload()
        log.info("revoked credential %s of org %s", credential_id, org_id)
        return True

    async def _row(self, conn, credential_id: str) -> Row:
        row = await self._table.get(conn, credential_id)
        if row is None:
            raise UnknownCredential(f"no credential {credential_id!r}")
        return row

    async def list(self) -> builtins.list[CredentialInfo]:
        """Every readable credential, revoked ones included, by org then age (see `corrupt`)."""
        await self.db.ready()
        await self.reload()
        return sorted((r.info for r in self._by_id.values()),
                      key=lambda i: (i.org_id, i.created_at, i.id))

    async def import_file(self, path: Path | str) -> tuple[builtins.list[str], builtins.list[str]]:
        """Copy a credentials.json's credentials in, hashes unchanged: (imported, already there).

        Run once when moving to the database; running it again imports nothing twice.
        """
        try:
            rows = read_credentials_file(Path(path))
        except _UnreadableFile as exc:
            raise CredentialFileError(str(exc)) from None
        await self.db.ready()
        async with self.db.begin() as conn:
            present = await self._table.ids(conn, [r.id for r in rows]) if rows else set()
            fresh = [r for r in rows if r.id not in present]
            if fresh:
                try:
                    await self._table.insert(conn, [_row_values(r) for r in fresh])
                except DuplicateCredential as exc:
                    raise CredentialError(f"a username in {path} is already taken by another "
                                          f"credential: {exc}") from None
        await self.reload()
        log.info("imported %d credential(s) from %s (%d already present)", len(fresh), path,
                 len(present))
        return [r.id for r in fresh], sorted(present)

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
        record = self._by_username.get(username)
        return await self._verify("basic", username, password, record, client)

    async def identify_bearer(self, token: str,
                              client: str | None = None) -> CredentialInfo | None:
        """The credential a bearer token is, or None (`client`, errors: as Basic).

        The id inside the token finds the one hash to check, so no scan.
        """
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
        wall = self._wall()
        # The record, if it may log in now (not revoked, not expired).
        usable = record if record is not None and record.usable(wall) else None
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None:
            # Only while the record still accepts the hash this secret matched, for the same org.
            if (usable is not None and now < hit.expires
                    and usable.info.id == hit.credential_id
                    and usable.info.org_id == hit.org_id
                    and usable.accepts(hit.secret_hash, wall)):
                self._note_use(hit.credential_id)
                return usable.info
            del self._cache[key]
        if self._stale():
            raise StateUnavailable("the credentials can't be checked: the state database has "
                                   "not answered for a while")
        guard = self._guard
        credential_id = usable.info.id if usable is not None else None
        stored = usable.secret_hash if usable is not None else None
        # Checked before the failure cache: a throttled address hears 429 whatever it sends.
        guard.check_client(client, now)
        if guard.failure_cache.seen(key, stored, now):
            guard.failed(credential_id, client, now)
            return None
        priority = guard.priority(credential_id, client, now)
        # Unknown names and revoked credentials hash against a dummy: same cost as a miss.
        # During a rotation's grace window the previous secret is checked too.
        candidates = usable.hashes(wall) if usable is not None else [self._dummy]
        matched: SecretHash | None = None
        try:
            with guard.pending(credential_id):
                for candidate in candidates:
                    if await self._hash_check(key, secret, candidate, priority):
                        matched = candidate
                        break
        except SlotsFull as full:
            if full.priority is not Priority.UNKNOWN:
                raise guard.refusal(full) from None
            # no such credential, and no idle slot to hide that in: refuse
        now = self._clock()
        if matched is None or usable is None:
            guard.failure_cache.add(key, stored, now)
            guard.failed(credential_id, client, now)
            return None
        # The snapshot may have been reloaded while we hashed: accept only if it still stands.
        current = self._by_id.get(usable.info.id)
        if current is None or not current.accepts(matched, wall):
            return None
        if len(self._cache) >= MAX_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = _CacheEntry(usable.info.id, usable.info.org_id, matched,
                                       now + self._cache_ttl_s)
        self._note_use(usable.info.id)
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

    @staticmethod
    def _new_token(credential_id: str) -> str:
        return f"{TOKEN_PREFIX}_{credential_id}_{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"


def _row_values(row: Row) -> dict:
    return {
        "id": row.id, "kind": row.kind, "org_id": row.org_id, "label": row.label,
        "username": row.username, "secret_hash": encode_hash(row.secret_hash),
        "previous_hash": None, "previous_valid_until": None, "created_at": row.created_at,
        "rotated_at": row.rotated_at, "revoked_at": row.revoked_at,
        "expires_at": row.expires_at, "last_used_at": row.last_used_at,
    }

