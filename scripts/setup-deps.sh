#!/usr/bin/env bash
# Install what gst-rtmp needs to build and test on Debian 12, and nothing when all is present.
#
#   scripts/setup-deps.sh           install the missing Debian packages (apt-get update only then)
#   scripts/setup-deps.sh --nms     also install node-media-server v4 into .deps/nms (git-ignored)
#   source scripts/setup-deps.sh    define the functions only (ensure_debian_packages,
#                                   ensure_node_media_server, stop_system_nginx), run nothing
#
# Idempotent and fast (one dpkg-query) when everything is installed. Never reads stdin.

# Debian packages: toolchain, GStreamer dev + runtime plugins, test peers (ffmpeg, nginx-rtmp).
GST_RTMP_DEBIAN_PACKAGES=(
  meson ninja-build pkg-config g++ clang libclang-rt-14-dev clang-format python3
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  ffmpeg nginx libnginx-mod-rtmp
  valgrind gnuplot-nox  # benchmarks: callgrind instruction counts, plots (tests/bench/run)
)
GST_RTMP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GST_RTMP_NMS_DIR="${GST_RTMP_NMS_DIR:-$GST_RTMP_ROOT/.deps/nms}"

_deps_log() { echo "setup-deps: $*" >&2; }

# Run a command as root: directly when we are root, else through sudo (non-interactive).
_deps_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo -n "$@"
  else
    _deps_log "need root to run: $* (no sudo)"
    return 1
  fi
}

# Print the packages of "$@" that are not installed (dpkg status other than "ii").
_deps_missing() {
  local pkg status
  declare -A installed=()
  while read -r status pkg; do
    [[ $status == ii ]] && installed[$pkg]=1
  done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null)
  for pkg in "$@"; do
    [[ -n ${installed[$pkg]:-} ]] || echo "$pkg"
  done
}

_deps_apt_install() {
  _deps_log "installing: $*"
  export DEBIAN_FRONTEND=noninteractive
  _deps_as_root apt-get update -q </dev/null &&
    _deps_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "$@" </dev/null
}

# Debian's nginx package starts a system nginx on port 80 when installed. Our tests run their own
# nginx instances (own prefix, port and pid file), so stop and disable the system one. Only the
# process named by the system pid file is touched, never other nginx instances.
stop_system_nginx() {
  local pidfile=/run/nginx.pid pid
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    _deps_as_root systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [[ -x /usr/sbin/update-rc.d ]]; then
    _deps_as_root update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
  [[ -s $pidfile ]] || return 0
  pid="$(cat "$pidfile" 2>/dev/null)"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 0
  _deps_log "stopping the system nginx (pid $pid)"
  _deps_as_root service nginx stop >/dev/null 2>&1 </dev/null || true
  if kill -0 "$pid" 2>/dev/null; then _deps_as_root kill "$pid" 2>/dev/null || true; fi
}

ensure_debian_packages() {
  local missing
  mapfile -t missing < <(_deps_missing "${GST_RTMP_DEBIAN_PACKAGES[@]}")
  if ((${#missing[@]} == 0)); then
    stop_system_nginx
    return 0
  fi
  _deps_apt_install "${missing[@]}" || { _deps_log "apt-get install failed"; return 1; }
  stop_system_nginx
}

# node-media-server v4, project-local (.deps/nms, git-ignored), for the interop tests that need a
# second server implementation. Prints nothing and returns quickly when already installed.
ensure_node_media_server() {
  if [[ -f $GST_RTMP_NMS_DIR/node_modules/node-media-server/package.json ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    _deps_apt_install nodejs npm || return 1
  fi
  _deps_log "installing node-media-server@4 into $GST_RTMP_NMS_DIR"
  mkdir -p "$GST_RTMP_NMS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$GST_RTMP_NMS_DIR" node-media-server@4 \
    </dev/null
}

# Path of the node-media-server entry point (after ensure_node_media_server).
node_media_server_dir() { echo "$GST_RTMP_NMS_DIR/node_modules/node-media-server"; }

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  ensure_debian_packages
  for arg in "$@"; do
    case "$arg" in
      --nms) ensure_node_media_server ;;
      *) _deps_log "unknown argument: $arg"; exit 2 ;;
    esac
  done
fi
