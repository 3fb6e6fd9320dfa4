#!/usr/bin/env python3
"""secureToken (Limelight/Akamai challenge) against the reference client: a server built from our
core (auth_ffmpeg_server --secure-token-*) sends `secureToken` = XXTEA(key, plaintext) in its
connect answer; librtmp's rtmpsink (system gst-plugins-bad librtmp plugin, separate process
without our plugin path, URL option ` token=KEY`) and our rtmpsink (`secure-token=KEY`) must
both answer `secureTokenResponse` with the plaintext, and publish. With a wrong key both answer
the same garbage (same cipher and conventions), which is not the plaintext.

usage: secure_token_peers.py <build dir> <auth_ffmpeg_server>
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_harness as h  # noqa: E402

KEY = "gst-rtmp-token-key"  # longer than 16 bytes: only the first 16 count (no spaces: librtmp
# splits its URL options at spaces)
PLAIN = "Limelight says hi 42"


def serve_and_publish(server_bin, env, make_launch):
    """Runs the server and one publisher; returns (secureTokenResponse arguments, whether a
    publish started, server log). The publisher is stopped once both were seen (or the server
    gave up): what is checked is what the server received, not how the client tears down."""
    srv = subprocess.Popen([server_bin, "--method", "none", "--idle-ms", "5000", "--media", "3",
                            "--max-connections", "1", "--secure-token-key", KEY,
                            "--secure-token-plain", PLAIN],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace")
    first = srv.stdout.readline()
    m = re.match(r"port (\d+)", first)
    assert m, f"server did not start: {first!r}"
    url = f"rtmp://127.0.0.1:{m.group(1)}/live/test"
    pub = subprocess.Popen(["gst-launch-1.0", *make_launch(url)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           errors="replace")
    log, calls, published = first, [], False
    for line in srv.stdout:  # the server ends by itself (--idle-ms) if the client stalls
        log += line
        c = re.match(r"call secureTokenResponse (.*)$", line.rstrip("\n"))
        if c:
            calls.append(c.group(1))
        published = published or line.startswith("publish ")
        if calls and published:
            break
    h.stop_process(pub)
    h.stop_process(srv)
    return calls, published, log


def main():
    build, server_bin = sys.argv[1], sys.argv[2]
    wd = h.workdir("secure-token-")
    clip = os.path.join(wd, "clip.flv")
    h.make_clip(clip, seconds=2)
    results = {}

    # librtmp (the reference implementation of the `token` option).
    sys_env = h.system_env(wd)
    origin = h.factory_origin("rtmpsink", sys_env)
    if origin[1] and "librtmp" in os.path.basename(origin[1]) or origin[0] == "rtmp":
        for key, name in ((KEY, "librtmp"), ("wrong-key", "librtmp-wrong")):
            calls, published, log = serve_and_publish(
                server_bin, sys_env,
                lambda url, k=key: ["filesrc", f"location={clip}", "!", "rtmpsink",
                                    f"location={url} live=1 token={k}"])
            results[name] = calls
            print(f"{name}: secureTokenResponse {calls} (publish started: {published})")
            if name == "librtmp":
                assert published, f"librtmp did not publish: {log[-2000:]}"
    else:
        print(f"system librtmp rtmpsink not found ({origin}): librtmp part skipped")

    # Ours.
    env = h.our_env(build, wd)
    h.assert_our_factories(build, env, ("rtmpsink",))
    for key, name in ((KEY, "ours"), ("wrong-key", "ours-wrong")):
        calls, published, log = serve_and_publish(
            server_bin, env,
            lambda url, k=key: ["filesrc", f"location={clip}", "!", "rtmpsink",
                                f"location={url}", f"secure-token={k}"])
        results[name] = calls
        print(f"{name}: secureTokenResponse {calls} (publish started: {published})")
        if name == "ours":
            assert published, f"our rtmpsink did not publish: {log[-2000:]}"

    assert results["ours"] == [PLAIN], results
    assert len(results["ours-wrong"]) == 1 and results["ours-wrong"][0] != PLAIN, results
    if "librtmp" in results:
        assert results["librtmp"] == [PLAIN], f"librtmp answered {results['librtmp']}"
        # Same cipher, same key and hex conventions: a wrong key gives the same garbage.
        assert results["librtmp-wrong"] == results["ours-wrong"], results
        print("librtmp and ours agree, with the right key and with a wrong one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
