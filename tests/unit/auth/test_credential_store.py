"""Credential store: hashes only in the state database, constant-time checks, one org per
credential, rotation with a grace window, and every change reaching other processes through
the database (real SQLite and real PostgreSQL: the `state_db` fixture runs each test on both)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from gateway.auth import (
    CredentialFileError,
    CredentialRevoked,
    CredentialStore,
    ScryptParams,
    UnknownCredential,
    hashing,
)
from gateway.auth import store as store_module
from gateway.auth.guard import AuthGuard, AuthRefused, GuardSettings
from gateway.auth.store import CredentialError
from gateway.state import StateDB, StateUnavailable
from gateway.state.schema import credentials as credentials_table

# Cheap scrypt for speed; the code path is the same as with the defaults.
FAST = ScryptParams(n=2**10, r=8, p=1)


class FakeClock:
    """Monotonic time the test moves by hand (no sleeping, no timing)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    """Wall-clock time (grace windows, expiry, last use) the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScryptSpy:
    """Counts scrypt calls (and how many run at once) while still hashing for real."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.calls: list[dict] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()
        self._hold_s = hold_s
        self._real = hashlib.scrypt

    def __call__(self, password: bytes, **kwargs):
        with self._lock:
            self.calls.append(kwargs)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if self._hold_s:
                time.sleep(self._hold_s)  # widen the window so overlaps would show
            return self._real(password, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def scrypt_spy(monkeypatch: pytest.MonkeyPatch) -> ScryptSpy:
    spy = ScryptSpy()
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    return spy


def memory_store(**kwargs) -> CredentialStore:
    return CredentialStore(None, params=FAST, **kwargs)


def db_store(db: StateDB, clock: FakeClock | None = None, **kwargs) -> CredentialStore:
    """A store on the shared database, as one gateway process or one CLI run holds it."""
    if clock is not None:
        kwargs["clock"] = clock
    return CredentialStore(db, params=FAST, **kwargs)


async def rows(db: StateDB) -> list[dict]:
    async with db.begin() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(credentials_table))]


async def edit_row(db: StateDB, credential_id: str, **values) -> None:
    """A hand edit of one row, as an operator with psql would make it."""
    async with db.begin() as conn:
        await conn.execute(update(credentials_table)
                           .where(credentials_table.c.id == credential_id).values(**values))
        await db.bump(conn, "credentials")


# -- issuing and verifying -----------------------------------------------------


async def test_issued_basic_credential_verifies_to_its_org() -> None:
    store = memory_store()
    issued = await store.issue_basic(17, label="okta")
    assert issued.org_id == 17 and issued.kind == "basic"
    assert len(issued.password) >= 24
    assert await store.verify_basic(issued.username, issued.password) == 17


async def test_issued_token_carries_its_non_secret_id_and_verifies_to_its_org() -> None:
    store = memory_store()
    issued = await store.issue_token(42, label="entra")
    assert issued.token.startswith(f"wsg_{issued.credential_id}_")
    assert await store.verify_bearer(issued.token) == 42


async def test_each_org_credential_returns_only_its_own_org() -> None:
    store = memory_store()
    a, b = await store.issue_basic(1), await store.issue_basic(2)
    ta, tb = await store.issue_token(1), await store.issue_token(2)
    assert await store.verify_basic(a.username, a.password) == 1
    assert await store.verify_basic(b.username, b.password) == 2
    assert await store.verify_bearer(ta.token) == 1
    assert await store.verify_bearer(tb.token) == 2
    # One org's username with another org's password opens nothing.
    assert await store.verify_basic(a.username, b.password) is None
    assert await store.verify_basic(b.username, a.password) is None


async def test_wrong_password_is_rejected() -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    assert await store.verify_basic(issued.username, issued.password + "x") is None
    assert await store.verify_basic(issued.username, "") is None


