#!/usr/bin/env python3
"""Latency benchmark (issue 6, item 5): time added by the RTMP path for a live 30 fps stream.

A live sender (`videotestsrc is-live=true ! x264enc tune=zerolatency ! flvmux`) feeds the RTMP
sink; bench_pipeline (BENCH_TAG_TIMES=1) stamps every FLV tag with CLOCK_MONOTONIC when it
reaches the sender's RTMP sink and again when it reaches the receiver's fakesink, in two
processes (the monotonic clock is shared). Added latency = arrival - departure for the same
(tag type, timestamp); the encoder's own latency is before the first stamp and not counted.

  ours direct:   rtmpsink -> our rtmpserversrc
  ours nginx:    rtmpsink -> nginx-rtmp -> our rtmpsrc
  rtmp2 nginx:   rtmp2sink -> nginx-rtmp -> rtmp2src

Usage: latency.py --build BUILD_DIR [--quick] [--json OUT]
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
import system as S  # noqa: E402

SENDER = ("videotestsrc is-live=true pattern=ball num-buffers={frames} ! "
          "video/x-raw,width=640,height=360,framerate=30/1 ! "
          "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=2000 ! "
          "h264parse ! flvmux streamable=true latency=0 ! {sink}")


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run_pair(build, sender_env, sender_sink, receiver_env, receiver_launch, listen_port,
             frames, nginx=None, stream=None):
    runner = os.path.join(build, "tests", "bench", "bench_pipeline")
    recv = subprocess.Popen([runner, receiver_launch], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(receiver_env, BENCH_TAG_TIMES="1"))
    try:
        if listen_port and not S.wait_listening(listen_port, 20):
            raise RuntimeError("receiver did not listen")
        if nginx:
            deadline = time.monotonic() + 20
            while nginx.players(stream) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        # sync=false on the sender's sink: with sync the sink would wait for the live pipeline's
        # latency (one frame of the live source) after the stamp, which is not RTMP's doing.
        send = subprocess.run([runner, SENDER.format(frames=frames,
                                                     sink=sender_sink + " sync=false")],
                              capture_output=True, text=True, timeout=frames / 30 + 60,
                              env=dict(sender_env, BENCH_TAG_TIMES="1"))
        time.sleep(1.0)
        if recv.poll() is None:
            recv.send_signal(signal.SIGINT)
        rout, _ = recv.communicate(timeout=20)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.communicate()

    # Video tags only: one per frame, the figure the issue asks for (30 fps). Tags are matched
    # by their order (the n-th video tag sent is the n-th received: RTMP is in-order, and a row
    # that lost tags is flagged by its count); timestamps cannot be used as keys because a
    # receiver may rebase its timeline and the AVC sequence header shares the first frame's.
    def video(out, name):
        """Arrival times of the video tags at sink `name`, in arrival order."""
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                tags = json.loads(line)["sinks"].get(name, {}).get("times", [])
                return [t for k, t in tags if (k >> 32) == 9]
        return []

    sent = video(send.stdout, "sinkS")
    got = video(rout, "sinkR")
    # A player of nginx-rtmp may miss the first frames, and a sink may drop the last ones at
    # EOS (rtmp2sink does): try shifting one list against the other by a few frames and keep
    # the alignment that is causal (no frame arrives before it left) with the smallest median;
    # a wrong alignment is off by whole frames (33 ms).
    lat = []
    for shift in range(-5, 6):
        pairs = [(sent[i], got[i + shift]) for i in range(len(sent)) if 0 <= i + shift < len(got)]
        cand = [(r - t) / 1000.0 for t, r in pairs]
        if cand and min(cand) >= -0.5 and (not lat or percentile(cand, 50) < percentile(lat, 50)):
            lat = cand
    nvideo = len(sent)
    return {"frames_sent": nvideo, "frames_matched": len(lat), "frames_received": len(got),
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    frames = 90 if args.quick else 60 * 30  # the issue asks for 60 s at 30 fps
    rows = {}
    with tempfile.TemporaryDirectory(prefix="gst-rtmp-latency-") as workdir:
        envs = S.Envs(build, workdir)
        port = S.free_port()
        url = f"rtmp://127.0.0.1:{port}/live/lat"
        rows["ours: rtmpsink -> rtmpserversrc"] = run_pair(
            build, envs.ours, f"rtmpsink name=sinkS location={url}", envs.ours,
            f"rtmpserversrc location={url} ! fakesink name=sinkR sync=false", port, frames)
        for name, sink, src, env in [
                ("ours: rtmpsink -> nginx-rtmp -> rtmpsrc", "rtmpsink", "rtmpsrc", envs.ours),
                ("rtmp2: rtmp2sink -> nginx-rtmp -> rtmp2src", "rtmp2sink", "rtmp2src",
                 envs.system)]:
            ng = S.Nginx(workdir, "lat-" + sink)
            try:
                u = ng.url("lat")
                rows[name] = run_pair(
                    build, env, f"{sink} name=sinkS location={u}", env,
                    f"{src} location={u} ! fakesink name=sinkR sync=false", None, frames,
                    nginx=ng, stream="lat")
            finally:
                ng.stop()
    print(f"Latency added by the RTMP path, live 30 fps H.264, {frames} frames (ms)")
    print(f"  {'path':46} {'p50':>7} {'p99':>7} {'max':>7} {'frames':>10}")
    ok = True
    for name, r in rows.items():
        def f(v):
            return f"{v:7.2f}" if v is not None else "      -"
        print(f"  {name:46} {f(r['p50_ms'])} {f(r['p99_ms'])} {f(r['max_ms'])} "
              f"{r['frames_matched']:>4}/{r['frames_sent']:<5}")
        # Every frame must have arrived (a player joining nginx may miss the first few).
        if name.startswith("ours") and r["frames_matched"] < r["frames_sent"] - 5:
            ok = False
    print("  frames: matched/sent. A path through nginx-rtmp may miss up to 5 (a player that "
          "subscribes after the\n  first frames, rtmp2sink dropping the last at EOS): expected. "
          "Our rows fail below sent - 5;\n  the rtmp2 row is a reference and is never checked.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"frames": frames, "rows": rows}, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
