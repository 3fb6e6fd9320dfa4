#!/usr/bin/env python3
"""System benchmarks (issue 6, items 1-3): our elements against rtmp2, librtmp, FFmpeg and
nginx-rtmp, in ONE run, on the SAME generated H.264/AAC FLV.

Figure: CPU seconds (user + sys, from wait4()'s rusage of each child process; for nginx, which
we do not wrap, the ns on CPU of its threads from /proc/PID/task/*/schedstat, or clock ticks
from /proc/PID/stat when schedstat is unavailable) per GB of FLV moved. Absolute numbers on a
shared machine are noise; the ratios within one run are the result. With --repeat R every
section runs R times (interleaved) and the report gives per row the median with its min-max,
and per ratio the median of the R per-run ratios. Every row also reports the packets that
arrived, and a row whose data is incomplete (in any run) is marked FAIL instead of being
reported as a win.

  Play:    ffmpeg -c copy publisher -> nginx-rtmp -> players subscribed before it starts
  Publish: each publisher -> nginx-rtmp (record all: the recording is counted), net of the
           flvdemux ! flvmux front end measured alone into fakesink
  Ingest:  ffmpeg -> our rtmpserversrc ! fakesink  vs  ffmpeg -> nginx-rtmp (worker CPU)

Usage: system.py --build BUILD_DIR [--quick] [--repeat R] [--json OUT]
                 [--only play,publish,ingest]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.path.join(ROOT, ".deps", "bench")  # git-ignored
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ~100 MB: 40 s of 640x360 noise at a constant 20 Mbit/s (x264 nal-hrd=cbr pads with filler,
# so the size does not depend on how compressible the picture is) + 128 kbit/s AAC.
FULL_SECONDS = 40
QUICK_SECONDS = 3
# A player of a live stream may miss the packets sent before its subscription took effect
# (the reference runs lost 1-13); more than this is reported as incomplete.
MISSING_TOLERANCE = 15


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- the input ---------------------------------------------------------------------------

def make_input(seconds):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"bench_{seconds}s_20M.flv")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return path
    log(f"generating {path} ...")
    tmp = path + ".tmp"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30,noise=alls=30:allf=t",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
         "-b:v", "20M", "-maxrate", "20M", "-minrate", "20M", "-bufsize", "4M",
         "-x264-params", "nal-hrd=cbr", "-g", "60", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-f", "flv", tmp], check=True)
    os.rename(tmp, path)
    return path


def count_flv_tags(path):
    """(audio, video, script) tag counts of an FLV file (FLV spec 10.1 annex E)."""
    counts = {8: 0, 9: 0, 18: 0}
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        return counts
    pos = int.from_bytes(data[5:9], "big") + 4
    while pos + 11 <= len(data):
        tag_type = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 11 + size > len(data):
            break
        counts[tag_type] = counts.get(tag_type, 0) + 1
        pos += 11 + size + 4
    return counts


# ---- processes -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def proc_cpu(pid):
    """user+sys seconds of a running process from /proc (clock-tick resolution: 10 ms)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return None


# How the CPU of a process that we do not wrap (nginx-rtmp, the Scale server) is read:
#   "schedstat": the first field of /proc/PID/task/TID/schedstat, the scheduler's
#                sum_exec_runtime of each thread in ns (CONFIG_SCHED_INFO), summed over threads;
#   "ticks":     utime + stime of /proc/PID/stat, in clock ticks (1/CLK_TCK s = 10 ms).
# BENCH_CPU_SOURCE=ticks forces the old method (to compare, or to check the fallback).
CPU_SOURCE_LABEL = {"schedstat": "schedstat (ns)", "ticks": "/proc stat ticks (10 ms)"}


def _task_figures(pid, tid):
    """(ns on CPU or None, voluntary + nonvoluntary context switches or None) of one thread."""
    ns = switches = None
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            ns = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            switches = sum(int(line.split()[1]) for line in f
                           if line.startswith(("voluntary_ctxt_switches",
                                               "nonvoluntary_ctxt_switches")))
    except (OSError, ValueError, IndexError):
        pass
    return ns, switches