async def test_unknown_username_costs_the_same_scrypt_as_a_wrong_password(
    scrypt_spy: ScryptSpy,
) -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    scrypt_spy.calls.clear()

    assert await store.verify_basic(issued.username, "wrong-password") is None
    wrong_password_calls = list(scrypt_spy.calls)
    scrypt_spy.calls.clear()
    assert await store.verify_basic("scim-17-000000000000", "wrong-password") is None
    unknown_user_calls = list(scrypt_spy.calls)

    assert len(wrong_password_calls) == len(unknown_user_calls) == 1
    cost = [{k: c[k] for k in ("n", "r", "p", "dklen")} for c in wrong_password_calls]
    assert cost == [{k: c[k] for k in ("n", "r", "p", "dklen")} for c in unknown_user_calls]


async def test_unknown_token_id_costs_a_scrypt_too(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    await store.issue_token(17)
    scrypt_spy.calls.clear()
    assert await store.verify_bearer("wsg_000000000000_" + "A" * 43) is None
    assert len(scrypt_spy.calls) == 1


async def test_secrets_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hashing.hmac, "compare_digest", spy)
    store = memory_store()
    basic, token = await store.issue_basic(17), await store.issue_token(17)
    assert await store.verify_basic(basic.username, basic.password) == 17
    assert await store.verify_basic(basic.username, "nope") is None
    assert await store.verify_basic("nobody", "nope") is None
    assert await store.verify_bearer(token.token) == 17
    assert len(compared) == 4


async def test_malformed_bearer_token_is_rejected() -> None:
    store = memory_store()
    issued = await store.issue_token(17)
    for bad in ("", "wsg_", issued.token.replace("wsg_", "xyz_"), issued.token + " x",
                issued.token[:-1], "A" * 2000):
        assert await store.verify_bearer(bad) is None


async def test_a_basic_credential_id_is_not_a_bearer_token() -> None:
    store = memory_store()
    basic = await store.issue_basic(17)
    fake = f"wsg_{basic.credential_id}_{basic.password}"
    assert await store.verify_bearer(fake) is None


async def test_oversized_password_is_rejected_without_hashing(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, "x" * 100_000) is None
    assert scrypt_spy.calls == []


async def test_org_id_must_be_a_positive_integer() -> None:
    store = memory_store()
    for bad in (0, -3, "17", True, 1.5):
        with pytest.raises(CredentialError):
            await store.issue_basic(bad)  # type: ignore[arg-type]


# -- what is stored and shown --------------------------------------------------


async def test_database_holds_salted_hashes_not_secrets(state_db: StateDB) -> None:
    store = db_store(state_db)
    basic = await store.issue_basic(17, label="okta")
    token = await store.issue_token(17, label="entra")
    other = await store.issue_basic(18)

    stored = await rows(state_db)
    text = repr(stored)
    assert basic.password not in text
    assert token.token not in text
    assert token.token.rsplit("_", 1)[-1] not in text
    hashes = [json.loads(r["secret_hash"]) for r in stored]
    assert all(h["alg"] == "scrypt" and {"n", "r", "p", "salt", "hash"} <= h.keys()
               for h in hashes)
    assert len({h["salt"] for h in hashes}) == 3  # a salt per credential
    assert {r["org_id"] for r in stored} == {17, 18}
    assert other.username in text  # usernames are not secret


async def test_default_scrypt_cost_is_recorded_with_each_hash(state_db: StateDB) -> None:
    issued = await CredentialStore(state_db).issue_basic(17)
    stored = json.loads((await rows(state_db))[0]["secret_hash"])
    assert (stored["n"], stored["r"], stored["p"]) == (2**14, 8, 1)
    reader = CredentialStore(state_db)
    await reader.reload()
    assert await reader.verify_basic(issued.username, issued.password) == 17


async def test_store_round_trips_through_the_database(state_db: StateDB) -> None:
    writer = db_store(state_db)
    basic, token = await writer.issue_basic(17, "okta"), await writer.issue_token(18, "entra")

    reader = db_store(state_db)
    await reader.reload()
    assert await reader.verify_basic(basic.username, basic.password) == 17
    assert await reader.verify_bearer(token.token) == 18
    assert await reader.list() == await writer.list()


