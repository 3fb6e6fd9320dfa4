#!/usr/bin/env python3
"""Soak test of rtmpserversrc (issue 5): for SOAK_SECONDS (default 90) publishers connect,
publish a short clip and disconnect in a loop (ffmpeg, and every fourth our rtmpsink) while
hostile peers (garbage, half handshakes, silent sockets, garbage after a handshake, abrupt
closes) come and go around them. The element runs with on-disconnect=wait so that one pipeline
serves them all.

Checks: every good publisher is served completely (its publish-start and publish-stop
"unpublished" messages, every packet with the clip's payload MD5 and spacing, in order), the
hostile peers are counted as dropped in the stats, and the RSS of the process that runs the
element stays flat: the median of the samples at the end is within SOAK_RSS_MARGIN_KIB
(default 4096) of the median after warm-up (the first quarter of the run).

usage: server_soak.py <build dir> <server_probe>
"""
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "90"))
RSS_MARGIN_KIB = int(os.environ.get("SOAK_RSS_MARGIN_KIB", "4096"))
RECONNECT_TIMEOUT = 20  # s: longer than any pause between two good publishers on a loaded box


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hostile(port, kind, rng):
    """One hostile peer of `kind`; returns when it has gone (errors from the server's side
    closing the socket are expected)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    try:
        if kind == "garbage":
            s.sendall(rng.randbytes(4096))
        elif kind == "half-handshake":  # C0 C1 (RTMP 1.0 section 5.2.5), then gone
            s.sendall(b"\x03" + bytes(8) + rng.randbytes(1528))
            time.sleep(0.2)
        elif kind == "bad-version":  # C0 version 6 (RTMPE), not ours
            s.sendall(b"\x06" + rng.randbytes(1536))
            time.sleep(0.1)
        elif kind == "silent":
            time.sleep(0.5)
        elif kind == "garbage-after-handshake":
            s.sendall(b"\x03" + bytes(8) + rng.randbytes(1528))
            got = b""
            while len(got) < 1 + 2 * 1536:
                chunk = s.recv(8192)
                if not chunk:
                    return
                got += chunk
            s.sendall(got[1:1537] + rng.randbytes(2048))  # C2, then no valid chunk
            time.sleep(0.1)
        elif kind == "reset":  # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    finally:
        s.close()


HOSTILE_KINDS = ["garbage", "half-handshake", "bad-version", "silent", "garbage-after-handshake",
                 "reset"]


def publish(kind, env, clip, url):
    if kind == "ffmpeg":
        args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "flv",
                url]
    else:
        args = ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "rtmpsink",
                f"location={url}"]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"good publisher {kind} failed: {r.stdout[-1000:]} {r.stderr[-2000:]}"


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (scripts/setup-deps.sh installs it)")
            return 1
    wd = h.workdir("server-soak-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc", "rtmpsink"))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 1)
    expected = sh.ffprobe_hashed(clip)
    rng = random.Random(5)

    p = sh.Probe(probe_bin, env, sh.server_pipeline(
        "srv", ("port=0", "on-disconnect=wait", f"reconnect-timeout={RECONNECT_TIMEOUT}",
                "handshake-timeout=2", "idle-timeout=5")),
        seconds=SOAK_SECONDS + RECONNECT_TIMEOUT + 120)
    good, hostile_count, samples = [], 0, []  # samples: (seconds since start, RSS KiB)
    try:
        port = p.wait_ports()["srv"]
        url = f"rtmp://127.0.0.1:{port}/live/key"
        start = time.monotonic()
        while time.monotonic() - start < SOAK_SECONDS:
            kind = "rtmpsink" if len(good) % 4 == 3 else "ffmpeg"
            peers = [threading.Thread(target=hostile, args=(port, k, random.Random(rng.random())))
                     for k in rng.sample(HOSTILE_KINDS, 3)]
            for t in peers:
                t.start()
            publish(kind, env, clip, url)
            for t in peers:
                t.join()
            good.append(kind)
            hostile_count += len(peers)
            samples.append((time.monotonic() - start, rss_kib(p.proc.pid)))
        # The last publisher is gone: after reconnect-timeout the element ends the stream.
        lines = p.finish(RECONNECT_TIMEOUT + 120)
    finally:
        p.kill()

    errors = [x for x in lines if x.startswith("error")]
    assert not errors, errors
    assert lines.count("eos") == 1, "no single EOS at the end"
    starts = [x for x in lines if x.startswith("msg srv rtmp-publish-start")]
    stops = [x for x in lines if x.startswith("msg srv rtmp-publish-stop")]
    assert len(starts) == len(good), f"{len(starts)} publish-start for {len(good)} publishers"
    assert len(stops) == len(good) and all("reason=(string)unpublished" in x for x in stops), \
        [x for x in stops if "unpublished" not in x][:3]
    # Every good publisher served completely: the clip's packets, run after run.
    for k in ("video", "audio"):
        bufs = sh.probe_buffers(lines, f"out_{k}")
        n = len(expected[k])
        assert len(bufs) == n * len(good), \
            f"{k}: {len(bufs)} packets arrived, {n * len(good)} sent by {len(good)} publishers"
        for i in range(len(good)):
            run = bufs[i * n:(i + 1) * n]
            assert [b[3] for b in run] == [e[3] for e in expected[k]], \
                f"{k}: publisher {i} ({good[i]}): payloads differ"
            off = run[0][1] - expected[k][0][1]
            assert all(b[1] - e[1] == off for b, e in zip(run, expected[k])), \
                f"{k}: publisher {i} ({good[i]}): timestamps are not the clip's spacing"
        dts = [b[1] for b in bufs]
        assert dts == sorted(dts), f"{k}: DTS go back between publishers"
    stats = [x for x in lines if x.startswith("stats srv")][0]
    dropped = {f.split("=")[0].strip(): f for f in stats.split(",") if "dropped-" in f}
    assert dropped, f"no hostile peer counted as dropped: {stats}"

    # Memory: flat after warm-up.
    warm = [r for t, r in samples if SOAK_SECONDS * 0.25 <= t <= SOAK_SECONDS * 0.4]
    end = [r for t, r in samples if t >= SOAK_SECONDS * 0.85]
    assert warm and end, f"too few RSS samples: {samples}"
    warm_kib, end_kib = statistics.median(warm), statistics.median(end)
    print(f"RSS: start {samples[0][1]} KiB, after warm-up {warm_kib:.0f} KiB, end {end_kib:.0f} "
          f"KiB, max {max(r for _, r in samples)} KiB ({len(samples)} samples)")
    assert end_kib <= warm_kib + RSS_MARGIN_KIB, \
        f"RSS grew from {warm_kib:.0f} KiB to {end_kib:.0f} KiB (margin {RSS_MARGIN_KIB} KiB)"
    print(f"ok: {SOAK_SECONDS:.0f} s soak: {len(good)} good publishers "
          f"({good.count('ffmpeg')} ffmpeg, {good.count('rtmpsink')} rtmpsink) all served "
          f"completely among {hostile_count} hostile peers ({', '.join(sorted(dropped))}); "
          "RSS flat")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
