"""Log records rendered as JSON lines carrying the request they were logged in."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.config import Config, load_config
from gateway.observability import logs
from gateway.observability.context import RequestContext, current
from gateway.request_context import request_id


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure logging into a buffer; put the root logger back afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("json", "info", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_plain_log_call_inside_a_request_comes_out_as_json_with_the_request_id(output):
    ctx = RequestContext("rid-123", "PATCH", "/scim/v2/Users/{id}")
    ctx.authenticated(17, "abc123def456", "okta")
    rid, cur = request_id.set("rid-123"), current.set(ctx)
    try:
        logging.getLogger("gateway.provisioning.users").info("user %s changed; retrying", "7")
    finally:
        request_id.reset(rid)
        current.reset(cur)
    [line] = lines(output)
    assert line["message"] == "user 7 changed; retrying"
    assert line["level"] == "info"
    assert line["logger"] == "gateway.provisioning.users"
    assert line["request_id"] == "rid-123"
    assert line["org"] == 17 and line["credential_id"] == "abc123def456"
    assert line["time"].endswith("Z")


def test_a_log_call_outside_any_request_has_no_request_id(output):
    logging.getLogger("gateway").warning("starting")
    [line] = lines(output)
    assert "request_id" not in line and line["level"] == "warning"


def test_an_exception_is_one_json_line_with_its_traceback(output):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gateway.web").exception("unexpected error")
    [line] = lines(output)
    assert "ValueError: boom" in line["exception"]


def test_fields_named_like_secrets_are_masked_even_if_someone_logs_them(output):
    logging.getLogger("gateway").info("oops", extra={"password": "hunter2", "api_token": "t0k",
                                                    "Authorization": "Basic eDp5"})
    [line] = lines(output)
    assert line["password"] == line["api_token"] == line["Authorization"] == "***"
    assert "hunter2" not in output.getvalue() and "eDp5" not in output.getvalue()


def test_text_format_is_for_a_terminal():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("text", "warning", stream=stream)
    try:
        logging.getLogger("gateway").info("hidden below the level")
        logging.getLogger("gateway").warning("shown", extra={"org": 17})
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    text = stream.getvalue()
    assert "hidden" not in text
    assert "shown" in text and "org=17" in text and not text.lstrip().startswith("{")
    assert text[:4].isdigit()  # each line starts with its time


def test_masked_config_hides_every_secret_but_keeps_the_rest():
    config = load_config(None, env={
        "WS_BACKEND_URL": "http://backend:8080", "WS_BACKEND_TOKEN": "svc-secret",
        "WS_REDIS_URL": "redis://:redis-pw@cache:6379/0", "WS_METRICS_TOKEN": "scrape-secret",
    })
    shown = logs.masked_config(config)
    text = json.dumps(shown)
    for secret in ("svc-secret", "redis-pw", "scrape-secret"):
        assert secret not in text
    assert shown["backend"]["token"] == shown["metrics"]["token"] == "***"
    assert shown["redis"]["url"] == "redis://***@cache:6379/0"
    assert shown["backend"]["url"] == "http://backend:8080"
    assert shown["log"] == {"format": "json", "level": "info"}


def test_masked_config_shows_an_unset_secret_as_empty():
    assert logs.masked_config(Config())["backend"]["token"] == ""
