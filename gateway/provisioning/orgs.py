"""The org gate: SCIM is served only to orgs with both SAML and SCIM enabled.

The backend doesn't enforce the flags, so the gateway does. Flags are cached
per process for `org_cache_ttl_s` so the hot path doesn't pay a backend call
per request; a change of flags takes effect within that time. When the flags
expire, the requests in flight share one read instead of each making its own.
"""

from __future__ import annotations

import asyncio
import time

from gateway.backend.client import BackendClient
from gateway.backend.errors import BackendError, BackendNotFound
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.backend_errors import to_scim_error
from gateway.scim.errors import ScimError


class OrgGate:
    def __init__(self, backend: BackendClient, mappings: MappingRegistry, ttl_s: float) -> None:
        self._backend = backend
        self._mappings = mappings
        self._ttl_s = ttl_s
        self._cache: dict[int, tuple[float, bool]] = {}
        self._reading: dict[int, asyncio.Future[tuple[float, bool]]] = {}

    def forget(self, org_id: int) -> None:
        """Drop the cached flags of an org (read again on its next request)."""
        self._cache.pop(org_id, None)
        self._reading.pop(org_id, None)  # a read already under way may predate the change

    async def check(self, org_id: int) -> None:
        """Raise a SCIM 403 unless the org may be provisioned."""
        cached = self._cache.get(org_id)
        if cached is None or cached[0] < time.monotonic():
            reading = self._reading.get(org_id)
            if reading is None:
                reading = asyncio.ensure_future(self._read(org_id))
                self._reading[org_id] = reading
                reading.add_done_callback(lambda done: self._done_reading(org_id, done))
            # shield: one caller hanging up must not cancel the read the others wait on.
            cached = await asyncio.shield(reading)
        if not cached[1]:
            raise ScimError(
                403,
                "SCIM provisioning is not enabled for this organization: SAML and SCIM must be "
                "enabled in Workstream's admin settings first",
            )

    def _done_reading(self, org_id: int, done: asyncio.Future) -> None:
        if self._reading.get(org_id) is done:
            del self._reading[org_id]
        if not done.cancelled():
            done.exception()  # retrieved here, so a read nobody awaits any more logs nothing

    async def _read(self, org_id: int) -> tuple[float, bool]:
        now = time.monotonic()
        try:
            org = await self._backend.get_org(org_id)
        except BackendNotFound:
            raise ScimError(403, "This credential's organization no longer exists") from None
        except BackendError as exc:
            raise to_scim_error(exc, self._mappings.default.user, "Organization") from None
        allowed = bool(org.get("saml_enabled")) and bool(org.get("scim_enabled"))
        cached = (now + self._ttl_s, allowed)
        self._cache[org_id] = cached
        return cached
