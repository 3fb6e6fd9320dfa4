#!/usr/bin/env bash
# Capture raw RTMP transcripts from real software (ffmpeg against nginx-rtmp) through
# tests/tools/rtmp_capture_proxy.py, for the replay tests in tests/core/.
#
#   (a) ffmpeg publishes a 3 s generated clip through the proxy      -> ffmpeg_publish.{c2s,s2c}.bin
#   (b) ffmpeg plays through the proxy while a second ffmpeg publishes
#       the same kind of clip directly to nginx                        -> ffmpeg_play.{c2s,s2c}.bin
#
# It also prints the packet counts (ffprobe -show_packets) that tests/data/transcripts/README.md
# records. Usage: tests/tools/capture_transcripts.sh [OUTDIR]   (default: tests/data/transcripts)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
outdir="${1:-$root/tests/data/transcripts}"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

NGX_RTMP_MODULE="${NGX_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}"
for tool in nginx ffmpeg ffprobe python3; do
  command -v "$tool" >/dev/null || { echo "capture: $tool not found (run scripts/setup-deps.sh)" >&2; exit 1; }
done
[[ -f $NGX_RTMP_MODULE ]] || { echo "capture: $NGX_RTMP_MODULE missing (libnginx-mod-rtmp)" >&2; exit 1; }

work="$(mktemp -d /tmp/rtmp-capture.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "capture: work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # wait until 127.0.0.1:$1 accepts connections
  local i
  for i in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "capture: nothing listens on port $1" >&2
  return 1
}

# --- nginx-rtmp with its own prefix, config, pid and logs -----------------------------------------
ngx_port="$(free_port)"
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
load_module $NGX_RTMP_MODULE;
daemon off;
master_process off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log info;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:$ngx_port;
    chunk_size 4096;
    # Keep every message of the short clip queued for slow readers rather than dropping frames.
    out_queue 4096;
    max_message 16M;
    application live { live on; }
  }
}
EOF
nginx -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" &
pids+=($!)
wait_port "$ngx_port"

start_proxy() { # start_proxy PREFIX -> sets proxy_port, proxy_pid
  local fifo="$work/proxy.$RANDOM.out"
  python3 "$here/rtmp_capture_proxy.py" --upstream "127.0.0.1:$ngx_port" --out "$1" \
    --max-connections 1 >"$fifo" 2>"$1.log" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  local i
  for i in $(seq 1 100); do
    if grep -q '^listening on' "$fifo" 2>/dev/null; then break; fi
    sleep 0.05
  done
  proxy_port="$(sed -n 's/^listening on //p' "$fifo")"
  [[ -n $proxy_port ]] || { echo "capture: proxy did not start" >&2; exit 1; }
}

ff=(ffmpeg -hide_banner -loglevel error -nostdin -y)
clip_in=(-f lavfi -i testsrc=size=320x240:rate=25:duration=3 -f lavfi -i sine=duration=3)
clip_enc=(-c:v libx264 -g 25 -c:a aac)

# --- (a) ffmpeg publish through the proxy --------------------------------------------------------
start_proxy "$work/publish"
echo "capture: (a) publish via proxy :$proxy_port -> nginx :$ngx_port"
"${ff[@]}" "${clip_in[@]}" "${clip_enc[@]}" -f flv "rtmp://127.0.0.1:$proxy_port/live/test"
wait "$proxy_pid"
cp "$work/publish.1.c2s.bin" "$outdir/ffmpeg_publish.c2s.bin"
cp "$work/publish.1.s2c.bin" "$outdir/ffmpeg_publish.s2c.bin"

# The same clip written to a file: its packets are what the publish transcript carries.
"${ff[@]}" "${clip_in[@]}" "${clip_enc[@]}" -f flv "$work/clip.flv"

# --- (b) ffmpeg play through the proxy while a publisher publishes directly ---------------------
# The player connects first (nginx-rtmp keeps idle streams, so play waits for the publisher), then
# the publisher starts: the player thus receives the whole clip from its first frame.
start_proxy "$work/play"
echo "capture: (b) play via proxy :$proxy_port, publish direct to nginx :$ngx_port"
"${ff[@]}" -rw_timeout 3000000 -i "rtmp://127.0.0.1:$proxy_port/live/test" -c copy -f flv \
  "$work/out.flv" &
player=$!
pids+=("$player")
sleep 1
"${ff[@]}" -re "${clip_in[@]}" "${clip_enc[@]}" -f flv "rtmp://127.0.0.1:$ngx_port/live/test"
wait "$player" || echo "capture: player exit status $? (expected after the stream ends)"
wait "$proxy_pid"
cp "$work/play.1.c2s.bin" "$outdir/ffmpeg_play.c2s.bin"
cp "$work/play.1.s2c.bin" "$outdir/ffmpeg_play.s2c.bin"

count() { # count FILE TYPE -> number of packets of codec_type TYPE
  ffprobe -v error -show_entries packet=codec_type -of csv=p=0 "$1" | grep -c "^$2\$" || true
}
echo "capture: clip.flv (published): video=$(count "$work/clip.flv" video) audio=$(count "$work/clip.flv" audio)"
echo "capture: out.flv (played):     video=$(count "$work/out.flv" video) audio=$(count "$work/out.flv" audio)"
ls -l "$outdir"/ffmpeg_*.bin
