#!/usr/bin/env python3
"""Settings changed while data flows, against nginx-rtmp (issue 4):

- play2: rtmpsrc plays stream A; its `stream` property is set to B while PLAYING (client_probe's
  PROBE_SET). rtmpsrc sends play2 (transition "switch"); nginx-rtmp closes A and plays B on the
  same connection: nginx's stat shows the player moved to B, the FLV rtmpsrc output carries A's
  onMetaData and then B's, B's media follows, timestamps of each track stay monotonic, and the
  element posts rtmp-play-switched.
- chunk-size: rtmpsink publishes a live x264 stream to a recording nginx and its chunk-size is
  set from 4096 to 65536, then (another run) to 100, after 1.5 s: Set Chunk Size goes out at once
  (the sink logs it) and nginx keeps reading correct data: the recording decodes without an
  error, with every frame (about 30 per second).

usage: client_live_changes.py <build dir> <client_probe>
"""
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def run_probe(probe_bin, env, seconds, launch, setting):
    env = dict(env, PROBE_SET=setting)
    r = subprocess.run([probe_bin, str(seconds), *launch], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return out, r.stderr


def flv_tags(path):
    """[(type, timestamp ms, data)] of an FLV file (FLV 10.1 E.2-E.4.1)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:3] == b"FLV", "not an FLV file"
    pos = struct.unpack(">I", b[5:9])[0] + 4
    tags = []
    while pos + 11 <= len(b):
        t = b[pos] & 0x1F
        size = int.from_bytes(b[pos + 1:pos + 4], "big")
        ts = int.from_bytes(b[pos + 4:pos + 7], "big") | (b[pos + 7] << 24)
        if pos + 11 + size > len(b):
            break
        tags.append((t, ts, b[pos + 11:pos + 11 + size]))
        pos += 11 + size + 4
    return tags


def publish_loop(clip, url):
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
                             clip, "-c", "copy", "-f", "flv", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def case_play2_switch(build, probe_bin):
    wd = h.workdir("client-play2-")
    ng = h.Nginx(wd).start()
    pubs = []
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env, ("rtmpsrc",))
        for name, size in (("streamA", "320x240"), ("streamB", "160x120")):
            clip = os.path.join(wd, name + ".flv")
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc=size={size}:rate=30", "-f", "lavfi", "-i",
                            "sine=frequency=440:sample_rate=44100", "-t", "10", "-c:v", "libx264",
                            "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata",
                            f"title={name}", "-f", "flv", clip], check=True, timeout=120)
            pubs.append(publish_loop(clip, ng.url(name)))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (ng.publishing("streamA") and
                                                   ng.publishing("streamB")):
            time.sleep(0.1)
        assert ng.publishing("streamA") and ng.publishing("streamB"), "publishers not up"
        out = os.path.join(wd, "out.flv")
        probe = subprocess.Popen(
            [probe_bin, "7", "rtmpsrc", "name=src", f"location={ng.url('streamA')}", "!",
             "filesink", f"location={out}"],
            env=dict(env, PROBE_SET="3:src:stream=streamB"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1, "streamA", timeout=10), "rtmpsrc did not play streamA"
        # nginx-rtmp itself moved the player from A to B (its play2 = closeStream + play).
        assert ng.wait_players(1, "streamB", timeout=10), "nginx did not switch the player to B"
        assert ng.players("streamA") == 0, "still a player of streamA after the switch"
        stdout, stderr = probe.communicate(timeout=60)
        res = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
        assert res.get("first-error") == "", f"error: {res} {stderr[-2000:]}"
        assert "rtmp-play-switched" in res.get("element-messages", ""), res

        tags = flv_tags(out)
        script = [i for i, (t, _, d) in enumerate(tags) if t == 18 and b"onMetaData" in d]
        first_a = next((i for i in script if b"streamA" in tags[i][2]), None)
        first_b = next((i for i in script if b"streamB" in tags[i][2]), None)
        assert first_a is not None, "no onMetaData of streamA"
        assert first_b is not None and first_b > first_a, "no onMetaData of streamB after A's"
        video_a = sum(1 for t, _, _ in tags[:first_b] if t == 9)
        video_b = sum(1 for t, _, _ in tags[first_b:] if t == 9)
        assert video_a >= 30 and video_b >= 30, f"video tags: A {video_a}, B {video_b}"
        # B starts with its own sequence header (AVCPacketType 0) before its frames.
        first_video_b = next(d for t, _, d in tags[first_b:] if t == 9)
        assert first_video_b[1] == 0, "B's first video tag is not its AVC sequence header"
        for kind in (8, 9):
            ts = [s for t, s, _ in tags if t == kind]
            back = [(a, b) for a, b in zip(ts, ts[1:]) if b < a]
            assert not back, f"type {kind}: timestamps go back across the switch: {back[:5]}"
        print(f"play2: {video_a} video tags of A, {video_b} of B, monotonic")
    finally:
        for p in pubs:
            h.stop_process(p)
        ng.stop()


def case_chunk_size_while_publishing(build, probe_bin, size):
    wd = h.workdir("client-chunk-")
    ng = h.Nginx(wd, record=True).start()
    try:
        env = dict(h.our_env(build, wd), GST_DEBUG="rtmpsink:4")
        h.assert_our_factories(build, env, ("rtmpsink",))
        seconds = 4
        launch = ["videotestsrc", "is-live=1", "!",
                  "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc",
                  "tune=zerolatency", "key-int-max=30", "bitrate=1500", "!", "h264parse", "!",
                  "flvmux", "streamable=1", "!", "rtmpsink", "name=sink",
                  f"location={ng.url()}"]
        res, stderr = run_probe(probe_bin, env, seconds, launch, f"1.5:sink:chunk-size={size}")
        assert res.get("first-error") == "", f"error: {res}"
        assert f"chunk size 4096 -> {size}" in stderr, "the sink did not change its chunk size"
        deadline = time.monotonic() + 10
        rec = os.path.join(ng.record_dir, "test.flv")
        while time.monotonic() < deadline and ng.publishing():
            time.sleep(0.1)
        video = [p for p in h.ffprobe_packets(rec) if p[0] == "video"]
        assert len(video) >= 30 * (seconds - 1), f"only {len(video)} video packets recorded"
        dts = [p[2] for p in video]
        assert dts == sorted(dts), "recorded timestamps go back"
        dec = subprocess.run(["ffmpeg", "-v", "error", "-i", rec, "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120)
        assert dec.returncode == 0 and dec.stderr.strip() == "", \
            f"recording does not decode cleanly: {dec.stderr[-2000:]}"
        print(f"chunk-size: 4096 -> {size} while publishing, {len(video)} frames recorded intact")
    finally:
        ng.stop()


def main():
    build, probe_bin = sys.argv[1], sys.argv[2]
    if not os.path.exists(h.NGINX) or not os.path.exists(h.RTMP_MODULE):
        print("FAIL: nginx with the rtmp module is not installed (scripts/setup-deps.sh installs it)")
        return 1
    case_play2_switch(build, probe_bin)
    # Larger and smaller (nginx-rtmp needs the pause the sink makes after a decrease).
    case_chunk_size_while_publishing(build, probe_bin, 65536)
    case_chunk_size_while_publishing(build, probe_bin, 100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
