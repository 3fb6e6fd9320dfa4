#!/usr/bin/env bash
# The whole test command (README, .ci/run): installs what is missing (Debian packages and
# node-media-server, scripts/setup-deps.sh --nms), then
#
#   1. build/       gcc, -Dwerror=true, every target; `meson test` (all suites)
#   2. build-asan/  ASan+UBSan (halt_on_error, detect_leaks=1), the test executables of ASAN_SUITES
#                   (default: core); `meson test` on those suites
#   3. build-fuzz/  clang + libFuzzer: `meson test --suite fuzz` replays each seed corpus, then each
#                   fuzz target runs FUZZ_SECONDS (default 20) on a temporary copy of its corpus
#   4. the benchmarks' smoke run: tests/bench/run --quick on build/ (figures not checked)
#   5. the sans-IO check: gst/rtmp/core includes no GStreamer/GIO header
#
# and counts individual results: each gtest case (from the junit XML meson's gtest protocol makes
# the executables write), each other meson test (meson-logs/testlog.json), each fuzz run, each
# check, each failed build. The last line is exactly "N passed, N failed" (", N skipped" when any);
# the exit status is non-zero when anything failed. Needs no stdin; -j2 everywhere.
#
# Environment: FUZZ_SECONDS, ASAN_SUITES (space separated meson suites), SKIP_ASAN=1, SKIP_FUZZ=1,
# SKIP_BENCH=1, JOBS (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
ASAN_SUITES="${ASAN_SUITES:-core}"
export JOBS="${JOBS:-2}"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1"
export GST_REGISTRY_UPDATE=yes

work="$(mktemp -d /tmp/gst-rtmp-tests.XXXXXX)"
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv" # kind <TAB> name <TAB> pass|fail|skip
: >"$results"
start=$SECONDS

section() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - start)); }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }

# Count the results of the last `meson test` run in build dir $1 (label $2): one result per gtest
# case from the XML written by each gtest executable, one per other test from testlog.json; a gtest
# executable that failed without a failing case (crash, sanitizer report at exit, timeout) counts
# as one failure; one that ran no case at all (placeholder) counts as one skipped. A skipped test
# or case counts as failed: scripts/setup-deps.sh installs everything the tests use.
count_meson_results() {
  python3 - "$1" "$2" >>"$results" <<'EOF'
import json, os, subprocess, sys
import xml.etree.ElementTree as ET

builddir, label = sys.argv[1], sys.argv[2]
logpath = os.path.join(builddir, "meson-logs", "testlog.json")
out = []
specs = {t["name"]: t for t in json.loads(subprocess.run(
    ["meson", "introspect", "--tests", builddir], check=True, capture_output=True).stdout)}
try:
    lines = open(logpath, encoding="utf-8", errors="replace").read().splitlines()
except FileNotFoundError:
    lines = []
    out.append(("meson", f"{label}: no {logpath}", "fail"))
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    name, res = t["name"], t["result"]
    ok = res in ("OK", "EXPECTEDFAIL")
    # testlog.json names tests "project:suite / name"; introspection by the plain name.
    spec = specs.get(name) or specs.get(name.rsplit(" / ", 1)[-1])
    name = name.rsplit(" / ", 1)[-1] if spec is not None else name
    if spec is None or spec["protocol"] != "gtest":
        # The set-up installs everything the tests need, so a test that skips (exit 77) lacks
        # something it should have had: a failure, named as such.
        out.append(("test", f"{label}: {name}" + (" (skipped)" if res == "SKIP" else ""),
                    "pass" if ok else "fail"))
        continue
    # meson runs gtest executables with --gtest_output=xml:<name>.xml in the test's workdir
    # (the build dir when none is set).
    xml = os.path.join(spec["workdir"] or builddir, name + ".xml")
    cases = []
    try:
        for tc in ET.parse(xml).getroot().iter("testcase"):
            case = f"{label}: {name}: {tc.get('classname')}.{tc.get('name')}"
            if tc.find("failure") is not None or tc.find("error") is not None:
                cases.append((case, "fail"))
            elif tc.get("result") == "skipped" or tc.find("skipped") is not None \
                    or tc.get("status") == "notrun":
                cases.append((case + " (skipped)", "fail"))
            else:
                cases.append((case, "pass"))
    except (FileNotFoundError, ET.ParseError):
        pass
    out += [("gtest", c, r) for c, r in cases]
    if not ok and not any(r == "fail" for _, r in cases):
        out.append(("gtest", f"{label}: {name} ({res}, exit {t.get('returncode')})", "fail"))
    elif ok and not cases:
        out.append(("gtest", f"{label}: {name} (no test cases)", "skip"))
for kind, name, res in out:
    print(f"{kind}\t{name}\t{res}")
EOF
}