async def test_list_shows_no_secret_and_no_hash() -> None:
    store = memory_store()
    basic = await store.issue_basic(17, label="okta")
    token = await store.issue_token(17)
    infos = {i.id: i for i in await store.list()}
    assert infos.keys() == {basic.credential_id, token.credential_id}
    dumped = repr(list(infos.values())) + json.dumps([i.to_json() for i in infos.values()])
    assert basic.password not in dumped and token.token not in dumped
    assert not any("hash" in key for i in infos.values() for key in vars(i))
    assert infos[basic.credential_id].username == basic.username
    assert infos[basic.credential_id].label == "okta"
    assert infos[token.credential_id].token_prefix == f"wsg_{token.credential_id}_"


async def test_issued_repr_leaves_the_secret_out() -> None:
    store = memory_store()
    basic, token = await store.issue_basic(17), await store.issue_token(17)
    assert basic.password not in repr(basic)
    assert token.token not in repr(token)


async def test_two_writers_never_lose_each_others_credentials(state_db: StateDB) -> None:
    first, second = db_store(state_db), db_store(state_db)
    a, b = await asyncio.gather(first.issue_basic(1), second.issue_basic(2))
    assert {i.id for i in await db_store(state_db).list()} == {a.credential_id, b.credential_id}


# -- revocation and rotation ---------------------------------------------------


async def test_revoked_credential_is_rejected_even_after_a_cached_success() -> None:
    store = memory_store()
    basic, token = await store.issue_basic(17), await store.issue_token(17)
    assert await store.verify_basic(basic.username, basic.password) == 17  # now cached
    assert await store.verify_bearer(token.token) == 17
    assert await store.revoke(basic.credential_id) is True
    assert await store.revoke(token.credential_id) is True
    assert await store.verify_basic(basic.username, basic.password) is None
    assert await store.verify_bearer(token.token) is None
    assert await store.revoke(basic.credential_id) is False  # already revoked
    assert [i.active for i in await store.list()] == [False, False]


async def test_rotated_password_replaces_the_old_one() -> None:
    store = memory_store()
    old = await store.issue_basic(17)
    assert await store.verify_basic(old.username, old.password) == 17
    new = await store.rotate(old.credential_id, grace_s=0)
    assert new.username == old.username and new.password != old.password
    assert await store.verify_basic(old.username, old.password) is None
    assert await store.verify_basic(new.username, new.password) == 17
    assert (await store.list())[0].rotated_at is not None


async def test_rotated_token_replaces_the_old_one() -> None:
    store = memory_store()
    old = await store.issue_token(17)
    assert await store.verify_bearer(old.token) == 17
    new = await store.rotate(old.credential_id, grace_s=0)
    assert new.token.startswith(f"wsg_{old.credential_id}_") and new.token != old.token
    assert await store.verify_bearer(old.token) is None
    assert await store.verify_bearer(new.token) == 17


async def test_unknown_or_revoked_credential_cannot_be_rotated_or_revoked() -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    with pytest.raises(UnknownCredential):
        await store.rotate("000000000000")
    with pytest.raises(UnknownCredential):
        await store.revoke("000000000000")
    await store.revoke(issued.credential_id)
    with pytest.raises(CredentialRevoked):
        await store.rotate(issued.credential_id)


async def test_rotation_keeps_the_old_secret_working_through_the_grace_window(
    state_db: StateDB, wall: WallClock,
) -> None:
    cli = db_store(state_db, wall_clock=wall, rotation_grace_s=3600)
    old_basic, old_token = await cli.issue_basic(17), await cli.issue_token(17)
    gateway = db_store(state_db, wall_clock=wall)
    await gateway.reload()
    assert await gateway.verify_basic(old_basic.username, old_basic.password) == 17  # cached
    new_basic = await cli.rotate(old_basic.credential_id)
    new_token = await cli.rotate(old_token.credential_id)
    assert new_basic.previous_valid_until is not None
    await gateway.refresh()
    # Within the window both secrets open the door, cached or not.
    assert await gateway.verify_basic(old_basic.username, old_basic.password) == 17
    assert await gateway.verify_basic(new_basic.username, new_basic.password) == 17
    assert await gateway.verify_bearer(old_token.token) == 17
    assert await gateway.verify_bearer(new_token.token) == 17
    wall.advance(3601)
    assert await gateway.verify_basic(old_basic.username, old_basic.password) is None
    assert await gateway.verify_bearer(old_token.token) is None
    assert await gateway.verify_basic(new_basic.username, new_basic.password) == 17
    assert await gateway.verify_bearer(new_token.token) == 17


