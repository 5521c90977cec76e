"""A forged Host header never becomes a URL the gateway hands out (meta.location, Location).

Without `server.public_url` the URLs come from `server.allowed_hosts` (the request's
Host only when it is one of them), else from the address the connection reached.
"""

from __future__ import annotations

from dataclasses import replace

from tests.bodies import okta_user
from tests.conftest import World, start_gateway

FORGED = "attacker.example"


async def gateway_with(world: World, **server):
    config = world.extra["config"]
    return await start_gateway(world, world.store,
                               replace(config, server=replace(config.server, **server)))


async def create_user(world: World, url: str, host: str, user_name: str):
    client = world.client(world.a.auth)
    client.base = url
    return await client.post("/Users", okta_user(user_name, external_id=user_name),
                             headers={"Host": host})


async def urls_seen(world: World, url: str, host: str) -> list[str]:
    """Every URL a create, a list and a discovery answer hand out when called with `host`."""
    client = world.client(world.a.auth)
    client.base = url
    status, created, headers = await create_user(world, url, host, f"u-{host}@example.com")
    assert status == 201, created
    _, listed, _ = await client.get("/Users", headers={"Host": host})
    _, config, _ = await client.get("/ServiceProviderConfig", headers={"Host": host})
    return ([headers["Location"], created["meta"]["location"], config["meta"]["location"]]
            + [r["meta"]["location"] for r in listed["Resources"]])


async def test_forged_host_never_appears_in_urls_without_configuration(world: World) -> None:
    server, url = await gateway_with(world)
    own = f"http://127.0.0.1:{server.port}/scim/v2/"  # the address the connection reached
    try:
        urls = await urls_seen(world, url, FORGED)
    finally:
        await server.close()
    assert all(u.startswith(own) for u in urls), urls
    assert not any(FORGED in u for u in urls)


async def test_allowed_host_is_echoed_and_any_other_gets_the_first_allowed(
    world: World,
) -> None:
    server, url = await gateway_with(world, allowed_hosts=("scim.example.com",
                                                           "scim.example.com:8443"))
    try:
        allowed = await urls_seen(world, url, "SCIM.example.com:8443")
        forged = await urls_seen(world, url, FORGED)
    finally:
        await server.close()
    assert all(u.startswith("http://scim.example.com:8443/scim/v2/") for u in allowed), allowed
    assert all(u.startswith("http://scim.example.com/scim/v2/") for u in forged), forged


async def test_public_url_wins_over_any_host(world: World) -> None:
    server, url = await gateway_with(world, public_url="https://idp-facing.example/",
                                     allowed_hosts=(FORGED,))
    try:
        urls = await urls_seen(world, url, FORGED)
    finally:
        await server.close()
    assert all(u.startswith("https://idp-facing.example/scim/v2/") for u in urls), urls
