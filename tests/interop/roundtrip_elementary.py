#!/usr/bin/env python3
"""Elementary-stream round trips (issue 7, tests): encoders ! parser ! rtmpsink's request pads
(video_<id>, audio_<id>; no flvmux) -> a server -> a receiver with output=elementary (sometimes
pads video_<id>, audio_<id>; no flvdemux):

  <stream>_nms     -> node-media-server v4 -> our rtmpsrc output=elementary
  <stream>_server  -> our rtmpserversrc output=elementary

for the streams

  h264_aac     x264enc + voaacenc           (legacy FLV headers with enhanced=auto)
  h265_aac     x265enc ! h265parse + AAC    (Enhanced RTMP hvc1)
  av1_opus     av1enc ! av1parse + opusenc  (av01 + Opus)
  vp9_opus     vp9enc ! vp9parse + opusenc  (vp09 + Opus)
  multitrack   two H.264 video tracks (video_0, video_1 = E-RTMP multitrack) + AAC
  vp8_flac     vp8enc (vp08) + flacenc ! flacparse (fLaC; its in-band header buffers are not
               sent, STREAMINFO must arrive in the receiver's streamheader)
  h264_ac3     H.264 + avenc_ac3 ! ac3parse (ac-3)
  h264_eac3    H.264 + avenc_eac3 ! ac3parse (ec-3)
  h264_mp3     H.264 + lamemp3enc ! mpegaudioparse at 44.1 kHz (legacy SoundFormat 2)
  mp3_8k       MP3 at 8 kHz alone (legacy SoundFormat 14)
  mp3_48k      MP3 at 48 kHz alone (Enhanced `.mp3`: the legacy flags have no 48 kHz)

For the codecs that name one (rh.CODECS codecid) the receiver's rtmp-metadata message must carry
the videocodecid / audiocodecid the sink announced: which header it chose.

Per track: the receiver's pad has the expected caps (media type, stream-format, alignment,
codec_data / streamheader), the same number of buffers as went into rtmpsink (a tee after the
parser records them), the same MD5 for every buffer in order, timestamps up to one offset, and
the decoder after it outputs one frame per buffer.

What node-media-server v4 (4.4.x) cannot carry is listed in NMS_LIMITS with the reason and
reported as a skip of that case (never silently); our own server passes every case. The whole
test fails (never skips) when node-media-server is missing (scripts/setup-deps.sh --nms).

  h265_opus_late_nms   HEVC + Opus, the player joins node-media-server 1.5 s late: from the GOP
                       NMS replays (keyframe) on, every buffer and frame
  multitrack_late_nms  the multitrack stream, joined 1.5 s late: video_0 the same; video_1 and
                       audio_0 never get a sequence header from NMS (reported as a skip while
                       so, an error once NMS replays them); rtmpsrc must post its "coded frames
                       dropped, no usable sequence header" warning for each of them

Every *_nms case also checks that the EOS the probe sends to the player's pipeline (as
gst-launch-1.0 -e does) reaches every track pad of rtmpsrc output=elementary.

usage: roundtrip_elementary.py <build dir> <server_probe> [case...]
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nms_harness as nh  # noqa: E402
import roundtrip_harness as rh  # noqa: E402
import server_harness as sh  # noqa: E402

T = rh.Track
STREAMS = {
    "h264_aac": [T("h264"), T("aac")],
    "h265_aac": [T("h265"), T("aac")],
    "av1_opus": [T("av1"), T("opus")],
    "vp9_opus": [T("vp9"), T("opus")],
    "h265_opus": [T("h265"), T("opus")],
    "multitrack": [T("h264", 0, "ball"), T("h264", 1, "smpte"), T("aac")],
    "vp8_flac": [T("vp8"), T("flac")],
    "h264_ac3": [T("h264"), T("ac3")],
    "h264_eac3": [T("h264"), T("eac3")],
    "h264_mp3": [T("h264"), T("mp3")],
    "mp3_8k": [T("mp3_8k")],
    "mp3_48k": [T("mp3_48k")],
}

# Streams node-media-server v4 does not relay intact, with the reason (checked by the test: a
# listed stream that does pass is reported, so the list cannot go stale unnoticed).
NMS_LIMITS = {}


def case(stream, server):
    tracks = STREAMS[stream]

    def run(e):
        what = f"{stream}: rtmpsink pads -> " + \
            ("node-media-server -> rtmpsrc" if server == "nms" else "rtmpserversrc") + \
            " output=elementary"
        # sync=false: publish as fast as the encoders go (the request pads pace to the clock)
        publish = rh.our_sender(e, tracks, "pads", what, sink_props="sync=false")
        if server == "nms":
            reason = nh.nms_missing_reason()
            assert reason is None, reason
            sent, got = rh.via_nms(e, tracks, "elementary", what, publish)
        else:
            sent, got = rh.via_server(e, tracks, "elementary", what, publish)
        summary = rh.check_tracks(tracks, sent, got, what)
        print(f"ok: {what}: {summary}{check_codec_ids(tracks, got, what)}")
    return run


def check_codec_ids(tracks, got, what):
    """The header the sink chose, as its onMetaData announces it (videocodecid / audiocodecid:
    the legacy id or the FourCC as a number) and the receiver posts it (rtmp-metadata), for the
    codecs that say which one they expect (MP3: 2, 14 or `.mp3` by rate)."""
    messages = [x for x in got if x.startswith("msg s rtmp-metadata")]
    said = []
    for t in tracks:
        want = rh.CODECS[t.codec].get("codecid")
        if want is None:
            continue
        field = f"{t.kind}codecid=(double){want}"
        assert any(field in m for m in messages), \
            f"{what}: {t}: no {field} in the receiver's rtmp-metadata: {messages[-1:]}"
        said.append(f"{t.kind}codecid {want}")
    return f"; onMetaData {', '.join(said)}" if said else ""


def nms_case(stream):
    run = case(stream, "nms")
    if stream not in NMS_LIMITS:
        return run

    def limited(e):
        try:
            run(e)
        except AssertionError as err:
            print(f"skip: {stream} through node-media-server: {NMS_LIMITS[stream]} ({err})")
            return
        raise AssertionError(f"{stream} passed through node-media-server although NMS_LIMITS "
                             f"says: {NMS_LIMITS[stream]}; remove it from the list")
    return limited


def late_join_nms(stream, limited=None, limit=None):
    """A player that joins node-media-server 1.5 s into a 4 s stream published in real time
    (the request pads pace to the clock): NMS gives it onMetaData, the sequence headers and the
    GOP since the last keyframe, then the live stream. Checks caps, every buffer from the first
    one it got to the end (MD5s, timestamps) and every one decoded. `limited`: labels of the
    tracks NMS cannot replay, `limit` why (reported as a skip while they fail, an error once they
    pass); the other tracks must pass."""
    def run(e):
        reason = nh.nms_missing_reason()
        assert reason is None, reason
        tracks = [T(t.codec, t.id, t.pattern, seconds=4) for t in STREAMS[stream]]
        what = f"{stream}: rtmpsink pads -> node-media-server -> rtmpsrc output=elementary " \
            "joining 1.5 s late"
        sent, got = late_join(e, tracks, what)
        strict = [t for t in tracks if t.label not in (limited or ())]
        summary = rh.check_tracks(strict, sent, got, what, late=True)
        if limited:
            try:
                rh.check_tracks([t for t in tracks if t.label in limited], sent, got, what,
                                late=True)
            except AssertionError as err:
                # Meanwhile rtmpsrc must say so: one warning per track that got frames without
                # its sequence header.
                for t in tracks:
                    if t.label in limited:
                        text = f"{t.kind} track {t.id}: coded frames dropped"
                        assert any(x.startswith("warning s ") and text in x for x in got), \
                            f"{what}: no warning '{text}' from rtmpsrc: " \
                            f"{[x for x in got if x.startswith('warning')]}"
                print(f"skip: {stream}, late join through node-media-server, tracks {limited}: "
                      f"{limit}; rtmpsrc warned for each ({err})")
            else:
                raise AssertionError(f"{what}: {limited} passed although the test says: "
                                     f"{limit}; remove that")
        print(f"ok: {what}: {summary}")
    return run


def late_join(e, tracks, what):
    with nh.NodeMediaServer(e.dir) as nms:
        url = nms.url()
        sender = sh.Probe(e.probe, e.env, rh.sender_pipeline(tracks, url, "pads"), seconds=60)
        player = None
        try:
            assert nms.wait_publishers(), f"{what}: no publish: {sender.lines[-5:]}"
            time.sleep(1.5)  # the sink sends in real time from the publish on
            player = sh.Probe(e.probe, e.env,
                              rh.receiver_pipeline(tracks, f"rtmpsrc name=s location={url}",
                                                   "elementary"),
                              seconds=8, extra=("--until-stdin",), stdin=subprocess.PIPE)
            assert nms.wait_players(), f"{what}: rtmpsrc did not subscribe"
            sent = sender.finish(60)
            rh.check_clean(sent, what, "sender")
            counts = {}
            for t in tracks:
                all_sent = rh.sent_buffers(sent, t)
                tail = rh.sent_from_first_received(all_sent, list(player.lines), t.label)
                counts[t.label] = len(tail) or len(all_sent)
            try:
                player.proc.stdin.write("".join(f"out_{t}={n}\n" for t, n in counts.items()) +
                                        "go\n")
                player.proc.stdin.flush()
            except BrokenPipeError:
                pass
            got = player.finish(40)
        finally:
            sender.kill()
            if player:
                player.kill()
    rh.check_clean(got, what, "receiver")
    return sent, got


CASES = {}
for s in STREAMS:
    CASES[f"{s}_server"] = case(s, "server")
    CASES[f"{s}_nms"] = nms_case(s)
CASES["h265_opus_late_nms"] = late_join_nms("h265_opus")
CASES["multitrack_late_nms"] = late_join_nms(
    "multitrack", ("v1", "a0"),
    "node-media-server 4.4 files every E-RTMP multitrack message (video_1) as the audio "
    "sequence header it replays to late players, so a late player gets neither video_1's "
    "sequence start nor the AAC one")


def main():
    return rh.run_cases(sys.argv, CASES, "roundtrip-es-")


if __name__ == "__main__":
    sys.exit(main())