async def test_rotate_now_cuts_the_old_secret_off_at_once(state_db: StateDB) -> None:
    cli = db_store(state_db)  # default grace: a day
    old = await cli.issue_basic(17)
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic(old.username, old.password) == 17
    new = await cli.rotate(old.credential_id, grace_s=0)
    assert new.previous_valid_until is None
    await gateway.refresh()
    assert await gateway.verify_basic(old.username, old.password) is None
    assert await gateway.verify_basic(new.username, new.password) == 17


async def test_revoking_during_a_grace_window_stops_both_secrets(state_db: StateDB) -> None:
    cli = db_store(state_db)
    old = await cli.issue_token(17)
    new = await cli.rotate(old.credential_id)
    await cli.revoke(old.credential_id)
    assert await cli.verify_bearer(old.token) is None
    assert await cli.verify_bearer(new.token) is None


async def test_an_expired_credential_is_refused_and_listed_as_expired(
    state_db: StateDB, wall: WallClock,
) -> None:
    cli = db_store(state_db, wall_clock=wall)
    issued = await cli.issue_basic(17, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert await cli.verify_basic(issued.username, issued.password) == 17  # cached now
    wall.advance(3601)
    assert await cli.verify_basic(issued.username, issued.password) is None
    [info] = await cli.list()
    assert info.expires_at is not None
    assert info.status(datetime.now(UTC) + timedelta(hours=2)) == "expired"
    with pytest.raises(CredentialError, match="in the past"):
        await cli.issue_basic(17, expires_at=datetime.now(UTC) - timedelta(seconds=1))


async def test_last_use_is_written_in_the_background_at_most_once_a_minute(
    state_db: StateDB, wall: WallClock,
) -> None:
    cli = db_store(state_db)
    issued = await cli.issue_basic(17)
    gateway = db_store(state_db, wall_clock=wall)
    await gateway.reload()
    for _ in range(3):
        assert await gateway.verify_basic(issued.username, issued.password) == 17
    # Nothing written on the request path...
    assert (await rows(state_db))[0]["last_used_at"] is None
    generation = gateway.generation
    await gateway.refresh()  # ... but by the background refresher
    first = (await rows(state_db))[0]["last_used_at"]
    assert first is not None
    assert gateway.generation == generation  # a use is not a change of credentials
    await edit_row(state_db, issued.credential_id, last_used_at=None)
    wall.advance(30)
    assert await gateway.verify_basic(issued.username, issued.password) == 17
    await gateway.refresh()
    assert (await rows(state_db))[0]["last_used_at"] is None  # not again within the minute
    wall.advance(31)
    assert await gateway.verify_basic(issued.username, issued.password) == 17
    await gateway.refresh()
    assert (await rows(state_db))[0]["last_used_at"] is not None
    assert [i.last_used_at for i in await cli.list()] != [None]


async def test_generation_grows_with_every_change_of_credentials(state_db: StateDB) -> None:
    cli = db_store(state_db)
    gateway = db_store(state_db)
    await gateway.reload()
    seen = [gateway.generation]
    issued = await cli.issue_basic(17)
    for change in (lambda: cli.rotate(issued.credential_id),
                   lambda: cli.revoke(issued.credential_id),
                   lambda: cli.issue_token(18)):
        await gateway.refresh()
        seen.append(gateway.generation)
        await change()
    await gateway.refresh()
    seen.append(gateway.generation)
    assert seen == sorted(set(seen)), seen  # strictly increasing
    await gateway.refresh()
    assert gateway.generation == seen[-1]  # nothing changed, nothing counted


async def test_revocation_by_another_process_takes_effect_after_refresh(
    state_db: StateDB,
) -> None:
    cli = db_store(state_db)
    basic, token = await cli.issue_basic(17), await cli.issue_token(17)
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic(basic.username, basic.password) == 17  # cached now
    assert await gateway.verify_bearer(token.token) == 17

    await db_store(state_db).revoke(basic.credential_id)  # a separate CLI run
    await db_store(state_db).revoke(token.credential_id)
    # The request path reads only the snapshot ...
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    await gateway.refresh()
    # ... and after the refresh the cached success does not outlive revocation.
    assert await gateway.verify_basic(basic.username, basic.password) is None
    assert await gateway.verify_bearer(token.token) is None


async def test_a_running_gateway_sees_a_revocation_by_itself(state_db: StateDB) -> None:
    cli = db_store(state_db)
    issued = await cli.issue_token(17)
    gateway = db_store(state_db, reload_interval_s=0.05)
    await gateway.start()
    try:
        assert await gateway.verify_bearer(issued.token) == 17
        await cli.revoke(issued.credential_id)
        for _ in range(200):  # polled, not slept-then-asserted
            if await gateway.verify_bearer(issued.token) is None:
                break
            await asyncio.sleep(0.02)
        assert await gateway.verify_bearer(issued.token) is None
    finally:
        await gateway.close()


async def test_rotation_by_another_process_takes_effect_after_refresh(state_db: StateDB) -> None:
    old = await db_store(state_db).issue_basic(17)
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic(old.username, old.password) == 17
    new = await db_store(state_db).rotate(old.credential_id, grace_s=0)
    await gateway.refresh()
    assert await gateway.verify_basic(old.username, old.password) is None
    assert await gateway.verify_basic(new.username, new.password) == 17


async def test_new_credential_from_another_process_is_picked_up(state_db: StateDB) -> None:
    gateway = db_store(state_db)
    await gateway.reload()  # nothing yet: nobody gets in
    issued = await db_store(state_db).issue_token(5)
    assert await gateway.verify_bearer(issued.token) is None
    await gateway.refresh()
    assert await gateway.verify_bearer(issued.token) == 5


async def test_a_hand_edited_row_is_named_and_keeps_its_last_good_state(
    state_db: StateDB, caplog: pytest.LogCaptureFixture,
) -> None:
    cli = db_store(state_db)
    broken, fine = await cli.issue_basic(17), await cli.issue_basic(18)
    gateway = db_store(state_db)
    await gateway.reload()
    await edit_row(state_db, broken.credential_id, secret_hash='{"alg": "md5"}')
    with caplog.at_level(logging.ERROR, logger="gateway.auth.store"):
        await gateway.refresh()
    assert any(broken.credential_id in r.getMessage() for r in caplog.records)
    assert broken.credential_id in gateway.corrupt
    assert await gateway.verify_basic(broken.username, broken.password) == 17
    assert await gateway.verify_basic(fine.username, fine.password) == 18
    # A process that never read it refuses it, and still serves the rest.
    fresh = db_store(state_db)
    await fresh.reload()
    assert await fresh.verify_basic(broken.username, broken.password) is None
    assert await fresh.verify_basic(fine.username, fine.password) == 18
    assert [i.id for i in await fresh.list()] == [fine.credential_id]
    # Support can still revoke it, and then it is refused everywhere.
    assert await db_store(state_db).revoke(broken.credential_id) is True
    await gateway.refresh()
    assert await gateway.verify_basic(broken.username, broken.password) is None


async def test_while_the_database_is_unreachable_only_cached_secrets_work(
    clock: FakeClock,
) -> None:
    store = memory_store(clock=clock, stale_after_s=10, reload_interval_s=3600, cache_ttl_s=60)
    cached, other = await store.issue_basic(17), await store.issue_basic(18)
    await store.start()
    try:
        assert await store.verify_basic(cached.username, cached.password) == 17
        clock.advance(11)  # no refresh has succeeded for longer than stale_after_s
        assert await store.verify_basic(cached.username, cached.password) == 17
        with pytest.raises(StateUnavailable):
            await store.verify_basic(other.username, other.password)
        await store.refresh()  # the database answers again
        assert await store.verify_basic(other.username, other.password) == 18
    finally:
        await store.close()


# -- hot path ------------------------------------------------------------------


async def test_repeat_verification_is_served_from_cache_until_ttl(
    scrypt_spy: ScryptSpy, clock: FakeClock
) -> None:
    store = memory_store(clock=clock, cache_ttl_s=60)
    issued = await store.issue_basic(17)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert len(scrypt_spy.calls) == 1
    clock.advance(61)
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert len(scrypt_spy.calls) == 2


async def test_a_wrong_secret_seen_again_costs_no_scrypt(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    basic, token = await store.issue_basic(17), await store.issue_token(17)
    scrypt_spy.calls.clear()
    for _ in range(3):
        assert await store.verify_basic(basic.username, "wrong") is None
        assert await store.verify_bearer(token.token[:-4] + "AAAA") is None
        assert await store.verify_basic("nobody", "wrong") is None
    assert len(scrypt_spy.calls) == 3  # one per distinct wrong secret, not one per attempt


async def test_a_remembered_failure_does_not_outlive_the_hash_it_failed_against(
    scrypt_spy: ScryptSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    assert await store.verify_basic(issued.username, "next-password") is None
    # Rotation happens to pick the secret that failed a moment ago.
    monkeypatch.setattr(store_module.secrets, "token_urlsafe", lambda _n: "next-password")
    await store.rotate(issued.credential_id)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, "next-password") == 17
    assert len(scrypt_spy.calls) == 1


async def test_identical_concurrent_verifications_share_one_hash(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = await store.issue_token(17)
    scrypt_spy.calls.clear()
    results = await asyncio.gather(*(store.verify_bearer(issued.token) for _ in range(10)))
    assert results == [17] * 10
    assert len(scrypt_spy.calls) == 1


async def test_flood_of_bad_passwords_runs_few_hashes_and_refuses_the_excess_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.02)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=2, suspect_queue=2,
                                                       credential_failure_limit=3)))
    issued = await store.issue_basic(17)
    for i in range(3):  # the credential is now failing heavily
        assert await store.verify_basic(issued.username, f"warm-up-{i}") is None
    spy.calls.clear()
    results = await asyncio.gather(
        *(store.verify_basic(issued.username, f"guess-{i}") for i in range(12)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, AuthRefused)]
    assert [r for r in results if not isinstance(r, AuthRefused)] == [None] * len(spy.calls)
    # One slot (the other is kept for logins that look real), two waiting; the rest
    # refused unhashed.
    assert len(spy.calls) == 3
    assert {(r.status, r.retry_after) for r in refused} == {(429, 1)}
    assert spy.max_running == 1


