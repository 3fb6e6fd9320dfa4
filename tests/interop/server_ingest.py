#!/usr/bin/env python3
"""Publishers -> our rtmpserversrc ! flvdemux: every packet arrives with the same payload
(MD5), the same timestamps (up to one constant offset) and in the same number (issue 5).

Cases (all by default; name some on the command line to run only those):
  ffmpeg_re      ffmpeg -re publishing a 20 s H.264/AAC FLV
  ffmpeg_fast    the same, as fast as possible
  rtmpsink       our rtmpsink (filesrc ! rtmpsink)
  rtmp2sink      the system rtmp2sink, in a separate process without our plugin path
  librtmp        the system librtmp rtmpsink, in a separate process without our plugin path
  shared_port    two rtmpserversrc on one port with two keys, two ffmpeg publishers at once
  reject         on-publish returns FALSE for one key: ffmpeg fails naming BadName, the next
                 good publisher is served completely
  play           a player (ffmpeg reading rtmp://) is answered NetStream.Play.StreamNotFound
  rtmps          a self-signed certificate made by the test: ffmpeg and our rtmpsink publish

usage: server_ingest.py <build dir> <server_probe> [case...]
"""
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402


def ffmpeg_publish(clip, url, realtime=False, check=True):
    args = ["ffmpeg", "-loglevel", "error"] + (["-re"] if realtime else []) + \
        ["-i", clip, "-c", "copy", "-f", "flv", url]
    r = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if check:
        assert r.returncode == 0, f"ffmpeg failed: {r.stderr[-2000:]}"
    return r


def check_run(lines, what, name="srv"):
    assert "eos" in lines, f"{what}: no EOS after the publisher left: {lines[-10:]}"
    assert not [x for x in lines if x.startswith("error")], f"{what}: {lines[-10:]}"
    assert any(x.startswith(f"msg {name} rtmp-publish-start") for x in lines), \
        f"{what}: no rtmp-publish-start message"
    assert any(x.startswith(f"msg {name} rtmp-publish-stop") for x in lines), \
        f"{what}: no rtmp-publish-stop message"
    assert any(x.startswith("tag ") and "gst-rtmp interop" in x.replace("\\", "")
               for x in lines), f"{what}: onMetaData title did not become a tag"


def run_one(ctx, what, publish, props=("port=0",), expected=None, scheme="rtmp"):
    """One server pipeline, one publisher; compare everything that arrived."""
    build, probe_bin, clip, default_expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", props))
    try:
        port = p.wait_ports()["srv"]
        publish(f"{scheme}://127.0.0.1:{port}/live/key")
        lines = p.finish(120)
    finally:
        p.kill()
    check_run(lines, what)
    v, a = sh.compare(expected or default_expected, lines, what=what)
    print(f"ok: {what}: {v} video and {a} audio packets, identical payloads and timestamps")


def case_ffmpeg_re(ctx):
    run_one(ctx, "ffmpeg -re", lambda url: ffmpeg_publish(ctx[2], url, realtime=True))


def case_ffmpeg_fast(ctx):
    run_one(ctx, "ffmpeg (fast)", lambda url: ffmpeg_publish(ctx[2], url))


def case_rtmpsink(ctx):
    build, probe_bin, clip, expected, env = ctx
    h.assert_our_factories(build, env, ("rtmpsink", "rtmpserversrc"))

    def publish(url):
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={url}"], env=env, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, f"rtmpsink failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    run_one(ctx, "our rtmpsink", publish)


def remux(clip, sink):
    """filesrc ! flvdemux ! flvmux: tag-aligned FLV as the system sinks want it."""
    return ["filesrc", f"location={clip}", "!", "flvdemux", "name=d", "flvmux",
            "streamable=true", "name=m", "!", *sink, "d.video", "!", "queue", "!", "m.video",
            "d.audio", "!", "queue", "!", "m.audio"]


