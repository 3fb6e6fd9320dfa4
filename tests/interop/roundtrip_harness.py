"""Round trips of encoded streams through our elements (issue 7): a sender pipeline encodes short
test streams and publishes them with our rtmpsink, a `tee` after each parser feeding a probed
fakesink (`out_sent_<track>`) with exactly what went into the sink; a receiver pipeline (our
rtmpsrc playing from node-media-server, or our rtmpserversrc as the server) splits what arrives
per track into a probed fakesink (`out_<track>`) and a decoder (`out_dec_<track>`).

Both run in server_probe (GST_PLUGIN_PATH on our build, private registry), which prints the
caps, the PTS/DTS/size/MD5 of every buffer and the tags of each probed sink; `check_tracks`
compares the two sides: caps, buffer count, the MD5 of every buffer in order, timestamps up to
one constant offset, and the number of decoded frames.

A track is named `v0`, `v1`, `a0`... (kind and RTMP track id).
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import nms_harness as nh  # noqa: E402
import server_harness as sh  # noqa: E402

VIDEO_FRAMES = 60  # 2 s at 30 fps (AUDIO_SECONDS)
AUDIO_SECONDS = 2

# Raw test sources: small, short, and with moving content so that frames differ.
VIDEO_RAW = ("videotestsrc num-buffers={frames} pattern={pattern} ! "
             "video/x-raw,format=I420,width=160,height=120,framerate=30/1")
AUDIO_RAW = ("audiotestsrc num-buffers={buffers} samplesperbuffer={spb} wave=ticks ! "
             "audio/x-raw,rate={rate},channels=2")

# name: kind, encoder chain ending in the parser and the caps that go into the sink, the
# receiver's caps (media type, fields it must have as "name=(type)value" or just "name"; those
# marked elementary only for output=elementary: flvdemux's caps lack them), decoder chain (with a
# parser: flvdemux's caps have no alignment).
CODECS = {
    "h264": dict(kind="video",
                 enc="x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse ! "
                     "video/x-h264,stream-format=avc,alignment=au",
                 caps="video/x-h264", fields=["stream-format=(string)avc", "codec_data"],
                 elementary_fields=["alignment=(string)au"],
                 dec="h264parse ! avdec_h264 max-threads=1"),
    "h265": dict(kind="video",
                 enc="x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h265parse ! "
                     "video/x-h265,stream-format=hvc1,alignment=au",
                 caps="video/x-h265", fields=["stream-format=(string)hvc1", "codec_data"],
                 elementary_fields=["alignment=(string)au"],
                 dec="h265parse ! avdec_h265 max-threads=1"),
    "av1": dict(kind="video",
                # (end-usage=cbr at 160x120 trips an assertion in Debian 12's libaom)
                enc="av1enc usage-profile=realtime cpu-used=8 keyframe-max-dist=30 "
                    "target-bitrate=300 ! av1parse ! "
                    "video/x-av1,stream-format=obu-stream,alignment=tu",
                caps="video/x-av1", fields=["stream-format=(string)obu-stream", "codec_data"],
                elementary_fields=["alignment=(string)tu"],
                dec="av1parse ! av1dec"),
    "vp9": dict(kind="video",
                enc="vp9enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=200000 ! "
                    "vp9parse",
                caps="video/x-vp9", fields=[], elementary_fields=[],
                dec="vp9dec"),
    "aac": dict(kind="audio",
                enc="voaacenc bitrate=64000 ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw",
                caps="audio/mpeg", fields=["mpegversion=(int)4", "stream-format=(string)raw",
                                           "codec_data"],
                elementary_fields=[],
                dec="aacparse ! avdec_aac"),
    "opus": dict(kind="audio",
                 enc="opusenc bitrate=64000 ! opusparse",
                 caps="audio/x-opus", fields=[], elementary_fields=["streamheader"],
                 dec="opusdec"),
}

# Enhanced RTMP v2 codecs without a legacy id (VP8, FLAC, AC-3, E-AC-3) and MP3 at the three rates
# that select its three headers: 44.1 kHz legacy SoundFormat 2, 8 kHz legacy 14, 48 kHz `.mp3`
# (the flags cannot say 48 kHz). `codecid`: the audiocodecid / videocodecid the sink's onMetaData
# must announce (the legacy id, or the FourCC as a number), which the receiver posts in its
# rtmp-metadata message.
CODECS.update({
    "vp8": dict(kind="video",
                enc="vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=200000",
                caps="video/x-vp8", fields=[], elementary_fields=[],
                dec="vp8dec", codecid=int.from_bytes(b"vp08", "big")),
    # flacparse pushes "fLaC", STREAMINFO and VORBIS_COMMENT untimed, flagged HEADER, before the
    # first frame (in_band_headers): the sink leaves them out, its sequence start carries
    # STREAMINFO (compared by check_flac_streaminfo).
    "flac": dict(kind="audio", in_band_headers=3,
                 enc="flacenc blocksize=1152 ! flacparse",
                 caps="audio/x-flac", fields=["framed=(boolean)true", "rate=(int)44100",
                                              "channels=(int)2"],
                 elementary_fields=["streamheader"],
                 dec="flacdec", codecid=int.from_bytes(b"fLaC", "big")),
    "ac3": dict(kind="audio",
                enc="avenc_ac3 bitrate=96000 ! ac3parse",
                caps="audio/x-ac3", fields=["framed=(boolean)true", "alignment=(string)frame"],
                elementary_fields=[],
                dec="ac3parse ! avdec_ac3", codecid=int.from_bytes(b"ac-3", "big")),
    "eac3": dict(kind="audio",
                 enc="avenc_eac3 bitrate=96000 ! ac3parse",
                 caps="audio/x-eac3", fields=["framed=(boolean)true", "alignment=(string)frame"],
                 elementary_fields=[],
                 dec="ac3parse ! avdec_eac3", codecid=int.from_bytes(b"ec-3", "big")),
})
# (LAME resamples below 128 kbit/s stereo: 64 kbit/s at 44.1 kHz would come out at 24 kHz)
for name, rate, kbps, codecid in (("mp3", 44100, 128, 2), ("mp3_8k", 8000, 32, 14),
                                  ("mp3_48k", 48000, 128, int.from_bytes(b".mp3", "big"))):
    CODECS[name] = dict(kind="audio",
                        enc=f"lamemp3enc target=bitrate bitrate={kbps} cbr=true ! "
                            "mpegaudioparse",
                        caps="audio/mpeg", fields=["mpegversion=(int)1", "layer=(int)3",
                                                   f"rate=(int){rate}", "channels=(int)2"],
                        elementary_fields=[],
                        dec="mpegaudioparse ! mpg123audiodec", codecid=codecid)

AUDIO_RATE = {"aac": (44100, 1024), "opus": (48000, 960), "flac": (44100, 1152),
              "ac3": (48000, 1536), "eac3": (48000, 1536), "mp3": (44100, 1152),
              "mp3_8k": (8000, 576), "mp3_48k": (48000, 1152)}


class Track:
    def __init__(self, codec, track_id=0, pattern="ball", seconds=None):
        self.codec = codec
        self.kind = CODECS[codec]["kind"]
        self.id = track_id
        self.pattern = pattern
        self.seconds = seconds or AUDIO_SECONDS
        self.label = f"{self.kind[0]}{track_id}"

    def raw(self):
        if self.kind == "video":
            return VIDEO_RAW.format(frames=VIDEO_FRAMES * self.seconds // AUDIO_SECONDS,
                                    pattern=self.pattern)
        rate, spb = AUDIO_RATE[self.codec]
        return AUDIO_RAW.format(buffers=self.seconds * rate // spb, spb=spb, rate=rate)

    def __repr__(self):
        return f"{self.label}:{self.codec}"


def tokens(desc):
    """gst-launch description -> argv tokens (our descriptions never quote)."""
    return desc.split()


def sender_pipeline(tracks, url, mode, tags=None, sink_props=""):
    """mode 'flv': flvmux streamable=true ! rtmpsink, the tracks on mux.video / mux.audio;
    mode 'pads': rtmpsink request pads video_<id> / audio_<id>. `tags`: a taginject tags=...
    string put after each parser, right before the sink (before an encoder, the encoder's own
    `encoder` tag would replace ours, and voaacenc drops it)."""
    parts = []
    if mode == "flv":
        parts.append(f"flvmux name=mux streamable=true ! rtmpsink name=k location={url} "
                     f"{sink_props}")
    else:
        parts.append(f"rtmpsink name=k location={url} {sink_props}")
    for t in tracks:
        target = f"mux.{t.kind}" if mode == "flv" else f"k.{t.kind}_{t.id}"
        inject = f"taginject tags={tags} ! " if tags else ""
        parts.append(f"{t.raw()} ! {CODECS[t.codec]['enc']} ! {inject}tee name=t_{t.label} ! "
                     f"queue ! {target} t_{t.label}. ! queue ! "
                     f"fakesink name=out_sent_{t.label} sync=false")
    return tokens(" ".join(parts))


def receiver_pipeline(tracks, source, mode):
    """`source` is the receiving element with its properties (named s); mode 'flv':
    source ! flvdemux (pads video / audio), 'elementary': source output=elementary
    (pads video_<id> / audio_<id>). The fakesinks are async=false: a branch whose pad never
    appears (a track a server does not replay to a late player) would otherwise never preroll
    and hold the whole pipeline in PAUSED, its other sinks blocked after their first buffer."""
    if mode == "flv":
        parts = [f"{source} ! flvdemux name=d"]
    else:
        parts = [f"{source} output=elementary"]
    for t in tracks:
        pad = f"d.{t.kind}" if mode == "flv" else f"s.{t.kind}_{t.id}"
        dec = CODECS[t.codec]["dec"]
        parts.append(f"{pad} ! queue ! tee name=r_{t.label} ! queue ! "
                     f"fakesink name=out_{t.label} sync=false async=false "
                     f"r_{t.label}. ! queue ! {dec} ! fakesink name=out_dec_{t.label} "
                     f"sync=false async=false")
    return tokens(" ".join(parts))


def sent_buffers(sent_lines, t):
    """What went into the sink's pad for track t and must arrive: the buffers the tee recorded,
    without the in-band header buffers of a codec that has them (untimed, before the first
    frame; the sink sends their content as the sequence start)."""
    sent = sh.probe_buffers(sent_lines, f"out_sent_{t.label}")
    headers = CODECS[t.codec].get("in_band_headers", 0)
    if headers:
        assert len(sent) > headers and all(b[0] is None for b in sent[:headers]) and \
            sent[headers][0] is not None, \
            f"{t}: expected {headers} untimed header buffers first: {sent[:headers + 1]}"
    return sent[headers:]


def check_flac_streaminfo(sent_lines, got_lines, t, what):
    """The receiver's streamheader has the STREAMINFO body (34 bytes after "fLaC" and the block
    header) of the sender's, byte for byte."""
    def streaminfo(lines, sink):
        caps = caps_of(lines, sink)
        m = re.search(r"streamheader=\(buffer\)< ?([0-9a-f]+)", caps[0] if caps else "")
        at = m.group(1).find("664c6143") if m else -1
        return m.group(1)[at + 16:at + 16 + 68] if at >= 0 else None
    sent, got = (streaminfo(sent_lines, f"out_sent_{t.label}"),
                 streaminfo(got_lines, f"out_{t.label}"))
    assert sent and len(sent) == 68 and sent == got, \
        f"{what}: {t}: STREAMINFO {got} arrived, {sent} sent"


