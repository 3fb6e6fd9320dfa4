#!/usr/bin/env python3
"""A location our elements refuse never sends the stream anywhere, seen from gst-launch-1.0:

- `fakesrc num-buffers=1 ! rtmpsink "location=rtmp://127.0.0.1:PORT/live/key live=maybe"` (a
  malformed librtmp option after the URL), a location without a stream name, another
  scheme, no host: gst-launch-1.0 exits non-zero with "invalid location '<location>'" in its
  output, and a loopback listener on PORT (where the fields the location leaves in place point)
  accepted nothing.
- the same for rtmpsrc, and for rtmpserversrc (which would otherwise listen until killed).

usage: client_bad_location.py <build dir>
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402


def pending_connections(sock):
    """Connections the kernel completed into the backlog of `sock` (never accepted before)."""
    sock.setblocking(False)
    n = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


def run_launch(env, pipeline):
    r = subprocess.run(["gst-launch-1.0", *pipeline], env=env, capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


def case_clients(env):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    # host/port before the location: what a refused location leaves in place points here.
    aim = ["host=127.0.0.1", f"port={port}"]
    bad = [f"rtmp://127.0.0.1:{port}/live/key live=maybe", f"rtmp://127.0.0.1:{port}/x",
           f"http://127.0.0.1:{port}/live/x", "rtmp:///live/x"]
    try:
        for location in bad:
            for name, pipeline in (
                    ("rtmpsink", ["fakesrc", "num-buffers=1", "!", "rtmpsink", *aim,
                                  f"location={location}"]),
                    ("rtmpsrc", ["rtmpsrc", *aim, f"location={location}", "!", "fakesink"])):
                rc, out = run_launch(env, pipeline)
                what = f"{' '.join(pipeline)}: exit {rc}\n{out[-2000:]}"
                assert rc != 0, what
                assert f"invalid location '{location}'" in out, what
                assert pending_connections(listener) == 0, f"something connected: {what}"
                print(f"{name}: '{location}' refused, nothing connected")
    finally:
        listener.close()


def case_server(env):
    port = h.free_port()
    for location in (f"rtmp://127.0.0.1:{port}/live/key live=1", f"http://127.0.0.1:{port}/a/b",
                     "rtmp:///live/x"):
        pipeline = ["rtmpserversrc", "host=127.0.0.1", f"port={port}", f"location={location}",
                    "!", "fakesink"]
        rc, out = run_launch(env, pipeline)
        what = f"{' '.join(pipeline)}: exit {rc}\n{out[-2000:]}"
        assert rc != 0, what
        assert f"invalid location '{location}'" in out, what
        print(f"rtmpserversrc: '{location}' refused before listening")


def main():
    build = sys.argv[1]
    wd = h.workdir("client-bad-location-")
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsink", "rtmpsrc", "rtmpserversrc"))
    case_clients(env)
    case_server(env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
