"""Brute-force defence for credential checks: who gets a scrypt slot, and who is refused.

A wrong password costs the gateway one scrypt (tens of ms of CPU) and the
attacker nothing, so a flood of guesses used to queue every legitimate login
behind it. The defence, all in process and all before any hashing:

- `FailureCache`: a wrong secret seen again is refused without hashing.
- `FailureScores`: decaying failure counts per credential and per client
  address. A client address is only known from a configured trusted proxy
  header (behind a load balancer every peer is the balancer, so the peer
  address would lock out every customer at once); an address over its limit
  gets `429` before any hashing.
- `HashSlots`: a few scrypt slots with short, bounded queues served by
  priority. A check of an existing credential that is not failing heavily
  (`TRUSTED`) goes before one of a heavily failing credential or address
  (`SUSPECT`), and a name that matches no credential (`UNKNOWN`) is hashed
  only when a slot is idle. A full queue refuses at once (`SlotsFull`):
  never an unbounded wait. A lockout keyed by username would let an attacker
  lock out the real IdP; here the right secret is still checked, only later.
- `FailureSummary`: failed logins make one log line per interval, not one per
  attempt (a flood must not become a log flood).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.config import AuthConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_SUMMARY_KEYS = 10_000  # distinct names/addresses counted per summary interval


class AuthRefused(Exception):
    """A check refused before hashing: `status` 429 (too many failures) or 503 (too busy)."""

    def __init__(self, status: int, retry_after: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.retry_after = retry_after
        self.detail = detail


class Priority(enum.IntEnum):
    """Order in which waiting checks get a scrypt slot (lower first)."""

    TRUSTED = 0  # an existing credential, neither it nor the client failing heavily
    SUSPECT = 1  # an existing credential, but it or the client is failing heavily
    UNKNOWN = 2  # no such credential: hashed (against a dummy) only when a slot is idle


class SlotsFull(Exception):
    """Every slot is busy and the queue for this priority is full."""

    def __init__(self, priority: Priority) -> None:
        super().__init__(f"no scrypt slot for a {priority.name} check")
        self.priority = priority


@dataclass(frozen=True)
class GuardSettings:
    """Limits of the defence; the defaults suit a 2-core worker and scrypt at ~50 ms."""

    hash_slots: int = 2
    # Checks of good-looking credentials that may wait for a slot; beyond: 503 at once.
    trusted_queue: int = 32
    # Checks of heavily failing credentials/addresses that may wait; beyond: 429 at once.
    suspect_queue: int = 2
    # Failures decay with this time constant (about "failures in the last minute").
    failure_window_s: float = 60.0
    # A credential with this many recent failures is checked after the others. One: an
    # attacker who knows N usernames then gets N checks ahead of the real IdPs, not 5N.
    credential_failure_limit: float = 1.0
    # A client address (trusted proxy header only) with this many recent failures gets 429.
    client_failure_limit: float = 20.0
    failure_cache_entries: int = 50_000
    failure_cache_ttl_s: float = 600.0
    summary_interval_s: float = 10.0

    @classmethod
    def from_config(cls, auth: AuthConfig) -> GuardSettings:
        return cls(hash_slots=auth.hash_slots, trusted_queue=auth.verify_queue,
                   credential_failure_limit=auth.credential_failure_limit,
                   client_failure_limit=auth.client_failure_limit)


class FailureScores:
    """Exponentially decaying failure counts per key, bounded in size.

    One float and one timestamp per key instead of a list of timestamps: a
    flood of a million failures costs no more memory than one.
    """

    def __init__(self, window_s: float, max_keys: int = 100_000) -> None:
        self._window_s = window_s
        self._max_keys = max_keys
        self._scores: dict[str, tuple[float, float]] = {}

    def score(self, key: str, now: float) -> float:
        found = self._scores.get(key)
        if found is None:
            return 0.0
        value, at = found
        return value * math.exp(-(now - at) / self._window_s)

    def reached(self, key: str, limit: float, now: float) -> bool:
        """Whether about `limit` failures are recent (the decay shaves a little off each)."""
        return self.score(key, now) >= limit - 0.5

    def add(self, key: str, now: float) -> float:
        value = self.score(key, now) + 1.0
        if key not in self._scores and len(self._scores) >= self._max_keys:
            self._prune(now)
        self._scores[key] = (value, now)
        return value

    def seconds_below(self, key: str, limit: float, now: float) -> int:
        """Whole seconds until `key` no longer `reached` `limit` (at least 1)."""
        value, target = self.score(key, now), limit - 0.5
        if value < target:
            return 1
        return max(1, math.ceil(self._window_s * math.log(value / target)))

    def _prune(self, now: float) -> None:
        self._scores = {k: v for k, v in self._scores.items() if self.score(k, now) >= 1.0}
        if len(self._scores) >= self._max_keys:
            self._scores.clear()


class FailureCache:
    """Secrets (as HMAC keys) that failed against a given stored hash: refused without scrypt.

    An entry counts only while the credential still has the hash it failed
    against (`None` for no credential), so a secret that becomes right, after
    an issue or rotation, is hashed again. Least recently used entries go first.
    """

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._entries: OrderedDict[bytes, tuple[object, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def seen(self, key: bytes, stored: object, now: float) -> bool:
        found = self._entries.get(key)
        if found is None:
            return False
        against, expires = found
        if now >= expires or against != stored:
            del self._entries[key]
            return False
        self._entries.move_to_end(key)
        return True

    def add(self, key: bytes, stored: object, now: float) -> None:
        self._entries[key] = (stored, now + self._ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class HashSlots:
    """`slots` concurrent hashes; waiting checks served by priority, each queue bounded.

    Only `TRUSTED` checks may take the last free slot (with more than one slot):
    however many guesses are hashing, a real login starts its hash at once
    instead of waiting for one of theirs to finish.
    """

    def __init__(self, slots: int, queue_limits: dict[Priority, int]) -> None:
        self._slots = slots
        self._limits = queue_limits
        self._busy = 0
        self._waiting: dict[Priority, deque[asyncio.Future[None]]] = {p: deque() for p in Priority}
        self.ran: Counter[str] = Counter()  # hashes run, by priority name (for benchmarks)
        self.refused: Counter[str] = Counter()  # checks refused for want of a slot

    @property
    def busy(self) -> int:
        return self._busy

    def _capacity(self, priority: Priority) -> int:
        if priority is Priority.TRUSTED or self._slots == 1:
            return self._slots
        return self._slots - 1

    async def run(self, priority: Priority, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the default executor once a slot is ours; SlotsFull if none."""
        await self._acquire(priority)
        self.ran[priority.name] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        finally:
            self._busy -= 1
            self._wake()

    async def _acquire(self, priority: Priority) -> None:
        ahead = any(self._waiting[p] for p in Priority if p <= priority)
        if self._busy < self._capacity(priority) and not ahead:
            self._busy += 1
            return
        queue = self._waiting[priority]
        if len(queue) >= self._limits.get(priority, 0):
            self.refused[priority.name] += 1
            raise SlotsFull(priority)
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter  # _wake hands the slot over: _busy already counts us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._busy -= 1  # handed a slot while being cancelled: pass it on
                self._wake()
            else:
                with contextlib.suppress(ValueError):  # _wake may have dropped it already
                    queue.remove(waiter)
            raise

    def _wake(self) -> None:
        """Hand free slots to waiters, highest priority first."""
        for priority in Priority:
            queue = self._waiting[priority]
            while queue and self._busy < self._capacity(priority):
                waiter = queue.popleft()
                if not waiter.done():
                    self._busy += 1
                    waiter.set_result(None)
            if queue:
                return  # lower priorities wait behind this one


