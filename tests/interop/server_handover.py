#!/usr/bin/env python3
"""rtmpserversrc's hand-over of a publishing connection to the element's streaming thread
(net::PublisherDriver, docs/performance.md "Scale"): what happens to a publisher AFTER its publish
was accepted, with a hand-made publisher (this file speaks RTMP itself: handshake, connect,
createStream, publish, then video messages of distinct sizes, each in one chunk) so that it can
misbehave at an exact point.

Every case checks what arrived: the FLV tags at `fakesink name=out_flv` in order with the sizes
sent (11-byte tag header + payload + 4-byte back pointer), the element's stats (messages, bytes,
the listener's drop reasons and connection counts) and the rtmp-publish-stop reason.

Cases (all by default; name some on the command line to run only those):
  disconnect     the publisher closes its socket mid-stream: every message sent arrives, then
                 EOS; stop reason "closed by peer"-like, nothing dropped
  stall          the publisher stops sending with its socket open: idle-timeout=1 ends it
                 (dropped-idle-timeout=1), everything sent before arrived, EOS
  garbage        a chunk of an unknown chunk stream in type-3 form after 20 good messages:
                 dropped-protocol-error=1, the 20 arrived, EOS
  huge           a message announcing 1 MiB more than max-message-size: dropped-limit-exceeded
  null_mid_read  the publisher sends half of a 200 kB message and stalls; the pipeline goes to
                 NULL (the probe's --seconds): within 1 s
  max_conn       max-connections=1: a second TCP client while the handed-over publisher
                 publishes is refused (dropped-max-connections=1, connections-accepted=2)
  second_key     a second publisher of the same key is refused (NetStream.Publish.BadName and
                 rtmp-client-rejected) while the first one keeps publishing to the end
  republish      on-disconnect=wait: deleteStream, then createStream + publish again on the same
                 connection (handed back to the listener and over again): both halves arrive

usage: server_handover.py <build dir> <server_probe> [case...]
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
import server_harness as sh  # noqa: E402

KEY = "key"
FLV_TAG_OVERHEAD = 11 + 4  # FLV 10.1 E.4.1 tag header + PreviousTagSize


# ---- A minimal RTMP publisher --------------------------------------------------------------

def amf_string(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_number(x):
    return b"\x00" + struct.pack(">d", x)


def amf_object(fields):
    out = b"\x03"
    for k, v in fields.items():
        kb = k.encode()
        out += struct.pack(">H", len(kb)) + kb + (amf_string(v) if isinstance(v, str)
                                                 else amf_number(v))
    return out + b"\x00\x00\x09"


def chunk(csid, type_id, stream_id, payload, timestamp=0):
    """One message in one type-0 chunk (RTMP 1.0 section 5.3.1.2.1); our chunk size is set
    above every payload sent here."""
    return (bytes([csid]) + min(timestamp, 0xFFFFFF).to_bytes(3, "big") +
            len(payload).to_bytes(3, "big") + bytes([type_id]) + struct.pack("<I", stream_id) +
            payload)


class Publisher:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.received = b""
        c1 = bytes(8) + os.urandom(1528)
        self.s.sendall(b"\x03" + c1)
        need = 1 + 1536 * 2
        got = b""
        while len(got) < need:
            part = self.s.recv(need - len(got))
            assert part, "server closed during the handshake"
            got += part
        self.s.sendall(got[1:1537])  # C2 echoes S1
        # Set Chunk Size (section 5.4.1): every message below fits in one chunk.
        self.s.sendall(chunk(2, 1, 0, struct.pack(">I", 1 << 20)))
        self.s.sendall(chunk(3, 20, 0, amf_string("connect") + amf_number(1) + amf_object(
            {"app": "live", "type": "nonprivate", "tcUrl": f"rtmp://127.0.0.1:{port}/live"})))
        self.wait_for(b"NetConnection.Connect.Success")
        self.stream_id = 0
        self.publish(txn=2)

    def publish(self, txn):
        # The server numbers streams from 1 in createStream order (core/server_session.cpp).
        self.s.sendall(chunk(3, 20, 0, amf_string("createStream") + amf_number(txn) + b"\x05"))
        self.stream_id += 1
        self.s.sendall(chunk(8, 20, self.stream_id, amf_string("publish") + amf_number(0) +
                             b"\x05" + amf_string(KEY) + amf_string("live")))

    def wait_for(self, what, timeout=5):
        deadline = time.monotonic() + timeout
        while what not in self.received:
            assert time.monotonic() < deadline, f"no {what!r} from the server"
            self.s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                part = self.s.recv(65536)
            except socket.timeout:
                continue
            assert part, f"server closed before {what!r}"
            self.received += part
        i = self.received.index(what)
        self.received = self.received[i + len(what):]

    def video(self, size, timestamp):
        # FLV video tag body (E.4.3.1): frame type 2 / codec 2 (Sorenson H.263) and filler.
        payload = b"\x22" + bytes((timestamp + i) & 0xFF for i in range(size - 1))
        self.s.sendall(chunk(6, 9, self.stream_id, payload, timestamp))
        return size

    def send_videos(self, count, first_size=200, start_ts=0):
        sizes = []
        for i in range(count):
            sizes.append(self.video(first_size + 37 * i, start_ts + 33 * i))
        return sizes

    def close(self):
        self.s.close()


# ---- Checks ---------------------------------------------------------------------------------

def arrived_sizes(lines):
    """Payload sizes of the FLV tags that reached out_flv (the first buffer is the header)."""
    bufs = sh.probe_buffers(lines, "out_flv")
    assert bufs, "nothing reached out_flv"
    assert bufs[0][2] == 13, f"first buffer is not the FLV header: {bufs[0]}"
    return [b[2] - FLV_TAG_OVERHEAD for b in bufs[1:]]


def stats_of(lines):
    line = next((x for x in lines if x.startswith("stats srv")), "")
    assert line, "no stats line"
    return line


def stat(stats, field):
    key = f"{field}=(guint64)"
    if key not in stats:
        return None
    return int(stats.split(key, 1)[1].split(",", 1)[0].split(";", 1)[0])


def check_stream(name, lines, sent):
    got = arrived_sizes(lines)
    assert got == sent, f"{name}: arrived sizes {got[:8]}... ({len(got)}), sent {sent[:8]}... " \
        f"({len(sent)})"
    st = stats_of(lines)
    assert stat(st, "messages") == len(sent), f"{name}: stats messages: {st}"
    assert stat(st, "bytes") == sum(sent), f"{name}: stats bytes: {st}"
    assert "eos" in lines, f"{name}: no EOS: {lines[-6:]}"
    return st


def probe(ctx, props=(), seconds=30):
    probe_bin, env = ctx
    return sh.Probe(probe_bin, env, ["rtmpserversrc", "name=srv", "port=0", *props, "!",
                                     "fakesink", "name=out_flv", "sync=false"], seconds=seconds)


# ---- Cases ----------------------------------------------------------------------------------

def case_disconnect(ctx):
    p = probe(ctx)
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(50)
        pub.close()
        lines = p.finish(20)
    finally:
        p.kill()
    st = check_stream("disconnect", lines, sent)
    stop = sh_msgs(lines, "rtmp-publish-stop")
    assert len(stop) == 1, f"disconnect: {stop}"
    assert not any(f"dropped-{r}" in st for r in ("protocol-error", "io-error", "idle-timeout")), \
        f"disconnect: unexpected drop: {st}"
    print(f"ok: disconnect: {len(sent)} messages arrived in order; {stop[0][:120]}")


def sh_msgs(lines, name):
    return [x for x in lines if x.startswith(f"msg srv {name}")]


def case_stall(ctx):
    p = probe(ctx, ("idle-timeout=1",))
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(20)
        t0 = time.monotonic()
        lines = p.finish(20)
        took = time.monotonic() - t0
        pub.close()
    finally:
        p.kill()
    st = check_stream("stall", lines, sent)
    assert stat(st, "dropped-idle-timeout") == 1, f"stall: {st}"
    assert took < 5, f"stall: EOS {took:.1f} s after the publisher went silent (idle-timeout=1)"
    print(f"ok: stall: {len(sent)} messages, then idle-timeout after {took:.1f} s")


def case_garbage(ctx):
    p = probe(ctx)
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(20)
        # A type-3 chunk (basic header fmt 3, section 5.3.1.1) of chunk stream 40, which never
        # had a message header: nothing to continue, a protocol error.
        pub.s.sendall(bytes([0xC0 | 40]) + os.urandom(500))
        lines = p.finish(20)
        pub.close()
    finally:
        p.kill()
    st = check_stream("garbage", lines, sent)
    assert stat(st, "dropped-protocol-error") == 1, f"garbage: {st}"
    print(f"ok: garbage: {len(sent)} messages, then dropped for a protocol error")


def case_huge(ctx):
    p = probe(ctx, ("max-message-size=65536",))
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(10)
        pub.s.sendall(bytes([6]) + (0).to_bytes(3, "big") + (65536 + (1 << 20)).to_bytes(
            3, "big") + b"\x09" + struct.pack("<I", pub.stream_id) + b"\x22" * 100)
        lines = p.finish(20)
        pub.close()
    finally:
        p.kill()
    st = check_stream("huge", lines, sent)
    assert stat(st, "dropped-limit-exceeded") == 1, f"huge: {st}"
    print(f"ok: huge: {len(sent)} messages, then dropped for a message above max-message-size")


def case_null_mid_read(ctx):
    p = probe(ctx, (), seconds=2)
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(5)
        # Half of a 200 kB message: the element's thread waits in the middle of reassembling it.
        pub.s.sendall(bytes([6]) + (999).to_bytes(3, "big") + (200000).to_bytes(3, "big") +
                      b"\x09" + struct.pack("<I", pub.stream_id) + b"\x22" * 100000)
        lines = p.finish(20)
        pub.close()
    finally:
        p.kill()
    null_ms = int(next(x for x in lines if x.startswith("null-ms")).split()[1])
    assert null_ms < 1000, f"null_mid_read: NULL took {null_ms} ms"
    got = arrived_sizes(lines)
    assert got == sent, f"null_mid_read: arrived {got}, sent {sent}"
    print(f"ok: null_mid_read: NULL in {null_ms} ms with half a message read")


def case_max_conn(ctx):
    p = probe(ctx, ("max-connections=1",))
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(10)
        other = socket.create_connection(("127.0.0.1", p.ports["srv"]), timeout=5)
        other.settimeout(5)
        try:
            closed = other.recv(1) == b""
        except ConnectionResetError:
            closed = True
        other.close()
        assert closed, "max_conn: the second client was not closed"
        sent += pub.send_videos(10, first_size=900)
        pub.close()
        lines = p.finish(20)
    finally:
        p.kill()
    st = check_stream("max_conn", lines, sent)
    assert stat(st, "dropped-max-connections") == 1, f"max_conn: {st}"
    assert stat(st, "connections-accepted") == 2, f"max_conn: {st}"
    print(f"ok: max_conn: the handed-over publisher still counts; second client refused")


def case_second_key(ctx):
    p = probe(ctx)
    try:
        port = p.wait_ports()["srv"]
        pub = Publisher(port)
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(10)
        intruder = Publisher(port)
        intruder.wait_for(b"NetStream.Publish.BadName")
        intruder.video(300, 0)  # ignored: not publishing
        sent += pub.send_videos(10, first_size=700, start_ts=330)
        intruder.close()
        pub.close()
        lines = p.finish(20)
    finally:
        p.kill()
    check_stream("second_key", lines, sent)
    rejected = sh_msgs(lines, "rtmp-client-rejected")
    assert len(rejected) == 1 and "publish" in rejected[0], f"second_key: {rejected}"
    print("ok: second_key: refused with BadName while the first publisher went on")


def case_republish(ctx):
    p = probe(ctx, ("on-disconnect=wait", "reconnect-timeout=1"))
    try:
        pub = Publisher(p.wait_ports()["srv"])
        pub.wait_for(b"NetStream.Publish.Start")
        sent = pub.send_videos(10)
        # deleteStream (section 7.2.2.3): the publish ends, the connection stays.
        pub.s.sendall(chunk(3, 20, 0, amf_string("deleteStream") + amf_number(0) + b"\x05" +
                            amf_number(pub.stream_id)))
        time.sleep(0.2)
        pub.publish(txn=3)
        pub.wait_for(b"NetStream.Publish.Start")
        sent += pub.send_videos(10, first_size=600, start_ts=330)
        pub.close()
        lines = p.finish(20)
    finally:
        p.kill()
    check_stream("republish", lines, sent)
    starts = sh_msgs(lines, "rtmp-publish-start")
    stops = sh_msgs(lines, "rtmp-publish-stop")
    assert len(starts) == 2 and len(stops) == 2, f"republish: {starts} {stops}"
    assert "unpublished" in stops[0], f"republish: {stops[0]}"
    print("ok: republish: both publishes of one connection arrived")


CASES = {
    "disconnect": case_disconnect,
    "stall": case_stall,
    "garbage": case_garbage,
    "huge": case_huge,
    "null_mid_read": case_null_mid_read,
    "max_conn": case_max_conn,
    "second_key": case_second_key,
    "republish": case_republish,
}


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("server-handover-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpserversrc",))
    ctx = (probe_bin, env)
    names = sys.argv[3:] or list(CASES)
    failed = 0
    for name in names:
        try:
            CASES[name](ctx)
        except AssertionError as e:
            print(f"FAIL: {name}: {e}")
            failed += 1
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
