"""The access line, rendered directly (logs._JsonFormatter), is what structlog's chain writes."""

from __future__ import annotations

import io
import logging

import orjson

from gateway.observability import logs

FIELDS = {"request_id": "r1", "org": 7, "credential_id": "c1", "idp": "okta", "method": "GET",
          "route": "/scim/v2/Users", "status": 200, "duration_ms": 1.5, "backend_calls": 1,
          "retries": 0}


def test_the_access_line_matches_the_structlog_rendering_of_the_same_record() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("json", "info", stream=stream)
        logging.getLogger(logs.ACCESS_LOGGER).info("scim request", extra=FIELDS)
        logging.getLogger("gateway.other").info("scim request", extra=FIELDS)  # the chain
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    direct, chained = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert direct.pop("logger") == logs.ACCESS_LOGGER
    assert chained.pop("logger") == "gateway.other"
    assert direct.pop("time").endswith("Z") and chained.pop("time").endswith("Z")
    assert list(direct.items()) == list(chained.items())  # same keys, values and order
