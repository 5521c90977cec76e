"""The README's first command and its Okta curl sequence work as written.

Starts `python -m gateway` in demo mode as a real process (no backend, no
Redis configured), reads the `export` lines it prints, and runs the README's
marked bash block with them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def okta_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = readme.index("<!-- okta-sequence")
    match = re.search(r"```bash\n(.*?)```", readme[marker:], re.S)
    assert match, "README lost its okta-sequence block"
    return match.group(1)


EXPORT = re.compile(r"\s*export (\w+)='(.*)'")
START_DEADLINE_S = 30


def _exports(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for line in output.splitlines() if (m := EXPORT.match(line))}


@pytest.fixture
def demo(tmp_path):
    """The demo process, its output going to a file (nothing to block on, no pipe to drain);
    the file is polled until the three export lines appear, the process dies, or the
    deadline passes, so a silent demo fails the test instead of hanging it."""
    env = {**os.environ, "PORT": str(free_port()), "WS_DEMO_SANDBOX_PORT": str(free_port()),
           "PYTHONUNBUFFERED": "1"}
    env.pop("WS_BACKEND_URL", None)
    env.pop("WS_REDIS_URL", None)
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(ROOT / "config.toml")],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + START_DEADLINE_S
            exports = _exports(log_path.read_text(errors="replace"))
            while len(exports) < 3 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                exports = _exports(log_path.read_text(errors="replace"))
            assert len(exports) == 3, (
                f"demo did not print its exports within {START_DEADLINE_S}s "
                f"(exit code {proc.poll()}):\n" + log_path.read_text(errors="replace"))
            yield exports
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
