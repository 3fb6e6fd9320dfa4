#!/usr/bin/env python3
"""rtmpsink request pads (video_%u / audio_%u, issue 7) against real peers, no flvmux:

1. x264enc (B-frames) + avenc_aac -> rtmpsink video_0/audio_0 -> nginx-rtmp (record all) ->
   ffprobe and our FLV reader on the recording: every access unit and AAC frame arrived, byte
   for byte (MD5 per frame against the encoder output captured with a tee), with the DTS and the
   composition offset the element must compute from the buffers (running time, ms from the first
   buffer, CTS = PTS - DTS rounded; published at the pace of the clock; the encoder output is captured with tee ! gdppay, which keeps
   each buffer's bytes, DTS, PTS and flags); the publisher ends with EOS (exit 0) and nginx saw the
   stream end. Then the same with x264enc's output held back 3 s (client_probe's PROBE_HOLD, a
   blocking probe: an encoder slow to give its first frame under load) in this non-live pipeline:
   the audio pad waits for the video however long it takes, and the recording checks the same.
2. x265enc + opusenc -> rtmpsink -> our rtmpserversrc (flv mode) -> filesink: the FLV tags have
   the Enhanced RTMP v2 headers (FourCC hvc1 / Opus, sequence start first, coded frames, sequence
   end at EOS), the frames are the encoder's, onMetaData comes first with width/height/framerate
   and videocodecid = the hvc1 FourCC.
3. av1enc ! av1parse (caps without codec_data) on video_0, vp9enc on video_1 (E-RTMP
   Multitrack), opusenc: av01 / vp09 FourCCs, sequence starts (av1C built from the first temporal
   unit, vpcC), every frame byte-identical.
4. enhanced=never with x265enc ! h265parse: gst-launch builds the pipeline, then fails with
   not-negotiated after the sink's error naming H.265 and enhanced=never.
5. reconnect=true with request pads: our rtmpserversrc is stopped during a live H.264 + AAC
   publish and started again on the same port; the new publish starts with onMetaData, the AVC
   and AAC sequence headers and a keyframe, its timestamps continue the timeline, and the sink
   posted rtmp-reconnect without an error.
6. reconnect=true with request pads and a hostile server behind a proxy (in front of nginx-rtmp):
   the first connection is dropped after 1.5 s; the reconnection reaches a server that (a) takes
   the handshake and publish, then stops reading (our send blocks: ~5 MB/s of lossless x264
   against a stalled socket), or (b) accepts TCP and never answers (the reconnect attempt waits in
   the handshake, timeout=30). Either way the state change to NULL returns within 1 s, without an
   error.

usage: sink_request_pads.py <build dir> <client_probe>
"""
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

def gdp_buffers(path):
    """[(data, dts_running_ns, pts_running_ns, delta)] of the buffers in a gdppay stream (GDP 1.0
    header, 62 bytes: payload type at 4, payload length at 6, PTS at 10, buffer flags at 42, DTS at
    44, all big-endian), in running time of the last segment event (`start`)."""
    d = open(path, "rb").read()
    pos, start, out = 0, 0, []
    while pos + 62 <= len(d):
        hd = d[pos:pos + 62]
        kind = int.from_bytes(hd[4:6], "big")
        n = int.from_bytes(hd[6:10], "big")
        payload = d[pos + 62:pos + 62 + n]
        pos += 62 + n
        if kind == 1:  # GST_DP_PAYLOAD_BUFFER
            pts = int.from_bytes(hd[10:18], "big")
            dts = int.from_bytes(hd[44:52], "big")
            if dts == (1 << 64) - 1:
                dts = pts
            delta = bool(int.from_bytes(hd[42:44], "big") & 0x2000)  # GST_BUFFER_FLAG_DELTA_UNIT
            out.append((payload, dts - start, pts - start, delta))
        elif b"GstEventSegment" in payload:
            m = re.search(rb"start\\?=\\?\(guint64\\?\)(\d+)", payload)
            start = int(m.group(1)) if m else 0
    return out


flv_tags = h.flv_tags


def md5(b):
    return hashlib.md5(b).hexdigest()


def round_ms(delta_ns):
    """What the sink does: PTS - DTS rounded half away from zero to ms."""
    return int((delta_ns + (500_000 if delta_ns >= 0 else -500_000)) / 1_000_000)


