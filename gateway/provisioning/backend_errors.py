"""Backend errors → SCIM errors, with backend field names turned back into SCIM paths.

The IdP must never see `first_name` or `employee_number`: it sent
`name.givenName` and `urn:...:employeeNumber`, so those are what the error names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.backend.errors import (
    BackendAuthError,
    BackendBadRequest,
    BackendConflict,
    BackendError,
    BackendInvalid,
    BackendNotFound,
    BackendStale,
    BackendUnavailable,
)
from gateway.idstore.base import IdStoreError
from gateway.mapping.resource_mapping import ResourceMapping
from gateway.scim.errors import ScimError
from gateway.scim.versions import Versions

log = logging.getLogger(__name__)

# Read-modify-write attempts when someone else changed the record in between
# (only when the IdP sent no If-Match of its own).
WRITE_ATTEMPTS = 3


def stale(what: str) -> ScimError:
    """412: the record changed since the version the IdP named (or we read)."""
    return ScimError(412, f"{what} has changed since the version given in If-Match")


def check_precondition(record: dict, if_match: Versions | None, what: str) -> int:
    """The lock_version to send as If-Match; 412 now if the IdP's version is already stale."""
    current: int = record["lock_version"]
    if if_match is not None and not if_match.matches(current):
        raise stale(what)
    return current


def _describe(fields: dict | None, mapping: ResourceMapping | None) -> str:
    parts = []
    for name, messages in (fields or {}).items():
        bound = mapping.field_for_backend(name) if mapping is not None else None
        label = bound.text if bound else "a mapped attribute"
        text = "; ".join(messages) if isinstance(messages, list) else str(messages)
        parts.append(f"'{label}' {text}")
    return ", ".join(parts)


def to_scim_error(exc: BackendError, mapping: ResourceMapping | None, what: str) -> ScimError:
    """The SCIM error the IdP should see for a backend error on `what` (e.g. 'User 12').

    `mapping` names fields in SCIM terms; without one they stay unnamed.
    """
    if isinstance(exc, BackendNotFound):
        return ScimError(404, f"{what} not found")
    if isinstance(exc, BackendConflict):
        described = _describe(exc.fields, mapping) or "a unique attribute is already taken"
        kind = mapping.rtype.name if mapping is not None else what
        return ScimError(409, f"{kind} already exists: {described}", "uniqueness")
    if isinstance(exc, BackendInvalid):
        described = _describe(exc.fields, mapping) or exc.message
        return ScimError(400, f"Invalid value: {described}", "invalidValue")
    if isinstance(exc, BackendStale):
        return stale(what)
    if isinstance(exc, BackendUnavailable):
        return ScimError(503, "Workstream is temporarily unavailable; retry later",
                         retry_after=max(1, int(exc.retry_after)))
    if isinstance(exc, BackendAuthError):
        log.error("the backend refused the gateway's service token: check backend.token")
        return ScimError(503, "Workstream is temporarily unavailable; retry later",
                         retry_after=30)
    if isinstance(exc, BackendBadRequest):
        # The mapping produced something the backend refuses: name it, don't 500.
        log.warning("backend refused a request as malformed: %s", exc.message)
        return ScimError(400, f"Workstream refused the request: {exc.message}", "invalidValue")
    log.error("unexpected backend error %s: %s", exc.status, exc.message)
    return ScimError(503, "Workstream answered with an error; retry later", retry_after=5)


@contextmanager
def backend_errors(mapping: ResourceMapping, what: str) -> Iterator[None]:
    """Translate any backend error raised inside the block."""
    try:
        yield
    except BackendError as exc:
        raise to_scim_error(exc, mapping, what) from None


# What escapes the translation blocks: the web layer's last line (see `escaped_error`).
ESCAPED = (BackendError, IdStoreError)


def escaped_error(exc: BackendError | IdStoreError) -> ScimError:
    """The SCIM error for a backend or id store fault no use case translated.

    Every backend and id store call on a request path should sit inside a
    `backend_errors` block; this is the structural guarantee for one that
    doesn't: a fault is still a 503 with Retry-After (never a 500 the IdP
    would not retry), and the log names it so the block can be added.
    """
    log.error("untranslated %s reached the web layer: %r", type(exc).__name__, exc)
    if isinstance(exc, IdStoreError):
        return ScimError(503, "The gateway's id store is unavailable; retry later",
                         retry_after=5)
    return to_scim_error(exc, None, "The resource")
