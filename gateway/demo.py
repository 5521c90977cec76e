"""Demo mode: the gateway in front of an embedded sandbox, ready for curl or Okta.

Started when no `backend.url` is configured. Creates (or reuses) a demo org
with SAML and SCIM enabled, issues a demo credential kept in memory (the
demo's state database is in memory too, whatever `state.url` says), and
prints it, so a newcomer can try the whole Okta sequence with no set-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import replace

from aiohttp import web

from gateway.auth import CredentialStore
from gateway.auth.guard import AuthGuard, GuardSettings
from gateway.config import Config
from gateway.web.app import build_app
from gateway.web.serve import start_site
from gateway.workers import listen_error
from sandbox.app import SANDBOX_KEY, create_app

log = logging.getLogger(__name__)

DEMO_ORG = "Demo Org"


async def start_demo(config: Config) -> tuple[list[web.AppRunner], dict]:
    """Start sandbox + gateway; return the runners and what to print."""
    token = secrets.token_urlsafe(24)
    sandbox = create_app(config.demo.sandbox_db or ":memory:", token)
    store = sandbox[SANDBOX_KEY].store
    org = store.find_org(DEMO_ORG) or store.create_org(DEMO_ORG, True, True, 50)
    sandbox_runner = web.AppRunner(sandbox, access_log=None)
    await sandbox_runner.setup()
    await _listen(sandbox_runner, "127.0.0.1", config.demo.sandbox_port)

    backend_url = f"http://127.0.0.1:{config.demo.sandbox_port}"
    config = replace(config, backend=replace(config.backend, url=backend_url, token=token))
    credentials = CredentialStore(None, cache_ttl_s=config.auth.success_cache_ttl_s,
                                  guard=AuthGuard(GuardSettings.from_config(config.auth)))
    basic = await credentials.issue_basic(org["id"], label="demo")
    bearer = await credentials.issue_token(org["id"], label="demo")
    try:
        gateway_runner, _ = await start_site(build_app(config, credentials), config)
    except OSError as exc:
        raise listen_error(config.server.host, config.server.port, exc) from None
    info = {
        "url": f"http://{config.server.host}:{config.server.port}{config.server.base_path}",
        "org_id": org["id"],
        "username": basic.username,
        "password": basic.password,
        "token": bearer.token,
        "sandbox": backend_url,
    }
    return [gateway_runner, sandbox_runner], info


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    """Serve `runner` on host:port; a taken port is a `ListenError` naming it."""
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise listen_error(host, port, exc) from None


def banner(info: dict) -> str:
    return "\n".join([
        "",
        "Workstream SCIM gateway — demo mode (embedded sandbox, in-memory id store)",
        f"  SCIM base URL : {info['url']}",
        f"  demo org id   : {info['org_id']}",
        f"  Basic auth    : {info['username']} / {info['password']}",
        f"  Bearer token  : {info['token']}",
        "  (demo credentials live in memory and change at every start)",
        "Paste into another shell, then use the README's curl lines:",
        f"  export SCIM_URL='{info['url']}'",
        f"  export SCIM_AUTH='{info['username']}:{info['password']}'",
        f"  export SCIM_TOKEN='{info['token']}'",
        "  curl -s -u \"$SCIM_AUTH\" \"$SCIM_URL/Users?startIndex=1&count=2\"",
        "",
    ])


def run_demo(config: Config) -> None:
    async def main() -> None:
        runners, info = await start_demo(config)
        print(banner(info), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            for runner in runners:
                await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
