#!/usr/bin/env python3
"""The programs of examples/, run as a user runs them, against ffmpeg publishing a clip:

  ingest_keys (C): a publisher with a key not on the list is refused (ffmpeg fails, the program
  says "rejected"), then one with a listed key is accepted and the program ends at the end of
  its stream having counted as many video and audio buffers as the clip has packets.

  ingest_restream.py (Python, PyGObject): the same key check, then the accepted stream is
  restreamed to nginx-rtmp; nginx's recording has every packet of the clip (size and
  timestamps), and the program printed its stats.

usage: examples.py <build dir> <ingest_keys>
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

SOURCE_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"


def publish(clip, url):
    return subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "flv",
                           url], capture_output=True, text=True, timeout=120)


def start(cmd, env, port):
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if not h.wait_listening(port, 15):
        h.stop_process(proc)
        raise AssertionError(f"{cmd[0]} did not listen on {port}: {proc.stdout.read()}")
    return proc


def check_refused_then_served(proc, clip, port, timeout=120):
    bad = publish(clip, f"rtmp://127.0.0.1:{port}/live/wrongkey")
    assert bad.returncode != 0, "ffmpeg published with a key that is not on the list"
    good = publish(clip, f"rtmp://127.0.0.1:{port}/live/camera1")
    assert good.returncode == 0, good.stderr
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        h.stop_process(proc)
        raise AssertionError("the example did not end after its publisher left: "
                             + (proc.stdout.read() if proc.stdout else ""))
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out}"
    assert re.search(r"on-publish: .* publishes live/wrongkey: rejected", out), out
    assert re.search(r"on-publish: .* publishes live/camera1: accepted", out), out
    assert "rtmp-publish-start" in out and "rtmp-publish-stop" in out, out
    return out


def main():
    build = os.path.abspath(sys.argv[1])
    ingest_keys = sys.argv[2]
    wd = h.workdir("examples-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsrc", "rtmpsink", "rtmpserversrc"))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 4)
    packets = h.ffprobe_packets(clip)
    video = sum(1 for p in packets if p[0] == "video")
    audio = sum(1 for p in packets if p[0] == "audio")

    port = h.free_port()
    out = check_refused_then_served(start([ingest_keys, str(port), "camera1", "camera2"], env,
                                          port), clip, port)
    m = re.search(r"end of stream: (\d+) video buffers, (\d+) audio buffers", out)
    assert m and (int(m.group(1)), int(m.group(2))) == (video, audio), \
        f"expected {video} video and {audio} audio buffers:\n{out}"
    print(f"ok: ingest_keys: wrong key refused, camera1 served: {video} video + {audio} audio "
          "buffers")

    ng = h.Nginx(wd, record=True).start()
    try:
        port = h.free_port()
        script = os.path.join(SOURCE_ROOT, "examples", "ingest_restream.py")
        proc = start([SYSTEM_PYTHON, script, "--listen", f"rtmp://127.0.0.1:{port}/live/*",
                      "--keys", "camera1,camera2", "--out", ng.url("restreamed")], env, port)
        out = check_refused_then_served(proc, clip, port)
        assert re.search(r"stats: ingest from .*: [1-9]\d* bytes", out), out
        assert re.search(r"out: [1-9]\d* bytes, [1-9]\d* media messages", out), out
    finally:
        ng.stop()
    # rtmpserversrc places the stream on the pipeline's running time, so the restream's
    # timestamps are the clip's plus the moment the first message arrived: compare relative to
    # the first packet. Data messages are nginx's own in a recording.
    recorded = media(h.ffprobe_packets(os.path.join(ng.record_dir, "restreamed.flv")))
    assert recorded == media(packets), \
        f"nginx recorded {len(recorded)} media packets, the clip has {len(media(packets))}: " \
        f"first {recorded[:3]} vs {media(packets)[:3]}"
    print(f"ok: ingest_restream.py: wrong key refused, camera1 restreamed to nginx-rtmp: "
          f"{len(recorded)} media packets equal (sizes, timestamps relative to the first)")


def media(packets):
    """(type, pts - first dts, dts - first dts, size) of the audio and video packets."""
    av = [p for p in packets if p[0] in ("audio", "video")]
    if not av:
        return []
    t0 = av[0][2]
    return [(k, pts - t0, dts - t0, size) for k, pts, dts, size in av]


if __name__ == "__main__":
    main()
