#!/usr/bin/env python3
"""Live check of the server side of Adobe / Limelight RTMP authentication against FFmpeg's own
client: `ffmpeg ... -f flv rtmp://user:pa%40ss@127.0.0.1:PORT/live/key` must go through the
three-connection challenge exchange to a started publish with media arriving, and a wrong
password must make FFmpeg fail with its "Incorrect username/password" diagnosis.

usage: auth_ffmpeg.py AUTH_FFMPEG_SERVER_BINARY
Fails when ffmpeg is not installed (scripts/setup-deps.sh installs it).
"""
import re
import shutil
import subprocess
import sys



def run_case(server, method, password, userinfo, extra=()):
    srv = subprocess.Popen(
        [server, "--method", method, "--user", "user", "--password", password,
         "--idle-ms", "4000", "--media", "10", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = srv.stdout.readline()
    m = re.match(r"port (\d+)", first)
    if not m:
        srv.kill()
        raise SystemExit(f"server did not start: {first!r}")
    port = int(m.group(1))
    url = f"rtmp://{userinfo}@127.0.0.1:{port}/live/key"
    codec = ["-c:v", "libx264"] if has_encoder("libx264") else ["-c:v", "flv1"]
    ff = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "verbose", "-f", "lavfi", "-i",
         "testsrc=duration=1:size=160x120:rate=10", *codec, "-f", "flv", url],
        capture_output=True, text=True, timeout=60)
    out, _ = srv.communicate(timeout=60)
    log = first + out
    summary = dict(re.findall(r"(\w+)=(\S*)", log.splitlines()[-1]))
    return ff, srv.returncode, log, summary


_encoders = None


def has_encoder(name):
    global _encoders
    if _encoders is None:
        _encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                                   text=True).stdout
    return f" {name} " in _encoders


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    server = sys.argv[1]
    if shutil.which("ffmpeg") is None:
        print("FAIL: ffmpeg is not installed (scripts/setup-deps.sh installs it)")
        return 1

    failures = []

    def check(name, cond, detail):
        print(("ok   " if cond else "FAIL ") + name)
        if not cond:
            failures.append(name)
            print(detail)

    # Adobe and Limelight with a password that needs percent-encoding in the URL ('@').
    for method in ("adobe", "llnw"):
        ff, rc, log, s = run_case(server, method, "pa@ss", "user:pa%40ss")
        detail = f"--- server\n{log}\n--- ffmpeg\n{ff.stderr[-3000:]}"
        check(f"{method}: ffmpeg exits 0", ff.returncode == 0, detail)
        check(f"{method}: server saw the publish and media", rc == 0 and s.get("publish") == "key"
              and int(s.get("media", 0)) >= 10, detail)
        # need auth -> challenge -> response: three connections, two rejections.
        check(f"{method}: three connections", s.get("connections") == "3", detail)
        check(f"{method}: challenge wording reached ffmpeg",
              f"authmod={method} ] : ?reason=needauth" in ff.stderr, detail)

    # Wrong password: FFmpeg recognises "?reason=authfailed" and gives up.
    ff, rc, log, s = run_case(server, "adobe", "pa@ss", "user:wrong")
    detail = f"--- server\n{log}\n--- ffmpeg\n{ff.stderr[-3000:]}"
    check("wrong password: ffmpeg fails", ff.returncode != 0, detail)
    check("wrong password: ffmpeg says so", "Incorrect username/password" in ff.stderr, detail)
    check("wrong password: server counted the failure, accepted nothing",
          s.get("auth_failures") == "1" and s.get("accepted") == "0", detail)

    # Unknown user: same answer as a wrong password (no user enumeration).
    ff, rc, log, s = run_case(server, "llnw", "pa@ss", "mallory:pa%40ss")
    detail = f"--- server\n{log}\n--- ffmpeg\n{ff.stderr[-3000:]}"
    check("unknown user: ffmpeg fails", ff.returncode != 0 and s.get("accepted") == "0", detail)

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