class FailureSummary:
    """Failed logins as one log line per interval: counts, and the most tried names."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._counts: Counter[str] = Counter()
        self._names: Counter[str] = Counter()
        self._clients: Counter[str] = Counter()
        self._flush: asyncio.TimerHandle | None = None

    def record(self, kind: str, name: str, client: str | None) -> None:
        """Count one failure; the first of an interval schedules the summary line."""
        self._counts[kind] += 1
        # Bounded: a flood of distinct names must not grow memory until the next line.
        if len(self._names) < MAX_SUMMARY_KEYS or name[:64] in self._names:
            self._names[name[:64]] += 1
        if client and (len(self._clients) < MAX_SUMMARY_KEYS or client in self._clients):
            self._clients[client] += 1
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self._interval_s, self.flush)

    def flush(self) -> None:
        """Log the summary now (the timer does it; so does shutdown, to lose no count)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        total = sum(self._counts.values())
        if not total:
            return
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self._counts.items()))
        names = ", ".join(f"{name!r} x{n}" for name, n in self._names.most_common(3))
        clients = ", ".join(f"{c} x{n}" for c, n in self._clients.most_common(3)) or "unknown"
        log.warning("SCIM auth: %d failed logins in the last %.0f s (%s); most tried: %s; "
                    "from: %s", total, self._interval_s, kinds, names, clients)
        self._counts.clear()
        self._names.clear()
        self._clients.clear()


