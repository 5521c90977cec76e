"""OneLogin's and JumpCloud's user provisioning shapes, end to end.

OneLogin's HTTP client may leave a trailing `?` or `&` on a URL, its admin
templates carry SCIM 1.x schema URNs, and booleans may be strings. The
request targets are sent byte for byte over a raw socket: an HTTP client
library would tidy the trailing `?` away before the gateway ever saw it.
JumpCloud's connection test creates a test user and deletes it again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from yarl import URL

from tests.bodies import CORE, ENTERPRISE, PATCH_OP
from tests.conftest import World

SCIM1_CORE = "urn:scim:schemas:core:1.0"
SCIM1_ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"


async def raw_request(world: World, method: str, target: str, body: Any = None) -> tuple[int, Any]:
    """Send `target` (path and query under the SCIM base) exactly as written."""
    base = URL(world.gateway_url)
    payload = b"" if body is None else json.dumps(body).encode()
    reader, writer = await asyncio.open_connection(base.host, base.port)
    try:
        head = [
            f"{method} {base.path}{target} HTTP/1.1",
            f"Host: {base.host}:{base.port}",
            f"Authorization: {world.a.auth}",
            "Connection: close",
            f"Content-Length: {len(payload)}",
        ]
        if body is not None:
            head.append("Content-Type: application/json")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    header_block, _, content = response.partition(b"\r\n\r\n")
    status = int(header_block.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header_block.lower():
        content = _unchunk(content)
    return status, json.loads(content) if content.strip() else None


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def onelogin_user(email: str, **extra: Any) -> dict:
    """A OneLogin admin-template body: SCIM 1.x URNs, `active` as a string."""
    return {
        "schemas": [SCIM1_CORE, SCIM1_ENTERPRISE],
        "userName": email,
        "externalId": "ol-" + email.split("@")[0],
        "name": {"givenName": "Kay", "familyName": "Johnson"},
        "emails": [{"value": email, "type": "work", "primary": "true"}],
        "title": "Director",
        "active": "true",
        SCIM1_ENTERPRISE: {"department": "Ops", "employeeNumber": "OL-" + email[:3]},
        **extra,
    }


async def test_onelogin_trailing_question_mark_and_ampersand(world: World):
    status, user = await raw_request(world, "POST", "/Users?", onelogin_user("kay@one.example"))
    assert status == 201, user
    assert (await world.backend.employee(world.org_a, user["id"]))["email"] == "kay@one.example"

    status, body = await raw_request(world, "GET", "/Users?")
    assert status == 200 and body["totalResults"] == 1

    status, body = await raw_request(
        world, "GET", "/Users?filter=userName%20eq%20%22kay@one.example%22&")
    assert status == 200, body
    assert [r["id"] for r in body["Resources"]] == [user["id"]]

    status, body = await raw_request(
        world, "GET", "/Users?filter=userName+eq+%22nobody@one.example%22&startIndex=1&count=10&")
    assert status == 200 and body["totalResults"] == 0 and body["Resources"] == []

    status, body = await raw_request(world, "GET", "/Users?&startIndex=1&&count=1&")
    assert status == 200 and body["itemsPerPage"] == 1

    status, body = await raw_request(world, "GET", f"/Users/{user['id']}?")
    assert status == 200 and body["id"] == user["id"]

    status, body = await raw_request(world, "PUT", f"/Users/{user['id']}?",
                                     onelogin_user("kay@one.example", title="VP"))
    assert status == 200, body
    assert (await world.backend.employee(world.org_a, user["id"]))["title"] == "VP"

    status, body = await raw_request(world, "PATCH", f"/Users/{user['id']}?&", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": "false"}],
    })
    assert status == 200, body
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"


async def test_onelogin_scim1_urns_and_string_booleans_land_in_backend(world: World):
    status, user, _ = await world.a.post("/Users", onelogin_user("kay@one.example"))
    assert status == 201, user
    assert user["schemas"] == [CORE, ENTERPRISE]
    assert user["active"] is True
    assert user[ENTERPRISE]["department"] == "Ops"
    assert user["emails"][0]["primary"] is True
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["department"] == "Ops" and record["employee_number"] == "OL-kay"
    assert record["title"] == "Director" and record["status"] == "active"
    assert record["sso_id"] == "ol-kay"


async def test_onelogin_put_with_string_false_deactivates(world: World):
    _, user, _ = await world.a.post("/Users", onelogin_user("kay@one.example"))
    body = onelogin_user("kay@one.example", active="false")
    status, updated, _ = await world.a.put(f"/Users/{user['id']}", body)
    assert status == 200, updated
    assert updated["active"] is False
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"
    status, updated, _ = await world.a.put(f"/Users/{user['id']}",
                                           onelogin_user("kay@one.example", active="True"))
    assert status == 200 and updated["active"] is True
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "active"


async def test_onelogin_scim1_urn_in_patch_path_and_value(world: World):
    _, user, _ = await world.a.post("/Users", onelogin_user("kay@one.example"))
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": f"{SCIM1_ENTERPRISE}:department", "value": "Finance"},
            {"op": "replace", "value": {SCIM1_ENTERPRISE: {"costCenter": "CC-9"}}},
        ],
    })
    assert status == 200, body
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["department"] == "Finance" and record["cost_center"] == "CC-9"


async def test_string_boolean_that_is_not_a_boolean_is_a_clear_400(world: World):
    status, body, _ = await world.a.post("/Users", onelogin_user("kay@one.example",
                                                                 active="yes"))
    assert status == 400, body
    assert "active" in body["detail"]
    assert await world.backend.employees(world.org_a) == []


async def test_jumpcloud_connection_test_creates_then_deletes_a_test_user(world: World):
    name = f"jctest-{uuid.uuid4().hex[:8]}@jumpcloud.example"
    status, user, _ = await world.a.post("/Users", {
        "schemas": [CORE], "userName": name,
        "name": {"givenName": "JumpCloud", "familyName": "Test"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    })
    assert status == 201, user
    status, body, _ = await world.a.delete(f"/Users/{user['id']}")
    assert status == 204 and body is None
    record = await world.backend.employee(world.org_a, user["id"])
    assert record["status"] == "deactivated" and record["email"] == name
    # Deleted for SCIM (RFC 7644 §3.6): a second DELETE is a 404, never a 500.
    status, _, _ = await world.a.delete(f"/Users/{user['id']}")
    assert status == 404
    status, body, _ = await world.a.get("/Users", params={"filter": f'userName eq "{name}"'})
    assert status == 200 and body["totalResults"] == 0
    # A later run's create relinks the same test user instead of a 409 on its email.
    status, again, _ = await world.a.post("/Users", {
        "schemas": [CORE], "userName": name,
        "name": {"givenName": "JumpCloud", "familyName": "Test"}, "active": True})
    assert status == 201 and again["id"] == user["id"] and again["active"] is True


async def test_jumpcloud_connection_test_deactivating_instead(world: World):
    name = "jctest@jumpcloud.example"
    _, user, _ = await world.a.post("/Users", {
        "schemas": [CORE], "userName": name,
        "name": {"givenName": "JumpCloud", "familyName": "Test"}, "active": True,
    })
    status, body, _ = await world.a.patch(f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200 and body["active"] is False
    assert (await world.backend.employee(world.org_a, user["id"]))["status"] == "deactivated"


async def test_onelogin_template_formatted_name_and_untyped_address_are_accepted(world: World):
    """OneLogin's SCIM JSON template sends `name.formatted` from the user's display name
    and addresses without a type: accepted; the formatted name reads back built from the
    names (docs/setup/onelogin-jumpcloud.md says what to change to keep it)."""
    body = onelogin_user("kay@one.example")
    body["name"]["formatted"] = "Kay J. (Ops)"
    body["addresses"] = [{"locality": "Berlin", "region": "BE", "country": "DE"}]
    status, user, _ = await world.a.post("/Users", body)
    assert status == 201, user
    assert user["name"]["formatted"] == "Kay Johnson"
    record = await world.backend.employee(world.org_a, user["id"])
    assert (record["first_name"], record["last_name"]) == ("Kay", "Johnson")
    assert "addresses" not in user
