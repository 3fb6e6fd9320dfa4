"""node-media-server v4 (npm `node-media-server`, an Enhanced-RTMP-capable server written in
JavaScript) for the interop tests: started on free loopback ports with its own config file, data
and record directories in a temporary directory, stopped by the test.

scripts/setup-deps.sh --nms installs it into .deps/nms (run-tests.sh does so); GST_RTMP_NMS_DIR
overrides the location. When it is missing the NMS tests FAIL with the reason: they are never
skipped silently.
"""
import json
import os
import re
import subprocess
import threading
import time

from client_harness import free_port, stop_process, wait_listening

SOURCE_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
NMS_DIR = os.environ.get("GST_RTMP_NMS_DIR", os.path.join(SOURCE_ROOT, ".deps", "nms"))
NMS_PACKAGE = os.path.join(NMS_DIR, "node_modules", "node-media-server")


NMS_NODE = os.path.join(NMS_DIR, "bin", "node")
NODE_MAJOR_MIN = 20  # node-media-server v4's package.json: "engines": {"node": ">=20.0.0"}


def nms_missing_reason():
    """None when node and node-media-server v4 are usable, else why not."""
    try:
        with open(os.path.join(NMS_DIR, "install-error.txt"), encoding="utf-8") as f:
            return "scripts/setup-deps.sh --nms failed: " + f.read().strip()
    except OSError:
        pass
    if not os.path.exists(NMS_NODE):
        return (f"no {NMS_NODE} (the Node.js that runs node-media-server): run "
                "scripts/setup-deps.sh --nms; run-tests.sh does")
    try:
        version = subprocess.run([NMS_NODE, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except OSError as e:
        return f"{NMS_NODE} does not run: {e}"
    m = re.match(r"v(\d+)\.", version)
    if not m or int(m.group(1)) < NODE_MAJOR_MIN:
        return (f"{NMS_NODE} is Node.js {version or '(no version)'}; node-media-server v4 needs "
                f">= {NODE_MAJOR_MIN} (scripts/setup-deps.sh --nms installs one)")
    pkg = os.path.join(NMS_PACKAGE, "package.json")
    try:
        with open(pkg, encoding="utf-8") as f:
            version = json.load(f).get("version", "")
    except OSError:
        return (f"node-media-server is not installed in {NMS_DIR} "
                "(run scripts/setup-deps.sh --nms; run-tests.sh does)")
    if not version.startswith("4."):
        return f"node-media-server {version} in {NMS_DIR}, the tests need v4"
    return None


class NodeMediaServer:
    """One node-media-server process: RTMP and HTTP on free 127.0.0.1 ports, no web admin, no
    auth, no recording; cwd, config, data and record paths inside `workdir`. Its log (stdout)
    is collected so that a test can wait for "start play" before it publishes: NMS relays only
    what arrives while a player is subscribed (plus the last GOP), and keeps players of a
    stream that is not published yet attached."""

    def __init__(self, workdir):
        reason = nms_missing_reason()
        if reason:
            raise RuntimeError(reason)
        self.dir = os.path.join(workdir, "nms")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.http_port = free_port()
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w", encoding="utf-8") as f:
            json.dump({"bind": "127.0.0.1",
                       "store": {"path": "./data"},
                       "rtmp": {"port": self.port},
                       "http": {"port": self.http_port},
                       "webadmin": {"enable": False},
                       "record": {"auto": False, "path": "./record"}}, f)
        self.proc = None
        self.log = []
        self._lock = threading.Lock()
        self._reader = None

    def start(self, timeout=15.0):
        self.proc = subprocess.Popen(
            [NMS_NODE, os.path.join(NMS_PACKAGE, "bin", "app.js"), "--config", self.config],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_listening(self.port, timeout) or not wait_listening(self.http_port, timeout):
            self.stop()
            raise RuntimeError("node-media-server did not start: " + self.log_text()[-3000:])
        return self

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.log.append(line.rstrip("\n"))

    def log_text(self):
        with self._lock:
            return "\n".join(self.log)

    def count(self, pattern):
        """How many log lines match the regular expression `pattern`."""
        rx = re.compile(pattern)
        with self._lock:
            return sum(1 for line in self.log if rx.search(line))

    def wait_log(self, pattern, n=1, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(pattern) >= n:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def wait_players(self, n=1, stream="test", app="live", timeout=15.0):
        """Until `n` RTMP players are subscribed to /app/stream (NMS logs "start play")."""
        return self.wait_log(rf"start play /{re.escape(app)}/{re.escape(stream)}$", n, timeout)

    def wait_publishers(self, n=1, stream="test", app="live", timeout=15.0):
        return self.wait_log(rf"start push /{re.escape(app)}/{re.escape(stream)}$", n, timeout)

    def url(self, stream="test", app="live"):
        return f"rtmp://127.0.0.1:{self.port}/{app}/{stream}"

    def stop(self):
        stop_process(self.proc)
        if self._reader:
            self._reader.join(timeout=5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
