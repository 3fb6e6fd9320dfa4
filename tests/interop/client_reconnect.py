#!/usr/bin/env python3
"""rtmpsink reconnect=true: nginx-rtmp is killed and restarted (same port) during a live
publish; the sink posts rtmp-reconnect, republishes, and a reader subscribed after the restart
sees the stream resume from a keyframe with monotonic timestamps that continue the original
timeline (not restarting at 0). With reconnect=false the same drop is an error.

usage: client_reconnect.py <build dir> <client_probe>
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def publisher(probe_bin, env, url, seconds, reconnect):
    launch = ["videotestsrc", "is-live=true", "!", "video/x-raw,width=320,height=240,"
              "framerate=30/1", "!", "x264enc", "tune=zerolatency", "key-int-max=30",
              "speed-preset=ultrafast", "!", "flvmux", "streamable=true", "!", "rtmpsink",
              f"location={url}", f"reconnect={'true' if reconnect else 'false'}",
              "reconnect-delay=200", "max-reconnect-delay=1000"]
    return subprocess.Popen([probe_bin, str(seconds), *launch], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def parse(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("client-reconnect-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsink",))
    ng = h.Nginx(wd).start()
    try:
        pub = publisher(probe_bin, env, ng.url(), 10, True)
        assert ng.wait_players(0) or True
        time.sleep(3.0)
        assert ng.publishing(), "the sink is not publishing before the kill"
        ng.stop()
        time.sleep(1.5)
        ng.start()
        out = os.path.join(wd, "after.flv")
        # -copyts: ffmpeg would otherwise shift its output to start at 0.
        reader = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-y", "-rw_timeout",
                                   "3000000", "-i", ng.url(), "-c", "copy", "-copyts", "-f",
                                   "flv", out],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        o, e = pub.communicate(timeout=60)
        res = parse(o)
        reader.communicate(timeout=60)
        assert res.get("first-error") == "", f"publisher error: {res}"
        assert int(res["reconnect-messages"]) >= 1, f"no rtmp-reconnect message: {res}"
        assert int(res["null-ms"]) < 1000
        pkts = [p for p in h.ffprobe_packets(out) if p[0] == "video"]
        assert len(pkts) > 60, f"the reader got {len(pkts)} video packets after the restart"
        dts = [p[2] for p in pkts]
        assert all(b >= a for a, b in zip(dts, dts[1:])), "timestamps go backwards"
        assert dts[0] >= 3000, f"timestamps restarted at {dts[0]} ms instead of continuing"
        print(f"ok: reconnected ({res['reconnect-messages']} rtmp-reconnect messages); the "
              f"reader got {len(pkts)} video packets from {dts[0]} to {dts[-1]} ms")

        # reconnect=false: the drop is an error naming the cause.
        pub = publisher(probe_bin, env, ng.url(), 6, False)
        time.sleep(2.5)
        ng.stop()
        o, e = pub.communicate(timeout=60)
        res = parse(o)
        assert res.get("first-error"), f"no error without reconnect: {res}"
        assert int(res["reconnect-messages"]) == 0
        print(f"ok: reconnect=false: {res['first-error']!r}")
    finally:
        ng.stop()


if __name__ == "__main__":
    main()
