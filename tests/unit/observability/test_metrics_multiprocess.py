"""/metrics adds up workers forked after PROMETHEUS_MULTIPROC_DIR was set, even late.

A supervisor builds the application (importing the metrics module, and with
it prometheus_client) before it knows it will fork, then sets the variable
and forks. Run in a fresh interpreter: the test process's own metrics must
stay in single-process mode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.scrape import parse, value

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import os, sys
import gateway.web.app  # the supervisor builds the app first: prometheus_client is imported
from gateway.observability import metrics

os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]  # then decides to fork workers
children = []
for n in (1, 2):
    pid = os.fork()
    if pid == 0:
        for _ in range(n):
            metrics.scim_request("17", "okta", "GET /Users", 200, 0.01)
            metrics.auth_failure("invalid_basic")
            metrics.AUDIT_EVENTS_WRITTEN.inc()
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
sys.stdout.write(metrics.render()[0].decode())
"""


def test_workers_forked_after_the_directory_was_set_late_are_added_up(tmp_path: Path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    samples = parse(out)
    assert value(samples, "scim_requests_total", org="17", operation="GET /Users",
                 status="200") == 3
    assert value(samples, "scim_request_duration_seconds_count", operation="GET /Users") == 3
    assert value(samples, "auth_failures_total", reason="invalid_basic") == 3
    assert value(samples, "audit_events_written_total") == 3
