#!/usr/bin/env python3
"""node-media-server v4 harness sanity check, without our plugin: ffmpeg publishes a 3 s
H.264/AAC FLV through NMS while an ffmpeg player records what NMS relays; the recording has the
same number of video and audio packets as the clip, with the same payloads (MD5) and timestamps.
If this fails, the NMS round trips of our elements (roundtrip_*.py) cannot be trusted either.

Fails (never skips) when node-media-server is not installed: scripts/setup-deps.sh --nms, which
scripts/run-tests.sh runs, installs it.

usage: nms_sanity.py <build dir> <server_probe>
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import nms_harness as nh  # noqa: E402
import server_harness as sh  # noqa: E402


def main():
    reason = nh.nms_missing_reason()
    if reason:
        print(f"FAIL: {reason}")
        return 1
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} not installed")
            return 1
    wd = h.workdir("nms-sanity-")
    try:
        clip = os.path.join(wd, "clip.flv")
        h.make_clip(clip, seconds=3)
        expected = sh.ffprobe_hashed(clip)
        out = os.path.join(wd, "relayed.flv")
        with nh.NodeMediaServer(wd) as nms:
            # NMS sends players nothing when the publisher leaves (it keeps the stream 30 s for
            # a reconnecting publisher): the player ends on its 2 s read timeout.
            player = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-rw_timeout", "2000000",
                                       "-i", nms.url(), "-c", "copy", "-f", "flv", out],
                                      stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)
            try:
                assert nms.wait_players(), f"ffmpeg did not subscribe: {nms.log_text()}"
                r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy",
                                    "-f", "flv", nms.url()], capture_output=True, text=True,
                                   timeout=60)
                assert r.returncode == 0, f"ffmpeg publish failed: {r.stderr[-2000:]}"
                assert nms.wait_publishers(), "NMS never logged the publish"
                player.wait(30)
            finally:
                if player.poll() is None:
                    player.kill()
                    player.wait()
        got = sh.ffprobe_hashed(out)
        for kind in ("video", "audio"):
            assert expected[kind], f"the clip has no {kind}"
            assert len(got[kind]) == len(expected[kind]), \
                f"{len(got[kind])} {kind} packets relayed, {len(expected[kind])} published"
            for i, (e, g) in enumerate(zip(expected[kind], got[kind])):
                assert e == g, f"{kind} packet {i}: relayed {g}, published {e}"
        print(f"ok: ffmpeg -> node-media-server -> ffmpeg: {len(got['video'])} video and "
              f"{len(got['audio'])} audio packets, identical payloads and timestamps")
        return 0
    except (AssertionError, RuntimeError) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