def caps_of(lines, sink):
    return [x.split(" ", 2)[2] for x in lines if x.startswith(f"caps {sink} ")]


def check_caps(t, caps, what, elementary):
    c = CODECS[t.codec]
    assert caps.split(",", 1)[0] == c["caps"], f"{what}: {t}: caps {caps}, expected {c['caps']}"
    fields = {f.strip() for f in caps.split(",")[1:]}
    names = {f.split("=", 1)[0] for f in fields}
    for want in c["fields"] + (c["elementary_fields"] if elementary else []):
        assert (want in fields) if "=" in want else (want in names), \
            f"{what}: {t}: caps {caps} lack {want}"


def sent_from_first_received(sent, got_lines, label):
    """The sent buffers from the one the receiver got first (a player that joined late), or []
    when the receiver got nothing the sender sent."""
    got = sh.probe_buffers(got_lines, f"out_{label}")
    md5s = [b[3] for b in sent]
    return sent[md5s.index(got[0][3]):] if got and got[0][3] in md5s else []


def check_tracks(tracks, sent_lines, got_lines, what, elementary=True, decode=True, late=False):
    """Every track: the receiver's caps start as expected, the same number of buffers as sent,
    the same MD5 in the same order, PTS and DTS up to one constant offset per track (+-1 ms:
    RTMP has millisecond timestamps), and (decode) every buffer decoded. `late`: the receiver
    joined mid-stream, compare from the sent buffer it got first. Returns a summary."""
    summary = []
    for t in tracks:
        sent = sent_buffers(sent_lines, t)
        assert sent, f"{what}: {t}: the sender produced no buffer: {sent_lines[-10:]}"
        if late:
            sent = sent_from_first_received(sent, got_lines, t.label)
        got = sh.probe_buffers(got_lines, f"out_{t.label}")
        caps = caps_of(got_lines, f"out_{t.label}")
        assert caps, f"{what}: {t}: no caps reached the receiver ({len(got)} buffers): " \
            f"{got_lines[-10:]}"
        check_caps(t, caps[0], what, elementary)
        if t.codec == "flac" and elementary:
            check_flac_streaminfo(sent_lines, got_lines, t, what)
        assert len(got) == len(sent), \
            f"{what}: {t}: {len(got)} buffers arrived, {len(sent)} sent"
        for i, (e, g) in enumerate(zip(sent, got)):
            assert e[3] == g[3], f"{what}: {t}: buffer {i}: MD5 {g[3]} size {g[2]}, " \
                f"sent {e[3]} size {e[2]}"
        check_timestamps(t, sent, got, what)
        decoded = len(sh.probe_buffers(got_lines, f"out_dec_{t.label}"))
        if decode:
            assert decoded == len(sent), \
                f"{what}: {t}: {decoded} frames decoded, {len(sent)} sent"
        summary.append(f"{t} {len(got)} buffers, {decoded} decoded")
    return "; ".join(summary)