class ProcSample:
    """CPU and context switches of a running process and each of its threads at one instant.
    Two samples around a measured window give the window's figures (`ProcSample.delta`)."""

    def __init__(self, pid):
        self.pid = pid
        self.ticks_s = proc_cpu(pid)
        self.tasks = {}
        self.names = {}
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            tids = []
        for tid in tids:
            ns, switches = _task_figures(pid, tid)
            if ns is not None or switches is not None:
                self.tasks[tid] = (ns, switches)
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        self.names[tid] = f.read().strip()
                except OSError:
                    pass

    def schedstat_ok(self):
        # Without CONFIG_SCHED_INFO the file is missing; with sched_info off at run time the
        # kernel prints "0 0 0". A process that has run has a non-zero sum.
        return os.environ.get("BENCH_CPU_SOURCE", "schedstat") != "ticks" and \
            bool(self.tasks) and all(ns is not None for ns, _ in self.tasks.values()) and \
            sum(ns for ns, _ in self.tasks.values()) > 0

    @staticmethod
    def delta(before, after):
        """Figures of the window between two samples. Per thread: a thread that started in the
        window counts from zero; one that ended in it is lost to the schedstat and context
        switch sums (counted in `threads_ended`; utime+stime keeps the time of ended
        threads)."""
        ticks = (after.ticks_s - before.ticks_s) \
            if after.ticks_s is not None and before.ticks_s is not None else None
        ns = switches = 0
        by_thread = {}  # context switches by thread name, digits removed (rtmpserversrc#)
        for tid, (ns_after, sw_after) in after.tasks.items():
            ns_before, sw_before = before.tasks.get(tid, (0, 0))
            ns += (ns_after or 0) - (ns_before or 0)
            switches += (sw_after or 0) - (sw_before or 0)
            name = re.sub(r"\d+", "#", after.names.get(tid, "?")).rstrip(":")
            by_thread[name] = by_thread.get(name, 0) + (sw_after or 0) - (sw_before or 0)
        sched_ok = before.schedstat_ok() and after.schedstat_ok()
        sched_s = ns / 1e9 if sched_ok else None
        ended = sorted(set(before.tasks) - set(after.tasks))
        return {"cpu_s": sched_s if sched_ok else ticks,
                "cpu_source": "schedstat" if sched_ok else "ticks",
                "cpu_schedstat_s": sched_s, "cpu_ticks_s": ticks,
                "ctxt_switches": switches, "ctxt_switches_by_thread": by_thread,
                "threads": len(after.tasks),
                "threads_ended": len(ended),
                "threads_ended_names": [before.names.get(t, "?") for t in ended]}


class Child:
    """A measured child process: CPU time from wait4()'s rusage (user + sys, all threads)."""

    def __init__(self, name, cmd, env, stdout=subprocess.PIPE):
        self.name = name
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE,
                                     text=True)
        self.cpu = None
        self.out = ""
        self.err = ""
        self.rc = None

    def running(self):
        return self.proc.poll() is None

    def real_pid(self):
        """The measured process (the child of the measured() wrapper), or the wrapper."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = f.read().split()
            return int(kids[0]) if kids else self.proc.pid
        except (OSError, ValueError):
            return self.proc.pid

    def finish(self, sig=None, timeout=60, repeat=1):
        for i in range(repeat if sig is not None else 0):
            if self.proc.poll() is None:
                # ffmpeg needs a second SIGINT to abort a blocking network read (the first one
                # only asks the transcoding loop to stop after the next packet).
                if i:
                    time.sleep(0.3)
                self.proc.send_signal(sig)
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Stuck (e.g. a blocking read that a state change cannot interrupt): kill the
            # measured process, not the wrapper, so that its rusage is still reported.
            log(f"{self.name}: did not stop in {timeout} s, killed")
            real = self.real_pid()
            if real != self.proc.pid:
                os.kill(real, signal.SIGKILL)
            try:
                self.out, self.err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.out, self.err = self.proc.communicate()
        # The CPU time comes from the measured() wrapper's wait4 (rusage_of), not from here.
        self.rc = self.proc.returncode
        return self

    def wait_idle(self, idle=1.5, timeout=120):
        """Waits until the process stops using CPU for `idle` seconds (a live player that has
        received everything) or exits."""
        deadline = time.monotonic() + timeout
        pid = self.real_pid()
        last, since = proc_cpu(pid), time.monotonic()
        while time.monotonic() < deadline and self.running():
            time.sleep(0.25)
            now = proc_cpu(pid)
            if now is None:
                return
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= idle:
                return


def measured(cmd):
    """Wraps `cmd` so that its own rusage is printed to fd 3 as JSON when it exits: Popen
    reaps children without exposing rusage, so a tiny Python wrapper does wait4() itself.
    The wrapper's own CPU is not counted (it sleeps in wait4)."""
    return [sys.executable, os.path.abspath(__file__), "--exec-measured", "--"] + cmd


