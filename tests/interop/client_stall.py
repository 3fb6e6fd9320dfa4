#!/usr/bin/env python3
"""A publisher that freezes mid-stream: rtmpsrc ends the play when the no-data limit says so
(docs/rtmpsrc.md, "When a play that receives nothing ends"), and only then.

ffmpeg publishes a clip in real time (-re, -c copy) to nginx-rtmp, our rtmpsrc plays it, and the
publisher is frozen with SIGSTOP: nginx keeps both connections open and sends the player nothing
more, which is what a stalled upstream looks like to a player. All cases run at once, one stream
each:
- timeout=3: librtmp's meaning, EOS about 3 s after the freeze;
- timeout=3 no-eof-is-error=true: the same stall is an error naming it;
- idle-timeout=2 timeout=30: rtmp2's meaning, an error about 2 s after the freeze;
- timeout=3 idle-timeout=0: idle-timeout set decides alone, 0 = wait for ever: still playing at
  the end of the window;
- timeout=30: still playing at the end of the window.
Every pipeline reaches NULL within 1 s, ended or not.

usage: client_stall.py <build dir> <client_probe>
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

PLAY_BEFORE_FREEZE_S = 3.0
# How long after the freeze the probes keep running: past the 6 s bound of the ending cases.
WINDOW_S = 8.0

# name, rtmpsrc properties, expected end ("eos", "error", None = still playing), seconds after
# the freeze the end must come within, text the error must contain.
CASES = [
    ("timeout3", ["timeout=3"], "eos", (2.5, 6.0), None),
    ("timeout3-error", ["timeout=3", "no-eof-is-error=true"], "error", (2.5, 6.0),
     "no data for 3 s (timeout)"),
    ("idle2-timeout30", ["idle-timeout=2", "timeout=30"], "error", (1.5, 5.0),
     "no data for 2 s (idle-timeout)"),
    ("idle0-timeout3", ["timeout=3", "idle-timeout=0"], None, None, None),
    ("timeout30", ["timeout=30"], None, None, None),
]


def parse(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("client-stall-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsrc",))
    clip = os.path.join(wd, "clip.flv")
    h.make_clip(clip, seconds=30)
    ng = h.Nginx(wd).start()
    publishers, probes = {}, {}
    try:
        for name, *_ in CASES:
            publishers[name] = subprocess.Popen(
                ["ffmpeg", "-loglevel", "error", "-re", "-i", clip, "-c", "copy", "-f", "flv",
                 ng.url(name)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while not all(ng.publishing(n) for n, *_ in CASES):
            assert time.monotonic() < deadline, "ffmpeg is not publishing: " + ng.error_log()
            time.sleep(0.1)
        for name, props, *_ in CASES:
            launch = ["rtmpsrc", f"location={ng.url(name)}", *props, "!", "fakesink"]
            probes[name] = subprocess.Popen(
                [probe_bin, str(PLAY_BEFORE_FREEZE_S + WINDOW_S + 2), *launch], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, *_ in CASES:
            assert ng.wait_players(1, name), f"{name}: rtmpsrc did not subscribe"
        time.sleep(PLAY_BEFORE_FREEZE_S)
        frozen_at = {}
        for name, *_ in CASES:
            assert publishers[name].poll() is None, f"{name}: ffmpeg ended before the freeze"
            os.kill(publishers[name].pid, signal.SIGSTOP)
            frozen_at[name] = time.monotonic()
        results = {}
        for name, *_ in CASES:
            out, err = probes[name].communicate(timeout=60)
            assert probes[name].returncode == 0, f"{name}: probe failed: {err[-2000:]}"
            results[name] = parse(out)
    finally:
        for p in publishers.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
            h.stop_process(p)
        for p in probes.values():
            h.stop_process(p)
        ng.stop()

    for name, props, want, window, text in CASES:
        res = results[name]
        playing_at = int(res["playing-at-us"]) / 1e6
        null_ms = int(res["null-ms"])
        assert null_ms < 1000, f"{name}: NULL took {null_ms} ms"
        eos_ms, error_ms = int(res["eos-ms"]), int(res["first-error-ms"])
        if want is None:
            assert eos_ms < 0 and error_ms < 0, \
                f"{name} ({' '.join(props)}): ended on the stall: {res}"
            print(f"ok: {name} ({' '.join(props)}): still playing {WINDOW_S:.0f} s after the "
                  f"freeze; NULL in {null_ms} ms")
            continue
        ended_ms = eos_ms if want == "eos" else error_ms
        assert ended_ms >= 0, f"{name} ({' '.join(props)}): no {want}: {res}"
        if want == "eos":
            assert error_ms < 0, f"{name}: error instead of EOS: {res}"
        else:
            assert text in res["first-error"], f"{name}: error does not say {text!r}: {res}"
        after = playing_at + ended_ms / 1000 - frozen_at[name]
        assert window[0] <= after <= window[1], \
            f"{name} ({' '.join(props)}): {want} {after:.2f} s after the freeze, " \
            f"expected {window[0]}..{window[1]} s"
        print(f"ok: {name} ({' '.join(props)}): {want} {after:.2f} s after the freeze "
              f"{res['first-error']!r}; NULL in {null_ms} ms")


if __name__ == "__main__":
    main()
