"""The garbage collector's settings for a long-running server process.

Left at CPython's defaults, the collector runs a generation-0 pass every 700
net container allocations (a few requests' worth) and, every so often, a full
pass over every object the process holds: the imported modules, compiled
schemas and mappings, caches. Measured under the speed bench (issue 12) that
full pass took up to 93 ms with the event loop stopped, which is the lookup's
p99. Once the server is up, `settle()` moves everything alive into the
permanent generation (`gc.freeze`), so later passes only look at what requests
allocate, and spaces the young passes out.
"""

from __future__ import annotations

import gc

# Generation 0 is collected every GEN0 net container allocations (default 700); one
# lookup allocates a few hundred, so the default runs a pass every other request.
GEN0_THRESHOLD = 7_000
GEN1_THRESHOLD = 20  # generation-0 passes per generation-1 pass (default 10)
GEN2_THRESHOLD = 100  # generation-1 passes per full pass over what is not frozen (default 10)


def settle() -> None:
    """Call once the app is built and serving: collect, freeze the survivors, space passes out.

    Frozen objects are never scanned again; cycles among them are not reclaimed,
    which is why the collection runs first (start-up objects live as long as the
    process anyway). Workers call this after the fork, in their own process.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