async def test_a_real_login_hashes_at_once_beside_the_guesses_already_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.05)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=2, suspect_queue=4)))
    attacked, idp = await store.issue_basic(17), await store.issue_basic(18)
    assert await store.verify_basic(attacked.username, "warm-up") is None
    spy.calls.clear()
    guesses = [asyncio.ensure_future(store.verify_basic(attacked.username, f"guess-{i}"))
               for i in range(4)]
    await asyncio.sleep(0.01)  # one guess hashing, three waiting
    assert await store.verify_basic(idp.username, idp.password) == 18
    assert await asyncio.gather(*guesses) == [None] * 4
    idp_salt = store._by_id[idp.credential_id].secret_hash.salt
    assert [call["salt"] for call in spy.calls].index(idp_salt) == 1
    assert spy.max_running == 2


async def test_right_password_gets_a_slot_before_queued_guesses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.02)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=1, suspect_queue=8,
                                                       credential_failure_limit=2)))
    attacked, idp = await store.issue_basic(17), await store.issue_basic(18)
    for i in range(2):
        assert await store.verify_basic(attacked.username, f"warm-up-{i}") is None
    spy.calls.clear()
    guesses = [asyncio.ensure_future(store.verify_basic(attacked.username, f"guess-{i}"))
               for i in range(6)]
    await asyncio.sleep(0)  # the guesses take the slot and queue up first
    assert await store.verify_basic(idp.username, idp.password) == 18
    assert await asyncio.gather(*guesses) == [None] * 6
    hashed = [call["salt"] for call in spy.calls]
    idp_salt = store._by_id[idp.credential_id].secret_hash.salt
    assert hashed.index(idp_salt) == 1  # right after the guess already running


