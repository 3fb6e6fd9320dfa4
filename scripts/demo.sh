#!/usr/bin/env bash
# The first README command: install what is missing, build into build/, run the main job.
#
# For now the main job is the core self-check (tests/tools/core_selfcheck.cpp, meson target
# `core-selfcheck`), which exercises the sans-IO core end to end in memory and reports what it saw.
# Later issues replace it with a loopback rtmpsink -> rtmpserversrc pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

./scripts/setup-deps.sh
./scripts/build.sh default

exe="$(meson introspect --targets build | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == "core-selfcheck" and t["type"] == "executable":
        print(t["filename"][0])
        break
')"
if [[ -z $exe || ! -x $exe ]]; then
  echo "demo: the core-selfcheck program is not built yet (tests/tools/core_selfcheck.cpp and its" >&2
  echo "demo: meson target 'core-selfcheck' in tests/core/meson.build are still to come)" >&2
  exit 1
fi
echo "demo: running $exe"
exec "$exe"
