#!/usr/bin/env python3
"""publishers -> nginx-rtmp -> our rtmpsrc: every packet arrives, tags carry onMetaData, EOS
arrives when the publisher stops.

- ffmpeg publish -> rtmpsrc ! filesink: the FLV we output has the source's packets (count,
  timestamps, sizes);
- ffmpeg publish -> rtmpsrc ! flvdemux -> multifilesink: every audio and video buffer reaches the
  demuxer's pads, the tags include the onMetaData title, the pipeline ends by itself (EOS);
- rtmp2sink (system plugin, separate process) publish -> rtmpsrc ! filesink.

usage: client_src_nginx.py <build dir>
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def start_player(env, launch, extra=()):
    return subprocess.Popen(["gst-launch-1.0", *extra, *launch], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(player, timeout=60):
    try:
        out, err = player.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        player.kill()
        out, err = player.communicate()
        raise AssertionError(f"player did not reach EOS: {out[-2000:]} {err[-2000:]}")
    assert player.returncode == 0, f"player failed: {out[-3000:]} {err[-3000:]}"
    return out


def check_same(expected, path, what):
    got = h.ffprobe_packets(path)
    assert len(got) == len(expected), f"{what}: {len(got)} packets, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(expected, got)):
        assert a == b, f"{what}: packet {i} differs: source {a}, received {b}"


def ffmpeg_publish(clip, url):
    r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "flv",
                        url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def case_filesink(build, clip, expected):
    wd = h.workdir("client-src-")
    ng = h.Nginx(wd).start()
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env)
        out = os.path.join(wd, "out.flv")
        player = start_player(env, ["rtmpsrc", f"location={ng.url()}", "!", "filesink",
                                    f"location={out}"], ["-t"])
        assert ng.wait_players(1), "rtmpsrc did not subscribe"
        ffmpeg_publish(clip, ng.url())
        text = finish(player)
        check_same(expected, out, "ffmpeg -> rtmpsrc ! filesink")
        # Our own tag event (flvdemux does not forward upstream tags): mapped fields and the
        # rest of onMetaData as extended comments.
        assert re.search(r"title: gst-rtmp interop", text), "title missing from our tags"
        assert "extended comment" in text and re.search(r": width=320\n", text), \
            "width missing from our tags"
        print(f"ok: ffmpeg -> nginx -> rtmpsrc ! filesink: {len(expected)} packets")
    finally:
        ng.stop()


def case_flvdemux(build, clip, expected):
    wd = h.workdir("client-src-demux-")
    ng = h.Nginx(wd).start()
    try:
        env = h.our_env(build, wd)
        # Every buffer flvdemux outputs becomes one file (multifilesink): an exact count, where
        # counting fakesink notifications on stdout is not reliable and parsers/muxers may
        # drop or merge frames.
        vdir, adir = os.path.join(wd, "v"), os.path.join(wd, "a")
        os.makedirs(vdir)
        os.makedirs(adir)
        player = start_player(env, [
            "rtmpsrc", f"location={ng.url()}", "!", "flvdemux", "name=d",
            "d.video", "!", "queue", "!", "multifilesink", f"location={vdir}/%06d",
            "d.audio", "!", "queue", "!", "multifilesink", f"location={adir}/%06d"], ["-t"])
        assert ng.wait_players(1), "rtmpsrc did not subscribe"
        ffmpeg_publish(clip, ng.url())
        out = finish(player)
        video, audio = len(os.listdir(vdir)), len(os.listdir(adir))
        want_v = sum(1 for p in expected if p[0] == "video")
        want_a = sum(1 for p in expected if p[0] == "audio")
        assert (video, audio) == (want_v, want_a), \
            f"flvdemux gave {video} video / {audio} audio buffers, expected {want_v} / {want_a}"
        assert "gst-rtmp interop" in out, "the onMetaData title is not in the tags"
        print(f"ok: ffmpeg -> nginx -> rtmpsrc ! flvdemux: {video} video, {audio} audio, tags")
    finally:
        ng.stop()


def case_rtmp2sink(build, clip):
    wd = h.workdir("client-src-rtmp2-")
    ng = h.Nginx(wd).start()
    try:
        env = h.our_env(build, wd)
        sysenv = h.system_env(wd)
        plugin, _ = h.factory_origin("rtmp2sink", sysenv)
        assert plugin == "rtmp2", f"rtmp2sink comes from {plugin}"

        def remux(sink):
            return ["filesrc", f"location={clip}", "!", "flvdemux", "name=d", "flvmux",
                    "streamable=true", "name=m", "!", *sink, "d.video", "!", "queue", "!",
                    "m.video", "d.audio", "!", "queue", "!", "m.audio"]
        ref = os.path.join(wd, "remuxed.flv")
        subprocess.run(["gst-launch-1.0", "-q", *remux(["filesink", f"location={ref}"])],
                       env=sysenv, check=True, timeout=120)
        expected = h.ffprobe_packets(ref)
        out = os.path.join(wd, "out.flv")
        player = start_player(env, ["rtmpsrc", f"location={ng.url()}", "!", "filesink",
                                    f"location={out}"], ["-q"])
        assert ng.wait_players(1), "rtmpsrc did not subscribe"
        r = subprocess.run(["gst-launch-1.0", "-q", *remux(["rtmp2sink",
                                                            f"location={ng.url()}"])],
                           env=sysenv, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        finish(player)
        check_same(expected, out, "rtmp2sink -> rtmpsrc")
        print(f"ok: rtmp2sink -> nginx -> rtmpsrc: {len(expected)} packets")
    finally:
        ng.stop()


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("client-src-clip-")
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 20)
    expected = h.ffprobe_packets(clip)
    case_filesink(build, clip, expected)
    case_flvdemux(build, clip, expected)
    case_rtmp2sink(build, clip)


if __name__ == "__main__":
    main()