async def test_the_right_secret_of_an_attacked_username_still_gets_in(
    scrypt_spy: ScryptSpy,
) -> None:
    store = memory_store(guard=AuthGuard(GuardSettings(credential_failure_limit=2)))
    issued = await store.issue_basic(17)
    for i in range(20):
        assert await store.verify_basic(issued.username, f"guess-{i}") is None
    assert await store.verify_basic(issued.username, issued.password) == 17


async def test_unknown_names_are_refused_unhashed_while_every_slot_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.05)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=1)))
    issued = await store.issue_basic(17)
    spy.calls.clear()
    busy = asyncio.ensure_future(store.verify_basic(issued.username, issued.password))
    await asyncio.sleep(0)
    assert await store.verify_basic("nobody", "x") is None
    assert await store.verify_bearer("wsg_000000000000_" + "A" * 43) is None
    assert await busy == 17
    assert len(spy.calls) == 1  # only the real credential was hashed


async def test_a_full_queue_of_good_looking_checks_answers_503_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.02)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=1, trusted_queue=2)))
    creds = [await store.issue_basic(org) for org in range(1, 6)]
    spy.calls.clear()
    results = await asyncio.gather(*(store.verify_basic(c.username, c.password)
                                     for c in creds), return_exceptions=True)
    assert results[:3] == [1, 2, 3]
    assert [(r.status, r.retry_after) for r in results[3:]] == [(503, 1), (503, 1)]
    assert len(spy.calls) == 3


