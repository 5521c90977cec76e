"""Seeing what the gateway does: request context, JSON logs, Prometheus metrics.

`context` holds what one SCIM request has done so far (who asked, which
backend calls it made); `logs` renders every log record as one JSON line with
that context merged in; `metrics` defines every Prometheus metric once.
"""