def check_timestamps(t, sent, got, what):
    def stamp(b):  # DTS when the sender had one, else PTS
        return b[1] if b[1] is not None else b[0]
    offset = stamp(got[0]) - stamp(sent[0])
    for i, (e, g) in enumerate(zip(sent, got)):
        if e[0] is None or g[0] is None:
            continue
        for k, (a, b) in enumerate(((stamp(e), stamp(g)), (e[0], g[0]))):
            assert abs(b - a - offset) <= 1, \
                f"{what}: {t}: buffer {i}: {'dts' if k == 0 else 'pts'} {b}, sent {a} " \
                f"(offset {offset}): sent pts/dts {e[:2]}, received {g[:2]}"


def check_clean(lines, what, role):
    errors = [x for x in lines if x.startswith("error")]
    assert not errors, f"{what}: {role} error: {errors[0]} (after: " \
        f"{[x for x in lines if not x.startswith(('buf ', 'tag '))][-12:]})"


def run_sender(probe_bin, env, pipeline, what, seconds=90):
    p = sh.Probe(probe_bin, env, pipeline, seconds=seconds)
    try:
        lines = p.finish(seconds + 30)
    finally:
        p.kill()
    check_clean(lines, what, "sender")
    assert "eos" in lines, f"{what}: the sender did not reach EOS: {lines[-10:]}"
    return lines


