#!/usr/bin/env python3
"""Scale benchmark (issue 6, item 4): N paced publishers at ~600 kbit/s each into N
`rtmpserversrc` elements sharing one port in one process, versus N publishers into nginx-rtmp.

The load comes from tests/bench/rtmp_load (our core, one thread, poll()), the same for both
servers. Reported per N: server CPU% (of one core) in total and per stream over the publishing
window (ns on CPU from /proc/PID/task/*/schedstat; clock ticks, marked *, without schedstat),
the server's context switches (voluntary + nonvoluntary, summed over its threads'
/proc/PID/task/*/status) per message received (ours: tags counted at the sinks; nginx: tags
the generator sent, all of which arrived), whether the load fell behind real time (a connection
whose unsent output grew beyond ~2 s of media, i.e. the server did not read fast enough), and
whether every tag arrived (ours: tags counted per sink; nginx: bytes_in against the bytes the
generator sent). The window closes before the publishers disconnect (rtmp_load --hold).

Usage: scale.py --build BUILD_DIR [--quick] [--n N ...] [--json OUT]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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


def run_load(build, port, n, flv, seconds, pid):
    """Runs the N publishers for `seconds` against the server process `pid` and returns
    (the generator's result, the server's figures over the window: S.ProcSample.delta, wall
    seconds). The window is closed while the connections are still open (rtmp_load --hold), so
    that the disconnections and what follows (EOS, teardown) are not charged to it."""
    exe = os.path.join(build, "tests", "bench", "rtmp_load")
    load = subprocess.Popen([exe, "127.0.0.1", str(port), "live", "s", str(n), flv, str(seconds),
                             "--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    before, t0 = S.ProcSample(pid), time.monotonic()
    timer = threading.Timer(seconds + 120, load.kill)
    timer.start()
    line = load.stdout.readline()
    wall = time.monotonic() - t0
    time.sleep(0.1)  # the tags still in the sockets are the window's work too
    d = S.ProcSample.delta(before, S.ProcSample(pid))
    timer.cancel()
    load.communicate()  # closes its stdin: the generator closes the connections and exits
    try:
        result = json.loads(line)
    except ValueError:
        result = {"connections": n, "publishing": 0, "failed": n, "behind": n, "tags_sent": 0,
                  "bytes_sent": 0}
    return result, d, wall


def window(d, wall, messages):
    """Server figures of the publishing window from two S.ProcSample: CPU % of one core (from
    schedstat, or clock ticks when schedstat is unavailable: `cpu_source`) and context switches
    (voluntary + nonvoluntary, all threads) per message received."""
    return {"cpu_pct": 100.0 * d["cpu_s"] / wall,
            "cpu_ticks_pct": 100.0 * d["cpu_ticks_s"] / wall
            if d["cpu_ticks_s"] is not None else None,
            "cpu_source": d["cpu_source"], "cpu_s": d["cpu_s"], "cpu_ticks_s": d["cpu_ticks_s"],
            "wall_s": wall, "ctxt_switches": d["ctxt_switches"], "messages": messages,
            "ctxt_per_message": d["ctxt_switches"] / messages if messages else None,
            "ctxt_per_message_by_thread": {k: v / messages for k, v in
                                           d["ctxt_switches_by_thread"].items()}
            if messages else {},
            "threads": d["threads"], "threads_ended": d["threads_ended"],
            "threads_ended_names": d["threads_ended_names"]}


def ours(build, env, n, flv, seconds):
    port = S.free_port()
    runner = os.path.join(build, "tests", "bench", "bench_pipeline")
    # The listener shared by the elements refuses connections beyond max-connections (512 by
    # default) and more than max-connections-per-address (16) from one address: every
    # publisher comes from 127.0.0.1, so raise the first to N and lift the second.
    # async=false: N independent live branches in one pipeline, and a sink that waits for
    # preroll would hold every other branch in PAUSED until its own publisher came (GStreamer's
    # state rules; docs/rtmpserversrc.md).
    launch = " ".join(f"rtmpserversrc location=rtmp://127.0.0.1:{port}/live/s{i} "
                      f"max-connections={n + 16} max-connections-per-address=0 "
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
        load, d, wall = run_load(build, port, n, flv, seconds, srv.pid)
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
    return window(d, wall, received) | {"load": load, "received": received,
                                        "complete": complete}


def nginx(workdir, build, n, flv, seconds):
    ng = S.Nginx(workdir, f"scale{n}")
    try:
        load, d, wall = run_load(build, ng.port, n, flv, seconds, ng.proc.pid)
        bytes_in = ng.bytes_in()
    finally:
        ng.stop()
    # nginx counts no tags: the messages are those the generator sent, all of which arrived
    # when bytes_in covers the bytes sent.
    return window(d, wall, load["tags_sent"]) | {
        "load": load, "received_bytes": bytes_in, "complete": bytes_in >= load["bytes_sent"]}


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
        print(f"Scale: N publishers at ~600 kbit/s for {seconds} s; server CPU % of one core "
              "(schedstat unless marked *: clock ticks),")
        print("  cs/msg: context switches (voluntary + nonvoluntary, all server threads) per "
              "message received")
        print(f"  {'N':>4}  {'ours %':>7} {'/stream':>8} {'cs/msg':>7} {'state':>10}   "
              f"{'nginx %':>7} {'/stream':>8} {'cs/msg':>7} {'state':>10}")
        for n in args.n or (QUICK_N if args.quick else FULL_N):
            a = ours(build, envs.ours, n, flv, seconds)
            b = nginx(workdir, build, n, flv, seconds)

            def state(r):
                if r["load"]["failed"]:
                    return "FAILED"
                if r["load"]["behind"]:
                    return "behind"
                return "ok" if r["complete"] else "incomplete"

            def cols(r):
                pct = f"{r['cpu_pct']:6.1f}" + ("*" if r["cpu_source"] == "ticks" else " ")
                cs = f"{r['ctxt_per_message']:7.2f}" if r["ctxt_per_message"] is not None \
                    else "      -"
                return f"{pct} {r['cpu_pct'] / n:8.2f} {cs} {state(r):>10}"

            print(f"  {n:4}  {cols(a)}   {cols(b)}", flush=True)
            busy = sorted(a["ctxt_per_message_by_thread"].items(), key=lambda kv: -kv[1])
            print("        ours cs/msg by thread: " + ", ".join(
                f"{k} {v:.2f}" for k, v in busy if v >= 0.01), flush=True)
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
