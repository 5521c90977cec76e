"""The gateway's state database: the one durable store the gateway owns (see `db`).

Redis stays a cache and a lock service; what must survive it (credentials,
group externalIds, the audit trail, the user index) lives here.
"""

from gateway.state.db import StateCorrupt, StateDB, StateError, StateUnavailable
from gateway.state.url import async_url, describe_url

__all__ = [
    "StateCorrupt",
    "StateDB",
    "StateError",
    "StateUnavailable",
    "async_url",
    "describe_url",
]
