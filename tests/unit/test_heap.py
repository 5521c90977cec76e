"""The collector settings a serving process runs with (gateway/heap.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiohttp import web

from gateway import heap
from gateway.web import serve


def test_settling_freezes_what_start_up_built_and_spaces_out_young_passes() -> None:
    # In a process of its own: freezing pytest's heap would outlive this test.
    script = (
        "import gc\n"
        "from gateway import heap\n"
        "built_at_start_up = [[i] for i in range(5000)]\n"
        "before = gc.get_freeze_count()\n"
        "heap.settle()\n"
        "print(before, gc.get_freeze_count(), *gc.get_threshold())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    before, frozen, *thresholds = map(int, out)
    assert before == 0
    assert frozen >= 5000  # the start-up objects are out of every later pass
    assert thresholds == [heap.GEN0_THRESHOLD, heap.GEN1_THRESHOLD, heap.GEN2_THRESHOLD]
    assert heap.GEN0_THRESHOLD > 700  # CPython's default ran a pass every other request


def test_the_server_settles_the_heap_once_it_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    class Stop(Exception):
        pass

    async def start_site(app, config, **options):
        order.append("listening")
        return None, None

    def settle() -> None:
        order.append("settled")
        raise Stop  # ends serve.run here

    monkeypatch.setattr(serve, "start_site", start_site)
    monkeypatch.setattr(heap, "settle", settle)
    with pytest.raises(Stop):
        serve.run(web.Application(), None)  # type: ignore[arg-type]
    assert order == ["listening", "settled"]

