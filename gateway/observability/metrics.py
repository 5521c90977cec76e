"""Every Prometheus metric the gateway exports, defined once, and the /metrics rendering.

Built on the official `prometheus_client`. With several worker processes the
supervisor sets `PROMETHEUS_MULTIPROC_DIR` before any worker starts (the
client library picks its value store when it is first imported); each worker
then writes its samples to files there and `render()` aggregates every
worker's files, so any worker answers /metrics for the whole gateway.

A supervisor that only decides on multiprocess mode after importing this
module (it built the application before forking its workers) is covered too:
a worker forked after the variable was set switches to the multiprocess value
store as it starts (`_after_fork`), before it records anything.

Labels are low-cardinality by construction: org ids (one per customer), a
fixed set of IdP names, route templates ("PATCH /Users/{id}", "GET employees")
and status codes; never a user id, a userName or a raw path. Label children
are cached after first use, so recording a sample costs a dict lookup and an
increment.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

# `_created` series double the output and mean nothing in multiprocess mode.
disable_created_metrics()

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# SCIM answers: tens of ms typical, seconds when the backend retries (IdPs give up at 60 s).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
_BACKEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REBUILD_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)

SCIM_REQUESTS = Counter(
    "scim_requests_total", "SCIM requests answered, by org, IdP, operation and status",
    ["org", "idp", "operation", "status"])
SCIM_REQUEST_DURATION = Histogram(
    "scim_request_duration_seconds", "Time to answer a SCIM request, by operation",
    ["operation"], buckets=_REQUEST_BUCKETS)
BACKEND_REQUESTS = Counter(
    "backend_requests_total",
    "HTTP attempts on the internal API, by route template and status (error: no answer)",
    ["route", "status"])
BACKEND_REQUEST_DURATION = Histogram(
    "backend_request_duration_seconds", "Time of one HTTP attempt on the internal API",
    ["route"], buckets=_BACKEND_BUCKETS)
BACKEND_RETRIES = Counter(
    "backend_retries_total", "Internal API attempts repeated after a fault", ["route"])
BACKEND_RATE_LIMITED = Counter(
    "backend_rate_limited_total", "Internal API answers 429 (rate limited)", ["route"])
BACKEND_UNAVAILABLE = Counter(
    "backend_unavailable_total", "Internal API answers 503 (maintenance, overload)", ["route"])
AUTH_FAILURES = Counter(
    "auth_failures_total", "SCIM requests refused with 401, by reason", ["reason"])
REDIS_ERRORS = Counter(
    "redis_errors_total", "Failed id store (Redis) operations", ["operation"])
INDEX_REBUILDS = Counter(
    "index_rebuilds_total", "Index rebuilds and catch-ups from the backend",
    ["index", "kind"])
INDEX_REBUILD_DURATION = Histogram(
    "index_rebuild_duration_seconds", "Time of an index rebuild or catch-up",
    ["index", "kind"], buckets=_REBUILD_BUCKETS)
#: For the audit writer (issue 9 items 1-2): events stored, and events lost to a full buffer.
AUDIT_EVENTS_WRITTEN = Counter(
    "audit_events_written_total", "Audit events written to the state database")
AUDIT_EVENTS_DROPPED = Counter(
    "audit_events_dropped_total", "Audit events dropped because their buffer was full")

#: Why a SCIM request got a 401; the auth middleware counts each under one of these.
AUTH_FAILURE_REASONS = ("missing", "malformed", "unsupported_scheme", "invalid_basic",
                        "invalid_bearer", "throttled", "overloaded")
_LABELLED = (SCIM_REQUESTS, SCIM_REQUEST_DURATION, BACKEND_REQUESTS, BACKEND_REQUEST_DURATION,
             BACKEND_RETRIES, BACKEND_RATE_LIMITED, BACKEND_UNAVAILABLE, AUTH_FAILURES,
             REDIS_ERRORS, INDEX_REBUILDS, INDEX_REBUILD_DURATION)
_UNLABELLED = (AUDIT_EVENTS_WRITTEN, AUDIT_EVENTS_DROPPED)


class _Children:
    """A metric's label children, bound once per label combination and then reused."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def clear(self) -> None:
        self._cache.clear()

    def __call__(self, *labels: str) -> Any:
        child = self._cache.get(labels)
        if child is None:
            child = self._cache[labels] = self._metric.labels(*labels)
        return child


_auth_failures = _Children(AUTH_FAILURES)
_scim_requests = _Children(SCIM_REQUESTS)
_scim_duration = _Children(SCIM_REQUEST_DURATION)
_backend_requests = _Children(BACKEND_REQUESTS)
_backend_duration = _Children(BACKEND_REQUEST_DURATION)
_backend_retries = _Children(BACKEND_RETRIES)
_backend_rate_limited = _Children(BACKEND_RATE_LIMITED)
_backend_unavailable = _Children(BACKEND_UNAVAILABLE)
_redis_errors = _Children(REDIS_ERRORS)
_index_rebuilds = _Children(INDEX_REBUILDS)
_index_rebuild_duration = _Children(INDEX_REBUILD_DURATION)


def scim_request(org: str, idp: str, operation: str, status: int, seconds: float) -> None:
    _scim_requests(org, idp, operation, str(status)).inc()
    _scim_duration(operation).observe(seconds)


def backend_attempt(route: str, status: int, seconds: float) -> None:
    """One HTTP attempt on the backend; `status` 0 means no answer came."""
    _backend_requests(route, str(status) if status else "error").inc()
    _backend_duration(route).observe(seconds)
    if status == 429:
        _backend_rate_limited(route).inc()
    elif status == 503:
        _backend_unavailable(route).inc()


def backend_retry(route: str) -> None:
    _backend_retries(route).inc()


def auth_failure(reason: str) -> None:
    if reason not in AUTH_FAILURE_REASONS:
        raise ValueError(f"unknown auth failure reason {reason!r}")
    _auth_failures(reason).inc()


def redis_error(operation: str) -> None:
    _redis_errors(operation).inc()


def index_rebuilt(index: str, kind: str, seconds: float) -> None:
    _index_rebuilds(index, kind).inc()
    _index_rebuild_duration(index, kind).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


_CACHES = (_auth_failures, _scim_requests, _scim_duration, _backend_requests, _backend_duration,
           _backend_retries, _backend_rate_limited, _backend_unavailable, _redis_errors,
           _index_rebuilds, _index_rebuild_duration)
_imported_multiprocess = multiprocess()


def _after_fork() -> None:
    """In a forked worker: move to the multiprocess store if it was asked for after import.

    prometheus_client picks its value store when first imported, from the
    environment; a supervisor that set PROMETHEUS_MULTIPROC_DIR later (after
    building the app, before forking) would otherwise leave every worker
    counting in its own memory, invisible to /metrics. What the parent
    counted stays with the parent.
    """
    global _imported_multiprocess
    if _imported_multiprocess or not multiprocess():
        return  # nothing changed (a multiprocess store follows forks by itself)
    _imported_multiprocess = True
    values.ValueClass = values.get_value_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "clearing labels not implemented": there's nothing yet
        for metric in _LABELLED:
            metric.clear()
    for cache in _CACHES:
        cache.clear()
    for metric in _UNLABELLED:
        metric._metric_init()  # its one value, now from the multiprocess store


os.register_at_fork(after_in_child=_after_fork)


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type.

    In multiprocess mode the samples of every worker (live or exited) are
    merged from the shared directory; a fresh registry per scrape is what
    the client library prescribes.
    """
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
