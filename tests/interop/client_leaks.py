#!/usr/bin/env python3
"""No leak in our elements (valgrind memcheck): one run publishing and playing through
nginx-rtmp to EOS, one run stopped while a silent peer stalls the handshake. A definitely-lost
block whose allocation stack goes through our code (rtmp::, gst_rtmp_, libgstrtmp) fails the
test; GLib's own one-time allocations at load time are not ours.

Nothing run under valgrind may load libhwy (which gst-libav brings in through libavcodec and
libjxl): its timer executes RDTSCP, which valgrind cannot run on a CPU without it, so the result
would depend on the machine. The test checks that with the dynamic loader's own log first.

usage: client_leaks.py <build dir> <client_probe>
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
from client_hostile import Peer, silent  # noqa: E402

OURS = re.compile(r"rtmp::|gst_rtmp_|libgstrtmp|client_connection|flv_output")


def first_valgrind_report(stderr):
    """The first block of valgrind's own lines after its banner (an error, an unhandled
    instruction, a fatal signal): the cause of a failure, which the end of the output loses."""
    blocks, block = [], []
    for line in stderr.splitlines():
        m = re.match(r"==\d+== ?(.*)", line)
        if not m:
            continue
        if m.group(1).strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    for b in blocks:
        text = "\n".join(b)
        if "Memcheck, a memory error detector" in text or "Command:" in text:
            continue
        return text
    return "(none)"


CPU_DEPENDENT_LIBRARIES = ("libhwy", "libavcodec")


def assert_loads_no_cpu_dependent_library(probe_bin, env, seconds, launch):
    """Run the pipeline without valgrind and check in the loader's log (LD_DEBUG=files) that
    none of CPU_DEPENDENT_LIBRARIES was loaded."""
    with tempfile.TemporaryDirectory(prefix="client-leaks-ld-") as d:
        subprocess.run([probe_bin, str(seconds), *launch], capture_output=True, timeout=120,
                       env=dict(env, LD_DEBUG="files", LD_DEBUG_OUTPUT=os.path.join(d, "ld")))
        loaded = "".join(open(os.path.join(d, f), errors="replace").read() for f in os.listdir(d))
    assert "file=" in loaded, "LD_DEBUG=files wrote no log"
    found = sorted({lib for lib in CPU_DEPENDENT_LIBRARIES if f"file={lib}" in loaded})
    assert not found, f"the pipeline run under valgrind loads {found}: {' '.join(launch)}"


def memcheck(probe_bin, env, seconds, launch):
    assert_loads_no_cpu_dependent_library(probe_bin, env, seconds, launch)
    r = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=definite",
                        "--num-callers=40", probe_bin, str(seconds), *launch], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (f"exit {r.returncode} under valgrind; its first report:\n"
                               f"{first_valgrind_report(r.stderr)}\n"
                               f"... the end of its output:\n{r.stderr[-1500:]}")
    records = re.split(r"\n==\d+== \n", r.stderr)
    ours = [rec for rec in records if "definitely lost in loss record" in rec and OURS.search(rec)]
    assert not ours, "leaks in our code:\n" + "\n".join(ours)
    summary = re.search(r"definitely lost: ([\d,]+) bytes", r.stderr)
    return r.stdout, summary.group(1) if summary else "0"


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    if not shutil.which("valgrind"):
        sys.exit("FAIL: valgrind is not installed (scripts/setup-deps.sh installs it)")
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
            "voaacenc", "!", "flvmux", "streamable=true", "!", "rtmpsink", f"location={url}"])
        print(f"ok: stopped during a stalled handshake: no leak in our code "
              f"(definitely lost overall: {lost})")
    finally:
        peer.close()


if __name__ == "__main__":
    main()
