#!/usr/bin/env python3
"""rtmpsink -> nginx-rtmp -> the system players (separate processes, without our plugin):
rtmp2src (gst-plugins-bad) and librtmp's rtmpsrc. Every packet arrives with the source's
timestamps.

usage: client_sink_system_players.py <build dir>
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def run_case(build, clip, expected, player_factory, want_plugin):
    wd = h.workdir("client-sink-sys-")
    ng = h.Nginx(wd).start()
    try:
        env = h.our_env(build, wd)
        h.assert_our_factories(build, env, ("rtmpsink",))
        sysenv = h.system_env(wd)
        plugin, filename = h.factory_origin(player_factory, sysenv)
        assert plugin == want_plugin and not (filename or "").startswith(build), \
            f"{player_factory} comes from {plugin} {filename}"
        out = os.path.join(wd, "out.flv")
        player = subprocess.Popen(["gst-launch-1.0", "-q", "-e", player_factory,
                                   f"location={ng.url()}" + (" live=1" if want_plugin == "rtmp"
                                                             else ""),
                                   *(["timeout=3"] if want_plugin == "rtmp" else []),
                                   "!", "filesink", "buffer-mode=unbuffered",
                                   f"location={out}"],
                                  env=sysenv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        assert ng.wait_players(1), f"{player_factory} did not subscribe"
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={ng.url()}"], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        try:
            player.communicate(timeout=20)
            print(f"{player_factory} ended by itself")
        except subprocess.TimeoutExpired:
            # Neither system player ends on UnpublishNotify in every version: interrupt it
            # (-e: EOS first, so filesink writes everything that arrived).
            player.send_signal(signal.SIGINT)
            try:
                player.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                player.kill()  # librtmp blocks in its read; filesink is unbuffered
                player.communicate()
        got = h.ffprobe_packets(out)
        if len(got) == len(expected) - 1 and expected[-1][3] == 5:
            # The clip ends with an AVC end-of-sequence tag (AVCPacketType 2, 5 bytes), which
            # rtmp2src does not output; nginx's recorder and ffmpeg do receive it (see
            # client_sink_nginx.py), so it was published.
            expected = expected[:-1]
        assert len(got) == len(expected), \
            f"{player_factory}: {len(got)} packets, expected {len(expected)}"
        for i, (a, b) in enumerate(zip(expected, got)):
            assert a == b, f"{player_factory}: packet {i}: source {a}, received {b}"
        print(f"ok: rtmpsink -> nginx -> {player_factory} ({want_plugin}): {len(got)} packets")
    finally:
        ng.stop()


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("client-sink-sys-clip-")
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 20)
    expected = h.ffprobe_packets(clip)
    run_case(build, clip, expected, "rtmp2src", "rtmp2")
    run_case(build, clip, expected, "rtmpsrc", "rtmp")


if __name__ == "__main__":
    main()
