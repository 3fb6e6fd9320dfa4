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
  python3-gi gir1.2-gstreamer-1.0  # PyGObject players of the interop tests (client_vod)
)
# node-media-server v4 declares Node.js >= 20; Debian 12's nodejs is 18. When the system node is
# older, an official Node.js build comes from the npm registry (package node-linux-ARCH) into
# .deps/node; .deps/nms/bin/node points at whichever node the NMS tests must use.
GST_RTMP_NODE_MAJOR_MIN=20
GST_RTMP_NODE_LOCAL_MAJOR=22
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

# apt-get update + install, quietly: one line before and one after; apt's own output goes to a
# log that is shown (its end) only when something failed.
_deps_apt_install() {
  local log rc=0
  log="$(mktemp "${TMPDIR:-/tmp}/gst-rtmp-apt.XXXXXX")"
  _deps_log "installing $# Debian packages: $*"
  {
    _deps_as_root apt-get update -q </dev/null &&
      _deps_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@" </dev/null
  } >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 40 "$log" >&2
    _deps_log "apt-get failed (exit $rc); the whole output: $log"
    return "$rc"
  fi
  _deps_log "installed: $(grep -c '^Setting up ' "$log") packages with their dependencies"
  rm -f "$log"
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

# The major version of the node binary $1 (0 when it does not run).
_deps_node_major() {
  local v
  v="$("$1" --version 2>/dev/null)" || { echo 0; return; }
  v="${v#v}"
  echo "${v%%.*}"
}

# Print the path of a node binary of at least GST_RTMP_NODE_MAJOR_MIN: the system one when it is
# new enough, else one installed from the npm registry into .deps/node.
_deps_ensure_node() {
  local node arch pkg dir="$GST_RTMP_ROOT/.deps/node" log
  node="$(command -v node || true)"
  if [[ -n $node ]] && (($(_deps_node_major "$node") >= GST_RTMP_NODE_MAJOR_MIN)); then
    echo "$node"
    return 0
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  pkg="node-linux-$arch"
  if (($(_deps_node_major "$dir/node_modules/$pkg/bin/node") >= GST_RTMP_NODE_MAJOR_MIN)); then
    echo "$dir/node_modules/$pkg/bin/node"
    return 0
  fi
  _deps_log "the system node is ${node:+$("$node" --version) }${node:-missing}; node-media-server v4" \
    "needs Node.js >= $GST_RTMP_NODE_MAJOR_MIN: installing $pkg@$GST_RTMP_NODE_LOCAL_MAJOR from npm into $dir"
  mkdir -p "$dir"
  log="$dir/npm-install.log"
  if ! npm install --no-audit --no-fund --prefix "$dir" "$pkg@$GST_RTMP_NODE_LOCAL_MAJOR" \
    </dev/null >"$log" 2>&1; then
    grep -E 'npm (ERR|error)' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
    _deps_log "npm could not install $pkg@$GST_RTMP_NODE_LOCAL_MAJOR (log: $log)"
    return 1
  fi
  if (($(_deps_node_major "$dir/node_modules/$pkg/bin/node") < GST_RTMP_NODE_MAJOR_MIN)); then
    _deps_log "npm installed $pkg@$GST_RTMP_NODE_LOCAL_MAJOR but $dir/node_modules/$pkg/bin/node does not run (log: $log)"
    return 1
  fi
  echo "$dir/node_modules/$pkg/bin/node"
}

# node-media-server v4, project-local (.deps/nms, git-ignored), for the interop tests that need a
# second server implementation, and .deps/nms/bin/node, the Node.js they run it with. Prints
# nothing and returns quickly when already installed. When it fails, npm's error is shown and the
# reason is kept in .deps/nms/install-error.txt, which the NMS tests report as their failure.
ensure_node_media_server() {
  local node log reason=""
  local pkg="$GST_RTMP_NMS_DIR/node_modules/node-media-server/package.json"
  if [[ -f $pkg && -x $GST_RTMP_NMS_DIR/bin/node ]] &&
    (($(_deps_node_major "$GST_RTMP_NMS_DIR/bin/node") >= GST_RTMP_NODE_MAJOR_MIN)); then
    return 0
  fi
  mkdir -p "$GST_RTMP_NMS_DIR/bin"
  rm -f "$GST_RTMP_NMS_DIR/install-error.txt"
  if ! command -v npm >/dev/null; then
    _deps_apt_install nodejs npm || reason="apt-get could not install nodejs and npm"
  fi
  if [[ -z $reason ]] && ! node="$(_deps_ensure_node)"; then
    reason="no Node.js >= $GST_RTMP_NODE_MAJOR_MIN (system node: $(node --version 2>/dev/null ||
      echo none)) and npm could not install one: see $GST_RTMP_ROOT/.deps/node/npm-install.log"
  fi
  if [[ -z $reason ]]; then
    ln -sfn "$node" "$GST_RTMP_NMS_DIR/bin/node"
    if [[ ! -f $pkg ]]; then
      _deps_log "installing node-media-server@4 into $GST_RTMP_NMS_DIR (runs on $node, $("$node" --version))"
      log="$GST_RTMP_NMS_DIR/npm-install.log"
      if ! npm install --no-audit --no-fund --prefix "$GST_RTMP_NMS_DIR" node-media-server@4 \
        </dev/null >"$log" 2>&1; then
        grep -E 'npm (ERR|error)' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
        reason="npm install node-media-server@4 failed: $(grep -m1 -E 'npm (ERR|error)' "$log" ||
          tail -n 1 "$log") (log: $log)"
      elif [[ ! -f $pkg ]]; then
        reason="npm install node-media-server@4 left no $pkg (log: $log)"
      fi
    fi
  fi
  if [[ -n $reason ]]; then
    _deps_log "$reason"
    echo "$reason" >"$GST_RTMP_NMS_DIR/install-error.txt"
    return 1
  fi
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