class Env:
    """A work directory, our plugin environment, checked factories."""

    def __init__(self, build, probe_bin, prefix, factories=("rtmpsink", "rtmpsrc",
                                                             "rtmpserversrc")):
        self.build = build
        self.probe = probe_bin
        self.dir = h.workdir(prefix)
        self.env = h.our_env(build, self.dir)
        h.assert_our_factories(build, self.env, factories)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def sent_counts(tracks, sent_lines):
    return {t.label: len(sent_buffers(sent_lines, t)) for t in tracks}


def our_sender(e, tracks, send_mode, what, tags=None, sink_props=""):
    """A publish function for via_nms / via_server: runs sender_pipeline to `url`, returns
    (sender's lines, {track label: buffers sent})."""
    def publish(url):
        lines = run_sender(e.probe, e.env,
                           sender_pipeline(tracks, url, send_mode, tags, sink_props), what)
        return lines, sent_counts(tracks, lines)
    return publish


def via_nms(e, tracks, recv_mode, what, publish):
    """publish(url) -> node-media-server -> our rtmpsrc; returns (what publish returned,
    receiver's lines). The player subscribes first (NMS relays to subscribed players only); NMS
    never ends the stream for it, so the test tells it (server_probe --until-stdin) how many
    buffers were sent per track, and it sends itself EOS once they all arrived (or times out)."""
    with nh.NodeMediaServer(e.dir) as nms:
        url = nms.url()
        recv = receiver_pipeline(tracks, f"rtmpsrc name=s location={url}", recv_mode)
        player = sh.Probe(e.probe, e.env, recv, seconds=60, extra=("--until-stdin",),
                          stdin=subprocess.PIPE)
        try:
            assert nms.wait_players(), f"{what}: rtmpsrc did not subscribe: " \
                f"{player.lines[-10:]} {nms.log_text()[-2000:]}"
            sent, counts = publish(url)
            try:
                player.proc.stdin.write("".join(f"out_{t}={n}\n" for t, n in counts.items()) +
                                        "go\n")
                player.proc.stdin.flush()
            except BrokenPipeError:
                pass  # the player ended already: its output says why
            got = player.finish(90)
        finally:
            player.kill()
    check_clean(got, what, "receiver")
    assert "until-reached" in got, \
        f"{what}: not every buffer arrived in time: {counts} sent, " \
        f"{ {t.label: len(sh.probe_buffers(got, 'out_' + t.label)) for t in tracks} } arrived"
    # The probe's EOS (sent to the pipeline, as gst-launch-1.0 -e does) must reach every sink,
    # through flvdemux or rtmpsrc's track pads.
    assert "eos" in got, f"{what}: the EOS sent to the receiver did not arrive: {got[-10:]}"
    return sent, got