class AuthGuard:
    """The policy the credential store applies around each scrypt check."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = s = settings or GuardSettings()
        self.failure_cache = FailureCache(s.failure_cache_entries, s.failure_cache_ttl_s)
        self._credentials = FailureScores(s.failure_window_s)
        self._clients = FailureScores(s.failure_window_s)
        self._pending: Counter[str] = Counter()
        self._slots: HashSlots | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def slots(self) -> HashSlots:
        """The slots of the running loop (tests run several loops one after another)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            s = self.settings
            self._loop = loop
            self._slots = HashSlots(s.hash_slots, {Priority.TRUSTED: s.trusted_queue,
                                                   Priority.SUSPECT: s.suspect_queue,
                                                   Priority.UNKNOWN: 0})
        return self._slots

    def check_client(self, client: str | None, now: float) -> None:
        """429 for a client address over its failure limit (only a trusted-proxy address)."""
        if client is None:
            return
        limit = self.settings.client_failure_limit
        if self._clients.reached(client, limit, now):
            raise AuthRefused(429, self._clients.seconds_below(client, limit, now),
                              "Too many failed logins from this address; retry later")

    def priority(self, credential_id: str | None, client: str | None, now: float) -> Priority:
        """Where a new check queues. Another check of the same credential still pending
        makes it SUSPECT too: identical secrets share one hash, so a second distinct
        secret at once is a guess (a burst of guesses is suspect before its first fails)."""
        if credential_id is None:
            return Priority.UNKNOWN
        if self._pending[credential_id]:
            return Priority.SUSPECT
        s = self.settings
        if self._credentials.reached(credential_id, s.credential_failure_limit, now):
            return Priority.SUSPECT
        if client is not None and self._clients.reached(client, s.client_failure_limit / 2, now):
            return Priority.SUSPECT
        return Priority.TRUSTED

    @contextlib.contextmanager
    def pending(self, credential_id: str | None) -> Iterator[None]:
        """Marks a check of `credential_id` as under way (see `priority`)."""
        if credential_id is None:
            yield
            return
        self._pending[credential_id] += 1
        try:
            yield
        finally:
            self._pending[credential_id] -= 1
            if not self._pending[credential_id]:
                del self._pending[credential_id]

    def failed(self, credential_id: str | None, client: str | None, now: float) -> None:
        if credential_id is not None:
            self._credentials.add(credential_id, now)
        if client is not None:
            self._clients.add(client, now)

    @staticmethod
    def refusal(full: SlotsFull) -> AuthRefused:
        """What the caller hears when no slot is free: 503 if it looked good, else 429."""
        if full.priority is Priority.TRUSTED:
            return AuthRefused(503, 1, "Too many logins being checked; retry shortly")
        return AuthRefused(429, 1, "Too many failed logins for this credential; retry later")
