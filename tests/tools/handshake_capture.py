#!/usr/bin/env python3
"""Captures real RTMP handshakes of FFmpeg and nginx-rtmp for tests/core/test_handshake.cpp.

Standard library only. Writes into --out (default tests/data/handshake/):

  ffmpeg_publish_c0c1.bin    C0C1 of `ffmpeg ... -f flv rtmp://...` (FFmpeg as a publisher)
  ffmpeg_publish_s0s1s2.bin  the digest S0S1S2 this script answered (see make_server_reply)
  ffmpeg_publish_c2.bin      FFmpeg's C2 (a publisher does not verify S1 and echoes it)
  ffmpeg_play_c0c1.bin       C0C1 of `ffmpeg -i rtmp://...` (FFmpeg as a player)
  ffmpeg_play_s0s1s2.bin     the digest S0S1S2 this script answered; FFmpeg accepted it (it
                             verifies S1 and S2 when playing and hangs up on "Signature mismatch")
  ffmpeg_play_c2.bin         FFmpeg's C2, signed with a key derived from our S1 digest
  nginx_digest_c0c1.bin      the C0C1 we sent to nginx-rtmp (FFmpeg's publisher C0C1)
  nginx_digest_s0s1s2.bin    nginx-rtmp's answer (digest S1, signed S2)
  nginx_plain_c0c1.bin       a plain C0C1 (zero version field) we sent to nginx-rtmp
  nginx_plain_s0s1s2.bin     nginx-rtmp's answer (it echoes C1 as S1 and as S2)
  ffmpeg_listen_s0s1s2.bin   FFmpeg's listener (-listen 1) answer to FFmpeg's publisher C0C1

The digest S0S1S2 sent to FFmpeg is computed here from the published algorithm, independently of
the C++ code; its random bytes come from a seeded generator so that a test can feed the same
bytes to HandshakeServer and expect the same output.

Usage: handshake_capture.py [--out DIR] [--ffmpeg ffmpeg] [--nginx nginx]
"""

import argparse
import hashlib
import hmac
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SIZE = 1536
KEY_TAIL = bytes([
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E,
    0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB,
    0x31, 0xAE])
PLAYER_KEY = b"Genuine Adobe Flash Player 001" + KEY_TAIL         # partial: first 30 bytes
SERVER_KEY = b"Genuine Adobe Flash Media Server 001" + KEY_TAIL   # partial: first 36 bytes
SERVER_VERSION = bytes([4, 5, 0, 1])  # the FMS version we put in S1 (FFmpeg wants byte 0 >= 3)
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
TIMEOUT = 15.0


def hmac256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def digest_pos(packet: bytes, base: int) -> int:
    return sum(packet[base:base + 4]) % 728 + base + 4


def find_digest(packet: bytes, key: bytes):
    for base in (772, 8):
        pos = digest_pos(packet, base)
        if hmac256(key, packet[:pos] + packet[pos + 32:]) == packet[pos:pos + 32]:
            return pos
    return None


def make_server_reply(c0c1: bytes, rng: random.Random) -> bytes:
    """S0S1S2 in the digest form, in the client's scheme, as Flash Media Server answers."""
    c1 = c0c1[1:]
    cpos = find_digest(c1, PLAYER_KEY[:30])
    if cpos is None:
        raise RuntimeError("client C1 has no valid digest")
    s1 = bytearray(b"\0\0\0\0" + SERVER_VERSION + rng.randbytes(SIZE - 8))
    spos = digest_pos(s1, 772 if cpos >= 776 else 8)
    s1[spos:spos + 32] = hmac256(SERVER_KEY[:36], bytes(s1[:spos] + s1[spos + 32:]))
    s2 = bytearray(rng.randbytes(SIZE - 32))
    s2 += hmac256(hmac256(SERVER_KEY, c1[cpos:cpos + 32]), bytes(s2))
    return b"\x03" + bytes(s1) + bytes(s2)


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_retry(port: int, proc: subprocess.Popen) -> socket.socket:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            return sock
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cannot connect to port {port}")
            time.sleep(0.1)


def serve_ffmpeg(ffmpeg: str, play: bool, seed: int):
    """Runs FFmpeg against a one-shot handshake server; returns (c0c1, s0s1s2, c2)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    url = f"rtmp://127.0.0.1:{listener.getsockname()[1]}/live/x"
    if play:
        cmd = [ffmpeg, "-nostdin", "-loglevel", "error", "-i", url, "-t", "1", "-f", "null", "-"]
    else:
        cmd = [ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
               "testsrc=duration=1", "-c:v", "libx264", "-f", "flv", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        with conn:
            c0c1 = recv_exact(conn, 1 + SIZE)
            reply = make_server_reply(c0c1, random.Random(seed))
            conn.sendall(reply)
            c2 = recv_exact(conn, SIZE)
        return c0c1, reply, c2
    finally:
        listener.close()
        proc.kill()
        proc.wait()


def client_exchange(port: int, proc: subprocess.Popen, c0c1: bytes) -> bytes:
    """Sends C0C1, returns S0S1S2, answers C2 (S1 echoed) and hangs up."""
    with connect_retry(port, proc) as sock:
        sock.sendall(c0c1)
        reply = recv_exact(sock, 1 + 2 * SIZE)
        sock.sendall(reply[1:1 + SIZE])
        return reply


def nginx_answers(nginx: str, c0c1s):
    tmp = tempfile.mkdtemp(prefix="hs_nginx_")
    port = free_port()
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(f"load_module {NGINX_MODULE};\ndaemon off;\npid {tmp}/nginx.pid;\n"
                f"error_log {tmp}/err.log;\nevents {{}}\n"
                f"rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; }} }} }}\n")
    os.makedirs(os.path.join(tmp, "logs"), exist_ok=True)
    proc = subprocess.Popen([nginx, "-p", tmp, "-c", os.path.join(tmp, "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return [client_exchange(port, proc, c) for c in c0c1s]
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def ffmpeg_listener_answer(ffmpeg: str, c0c1: bytes) -> bytes:
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/x"
    proc = subprocess.Popen([ffmpeg, "-nostdin", "-loglevel", "error", "-listen", "1",
                             "-timeout", "15", "-i", url, "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return client_exchange(port, proc, c0c1)
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "handshake"))
    ap.add_argument("--ffmpeg", default="ffmpeg")
    ap.add_argument("--nginx", default="nginx")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = {}

    c0c1, reply, c2 = serve_ffmpeg(args.ffmpeg, play=False, seed=1)
    files.update(ffmpeg_publish_c0c1=c0c1, ffmpeg_publish_s0s1s2=reply, ffmpeg_publish_c2=c2)
    pc0c1, preply, pc2 = serve_ffmpeg(args.ffmpeg, play=True, seed=2)
    files.update(ffmpeg_play_c0c1=pc0c1, ffmpeg_play_s0s1s2=preply, ffmpeg_play_c2=pc2)

    plain = b"\x03" + b"\0" * 8 + random.Random(3).randbytes(SIZE - 8)
    digest_answer, plain_answer = nginx_answers(args.nginx, [c0c1, plain])
    files.update(nginx_digest_c0c1=c0c1, nginx_digest_s0s1s2=digest_answer,
                 nginx_plain_c0c1=plain, nginx_plain_s0s1s2=plain_answer)
    files["ffmpeg_listen_s0s1s2"] = ffmpeg_listener_answer(args.ffmpeg, c0c1)

    for name, data in files.items():
        with open(os.path.join(args.out, name + ".bin"), "wb") as f:
            f.write(data)
        print(f"{name}.bin: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
