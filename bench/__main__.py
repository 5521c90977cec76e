"""`python -m bench`: run every bench/bench_*.py, each in its own process, in name order.

`python -m bench NAME [ARGS...]` runs only bench/bench_NAME.py, with ARGS
(e.g. `python -m bench speed --duration 20`). Without a name, each benchmark
runs with its defaults. Exits non-zero if any benchmark did.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        module = f"{here.name}.bench_{sys.argv[1]}"
        if not (here / f"bench_{sys.argv[1]}.py").exists():
            print(f"no benchmark {module}", file=sys.stderr)
            return 2
        return subprocess.call([sys.executable, "-m", module, *sys.argv[2:]], cwd=here.parent)
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