# meson test in build dir $1 (label $2) with extra args; stale gtest XML is removed first so that
# a crashed executable cannot be credited with an older run's cases.
run_meson_tests() {
  local dir="$1" label="$2"
  shift 2
  find "$dir" -maxdepth 1 -name '*.xml' -delete
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --no-rebuild --num-processes "$JOBS" --print-errorlogs "$@" ||
    echo "(meson test in $dir reported failures)"
  count_meson_results "$dir" "$label"
}

# Ninja targets (paths relative to the build dir) of the tests of the given suites.
test_targets() {
  local dir="$1"
  shift
  meson introspect --tests "$dir" | python3 -c '
import json, os, sys
d, suites = sys.argv[1], set(sys.argv[2:])
seen = set()
for t in json.load(sys.stdin):
    s = {x.split(":")[-1] for x in t["suite"]}
    if suites & s:
        p = os.path.relpath(t["cmd"][0], os.path.abspath(d))
        if p not in seen:
            seen.add(p)
            print(p)
' "$dir" "$@"
}

section "dependencies"
if ! ./scripts/setup-deps.sh; then
  echo "setup-deps failed"
  record build "dependencies (scripts/setup-deps.sh)" fail
fi
# node-media-server v4 (npm, into .deps/nms) for the suite nms; when it cannot be installed the
# nms tests fail naming the reason, and so does this step.
if ! (source ./scripts/setup-deps.sh && ensure_node_media_server); then
  echo "could not install node-media-server, the nms tests will fail: $(cat .deps/nms/install-error.txt 2>/dev/null)"
  record build "node-media-server (scripts/setup-deps.sh --nms)" fail
fi

section "build/ (gcc, -Dwerror=true)"
if ./scripts/build.sh default; then
  section "meson test: build/"
  run_meson_tests build build
else
  record build "build/ (gcc, werror)" fail
fi

