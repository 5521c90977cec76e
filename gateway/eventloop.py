"""The event loop the gateway runs on: uvloop when installed, asyncio's own otherwise.

uvloop (libuv, Cython) runs the same aiohttp code with cheaper sockets,
timers and callbacks; the fallback keeps platforms without a wheel working.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def new_event_loop(*, prefer_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A fresh loop: uvloop's when installed and preferred, else the standard one."""
    if prefer_uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: running on the standard asyncio loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
