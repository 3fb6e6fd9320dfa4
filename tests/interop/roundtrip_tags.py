#!/usr/bin/env python3
"""Tags and metadata round trips (issue 7, tests):

  elementary_nms     taginject (title, artist, encoder) before the encoders ! rtmpsink request
                     pads -> node-media-server v4 -> rtmpsrc output=elementary
  elementary_server  the same -> rtmpserversrc output=elementary
  flv_nms            the same sender -> node-media-server -> rtmpsrc (output=flv) ! flvdemux
  flv_server         the same sender -> rtmpserversrc (output=flv) ! flvdemux
      the receiver's pads post the three tags (tag messages of the fakesinks behind every pad);
      the media arrives intact (counts, MD5s), as in roundtrip_elementary.py
  ffmpeg_nms         ffmpeg publishes an H.264/AAC FLV with `-metadata title=... artist=...
                     gst_rtmp_custom=...` (onMetaData also gets fields no tag maps) ->
                     node-media-server -> rtmpsrc output=elementary
  ffmpeg_server      the same -> rtmpserversrc output=elementary
      title, artist and encoder (FFmpeg's "Lavf...") tags on every pad, the `rtmp-metadata`
      element message of the receiving element carries the unknown fields, and every packet
      arrives (counts as ffprobe sees the clip)

taginject (GStreamer 1.22) sends stream-scope tags: the taginject cases check that rtmpsink's
request pads put their descriptive part into onMetaData as flvmux does.
Fails (never skips) when node-media-server is missing (scripts/setup-deps.sh --nms).

usage: roundtrip_tags.py <build dir> <server_probe> [case...]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import nms_harness as nh  # noqa: E402
import roundtrip_harness as rh  # noqa: E402
import server_harness as sh  # noqa: E402

TRACKS = [rh.Track("h264"), rh.Track("aac")]
CUSTOM = {"gst_rtmp_custom": "value-123", "gst_rtmp_other": "second-field"}


def through(e, server, recv_mode, what, publish):
    if server == "nms":
        reason = nh.nms_missing_reason()
        assert reason is None, reason
        return rh.via_nms(e, TRACKS, recv_mode, what, publish)
    return rh.via_server(e, TRACKS, recv_mode, what, publish)


def tags_case(recv_mode, server):
    def run(e):
        what = f"taginject ! rtmpsink pads -> " + \
            ("node-media-server -> rtmpsrc" if server == "nms" else "rtmpserversrc") + \
            f" output={recv_mode}"
        publish = rh.our_sender(e, TRACKS, "pads", what, rh.taginject_tags())
        sent, got = through(e, server, recv_mode, what, publish)
        summary = rh.check_tracks(TRACKS, sent, got, what, elementary=recv_mode == "elementary")
        for t in TRACKS:
            rh.check_tags(got, f"out_{t.label}", what)
        print(f"ok: {what}: title, artist, encoder tags on every pad; {summary}")
    return run


def custom_case(server):
    def run(e):
        what = "ffmpeg -metadata (unknown onMetaData fields) -> " + \
            ("node-media-server -> rtmpsrc" if server == "nms" else "rtmpserversrc") + \
            " output=elementary"
        clip = os.path.join(e.dir, "clip.flv")
        h.make_clip(clip, seconds=2)
        expected = sh.ffprobe_hashed(clip)
        counts = {"v0": len(expected["video"]), "a0": len(expected["audio"])}
        fields = {"title": rh.TAGS["title"], "artist": rh.TAGS["artist"], **CUSTOM}
        meta = [a for k, v in fields.items() for a in ("-metadata", f"{k}={v}")]

        def publish(url):
            r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", *meta,
                                "-f", "flv", url], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"ffmpeg publish failed: {r.stderr[-2000:]}"
            return None, counts
        _, got = through(e, server, "elementary", what, publish)
        for t in TRACKS:
            n = len(sh.probe_buffers(got, f"out_{t.label}"))
            assert n == counts[t.label], f"{what}: {t}: {n} buffers, the clip has {counts}"
        messages = [x for x in got if x.startswith("msg s rtmp-metadata")]
        assert messages, f"{what}: no rtmp-metadata message from the receiver: " \
            f"{[x for x in got if x.startswith('msg ')][-5:]}"
        for k, v in CUSTOM.items():
            assert any(f"{k}=(string){v}" in m for m in messages), \
                f"{what}: {k}={v} is not in {messages[-1]}"
        # The standard fields become tags on every pad; FFmpeg writes its own encoder field.
        for t in TRACKS:
            rh.check_tags(got, f"out_{t.label}", what,
                          {"title": rh.TAGS["title"], "artist": rh.TAGS["artist"],
                           "encoder": "Lavf"})
        print(f"ok: {what}: title, artist, encoder (Lavf...) tags on every pad; rtmp-metadata "
              f"carries {sorted(CUSTOM)}; {counts} buffers")
    return run


CASES = {
    "elementary_nms": tags_case("elementary", "nms"),
    "elementary_server": tags_case("elementary", "server"),
    "flv_nms": tags_case("flv", "nms"),
    "flv_server": tags_case("flv", "server"),
    "ffmpeg_nms": custom_case("nms"),
    "ffmpeg_server": custom_case("server"),
}


def main():
    return rh.run_cases(sys.argv, CASES, "roundtrip-tags-")


if __name__ == "__main__":
    sys.exit(main())
