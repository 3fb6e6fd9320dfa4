#!/usr/bin/env python3
"""VOD: rtmpsrc against nginx-rtmp's `play` application serving a 20 s FLV file: the duration
query answers ~20 s, the seeking query says seekable, a seek to 10 s flushes the video and the
audio branch (once each with output=elementary), restarts both at a segment starting at 10 s and lands within one GOP
(2 s) of it, PAUSED stops the flow and PLAYING resumes it where it was. Run for live=false
(preroll, back-pressure) and live=true (RTMP pause/unpause commands), each with output=flv
(rtmpsrc ! flvdemux) and output=elementary (the queries and the seek on rtmpsrc's track pads).

The player side needs PyGObject, so client_vod_player.py runs with the system python3.

usage: client_vod.py <build dir>
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
PYGOBJECT_CHECK = "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst"


def main():
    build = os.path.abspath(sys.argv[1])
    if subprocess.run([SYSTEM_PYTHON, "-c", PYGOBJECT_CHECK], capture_output=True).returncode != 0:
        sys.exit("FAIL: the system python3 has no PyGObject with GStreamer typelibs "
                 "(python3-gi, gir1.2-gstreamer-1.0: scripts/setup-deps.sh installs them)")
    wd = h.workdir("client-vod-")
    media = os.path.join(wd, "media")
    os.makedirs(media)
    # nginx-rtmp seeks in FLV files with the onMetaData keyframe index (without it, it restarts
    # from 0), which FFmpeg writes with add_keyframe_index.
    h.make_clip(os.path.join(media, "clip.flv"), 20, ["-flvflags", "add_keyframe_index"])
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsrc",))
    ng = h.Nginx(wd, server_extra=f"application vod {{ play {media}; }}").start()
    try:
        url = f"rtmp://127.0.0.1:{ng.port}/vod/clip.flv"
        for output, live in (("flv", 0), ("flv", 1), ("elementary", 0), ("elementary", 1)):
            r = subprocess.run([SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__),
                                                            "client_vod_player.py"), url,
                                str(live), output], env=env, capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0, r.stderr[-3000:]
            res = json.loads(r.stdout.strip().splitlines()[-1])
            what = f"output={output} live={live}: {res}"
            assert not res["errors"], what
            assert res["duration_ms"] and abs(res["duration_ms"] - 20000) <= 1000, what
            assert res["seekable"], what
            assert res["seek_sent"], what
            assert res["after_seek_pts_ms"] is not None, what
            assert abs(res["after_seek_pts_ms"] - 10000) <= 2000, what  # one GOP
            # flvdemux forwards the seek from each of its pads and GstBaseSrc applies both (the
            # RTMP seek is sent once); rtmpsrc's track pads pass one seqnum on once.
            assert all(n >= 1 for n in res["flushes"].values()), what
            if output == "elementary":
                assert res["flushes"] == {"v": 1, "a": 1}, what
            assert res["segment_ms"] == {"v": 10000, "a": 10000}, what
            assert res["buffers_while_paused"] <= 2, what
            assert res["resumed_buffers"] > 10, what
            assert res["pts_after_resume_ms"] >= res["pts_before_resume_ms"], what
            assert res["null_ms"] < 1000, what
            print(f"ok: VOD output={output} live={live}: duration {res['duration_ms']} ms, seek to 10 s landed at "
                  f"{res['after_seek_pts_ms']} ms, pause held, resumed at "
                  f"{res['pts_after_resume_ms']} ms")
    finally:
        ng.stop()


if __name__ == "__main__":
    main()
