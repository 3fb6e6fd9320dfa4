#!/usr/bin/env bash
# Run the two README commands on a brand-new Debian 12, as a new user would:
#
#   scripts/fresh-check.sh            demo + test command in a fresh tree, print both closing lines
#   scripts/fresh-check.sh --demo     the demo only
#   scripts/fresh-check.sh --tests    the test command only
#   scripts/fresh-check.sh --shell    an interactive shell in the fresh tree (nothing is run)
#   scripts/fresh-check.sh --prepare  only build the cached base tree
#
# 1. Builds (once, cached in $FRESH_CHECK_DIR/base) a `debootstrap --variant=minbase bookworm`
#    tree from the first Debian mirror this machine's apt sources name, with only git and
#    ca-certificates added. The machine's local certificate authorities
#    (/usr/local/share/ca-certificates) are trusted there too, so that the package registries
#    answer inside as they do outside; nothing else of the host is copied in.
# 2. Copies the base to a fresh $FRESH_CHECK_DIR/run and clones the committed state of this
#    checkout (HEAD; uncommitted changes are not part of the check) into /root/gst-rtmp there.
# 3. Mounts proc, sys, dev, devpts and a tmpfs on /dev/shm, runs `./scripts/demo.sh` and then
#    `./scripts/run-tests.sh` in a clean environment (no variable of the caller's shell), with
#    their output in $FRESH_CHECK_DIR/demo.log and tests.log, and prints both closing lines.
# 4. Stops whatever the commands left running in the tree and unmounts everything, also on error
#    or interrupt.
#
# Needs root (debootstrap, chroot, mount). Exit status: 0 only if every command run passed.
# Environment: FRESH_CHECK_DIR (default /var/tmp/gst-rtmp-fresh-check), FRESH_CHECK_MIRROR
# (default: from /etc/apt/sources*), FRESH_CHECK_REBUILD=1 (make the base again).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

mode=all
case "${1:-}" in
  "") ;;
  --demo) mode=demo ;;
  --tests) mode=tests ;;
  --shell) mode=shell ;;
  --prepare) mode=prepare ;;
  *) echo "usage: $0 [--demo | --tests | --shell | --prepare]" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 ]]; then
  echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2
  exit 2
fi

dir="${FRESH_CHECK_DIR:-/var/tmp/gst-rtmp-fresh-check}"
base="$dir/base"
root="$dir/run"
log() { printf 'fresh-check: %s\n' "$*" >&2; }

# The first http(s) Debian mirror of the machine's apt sources (deb822 or one-line format).
apt_mirror() {
  local f line
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    while read -r line; do
      case "$line" in
        URIs:*) line="${line#URIs:}" ;;
        deb\ *) line="$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' <<<"$line")" ;;
        *) continue ;;
      esac
      for line in $line; do
        if [[ $line =~ ^https?:// && $line != *security* ]]; then
          echo "${line%/}"
          return 0
        fi
      done
    done <"$f"
  done
  return 1
}

make_base() {
  local mirror="${FRESH_CHECK_MIRROR:-}"
  [[ -n $mirror ]] || mirror="$(apt_mirror)" || {
    log "no Debian mirror found in /etc/apt/sources*; set FRESH_CHECK_MIRROR"
    exit 1
  }
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get install -y -q debootstrap >/dev/null
  }
  log "building the base tree in $base from $mirror (once)"
  rm -rf "$base.tmp"
  mkdir -p "$dir"
  debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" >"$dir/debootstrap.log" 2>&1 || {
    tail -n 30 "$dir/debootstrap.log" >&2
    log "debootstrap failed (log: $dir/debootstrap.log)"
    exit 1
  }
  cat >"$base.tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
  # The same apt settings as the machine (e.g. a snapshot mirror that must not expire), nothing
  # that installs packages.
  cp /etc/apt/apt.conf.d/99* "$base.tmp/etc/apt/apt.conf.d/" 2>/dev/null || true
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  mkdir -p "$base.tmp/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$base.tmp/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$base.tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive bash -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null && update-ca-certificates >/dev/null && apt-get clean' \
    >>"$dir/debootstrap.log" 2>&1 || {
    tail -n 30 "$dir/debootstrap.log" >&2
    log "installing git and ca-certificates in the base failed"
    exit 1
  }
  mv "$base.tmp" "$base"
}

mounted=()
mount_in() { # mount_in TARGET mount-args...
  local target="$root$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

# Processes whose root directory is the tree (nginx, ffmpeg, node left behind by a failure).
stop_tree_processes() {
  local p pids=()
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && pids+=("${p#/proc/}")
  done
  ((${#pids[@]} == 0)) && return 0
  kill "${pids[@]}" 2>/dev/null || true
  sleep 2
  kill -9 "${pids[@]}" 2>/dev/null || true
}

cleanup() {
  stop_tree_processes
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  mounted=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ${FRESH_CHECK_REBUILD:-0} == 1 ]]; then rm -rf "$base"; fi
[[ -d $base ]] || make_base
[[ $mode == prepare ]] && exit 0

# A tree of a previous run may still have mounts if it was killed hard.
for m in dev/shm dev/pts dev sys proc; do umount -l "$root/$m" 2>/dev/null || true; done
rm -rf "$root"
log "fresh copy of the base in $root"
cp -a "$base" "$root"
head="$(git -C "$repo" rev-parse HEAD)"
log "cloning $head ($(git -C "$repo" log -1 --format=%s HEAD | cut -c1-60))"
git clone -q --no-hardlinks "$repo" "$root/root/gst-rtmp"
git -C "$root/root/gst-rtmp" checkout -q "$head"

mount_in /proc -t proc proc
mount_in /sys -t sysfs sysfs
mount_in /dev --bind /dev
mount_in /dev/pts -t devpts -o newinstance,ptmxmode=0666 devpts
mount_in /dev/shm -t tmpfs -o mode=1777 tmpfs

in_tree() {
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" bash -c "cd /root/gst-rtmp && $1"
}

if [[ $mode == shell ]]; then
  in_tree "exec bash -i" </dev/tty
  exit 0
fi

status=0
demo_line="(not run)"
tests_line="(not run)"
if [[ $mode == all || $mode == demo ]]; then
  log "./scripts/demo.sh (log: $dir/demo.log)"
  t0=$SECONDS
  if in_tree ./scripts/demo.sh </dev/null >"$dir/demo.log" 2>&1; then
    demo_line="passed"
  else
    demo_line="FAILED (exit $?)"
    status=1
  fi
  demo_line+=" in $(((SECONDS - t0) / 60)) min: $(grep -v '^\s*$' "$dir/demo.log" | tail -n 1)"
fi
if [[ $mode == all || $mode == tests ]]; then
  log "./scripts/run-tests.sh (log: $dir/tests.log)"
  t0=$SECONDS
  if in_tree ./scripts/run-tests.sh </dev/null >"$dir/tests.log" 2>&1; then
    tests_line="exit 0"
  else
    tests_line="exit $?"
    status=1
  fi
  tests_line+=" in $(((SECONDS - t0) / 60)) min: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/tests.log" | tail -n 1)"
  grep -E '^  (FAILED|skipped):' "$dir/tests.log" >&2 || true
fi
echo "fresh Debian 12, $head:"
echo "  ./scripts/demo.sh:      $demo_line"
echo "  ./scripts/run-tests.sh: $tests_line"
exit "$status"
