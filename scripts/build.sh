#!/usr/bin/env bash
# Configure (once) and build one of the three build directories used by the scripts:
#
#   scripts/build.sh [default] [TARGET...]   build/       gcc, -Dwerror=true (what CI gates on)
#   scripts/build.sh asan [TARGET...]        build-asan/  AddressSanitizer + UBSan
#   scripts/build.sh fuzz [TARGET...]        build-fuzz/  clang, -Dfuzz=enabled, libFuzzer + ASan/UBSan
#
# With TARGETs only those ninja targets are built (e.g. tests/core/test_amf0), else everything.
# Extra `meson setup` options can be passed in MESON_ARGS (space separated); JOBS sets the ninja
# parallelism (default 2: the CI machine has 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=default
case "${1:-}" in
  default | asan | fuzz) profile="$1"; shift ;;
esac
jobs="${JOBS:-2}"
read -r -a extra <<<"${MESON_ARGS:-}"

case "$profile" in
  default)
    dir=build
    compiler="${CXX:-g++}"
    opts=(-Dwerror=true)
    ;;
  asan)
    dir=build-asan
    compiler="${CXX:-g++}"
    # b_lundef=false: the sanitizer runtime is linked into executables only, so shared objects
    # (the plugin) have undefined __asan_* symbols at link time.
    # -O1: what the ASan docs recommend (readable reports, reasonable speed), and it compiles
    # noticeably faster than -O2 on the 2-core CI machine.
    opts=(-Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 -Dbenchmarks=disabled)
    ;;
  fuzz)
    dir=build-fuzz
    compiler=clang++
    # fuzzer-no-link instruments the core libraries for coverage too (the fuzz executables add
    # -fsanitize=fuzzer at link time); no-recover makes any UBSan finding a crash the fuzzer sees.
    opts=(-Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1
      -Dbenchmarks=disabled
      "-Dcpp_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all")
    ;;
esac

# The options this script last applied, so that an unchanged configuration is left untouched
# (`meson configure` would make ninja regenerate the build files every time).
stamp="$dir/.gst-rtmp-options"
wanted="$(printf '%s\n' "${opts[@]}" "${extra[@]}")"
if [[ -f $dir/meson-private/coredata.dat ]]; then
  if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    meson configure "$dir" "${opts[@]}" "${extra[@]}" >/dev/null
    printf '%s\n' "$wanted" >"$stamp"
  fi
else
  rm -rf "$dir"
  CXX="$compiler" meson setup "$dir" "${opts[@]}" "${extra[@]}" >"${TMPDIR:-/tmp}/meson-setup-$profile.$$.log" 2>&1 || {
    cat "${TMPDIR:-/tmp}/meson-setup-$profile.$$.log" >&2
    rm -f "${TMPDIR:-/tmp}/meson-setup-$profile.$$.log"
    echo "build.sh: meson setup $dir failed" >&2
    exit 1
  }
  rm -f "${TMPDIR:-/tmp}/meson-setup-$profile.$$.log"
  printf '%s\n' "$wanted" >"$stamp"
fi

ninja -C "$dir" -j "$jobs" "$@"