def exec_measured(cmd):
    # Forward SIGINT/SIGTERM to the child so that the harness can stop live players cleanly.
    pid = os.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda signum, frame: os.kill(pid, signum))
    while True:
        try:
            _, status, ru = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    rc = os.waitstatus_to_exitcode(status)
    sys.stderr.write("\n@@rusage " + json.dumps(
        {"cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
         "maxrss_kb": ru.ru_maxrss, "rc": rc}) + "\n")
    sys.exit(rc if rc >= 0 else 128 - rc)


def rusage_of(child):
    m = re.search(r"@@rusage (\{.*\})", child.err)
    return json.loads(m.group(1)) if m else None


def pipeline_counts(child):
    for line in reversed(child.out.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def ffmpeg_packets(stderr, direction):
    """Sum of 'N packets read' (input) or 'N packets muxed' (output) from ffmpeg -v verbose."""
    word = "read" if direction == "in" else "muxed"
    kind = "Input" if direction == "in" else "Output"
    return sum(int(n) for n in re.findall(
        rf"{kind} stream #\d+:\d+ \(\w+\): (\d+) packets {word}", stderr))


# ---- nginx-rtmp ----------------------------------------------------------------------------

class Nginx:
    def __init__(self, workdir, name, record=False):
        self.port = free_port()
        self.http_port = free_port()
        self.prefix = os.path.join(workdir, "nginx-" + name)
        self.record_dir = os.path.join(self.prefix, "record")
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        os.makedirs(self.record_dir, exist_ok=True)
        record_conf = (f"record all; record_path {self.record_dir}; record_unique off;"
                       if record else "")
        # out_queue: messages queued per player before nginx drops; a publisher pushing a
        # 100 MB file as fast as it can must not make it drop anything (issue 6, Play).
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {self.prefix}/body;
  proxy_temp_path {self.prefix}/proxy;
  fastcgi_temp_path {self.prefix}/fastcgi;
  uwsgi_temp_path {self.prefix}/uwsgi;
  scgi_temp_path {self.prefix}/scgi;
  server {{
    listen 127.0.0.1:{self.http_port};
    location /stat {{ rtmp_stat all; }}
  }}
}}
rtmp {{
  server {{
    listen 127.0.0.1:{self.port};
    chunk_size 4096;
    out_queue 65536;
    out_cork 8;
    max_message 16M;
    application live {{
      live on;
      wait_key off;
      wait_video off;
      meta copy;
      {record_conf}
    }}
  }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_listening(self.port):
            self.stop()
            raise RuntimeError("nginx did not start")

    def url(self, stream):
        return f"rtmp://127.0.0.1:{self.port}/live/{stream}"

    def sample(self):
        """CPU and context switches of the worker now (`master_process off`: the one process)."""
        return ProcSample(self.proc.pid)

    def stat(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stat",
                                        timeout=2) as r:
                return r.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def players(self, stream):
        for block in re.findall(r"<stream>(.*?)</stream>", self.stat(), re.S):
            if f"<name>{stream}</name>" in block:
                clients = re.findall(r"<client>(.*?)</client>", block, re.S)
                return sum(1 for c in clients if "<publishing/>" not in c)
        return 0

    def bytes_in(self):
        m = re.search(r"<bytes_in>(\d+)</bytes_in>", self.stat())
        return int(m.group(1)) if m else 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- environments ----------------------------------------------------------------------------

class Envs:
    def __init__(self, build, workdir):
        self.plugin_dir = os.path.join(build, "gst", "rtmp", "elements")
        self.runner = os.path.join(build, "tests", "bench", "bench_pipeline")
        # For profiles: BENCH_RUNNER names a wrapper run instead of bench_pipeline (same
        # arguments; it can tell our rows by GST_PLUGIN_PATH), e.g. one that execs
        # `perf record -g -- bench_pipeline "$@"` for our rows only (docs/performance.md).
        self.runner = os.environ.get("BENCH_RUNNER") or self.runner
        self.ours = dict(os.environ, GST_PLUGIN_PATH=self.plugin_dir,
                         GST_REGISTRY=os.path.join(workdir, "registry-ours.bin"))
        # The system librtmp plugin has the same file and element names as ours: its process
        # must not see our plugin path, and has a registry of its own.
        self.system = {k: v for k, v in os.environ.items() if k != "GST_PLUGIN_PATH"}
        self.system["GST_REGISTRY"] = os.path.join(workdir, "registry-system.bin")
        for env in (self.ours, self.system):  # build the registries outside the measurements
            subprocess.run(["gst-inspect-1.0", "fakesink"], env=env, capture_output=True)
        self.have_ours = {e: self.factory_is_ours(e) for e in
                          ("rtmpsrc", "rtmpsink", "rtmpserversrc")}
        self.have_system = {e: subprocess.run(["gst-inspect-1.0", e], env=self.system,
                                              capture_output=True).returncode == 0
                            for e in ("rtmp2src", "rtmp2sink", "rtmpsrc", "rtmpsink")}

    def factory_is_ours(self, name):
        out = subprocess.run(["gst-inspect-1.0", name], env=self.ours, capture_output=True,
                             text=True).stdout
        m = re.search(r"Filename\s+(\S+)", out)
        return bool(m) and os.path.realpath(m.group(1)).startswith(
            os.path.realpath(self.plugin_dir))

    def pipeline(self, name, launch, env):
        return Child(name, measured([self.runner, launch]), env)


FRONT_END = ("filesrc location={f} ! flvdemux name=d flvmux name=m streamable=true ! {sink} "
             "d.video ! queue ! m.video d.audio ! queue ! m.audio")


def gst_cpu(child):
    """CPU of a GStreamer row: what the process spent after the first buffer reached the sink
    named "sink" (bench_pipeline's stream_cpu), so that process start, plugin loading and
    connection setup (which do not grow with the bytes moved) are not charged per GB. Falls back
    to the whole process when no buffer arrived."""
    counts = pipeline_counts(child)
    if counts and counts.get("stream_cpu", -1) >= 0:
        return counts["stream_cpu"]
    ru = rusage_of(child)
    return ru["cpu"] if ru else None


def ffmpeg_baseline(envs, workdir, flv):
    """ffmpeg's fixed cost (start, probing the input, opening the output) measured on the first
    megabyte of the same file; subtracted from the ffmpeg rows, which have no first-buffer
    mark, so that they are compared on the same footing as the GStreamer rows."""
    small = os.path.join(workdir, "head.flv")
    with open(flv, "rb") as src, open(small, "wb") as dst:
        dst.write(src.read(1_000_000))
    c = Child("ffmpeg baseline", measured(["ffmpeg", "-nostdin", "-v", "verbose", "-i", small,
                                           "-c", "copy", "-f", "null", "-"]),
              envs.system).finish()
    ru = rusage_of(c)
    return ru["cpu"] if ru else 0.0


# ---- scenarios ---------------------------------------------------------------------------------

def row(section, name, cpu, gb, packets, expected, ok_extra=True, note="", **extra):
    complete = packets is not None and expected is not None and \
        packets >= expected - MISSING_TOLERANCE and ok_extra
    return {"section": section, "name": name, "cpu_s": cpu,
            "cpu_s_per_gb": (cpu / gb) if cpu is not None and gb else None,
            "packets": packets, "expected": expected, "complete": complete, "note": note,
            **extra}


def play(envs, workdir, flv, tags, gb):
    expected = sum(tags.values())
    nginx = Nginx(workdir, "play")
    stream = "play"
    url = nginx.url(stream)
    players = []
    try:
        if envs.have_ours["rtmpsrc"]:
            players.append(("ours rtmpsrc", envs.pipeline(
                "ours", f"rtmpsrc location={url} ! fakesink name=sink sync=false", envs.ours)))
        if envs.have_system["rtmp2src"]:
            players.append(("rtmp2src", envs.pipeline(
                "rtmp2src", f"rtmp2src location={url} ! fakesink name=sink sync=false",
                envs.system)))
        if envs.have_system["rtmpsrc"]:
            players.append(("librtmp rtmpsrc", envs.pipeline(
                "librtmp", f"rtmpsrc location='{url} live=1' ! fakesink name=sink sync=false",
                envs.system)))
        # -analyzeduration 1 s: the quick input is only 3 s long, and with the default 5 s
        # ffmpeg would still be probing when the stream ends.
        players.append(("ffmpeg", Child("ffmpeg", measured(
            ["ffmpeg", "-nostdin", "-v", "verbose", "-analyzeduration", "1000000", "-i", url, "-c", "copy", "-f", "null", "-"]),
            envs.system)))
        deadline = time.monotonic() + 20
        while nginx.players(stream) < len(players) and time.monotonic() < deadline:
            time.sleep(0.1)
        subscribed = nginx.players(stream)
        log(f"play: {subscribed}/{len(players)} players subscribed")
        for name, p in players:
            if not p.running():
                log(f"play: {name} exited early: {p.finish().err[-1500:]}")
        pub = Child("publisher", measured(["ffmpeg", "-nostdin", "-v", "verbose", "-i", flv,
                                           "-c", "copy", "-f", "flv", url]), envs.system)
        pub.finish(timeout=600)
        log(f"play: publisher done (rc={pub.rc})")
        for name, p in players:
            p.wait_idle(timeout=60)
        for name, p in players:
            p.finish(signal.SIGINT, timeout=10, repeat=2 if name == "ffmpeg" else 1)
    finally:
        nginx.stop()
    sent = ffmpeg_packets(pub.err, "out")
    ff_base = ffmpeg_baseline(envs, workdir, flv)
    rows = []
    for name, p in players:
        if name == "ffmpeg":
            ru = rusage_of(p)
            cpu = ru["cpu"] - ff_base if ru else None
            packets = ffmpeg_packets(p.err, "in")
            if not packets:
                log("ffmpeg player: " + p.err[-3000:])
        else:
            cpu = gst_cpu(p)
            counts = pipeline_counts(p)
            packets = counts["sinks"].get("sink", {}).get("flv_tags") if counts else None
        rows.append(row("play", name, cpu, gb, packets, expected,
                        note=f"publisher sent {sent}"))
    return rows


def publish(envs, workdir, flv, tags, gb):
    expected = sum(tags.values())
    rows = []
    ff_base = ffmpeg_baseline(envs, workdir, flv)
    # The shared front end alone, in both environments (flvdemux/flvmux are the same plugins).
    fe = envs.pipeline("front end", FRONT_END.format(f=flv, sink="fakesink name=sink sync=false"),
                       envs.system).finish(timeout=600)
    fe_cpu = gst_cpu(fe)
    fe_counts = pipeline_counts(fe)
    fe_packets = fe_counts["sinks"].get("sink", {}).get("flv_tags") if fe_counts else None
    rows.append(row("publish", "front end (flvdemux ! flvmux ! fakesink)", fe_cpu, gb,
                    fe_packets, expected, note="subtracted from the rows marked net"))

    variants = []
    if envs.have_ours["rtmpsink"]:
        variants.append(("ours rtmpsink (filesrc)", "pipe", envs.ours, False,
                         "filesrc location={f} ! rtmpsink name=sink location={u} sync=false"))
        variants.append(("ours rtmpsink (flvdemux ! flvmux)", "pipe", envs.ours, True,
                         FRONT_END.format(f="{f}",
                                          sink="rtmpsink name=sink location={u} sync=false")))
    if envs.have_system["rtmp2sink"]:
        variants.append(("rtmp2sink", "pipe", envs.system, True, FRONT_END.format(
            f="{f}", sink="rtmp2sink name=sink location={u} sync=false async-connect=false")))
    if envs.have_system["rtmpsink"]:
        variants.append(("librtmp rtmpsink", "pipe", envs.system, True, FRONT_END.format(
            f="{f}", sink="rtmpsink name=sink location={u} sync=false")))
    variants.append(("ffmpeg", "ffmpeg", envs.system, False, None))

    for i, (name, kind, env, net, launch) in enumerate(variants):
        nginx = Nginx(workdir, f"pub{i}", record=True)
        stream = f"pub{i}"
        url = nginx.url(stream)
        try:
            if kind == "pipe":
                c = envs.pipeline(name, launch.format(f=flv, u=url), env)
            else:
                c = Child(name, measured(["ffmpeg", "-nostdin", "-v", "verbose", "-i", flv,
                                          "-c", "copy", "-f", "flv", url]), env)
            c.finish(timeout=600)
            time.sleep(1.0)  # let nginx finish the recording
        finally:
            nginx.stop()
        if kind == "pipe":
            cpu = gst_cpu(c)
        else:
            ru = rusage_of(c)
            cpu = ru["cpu"] - ff_base if ru else None
        if cpu is not None and net:
            cpu -= fe_cpu
        rec = os.path.join(nginx.record_dir, stream + ".flv")
        got = count_flv_tags(rec) if os.path.exists(rec) else None
        packets = sum(got.values()) if got else 0
        counts = pipeline_counts(c) if kind == "pipe" else None
        err = counts["error"] if counts else ""
        rows.append(row("publish", name + (" net" if net else ""), cpu, gb, packets, expected,
                        ok_extra=not err, note=err or ("" if c.rc == 0 else f"rc={c.rc}")))
    return rows


def ingest(envs, workdir, flv, tags, gb):
    expected = sum(tags.values())
    rows = []
    publisher = ["ffmpeg", "-nostdin", "-v", "verbose", "-i", flv, "-c", "copy", "-f", "flv"]
    if envs.have_ours["rtmpserversrc"]:
        port = free_port()
        srv = envs.pipeline("ours rtmpserversrc",
                            f"rtmpserversrc location=rtmp://127.0.0.1:{port}/live/ingest "
                            "! fakesink name=sink sync=false", envs.ours)
        if wait_listening(port):
            pub = Child("publisher", measured(publisher + [f"rtmp://127.0.0.1:{port}/live/ingest"]),
                        envs.system).finish(timeout=600)
            srv.wait_idle()
        srv.finish(signal.SIGINT, timeout=30)
        counts = pipeline_counts(srv)
        packets = counts["sinks"].get("sink", {}).get("flv_tags") if counts else None
        rows.append(row("ingest", "ours rtmpserversrc ! fakesink",
                        gst_cpu(srv), gb, packets, expected,
                        ok_extra=bool(counts) and not counts["error"],
                        note=counts["error"] if counts else "no output"))
    nginx = Nginx(workdir, "ingest")
    try:
        before = nginx.sample()
        pub = Child("publisher", measured(publisher + [nginx.url("ingest")]),
                    envs.system).finish(timeout=600)
        time.sleep(0.5)
        d = ProcSample.delta(before, nginx.sample())
        received = nginx.bytes_in()
    finally:
        nginx.stop()
    sent = ffmpeg_packets(pub.err, "out")
    ticks = f"{d['cpu_ticks_s']:.2f}" if d["cpu_ticks_s"] is not None else "-"
    # nginx has no packet counter: its byte counter must cover the FLV payload.
    rows.append(row("ingest", "nginx-rtmp worker", d["cpu_s"], gb, sent, expected,
                    ok_extra=received >= 0.98 * os.path.getsize(flv),
                    note=f"bytes_in={received}, publisher sent {sent} packets, CPU from "
                    f"{CPU_SOURCE_LABEL[d['cpu_source']]}; ticks said {ticks} s",
                    cpu_source=d["cpu_source"], cpu_ticks_s=d["cpu_ticks_s"],
                    cpu_schedstat_s=d["cpu_schedstat_s"]))
    return rows


# ---- report ------------------------------------------------------------------------------------

# (section, ours, theirs) pairs printed as ratios.
RATIOS = [
    ("play", "ours rtmpsrc", "rtmp2src"),
    ("play", "ours rtmpsrc", "librtmp rtmpsrc"),
    ("play", "ours rtmpsrc", "ffmpeg"),
    ("publish", "ours rtmpsink (filesrc)", "rtmp2sink net"),
    ("publish", "ours rtmpsink (flvdemux ! flvmux) net", "rtmp2sink net"),
    ("publish", "ours rtmpsink (filesrc)", "librtmp rtmpsink net"),
    ("publish", "ours rtmpsink (filesrc)", "ffmpeg"),
    ("ingest", "ours rtmpserversrc ! fakesink", "nginx-rtmp worker"),
]


def run_ratios(rows):
    """The ratios of ONE run (ours / theirs, CPU per GB): a ratio is only ever formed between
    rows measured in the same run. Ours must be complete to count; when theirs lost data the
    ratio is still formed and flagged (their figure may be low because they moved less)."""
    by = {(r["section"], r["name"]): r for r in rows}
    ratios = []
    for section, ours, theirs in RATIOS:
        a, b = by.get((section, ours)), by.get((section, theirs))
        if a and b and a["complete"] and a["cpu_s_per_gb"] and b["cpu_s_per_gb"]:
            ratios.append({"section": section, "ours": ours, "theirs": theirs,
                           "ratio": a["cpu_s_per_gb"] / b["cpu_s_per_gb"],
                           "theirs_complete": b["complete"]})
    return ratios


def spread(values):
    """(median, min, max) of the values that are not None, or Nones."""
    v = [x for x in values if x is not None]
    return (statistics.median(v), min(v), max(v)) if v else (None, None, None)


def aggregate(runs):
    """Rows and ratios over the repeats: per row the median CPU (and CPU/GB) with its min-max,
    the worst packet count, complete only when complete in every run; per ratio the median of
    the per-run ratios with its min-max."""
    keys = []
    for run in runs:
        for r in run["rows"]:
            if (r["section"], r["name"]) not in keys:
                keys.append((r["section"], r["name"]))
    rows = []
    for key in keys:
        per = [r for run in runs for r in run["rows"] if (r["section"], r["name"]) == key]
        cpu = spread(r["cpu_s"] for r in per)
        per_gb = spread(r["cpu_s_per_gb"] for r in per)
        bad = [r for r in per if not r["complete"]]
        packets = [r["packets"] for r in per]
        worst = bad[0] if bad else per[-1]
        agg = {"section": key[0], "name": key[1], "runs": len(per), "cpu_s": cpu[0],
               "cpu_s_per_gb": per_gb[0], "cpu_s_per_gb_min": per_gb[1],
               "cpu_s_per_gb_max": per_gb[2],
               "cpu_s_per_gb_runs": [r["cpu_s_per_gb"] for r in per],
               "packets": None if None in packets else min(packets),
               "packets_runs": packets, "expected": per[0]["expected"],
               "complete": not bad, "incomplete_runs": len(bad), "note": worst["note"]}
        sources = sorted({r["cpu_source"] for r in per if "cpu_source" in r})
        if sources:
            agg["cpu_source"] = ",".join(sources)
        rows.append(agg)
    ratios = []
    measured = {(r["section"], r["name"]) for r in rows}
    for section, ours, theirs in RATIOS:
        if (section, ours) not in measured or (section, theirs) not in measured:
            continue
        per = [q for run in runs for q in run["ratios"]
               if (q["section"], q["ours"], q["theirs"]) == (section, ours, theirs)]
        med, lo, hi = spread(q["ratio"] for q in per)
        ratios.append({"section": section, "ours": ours, "theirs": theirs, "ratio": med,
                       "ratio_min": lo, "ratio_max": hi,
                       "ratio_runs": [q["ratio"] for q in per], "runs": len(per),
                       "theirs_complete": all(q["theirs_complete"] for q in per),
                       "theirs_incomplete_runs": sum(not q["theirs_complete"] for q in per)})
    return rows, ratios


def report(rows, ratios, gb, flv, repeat):
    def num(v, width=7):
        return f"{v:{width}.2f}" if v is not None else " " * (width - 1) + "-"

    print(f"System benchmarks on {os.path.basename(flv)} ({gb * 1000:.0f} MB). CPU = user+sys: "
          "GStreamer rows after the first buffer,")
    print("  ffmpeg rows minus its fixed cost on 1 MB, nginx during the publish; per GB of FLV")
    if repeat > 1:
        print(f"  {repeat} runs: CPU s and s/GB are medians, [min-max] over the runs; packets: "
              "the worst run")
    rng_head = f" {'[min-max]':>13}" if repeat > 1 else ""
    print(f"  {'section':8} {'implementation':42} {'CPU s':>7} {'s/GB':>7}{rng_head} "
          f"{'packets':>13}  status")
    for r in rows:
        rng = f"[{r['cpu_s_per_gb_min']:.2f}-{r['cpu_s_per_gb_max']:.2f}]" \
            if r["cpu_s_per_gb"] is not None else "-"
        rng = f" {rng:>13}" if repeat > 1 else ""
        pk = f"{r['packets']}/{r['expected']}" if r["packets"] is not None else "-"
        status = "ok" if r["complete"] else "FAIL (incomplete" + (
            f" in {r['incomplete_runs']}/{r['runs']} runs)" if r["runs"] > 1 else ")")
        print(f"  {r['section']:8} {r['name']:42} {num(r['cpu_s'])} {num(r['cpu_s_per_gb'])}{rng} "
              f"{pk:>13}  {status}" + (f"  [{r['note']}]" if r["note"] else ""))
    print()
    print("  ratios (ours / theirs, CPU per GB; formed within each run, ours must be complete"
          + ("; median [min-max] of the runs' ratios)" if repeat > 1 else ")"))
    for q in ratios:
        label = f"  {q['section']:8} {q['ours']} / {q['theirs']}: "
        if q["ratio"] is None:
            print(label + "n/a (ours incomplete, or a CPU figure of 0)")
            continue
        text = f"{q['ratio']:.2f}"
        if repeat > 1:
            text += (f" [{q['ratio_min']:.2f}-{q['ratio_max']:.2f}] ({q['runs']}/{repeat} runs: "
                     + " ".join(f"{x:.2f}" for x in q["ratio_runs"]) + ")")
        bad = q["theirs_incomplete_runs"]
        print(label + text + ("" if not bad else "  (theirs incomplete" + (
            f" in {bad}/{q['runs']} runs)" if q["runs"] > 1 else ")")))
    if any(q["theirs_incomplete_runs"] for q in ratios):
        print(f"  (theirs incomplete): the reference implementation lost more than "
              f"{MISSING_TOLERANCE} packets in that\n  run; its ratio is shown for information. "
              "Only our rows must be complete (a FAIL above), so this is\n  not a failure of ours.")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--exec-measured":
        exec_measured(sys.argv[3:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--only", default="play,publish,ingest")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the sections R times (interleaved: play, publish, ingest, play, "
                    "...) and report medians")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    flv = make_input(QUICK_SECONDS if args.quick else FULL_SECONDS)
    tags = count_flv_tags(flv)
    gb = os.path.getsize(flv) / 1e9
    runs = []
    with tempfile.TemporaryDirectory(prefix="gst-rtmp-bench-") as workdir:
        envs = Envs(os.path.abspath(args.build), workdir)
        log(f"ours: {envs.have_ours}; system: {envs.have_system}")
        # Repeats are interleaved (each run does every section once) so that a burst of load on
        # the shared machine hits one run of every section rather than every run of one.
        for i in range(args.repeat):
            run = {"run": i + 1, "started": time.time(), "loadavg": os.getloadavg(), "rows": []}
            for section in args.only.split(","):
                t0 = time.monotonic()
                log(f"run {i + 1}/{args.repeat}: {section} ...")
                run["rows"] += {"play": play, "publish": publish, "ingest": ingest}[section](
                    envs, workdir, flv, tags, gb)
                log(f"run {i + 1}/{args.repeat}: {section} took {time.monotonic() - t0:.0f} s")
            run["ratios"] = run_ratios(run["rows"])
            runs.append(run)
    rows, ratios = aggregate(runs)
    report(rows, ratios, gb, flv, args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"input": flv, "bytes": int(gb * 1e9), "tags": tags,
                       "repeat": args.repeat, "rows": rows, "ratios": ratios, "runs": runs},
                      f, indent=1)
    # A benchmark of ours that lost data in any run is a failure (issue 6); a reference
    # implementation that lost data is reported as such in its row but does not fail the run.
    ours_ok = all(r["complete"] for r in rows if r["name"].startswith(("ours", "front end")))
    return 0 if ours_ok else 1


if __name__ == "__main__":
    sys.exit(main())
