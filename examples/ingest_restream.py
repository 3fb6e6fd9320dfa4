#!/usr/bin/env python3
"""An RTMP ingest that checks stream keys and restreams: rtmpserversrc accepts the publishers of
application "live" whose key is allowed, and rtmpsink sends the stream on, unchanged (FLV in,
FLV out), to another RTMP server. Every second it prints the ingest's and the output's stats.

  ingest_restream.py --listen rtmp://0.0.0.0:1935/live/* --keys camera1,camera2 \\
      --out rtmp://cdn.example.com/live/channel

It ends (exit 0) when the accepted publisher leaves and the output has sent everything, or with
exit 1 on an error (for example the output server refusing the publish).

Needs PyGObject (Debian: python3-gi, gir1.2-gstreamer-1.0) and our plugin on GST_PLUGIN_PATH.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True,
                    help="rtmp[s]://HOST:PORT/APPLICATION/* (or a fixed stream key)")
    ap.add_argument("--keys", required=True, help="comma-separated stream keys that may publish")
    ap.add_argument("--out", required=True, help="rtmp[s]://host[:port]/application/stream")
    ap.add_argument("--stats-interval", type=float, default=1.0, help="seconds between stats")
    args = ap.parse_args()
    allowed = {k for k in args.keys.split(",") if k}

    Gst.init(None)
    pipeline = Gst.Pipeline.new("ingest")
    src = Gst.ElementFactory.make("rtmpserversrc", "ingest")
    sink = Gst.ElementFactory.make("rtmpsink", "out")
    if not src or not sink:
        sys.exit("rtmpserversrc/rtmpsink not found: set GST_PLUGIN_PATH to the plugin's directory")
    src.set_property("location", args.listen)
    sink.set_property("location", args.out)
    pipeline.add(src)
    pipeline.add(sink)
    src.link(sink)

    def on_publish(_element, application, key, _query, address):
        # Called on the listener thread: decide quickly.
        ok = key in allowed
        print(f"on-publish: {address} publishes {application}/{key}: "
              f"{'accepted' if ok else 'rejected'}", flush=True)
        return ok

    src.connect("on-publish", on_publish)

    loop = GLib.MainLoop()
    status = {"code": 0}

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name().startswith("rtmp-"):
                print(f"bus: {s.to_string()}", flush=True)
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"error from {msg.src.get_name()}: {err.message} ({debug})", file=sys.stderr,
                  flush=True)
            status["code"] = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            print("end of stream: the publisher left and everything was sent", flush=True)
            loop.quit()

    def print_stats():
        ingest = src.get_property("stats")
        out = sink.get_property("stats")

        def field(s, name):
            return s.get_value(name) if s is not None and s.has_field(name) else 0

        print(f"stats: ingest from {field(ingest, 'publisher') or '(nobody)'}: "
              f"{field(ingest, 'bytes')} bytes, {field(ingest, 'messages')} messages, "
              f"{field(ingest, 'bitrate')} bit/s; out: {field(out, 'out-bytes-total')} bytes, "
              f"{field(out, 'out-media-messages')} media messages", flush=True)
        return GLib.SOURCE_CONTINUE

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.timeout_add(int(args.stats_interval * 1000), print_stats)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print("the pipeline did not start (see the error above)", file=sys.stderr)
        status["code"] = 1
    else:
        print(f"listening on {args.listen}, keys {sorted(allowed)}, restreaming to {args.out}",
              flush=True)
        loop.run()
    print_stats()
    pipeline.set_state(Gst.State.NULL)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
