#!/usr/bin/env bash
# The first README command: install what is missing, build into build/, run the main job.
#
# The main job is the loopback demo (tests/tools/loopback_demo.cpp, meson target
# `loopback-demo`): one pipeline publishes a live test pattern with sound through our rtmpsink
# to a second pipeline that ingests it with our rtmpserversrc ! flvdemux, on a free loopback
# port. It prints every second what arrived (frames, audio buffers, bitrate), then the caps, tags
# and server stats, and exits 0 only if every encoded frame and audio buffer arrived intact and
# in order (MD5 chains compared) with the onMetaData title, within a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

./scripts/setup-deps.sh
./scripts/build.sh default

exe="$(meson introspect --targets build | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == "loopback-demo" and t["type"] == "executable":
        print(t["filename"][0])
        break
')"
if [[ -z $exe || ! -x $exe ]]; then
  echo "demo: the loopback-demo program was not built (meson target in tests/interop/meson.build)" >&2
  exit 1
fi
# Our plugin from the build directory, with a private registry so that the system librtmp
# plugin (same plugin and element names) cannot be picked instead.
export GST_PLUGIN_PATH="$PWD/build/gst/rtmp/elements"
export GST_REGISTRY="$PWD/build/demo-registry.bin"
echo "demo: running $exe"
exec timeout 60 "$exe"
