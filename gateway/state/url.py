"""`state.url` as operators write it → the SQLAlchemy URL of its async driver.

Operators write the URLs their tools print (`sqlite:///gateway-state.db`,
`postgresql://user@host/db`); the gateway needs the async drivers (aiosqlite,
asyncpg), so the plain forms are mapped here, once.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class BadStateUrl(ValueError):
    """`state.url` is not a URL the gateway can use; the message says why."""


def async_url(url: str) -> URL:
    """The async-driver URL for `url`; raises BadStateUrl naming what is wrong."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadStateUrl(f"not a database URL: {describe_url(url)}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise BadStateUrl(f"unsupported database {parsed.drivername!r}: use sqlite:///FILE "
                          f"or postgresql://USER@HOST/DB")
    return parsed.set(drivername=driver)


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def describe_url(url: str | URL) -> str:
    """The URL with any password masked, fit for a log line or an error message."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "(unparseable URL)"
    return parsed.render_as_string(hide_password=True)
