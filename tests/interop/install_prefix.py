#!/usr/bin/env python3
"""The install story of the README: `meson install` into a staging root (DESTDIR, as a package
build or a user's prefix), then GStreamer must load OUR plugin from there in place of the system
librtmp plugin, whose file has the same name (libgstrtmp.so) and whose element names are the same:

  1. with GST_PLUGIN_PATH naming the installed plugin directory;
  2. with the plugin file copied into the per-user plugin directory
     ($XDG_DATA_HOME or ~/.local/share, then gstreamer-1.0/plugins), nothing set;
  3. and, for contrast, with neither: the system librtmp plugin answers for rtmpsrc.

GStreamer keys plugins by file name and keeps the first one it registers; GST_PLUGIN_PATH is
scanned before the per-user directory, which is scanned before the system directory. The
installed plugin then runs the loopback demo (rtmpsink -> rtmpserversrc, every frame checked).

usage: install_prefix.py <build dir> <loopback-demo>
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

PLUGIN_FILE = "libgstrtmp.so"


def clean_env(home, registry):
    env = dict(os.environ)
    for var in ("GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0", "GST_PLUGIN_SYSTEM_PATH",
                "GST_PLUGIN_SYSTEM_PATH_1_0", "XDG_DATA_HOME"):
        env.pop(var, None)
    env["HOME"] = home
    env["GST_REGISTRY"] = registry
    return env


def main():
    build = os.path.abspath(sys.argv[1])
    demo = sys.argv[2]
    installed = json.loads(subprocess.run(["meson", "introspect", "--installed", build],
                                          check=True, capture_output=True, text=True).stdout)
    targets = [dst for dst in installed.values() if os.path.basename(dst) == PLUGIN_FILE]
    assert len(targets) == 1, f"meson installs no single {PLUGIN_FILE}: {installed}"
    with tempfile.TemporaryDirectory(prefix="gst-rtmp-install-") as wd:
        root = os.path.join(wd, "root")
        r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
                            "--destdir", root], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        plugin = root + targets[0]
        assert os.path.isfile(plugin), f"meson install left no {plugin}"
        plugin_dir = os.path.dirname(plugin)
        home = os.path.join(wd, "home")
        os.makedirs(home)

        # 3. Nothing set: the system's file of the same name (librtmp), or nothing at all.
        env = clean_env(home, os.path.join(wd, "registry-none.bin"))
        name, file = h.factory_origin("rtmpsrc", env)
        assert file is None or not file.startswith(wd), (name, file)
        print(f"ok: without a plugin path rtmpsrc comes from {file} (plugin {name})")

        # 1. GST_PLUGIN_PATH = the installed plugin directory.
        env = clean_env(home, os.path.join(wd, "registry-path.bin"))
        env["GST_PLUGIN_PATH"] = plugin_dir
        for factory in ("rtmpsrc", "rtmpsink", "rtmpserversrc"):
            got = h.factory_origin(factory, env)
            assert got == ("rtmp", plugin), f"GST_PLUGIN_PATH: {factory} from {got}, not {plugin}"
        print(f"ok: GST_PLUGIN_PATH={plugin_dir}: rtmpsrc, rtmpsink, rtmpserversrc from {plugin}")
        r = subprocess.run([demo], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        print("ok: the installed plugin runs the loopback demo: " + r.stdout.strip().splitlines()[-1])

        # 2. The per-user plugin directory, nothing set.
        user_dir = os.path.join(home, ".local", "share", "gstreamer-1.0", "plugins")
        os.makedirs(user_dir)
        shutil.copy(plugin, user_dir)
        env = clean_env(home, os.path.join(wd, "registry-user.bin"))
        user_plugin = os.path.join(user_dir, PLUGIN_FILE)
        for factory in ("rtmpsrc", "rtmpsink", "rtmpserversrc"):
            got = h.factory_origin(factory, env)
            assert got == ("rtmp", user_plugin), \
                f"per-user directory: {factory} from {got}, not {user_plugin}"
        print(f"ok: {user_dir}: rtmpsrc, rtmpsink, rtmpserversrc from the per-user copy")


if __name__ == "__main__":
    main()
