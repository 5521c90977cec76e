#!/usr/bin/env bash
# bench/bench_workers.py drives its load with wrk (a C load generator, so the load costs
# little of the cores it measures). Install it from Debian's packages if missing; without
# it the benchmark falls back to its Python load generator, so a failure here is a warning.
set -uo pipefail
command -v wrk >/dev/null 2>&1 && exit 0
echo "wrk not found; installing it from Debian's packages" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }; then
  echo "could not install wrk: bench/bench_workers.py will use its Python load generator" >&2
fi
exit 0