async def test_an_address_vouched_for_by_a_proxy_is_throttled_after_its_failures() -> None:
    store = memory_store(guard=AuthGuard(GuardSettings(client_failure_limit=3)))
    issued = await store.issue_basic(17)
    for i in range(3):
        assert await store.verify_basic(issued.username, f"guess-{i}", "203.0.113.9") is None
    with pytest.raises(AuthRefused) as refused:
        await store.verify_basic(issued.username, issued.password, "203.0.113.9")
    assert refused.value.status == 429 and refused.value.retry_after >= 1
    # Another address, and a caller with no vouched-for address, are not affected.
    assert await store.verify_basic(issued.username, issued.password, "198.51.100.7") == 17


async def test_unrelated_change_keeps_warm_credentials_cached(
    state_db: StateDB, scrypt_spy: ScryptSpy
) -> None:
    cli = db_store(state_db)
    basic, token = await cli.issue_basic(17), await cli.issue_token(18)
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    assert await gateway.verify_bearer(token.token) == 18

    # Support issues and revokes credentials of other orgs; the gateway reloads.
    other = await db_store(state_db).issue_token(99)
    await db_store(state_db).revoke(other.credential_id)
    scrypt_spy.calls.clear()  # issuing hashed the new secret; count only the checks below
    await gateway.refresh()
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    assert await gateway.verify_bearer(token.token) == 18
    assert scrypt_spy.calls == []  # still warm: no org pays scrypt for another's change


