#!/usr/bin/env python3
"""output=elementary of rtmpserversrc and rtmpsrc against flvdemux (issue 7).

For each FLV made by ffmpeg 5.1 at test time, `filesrc ! flvdemux` on the file and our source
with output=elementary fed by a real publisher must give, pad for pad (flvdemux's video/audio =
our video_0/audio_0): the same caps (ours add alignment=au to H.264), the same number of buffers
with identical payloads (MD5 per buffer), the same timestamps up to one constant offset (PTS,
and DTS and DELTA_UNIT on video).

Cases (all by default; name some on the command line to run only those):
  h264_aac     ffmpeg publishing H.264 (B-frames: composition time) + AAC -> rtmpserversrc
  flv1_mp3     Sorenson H.263 (FLV1) + MP3 (libmp3lame) -> rtmpserversrc
  speex        Speex (libspeex; skipped when this ffmpeg lacks it) -> rtmpserversrc
  nellymoser   Nellymoser -> rtmpserversrc
  pcm          PCM s16le -> rtmpserversrc
  adpcm        ADPCM (Shockwave Flash) -> rtmpserversrc
  g711         G.711 A-law and mu-law (two files) -> rtmpserversrc
  screen       Screen video (CodecID 3, ffmpeg's flashsv encoder) -> rtmpserversrc
  screen2      Screen video v2 (CodecID 6, flashsv2); flvdemux 1.22 has no caps for it (it stops
               with an internal data stream error), so the reference is flvdemux on a copy of
               the file whose video tags say CodecID 3: the same buffers and timestamps, and the
               caps with video/x-flash-screen2 in place of video/x-flash-screen
  vp6, vp6a    On2 VP6 (CodecID 4) and VP6 with alpha (5): ffmpeg has no VP6 encoder, so the test
               writes an FLV file (onMetaData + 50 frames: a VP6 frame header with the macroblock
               size on keyframes, random bytes after it; VP6A: OffsetToAlpha, frame, alpha data;
               170x140 so that the adjustment byte is not 0) that ffmpeg remuxes and publishes
               with -c copy. flvdemux and our pads must both give exactly the written frames
               without the FLV adjustment byte.
  nginx        ffmpeg -> nginx-rtmp -> rtmpsrc output=elementary, H.264 + AAC

usage: elementary_ingest.py <build dir> <elementary_probe> [case...]
"""
import hashlib
import os
import random
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

LAVFI_VIDEO = ["-f", "lavfi", "-i", "testsrc=size=176x144:rate=25"]


def lavfi_audio(rate, channels=1):
    layout = "mono" if channels == 1 else "stereo"
    return ["-f", "lavfi", "-i",
            f"sine=frequency=440:sample_rate={rate},aformat=channel_layouts={layout}"]


# case -> list of (file name, ffmpeg input+codec arguments)
CASES = {
    "h264_aac": [("h264_aac.flv", LAVFI_VIDEO + lavfi_audio(44100, 2) +
                  ["-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-b:a", "64k"])],
    "flv1_mp3": [("flv1_mp3.flv", LAVFI_VIDEO + lavfi_audio(44100, 2) +
                  ["-c:v", "flv", "-g", "25", "-c:a", "libmp3lame", "-b:a", "64k"])],
    "speex": [("speex.flv", lavfi_audio(16000) + ["-c:a", "libspeex"])],
    "nellymoser": [("nellymoser.flv", lavfi_audio(22050) + ["-c:a", "nellymoser"])],
    "pcm": [("pcm.flv", lavfi_audio(22050, 2) + ["-c:a", "pcm_s16le"])],
    "adpcm": [("adpcm.flv", lavfi_audio(22050) + ["-c:a", "adpcm_swf"])],
    "g711": [("alaw.flv", lavfi_audio(8000) + ["-c:a", "pcm_alaw"]),
             ("mulaw.flv", lavfi_audio(8000) + ["-c:a", "pcm_mulaw"])],
    "screen": [("screen.flv", LAVFI_VIDEO + ["-c:v", "flashsv", "-g", "25"])],
    "screen2": [("screen2.flv", LAVFI_VIDEO + ["-c:v", "flashsv2", "-g", "25"])],
    "vp6": [("vp6.flv", "synthesized VP6")],
    "vp6a": [("vp6a.flv", "synthesized VP6A")],
}
SECONDS = 2
# FLV CodecID of the synthesized files (FLV spec E.4.3.1).
SYNTHESIZED = {"synthesized VP6": 4, "synthesized VP6A": 5}
# Cases whose flvdemux reference runs on a copy with another video CodecID (flvdemux 1.22 has no
# caps for Screen video v2): case -> (CodecID in the copy, (our caps name, flvdemux's)).
RETAGGED = {"screen2": (3, ("video/x-flash-screen2", "video/x-flash-screen"))}


