#!/usr/bin/env bash
# Runs the benchmarks of issue 6 (see tests/bench/run and docs/performance.md):
#   scripts/bench.sh [--quick]
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/bench/run" "$@"
