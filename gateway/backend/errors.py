"""Exceptions for answers of the internal API.

One type per outcome the provisioning layer must treat differently, so it can
map them to SCIM errors without looking at status codes or error bodies.
"""

from __future__ import annotations

from typing import Any


class BackendError(Exception):
    """A non-2xx answer (or a fault) from the internal API.

    `code` and `message` come from the backend's error body when it had one;
    `fields` maps a backend field name to its messages (409 and 422 only).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields: dict[str, list[str]] = dict(fields or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class BackendBadRequest(BackendError):
    """400: the gateway sent something the backend cannot parse (a gateway bug or bad input)."""


class BackendAuthError(BackendError):
    """401: the gateway's service token is wrong; a misconfiguration, not the IdP's fault."""


class BackendNotFound(BackendError):
    """404: no such org / employee / team in this org."""


class BackendStale(BackendError):
    """412: `If-Match` did not match the record's `lock_version`."""


class BackendConflict(BackendError):
    """409: a uniqueness rule would be broken; `fields` says which."""


class BackendInvalid(BackendError):
    """422: a field value failed validation; `fields` says which."""


class BackendUnavailable(BackendError):
    """The backend could not answer in time (429/5xx/timeouts/connection failures).

    `retry_after` is always an integer number of seconds, ready to be sent to
    the IdP as `Retry-After` on a SCIM 503.
    """

    def __init__(self, retry_after: int, reason: str, *, status: int = 503) -> None:
        super().__init__(status, "unavailable", reason)
        self.retry_after = max(1, int(retry_after))
        self.reason = reason

    def __repr__(self) -> str:
        return f"BackendUnavailable(retry_after={self.retry_after}, reason={self.reason!r})"


_BY_STATUS: dict[int, type[BackendError]] = {
    400: BackendBadRequest,
    401: BackendAuthError,
    404: BackendNotFound,
    409: BackendConflict,
    412: BackendStale,
    422: BackendInvalid,
}


def error_for(status: int, body: Any) -> BackendError:
    """Build the exception for a final non-2xx answer from its status and parsed body.

    A body that is not the documented `{"error": {...}}` shape (a proxy's HTML
    page, nothing at all) is tolerated: the status alone decides the type.
    """
    code, message, fields = f"http_{status}", f"backend answered {status}", None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
        raw_fields = err.get("fields")
        if isinstance(raw_fields, dict):
            fields = {
                str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)]
                for k, v in raw_fields.items()
            }
    cls = _BY_STATUS.get(status, BackendError)
    return cls(status, code, message, fields)