# --- A small FLV writer (FLV spec: E.2 header, E.3 tags, E.4.4 SCRIPTDATA in AMF0) -----------

def amf0_string(text):
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def amf0_value(v):
    if isinstance(v, str):
        return b"\x02" + amf0_string(v)
    return b"\x00" + struct.pack(">d", float(v))


def flv_tag(kind, ms, data):
    """E.3 FLVTAG: type, DataSize (24), Timestamp (24 + 8 extended), StreamID 0, data, then
    the PreviousTagSize of this tag."""
    return (bytes([kind]) + struct.pack(">I", len(data))[1:] + struct.pack(">I", ms)[1:] +
            bytes([ms >> 24 & 0xFF, 0, 0, 0]) + data + struct.pack(">I", len(data) + 11))


def vp6_frames(codec, count, width, height, gop=10, seed=6):
    """[(keyframe, VideoData after the FLV flags byte)] for CodecID 4 / 5: the adjustment byte
    (E.4.3.1: HorizontalAdjustment << 4 | VerticalAdjustment, what the 16-pixel macroblock grid
    adds to width / height), then the VP6 frame: a keyframe starts with the frame-type and
    quantizer byte, the version byte and the stored / displayed macroblock rows and columns
    (what ffmpeg's vp6 decoder reads to size the picture), an inter frame with its type byte;
    random bytes after that (each frame differs). VP6A (E.4.3.1 VP6FLVALPHAVIDEOPACKET):
    OffsetToAlpha (24 bits), the frame, then the alpha frame."""
    rnd = random.Random(seed)
    cols, rows = -(-width // 16), -(-height // 16)
    adjustment = (cols * 16 - width) << 4 | (rows * 16 - height)
    frames = []
    for i in range(count):
        key = i % gop == 0
        head = bytes([20 << 1, 6 << 3 | 0x06, rows, cols, rows, cols]) if key else \
            bytes([0x80 | 20 << 1])
        frame = head + rnd.randbytes(rnd.randint(40, 400))
        if codec == 5:
            frame = struct.pack(">I", len(frame))[1:] + frame + rnd.randbytes(rnd.randint(10, 80))
        frames.append((key, bytes([adjustment]) + frame))
    return frames


def write_vp6_flv(path, codec, count=50, width=170, height=140, fps=25):
    """An FLV file of vp6_frames with an onMetaData (ffmpeg takes width and height from it);
    returns the frames."""
    frames = vp6_frames(codec, count, width, height)
    meta = {"duration": count / fps, "width": width, "height": height, "framerate": fps,
            "videocodecid": codec}
    script = b"\x02" + amf0_string("onMetaData") + b"\x08" + struct.pack(">I", len(meta))
    script += b"".join(amf0_string(k) + amf0_value(v) for k, v in meta.items()) + b"\x00\x00\x09"
    out = b"FLV\x01\x01" + struct.pack(">I", 9) + struct.pack(">I", 0) + flv_tag(18, 0, script)
    for i, (key, data) in enumerate(frames):
        flags = (1 if key else 2) << 4 | codec  # E.4.3.1 FrameType, CodecID
        out += flv_tag(9, i * 1000 // fps, bytes([flags]) + data)
    with open(path, "wb") as f:
        f.write(out)
    return frames


def flv_tags(data):
    """[(offset of the tag, type, DataSize)] of an FLV file."""
    assert data[:3] == b"FLV", "not an FLV file"
    at = struct.unpack(">I", data[5:9])[0] + 4
    tags = []
    while at + 11 <= len(data):
        size = struct.unpack(">I", b"\x00" + data[at + 1:at + 4])[0]
        tags.append((at, data[at], size))
        at += 11 + size + 4
    return tags


def retag_video(src, dst, codec):
    """A copy of FLV file `src` whose video tags carry CodecID `codec`."""
    data = bytearray(open(src, "rb").read())
    for at, kind, size in flv_tags(data):
        if kind == 9 and size > 0:
            data[at + 11] = data[at + 11] & 0xF0 | codec
    with open(dst, "wb") as f:
        f.write(data)


def encoders():
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                         text=True, timeout=60).stdout
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}


