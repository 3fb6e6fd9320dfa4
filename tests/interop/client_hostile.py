#!/usr/bin/env python3
"""Hostile and slow peers: each ends in a clear error, and a state change to NULL returns within
1 s whatever the peer does (issue 4).

Peers (python sockets on free loopback ports):
- refused: nothing listens;
- silent: accepts TCP and says nothing (also what a half-open connection looks like);
- mid-handshake: answers C0+C1 with S0 and half of S1, then nothing;
- garbage: answers with bytes that are not RTMP;
- huge command: completes the handshake, then announces a 16 MiB command message and sends
  nothing more (rtmpsrc gives up at once, naming the limit, instead of waiting for the close);
- stops reading: a proxy in front of nginx-rtmp that stops reading from the publisher after
  1 MiB, so our socket's send buffer fills (rtmpsink only).

usage: client_hostile.py <build dir> <client_probe>
"""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

NULL_LIMIT_MS = 1000


class Peer(h.LoopbackListener):
    """Accepts connections on a free port and runs `behaviour(conn)` for each."""

    def __init__(self, behaviour):
        super().__init__()
        self.behaviour = behaviour
        self.start()

    def serve(self, conn, index):
        self.behaviour(conn)


def silent(conn):
    threading.Event().wait(60)


def mid_handshake(conn):
    try:
        conn.recv(1537)
        conn.sendall(b"\x03" + b"\x00" * 700)  # S0 + 700 of the 1536 bytes of S1
    except OSError:
        return
    threading.Event().wait(60)


def garbage(conn):
    try:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(4000))
    except OSError:
        return
    threading.Event().wait(60)


def recv_exactly(conn, n):
    got = b""
    while len(got) < n:
        b = conn.recv(n - len(got))
        if not b:
            raise OSError("peer closed")
        got += b
    return got


HUGE_COMMAND_CLOSE_S = 3


def huge_command(conn):
    try:
        c0c1 = recv_exactly(conn, 1 + 1536)
        # S0 (version 3), S1 (time 0, zero, zeros: the plain handshake), S2 echoing C1 (5.2.4).
        conn.sendall(b"\x03" + bytes(1536) + c0c1[1:])
        recv_exactly(conn, 1536)  # C2; our connect follows
        # RTMP 1.0 5.3.1.2.1, a type 0 chunk header: csid 3, timestamp 0, length 16 MiB - 1,
        # type 20 (AMF0 command), message stream 0. Then nothing.
        conn.sendall(bytes.fromhex("03 000000 FFFFFF 14 00000000"))
        time.sleep(HUGE_COMMAND_CLOSE_S)
        conn.close()
    except OSError:
        return


def probe(probe_bin, env, seconds, launch):
    r = subprocess.run([probe_bin, str(seconds), *launch], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    out["null-ms"] = int(out["null-ms"])
    out["first-error-ms"] = int(out.get("first-error-ms", "-1"))
    return out


def sink_launch(url, extra=()):
    return ["audiotestsrc", "is-live=true", "!", "avenc_aac", "!", "flvmux", "streamable=true",
            "!", "rtmpsink", f"location={url}", *extra]


def src_launch(url, extra=()):
    return ["rtmpsrc", f"location={url}", *extra, "!", "fakesink"]


def check(name, res, want_error=None):
    assert res["null-ms"] < NULL_LIMIT_MS, f"{name}: NULL took {res['null-ms']} ms"
    if want_error is not None:
        err = res.get("first-error", "")
        assert any(w in err for w in want_error), \
            f"{name}: error {err!r} ({res.get('error-debug')}) does not say {want_error}"
    print(f"ok: {name}: NULL in {res['null-ms']} ms; error: {res.get('first-error')!r}")


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("client-hostile-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env)

    refused = h.free_port()
    url = f"rtmp://127.0.0.1:{refused}/live/test"
    for role, launch in (("sink", sink_launch), ("src", src_launch)):
        check(f"{role}: connection refused", probe(probe_bin, env, 3, launch(url)),
              ["could not connect to 127.0.0.1:%d" % refused])

    for pname, behaviour in (("silent", silent), ("mid-handshake", mid_handshake),
                             ("garbage", garbage)):
        peer = Peer(behaviour)
        url = f"rtmp://127.0.0.1:{peer.port}/live/test"
        try:
            for role, launch in (("sink", sink_launch), ("src", src_launch)):
                # Stopped while waiting (timeout far away): NULL must still be prompt.
                if pname != "garbage":
                    check(f"{role}: {pname} peer, stopped while waiting",
                          probe(probe_bin, env, 1.5, launch(url, ["timeout=30"])))
                # With timeout=1 the element gives up by itself with a clear error.
                want = ["timed out"] if pname != "garbage" else ["protocol error", "handshake",
                                                                 "version"]
                check(f"{role}: {pname} peer, timeout=1",
                      probe(probe_bin, env, 4, launch(url, ["timeout=1"])), want)
        finally:
            peer.close()

    # A server that announces a 16 MiB command during connect and then says nothing: refused as
    # soon as the header is complete (the setup bound), not when the server closes after 3 s.
    peer = Peer(huge_command)
    url = f"rtmp://127.0.0.1:{peer.port}/live/test"
    try:
        res = probe(probe_bin, env, 2, src_launch(url, ["timeout=30"]))
        check("src: server announces a 16 MiB command during connect", res,
              ["max_command_message_size"])
        assert 0 <= res["first-error-ms"] < 1000, \
            f"error after {res['first-error-ms']} ms: {res.get('first-error')!r}"
        print(f"ok: the error came {res['first-error-ms']} ms after PLAYING "
              f"(the peer closes after {HUGE_COMMAND_CLOSE_S} s)")
    finally:
        peer.close()

    # A peer that stops reading while we publish: the proxy forwards to nginx and then stops
    # reading from us after 1 MiB.
    ng = h.Nginx(wd).start()
    stop_after = 1 << 20

    def stalling_proxy(conn):
        up = socket.create_connection(("127.0.0.1", ng.port))
        total = 0

        def down():
            try:
                while True:
                    b = up.recv(65536)
                    if not b:
                        return
                    conn.sendall(b)
            except OSError:
                return
        threading.Thread(target=down, daemon=True).start()
        try:
            while total < stop_after:
                b = conn.recv(65536)
                if not b:
                    return
                up.sendall(b)
                total += len(b)
        except OSError:
            return
        threading.Event().wait(60)  # stop reading: our send buffer fills up

    peer = Peer(stalling_proxy)
    try:
        big = os.path.join(wd, "big.flv")
        # Noise does not compress: 8 s of it is tens of MiB, far more than socket buffers hold.
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "nullsrc=s=640x360:r=30,geq=lum='random(1)*255':cb=128:cr=128",
                        "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
                        "-f", "flv", big], check=True, timeout=300)
        url = f"rtmp://127.0.0.1:{peer.port}/live/test"
        res = probe(probe_bin, env, 3, ["filesrc", f"location={big}", "!", "rtmpsink",
                                        f"location={url}"])
        assert not res.get("eos") == "1", "the whole file went through: the peer never stalled"
        check("sink: peer stops reading while publishing", res)
    finally:
        peer.close()
        ng.stop()


if __name__ == "__main__":
    main()