def h264_aac_through_nginx(build, wd, env, probe=None, hold=0):
    """With `hold` (seconds), run by client_probe with the encoder's output held back that long
    (PROBE_HOLD: a blocking probe on x264enc's src pad): the audio pad must wait for the video's
    first frame, and the recording be interleaved all the same."""
    name = f"held{hold}" if hold else "plain"
    ng = h.Nginx(os.path.join(wd, "nginx-" + name), record=True).start()
    vbin, abin = os.path.join(wd, name + "-video.bin"), os.path.join(wd, name + "-audio.bin")
    try:
        pipeline = ["rtmpsink", "name=k", f"location={ng.url()}",
                    "videotestsrc", "num-buffers=90", "pattern=ball", "!",
                    "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!",
                    "x264enc", "name=enc", "bframes=2", "key-int-max=30", "b-adapt=false", "!",
                    "h264parse", "!",
                    "video/x-h264,stream-format=avc,alignment=au", "!", "tee", "name=tv",
                    "tv.", "!", "queue", "!", "k.video_0",
                    "tv.", "!", "queue", "!", "gdppay", "!", "filesink", f"location={vbin}",
                    "async=false",
                    "audiotestsrc", "num-buffers=130", "!",
                    "audio/x-raw,rate=44100,channels=2", "!", "avenc_aac", "!", "aacparse", "!",
                    "tee", "name=ta",
                    "ta.", "!", "queue", "!", "k.audio_0",
                    "ta.", "!", "queue", "!", "gdppay", "!", "filesink", f"location={abin}",
                    "async=false"]
        t0 = time.monotonic()
        if hold:
            r = subprocess.run([probe, "60"] + pipeline,
                               env=dict(env, PROBE_HOLD=f"{hold}:enc"), capture_output=True,
                               text=True, timeout=120)
            res = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
            assert r.returncode == 0 and res.get("first-error") == "", r.stdout + r.stderr[-3000:]
            assert res.get("eos") == "1", f"no EOS on the bus: {res}"
        else:
            r = subprocess.run(["gst-launch-1.0", "-e"] + pipeline, env=env, capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            assert "Got EOS from element" in r.stdout, "no EOS on the bus"
        took = time.monotonic() - t0
        # sync=true (default): 3 s of media are published in about 3 s, not in a burst (held
        # back, in the hold and then at once, since it is late for the clock by then).
        assert took >= max(2.5, hold), f"published 3 s of media in {took:.2f} s: no clock sync"
        deadline = time.monotonic() + 10
        while ng.publishing() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not ng.publishing(), "nginx still sees the publisher after EOS"
    finally:
        ng.stop()
    vcap, acap = gdp_buffers(vbin), gdp_buffers(abin)
    assert len(vcap) == 90 and len(acap) >= 129, f"captured {len(vcap)} video, {len(acap)} audio"
    assert any(p != d for (_, d, p, _) in vcap), "no B-frames: the CTS check would be empty"
    vframes = [c[0] for c in vcap]
    aframes = [c[0] for c in acap]

    rec = os.path.join(ng.record_dir, "test.flv")
    tags = flv_tags(rec)
    # nginx-rtmp records what it got (FLV tags = RTMP messages), timestamps shifted so that the
    # recording starts at 0: compare relative to the first media tag.
    video = [(ts, d) for (t, ts, d) in tags if t == 9 and len(d) > 5 and d[1] == 1]
    audio = [(ts, d) for (t, ts, d) in tags if t == 8 and len(d) > 2 and d[1] == 1]
    assert len(video) == len(vcap), f"{len(video)} video frames recorded, sent {len(vcap)}"
    assert len(audio) == len(acap), f"{len(audio)} audio frames recorded, sent {len(acap)}"
    base = min(vcap[0][1], acap[0][1])
    t0 = min(video[0][0], audio[0][0])
    for i, ((ts, d), (_, dts, pts, delta)) in enumerate(zip(video, vcap)):
        assert md5(d[5:]) == md5(vframes[i]), f"video AU {i}: bytes differ"
        assert d[0] >> 4 == (2 if delta else 1), f"video AU {i}: frame type {d[0] >> 4}"
        cts = int.from_bytes(d[2:5], "big", signed=True)
        assert ts - t0 == (dts - base) // 1_000_000, f"video AU {i}: dts {ts - t0}"
        assert cts == round_ms(pts - dts), f"video AU {i}: cts {cts} vs {round_ms(pts - dts)}"
    for i, ((ts, d), (_, dts, pts, _)) in enumerate(zip(audio, acap)):
        assert md5(d[2:]) == md5(aframes[i]), f"AAC frame {i}: bytes differ"
        assert ts - t0 == (dts - base) // 1_000_000, f"AAC frame {i}: dts {ts - t0}"
    # Interleaved by DTS: the recording's media timestamps never go back.
    media_ts = [ts for (t, ts, d) in tags if t in (8, 9)]
    assert media_ts == sorted(media_ts), "media not interleaved by DTS"

    # ffprobe reads the recording like any player: same packets and timestamps.
    pk = h.ffprobe_packets(rec)
    pv = [p for p in pk if p[0] == "video"]
    pa = [p for p in pk if p[0] == "audio"]
    assert len(pv) == 90 and len(pa) == len(acap), f"ffprobe: {len(pv)} video {len(pa)} audio"
    for i, (p, (ts, d)) in enumerate(zip(pv, video)):
        cts = int.from_bytes(d[2:5], "big", signed=True)
        assert p[1] - p[2] == cts and p[3] == len(d) - 5, f"ffprobe video packet {i}: {p}"
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_name,width,height,sample_rate,channels", "-of",
                            "csv=p=0", rec], capture_output=True, text=True, timeout=60).stdout
    assert "h264,320,240" in probe and "aac,44100,2" in probe, probe
    held = f", the encoder's output held back {hold} s" if hold else ""
    print(f"ok: x264enc + avenc_aac -> video_0/audio_0 -> nginx{held}: {len(video)} AUs and "
          f"{len(audio)} AAC frames byte-identical, DTS and CTS as computed, interleaved, EOS")