def make_flv(path, args):
    """ffmpeg makes `path` from its input+codec arguments, or, for a SYNTHESIZED name, remuxes
    (-c copy) the file write_vp6_flv wrote; returns the synthesized frames or None."""
    frames = None
    if isinstance(args, str):
        raw = path + ".written.flv"
        frames = write_vp6_flv(raw, SYNTHESIZED[args])
        args = ["-i", raw, "-c", "copy"]
    r = subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, "-t", str(SECONDS),
                        "-metadata", "title=elementary interop", "-f", "flv", path],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"ffmpeg could not make {path}: {r.stderr[-2000:]}"
    return frames


def check_synthesized(reference, frames, what):
    """flvdemux's video buffers are the written VP6 frames without the adjustment byte (ffmpeg
    copied them through, flvdemux stripped that byte), keyframes where written."""
    bufs = reference["video_0"]["bufs"]
    assert len(bufs) == len(frames), \
        f"{what}: flvdemux gave {len(bufs)} video buffers, {len(frames)} written"
    for i, ((key, data), b) in enumerate(zip(frames, bufs)):
        assert b[4] == hashlib.md5(data[1:]).hexdigest() and b[3] == len(data) - 1, \
            f"{what}: flvdemux buffer {i} ({b[3]} bytes) is not the written frame"
        assert b[2] == (0 if key else 1), f"{what}: buffer {i}: delta flag {b[2]}"


