"""Where a server's time goes: py-spy's raw (collapsed) stacks summed into ranked lists.

`bench.bench_speed --profile DIR` records the gateway under the lookup load
with `py-spy record --format raw` and prints these summaries: own time by
area of the code, and the inclusive share of the gateway's own functions.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# Frames look like "function (path/to/file.py:123)".
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")

# (area, substring of the file path or function), first match wins: most specific first.
AREAS = [
    # asyncio's transport write is one send() syscall: the kernel's loopback TCP work.
    ("socket send() syscalls (kernel TCP)", "Transport.write ("),
    ("redis client (redis-py, parser)", "(redis/"),
    ("hiredis", "hiredis"),
    ("aiohttp client (backend calls)", "(aiohttp/client"),
    ("aiohttp connector / pool", "(aiohttp/connector"),
    ("aiohttp server (HTTP parsing, response writing)", "(aiohttp/web"),
    ("aiohttp other", "(aiohttp/"),
    ("multidict / yarl (headers, URLs)", "(multidict/"),
    ("multidict / yarl (headers, URLs)", "(yarl/"),
    ("JSON (orjson / json)", "json"),
    ("gateway web layer (handlers, middlewares, auth, params)", "gateway/web/"),
    ("gateway auth (credential checks)", "gateway/auth/"),
    ("gateway backend client", "gateway/backend/"),
    ("gateway provisioning (planner, index, use cases)", "gateway/provisioning/"),
    ("gateway mapping", "gateway/mapping"),
    ("gateway mapping", "(mappings/"),
    ("gateway SCIM core (filter, projection, schema)", "gateway/scim/"),
    ("gateway other", "gateway/"),
    ("lark (filter grammar)", "(lark/"),
    ("asyncio / event loop", "(asyncio/"),
    ("asyncio / event loop", "uvloop"),
]


def _area(frame: str) -> str:
    for name, needle in AREAS:
        if needle in frame:
            return name
    return "other (stdlib, interpreter)"


def _stacks(raw: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def summarise(raw: Path, top: int = 20) -> str:
    """Own time by area (of the innermost frame) and inclusive time of gateway functions."""
    stacks = _stacks(raw)
    total = sum(count for _, count in stacks)
    if not total:
        return f"{raw}: no samples"
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        own[_area(frames[-1])] += count
        seen = set()
        for frame in frames:
            match = _FRAME.match(frame)
            where = match["file"] if match else frame
            if "gateway/" in where and frame not in seen:
                seen.add(frame)
                name = f"{match['func'] if match else frame} ({where.split('gateway/', 1)[1]})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
    lines = [f"profile {raw} ({total} samples)", "  own time by area:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common()]
    lines.append("  inclusive time of gateway functions:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)
