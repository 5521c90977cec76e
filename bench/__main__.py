"""`python -m bench`: run every bench/bench_*.py, each in its own process, in name order.

Extra arguments are not passed on: each benchmark runs with its defaults.
Exits non-zero if any benchmark did.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for path in sorted(here.glob("bench_*.py")):
        module = f"{here.name}.{path.stem}"
        print(f"== python -m {module}", flush=True)
        code = subprocess.call([sys.executable, "-m", module], cwd=here.parent)
        if code != 0:
            failed.append(f"{module} (exit {code})")
        print(flush=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
