#!/usr/bin/env python3
"""librtmp-style locations against nginx-rtmp: a librtmp pipeline runs unchanged on our elements
and every packet of a 10 s H.264/AAC clip arrives.

- `rtmpsink location="rtmp://127.0.0.1:PORT/live/test live=1 flashVer=FMLE/3.0"`: nginx's
  recording has the clip's packets;
- `rtmpsrc location="rtmp://127.0.0.1:PORT/live/test live=1 buffer=1000"`, and
  `rtmpsrc location="rtmp://127.0.0.1:PORT/wrong/path app=live playpath=test live=1"` (nginx has
  no application "wrong": only app=/playpath= lead to the stream), fed by ffmpeg: the FLV we
  output has the clip's packets;
- `urisourcebin uri="rtmp://127.0.0.1:PORT/live/test live=1 buffer=500"`: the URI handler takes
  such a URI (urisourcebin makes the source from it) and the packets arrive.

usage: client_librtmp_nginx.py <build dir>
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def check_same(expected, path, what):
    got = h.ffprobe_packets(path)
    assert len(got) == len(expected), f"{what}: {len(got)} packets, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(expected, got)):
        assert a == b, f"{what}: packet {i} differs: source {a}, received {b}"


def case_sink(build, clip, expected):
    wd = h.workdir("librtmp-options-sink-")
    ng = h.Nginx(wd, record=True).start()
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env)
        location = f"{ng.url()} live=1 flashVer=FMLE/3.0"
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={location}"], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, f"publisher failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
        assert "WARNING" not in r.stdout + r.stderr, r.stdout + r.stderr
        ng.stop()
        check_same(expected, os.path.join(ng.record_dir, "test.flv"), f"rtmpsink '{location}'")
        print(f"ok: rtmpsink '{location}': {len(expected)} packets recorded")
    finally:
        ng.stop()


def play(build, clip, expected, launch, what):
    wd = h.workdir("librtmp-options-src-")
    ng = h.Nginx(wd).start()
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env)
        out = os.path.join(wd, "out.flv")
        player = subprocess.Popen(["gst-launch-1.0", "-q", *launch(ng, out)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1), f"{what}: the player did not subscribe"
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f",
                            "flv", ng.url()], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        try:
            o, e = player.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            player.kill()
            o, e = player.communicate()
            raise AssertionError(f"{what}: no EOS: {o[-2000:]} {e[-2000:]}")
        assert player.returncode == 0, f"{what}: player failed: {o[-3000:]} {e[-3000:]}"
        check_same(expected, out, what)
        print(f"ok: {what}: {len(expected)} packets")
    finally:
        ng.stop()


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("librtmp-options-clip-")
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 10)
    expected = h.ffprobe_packets(clip)
    assert len(expected) > 500
    case_sink(build, clip, expected)
    for options in ("live=1 buffer=1000", None):
        def launch(ng, out, options=options):
            location = (f"{ng.url()} {options}" if options else
                        f"rtmp://127.0.0.1:{ng.port}/wrong/path app=live playpath=test live=1")
            return ["rtmpsrc", f"location={location}", "!", "filesink", f"location={out}"]
        play(build, clip, expected, launch,
             f"rtmpsrc with {options or 'app=live playpath=test over /wrong/path'}")

    def uri(ng, out):
        return ["urisourcebin", f"uri={ng.url()} live=1 buffer=500", "!", "filesink",
                f"location={out}"]
    play(build, clip, expected, uri, "urisourcebin uri='... live=1 buffer=500'")


if __name__ == "__main__":
    main()
