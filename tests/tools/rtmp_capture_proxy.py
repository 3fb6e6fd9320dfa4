#!/usr/bin/env python3
"""A tiny TCP man-in-the-middle that records both directions of every connection.

Listens on a loopback port, forwards each accepted connection to the real server, and writes
the client->server and server->client bytes of connection N to <prefix>.<N>.c2s.bin and
<prefix>.<N>.s2c.bin (N counts from 1). The bytes are written exactly as seen on the wire, so
the files are transcripts that sans-IO tests can replay (see tests/data/transcripts/README.md).

Standard library only. Prints "listening on PORT" to stdout (flushed) once ready, so a script can
start it with --port 0 and read the chosen port back.

Usage: rtmp_capture_proxy.py --upstream 127.0.0.1:1935 --out /tmp/cap/session [--port 0]
                             [--max-connections N]
"""

import argparse
import selectors
import socket
import sys
import threading


def pump(src: socket.socket, dst: socket.socket, sink, done: threading.Event) -> None:
    """Copy src -> dst until EOF or error, appending every chunk to sink."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            sink.write(data)
            sink.flush()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        # Half-close so the other side sees EOF, exactly as it would without the proxy.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.set()


def handle(client: socket.socket, upstream: tuple, prefix: str, index: int) -> None:
    try:
        server = socket.create_connection(upstream, timeout=10)
    except OSError as e:
        print(f"connection {index}: upstream connect failed: {e}", file=sys.stderr, flush=True)
        client.close()
        return
    server.settimeout(None)
    client.settimeout(None)
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with open(f"{prefix}.{index}.c2s.bin", "wb") as c2s, open(f"{prefix}.{index}.s2c.bin",
                                                              "wb") as s2c:
        up_done, down_done = threading.Event(), threading.Event()
        t_up = threading.Thread(target=pump, args=(client, server, c2s, up_done), daemon=True)
        t_down = threading.Thread(target=pump, args=(server, client, s2c, down_done), daemon=True)
        t_up.start()
        t_down.start()
        t_up.join()
        t_down.join()
    client.close()
    server.close()
    print(f"connection {index}: closed", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--out", required=True, help="output path prefix")
    ap.add_argument("--port", type=int, default=0, help="loopback port to listen on (0 = any)")
    ap.add_argument("--max-connections", type=int, default=0,
                    help="exit after this many connections have closed (0 = run until killed)")
    args = ap.parse_args()

    host, _, port = args.upstream.rpartition(":")
    upstream = (host or "127.0.0.1", int(port))

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(8)
    print(f"listening on {listener.getsockname()[1]}", flush=True)

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    threads = []
    index = 0
    while True:
        if args.max_connections and index >= args.max_connections:
            break
        if not sel.select(timeout=1.0):
            continue
        client, _ = listener.accept()
        index += 1
        t = threading.Thread(target=handle, args=(client, upstream, args.out, index), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
