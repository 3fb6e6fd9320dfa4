#!/usr/bin/env python3
"""Many publishers at once into one shared rtmpserversrc port (regression test of the Scale
benchmark's N = 200 failure, docs/performance.md "Scale").

N_PUBLISHERS rtmpserversrc elements share one port in one process (tests/bench/bench_pipeline).
First a few hostile peers take connections and stall (silent sockets, and C0 + half a C1, RTMP
1.0 section 5.2.5); then tests/bench/rtmp_load opens N_PUBLISHERS connections in the same
instant (non-blocking connects) and each publishes a paced H.264/AAC clip to its own stream key
for PUBLISH_SECONDS.

Checks:
- every TCP connect completed in well under a second: the kernel answers a SYN at once while
  the listen backlog has room, so 1 s or more means a SYN was dropped and retransmitted (the
  backlog of 10 the listener had overflowed: a burst of publishers waited 1-7 s each, which
  made the benchmark's publishers time out in the RTMP handshake);
- every publisher got to publish (none refused or timed out, the stalled peers notwithstanding);
- every sink received exactly the number of FLV tags its publisher sent, and the pipeline ended
  with EOS once they all disconnected (on-disconnect=eos).

usage: server_many_publishers.py <build dir> <bench_pipeline> <rtmp_load>
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

N_PUBLISHERS = 80
N_STALLED = 12
PUBLISH_SECONDS = 3
# A connect slower than this went through a SYN retransmission (the first one waits 1 s).
MAX_CONNECT_MS = 500


def stalled_peer(port, i):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2:
        s.sendall(b"\x03" + bytes(8) + os.urandom(700))  # C0 + half a C1, then nothing
    return s


def main():
    build_dir, bench_pipeline, rtmp_load = sys.argv[1:4]
    work = h.workdir("gst-rtmp-many-")
    stalled = []
    srv = None
    try:
        clip = os.path.join(work, "clip.flv")
        h.make_clip(clip, seconds=2)
        env = h.our_env(build_dir, work)
        h.assert_our_factories(build_dir, env, names=("rtmpserversrc",))
        port = h.free_port()
        ready = os.path.join(work, "ready")
        env["BENCH_READY_FILE"] = ready
        # async=false: N independent live branches; see docs/rtmpserversrc.md.
        launch = " ".join(
            f"rtmpserversrc location=rtmp://127.0.0.1:{port}/live/s{i} "
            f"max-connections={N_PUBLISHERS + N_STALLED + 8} max-connections-per-address=0 "
            f"! fakesink name=sink{i} sync=false async=false" for i in range(N_PUBLISHERS))
        srv = subprocess.Popen([bench_pipeline, launch], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready) and srv.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(ready), "the pipeline did not start"

        stalled = [stalled_peer(port, i) for i in range(N_STALLED)]
        t0 = time.monotonic()
        load = subprocess.run([rtmp_load, "127.0.0.1", str(port), "live", "s",
                               str(N_PUBLISHERS), clip, str(PUBLISH_SECONDS)],
                              capture_output=True, text=True, timeout=120)
        took = time.monotonic() - t0
        print(load.stderr, end="")
        result = json.loads(load.stdout.strip().splitlines()[-1])
        print(f"load ({took:.1f} s): " + json.dumps({k: v for k, v in result.items()
                                                     if k != "sent"}))
        assert result["max_connect_ms"] < MAX_CONNECT_MS, \
            f"a connect took {result['max_connect_ms']} ms: SYN dropped (listen backlog full)"
        assert result["publishing"] == N_PUBLISHERS and result["failed"] == 0, result
        sent = result["sent"]
        assert len(sent) == N_PUBLISHERS and min(sent) > 0, sent

        # Every publisher has disconnected: every element ends with EOS, and so does the run.
        out, err = srv.communicate(timeout=30)
        counts = next(json.loads(line) for line in reversed(out.splitlines())
                      if line.startswith("{"))
        assert counts["error"] == "", counts["error"]
        assert counts["eos"], "the pipeline did not end with EOS"
        got = [counts["sinks"][f"sink{i}"]["flv_tags"] for i in range(N_PUBLISHERS)]
        short = [(i, got[i], sent[i]) for i in range(N_PUBLISHERS) if got[i] != sent[i]]
        assert not short, f"(sink, tags received, tags sent) that differ: {short}"
        print(f"OK: {N_PUBLISHERS} publishers next to {N_STALLED} stalled peers, "
              f"{sum(got)} tags, each sink exactly what its publisher sent; "
              f"slowest connect {result['max_connect_ms']} ms")
    finally:
        for s in stalled:
            s.close()
        if srv and srv.poll() is None:
            h.stop_process(srv)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