def system_sink_case(ctx, factory, plugin_name):
    build, probe_bin, clip, expected, env = ctx
    wd = h.workdir("server-sys-")
    sysenv = h.system_env(wd)
    plugin, _ = h.factory_origin(factory, sysenv)
    if plugin != plugin_name:
        raise AssertionError(f"{factory} is not available from the system plugin {plugin_name} "
                             "(gstreamer1.0-plugins-bad: scripts/setup-deps.sh installs it)")
    # What the system sink sends is the remuxed stream: compare with that.
    ref = os.path.join(wd, "remuxed.flv")
    subprocess.run(["gst-launch-1.0", "-q", *remux(clip, ["filesink", f"location={ref}"])],
                   env=sysenv, check=True, timeout=120, capture_output=True)
    remuxed = sh.ffprobe_hashed(ref)

    def publish(url):
        r = subprocess.run(["gst-launch-1.0", "-q", *remux(clip, [factory, f"location={url}"])],
                           env=sysenv, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"{factory} failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    run_one(ctx, f"system {factory} ({plugin_name} plugin)", publish, expected=remuxed)


def case_rtmp2sink(ctx):
    system_sink_case(ctx, "rtmp2sink", "rtmp2")


def case_librtmp(ctx):
    system_sink_case(ctx, "rtmpsink", "rtmp")


def case_shared_port(ctx):
    build, probe_bin, clip, expected, env = ctx
    port = h.free_port()
    pipeline = (sh.server_pipeline("srv_a", (f"port={port}", "application=live",
                                             "stream-key=alpha"), "outa") +
                sh.server_pipeline("srv_b", (f"port={port}", "application=live",
                                             "stream-key=beta"), "outb"))
    # The second clip differs (negated picture) so that a crossover would show.
    clip_b = os.path.join(os.path.dirname(clip), "clip_b.flv")
    if not os.path.exists(clip_b):
        h.make_clip(clip_b, 10, ["-vf", "negate"])
    expected_b = sh.ffprobe_hashed(clip_b)
    p = sh.Probe(probe_bin, env, pipeline)
    try:
        ports = p.wait_ports(2)
        assert ports["srv_a"] == ports["srv_b"] == port, ports
        errors = []

        def pub(c, key):
            try:
                ffmpeg_publish(c, f"rtmp://127.0.0.1:{port}/live/{key}", realtime=True)
            except AssertionError as e:
                errors.append(str(e))
        ts = [threading.Thread(target=pub, args=(clip, "alpha")),
              threading.Thread(target=pub, args=(clip_b, "beta"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors
        lines = p.finish(120)
    finally:
        p.kill()
    assert "eos" in lines, lines[-10:]
    va, aa = sh.compare(expected, lines, "outa", "shared port, key alpha")
    vb, ab = sh.compare(expected_b, lines, "outb", "shared port, key beta")
    print(f"ok: shared port {port}: alpha {va}+{aa} packets, beta {vb}+{ab} packets, "
          "each its own")


def case_reject(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", ("port=0",)),
                 extra=("--reject-publish", "banned"))
    try:
        port = p.wait_ports()["srv"]
        r = ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/banned", check=False)
        assert r.returncode != 0, "ffmpeg succeeded publishing a rejected key"
        assert "BadName" in r.stderr, f"ffmpeg's error does not name BadName: {r.stderr}"
        assert p.wait_line("msg srv rtmp-client-rejected", 10), "no rtmp-client-rejected"
        ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/good")
        lines = p.finish(120)
    finally:
        p.kill()
    check_run(lines, "after a rejected publisher")
    v, a = sh.compare(expected, lines, what="after a rejected publisher")
    print(f"ok: on-publish FALSE -> ffmpeg: '{r.stderr.strip().splitlines()[0]}'; the next "
          f"publisher served: {v}+{a} packets")


def case_play(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", ("port=0",)))
    try:
        port = p.wait_ports()["srv"]
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i",
                            f"rtmp://127.0.0.1:{port}/live/key", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, "a player was served"
        assert "StreamNotFound" in r.stderr, f"ffmpeg's error: {r.stderr}"
        ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/key")
        lines = p.finish(120)
    finally:
        p.kill()
    check_run(lines, "after a player")
    sh.compare(expected, lines, what="after a player")
    print("ok: play answered NetStream.Play.StreamNotFound; the next publisher served")


def case_rtmps(ctx):
    """rtmps with a self-signed certificate made here: ffmpeg and our rtmpsink publish."""
    build, probe_bin, clip, expected, env = ctx
    wd = h.workdir("server-tls-")
    cert, key = os.path.join(wd, "cert.pem"), os.path.join(wd, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    props = ("location=rtmps://127.0.0.1/live/key", "port=0", f"certificate-file={cert}",
             f"private-key-file={key}")

    def ffmpeg_tls(url):
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "flv",
                            "-tls_verify", "0", url], capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"ffmpeg rtmps failed: {r.stderr[-2000:]}"
    run_one(ctx, "ffmpeg over rtmps", ffmpeg_tls, props, scheme="rtmps")

    def rtmpsink_tls(url):
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={url}", "tls-validation-flags=0"], env=env,
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"rtmpsink rtmps failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    run_one(ctx, "our rtmpsink over rtmps", rtmpsink_tls, props, scheme="rtmps")


CASES = {"ffmpeg_re": case_ffmpeg_re, "ffmpeg_fast": case_ffmpeg_fast, "rtmpsink": case_rtmpsink,
         "rtmp2sink": case_rtmp2sink, "librtmp": case_librtmp, "shared_port": case_shared_port,
         "reject": case_reject, "play": case_play, "rtmps": case_rtmps}


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    names = sys.argv[3:] or list(CASES)
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (scripts/setup-deps.sh installs it)")
            return 1
    wd = h.workdir("server-ingest-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc",))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 20)
    expected = sh.ffprobe_hashed(clip)
    ctx = (build, probe_bin, clip, expected, env)
    failed = []
    for n in names:
        try:
            CASES[n](ctx)
        except AssertionError as e:
            print(f"FAIL: {n}: {e}")
            failed.append(n)
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
