#!/usr/bin/env python3
"""Timestamps across the RTMP boundaries, end to end through nginx-rtmp, and playbin.

- ffmpeg publishes with -output_ts_offset so that its timestamps cross 0xFFFFFF ms (the
  extended-timestamp boundary, RTMP 1.0 5.3.1.3): rtmpsrc's output stays monotonic with the
  source's steps, every packet present;
- our rtmpsink publishes a file whose timestamps wrap at 2^32 ms, our rtmpsrc plays it: the
  output carries the source's steps (rebased, no jump);
- our rtmpsink publishes an FLV file whose timestamps cross 0xFFFFFF ms: an ffmpeg reader
  (-copyts) sees the same timestamps as the file;
- playbin uri=rtmp://... picks our rtmpsrc (rank PRIMARY+2) and plays to EOS.

usage: client_timestamps.py <build dir>
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def play_to_file(env, ng, out, publish):
    player = subprocess.Popen(["gst-launch-1.0", "-q", "rtmpsrc", f"location={ng.url()}", "!",
                               "filesink", f"location={out}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert ng.wait_players(1), "rtmpsrc did not subscribe"
    publish()
    o, e = player.communicate(timeout=120)
    assert player.returncode == 0, o + e
    return h.ffprobe_packets(out)


flv_tags = h.flv_tags


def flv_shift(src, dst, offset):
    """Copies an FLV file adding `offset` ms (mod 2^32) to every audio/video tag timestamp."""
    d = bytearray(open(src, "rb").read())
    pos = int.from_bytes(d[5:9], "big") + 4
    while pos + 11 <= len(d):
        size = int.from_bytes(d[pos + 1:pos + 4], "big")
        if d[pos] in (8, 9):
            ts = (int.from_bytes(d[pos + 4:pos + 7], "big") | d[pos + 7] << 24) + offset
            ts &= 0xFFFFFFFF
            d[pos + 4:pos + 7] = (ts & 0xFFFFFF).to_bytes(3, "big")
            d[pos + 7] = ts >> 24
        pos += 11 + size + 4
    open(dst, "wb").write(bytes(d))


def check_steps(expected, got, what):
    assert len(got) == len(expected), f"{what}: {len(got)} packets, expected {len(expected)}"
    base_e, base_g = expected[0][2], got[0][2]
    for i, (a, b) in enumerate(zip(expected, got)):
        assert a[0] == b[0] and a[3] == b[3], f"{what}: packet {i}: {a} vs {b}"
        assert b[2] - base_g == a[2] - base_e, f"{what}: packet {i} step: {a} vs {b}"
    for kind in ("audio", "video"):
        dts = [p[2] for p in got if p[0] == kind]
        assert all(y >= x for x, y in zip(dts, dts[1:])), f"{what}: {kind} not monotonic"


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("client-ts-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env)
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 10)
    expected = h.ffprobe_packets(clip)

    # 0xFFFFFF ms = 16777.215 s: start 4 s before it. (FFmpeg cannot publish across 2^32 ms:
    # its FLV/RTMP muxer wraps at 2^31, so that boundary is published by our sink below.)
    ng = h.Nginx(os.path.join(wd, "ffmpeg")).start()
    try:
        def publish():
            r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy",
                                "-output_ts_offset", "16773.2", "-f", "flv", ng.url()],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
        got = play_to_file(env, ng, os.path.join(wd, "out-ffmpeg.flv"), publish)
        check_steps(expected, got, "ffmpeg across 0xFFFFFF")
        print(f"ok: ffmpeg publish across 0xFFFFFF ms -> rtmpsrc: {len(got)} packets, "
              f"monotonic, same steps")
    finally:
        ng.stop()

    # Across the 2^32 wrap: an FLV whose tag timestamps start 4 s before 2^32 and wrap, published
    # by rtmpsink, played by rtmpsrc. The output is rebased to its first audio/video message, so
    # it must carry exactly the steps of the original clip.
    wrapped = os.path.join(wd, "wrapped.flv")
    flv_shift(clip, wrapped, (1 << 32) - 4000)
    ts = [t for (k, t, _) in flv_tags(wrapped) if k in (8, 9)]
    assert max(ts) > 0xFFFF0000 and min(ts) < 10000, "the shifted file does not wrap"
    ng = h.Nginx(os.path.join(wd, "wrap")).start()
    try:
        out = os.path.join(wd, "out-wrap.flv")

        def publish():
            r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={wrapped}", "!",
                                "rtmpsink", f"location={ng.url()}"], env=env,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
        play_to_file(env, ng, out, publish)
        # Per stream: nginx-rtmp may move a sequence header relative to the other stream.
        n = 0
        for kind in (8, 9):
            src_tags = [(t, d) for (k, t, d) in flv_tags(clip) if k == kind]
            out_tags = [(t, d) for (k, t, d) in flv_tags(out) if k == kind]
            assert len(out_tags) == len(src_tags), f"{len(out_tags)} tags vs {len(src_tags)}"
            for i, (a, b) in enumerate(zip(src_tags, out_tags)):
                assert a[1] == b[1], f"type {kind} tag {i} differs"
                assert b[0] == a[0], f"type {kind} tag {i}: timestamp {b[0]}, expected {a[0]}"
            n += len(out_tags)
        print(f"ok: rtmpsink -> nginx -> rtmpsrc across 2^32 ms: {n} tags, timestamps "
              f"continuous (the source's, rebased)")
    finally:
        ng.stop()

    # Our sink with input timestamps across 0xFFFFFF ms (the FLV file carries them).
    shifted = os.path.join(wd, "shifted.flv")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", clip, "-c", "copy",
                    "-output_ts_offset", "16773.2", "-f", "flv", shifted], check=True,
                   timeout=120)
    want = h.ffprobe_packets(shifted)
    assert want[0][2] < 0xFFFFFF < want[-1][2], "the shifted file does not cross 0xFFFFFF ms"
    ng = h.Nginx(os.path.join(wd, "sink")).start()
    try:
        out = os.path.join(wd, "sink-read.flv")
        reader = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-y", "-rw_timeout",
                                   "3000000", "-i", ng.url(), "-c", "copy", "-copyts", "-f",
                                   "flv", out], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1)
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={shifted}", "!",
                            "rtmpsink", f"location={ng.url()}"], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        reader.communicate(timeout=60)
        got = h.ffprobe_packets(out)
        check_steps(want, got, "rtmpsink across 0xFFFFFF")
        assert got[0][2] == want[0][2], f"absolute timestamps changed: {got[0]} vs {want[0]}"
        print(f"ok: rtmpsink publish across 0xFFFFFF ms: {len(got)} packets, same timestamps")

        # playbin: typefind on our FLV output, our element chosen by rank.
        pb_env = dict(env, GST_DEBUG="rtmpsrc:4")
        player = subprocess.Popen(["gst-launch-1.0", "playbin", f"uri={ng.url()}",
                                   "video-sink=fakesink", "audio-sink=fakesink"], env=pb_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1), "playbin did not subscribe"
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f",
                            "flv", ng.url()], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        o, e = player.communicate(timeout=60)
        assert player.returncode == 0 and "Got EOS" in o, o[-2000:] + e[-2000:]
        # Our INFO line comes from gstrtmpsrc.cpp (librtmp's element is gstrtmpsrc.c).
        assert "gstrtmpsrc.cpp" in e and "playing rtmp://" in e, "playbin did not use our rtmpsrc"
        print("ok: playbin uri=rtmp://... played to EOS with our rtmpsrc")
    finally:
        ng.stop()


if __name__ == "__main__":
    main()
