"""`python -m sandbox` serves the contract over a SQLite file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from tests.net import free_port


async def test_cli_serves_the_api_with_the_given_token_and_org(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port),
        "--db", str(tmp_path / "cli.db"), "--token", "cli-secret", "--org", "Demo Co",
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert process.stdout is not None
    try:
        org_line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        ready_line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert org_line.startswith("org 'Demo Co' id=")
        assert ready_line.strip() == f"sandbox listening on http://127.0.0.1:{port}"
        org_id = int(org_line.strip().rsplit("=", 1)[1])
        url = f"http://127.0.0.1:{port}/internal/v1/orgs/{org_id}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers={"Authorization": "Token cli-secret"}) as ok:
                assert ok.status == 200
                assert (await ok.json())["name"] == "Demo Co"
            async with session.get(url, headers={"Authorization": "Token sandbox-token"}) as no:
                assert no.status == 401
    finally:
        process.terminate()
        await process.wait()
    assert (tmp_path / "cli.db").exists()