def hevc_opus_into_rtmpserversrc(build, wd, env):
    port = h.free_port()
    out = os.path.join(wd, "hevc.flv")
    server = subprocess.Popen(["gst-launch-1.0", "-e", "rtmpserversrc",
                               f"location=rtmp://127.0.0.1:{port}/live/key", "!", "filesink",
                               f"location={out}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert h.wait_listening(port), "rtmpserversrc did not listen"
        vbin = os.path.join(wd, "hevc.bin")
        cmd = ["gst-launch-1.0", "-e", "rtmpsink", "name=k",
               f"location=rtmp://127.0.0.1:{port}/live/key",
               "videotestsrc", "num-buffers=30", "!",
               "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!", "x265enc",
               "speed-preset=ultrafast", "!", "h265parse", "!",
               "video/x-h265,stream-format=hvc1,alignment=au", "!", "tee", "name=tv",
               "tv.", "!", "queue", "!", "k.",
               "tv.", "!", "queue", "!", "gdppay", "!", "filesink", f"location={vbin}",
               "async=false",
               "audiotestsrc", "num-buffers=50", "!", "opusenc", "!", "k."]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        vcap = gdp_buffers(vbin)
        vframes = [c[0] for c in vcap]
        # The server's FLV is complete once the publisher left (EOS downstream of it).
        server.wait(timeout=20)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(10)
    tags = flv_tags(out)
    # onMetaData first (before the sequence headers), with the caps fields and the FourCCs.
    first = [(t, d) for (t, ts, d) in tags if t in (8, 9, 18)][0]
    assert first[0] == 18 and b"onMetaData" in first[1], "onMetaData is not the first tag"
    for field in (b"width", b"height", b"framerate", b"videocodecid", b"audiocodecid",
                  b"audiosamplerate"):
        assert field in first[1], f"onMetaData without {field}"
    hvc1 = struct.pack(">d", float(int.from_bytes(b"hvc1", "big")))
    assert b"videocodecid\x00" + hvc1 in first[1], "videocodecid is not the hvc1 FourCC"
    video = [d for (t, ts, d) in tags if t == 9]
    audio = [d for (t, ts, d) in tags if t == 8]
    # ExVideoTagHeader (E-RTMP v2): IsExHeader bit, FrameType, PacketType; FourCC "hvc1".
    assert video and all(d[0] & 0x80 and d[1:5] == b"hvc1" for d in video), "not hvc1 FourCC"
    kinds = [d[0] & 0x0F for d in video]
    assert kinds[0] == 0 and kinds[-1] == 2, f"video packet types {kinds[:3]}...{kinds[-2:]}"
    frames = []
    for d in video:
        if d[0] & 0x0F == 1:  # CodedFrames: SI24 composition time, then the frame
            frames.append(d[8:])
        elif d[0] & 0x0F == 3:  # CodedFramesX
            frames.append(d[5:])
    assert len(frames) == len(vcap) == 30, f"{len(frames)} HEVC frames, encoder made {len(vcap)}"
    assert all(md5(a) == md5(b) for a, b in zip(frames, vframes)), "HEVC frames differ"
    # ExAudioTagHeader: SoundFormat 9, AudioPacketType, FourCC "Opus".
    assert audio and all(d[0] >> 4 == 9 and d[1:5] == b"Opus" for d in audio), "not Opus FourCC"
    akinds = [d[0] & 0x0F for d in audio]
    assert akinds[0] == 0 and audio[0][5:13] == b"OpusHead", "no Opus sequence start first"
    assert akinds[-1] == 2, "no Opus sequence end"
    assert sum(1 for k in akinds if k == 1) >= 50, f"{akinds.count(1)} Opus frames"
    print(f"ok: x265enc + opusenc -> rtmpsink -> rtmpserversrc: {len(frames)} hvc1 frames "
          f"byte-identical, {akinds.count(1)} Opus frames, FourCC headers, sequence start/end")


def av1_and_vp9_tracks_into_rtmpserversrc(wd, env):
    """av1enc ! av1parse (no codec_data: the av1C comes from the first sequence header OBU) on
    video_0, vp9enc on video_1 (E-RTMP Multitrack), opusenc on audio_0."""
    port = h.free_port()
    out = os.path.join(wd, "av1.flv")
    server = serve_to_file(env, port, out)
    cap0, cap1 = os.path.join(wd, "av1.gdp"), os.path.join(wd, "vp9.gdp")
    raw = "video/x-raw,format=I420,width=160,height=120,framerate=30/1"
    try:
        r = subprocess.run(
            ["gst-launch-1.0", "-e", "rtmpsink", "name=k", f"location=rtmp://127.0.0.1:{port}/live/key",
             "videotestsrc", "num-buffers=20", "!", raw, "!", "av1enc", "cpu-used=8",
             "usage-profile=realtime", "!", "av1parse", "!", "tee", "name=t0",
             "t0.", "!", "queue", "!", "k.video_0",
             "t0.", "!", "queue", "!", "gdppay", "!", "filesink", f"location={cap0}",
             "async=false",
             "videotestsrc", "num-buffers=20", "pattern=ball", "!", raw, "!", "vp9enc",
             "deadline=1", "!", "tee", "name=t1",
             "t1.", "!", "queue", "!", "k.video_1",
             "t1.", "!", "queue", "!", "gdppay", "!", "filesink", f"location={cap1}",
             "async=false",
             "audiotestsrc", "num-buffers=30", "!", "opusenc", "!", "queue", "!", "k.audio_0"],
            env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        server.wait(timeout=20)
    finally:
        if server.poll() is None:
            server.send_signal(2)
            server.wait(10)
    av1 = [c[0] for c in gdp_buffers(cap0)]
    vp9 = [c[0] for c in gdp_buffers(cap1)]
    assert av1 and vp9, "the encoders produced nothing"
    track0, track1 = [], []
    for (t, ts, d) in flv_tags(out):
        if t != 9:
            continue
        assert d[0] & 0x80, "a video tag without the ExVideoTagHeader"
        ptype = d[0] & 0x0F
        if ptype == 6:  # Multitrack: AvMultitrackType << 4 | PacketType, FourCC, trackId, body
            assert d[1] >> 4 == 0, "not OneTrack"
            track1.append((d[1] & 0x0F, d[2:6], d[6], d[7:]))
        else:
            track0.append((ptype, d[1:5], 0, d[5:]))
    assert all(fcc == b"av01" for (_, fcc, _, _) in track0), "track 0 is not av01"
    assert all(fcc == b"vp09" and tid == 1 for (_, fcc, tid, _) in track1), "track 1 is not vp09/1"
    assert track0[0][0] == 0 and track0[0][3][0] == 0x81, "no av1C sequence start first"
    assert track1[0][0] == 0 and track1[0][3][0] == 1, "no vpcC (version 1) sequence start first"
    frames0 = [b for (k, _, _, b) in track0 if k == 1 or k == 3]
    frames1 = [b for (k, _, _, b) in track1 if k == 1 or k == 3]
    assert len(frames0) == len(av1) and all(md5(a) == md5(b) for a, b in zip(frames0, av1)), \
        f"AV1: {len(frames0)} frames sent, encoder made {len(av1)}, or bytes differ"
    assert len(frames1) == len(vp9) and all(md5(a) == md5(b) for a, b in zip(frames1, vp9)), \
        f"VP9: {len(frames1)} frames sent, encoder made {len(vp9)}, or bytes differ"
    print(f"ok: av1enc (no codec_data) on video_0 + vp9enc on video_1 (Multitrack) + opus -> "
          f"rtmpserversrc: {len(frames0)} av01 and {len(frames1)} vp09 frames byte-identical")


def never_refuses_hevc(wd, env):
    r = subprocess.run(["gst-launch-1.0", "videotestsrc", "num-buffers=3", "!", "x265enc", "!",
                        "h265parse", "!", "rtmpsink", "enhanced=never",
                        "location=rtmp://127.0.0.1:1/live/x"],
                       env=env, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode != 0, "enhanced=never accepted HEVC"
    assert "could not link" not in out, "refused at link time, without saying why: " + out
    assert "video_0: video/x-h265 needs Enhanced RTMP, which enhanced=never forbids" in out, out
    assert "not-negotiated" in out, out
    print("ok: enhanced=never: x265enc ! h265parse ! rtmpsink is refused at negotiation, "
          "with an error naming the codec and the property")


def serve_to_file(env, port, out):
    p = subprocess.Popen(["gst-launch-1.0", "-e", "rtmpserversrc",
                          f"location=rtmp://127.0.0.1:{port}/live/key", "!", "filesink",
                          f"location={out}"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    assert h.wait_listening(port), "rtmpserversrc did not listen"
    return p


def reconnect_keeps_request_pads_working(wd, env, probe):
    port = h.free_port()
    before, after = os.path.join(wd, "before.flv"), os.path.join(wd, "after.flv")
    server = serve_to_file(env, port, before)
    pub = subprocess.Popen([probe, "7", "rtmpsink", "name=k",
                            f"location=rtmp://127.0.0.1:{port}/live/key", "reconnect=true",
                            "reconnect-delay=200", "max-reconnect-delay=500",
                            "videotestsrc", "is-live=true", "!",
                            "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc",
                            "tune=zerolatency", "key-int-max=30", "speed-preset=ultrafast", "!",
                            "h264parse", "!", "queue", "!", "k.video_0",
                            "audiotestsrc", "is-live=true", "!", "avenc_aac", "!", "aacparse",
                            "!", "queue", "!", "k.audio_0"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)
        server.send_signal(2)  # SIGINT: gst-launch -e stops the server, the TCP session drops
        server.wait(10)
        time.sleep(0.5)
        server = serve_to_file(env, port, after)
        o, e = pub.communicate(timeout=60)
    finally:
        if pub.poll() is None:
            pub.kill()
        time.sleep(0.5)
        server.send_signal(2)
        server.wait(10)
    res = dict(line.split("=", 1) for line in o.splitlines() if "=" in line)
    assert res.get("first-error") == "", f"publisher error: {res}"
    assert int(res.get("reconnect-messages", "0")) >= 1, f"no rtmp-reconnect: {res}"
    assert int(res["null-ms"]) < 1000, res
    tags = [(t, ts, d) for (t, ts, d) in flv_tags(after) if t in (8, 9, 18)]
    assert len(tags) > 60, f"{len(tags)} tags after the reconnection"
    kinds = [t for (t, ts, d) in tags[:3]]
    assert tags[0][0] == 18 and b"onMetaData" in tags[0][2], "no onMetaData first"
    assert sorted(kinds[1:]) == [8, 9] and tags[1][2][1] == 0 and tags[2][2][1] == 0, \
        "the sequence headers do not follow the onMetaData"
    first_frame = next(d for (t, ts, d) in tags[3:] if t == 9)
    assert first_frame[0] >> 4 == 1, "the resumed video does not start with a keyframe"
    media = [ts for (t, ts, d) in tags if t in (8, 9)]
    assert media[-1] >= 2000, f"timestamps restarted: last {media[-1]} ms"
    print(f"ok: reconnect=true with request pads: {res['reconnect-messages']} rtmp-reconnect, "
          f"{len(tags)} tags after it starting with onMetaData, sequence headers, a keyframe")


class HostileProxy(h.LoopbackListener):
    """In front of `upstream_port`: the first connection is forwarded for `drop_after` s, then
    closed (the publisher reconnects); later ones get `behaviour`: "stops-reading" forwards until
    the publisher sent `stall_after` bytes and then reads nothing more, "silent" never reads nor
    answers."""

    def __init__(self, upstream_port, behaviour, drop_after=1.5, stall_after=512 * 1024):
        super().__init__()
        self.upstream_port, self.behaviour = upstream_port, behaviour
        self.drop_after, self.stall_after = drop_after, stall_after
        self.dropped, self.stalled = threading.Event(), threading.Event()
        self.start()

    @staticmethod
    def pipe(src, dst, limit=None, on_limit=None):
        total = 0
        try:
            while limit is None or total < limit:
                b = src.recv(65536)
                if not b:
                    return
                dst.sendall(b)
                total += len(b)
        except OSError:
            return
        if on_limit:
            on_limit()

    def serve(self, conn, index):
        if index > 0 and self.behaviour == "silent":
            return  # the socket stays open, unread (self.conns keeps it)
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        self.conns.append(up)
        threading.Thread(target=self.pipe, args=(up, conn), daemon=True).start()
        if index == 0:
            threading.Thread(target=self.pipe, args=(conn, up), daemon=True).start()
            time.sleep(self.drop_after)
            for s in (conn, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.dropped.set()
        else:  # stops reading: the publisher's socket buffer fills, its send blocks
            self.pipe(conn, up, self.stall_after, self.stalled.set)


def reconnect_into_hostile_server(wd, env, probe, behaviour):
    ng = h.Nginx(os.path.join(wd, "nginx-" + behaviour)).start()
    proxy = HostileProxy(ng.port, behaviour)
    try:
        t0 = time.monotonic()
        r = subprocess.run(
            [probe, "5", "rtmpsink", "name=k", f"location=rtmp://127.0.0.1:{proxy.port}/live/test",
             "reconnect=true", "reconnect-delay=100", "timeout=30",
             "videotestsrc", "is-live=true", "pattern=snow", "!",
             "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc",
             "tune=zerolatency", "speed-preset=ultrafast", "pass=quant", "quantizer=0",
             "key-int-max=30", "!", "h264parse", "!", "queue", "!", "k.video_0",
             "audiotestsrc", "is-live=true", "!", "avenc_aac", "!", "aacparse", "!", "queue", "!",
             "k.audio_0"],
            env=env, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
    finally:
        proxy.close()
        ng.stop()
    assert r.returncode == 0, r.stderr
    res = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert proxy.dropped.is_set(), "the first connection was not dropped"
    assert int(res.get("reconnect-messages", "0")) >= 1, f"no rtmp-reconnect: {res}"
    assert len(proxy.conns) >= 3, "the sink did not reconnect"  # first (+ its upstream), second
    if behaviour == "stops-reading":
        assert proxy.stalled.is_set(), "the reconnected publish never reached the stall"
    assert res.get("first-error") == "", f"publisher error: {res}"
    assert int(res["null-ms"]) < 1000, f"{behaviour}: NULL took {res['null-ms']} ms"
    what = {"stops-reading": "stops reading", "silent": "never answers"}[behaviour]
    print(f"ok: reconnect=true with request pads into a server that {what}: "
          f"{res['reconnect-messages']} rtmp-reconnect, NULL in {res['null-ms']} ms "
          f"(run {took:.1f} s)")


def main():
    build = os.path.abspath(sys.argv[1])
    wd = h.workdir("sinkpads-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, names=("rtmpsink", "rtmpserversrc"))
    h264_aac_through_nginx(build, wd, env)
    h264_aac_through_nginx(build, wd, env, sys.argv[2], hold=3)
    hevc_opus_into_rtmpserversrc(build, wd, env)
    av1_and_vp9_tracks_into_rtmpserversrc(wd, env)
    never_refuses_hevc(wd, env)
    reconnect_keeps_request_pads_working(wd, env, sys.argv[2])
    for behaviour in ("stops-reading", "silent"):
        reconnect_into_hostile_server(wd, env, sys.argv[2], behaviour)


if __name__ == "__main__":
    main()