if [[ ${SKIP_ASAN:-0} != 1 ]]; then
  section "build-asan/ (ASan+UBSan; suites: $ASAN_SUITES)"
  read -r -a asan_suites <<<"$ASAN_SUITES"
  if ./scripts/build.sh asan build.ninja >/dev/null &&
    mapfile -t targets < <(test_targets build-asan "${asan_suites[@]}") &&
    ((${#targets[@]} > 0)) && ./scripts/build.sh asan "${targets[@]}"; then
    section "meson test: build-asan/"
    suite_args=()
    for s in "${asan_suites[@]}"; do suite_args+=(--suite "$s"); done
    run_meson_tests build-asan asan "${suite_args[@]}"
  else
    record build "build-asan/ (ASan+UBSan)" fail
  fi
fi

if [[ ${SKIP_FUZZ:-0} != 1 ]]; then
  section "build-fuzz/ (clang, libFuzzer, ${FUZZ_SECONDS}s per target)"
  fuzz_ok=0
  if ./scripts/build.sh fuzz build.ninja >/dev/null; then
    # Pick up fuzz targets added since the directory was configured (meson does not glob).
    meson setup --reconfigure build-fuzz >/dev/null 2>&1 && ninja -C build-fuzz build.ninja >/dev/null
    mapfile -t fuzz_targets < <(test_targets build-fuzz fuzz)
    if ((${#fuzz_targets[@]} == 0)); then
      echo "no fuzz targets yet"
      fuzz_ok=1
    elif ./scripts/build.sh fuzz "${fuzz_targets[@]}"; then
      fuzz_ok=1
    fi
  fi
  if ((fuzz_ok == 0)); then
    record build "build-fuzz/ (clang, libFuzzer)" fail
  elif ((${#fuzz_targets[@]} > 0)); then
    section "meson test: build-fuzz/ (seed corpus replay)"
    run_meson_tests build-fuzz fuzz --suite fuzz
    for target in "${fuzz_targets[@]}"; do
      name="$(basename "$target")"
      corpus_src="tests/fuzz/corpus/${name#fuzz_}"
      corpus="$work/corpus/$name"
      artifacts="build-fuzz/fuzz-artifacts/$name"
      mkdir -p "$corpus" "$artifacts"
      [[ -d $corpus_src ]] && cp -r "$corpus_src/." "$corpus/"
      section "fuzz $name (${FUZZ_SECONDS}s, seeds: $(find "$corpus" -type f | wc -l))"
      if "build-fuzz/$target" -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$work/$name.log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|Done)' "$work/$name.log" | tr '\n' ' '
        echo
        record fuzz "fuzz: $name ${FUZZ_SECONDS}s" pass
      else
        tail -n 60 "$work/$name.log"
        echo "fuzz $name FAILED: crashing input kept in $artifacts/"
        record fuzz "fuzz: $name ${FUZZ_SECONDS}s" fail
      fi
    done
  fi
fi

# The benchmarks' smoke run: every benchmark works
# and its data arrived complete, on a tiny input and the debug build/ (no second build); the
# figures are not checked. Skipped with SKIP_BENCH=1.
if [[ ${SKIP_BENCH:-0} != 1 ]]; then
  section "benchmarks: tests/bench/run --quick (smoke test, build/)"
  if BUILD_DIR=build BENCH_OUT="$work/bench" tests/bench/run --quick >"$work/bench.log" 2>&1; then
    tail -n 25 "$work/bench.log"
    record bench "tests/bench/run --quick" pass
  else
    tail -n 80 "$work/bench.log"
    record bench "tests/bench/run --quick" fail
  fi
fi

section "check: sans-IO core (no GStreamer/GIO includes in gst/rtmp/core)"
if grep -rnE '#include *[<"](gst/|gio/|glib-object)' gst/rtmp/core; then
  echo "FAIL: the core must not include GStreamer/GIO headers (see STYLE.md §1)"
  record check "core has no GStreamer/GIO includes" fail
else
  echo "ok"
  record check "core has no GStreamer/GIO includes" pass
fi

section "summary"
python3 - "$results" <<'EOF'
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(collections.Counter)
for kind, name, res in rows:
    by[kind][res] += 1
for kind in sorted(by):
    c = by[kind]
    print(f"  {kind:6} {c['pass']:5} passed {c['fail']:4} failed {c['skip']:4} skipped")
for kind, name, res in rows:
    if res == "fail":
        print(f"  FAILED: {name}")
skipped = [name for kind, name, res in rows if res == "skip"]
if skipped:
    print(f"  skipped: {len(skipped)} (first: {skipped[0]})")
EOF
read -r passed failed skipped < <(awk -F'\t' '{n[$3]++} END {print n["pass"]+0, n["fail"]+0, n["skip"]+0}' "$results")
echo "time: $((SECONDS - start)) s"
line="$passed passed, $failed failed"
((skipped > 0)) && line+=", $skipped skipped"
echo "$line"
((failed == 0 && passed > 0))
