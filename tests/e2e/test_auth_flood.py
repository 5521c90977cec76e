"""Brute force against a running gateway: guesses are refused cheaply, the real IdP gets in.

The store here uses the production scrypt cost, so a guess costs what it
costs in production; a spy counts (and orders) the hashes actually run.
How fast the IdP gets in under a flood is measured in bench/bench_auth_flood.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import replace

import pytest

from gateway.auth import CredentialStore, hashing
from gateway.auth.guard import AuthGuard
from tests.conftest import World, basic, start_gateway

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScryptOrder:
    """Records the salt of every scrypt run, in the order they start (real hashing)."""

    def __init__(self) -> None:
        self.salts: list[bytes] = []
        self._lock = threading.Lock()
        self._real = hashlib.scrypt

    def __call__(self, password: bytes, **kwargs):
        with self._lock:
            self.salts.append(kwargs["salt"])
        return self._real(password, **kwargs)


@pytest.fixture
def scrypt_order(monkeypatch: pytest.MonkeyPatch) -> ScryptOrder:
    spy = ScryptOrder()
    monkeypatch.setattr(hashing.hashlib, "scrypt", spy)
    return spy


async def gateway_with(world: World, store: CredentialStore, **auth):
    """A gateway with production-cost credentials and `[auth]` settings over a real socket."""
    config = world.extra["config"]
    config = replace(config, auth=replace(config.auth, **auth))
    return await start_gateway(world, world.store, config, store)


def assert_scim_429(status: int, body, headers) -> None:
    assert status == 429, body
    assert body["schemas"] == [ERROR_URN] and body["status"] == "429" and body["detail"]
    assert headers["Retry-After"].isdigit() and int(headers["Retry-After"]) >= 1


async def test_idp_gets_in_while_guesses_flood_in_from_the_same_address(
    world: World, scrypt_order: ScryptOrder
) -> None:
    store = CredentialStore(None)  # production scrypt cost
    idp, attacked = await store.issue_basic(world.org_a), await store.issue_basic(world.org_b)
    server, url = await gateway_with(world, store)
    try:
        scrypt_order.salts.clear()
        attacker = [world.client(basic(attacked.username, f"guess-{i}")) for i in range(60)]
        strangers = [world.client(basic(f"scim-0-{i:012x}", "guess")) for i in range(30)]
        for client in attacker + strangers:
            client.base = url
        flood = [asyncio.ensure_future(c.get("/Users")) for c in attacker + strangers]
        await asyncio.sleep(0.05)  # the flood is queued and hashing
        good = world.client(basic(idp.username, idp.password))
        good.base = url
        status, body, _ = await good.get("/Users")
        answers = await asyncio.gather(*flood)
    finally:
        await server.close()
    assert status == 200, body
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {401, 429}
    for answer in answers:
        if answer[0] == 429:
            assert_scim_429(*answer)
    assert statuses.count(429) > 0  # the excess was refused at once, not queued
    assert len(scrypt_order.salts) < len(flood) / 2  # most guesses cost no scrypt at all
    # The IdP's check went ahead of the guesses still waiting when it arrived.
    idp_salt = store._by_id[idp.credential_id].secret_hash.salt
    assert scrypt_order.salts.index(idp_salt) <= len(scrypt_order.salts) - 2


async def test_a_repeated_wrong_password_costs_one_scrypt(
    world: World, scrypt_order: ScryptOrder
) -> None:
    store = CredentialStore(None)
    issued = await store.issue_basic(world.org_a)
    server, url = await gateway_with(world, store)
    try:
        scrypt_order.salts.clear()
        client = world.client(basic(issued.username, "Summer2026!"))
        client.base = url
        answers = [await client.get("/Users") for _ in range(10)]
    finally:
        await server.close()
    assert [a[0] for a in answers] == [401] * 10
    assert len(scrypt_order.salts) == 1


async def test_an_address_behind_a_trusted_proxy_is_throttled_and_nobody_else(
    world: World,
) -> None:
    store = CredentialStore(None, params=replace(hashing.DEFAULT_PARAMS, n=2**10),
                            guard=AuthGuard())
    idp = await store.issue_basic(world.org_a)
    server, url = await gateway_with(world, store, trusted_proxy_header="X-Forwarded-For",
                                     trusted_proxies=("127.0.0.1",))
    limit = store.guard.settings.client_failure_limit
    try:
        def caller(password: str, address: str | None):
            client = world.client(basic(idp.username, password))
            client.base = url
            headers = {"X-Forwarded-For": f"10.9.9.9, {address}"} if address else {}
            return client.get("/Users", headers=headers)

        guesses = [await caller(f"guess-{i}", "203.0.113.9") for i in range(int(limit))]
        throttled = await caller("another-guess", "203.0.113.9")
        right_secret_from_there = await caller(idp.password, "203.0.113.9")
        idp_answer = await caller(idp.password, "198.51.100.7")
        direct_answer = await caller(idp.password, None)
    finally:
        await server.close()
    assert [g[0] for g in guesses] == [401] * int(limit)
    assert_scim_429(*throttled)
    assert_scim_429(*right_secret_from_there)  # that address is the one being throttled
    assert idp_answer[0] == 200 and direct_answer[0] == 200


async def test_without_a_trusted_proxy_the_shared_address_is_never_throttled(
    world: World,
) -> None:
    store = CredentialStore(None, params=replace(hashing.DEFAULT_PARAMS, n=2**10))
    idp, other = await store.issue_basic(world.org_a), await store.issue_basic(world.org_b)
    server, url = await gateway_with(world, store)
    try:
        statuses = []
        for i in range(3 * int(store.guard.settings.client_failure_limit)):
            client = world.client(basic(other.username, f"guess-{i}"))
            client.base = url
            # A forged header is ignored: no proxy is trusted.
            statuses.append((await client.get(
                "/Users", headers={"X-Forwarded-For": "198.51.100.7"}))[0])
        good = world.client(basic(idp.username, idp.password))
        good.base = url
        status, body, _ = await good.get("/Users", headers={"X-Forwarded-For": "198.51.100.7"})
    finally:
        await server.close()
    assert set(statuses) == {401}
    assert status == 200, body


async def test_revoking_a_credential_drops_its_cached_login_at_once(world: World) -> None:
    store = CredentialStore(None, params=replace(hashing.DEFAULT_PARAMS, n=2**10))
    issued = await store.issue_basic(world.org_a)
    server, url = await gateway_with(world, store)
    try:
        client = world.client(basic(issued.username, issued.password))
        client.base = url
        before = await client.get("/Users")
        await store.revoke(issued.credential_id)
        after = await client.get("/Users")
    finally:
        await server.close()
    assert before[0] == 200 and after[0] == 401
