#!/usr/bin/env python3
"""rtmpserversrc's admission policy (core/admission.hpp, docs/rtmpserversrc.md "Admission")
against connection floods: 200 clients from one address that keep going (each dropped client
is replaced, and live ones send an Acknowledgement now and then) while a real publisher
(ffmpeg) publishes a clip. The publisher must be served completely (every packet, same MD5s and
timestamps), the flood's drops must be counted in the stats by reason, and the pipeline must
reach NULL within 1 s with the flood still connected.

Cases (all by default; name some on the command line to run only those):
  idle             the flood completes the handshake and connect, then only stays alive
  idle_fits        the same with the table large enough for the flood (max-connections at
                   its default) and role-timeout=1: the flood's clients are dropped by the role
                   timeout, not evicted
  handshake        the flood completes the handshake only
  half_connect     the flood sends the first half of a connect command
  create_stream    the flood connects and sends createStream, then stops there
  other_address    defaults (max-connections, max-connections-per-address, role-timeout): the
                   idle flood comes from 127.0.0.2 (its sockets are bound there), ffmpeg from
                   127.0.0.1; the per-address limit lets ffmpeg in without evicting anyone

In the first five the flood and ffmpeg share 127.0.0.1, so they run with
max-connections-per-address=0; all but idle_fits with max-connections=64: the flood fills the
table and ffmpeg gets in by evicting a connection without a stream role.

usage: server_admission.py <build dir> <server_probe> [case...]
"""
import os
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402

FLOOD = 200
# New flood clients per second at most (replacements included): a flood that keeps going,
# bounded so that the test stays small on a shared machine. A connection without a role lives
# through at least max-connections newcomers (docs/rtmpserversrc.md, Admission): at 100/s and
# max-connections=64, ffmpeg has 640 ms from its TCP connect to its publish, which it needs a
# few milliseconds for on loopback.
FLOOD_RATE = 100
ACK_EVERY = 0.5  # seconds between two Acknowledgements of a live flood client