class Probe:
    def __init__(self, probe_bin, env, launch, seconds=60):
        self.proc = subprocess.Popen([probe_bin, str(seconds), launch], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        self.got_port = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("port "):
                self.port = int(line.split()[1])
                self.got_port.set()
        self.got_port.set()

    def finish(self, timeout=90):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        return self.lines

    def kill(self):
        h.stop_process(self.proc)


def parse(lines, rename=None):
    """{pad: {"caps": [...], "bufs": [(pts, dts, delta, size, md5)]}} and the flags."""
    rename = rename or {}
    pads = {}
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "caps":
            pad, _, caps = rest.partition(" ")
            pads.setdefault(rename.get(pad, pad), {"caps": [], "bufs": []})["caps"].append(caps)
        elif kind == "buf":
            pad, pts, dts, delta, size, md5 = rest.split()
            pads.setdefault(rename.get(pad, pad), {"caps": [], "bufs": []})["bufs"].append(
                (int(pts), int(dts), int(delta), int(size), md5))
    return pads


def normalised(pads):
    """Timestamps relative to the earliest one of the run (our server places the first
    message at the pipeline's running time, flvdemux at the file's 0)."""
    stamps = [d if d >= 0 else p for v in pads.values() for p, d, *_ in v["bufs"]]
    base = min(stamps) if stamps else 0
    out = {}
    for pad, v in pads.items():
        out[pad] = [(p - base if p >= 0 else None, d - base if d >= 0 else None, delta, size, md5)
                    for p, d, delta, size, md5 in v["bufs"]]
    return out


def comparable_caps(caps):
    return caps.replace(", alignment=(string)au", "")


def compare(reference, ours, what):
    assert set(reference) == set(ours), f"{what}: pads {sorted(ours)}, flvdemux {sorted(reference)}"
    ref_n, our_n = normalised(reference), normalised(ours)
    summary = []
    for pad in sorted(reference):
        ref_caps = reference[pad]["caps"][-1] if reference[pad]["caps"] else None
        our_caps = ours[pad]["caps"][-1] if ours[pad]["caps"] else None
        assert our_caps and comparable_caps(our_caps) == ref_caps, \
            f"{what} {pad}: caps\n  ours     {our_caps}\n  flvdemux {ref_caps}"
        r, o = ref_n[pad], our_n[pad]
        assert len(r) == len(o), f"{what} {pad}: {len(o)} buffers, flvdemux {len(r)}"
        assert len(r) > 0, f"{what} {pad}: no buffers"
        video = pad.startswith("video")
        for i, (a, b) in enumerate(zip(r, o)):
            assert a[4] == b[4] and a[3] == b[3], f"{what} {pad} buffer {i}: payload differs"
            assert a[0] == b[0], f"{what} {pad} buffer {i}: pts {b[0]}, flvdemux {a[0]}"
            if video:
                assert a[1] is None or a[1] == b[1], \
                    f"{what} {pad} buffer {i}: dts {b[1]}, flvdemux {a[1]}"
                assert a[2] == b[2], f"{what} {pad} buffer {i}: delta flag {b[2]}, flvdemux {a[2]}"
        summary.append(f"{pad} {len(o)} buffers ({our_caps.split(',')[0]})")
    return ", ".join(summary)


def flvdemux_run(probe_bin, env, path):
    p = Probe(probe_bin, env, f"filesrc location={path} ! flvdemux name=src")
    lines = p.finish()
    assert "eos" in lines, f"flvdemux on {path}: {lines[-5:]}"
    return parse(lines, {"video": "video_0", "audio": "audio_0"})


def check_our_run(lines, what):
    assert "eos" in lines, f"{what}: no EOS: {lines[-10:]}"
    assert not [x for x in lines if x.startswith("error")], f"{what}: {lines[-10:]}"
    assert "no-more-pads" in lines, f"{what}: no no-more-pads"
    assert any(x.startswith("tag ") and "elementary interop" in x.replace("\\", "")
               for x in lines), f"{what}: the onMetaData title did not become a tag on a pad"


def case_server(ctx, case):
    build, probe_bin, wd, env = ctx
    for name, args in CASES[case]:
        path = os.path.join(wd, name)
        frames = make_flv(path, args)
        if case in RETAGGED:
            codec, (ours, theirs) = RETAGGED[case]
            retag_video(path, path + ".retagged.flv", codec)
            reference = flvdemux_run(probe_bin, env, path + ".retagged.flv")
            for caps in reference["video_0"]["caps"]:
                assert caps.startswith(theirs + ","), f"{name}: retagged copy: caps {caps}"
            reference["video_0"]["caps"] = [ours + c[len(theirs):]
                                            for c in reference["video_0"]["caps"]]
        else:
            reference = flvdemux_run(probe_bin, env, path)
        if frames:
            check_synthesized(reference, frames, name)
        p = Probe(probe_bin, env, "rtmpserversrc name=src location=rtmp://127.0.0.1:0/live/key "
                  "output=elementary")
        try:
            assert p.got_port.wait(20) and p.port, f"{name}: no port: {p.lines[-5:]}"
            r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", path, "-c", "copy", "-f",
                                "flv", f"rtmp://127.0.0.1:{p.port}/live/key"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, f"{name}: ffmpeg publish failed: {r.stderr[-2000:]}"
            lines = p.finish()
        finally:
            p.kill()
        check_our_run(lines, name)
        print(f"ok: {name} -> rtmpserversrc output=elementary: "
              f"{compare(reference, parse(lines), name)}, identical to flvdemux"
              f"{' on the CodecID 3 copy' if case in RETAGGED else ''}"
              f"{' and to the written VP6 frames' if frames else ''}")


def case_nginx(ctx):
    build, probe_bin, wd, env = ctx
    name, args = CASES["h264_aac"][0]
    path = os.path.join(wd, "nginx_" + name)
    make_flv(path, args)
    reference = flvdemux_run(probe_bin, env, path)
    ng = h.Nginx(wd).start()
    p = None
    try:
        p = Probe(probe_bin, env, f"rtmpsrc name=src location={ng.url()} output=elementary")
        assert ng.wait_players(1), "rtmpsrc did not subscribe"
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", path, "-c", "copy", "-f", "flv",
                            ng.url()], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"ffmpeg publish failed: {r.stderr[-2000:]}"
        lines = p.finish()
    finally:
        if p:
            p.kill()
        ng.stop()
    check_our_run(lines, "nginx")
    print(f"ok: ffmpeg -> nginx-rtmp -> rtmpsrc output=elementary: "
          f"{compare(reference, parse(lines), 'nginx')}, identical to flvdemux")


def main():
    build, probe_bin = sys.argv[1], sys.argv[2]
    wanted = sys.argv[3:] or [*CASES, "nginx"]
    wd = h.workdir("elementary-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsrc", "rtmpserversrc"))
    have = encoders()
    ctx = (build, probe_bin, wd, env)
    for case in wanted:
        if case == "nginx":
            case_nginx(ctx)
            continue
        needed = {"speex": "libspeex", "flv1_mp3": "libmp3lame"}.get(case)
        if needed and needed not in have:
            print(f"skip: {case}: this ffmpeg has no {needed} encoder")
            continue
        case_server(ctx, case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