async def test_unrelated_issue_in_the_same_store_keeps_the_cache(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = await store.issue_basic(17)
    assert await store.verify_basic(issued.username, issued.password) == 17
    await store.issue_basic(18)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert scrypt_spy.calls == []


async def test_cached_secret_is_refused_at_once_after_rotation_or_revocation_elsewhere(
    state_db: StateDB, scrypt_spy: ScryptSpy
) -> None:
    cli = db_store(state_db)
    rotated, revoked = await cli.issue_basic(17), await cli.issue_token(17)
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic(rotated.username, rotated.password) == 17  # cached
    assert await gateway.verify_bearer(revoked.token) == 17  # cached
    new = await db_store(state_db).rotate(rotated.credential_id, grace_s=0)
    await db_store(state_db).revoke(revoked.credential_id)
    await gateway.refresh()
    assert await gateway.verify_basic(rotated.username, rotated.password) is None
    assert await gateway.verify_bearer(revoked.token) is None
    assert await gateway.verify_basic(new.username, new.password) == 17


# -- import of a credentials.json ---------------------------------------------


def _legacy_file(path, *records: dict) -> None:
    path.write_text(json.dumps({"format": "workstream-scim-credentials", "version": 1,
                                "credentials": list(records)}))


def _legacy_record(cid: str, secret: str, kind: str = "basic", org_id: int = 17,
                   **hash_changes) -> dict:
    secret_hash = hashing.hash_secret(secret, FAST).to_json()
    secret_hash.update(hash_changes)
    return {"id": cid, "kind": kind, "org_id": org_id, "label": "okta",
            "username": f"scim-{org_id}-{cid}" if kind == "basic" else None,
            "created_at": "2026-01-02T03:04:05+00:00", "rotated_at": None,
            "revoked_at": None, "hash": secret_hash}


async def test_import_keeps_every_issued_secret_working(state_db: StateDB, tmp_path) -> None:
    path = tmp_path / "credentials.json"
    token = "wsg_00000000000b_" + "T" * 43
    revoked = _legacy_record("00000000000c", "gone")
    revoked.update(revoked_at="2026-02-01T00:00:00+00:00", hash=None)
    _legacy_file(path, _legacy_record("00000000000a", "pass-word"),
                 _legacy_record("00000000000b", token, kind="bearer", org_id=18), revoked)
    store = db_store(state_db)
    imported, present = await store.import_file(path)
    assert sorted(imported) == ["00000000000a", "00000000000b", "00000000000c"]
    assert present == []
    gateway = db_store(state_db)
    await gateway.reload()
    assert await gateway.verify_basic("scim-17-00000000000a", "pass-word") == 17
    assert await gateway.verify_bearer(token) == 18
    infos = {i.id: i for i in await gateway.list()}
    assert infos["00000000000c"].revoked_at is not None
    assert infos["00000000000a"].created_at == "2026-01-02T03:04:05+00:00"
    # Once only: a second run imports nothing twice.
    assert await store.import_file(path) == ([], sorted(imported))
    assert len(await rows(state_db)) == 3


@pytest.mark.parametrize("changes", [
    {"n": 3},  # not a power of two: scrypt would raise inside the executor (a 500)
    {"n": 1},
    {"n": 0},
    {"n": -1024},
    {"r": 0},
    {"p": 0},
    {"n": 1024.0},
    {"n": True},
    {"n": "1024"},
    {"n": 2**30},  # 1 TiB of memory per check
    {"n": 2**14, "r": 8, "p": 64},  # 1 GiB
    {"hash": ""},  # scrypt refuses a zero-length key
])
async def test_bad_scrypt_parameters_are_refused_on_import(tmp_path, changes) -> None:
    path = tmp_path / "credentials.json"
    _legacy_file(path, _legacy_record("00000000000a", "pw", **changes))
    store = memory_store()
    with pytest.raises(CredentialFileError, match="not a valid credentials file"):
        await store.import_file(path)
    assert await store.list() == []


async def test_an_unreadable_file_is_refused_on_import(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    with pytest.raises(CredentialFileError, match="not a valid credentials file"):
        await memory_store().import_file(path)
    with pytest.raises(CredentialFileError, match="cannot read"):
        await memory_store().import_file(tmp_path / "missing.json")


async def test_bad_scrypt_parameters_in_a_row_keep_the_last_good_state(
    state_db: StateDB,
) -> None:
    issued = await db_store(state_db).issue_basic(17)
    gateway = db_store(state_db)
    await gateway.reload()
    [row] = await rows(state_db)
    bad = json.loads(row["secret_hash"])
    bad["n"] = 3
    await edit_row(state_db, issued.credential_id, secret_hash=json.dumps(bad))
    await gateway.refresh()
    assert await gateway.verify_basic(issued.username, issued.password) == 17


async def test_the_largest_allowed_scrypt_cost_still_loads(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    _legacy_file(path, _legacy_record("00000000000a", "pw", n=2**17, r=8, p=1))  # 128 MiB
    store = memory_store()
    await store.import_file(path)
    assert len(await store.list()) == 1


async def test_stored_records_and_hashes_keep_salt_and_key_out_of_their_repr(
    state_db: StateDB,
) -> None:
    await db_store(state_db).issue_basic(17)
    stored = json.loads((await rows(state_db))[0]["secret_hash"])
    store = db_store(state_db)
    await store.reload()
    record = next(iter(store._by_id.values()))
    secret_hash = record.secret_hash
    for text in (repr(record), repr(secret_hash), repr(store._by_username)):
        assert stored["salt"] not in text and stored["hash"] not in text
        assert repr(secret_hash.salt) not in text and repr(secret_hash.key) not in text
    assert record.info.username in repr(record)  # the public facts are still shown
