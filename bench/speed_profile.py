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

WRITES = "socket writes (send syscalls)"

# (area, substring of the file path or function), first match wins: most specific first.
AREAS = [
    # A write is one send() syscall; on a busy machine the sender is often preempted in
    # it (the receiver wakes up), so these samples are mostly waiting for a CPU.
    (WRITES, "Transport.write ("),
    (WRITES, "StreamWriter._write"),
    (WRITES, "StreamWriter.writelines ("),
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
    # uvloop runs callbacks from C: its own time lands on the frame that started the loop.
    ("asyncio / event loop", "run_until_complete"),
    ("asyncio / event loop", "(bench/bench_speed.py"),
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
    rest = (total - own[WRITES]) or 1
    lines = [f"profile {raw} ({total} samples)",
             "  own time by area (% of all samples, % of those outside socket writes):"]
    for name, n in own.most_common():
        share = "" if name == WRITES else f"{100 * n / rest:5.1f}%"
        lines.append(f"    {100 * n / total:5.1f}%  {share:>6}  {name}")
    lines.append("  inclusive time of gateway functions:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)
