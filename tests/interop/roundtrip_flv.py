#!/usr/bin/env python3
"""Legacy (video/x-flv) round trips of H.264 + AAC through our elements (issue 7, tests):

  nms     x264enc/voaacenc ! flvmux ! rtmpsink -> node-media-server v4 -> rtmpsrc ! flvdemux
  server  x264enc/voaacenc ! flvmux ! rtmpsink -> rtmpserversrc ! flvdemux

Per track: the elementary buffers after flvdemux are those that went into flvmux (count and the
MD5 of every buffer, in order; a tee after the parser records the sender's), timestamps up to one
offset, every frame decodes (avdec_h264, avdec_aac). A taginject before the encoders sets title,
artist and encoder: title and artist come back as tags (flvmux writes its own `encoder` into
onMetaData, replacing the tag's: that one is not checked here; roundtrip_tags.py checks the
receivers' encoder tag with FFmpeg as the publisher).

Fails (never skips) when node-media-server is missing (scripts/setup-deps.sh --nms).

usage: roundtrip_flv.py <build dir> <server_probe> [case...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nms_harness as nh  # noqa: E402
import roundtrip_harness as rh  # noqa: E402

TRACKS = [rh.Track("h264"), rh.Track("aac")]
FLV_TAGS = {k: v for k, v in rh.TAGS.items() if k != "encoder"}


def check(sent, got, what):
    summary = rh.check_tracks(TRACKS, sent, got, what, elementary=False)
    for t in TRACKS:
        rh.check_tags(got, f"out_{t.label}", what, FLV_TAGS)
    print(f"ok: {what}: {summary}; title and artist tags")


def case_nms(e):
    what = "rtmpsink (flvmux) -> node-media-server -> rtmpsrc ! flvdemux"
    reason = nh.nms_missing_reason()
    assert reason is None, reason
    sent, got = rh.via_nms(e, TRACKS, "flv", what,
                           rh.our_sender(e, TRACKS, "flv", what, rh.taginject_tags()))
    check(sent, got, what)


def case_server(e):
    what = "rtmpsink (flvmux) -> rtmpserversrc ! flvdemux"
    sent, got = rh.via_server(e, TRACKS, "flv", what,
                              rh.our_sender(e, TRACKS, "flv", what, rh.taginject_tags()))
    check(sent, got, what)


CASES = {"nms": case_nms, "server": case_server}


def main():
    return rh.run_cases(sys.argv, CASES, "roundtrip-flv-")


if __name__ == "__main__":
    sys.exit(main())
