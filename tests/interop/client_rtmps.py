#!/usr/bin/env python3
"""rtmps: our elements through a TLS proxy (python ssl, self-signed certificate) in front of
nginx-rtmp. tls-validation-flags decides: the default (validate-all) refuses the unknown CA
with a clear error; a mask without unknown-ca accepts it and the stream goes through intact,
publish (rtmpsink) and play (rtmpsrc) both.

usage: client_rtmps.py <build dir> <client_probe>
"""
import os
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
from client_hostile import probe  # noqa: E402


class TlsProxy(h.LoopbackListener):
    def __init__(self, wd, upstream_port):
        super().__init__()
        self.cert = os.path.join(wd, "cert.pem")
        self.key = os.path.join(wd, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert], check=True,
                       capture_output=True, timeout=60)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, self.key)
        self.upstream_port = upstream_port
        self.handshakes = 0
        self.start()

    def serve(self, raw, index):
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        self.handshakes += 1
        up = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(up, tls), daemon=True).start()
        pump(tls, up)


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("client-rtmps-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env)
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 5)
    expected = h.ffprobe_packets(clip)
    ng = h.Nginx(wd, record=True).start()
    proxy = TlsProxy(wd, ng.port)
    url = f"rtmps://127.0.0.1:{proxy.port}/live/test"
    try:
        # Default flags: the self-signed certificate's unknown CA is refused.
        res = probe(probe_bin, env, 4, ["filesrc", f"location={clip}", "!", "rtmpsink",
                                        f"location={url}"])
        err = res.get("first-error", "")
        assert "could not connect" in err and "certificate" in err.lower(), err
        assert res["null-ms"] < 1000
        print(f"ok: validate-all refuses the self-signed certificate: {err!r}")

        # rtmps:// to nginx-rtmp's plain port: nginx waits for C0+C1 and never answers the
        # ClientHello; the error says that the server may not speak TLS.
        plain = f"rtmps://127.0.0.1:{ng.port}/live/test"
        res = probe(probe_bin, env, 6, ["filesrc", f"location={clip}", "!", "rtmpsink",
                                        f"location={plain}", "timeout=2"])
        err = res.get("first-error", "")
        assert "may not be a TLS server" in err and f"127.0.0.1:{ng.port}" in err, err
        assert res["null-ms"] < 1000
        print(f"ok: rtmps:// to a plain RTMP server: {err!r}")

        # Mask without unknown-ca: accepted; play and publish through TLS.
        flags = "bad-identity+not-activated+expired+revoked+insecure"
        out = os.path.join(wd, "out.flv")
        player = subprocess.Popen(["gst-launch-1.0", "-q", "rtmpsrc", f"location={url}",
                                   f"tls-validation-flags={flags}", "!", "filesink",
                                   f"location={out}"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert ng.wait_players(1), "rtmpsrc did not subscribe through TLS"
        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={url}", f"tls-validation-flags={flags}"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        o, e = player.communicate(timeout=60)
        assert player.returncode == 0, o + e
        assert proxy.handshakes >= 2
        for name, path in (("recorded", os.path.join(ng.record_dir, "test.flv")),
                           ("rtmpsrc over rtmps", out)):
            got = h.ffprobe_packets(path)
            assert got == expected, f"{name}: {len(got)} packets vs {len(expected)}"
        print(f"ok: rtmps publish and play with tls-validation-flags={flags}: "
              f"{len(expected)} packets")
    finally:
        proxy.close()
        ng.stop()


if __name__ == "__main__":
    main()
