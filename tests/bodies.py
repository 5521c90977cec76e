"""SCIM names and request bodies the tests share (shapes from idp-wire-shapes.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import World

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def okta_user(email: str = "test.user@okta.local", external_id: str = "00ujl29u0le5T6Aj10h7",
              given: str = "Test", family: str = "User") -> dict:
    """Okta's create body, exactly as idp-wire-shapes.md gives it."""
    return {
        "schemas": [CORE],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


async def create_user(world: World, **kw) -> dict:
    """Org A's user made from Okta's create body (keywords as okta_user takes them)."""
    status, body, _ = await world.a.post("/Users", okta_user(**kw))
    assert status == 201, body
    return body


def patch_ops(*operations: dict) -> dict:
    """A PatchOp request body of `operations`."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}