def via_server(e, tracks, recv_mode, what, publish):
    """publish(url) -> our rtmpserversrc, which ends the stream when the publisher leaves;
    returns (what publish returned, receiver's lines)."""
    recv = receiver_pipeline(tracks, "rtmpserversrc name=s port=0", recv_mode)
    server = sh.Probe(e.probe, e.env, recv, seconds=60)
    try:
        port = server.wait_ports()["s"]
        sent, _ = publish(f"rtmp://127.0.0.1:{port}/live/key")
        got = server.finish(90)
    finally:
        server.kill()
    check_clean(got, what, "receiver")
    assert "eos" in got, f"{what}: rtmpserversrc did not end the stream: {got[-10:]}"
    return sent, got


# taginject values of the tag tests (no spaces: pipelines are split on them).
TAGS = {"title": "gst-rtmp-roundtrip-title", "artist": "gst-rtmp-artist",
        "encoder": "gst-rtmp-test-encoder"}


def taginject_tags(tags=TAGS):
    return ",".join(f"{k}={v}" for k, v in tags.items())


def check_tags(lines, sink, what, tags=TAGS):
    """Some tag message posted by fakesink `sink` carries each of `tags` (a value that starts
    so: "Lavf" matches FFmpeg's "Lavf59.27.100")."""
    posted = [x for x in lines if x.startswith(f"tag {sink} ")]
    for k, v in tags.items():
        assert any(f"{k}=(string){v}" in x for x in posted), \
            f"{what}: no {k}={v} tag reached {sink}: {posted[-3:]}"


def run_cases(argv, cases, prefix, known_failures=None):
    """main() of a round-trip test: argv = [script, build dir, server_probe, case...]; every
    case gets an Env (factories checked); returns the exit status (0 all passed, 1 not).
    `known_failures` (name -> case): cases that show a known bug of our elements, run only when
    named on the command line (not from meson) until the bug is fixed."""
    build, probe_bin = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    names = argv[3:] or list(cases)
    cases = {**cases, **(known_failures or {})}
    failed = []
    for n in names:
        try:
            e = Env(build, probe_bin, f"{prefix}{n}-")
        except AssertionError as err:
            print(f"FAIL: {n}: {err}")
            failed.append(n)
            continue
        try:
            cases[n](e)
        except (AssertionError, RuntimeError) as err:
            print(f"FAIL: {n}: {err}")
            failed.append(n)
        finally:
            e.close()
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
