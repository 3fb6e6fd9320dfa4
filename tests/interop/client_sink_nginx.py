#!/usr/bin/env python3
"""rtmpsink -> nginx-rtmp -> readers: every packet of a 20 s H.264/AAC clip arrives with the
same timestamps, whatever the input framing.

- filesrc blocksize=N ! rtmpsink for N in 1, 7, 4096, 1 MiB (unaligned FLV), read back by
  nginx's recorder and by a live ffmpeg reader subscribed before the publish;
- flvdemux ! flvmux streamable=1 ! rtmpsink (one tag per buffer + streamheader caps).

usage: client_sink_nginx.py <build dir>
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def publish(env, launch, timeout=120):
    r = subprocess.run(["gst-launch-1.0", "-q", *launch], env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"publisher failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"


def check_same(expected, path, what):
    got = h.ffprobe_packets(path)
    assert len(got) == len(expected), f"{what}: {len(got)} packets, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(expected, got)):
        assert a == b, f"{what}: packet {i} differs: source {a}, received {b}"


def run_case(build, clip, expected, name, launch_tail):
    wd = h.workdir("client-sink-")
    ng = h.Nginx(wd, record=True).start()
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env)
        live_out = os.path.join(wd, "live.flv")
        # FFmpeg's RTMP player does not stop on UnpublishNotify: -rw_timeout ends it 3 s after
        # the last byte, and it still finalizes its output.
        reader = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-y", "-rw_timeout",
                                   "3000000", "-i", ng.url(), "-c",
                                   "copy", "-f", "flv", live_out],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1), "the ffmpeg reader did not subscribe"
        publish(env, launch_tail(ng.url()))
        try:
            _, err = reader.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            reader.kill()
            raise AssertionError("the live reader did not see the end of the stream")
        ng.stop()
        check_same(expected, os.path.join(ng.record_dir, "test.flv"), f"{name} (recorded)")
        check_same(expected, live_out, f"{name} (live ffmpeg reader)")
        print(f"ok: {name}: {len(expected)} packets")
    finally:
        ng.stop()


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("client-sink-clip-")
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 20)
    expected = h.ffprobe_packets(clip)
    assert len(expected) > 1000
    for bs in (1, 7, 4096, 1 << 20):
        run_case(build, clip, expected, f"filesrc blocksize={bs}",
                 lambda url, bs=bs: ["filesrc", f"location={clip}", f"blocksize={bs}", "!",
                                     "rtmpsink", f"location={url}"])
    # flvmux re-muxes (it rewrites composition times), so the reference is the same flvmux
    # pipeline writing to a file.
    def remux(sink):
        return ["filesrc", f"location={clip}", "!", "flvdemux", "name=d", "flvmux",
                "streamable=true", "name=m", "!", *sink, "d.video", "!", "queue", "!", "m.video",
                "d.audio", "!", "queue", "!", "m.audio"]
    ref = os.path.join(wd, "remuxed.flv")
    publish(h.system_env(wd), remux(["filesink", f"location={ref}"]))
    expected_remux = h.ffprobe_packets(ref)
    assert len(expected_remux) == len(expected)
    run_case(build, clip, expected_remux, "flvdemux ! flvmux (one tag per buffer, streamheader)",
             lambda url: remux(["rtmpsink", f"location={url}"]))


if __name__ == "__main__":
    main()
