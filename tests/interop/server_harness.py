"""Helpers of the rtmpserversrc interop tests: run server_probe (our pipeline with
rtmpserversrc, GST_PLUGIN_PATH on our build, private registry), learn the bound port, run
publishers, and compare what arrived after flvdemux with what ffprobe sees in the source clip
(packet counts, timestamps, MD5 of every packet's payload)."""
import json
import queue
import subprocess
import threading
import time


def demux_branch(src_name="srv", prefix="out"):
    """flvdemux with a queue and a probed fakesink on each pad (queues: in a live pipeline a
    sink linked straight to the demuxer waits for a preroll that never comes)."""
    d = f"d_{src_name}"
    return ["flvdemux", f"name={d}",
            f"{d}.video", "!", "queue", "!", "fakesink", f"name={prefix}_video", "sync=false",
            f"{d}.audio", "!", "queue", "!", "fakesink", f"name={prefix}_audio", "sync=false"]


def server_pipeline(name="srv", props=(), prefix="out"):
    return ["rtmpserversrc", f"name={name}", *props, "!", *demux_branch(name, prefix)]


class Probe:
    """server_probe in the background; lines are collected by a reader thread."""

    def __init__(self, probe_bin, env, pipeline, seconds=120, extra=(), stdin=None):
        self.proc = subprocess.Popen([probe_bin, "--seconds", str(seconds), *extra, *pipeline],
                                     env=env, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.ports = {}

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def _next(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False, None
        try:
            return True, self.q.get(timeout=left)
        except queue.Empty:
            return False, None

    def wait_ports(self, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.ports) < count:
            ok, line = self._next(deadline)
            assert ok, f"no port from server_probe: {self.lines}"
            assert line is not None, f"server_probe ended: {self.lines} {self.stderr_tail()}"
            if line.startswith("port "):
                _, name, port = line.split()
                assert int(port) > 0, line
                self.ports[name] = int(port)
        return self.ports

    def wait_line(self, prefix, timeout=30):
        """The first line (since the last wait) starting with `prefix`, or None."""
        deadline = time.monotonic() + timeout
        while True:
            ok, line = self._next(deadline)
            if not ok or line is None:
                return None
            if line.startswith(prefix):
                return line

    def finish(self, timeout=120):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server_probe did not finish: {self.lines[-20:]}")
        self.t.join(timeout=5)
        return self.lines

    def stderr_tail(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()[-3000:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def probe_buffers(lines, sink):
    """[(pts_ms, dts_ms, size, md5)] of the buffers that reached fakesink `sink`."""
    out = []
    for line in lines:
        f = line.split()
        if len(f) == 6 and f[0] == "buf" and f[1] == sink:
            out.append((None if f[2] == "none" else int(f[2]),
                        None if f[3] == "none" else int(f[3]), int(f[4]), f[5]))
    return out


def ffprobe_hashed(path):
    """{'video': [(pts, dts, size, md5)], 'audio': [...]} of a clip, as ffprobe demuxes it."""
    res = subprocess.run(["ffprobe", "-v", "error", "-show_data_hash", "md5", "-show_entries",
                          "packet=codec_type,pts_time,dts_time,size,data_hash", "-of", "json",
                          path], capture_output=True, text=True, timeout=120, check=True)
    out = {"video": [], "audio": []}
    for p in json.loads(res.stdout).get("packets", []):
        kind = p.get("codec_type")
        if kind not in out:
            continue

        def ms(k):
            v = p.get(k)
            return None if v in (None, "N/A") else round(float(v) * 1000)
        out[kind].append((ms("pts_time"), ms("dts_time"), int(p["size"]),
                          p["data_hash"].split(":", 1)[1]))
    return out


def compare(expected, lines, prefix="out", what=""):
    """Same number of audio and video packets, same payload MD5s, same timestamps up to one
    constant offset (rtmpserversrc places the first message at the pipeline's running time)."""
    got = {k: probe_buffers(lines, f"{prefix}_{k}") for k in ("video", "audio")}
    for k in ("video", "audio"):
        assert len(got[k]) == len(expected[k]), \
            f"{what}: {len(got[k])} {k} packets arrived, {len(expected[k])} sent"
    assert expected["video"], f"{what}: the clip has no video"
    offset = got["video"][0][1] - expected["video"][0][1]
    for k in ("video", "audio"):
        for i, (e, g) in enumerate(zip(expected[k], got[k])):
            assert e[3] == g[3], f"{what}: {k} packet {i}: payload MD5 {g[3]}, sent {e[3]}"
            assert e[2] == g[2], f"{what}: {k} packet {i}: size {g[2]}, sent {e[2]}"
            assert g[1] - e[1] == offset and g[0] - e[0] == offset, \
                f"{what}: {k} packet {i}: pts/dts {g[:2]}, sent {e[:2]} (offset {offset})"
    return len(got["video"]), len(got["audio"])
