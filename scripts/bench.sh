#!/usr/bin/env bash
# Runs the benchmarks (see tests/bench/run and docs/performance.md):
#   scripts/bench.sh [--quick]
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/bench/run" "$@"
