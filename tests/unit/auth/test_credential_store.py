"""Credential store: hashes only on disk, constant-time checks, one org per credential,
revocation and rotation reaching other processes through the file."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import stat
import threading
import time

import pytest

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
def scrypt_spy(monkeypatch: pytest.MonkeyPatch) -> ScryptSpy:
    spy = ScryptSpy()
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    return spy


def memory_store(**kwargs) -> CredentialStore:
    return CredentialStore(None, params=FAST, **kwargs)


def file_store(path, clock: FakeClock, **kwargs) -> CredentialStore:
    return CredentialStore(path, params=FAST, clock=clock, **kwargs)


# -- issuing and verifying -----------------------------------------------------


async def test_issued_basic_credential_verifies_to_its_org() -> None:
    store = memory_store()
    issued = store.issue_basic(17, label="okta")
    assert issued.org_id == 17 and issued.kind == "basic"
    assert len(issued.password) >= 24
    assert await store.verify_basic(issued.username, issued.password) == 17


async def test_issued_token_carries_its_non_secret_id_and_verifies_to_its_org() -> None:
    store = memory_store()
    issued = store.issue_token(42, label="entra")
    assert issued.token.startswith(f"wsg_{issued.credential_id}_")
    assert await store.verify_bearer(issued.token) == 42


async def test_each_org_credential_returns_only_its_own_org() -> None:
    store = memory_store()
    a, b = store.issue_basic(1), store.issue_basic(2)
    ta, tb = store.issue_token(1), store.issue_token(2)
    assert await store.verify_basic(a.username, a.password) == 1
    assert await store.verify_basic(b.username, b.password) == 2
    assert await store.verify_bearer(ta.token) == 1
    assert await store.verify_bearer(tb.token) == 2
    # One org's username with another org's password opens nothing.
    assert await store.verify_basic(a.username, b.password) is None
    assert await store.verify_basic(b.username, a.password) is None


async def test_wrong_password_is_rejected() -> None:
    store = memory_store()
    issued = store.issue_basic(17)
    assert await store.verify_basic(issued.username, issued.password + "x") is None
    assert await store.verify_basic(issued.username, "") is None


async def test_unknown_username_costs_the_same_scrypt_as_a_wrong_password(
    scrypt_spy: ScryptSpy,
) -> None:
    store = memory_store()
    issued = store.issue_basic(17)
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
    store.issue_token(17)
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
    basic, token = store.issue_basic(17), store.issue_token(17)
    assert await store.verify_basic(basic.username, basic.password) == 17
    assert await store.verify_basic(basic.username, "nope") is None
    assert await store.verify_basic("nobody", "nope") is None
    assert await store.verify_bearer(token.token) == 17
    assert len(compared) == 4


async def test_malformed_bearer_token_is_rejected() -> None:
    store = memory_store()
    issued = store.issue_token(17)
    for bad in ("", "wsg_", issued.token.replace("wsg_", "xyz_"), issued.token + " x",
                issued.token[:-1], "A" * 2000):
        assert await store.verify_bearer(bad) is None


async def test_a_basic_credential_id_is_not_a_bearer_token() -> None:
    store = memory_store()
    basic = store.issue_basic(17)
    fake = f"wsg_{basic.credential_id}_{basic.password}"
    assert await store.verify_bearer(fake) is None


async def test_oversized_password_is_rejected_without_hashing(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = store.issue_basic(17)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, "x" * 100_000) is None
    assert scrypt_spy.calls == []


def test_org_id_must_be_a_positive_integer() -> None:
    store = memory_store()
    for bad in (0, -3, "17", True, 1.5):
        with pytest.raises(CredentialError):
            store.issue_basic(bad)  # type: ignore[arg-type]


# -- what is stored and shown --------------------------------------------------


async def test_file_holds_salted_hashes_not_secrets(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "credentials.json"
    store = file_store(path, clock)
    basic = store.issue_basic(17, label="okta")
    token = store.issue_token(17, label="entra")
    other = store.issue_basic(18)

    text = path.read_text()
    assert basic.password not in text
    assert token.token not in text
    assert token.token.rsplit("_", 1)[-1] not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    records = json.loads(text)["credentials"]
    hashes = [r["hash"] for r in records]
    assert all(h["alg"] == "scrypt" and {"n", "r", "p", "salt", "hash"} <= h.keys()
               for h in hashes)
    assert len({h["salt"] for h in hashes}) == 3  # a salt per credential
    assert {r["org_id"] for r in records} == {17, 18}
    assert other.username in text  # usernames are not secret
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]  # no temp files left


async def test_default_scrypt_cost_is_recorded_with_each_hash(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    issued = CredentialStore(path).issue_basic(17)
    stored = json.loads(path.read_text())["credentials"][0]["hash"]
    assert (stored["n"], stored["r"], stored["p"]) == (2**14, 8, 1)
    assert await CredentialStore(path).verify_basic(issued.username, issued.password) == 17


async def test_store_round_trips_through_the_file(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "credentials.json"
    writer = file_store(path, clock)
    basic, token = writer.issue_basic(17, "okta"), writer.issue_token(18, "entra")

    reader = file_store(path, clock)
    assert await reader.verify_basic(basic.username, basic.password) == 17
    assert await reader.verify_bearer(token.token) == 18
    assert reader.list() == writer.list()


def test_list_shows_no_secret_and_no_hash() -> None:
    store = memory_store()
    basic = store.issue_basic(17, label="okta")
    token = store.issue_token(17)
    infos = {i.id: i for i in store.list()}
    assert infos.keys() == {basic.credential_id, token.credential_id}
    dumped = repr(list(infos.values()))
    assert basic.password not in dumped and token.token not in dumped
    assert not any("hash" in vars(i) for i in infos.values())
    assert infos[basic.credential_id].username == basic.username
    assert infos[basic.credential_id].label == "okta"
    assert infos[token.credential_id].token_prefix == f"wsg_{token.credential_id}_"


def test_issued_repr_leaves_the_secret_out() -> None:
    store = memory_store()
    basic, token = store.issue_basic(17), store.issue_token(17)
    assert basic.password not in repr(basic)
    assert token.token not in repr(token)


def test_two_writers_never_lose_each_others_credentials(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "credentials.json"
    first, second = file_store(path, clock), file_store(path, clock)  # both loaded empty
    a = first.issue_basic(1)
    b = second.issue_basic(2)  # re-reads under the lock, so `a` survives
    assert {i.id for i in file_store(path, clock).list()} == {a.credential_id, b.credential_id}


def test_unreadable_file_is_refused_at_start(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    with pytest.raises(CredentialFileError):
        CredentialStore(path)


# -- revocation and rotation ---------------------------------------------------


async def test_revoked_credential_is_rejected_even_after_a_cached_success() -> None:
    store = memory_store()
    basic, token = store.issue_basic(17), store.issue_token(17)
    assert await store.verify_basic(basic.username, basic.password) == 17  # now cached
    assert await store.verify_bearer(token.token) == 17
    assert store.revoke(basic.credential_id) is True
    assert store.revoke(token.credential_id) is True
    assert await store.verify_basic(basic.username, basic.password) is None
    assert await store.verify_bearer(token.token) is None
    assert store.revoke(basic.credential_id) is False  # already revoked
    assert [i.active for i in store.list()] == [False, False]


async def test_rotated_password_replaces_the_old_one() -> None:
    store = memory_store()
    old = store.issue_basic(17)
    assert await store.verify_basic(old.username, old.password) == 17
    new = store.rotate(old.credential_id)
    assert new.username == old.username and new.password != old.password
    assert await store.verify_basic(old.username, old.password) is None
    assert await store.verify_basic(new.username, new.password) == 17
    assert store.list()[0].rotated_at is not None


async def test_rotated_token_replaces_the_old_one() -> None:
    store = memory_store()
    old = store.issue_token(17)
    assert await store.verify_bearer(old.token) == 17
    new = store.rotate(old.credential_id)
    assert new.token.startswith(f"wsg_{old.credential_id}_") and new.token != old.token
    assert await store.verify_bearer(old.token) is None
    assert await store.verify_bearer(new.token) == 17


def test_unknown_or_revoked_credential_cannot_be_rotated_or_revoked() -> None:
    store = memory_store()
    issued = store.issue_basic(17)
    with pytest.raises(UnknownCredential):
        store.rotate("000000000000")
    with pytest.raises(UnknownCredential):
        store.revoke("000000000000")
    store.revoke(issued.credential_id)
    with pytest.raises(CredentialRevoked):
        store.rotate(issued.credential_id)


async def test_revocation_by_another_process_takes_effect_after_reload(
    tmp_path, clock: FakeClock
) -> None:
    path = tmp_path / "credentials.json"
    cli = file_store(path, clock)
    basic, token = cli.issue_basic(17), cli.issue_token(17)
    gateway = file_store(path, clock)
    assert await gateway.verify_basic(basic.username, basic.password) == 17  # cached now
    assert await gateway.verify_bearer(token.token) == 17

    file_store(path, clock).revoke(basic.credential_id)  # a separate CLI run
    file_store(path, clock).revoke(token.credential_id)
    # The file is looked at no more than once per reload interval ...
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    clock.advance(1.01)
    # ... and after the reload the cached success does not outlive revocation.
    assert await gateway.verify_basic(basic.username, basic.password) is None
    assert await gateway.verify_bearer(token.token) is None


async def test_rotation_by_another_process_takes_effect_after_reload(
    tmp_path, clock: FakeClock
) -> None:
    path = tmp_path / "credentials.json"
    old = file_store(path, clock).issue_basic(17)
    gateway = file_store(path, clock)
    assert await gateway.verify_basic(old.username, old.password) == 17
    new = file_store(path, clock).rotate(old.credential_id)
    clock.advance(1.01)
    assert await gateway.verify_basic(old.username, old.password) is None
    assert await gateway.verify_basic(new.username, new.password) == 17


async def test_new_credential_from_another_process_is_picked_up(
    tmp_path, clock: FakeClock
) -> None:
    path = tmp_path / "credentials.json"
    gateway = file_store(path, clock)  # no file yet: nobody gets in
    issued = file_store(path, clock).issue_token(5)
    clock.advance(1.01)
    assert await gateway.verify_bearer(issued.token) == 5


async def test_broken_file_keeps_the_last_good_state(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "credentials.json"
    issued = file_store(path, clock).issue_basic(17)
    gateway = file_store(path, clock)
    path.write_text("{broken")
    clock.advance(1.01)
    assert await gateway.verify_basic(issued.username, issued.password) == 17


# -- hot path ------------------------------------------------------------------


async def test_repeat_verification_is_served_from_cache_until_ttl(
    scrypt_spy: ScryptSpy, clock: FakeClock
) -> None:
    store = memory_store(clock=clock, cache_ttl_s=60)
    issued = store.issue_basic(17)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert len(scrypt_spy.calls) == 1
    clock.advance(61)
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert len(scrypt_spy.calls) == 2


async def test_a_wrong_secret_seen_again_costs_no_scrypt(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    basic, token = store.issue_basic(17), store.issue_token(17)
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
    issued = store.issue_basic(17)
    assert await store.verify_basic(issued.username, "next-password") is None
    # Rotation happens to pick the secret that failed a moment ago.
    monkeypatch.setattr(store_module.secrets, "token_urlsafe", lambda _n: "next-password")
    store.rotate(issued.credential_id)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, "next-password") == 17
    assert len(scrypt_spy.calls) == 1


async def test_identical_concurrent_verifications_share_one_hash(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = store.issue_token(17)
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
    issued = store.issue_basic(17)
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
    attacked, idp = store.issue_basic(17), store.issue_basic(18)
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
    attacked, idp = store.issue_basic(17), store.issue_basic(18)
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
    issued = store.issue_basic(17)
    for i in range(20):
        assert await store.verify_basic(issued.username, f"guess-{i}") is None
    assert await store.verify_basic(issued.username, issued.password) == 17


async def test_unknown_names_are_refused_unhashed_while_every_slot_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = ScryptSpy(hold_s=0.05)
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    store = memory_store(guard=AuthGuard(GuardSettings(hash_slots=1)))
    issued = store.issue_basic(17)
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
    creds = [store.issue_basic(org) for org in range(1, 6)]
    spy.calls.clear()
    results = await asyncio.gather(*(store.verify_basic(c.username, c.password)
                                     for c in creds), return_exceptions=True)
    assert results[:3] == [1, 2, 3]
    assert [(r.status, r.retry_after) for r in results[3:]] == [(503, 1), (503, 1)]
    assert len(spy.calls) == 3


async def test_an_address_vouched_for_by_a_proxy_is_throttled_after_its_failures() -> None:
    store = memory_store(guard=AuthGuard(GuardSettings(client_failure_limit=3)))
    issued = store.issue_basic(17)
    for i in range(3):
        assert await store.verify_basic(issued.username, f"guess-{i}", "203.0.113.9") is None
    with pytest.raises(AuthRefused) as refused:
        await store.verify_basic(issued.username, issued.password, "203.0.113.9")
    assert refused.value.status == 429 and refused.value.retry_after >= 1
    # Another address, and a caller with no vouched-for address, are not affected.
    assert await store.verify_basic(issued.username, issued.password, "198.51.100.7") == 17


async def test_unrelated_change_keeps_warm_credentials_cached(
    tmp_path, clock: FakeClock, scrypt_spy: ScryptSpy
) -> None:
    path = tmp_path / "credentials.json"
    cli = file_store(path, clock)
    basic, token = cli.issue_basic(17), cli.issue_token(18)
    gateway = file_store(path, clock)
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    assert await gateway.verify_bearer(token.token) == 18

    # Support issues and revokes credentials of other orgs; the gateway reloads the file.
    other = file_store(path, clock).issue_token(99)
    file_store(path, clock).revoke(other.credential_id)
    scrypt_spy.calls.clear()  # issuing hashed the new secret; count only the checks below
    clock.advance(1.01)
    assert await gateway.verify_basic(basic.username, basic.password) == 17
    assert await gateway.verify_bearer(token.token) == 18
    assert scrypt_spy.calls == []  # still warm: no org pays scrypt for another's change


async def test_unrelated_issue_in_the_same_store_keeps_the_cache(scrypt_spy: ScryptSpy) -> None:
    store = memory_store()
    issued = store.issue_basic(17)
    assert await store.verify_basic(issued.username, issued.password) == 17
    store.issue_basic(18)
    scrypt_spy.calls.clear()
    assert await store.verify_basic(issued.username, issued.password) == 17
    assert scrypt_spy.calls == []


async def test_cached_secret_is_refused_at_once_after_rotation_or_revocation_elsewhere(
    tmp_path, clock: FakeClock, scrypt_spy: ScryptSpy
) -> None:
    path = tmp_path / "credentials.json"
    cli = file_store(path, clock)
    rotated, revoked = cli.issue_basic(17), cli.issue_token(17)
    gateway = file_store(path, clock)
    assert await gateway.verify_basic(rotated.username, rotated.password) == 17  # cached
    assert await gateway.verify_bearer(revoked.token) == 17  # cached
    new = file_store(path, clock).rotate(rotated.credential_id)
    file_store(path, clock).revoke(revoked.credential_id)
    clock.advance(1.01)
    assert await gateway.verify_basic(rotated.username, rotated.password) is None
    assert await gateway.verify_bearer(revoked.token) is None
    assert await gateway.verify_basic(new.username, new.password) == 17


# -- what the file may ask for -------------------------------------------------


def _file_with_hash(path, **changes) -> None:
    """A credentials file with one Basic credential whose stored hash has `changes`."""
    CredentialStore(path, params=FAST).issue_basic(17)
    doc = json.loads(path.read_text())
    doc["credentials"][0]["hash"].update(changes)
    path.write_text(json.dumps(doc))


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
def test_bad_scrypt_parameters_are_refused_on_load(tmp_path, changes) -> None:
    path = tmp_path / "credentials.json"
    _file_with_hash(path, **changes)
    with pytest.raises(CredentialFileError, match="not a valid credentials file"):
        CredentialStore(path)


async def test_bad_scrypt_parameters_in_a_reload_keep_the_last_good_state(
    tmp_path, clock: FakeClock
) -> None:
    path = tmp_path / "credentials.json"
    issued = file_store(path, clock).issue_basic(17)
    gateway = file_store(path, clock)
    doc = json.loads(path.read_text())
    doc["credentials"][0]["hash"]["n"] = 3
    path.write_text(json.dumps(doc))
    clock.advance(1.01)
    assert await gateway.verify_basic(issued.username, issued.password) == 17


def test_the_largest_allowed_scrypt_cost_still_loads(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    _file_with_hash(path, n=2**17, r=8, p=1)  # 128 MiB: eight times the default
    assert len(CredentialStore(path).list()) == 1


def test_stored_records_and_hashes_keep_salt_and_key_out_of_their_repr(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    CredentialStore(path, params=FAST).issue_basic(17)
    stored = json.loads(path.read_text())["credentials"][0]["hash"]
    store = CredentialStore(path, params=FAST)
    record = next(iter(store._by_id.values()))
    secret_hash = record.secret_hash
    for text in (repr(record), repr(secret_hash), repr(store._by_username)):
        assert stored["salt"] not in text and stored["hash"] not in text
        assert repr(secret_hash.salt) not in text and repr(secret_hash.key) not in text
    assert record.info.username in repr(record)  # the public facts are still shown
