#!/usr/bin/env python3
"""Scale benchmark (issue 6, item 4): N paced publishers at ~600 kbit/s each into N
`rtmpserversrc` elements sharing one port in one process, versus N publishers into nginx-rtmp.

The load comes from tests/bench/rtmp_load (our core, one thread, poll()), the same for both
servers. Reported per N: server CPU% (of one core) in total and per stream over the publishing
window, whether the load fell behind real time (a connection whose unsent output grew beyond
~2 s of media, i.e. the server did not read fast enough), and whether every tag arrived (ours:
tags counted per sink; nginx: bytes_in against the bytes the generator sent).

Usage: scale.py --build BUILD_DIR [--quick] [--n N ...] [--json OUT]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system as S  # noqa: E402  (shared helpers: nginx, ports, /proc CPU)

FULL_N = [1, 10, 50, 100, 200]
QUICK_N = [1, 4]
# Above this total CPU (percent of one core) the 2-core machine is saturated by server + load
# generator together: larger N would measure the machine, not the server.
SATURATED_PCT = 150.0


def make_600k_input():
    path = os.path.join(S.CACHE, "bench_10s_600k.flv")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return path
    os.makedirs(S.CACHE, exist_ok=True)
    tmp = path + ".tmp"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=426x240:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "10",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "536k", "-maxrate", "536k",
         "-minrate", "536k", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", tmp], check=True)
    os.rename(tmp, path)
    return path


def run_load(build, port, n, flv, seconds):
    exe = os.path.join(build, "tests", "bench", "rtmp_load")
    out = subprocess.run([exe, "127.0.0.1", str(port), "live", "s", str(n), flv, str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 120).stdout
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"connections": n, "publishing": 0, "failed": n, "behind": n, "tags_sent": 0,
                "bytes_sent": 0}


def ours(build, env, n, flv, seconds):
    port = S.free_port()
    runner = os.path.join(build, "tests", "bench", "bench_pipeline")
    # The listener shared by the elements refuses connections beyond max-connections (64 by
    # default): raise it to N. async=false: N independent live branches in one pipeline, and a
    # sink that waits for preroll would hold every other branch in PAUSED until its own
    # publisher came (GStreamer's state rules; docs/rtmpserversrc.md).
    launch = " ".join(f"rtmpserversrc location=rtmp://127.0.0.1:{port}/live/s{i} "
                      f"max-connections={n + 16} "
                      f"! fakesink name=sink{i} sync=false async=false" for i in range(n))
    ready = os.path.join(tempfile.gettempdir(), f"gst-rtmp-scale-ready-{os.getpid()}-{port}")
    srv = subprocess.Popen([runner, launch], env=dict(env, BENCH_READY_FILE=ready),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Not the port: it listens as soon as the first element started, and a publisher of a
        # stream key whose element has not registered yet is refused.
        deadline = time.monotonic() + 60
        while not os.path.exists(ready) and srv.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not os.path.exists(ready):
            raise RuntimeError("the rtmpserversrc pipeline did not start")
        os.unlink(ready)
        before, t0 = S.proc_cpu(srv.pid), time.monotonic()
        load = run_load(build, port, n, flv, seconds)
        cpu, wall = S.proc_cpu(srv.pid) - before, time.monotonic() - t0
        srv.send_signal(signal.SIGINT)
        out, _ = srv.communicate(timeout=60)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.communicate()
    counts = None
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            counts = json.loads(line)
            break
    received = sum(s.get("flv_tags", 0) for s in counts["sinks"].values()) if counts else 0
    complete = received >= load["tags_sent"] - n  # the last tag of each may be in flight
    return {"cpu_pct": 100.0 * cpu / wall, "load": load, "received": received,
            "complete": complete}


def nginx(workdir, build, n, flv, seconds):
    ng = S.Nginx(workdir, f"scale{n}")
    try:
        before, t0 = ng.cpu(), time.monotonic()
        load = run_load(build, ng.port, n, flv, seconds)
        cpu, wall = ng.cpu() - before, time.monotonic() - t0
        bytes_in = ng.bytes_in()
    finally:
        ng.stop()
    return {"cpu_pct": 100.0 * cpu / wall, "load": load, "received_bytes": bytes_in,
            "complete": bytes_in >= load["bytes_sent"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, nargs="+", help="these N only (e.g. --n 200)")
    ap.add_argument("--json")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    flv = make_600k_input()
    seconds = 4 if args.quick else 15
    results = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="gst-rtmp-scale-") as workdir:
        envs = S.Envs(build, workdir)
        print(f"Scale: N publishers at ~600 kbit/s for {seconds} s; server CPU % of one core")
        print(f"  {'N':>4}  {'ours %':>7} {'/stream':>8} {'state':>10}   "
              f"{'nginx %':>7} {'/stream':>8} {'state':>10}")
        for n in args.n or (QUICK_N if args.quick else FULL_N):
            a = ours(build, envs.ours, n, flv, seconds)
            b = nginx(workdir, build, n, flv, seconds)

            def state(r):
                if r["load"]["failed"]:
                    return "FAILED"
                if r["load"]["behind"]:
                    return "behind"
                return "ok" if r["complete"] else "incomplete"

            print(f"  {n:4}  {a['cpu_pct']:7.1f} {a['cpu_pct'] / n:8.2f} {state(a):>10}   "
                  f"{b['cpu_pct']:7.1f} {b['cpu_pct'] / n:8.2f} {state(b):>10}", flush=True)
            results.append({"n": n, "ours": a, "nginx": b, "ours_state": state(a),
                            "nginx_state": state(b)})
            ok &= state(a) in ("ok", "behind")
            if max(a["cpu_pct"], b["cpu_pct"]) > SATURATED_PCT:
                print(f"  stopping: the machine is saturated at N={n}")
                break
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": seconds, "input": flv, "results": results}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
