"""The README's first command and its Okta curl sequence work as written.

Starts `python -m gateway` in demo mode as a real process (no backend, no
Redis configured), reads the `export` lines it prints, and runs the README's
marked bash block with them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def okta_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = readme.index("<!-- okta-sequence")
    match = re.search(r"```bash\n(.*?)```", readme[marker:], re.S)
    assert match, "README lost its okta-sequence block"
    return match.group(1)


@pytest.fixture
def demo(tmp_path):
    env = {**os.environ, "PORT": str(free_port()), "WS_DEMO_SANDBOX_PORT": str(free_port()),
           "PYTHONUNBUFFERED": "1"}
    env.pop("WS_BACKEND_URL", None)
    env.pop("WS_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(ROOT / "config.toml")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    exports: dict[str, str] = {}
    deadline = time.monotonic() + 30
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline and len(exports) < 3:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if m := re.match(r"\s*export (\w+)='(.*)'", line):
            exports[m.group(1)] = m.group(2)
    try:
        assert len(exports) == 3, "demo did not print its exports:\n" + "".join(lines)
        yield exports
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_readme_okta_sequence_runs_against_the_demo(demo, tmp_path):
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", okta_block()],
        env={**os.environ, **demo}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    user_id = re.search(r"created user (\d+)", result.stdout).group(1)
    request = urllib.request.Request(f"{demo['SCIM_URL']}/Users/{user_id}",
                                     headers={"Authorization": f"Bearer {demo['SCIM_TOKEN']}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        user = json.load(resp)
    assert user["title"] == "Engineer"
    assert user["active"] is True
    assert user["userName"] == "test.user@okta.local"
