"""Shared helpers of the client interop tests (rtmpsink / rtmpsrc against real peers).

Each test starts its own nginx-rtmp on a free loopback port with its own prefix, pid file and
configuration, runs our elements with GST_PLUGIN_PATH pointing at the build and a private
GST_REGISTRY, and runs the system rtmp2 elements in a separate process without our plugin path.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL after `timeout` s, of a Popen that may have ended (or be None)."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_listening(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False



class LoopbackListener(threading.Thread):
    """A hand-made peer's listening side: accepts on a free loopback port (`self.port`) in a
    thread of its own and runs `self.serve(conn, index)` for each connection in another thread
    (`index` counts the accepted connections from 0). Every socket in `self.conns` (accepted ones,
    and whatever `serve` adds) is closed by `close()`. Subclasses set their fields, then call
    `self.start()`."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            index, self.accepted = self.accepted, self.accepted + 1
            threading.Thread(target=self.serve, args=(conn, index), daemon=True).start()

    def serve(self, conn, index):
        raise NotImplementedError

    def close(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

class Nginx:
    """nginx-rtmp with one `live` application (optionally recording) and extra directives."""

    def __init__(self, workdir, record=False, app_extra="", server_extra="", http_extra=""):
        self.workdir = workdir
        self.port = free_port()
        # rtmp_stat over HTTP: lets a test wait until a player is really subscribed before it
        # starts the publisher, instead of sleeping and hoping.
        self.http_port = free_port()
        self.prefix = os.path.join(workdir, "nginx")
        self.record_dir = os.path.join(workdir, "record")
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        os.makedirs(self.record_dir, exist_ok=True)
        record_conf = ""
        if record:
            record_conf = f"record all; record_path {self.record_dir}; record_unique off;"
        # out_queue / out_cork raised: a fast publisher (filesrc ! rtmpsink pushes a 20 s clip
        # in well under a second) must not make nginx drop frames for players.
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log info;
events {{ worker_connections 256; }}
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
    {http_extra}
  }}
}}
rtmp {{
  server {{
    listen 127.0.0.1:{self.port};
    chunk_size 4096;
    out_queue 4096;
    out_cork 8;
    max_message 16M;
    {server_extra}
    application live {{
      live on;
      wait_key off;
      wait_video off;
      meta copy;  # pass the publisher's onMetaData through (default: nginx rewrites it)
      {record_conf}
      {app_extra}
    }}
  }}
}}
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_listening(self.port):
            self.stop()
            raise RuntimeError("nginx did not start: " + self.error_log())
        return self

    def error_log(self):
        try:
            with open(os.path.join(self.prefix, "logs", "error.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def stat(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stat",
                                        timeout=2) as r:
                return r.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def players(self, stream="test"):
        """Clients of `stream` that are not publishing (i.e. players)."""
        xml = self.stat()
        for block in re.findall(r"<stream>(.*?)</stream>", xml, re.S):
            if f"<name>{stream}</name>" in block:
                clients = re.findall(r"<client>(.*?)</client>", block, re.S)
                return sum(1 for c in clients if "<publishing/>" not in c)
        return 0

    def publishing(self, stream="test"):
        xml = self.stat()
        for block in re.findall(r"<stream>(.*?)</stream>", xml, re.S):
            if f"<name>{stream}</name>" in block:
                return "<publishing/>" in block
        return False

    def wait_players(self, n=1, stream="test", timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.players(stream) >= n:
                return True
            time.sleep(0.05)
        return False

    def url(self, stream="test", app="live"):
        return f"rtmp://127.0.0.1:{self.port}/{app}/{stream}"


def our_env(build_dir, workdir):
    """Environment that loads OUR plugin (and a private registry)."""
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = os.path.join(build_dir, "gst", "rtmp", "elements")
    env["GST_REGISTRY"] = os.path.join(workdir, "registry-ours.bin")
    env.pop("GST_PLUGIN_SYSTEM_PATH", None)
    return env


def system_env(workdir):
    """Environment for the system elements (rtmp2src/rtmp2sink, librtmp): no plugin path of ours."""
    env = dict(os.environ)
    env.pop("GST_PLUGIN_PATH", None)
    env["GST_REGISTRY"] = os.path.join(workdir, "registry-system.bin")
    return env


def factory_origin(name, env):
    """(plugin name, plugin file) of element factory `name` as gst-inspect-1.0 sees it in `env`."""
    out = subprocess.run(["gst-inspect-1.0", name], env=env, capture_output=True, text=True,
                         timeout=60).stdout
    plugin_name = filename = None
    if "Plugin Details:" in out:
        for line in out.split("Plugin Details:", 1)[1].splitlines():
            fields = line.strip().split(None, 1)
            if len(fields) != 2:
                continue
            if fields[0] == "Name" and plugin_name is None:
                plugin_name = fields[1]
            elif fields[0] == "Filename" and filename is None:
                filename = fields[1]
    return plugin_name, filename


def assert_our_factories(build_dir, env, names=("rtmpsink", "rtmpsrc")):
    """Fails unless each factory comes from OUR plugin: the system librtmp plugin has the same
    element names and the same plugin name, so both the plugin name and the file are checked."""
    ours = os.path.realpath(os.path.join(build_dir, "gst", "rtmp", "elements"))
    for n in names:
        plugin_name, filename = factory_origin(n, env)
        assert plugin_name == "rtmp", f"{n}: plugin {plugin_name}"
        assert filename and os.path.realpath(filename).startswith(ours + os.sep), \
            f"{n} comes from {filename}, not from {ours}"


def ffprobe_packets(path_or_url, timeout=120, extra=()):
    """[(codec_type, pts_ms, dts_ms, size)] of every packet."""
    res = subprocess.run(["ffprobe", "-v", "error", *extra, "-show_entries",
                          "packet=codec_type,pts_time,dts_time,size", "-of", "json",
                          path_or_url], capture_output=True, text=True, timeout=timeout)
    data = json.loads(res.stdout or "{}")
    pkts = []
    for p in data.get("packets", []):
        def ms(k):
            v = p.get(k)
            return None if v in (None, "N/A") else round(float(v) * 1000)
        pkts.append((p.get("codec_type"), ms("pts_time"), ms("dts_time"), int(p.get("size", 0))))
    return pkts


def make_clip(path, seconds=20, extra=()):
    """An H.264/AAC FLV clip: 30 fps, keyframe every 2 s, 44.1 kHz sine."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=30", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100", "-t", str(seconds), "-c:v", "libx264",
                    "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
                    "-metadata", "title=gst-rtmp interop", *extra, "-f", "flv", path],
                   check=True, timeout=300)


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def flv_tags(path):
    """[(type, timestamp, data)] of an FLV file (FLV spec 10.1 E.4.1: UI24 timestamp + UI8
    extension = 32 bits)."""
    d = open(path, "rb").read()
    pos = int.from_bytes(d[5:9], "big") + 4
    tags = []
    while pos + 11 <= len(d):
        size = int.from_bytes(d[pos + 1:pos + 4], "big")
        ts = int.from_bytes(d[pos + 4:pos + 7], "big") | d[pos + 7] << 24
        tags.append((d[pos], ts, d[pos + 11:pos + 11 + size]))
        pos += 11 + size + 4
    return tags
