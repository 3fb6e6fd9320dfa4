#!/usr/bin/env python3
"""rtmpserversrc sessions beyond one plain publish (issue 5): authentication, publishers that
go away and come back, and data messages (onTextData, onCuePoint).

Cases (all by default; name some on the command line to run only those):
  auth_adobe       auth=adobe: ffmpeg publishing to rtmp://user:pass@.../live/key goes through
                   the challenge and every packet arrives (MD5, size, timestamp)
  auth_llnw        the same with auth=llnw
  auth_wrong       a wrong password: ffmpeg fails ("Incorrect username/password"), the element
                   posts rtmp-client-rejected and keeps serving: the next good publisher arrives
  auth_rtmpsink    our rtmpsink with the username/password properties (adobe)
  wait_reconnect   on-disconnect=wait: ffmpeg publishes, leaves, our rtmpsink publishes the same
                   key again: both streams arrive complete, timestamps continuous and increasing,
                   exactly one EOS, reconnect-timeout after the last publisher left
  eos_disconnect   on-disconnect=eos: EOS at the first disconnect, a second publisher is not
                   taken
  data_messages    our rtmpsink publishes an FLV with onTextData and onCuePoint tags: each
                   becomes an rtmp-text-data / rtmp-cue-point element message with its fields,
                   and stays in the FLV stream (its tag reaches flvdemux)
  tee              rtmpserversrc ! tee: a raw FLV branch and a demuxed branch both get everything

usage: server_sessions.py <build dir> <server_probe> [case...]
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402

USER, PASSWORD = "ingest", "s3cr@t"  # '@' must be percent-encoded in the URL
URL_PASSWORD = "s3cr%40t"


def ffmpeg_publish(clip, url, check=True, realtime=False):
    r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error"] +
                       (["-re"] if realtime else []) + ["-i", clip, "-c", "copy", "-f", "flv",
                                                        url],
                       capture_output=True, text=True, timeout=180)
    if check:
        assert r.returncode == 0, f"ffmpeg failed: {r.stderr[-2000:]}"
    return r


def rtmpsink_publish(env, clip, url, extra=()):
    r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "rtmpsink",
                        f"location={url}", *extra], env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, f"rtmpsink failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"


def msgs(lines, name, src="srv"):
    return [x for x in lines if x.startswith(f"msg {src} {name}")]


def no_errors(lines, what):
    errors = [x for x in lines if x.startswith("error")]
    assert not errors, f"{what}: {errors}"


def auth_props(method):
    # A named application: the rejection message must reach it although a failed answer is
    # refused before the session knows the application.
    return ("port=0", "application=live", "stream-key=key", f"auth={method}",
            f"username={USER}", f"password={PASSWORD}")


def case_auth(ctx, method):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", auth_props(method)))
    try:
        port = p.wait_ports()["srv"]
        r = ffmpeg_publish(clip, f"rtmp://{USER}:{URL_PASSWORD}@127.0.0.1:{port}/live/key",
                           check=False)
        assert r.returncode == 0, f"ffmpeg with the right password failed: {r.stderr[-2000:]}"
        lines = p.finish(120)
    finally:
        p.kill()
    no_errors(lines, method)
    assert "eos" in lines, f"{method}: no EOS: {lines[-10:]}"
    assert len(msgs(lines, "rtmp-publish-start")) == 1, lines[-20:]
    v, a = sh.compare(expected, lines, what=f"auth={method}")
    print(f"ok: auth={method}: ffmpeg authenticated, {v} video and {a} audio packets identical")


def case_auth_adobe(ctx):
    case_auth(ctx, "adobe")


def case_auth_llnw(ctx):
    case_auth(ctx, "llnw")


def case_auth_wrong(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", auth_props("adobe")))
    try:
        port = p.wait_ports()["srv"]
        r = ffmpeg_publish(clip, f"rtmp://{USER}:wrong@127.0.0.1:{port}/live/key", check=False)
        assert r.returncode != 0, "ffmpeg published with a wrong password"
        assert "Incorrect username/password" in r.stderr, f"ffmpeg's error: {r.stderr[-2000:]}"
        rejected = p.wait_line("msg srv rtmp-client-rejected", 10)
        assert rejected, "no rtmp-client-rejected message for the wrong password"
        assert "stage=(string)connect" in rejected, rejected
        # Nobody without the password either (ffmpeg does not even try the challenge).
        r2 = ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/key", check=False)
        assert r2.returncode != 0, "ffmpeg published without credentials"
        # The element keeps serving: the right password now gets everything through.
        ffmpeg_publish(clip, f"rtmp://{USER}:{URL_PASSWORD}@127.0.0.1:{port}/live/key")
        lines = p.finish(120)
    finally:
        p.kill()
    no_errors(lines, "after a wrong password")
    assert len(msgs(lines, "rtmp-publish-start")) == 1, "a rejected publisher got through"
    v, a = sh.compare(expected, lines, what="after a wrong password")
    print(f"ok: wrong password -> ffmpeg '{r.stderr.strip().splitlines()[-1][:80]}', "
          f"rtmp-client-rejected posted; the next publisher served: {v}+{a} packets")


def case_auth_rtmpsink(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", auth_props("adobe")))
    try:
        port = p.wait_ports()["srv"]
        rtmpsink_publish(env, clip, f"rtmp://127.0.0.1:{port}/live/key",
                         (f"username={USER}", f"password={PASSWORD}"))
        lines = p.finish(120)
    finally:
        p.kill()
    no_errors(lines, "rtmpsink auth")
    assert "eos" in lines, lines[-10:]
    v, a = sh.compare(expected, lines, what="our rtmpsink with username/password")
    print(f"ok: our rtmpsink authenticated (adobe): {v}+{a} packets identical")


def split_runs(lines, sink, n_expected):
    """The buffers of `sink` cut into consecutive runs of n_expected[i] buffers."""
    bufs = sh.probe_buffers(lines, sink)
    assert len(bufs) == sum(n_expected), \
        f"{sink}: {len(bufs)} buffers arrived, {sum(n_expected)} sent ({n_expected})"
    out, i = [], 0
    for n in n_expected:
        out.append(bufs[i:i + n])
        i += n
    return out


def case_wait_reconnect(ctx):
    build, probe_bin, clip, expected, env = ctx
    reconnect_timeout = 4
    p = sh.Probe(probe_bin, env, sh.server_pipeline(
        "srv", ("port=0", "on-disconnect=wait", f"reconnect-timeout={reconnect_timeout}")))
    try:
        port = p.wait_ports()["srv"]
        url = f"rtmp://127.0.0.1:{port}/live/key"
        ffmpeg_publish(clip, url)
        assert p.wait_line("msg srv rtmp-publish-stop", 30), "first publisher: no publish-stop"
        time.sleep(1.0)  # nobody publishes for a while: the gap must show in the timeline
        rtmpsink_publish(env, clip, url)
        left = time.monotonic()
        eos = p.wait_line("eos", reconnect_timeout + 60)
        eos_after = time.monotonic() - left
        lines = p.finish(60)
    finally:
        p.kill()
    no_errors(lines, "wait/reconnect")
    assert eos, f"no EOS after the last publisher left: {lines[-10:]}"
    assert lines.count("eos") == 1, "more than one EOS"
    assert len(msgs(lines, "rtmp-publish-start")) == 2, msgs(lines, "rtmp-publish-")
    # EOS came when reconnect-timeout expired after the second publisher left, not before
    # (the margin: the stop message and the last media still had to drain).
    assert eos_after >= reconnect_timeout - 1.0, f"EOS {eos_after:.1f} s after the publisher left"
    # Both streams complete and identical, one after the other.
    for kind in ("video", "audio"):
        n = len(expected[kind])
        first, second = split_runs(lines, f"out_{kind}", [n, n])
        for run, label in ((first, "first"), (second, "second")):
            assert [b[3] for b in run] == [e[3] for e in expected[kind]], \
                f"{kind}: {label} publisher's payloads differ"
            off = run[0][1] - expected[kind][0][1]
            assert all(b[1] - e[1] == off for b, e in zip(run, expected[kind])), \
                f"{kind}: {label} publisher's timestamps are not the clip's spacing"
        # Continuous: the second stream starts after the first ended, by about the time
        # nobody published (at least the 1 s pause, at most the whole test), never back.
        dts = [b[1] for b in first + second]
        assert dts == sorted(dts), f"{kind}: DTS go back across the reconnection"
        gap = second[0][1] - first[-1][1]
        assert 900 <= gap <= 120000, f"{kind}: gap of {gap} ms between the two publishers"
    vfirst, vsecond = split_runs(lines, "out_video", [len(expected["video"])] * 2)
    print(f"ok: on-disconnect=wait: ffmpeg then our rtmpsink on one key, "
          f"{2 * len(expected['video'])} video packets continuous (gap "
          f"{vsecond[0][1] - vfirst[-1][1]} ms), one EOS {eos_after:.1f} s after the last left")


def case_eos_disconnect(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", ("port=0", "on-disconnect=eos")))
    try:
        port = p.wait_ports()["srv"]
        ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/key")
        left = time.monotonic()
        eos = p.wait_line("eos", 30)
        eos_after = time.monotonic() - left
        lines = p.finish(60)
    finally:
        p.kill()
    assert eos, f"no EOS at the disconnect: {lines[-10:]}"
    assert eos_after < 10, f"EOS {eos_after:.1f} s after the publisher left"
    assert lines.count("eos") == 1
    sh.compare(expected, lines, what="on-disconnect=eos")
    print(f"ok: on-disconnect=eos: EOS {eos_after:.1f} s after the publisher left, stream complete")


# ---- FLV with data tags (FLV spec 10.1 E.4.4 SCRIPTDATA, AMF0 values) -------------------------

def amf_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def amf_value(v):
    if isinstance(v, str):
        return b"\x02" + amf_string(v)
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, dict):
        return b"\x03" + b"".join(amf_string(k) + amf_value(x) for k, x in v.items()) + \
            b"\x00\x00\x09"
    raise TypeError(v)


def amf_ecma(d):
    return b"\x08" + struct.pack(">I", len(d)) + \
        b"".join(amf_string(k) + amf_value(x) for k, x in d.items()) + b"\x00\x00\x09"


def read_flv(path):
    data = open(path, "rb").read()
    offset = struct.unpack(">I", data[5:9])[0]
    header, pos, tags = data[:offset], offset + 4, []
    while pos + 11 <= len(data):
        ttype = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        tags.append((ttype, ts, data[pos + 11:pos + 11 + size]))
        pos += 11 + size + 4
    return header, tags


def write_flv(path, header, tags):
    out = bytearray(header + b"\x00\x00\x00\x00")
    for ttype, ts, body in tags:
        out += bytes([ttype]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
        out += bytes([(ts >> 24) & 0xFF]) + b"\x00\x00\x00" + body
        out += struct.pack(">I", 11 + len(body))
    open(path, "wb").write(bytes(out))


def case_data_messages(ctx):
    build, probe_bin, clip, expected, env = ctx
    header, tags = read_flv(clip)
    texts, cues, out_tags, video_seen = [], [], [], 0
    for t in tags:
        out_tags.append(t)
        if t[0] != 9:
            continue
        video_seen += 1
        if video_seen % 30 == 10:  # about once a second, after some media
            n = len(texts) + 1
            texts.append(f"caption-{n}")
            out_tags.append((18, t[1], amf_value("onTextData") +
                             amf_ecma({"text": f"caption-{n}", "language": "eng"})))
            cues.append(f"cue-{n}")
            out_tags.append((18, t[1], amf_value("onCuePoint") + amf_value(
                {"name": f"cue-{n}", "time": t[1] / 1000.0, "type": "event",
                 "parameters": {"chapter": str(n)}})))
    wd = os.path.dirname(clip)
    path = os.path.join(wd, "with_data.flv")
    write_flv(path, header, out_tags)
    sizes = sorted(11 + len(b) + 4 for ty, ts, b in out_tags if ty == 18 and
                   (b"onTextData" in b[:14] or b"onCuePoint" in b[:14]))

    # The demuxer is named out_flv so that server_probe reports every FLV buffer reaching it.
    pipeline = ["rtmpserversrc", "name=srv", "port=0", "!", "flvdemux", "name=out_flv",
                "out_flv.video", "!", "queue", "!", "fakesink", "name=out_video", "sync=false",
                "out_flv.audio", "!", "queue", "!", "fakesink", "name=out_audio", "sync=false"]
    p = sh.Probe(probe_bin, env, pipeline)
    try:
        port = p.wait_ports()["srv"]
        rtmpsink_publish(env, path, f"rtmp://127.0.0.1:{port}/live/key")
        lines = p.finish(120)
    finally:
        p.kill()
    no_errors(lines, "data messages")
    got_texts = [re.search(r'text=\(string\)"?([\w-]+)', x).group(1)
                 for x in msgs(lines, "rtmp-text-data")]
    assert got_texts == texts, f"rtmp-text-data texts {got_texts}, sent {texts}"
    assert all("language=(string)eng" in x for x in msgs(lines, "rtmp-text-data"))
    cue_lines = msgs(lines, "rtmp-cue-point")
    got_cues = [re.search(r'name=\(string\)"?([\w-]+)', x).group(1) for x in cue_lines]
    assert got_cues == cues, f"rtmp-cue-point names {got_cues}, sent {cues}"
    for i, x in enumerate(cue_lines):
        assert "type=(string)event" in x and f"chapter=(string){i + 1}" in x.replace("\\", ""), x
    # The data tags stay in the FLV stream: one buffer of exactly each tag's size.
    flv_sizes = [b[2] for b in sh.probe_buffers(lines, "out_flv")]
    for size in set(sizes):
        assert flv_sizes.count(size) >= sizes.count(size), \
            f"data tags of {size} bytes: {flv_sizes.count(size)} in the FLV stream, " \
            f"{sizes.count(size)} sent"
    n_media = sum(1 for t in tags if t[0] in (8, 9))
    n_script = sum(1 for t in out_tags if t[0] == 18)
    assert len(flv_sizes) == 1 + n_media + n_script, \
        f"{len(flv_sizes)} FLV buffers, sent header + {n_media} media + {n_script} data tags"
    v, a = sh.compare(expected, lines, what="with data messages")
    print(f"ok: {len(texts)} onTextData and {len(cues)} onCuePoint -> bus messages with their "
          f"fields, kept in the FLV stream; {v}+{a} media packets identical")


def case_tee(ctx):
    """rtmpserversrc ! tee, one branch to a sink (as a recorder would), one to flvdemux: both
    get everything (a header buffer stamped 0 ahead of media at the running time used to fill
    the time-limited queue of one branch at once and stall the live pipeline)."""
    build, probe_bin, clip, expected, env = ctx
    pipeline = ["rtmpserversrc", "name=srv", "port=0", "!", "tee", "name=t",
                "t.", "!", "queue", "!", "fakesink", "name=out_flv", "sync=false",
                "t.", "!", "queue", "!", *sh.demux_branch("srv", "out")]
    p = sh.Probe(probe_bin, env, pipeline)
    try:
        port = p.wait_ports()["srv"]
        time.sleep(2)  # the first message lands seconds after the pipeline started
        ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/key")
        lines = p.finish(60)
    finally:
        p.kill()
    no_errors(lines, "tee")
    assert "eos" in lines, f"tee: no EOS: {lines[-10:]}"
    header, tags = read_flv(clip)
    flv = sh.probe_buffers(lines, "out_flv")
    assert len(flv) == 1 + len(tags), f"tee: {len(flv)} FLV buffers, {1 + len(tags)} sent"
    v, a = sh.compare(expected, lines, what="tee")
    print(f"ok: rtmpserversrc ! tee: {len(flv)} FLV buffers on one branch, {v}+{a} packets "
          "identical on the demuxed one")


CASES = {"auth_adobe": case_auth_adobe, "auth_llnw": case_auth_llnw,
         "auth_wrong": case_auth_wrong, "auth_rtmpsink": case_auth_rtmpsink,
         "wait_reconnect": case_wait_reconnect, "eos_disconnect": case_eos_disconnect,
         "data_messages": case_data_messages, "tee": case_tee}


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    names = sys.argv[3:] or list(CASES)
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (scripts/setup-deps.sh installs it)")
            return 1
    wd = h.workdir("server-sessions-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc", "rtmpsink"))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 6)
    expected = sh.ffprobe_hashed(clip)
    ctx = (build, probe_bin, clip, expected, env)
    failed = []
    for n in names:
        t0 = time.monotonic()
        try:
            CASES[n](ctx)
        except AssertionError as e:
            print(f"FAIL: {n}: {e}")
            failed.append(n)
        print(f"   ({n}: {time.monotonic() - t0:.1f} s)")
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
