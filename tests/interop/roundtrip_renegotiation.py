#!/usr/bin/env python3
"""Renegotiation round trip (issue 7, tests): a publisher changes resolution mid-stream.

The sender encodes 45 frames at 320x240 then 45 at 640x360 (`concat` of two videotestsrc, the
second with a timestamp-offset so that the timestamps go on) with x264enc ! h264parse into our
rtmpsink's video_0 request pad; a tee after the parser records what went into the sink. On the
new raw caps x264enc starts a new stream: a keyframe with a new SPS/PPS, and h264parse sends new
caps with a new codec_data (avcC). The sink must send a new AVC sequence header carrying it before
that keyframe. Receivers:

  server_elementary  -> our rtmpserversrc output=elementary
  nginx_elementary   -> nginx-rtmp (recording) -> our rtmpsrc output=elementary
  nginx_flv          -> nginx-rtmp (recording) -> our rtmpsrc ! flvdemux (the baseline)

each `! h264parse ! avdec_h264 ! fakesink` beside a probed fakesink. Checked per receiver:
  - every buffer arrives with the MD5 it was sent with, in order, timestamps up to one offset,
    and every one is decoded (roundtrip_harness.check_tracks);
  - the caps on video_0 (flvdemux's video pad) change exactly once, from the sender's first
    codec_data to its second, right before buffer 45 (the keyframe of the new size);
  - the decoder outputs 45 frames at 320x240, then 45 at 640x360;
  - nginx cases: the FLV nginx recorded has exactly two AVC sequence headers, the sender's two
    avcC byte for byte, the second as the tag right before the first 640x360 frame (a keyframe).

usage: roundtrip_renegotiation.py <build dir> <server_probe> [case...]
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import roundtrip_harness as rh  # noqa: E402
import server_harness as sh  # noqa: E402

FRAMES = 45  # per resolution, 30 fps
SIZES = ((320, 240), (640, 360))
TRACK = rh.Track("h264")  # label v0: out_sent_v0, out_v0, out_dec_v0
# key-int-max 15: keyframes at 0, 15, 30; the new size starts a new stream (a keyframe) at 45.
ENCODER = ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! h264parse ! "
           "video/x-h264,stream-format=avc,alignment=au")


def sender_pipeline(url):
    raw = []
    for i, (w, hgt) in enumerate(SIZES):
        offset = i * FRAMES * 1_000_000_000 // 30
        raw.append(f"videotestsrc num-buffers={FRAMES} pattern=ball timestamp-offset={offset} ! "
                   f"video/x-raw,format=I420,width={w},height={hgt},framerate=30/1 ! c.")
    # adjust-base=false: the second segment's running time is its PTS (timestamp-offset), so
    # the tee records the timestamps the sink sends.
    return rh.tokens(f"rtmpsink name=k location={url} sync=false "
                     f"concat name=c adjust-base=false ! {ENCODER} ! tee name=t_v0 ! queue ! "
                     f"k.video_0 t_v0. ! queue ! fakesink name=out_sent_v0 sync=false "
                     + " ".join(raw))


def publish(e, what):
    def run(url):
        lines = rh.run_sender(e.probe, e.env, sender_pipeline(url), what)
        return lines, rh.sent_counts([TRACK], lines)
    return run


def caps_runs(lines, sink):
    """[(caps, number of buffers that followed them)] in the order the sink saw them (the probe
    prints a pad's caps events and buffers from its streaming thread, in order)."""
    runs = []
    for x in lines:
        if x.startswith(f"caps {sink} "):
            runs.append([x.split(" ", 2)[2], 0])
        elif x.startswith(f"buf {sink} "):
            assert runs, f"{sink}: a buffer before caps"
            runs[-1][1] += 1
    return [tuple(r) for r in runs]


def codec_data(caps):
    m = re.search(r"codec_data=\(buffer\)([0-9a-f]+)", caps)
    return m.group(1) if m else None


def size_of(caps):
    w, hgt = re.search(r"width=\(int\)(\d+)", caps), re.search(r"height=\(int\)(\d+)", caps)
    return (int(w.group(1)), int(hgt.group(1))) if w and hgt else None


def check_renegotiation(sent_lines, got_lines, what):
    sent = caps_runs(sent_lines, "out_sent_v0")
    sent_avcc = [codec_data(c) for c, _ in sent]
    assert [n for _, n in sent] == [FRAMES, FRAMES] and None not in sent_avcc and \
        sent_avcc[0] != sent_avcc[1], \
        f"{what}: the sender did not renegotiate once with a new codec_data after {FRAMES} " \
        f"frames: {sent}"
    # (width / height come from the onMetaData the sink sends again on new caps)
    got = caps_runs(got_lines, "out_v0")
    assert [(codec_data(c), size_of(c), n) for c, n in got] == \
        list(zip(sent_avcc, SIZES, (FRAMES, FRAMES))), \
        f"{what}: video_0 caps and the buffers after each {[(c, n) for c, n in got]}, " \
        f"expected the sender's two codec_data, {SIZES}, {FRAMES} buffers each: {sent_avcc}"
    decoded = caps_runs(got_lines, "out_dec_v0")
    assert [(size_of(c), n) for c, n in decoded] == [(s, FRAMES) for s in SIZES], \
        f"{what}: decoded {[(size_of(c), n) for c, n in decoded]}, expected " \
        f"{[(s, FRAMES) for s in SIZES]}"
    return sent_avcc


def check_recording(path, sent_avcc, what):
    """The FLV nginx recorded: AVC sequence headers (FLV spec E.4.3.1: CodecID 7,
    AVCPacketType 0) exactly the sender's two avcC in order, the second right before the first
    frame of the new size, which is a keyframe."""
    video = [d for t, _, d in h.flv_tags(path) if t == 9 and d and d[0] & 0x0F == 7]
    headers = [i for i, d in enumerate(video) if len(d) > 1 and d[1] == 0]
    assert [video[i][5:].hex() for i in headers] == sent_avcc, \
        f"{what}: recorded sequence headers {[video[i][5:].hex() for i in headers]}, " \
        f"sent {sent_avcc}"
    frames = [i for i, d in enumerate(video) if len(d) > 1 and d[1] == 1]
    assert len(frames) == 2 * FRAMES and headers[1] == frames[FRAMES] - 1 and \
        video[frames[FRAMES]][0] >> 4 == 1, \
        f"{what}: recorded {len(frames)} frames, second sequence header at video tag " \
        f"{headers[1]}, first {SIZES[1]} frame at {frames[FRAMES] if len(frames) > FRAMES else '-'}"
    return f"recording: 2 sequence headers, the second before keyframe {FRAMES}"


def via_nginx(e, recv_mode, what):
    """publish -> nginx-rtmp (recording) -> our rtmpsrc, subscribed before the publish; rtmpsrc
    ends the stream on nginx's NetStream.Play.UnpublishNotify when the publisher leaves."""
    ng = h.Nginx(e.dir, record=True).start()
    try:
        url = ng.url()
        recv = rh.receiver_pipeline([TRACK], f"rtmpsrc name=s location={url}", recv_mode)
        player = sh.Probe(e.probe, e.env, recv, seconds=60)
        try:
            assert ng.wait_players(), f"{what}: rtmpsrc did not subscribe: {player.lines[-10:]}"
            sent, _ = publish(e, what)(url)
            got = player.finish(60)
        finally:
            player.kill()
        # nginx closes the recording when the publisher has left
        deadline = time.monotonic() + 5
        while ng.publishing() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ng.stop()
    rh.check_clean(got, what, "receiver")
    assert "eos" in got, f"{what}: rtmpsrc did not end the stream: {got[-10:]}"
    return sent, got, os.path.join(ng.record_dir, "test.flv")


def case(server, recv_mode):
    def run(e):
        what = "320x240 -> 640x360: rtmpsink video_0 -> " + \
            ("nginx-rtmp -> rtmpsrc" if server == "nginx" else "rtmpserversrc") + \
            (" output=elementary" if recv_mode == "elementary" else " ! flvdemux")
        if server == "nginx":
            sent, got, recording = via_nginx(e, recv_mode, what)
        else:
            sent, got = rh.via_server(e, [TRACK], recv_mode, what, publish(e, what))
        summary = rh.check_tracks([TRACK], sent, got, what, elementary=recv_mode == "elementary")
        sent_avcc = check_renegotiation(sent, got, what)
        extra = f"; {check_recording(recording, sent_avcc, what)}" if server == "nginx" else ""
        print(f"ok: {what}: {summary}; caps changed once before buffer {FRAMES}, decoded "
              f"{FRAMES} frames at {SIZES[0]} then {FRAMES} at {SIZES[1]}{extra}")
    return run


CASES = {
    "server_elementary": case("server", "elementary"),
    "nginx_elementary": case("nginx", "elementary"),
    "nginx_flv": case("nginx", "flv"),
}

if __name__ == "__main__":
    sys.exit(rh.run_cases(sys.argv, CASES, "roundtrip-reneg-"))
