#!/usr/bin/env python3
"""Hostile peers against rtmpserversrc (issue 5): each is dropped with a reason in the stats,
and a good publisher (ffmpeg) connecting while it is there is served completely (every packet,
same MD5s and timestamps). The element reaches NULL within 1 s with a stalled publisher.

Cases: silent TCP, garbage, half handshake, a 16 MiB message announced, a chunk size of
2^31-1 followed by a flood of chunk streams, max-connections+100 sockets, a publisher that
stops mid-stream (SIGSTOP) while the pipeline goes to NULL.

usage: server_hostile.py <build dir> <server_probe>
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402

HANDSHAKE_TIMEOUT = 2  # seconds: short, so that silent peers are dropped during the test


def ffmpeg_publish(clip, url):
    r = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "flv",
                        url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"good publisher failed: {r.stderr[-2000:]}"


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def handshake(port):
    """A plain RTMP handshake (RTMP 1.0 section 5.2): C0 C1, read S0 S1 S2, send C2."""
    s = connect(port)
    c1 = bytes(8) + os.urandom(1528)
    s.sendall(b"\x03" + c1)
    need, got = 1 + 1536 * 2, b""
    while len(got) < need:
        chunk = s.recv(need - len(got))
        assert chunk, "server closed during the handshake"
        got += chunk
    s.sendall(got[1:1537])  # C2 echoes S1
    return s


def chunk_type0(csid, timestamp, length, type_id, stream_id):
    """Type 0 chunk header (RTMP 1.0 section 5.3.1.2.1), one-byte basic header."""
    return (bytes([csid]) + timestamp.to_bytes(3, "big") + length.to_bytes(3, "big") +
            bytes([type_id]) + struct.pack("<I", stream_id))


def hostile_silent(port):
    return [connect(port)]


def hostile_garbage(port):
    s = connect(port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096))
    return [s]


def hostile_half_handshake(port):
    s = connect(port)
    s.sendall(b"\x03" + os.urandom(700))
    return [s]


def hostile_huge_message(port):
    s = handshake(port)
    # A video message claiming 16 MiB - 1 bytes (the largest the 24-bit field allows).
    s.sendall(chunk_type0(4, 0, 0xFFFFFF, 9, 1) + os.urandom(128))
    return [s]


def hostile_chunk_flood(port):
    s = handshake(port)
    # Set Chunk Size 2^31-1 (section 5.4.1), then one message header on each of many chunk
    # stream ids (3-byte basic header form, csid up to 65599).
    s.sendall(chunk_type0(2, 0, 4, 1, 0) + struct.pack(">I", 0x7FFFFFFF))
    out = b""
    for csid in range(64, 64 + 2000):
        out += bytes([1]) + struct.pack("<H", csid - 64) + (0).to_bytes(3, "big") + \
            (1).to_bytes(3, "big") + bytes([8]) + struct.pack("<I", 1) + b"x"
    try:
        s.sendall(out)
    except OSError:
        pass  # dropped while we were still sending: fine
    return [s]


def hostile_socket_flood(port, max_connections):
    socks = []
    for _ in range(max_connections + 100):
        try:
            socks.append(connect(port))
        except OSError:
            pass
    return socks


def run_case(ctx, name, make_peers, props=(), expect_drop=None):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline(
        "srv", ("port=0", f"handshake-timeout={HANDSHAKE_TIMEOUT}", *props)))
    peers = []
    try:
        port = p.wait_ports()["srv"]
        peers = make_peers(port)
        time.sleep(0.3)
        # The good publisher, while the hostile peers are still connected (or just dropped).
        ffmpeg_publish(clip, f"rtmp://127.0.0.1:{port}/live/key")
        lines = p.finish(120)
    finally:
        for s in peers:
            s.close()
        p.kill()
    assert "eos" in lines, f"{name}: no EOS: {lines[-10:]}"
    v, a = sh.compare(expected, lines, what=name)
    stats = next((x for x in lines if x.startswith("stats srv")), "")
    if expect_drop:
        assert f"dropped-{expect_drop}=(guint64)" in stats, \
            f"{name}: no dropped-{expect_drop} in the stats: {stats}"
    print(f"ok: {name}: good publisher served ({v}+{a} packets); "
          f"{stats.split(', connections-accepted')[-1][:200]}")


def case_null_with_stalled_publisher(ctx):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", ("port=0",)), seconds=4)
    ff = None
    try:
        port = p.wait_ports()["srv"]
        ff = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-i", clip, "-c", "copy",
                               "-f", "flv", f"rtmp://127.0.0.1:{port}/live/key"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert p.wait_line("msg srv rtmp-publish-start", 10), "publisher did not start"
        time.sleep(0.5)
        ff.send_signal(signal.SIGSTOP)  # a publisher that stalls with its socket open
        stalled = handshake(port)       # and a client stalled after the handshake
        lines = p.finish(30)
        stalled.close()
    finally:
        if ff:
            ff.send_signal(signal.SIGCONT)
            ff.kill()
            ff.wait()
        p.kill()
    null_ms = int(next(x for x in lines if x.startswith("null-ms")).split()[1])
    assert null_ms < 1000, f"NULL took {null_ms} ms with a stalled publisher"
    print(f"ok: NULL in {null_ms} ms with a stalled publisher and a stalled client connected")


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (scripts/setup-deps.sh installs it)")
            return 1
    wd = h.workdir("server-hostile-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc",))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 5)
    ctx = (build, probe_bin, clip, sh.ffprobe_hashed(clip), env)
    only = sys.argv[3:]
    cases = [
        ("silent TCP", hostile_silent, (), "handshake-timeout"),
        ("garbage", hostile_garbage, (), "protocol-error"),
        ("half handshake", hostile_half_handshake, (), "handshake-timeout"),
        ("16 MiB message", hostile_huge_message, (), "limit-exceeded"),
        ("chunk size 2^31-1 + chunk stream flood", hostile_chunk_flood, (), "limit-exceeded"),
        ("max-connections+100 sockets",
         lambda port: hostile_socket_flood(port, 8), ("max-connections=8",), "evicted"),
    ]
    failed = 0
    cases = [c for c in cases if not only or c[0] in only]
    for name, make, props, drop in cases:
        try:
            if name in ("silent TCP", "half handshake"):
                # Dropped by the timeout: publish after it fired.
                run_case(ctx, name, lambda port, m=make: (m(port), time.sleep(
                    HANDSHAKE_TIMEOUT + 0.5))[0], props, drop)
            else:
                run_case(ctx, name, make, props, drop)
        except AssertionError as e:
            print(f"FAIL: {name}: {e}")
            failed += 1
    try:
        case_null_with_stalled_publisher(ctx)
    except AssertionError as e:
        print(f"FAIL: NULL with a stalled publisher: {e}")
        failed += 1
    print(f"{len(cases) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
