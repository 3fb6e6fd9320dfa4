#!/usr/bin/env python3
"""nginx-rtmp `on_publish` pointing at a small local HTTP endpoint that accepts one stream key
and refuses the others: rtmpsink publishes with the good key (the stream is recorded intact) and
fails with a clear error with a bad one, within the timeout.

usage: client_on_publish.py <build dir> <client_probe>
"""
import http.server
import os
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402
from client_hostile import probe  # noqa: E402

GOOD_KEY = "good-key-123"
calls = []


class Auth(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        name = urllib.parse.parse_qs(body).get("name", [""])[0]
        calls.append(name)
        self.send_response(200 if name == GOOD_KEY else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    build = os.path.abspath(sys.argv[1])
    probe_bin = sys.argv[2]
    wd = h.workdir("client-onpublish-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsink",))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Auth)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    auth_url = f"http://127.0.0.1:{httpd.server_address[1]}/auth"
    clip = os.path.join(wd, "in.flv")
    h.make_clip(clip, 5)
    expected = h.ffprobe_packets(clip)
    ng = h.Nginx(wd, record=True, app_extra=f"on_publish {auth_url};").start()
    try:
        bad = probe(probe_bin, env, 8, ["filesrc", f"location={clip}", "!", "rtmpsink",
                                        f"location={ng.url('wrong-key')}", "timeout=3"])
        err = bad.get("first-error", "")
        assert err, f"publishing with a refused key did not fail: {bad}"
        assert bad["null-ms"] < 1000
        assert "wrong-key" in calls
        print(f"ok: refused key: {err!r}")

        r = subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                            "rtmpsink", f"location={ng.url(GOOD_KEY)}"], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        ng.stop()
        got = h.ffprobe_packets(os.path.join(ng.record_dir, f"{GOOD_KEY}.flv"))
        assert got == expected, f"{len(got)} packets vs {len(expected)}"
        print(f"ok: accepted key: {len(got)} packets recorded")
    finally:
        ng.stop()
        httpd.shutdown()


if __name__ == "__main__":
    main()
