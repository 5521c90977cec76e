"""Client of Workstream's internal API: the only module that speaks HTTP to the backend."""

from gateway.backend.client import BackendClient, Page
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

__all__ = [
    "BackendAuthError",
    "BackendBadRequest",
    "BackendClient",
    "BackendConflict",
    "BackendError",
    "BackendInvalid",
    "BackendNotFound",
    "BackendStale",
    "BackendUnavailable",
    "Page",
]