def amf_string(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_number(x):
    return b"\x00" + struct.pack(">d", x)


def amf_object(fields):
    out = b"\x03"
    for k, v in fields.items():
        kb = k.encode()
        out += struct.pack(">H", len(kb)) + kb + amf_string(v)
    return out + b"\x00\x00\x09"


def chunk(csid, type_id, stream_id, payload):
    """One message in one type-0 chunk (RTMP 1.0 section 5.3.1.2.1)."""
    return (bytes([csid]) + bytes(3) + len(payload).to_bytes(3, "big") + bytes([type_id]) +
            struct.pack("<I", stream_id) + payload)


def connect_command(port):
    return amf_string("connect") + amf_number(1) + amf_object(
        {"app": "live", "type": "nonprivate", "flashVer": "FMLE/3.0 (flood)",
         "tcUrl": f"rtmp://127.0.0.1:{port}/live"})


def flood_client(kind, port, source):
    """One flood client of `kind`, left in its final state (non-blocking), or None."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2,
                                     source_address=(source, 0))
        s.sendall(b"\x03" + bytes(8) + os.urandom(1528))  # C0 C1 (section 5.2.5)
        got = b""
        while len(got) < 1 + 2 * 1536:
            part = s.recv(1 + 2 * 1536 - len(got))
            if not part:
                s.close()
                return None
            got += part
        s.sendall(got[1:1537])  # C2 echoes S1
        cmd = connect_command(port)
        if kind == "half_connect":
            # The connect message announces its full length; half of it comes (128-byte default
            # chunk size: one chunk).
            s.sendall(chunk(3, 20, 0, cmd)[:12 + 60])
        elif kind in ("idle", "create_stream"):
            s.sendall(chunk(3, 20, 0, cmd))
            if kind == "create_stream":
                s.sendall(chunk(3, 20, 0, amf_string("createStream") + amf_number(2) + b"\x05"))
        s.setblocking(False)
        return s
    except OSError:
        return None


class Flood:
    """FLOOD clients of one kind from `source`, kept at that number until stop()."""

    def __init__(self, kind, port, source="127.0.0.1"):
        self.kind, self.port, self.source = kind, port, source
        self.sel = selectors.DefaultSelector()
        self.socks = set()
        self.opened = 0
        self.lost = 0
        self.stopping = threading.Event()
        self.full = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _close(self, s):
        self.sel.unregister(s)
        self.socks.discard(s)
        s.close()

    def _run(self):
        next_ack = time.monotonic() + ACK_EVERY
        budget_start, opened_in_budget = time.monotonic(), 0
        while not self.stopping.is_set():
            # Replace what the server dropped, at most FLOOD_RATE per second.
            while len(self.socks) < FLOOD and not self.stopping.is_set():
                now = time.monotonic()
                if now - budget_start >= 1:
                    budget_start, opened_in_budget = now, 0
                if opened_in_budget >= FLOOD_RATE:
                    break
                opened_in_budget += 1
                s = flood_client(self.kind, self.port, self.source)
                if s:
                    self.opened += 1
                    self.socks.add(s)
                    self.sel.register(s, selectors.EVENT_READ)
            if len(self.socks) >= FLOOD or self.opened >= FLOOD:
                self.full.set()
            for key, _ in self.sel.select(timeout=0.05):
                try:
                    data = key.fileobj.recv(65536)  # answers, read and forgotten
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.lost += 1
                    self._close(key.fileobj)
            if self.kind == "idle" and time.monotonic() >= next_ack:
                next_ack = time.monotonic() + ACK_EVERY
                # Acknowledgement (section 5.4.3): alive, and nothing else.
                for s in list(self.socks):
                    try:
                        s.send(chunk(2, 3, 0, struct.pack(">I", 4096)))
                    except OSError:
                        pass
        for s in list(self.socks):
            self._close(s)

    def stop(self):
        self.stopping.set()
        self.t.join(timeout=10)


def stat(stats, name):
    for f in stats.split(","):
        f = f.strip()
        if f.startswith(name + "="):
            return int(f.split(")")[-1].rstrip(";"))
    return 0


def run_case(ctx, name, kind, props, source, expect):
    build, probe_bin, clip, expected, env = ctx
    p = sh.Probe(probe_bin, env, sh.server_pipeline("srv", ("port=0", *props)), seconds=60)
    flood = None
    try:
        port = p.wait_ports()["srv"]
        flood = Flood(kind, port, source)
        assert flood.full.wait(20), f"{name}: the flood did not get going"
        time.sleep(1.5)  # past role-timeout=1 where it is set: the flood churns
        live = len(flood.socks)
        t0 = time.monotonic()
        r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-c", "copy",
                            "-f", "flv", f"rtmp://127.0.0.1:{port}/live/key"],
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        assert r.returncode == 0, f"{name}: ffmpeg failed during the flood: {r.stderr[-2000:]}"
        assert flood.t.is_alive(), f"{name}: the flood stopped"
        opened = flood.opened
        # EOS after the publisher: the probe stops the pipeline (to NULL) with the flood on.
        lines = p.finish(60)
    finally:
        if flood:
            flood.stop()
        p.kill()
    assert "eos" in lines, f"{name}: no EOS: {lines[-10:]}"
    v, a = sh.compare(expected, lines, what=name)
    stats = next((x for x in lines if x.startswith("stats srv")), "")
    for reason in expect:
        assert stat(stats, f"dropped-{reason}") > 0, \
            f"{name}: no dropped-{reason} in the stats: {stats}"
    null_ms = int(next(x for x in lines if x.startswith("null-ms")).split()[1])
    assert null_ms < 1000, f"{name}: NULL took {null_ms} ms during the flood"
    dropped = ", ".join(f.strip() for f in stats.split(",") if "dropped-" in f)
    print(f"ok: {name}: ffmpeg served in {took:.1f} s ({v}+{a} packets) while {opened} flood "
          f"clients came ({live} connected as it started); NULL in {null_ms} ms; {dropped}")


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (scripts/setup-deps.sh installs it)")
            return 1
    wd = h.workdir("server-admission-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc",))
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 5)
    ctx = (build, probe_bin, clip, sh.ffprobe_hashed(clip), env)
    shared = ("max-connections=64", "max-connections-per-address=0", "role-timeout=1",
              "handshake-timeout=2")
    cases = [
        ("idle", "idle", shared, "127.0.0.1", ("evicted",)),
        ("idle_fits", "idle", ("max-connections-per-address=0", "role-timeout=1"), "127.0.0.1",
         ("role-timeout",)),
        ("handshake", "handshake", shared, "127.0.0.1", ("evicted",)),
        ("half_connect", "half_connect", shared, "127.0.0.1", ("evicted",)),
        ("create_stream", "create_stream", shared, "127.0.0.1", ("evicted",)),
        ("other_address", "idle", (), "127.0.0.2", ("evicted-per-address",)),
    ]
    only = sys.argv[3:]
    cases = [c for c in cases if not only or c[0] in only]
    failed = 0
    for name, kind, props, source, expect in cases:
        try:
            run_case(ctx, name, kind, props, source, expect)
        except AssertionError as e:
            print(f"FAIL: {name}: {e}")
            failed += 1
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
