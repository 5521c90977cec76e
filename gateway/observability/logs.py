"""Log output: every stdlib log record as one JSON line on stderr (or readable text).

The gateway's modules log through the standard `logging` module as they always
have; `configure` puts structlog's `ProcessorFormatter` on the root handler, so
every record (ours, aiohttp's, redis's) is rendered by structlog: a timestamp,
the level, the logger, the message, any `extra=` fields, and the request it
belongs to (request id, org, credential id) read from context variables. A
well-kept renderer rather than a hand-made formatter: escaping, exceptions
and key order are its problem, not ours.

Secrets: nothing logs them on purpose (credentials are logged by id, config by
`masked_config`), and as a second line of defence any field whose name says it
holds one is masked by `_mask_secret_fields`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import structlog

from gateway.observability.context import current
from gateway.request_context import request_id

MASK = "***"

# A field whose name holds one of these never reaches the output with its value.
_SECRET_WORDS = ("password", "secret", "token", "authorization", "cookie")


def add_request_context(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Stamp the record with the request it was logged in (if any): the tracing hook."""
    rid = request_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    ctx = current.get()
    if ctx is not None and ctx.org_id is not None:
        event.setdefault("org", ctx.org_id)
        event.setdefault("credential_id", ctx.credential_id)
    return event


# Field names seen that name no secret: names come from code, so the set stays small,
# and a record whose every field is known costs one set difference.
_plain_names: set[str] = set()


def _mask_secret_fields(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event.keys() - _plain_names:
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            if event[key]:
                event[key] = MASK
        elif len(_plain_names) < 1000:
            _plain_names.add(key)
    return event


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


#: The access line's fields (gateway/web/observe.py), in the order they are written.
ACCESS_LOGGER = "gateway.access"
ACCESS_FIELDS = ("request_id", "org", "credential_id", "idp", "method", "route", "status",
                 "duration_ms", "backend_calls", "retries")


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's JSON lines, with the access line (one per request) rendered directly.

    The access line's fields are fixed and hold no secret, so running it through
    the processor chain (copying the record, walking its attributes for extras,
    masking) cost a twentieth of a lookup's time for the same output.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.name != ACCESS_LOGGER or record.exc_info or record.stack_info:
            return super().format(record)
        fields = record.__dict__
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat()
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for name in ACCESS_FIELDS:
            if name in fields:
                line[name] = fields[name]
        line["message"] = record.getMessage()
        return orjson.dumps(line, default=str).decode()


def configure(fmt: str = "json", level: str = "info", stream: Any = None) -> None:
    """Route every log record to `stream` (stderr) as JSON lines or text; call once at start."""
    shared: list[Any] = [
        # The console renderer leads with a "timestamp"; JSON says "time", as log shippers do.
        structlog.processors.TimeStamper(fmt="iso", utc=True,
                                         key="time" if fmt == "json" else "timestamp"),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        add_request_context,
        _mask_secret_fields,
    ]
    if fmt == "json":
        render: list[Any] = [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
    else:
        render = [structlog.dev.ConsoleRenderer(colors=False)]
    formatter = (_JsonFormatter if fmt == "json" else structlog.stdlib.ProcessorFormatter)(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
    )
    # Record attributes nothing renders: not worth a system call per record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # Nor is the caller's file and line: finding them walks the stack on every record
    # (the logging HOWTO's "Optimization" section; a quarter of an access line's cost).
    logging._srcfile = None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # Replaces plain stream handlers (a basicConfig's); leaves others (a test's capture) alone.
    root.handlers[:] = [h for h in root.handlers if type(h) is not logging.StreamHandler]
    root.addHandler(handler)
    root.setLevel(level.upper())


def _mask_url(url: str) -> str:
    """A URL with its user-info (where passwords live) replaced: redis://***@host:6379/0."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f"{MASK}@{parts.netloc.rpartition('@')[2]}"))


def masked_config(config: Any) -> dict[str, Any]:
    """The configuration as a dict fit for a log line.

    A key declared `repr=False` in the config dataclasses is a secret: "***"
    when set, except a URL, which keeps everything but its user-info (any
    URL loses that: it is where passwords go).
    """
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            out[f.name] = masked_config(value)
        elif isinstance(value, str) and "://" in value:
            out[f.name] = _mask_url(value)
        elif not f.repr and value:
            out[f.name] = MASK
        else:
            out[f.name] = value
    return out
