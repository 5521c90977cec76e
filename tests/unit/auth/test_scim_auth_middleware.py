"""The SCIM auth middleware over a real aiohttp test server."""

from __future__ import annotations

import base64
import logging

import pytest
from aiohttp import web

from gateway.auth import CredentialStore, ScryptParams
from gateway.web.auth import ORG_ID, ScimAuthMiddleware

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
CHALLENGE = 'Basic realm="Workstream SCIM", Bearer realm="Workstream SCIM"'


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def store() -> CredentialStore:
    return CredentialStore(None, params=ScryptParams(n=2**10, r=8, p=1))


@pytest.fixture
async def client(aiohttp_client, store: CredentialStore):
    auth = ScimAuthMiddleware(store)

    async def users(request: web.Request) -> web.Response:
        org_id = request[ORG_ID]
        assert isinstance(org_id, int)
        return web.json_response({"org_id": org_id})

    @auth.ignore
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "org_id": request.get(ORG_ID)})

    async def public(request: web.Request) -> web.Response:
        return web.json_response({"public": True})

    @web.middleware
    async def passthrough(request: web.Request, handler):
        # Another middleware between auth and the handler must not hide `.ignore`.
        return await handler(request)

    app = web.Application(middlewares=[auth, passthrough])
    app.router.add_get("/scim/v2/Users", users)
    app.router.add_get("/scim/v2/health", health)
    app.router.add_get("/public", public)
    return await aiohttp_client(app)


async def assert_scim_401(response, detail_contains: str) -> dict:
    assert response.status == 401
    assert response.content_type == "application/scim+json"
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    body = await response.json(content_type=None)
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == "401"
    assert detail_contains in body["detail"]
    return body


async def test_missing_authorization_gets_a_scim_json_401(client) -> None:
    await assert_scim_401(await client.get("/scim/v2/Users"), "Authentication required")


async def test_wrong_password_gets_a_scim_json_401(client, store) -> None:
    issued = await store.issue_basic(17)
    response = await client.get("/scim/v2/Users", headers=basic(issued.username, "wrong"))
    await assert_scim_401(response, "Invalid credentials")


async def test_unknown_user_gets_the_same_401_as_a_wrong_password(client, store) -> None:
    issued = await store.issue_basic(17)
    wrong = await client.get("/scim/v2/Users", headers=basic(issued.username, "nope"))
    unknown = await client.get("/scim/v2/Users", headers=basic("nobody", "nope"))
    assert await assert_scim_401(wrong, "Invalid") == await assert_scim_401(unknown, "Invalid")


@pytest.mark.parametrize(("header", "detail"), [
    ("Basic !!!not-base64!!!", "Malformed Basic"),
    ("Basic " + base64.b64encode(b"no-colon-here").decode(), "Malformed Basic"),
    ("Basic", "Malformed Basic"),
    ("Bearer", "Malformed Bearer"),
    ("Bearer two words", "Malformed Bearer"),
    ("Digest username=x", "Unsupported authorization scheme"),
    ("wsg_abc_def", "Unsupported authorization scheme"),
])
async def test_malformed_authorization_gets_a_scim_json_401(client, header, detail) -> None:
    response = await client.get("/scim/v2/Users", headers={"Authorization": header})
    await assert_scim_401(response, detail)


async def test_basic_credentials_reach_the_handler_with_their_org(client, store) -> None:
    issued = await store.issue_basic(17)
    response = await client.get("/scim/v2/Users", headers=basic(issued.username,
                                                                   issued.password))
    assert response.status == 200
    assert await response.json() == {"org_id": 17}


async def test_bearer_token_reaches_the_handler_with_its_org(client, store) -> None:
    issued = await store.issue_token(42)
    response = await client.get("/scim/v2/Users", headers=bearer(issued.token))
    assert response.status == 200
    assert await response.json() == {"org_id": 42}


async def test_scheme_names_are_case_insensitive(client, store) -> None:
    issued = await store.issue_token(42)
    response = await client.get("/scim/v2/Users",
                                headers={"Authorization": f"bearer {issued.token}"})
    assert response.status == 200


async def test_each_credential_sees_only_its_own_org(client, store) -> None:
    a, b = await store.issue_basic(1), await store.issue_token(2)
    first = await client.get("/scim/v2/Users", headers=basic(a.username, a.password))
    second = await client.get("/scim/v2/Users", headers=bearer(b.token))
    assert (await first.json())["org_id"] == 1
    assert (await second.json())["org_id"] == 2


async def test_revoked_token_is_refused(client, store) -> None:
    issued = await store.issue_token(42)
    assert (await client.get("/scim/v2/Users", headers=bearer(issued.token))).status == 200
    await store.revoke(issued.credential_id)
    await assert_scim_401(await client.get("/scim/v2/Users", headers=bearer(issued.token)),
                          "Invalid credentials")


async def test_ignored_route_passes_without_credentials(client) -> None:
    response = await client.get("/scim/v2/health")
    assert response.status == 200
    assert await response.json() == {"ok": True, "org_id": None}


async def test_routes_outside_the_prefix_are_not_guarded(client) -> None:
    assert (await client.get("/public")).status == 200


async def test_unknown_path_under_the_prefix_needs_credentials_first(client) -> None:
    await assert_scim_401(await client.get("/scim/v2/Nope"), "Authentication required")


async def test_custom_prefix_is_honoured(aiohttp_client, store) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"org_id": request.get(ORG_ID)})

    app = web.Application(middlewares=[ScimAuthMiddleware(store, prefix="/api/scim/")])
    app.router.add_get("/api/scim/Users", handler)
    app.router.add_get("/scim/v2/Users", handler)
    client = await aiohttp_client(app)
    await assert_scim_401(await client.get("/api/scim/Users"), "Authentication required")
    assert (await client.get("/scim/v2/Users")).status == 200


async def test_failures_log_the_username_or_token_id_never_the_secret(
    client, store, caplog
) -> None:
    basic_cred, token = await store.issue_basic(17), await store.issue_token(17)
    stolen_guess = "hunter2-not-the-password"
    forged = token.token[:-4] + "AAAA"
    with caplog.at_level(logging.DEBUG):
        await client.get("/scim/v2/Users", headers=basic(basic_cred.username, stolen_guess))
        await client.get("/scim/v2/Users", headers=bearer(forged))
        await client.get("/scim/v2/Users", headers=basic(basic_cred.username,
                                                           basic_cred.password))
        auth_middleware(client).failures.flush()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert basic_cred.username in logged
    assert token.credential_id in logged
    for secret in (stolen_guess, forged, token.token, basic_cred.password):
        assert secret not in logged


async def test_a_flood_of_failed_logins_logs_one_summary_line_not_one_per_attempt(
    client, store, caplog
) -> None:
    issued = await store.issue_basic(17)
    before = len(caplog.records)  # issuing may have logged (when INFO is on)
    with caplog.at_level(logging.INFO, logger="gateway"):
        for i in range(40):
            response = await client.get("/scim/v2/Users", headers=basic(issued.username,
                                                                        f"guess-{i}"))
            assert response.status == 401
        auth_middleware(client).failures.flush()
        auth_middleware(client).failures.flush()  # nothing new: no second line
    lines = [r.getMessage() for r in caplog.records[before:] if r.name.startswith("gateway")]
    assert len(lines) == 1
    assert "40 failed logins" in lines[0] and f"{issued.username!r} x40" in lines[0]


def auth_middleware(client) -> ScimAuthMiddleware:
    return next(m for m in client.app.middlewares if isinstance(m, ScimAuthMiddleware))
