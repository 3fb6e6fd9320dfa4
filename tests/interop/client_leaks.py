#!/usr/bin/env python3
"""No leak in our elements (valgrind memcheck): one run publishing and playing through
nginx-rtmp to EOS, one run stopped while a silent peer stalls the handshake. A definitely-lost
block whose allocation stack goes through our code (rtmp::, gst_rtmp_, libgstrtmp) fails the
test; GLib's own one-time allocations at load time are not ours.

usage: client_leaks.py <build dir> <client_probe>
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
from client_hostile import Peer, silent  # noqa: E402

OURS = re.compile(r"rtmp::|gst_rtmp_|libgstrtmp|client_connection|flv_output")


def memcheck(probe_bin, env, seconds, launch):
    r = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=definite",
                        "--num-callers=40", probe_bin, str(seconds), *launch], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    records = re.split(r"\n==\d+== \n", r.stderr)
    ours = [rec for rec in records if "definitely lost in loss record" in rec and OURS.search(rec)]
    assert not ours, "leaks in our code:\n" + "\n".join(ours)
    summary = re.search(r"definitely lost: ([\d,]+) bytes", r.stderr)
    return r.stdout, summary.group(1) if summary else "0"


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    if not shutil.which("valgrind"):
        print("skip: no valgrind")
        sys.exit(77)
    wd = h.workdir("client-leaks-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env)
    subprocess.run(["gst-inspect-1.0", "rtmpsrc"], env=env, capture_output=True)  # registry
    env = dict(env, G_SLICE="always-malloc", G_DEBUG="gc-friendly")
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 3)
    ng = h.Nginx(wd).start()
    try:
        out, lost = memcheck(probe_bin, env, 20, [
            "filesrc", f"location={clip}", "!", "rtmpsink", f"location={ng.url()}",
            "rtmpsrc", f"location={ng.url()}", "!", "fakesink"])
        assert "eos=1" in out, out
        print(f"ok: publish + play to EOS: no leak in our code (definitely lost overall: {lost})")
    finally:
        ng.stop()
    peer = Peer(silent)
    try:
        url = f"rtmp://127.0.0.1:{peer.port}/live/test"
        out, lost = memcheck(probe_bin, env, 2, [
            "rtmpsrc", f"location={url}", "!", "fakesink", "audiotestsrc", "is-live=true", "!",
            "avenc_aac", "!", "flvmux", "streamable=true", "!", "rtmpsink", f"location={url}"])
        print(f"ok: stopped during a stalled handshake: no leak in our code "
              f"(definitely lost overall: {lost})")
    finally:
        peer.close()


if __name__ == "__main__":
    main()
