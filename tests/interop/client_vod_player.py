"""Inner driver of client_vod.py, run with the system python3 (PyGObject): plays a recorded
stream with rtmpsrc ! flvdemux (output flv) or rtmpsrc's own track pads (output elementary),
queries duration and seeking, seeks, pauses and resumes, and prints what it saw as JSON.
usage: client_vod_player.py <url> <live: 0|1> [flv|elementary]"""
import json
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)
url, live = sys.argv[1], sys.argv[2] == "1"
output = sys.argv[3] if len(sys.argv) > 3 else "flv"
src = f"rtmpsrc name=src location={url} live={'true' if live else 'false'} output={output}"
if output == "flv":
    src += " ! flvdemux name=d"
pads = ("d.video", "d.audio") if output == "flv" else ("src.video_0", "src.audio_0")
pipeline = Gst.parse_launch(
    f"{src} {pads[0]} ! queue ! fakesink name=v sync=true "
    f"{pads[1]} ! queue ! fakesink name=a sync=true")
seen = {"pts": None, "count": 0}
# Per sink: FLUSH_STOPs and the start of the last segment (the seek must flush and restart both).
flushes = {"v": 0, "a": 0}
segment_ms = {"v": None, "a": None}


def on_event(pad, info, name):
    ev = info.get_event()
    if ev.type == Gst.EventType.FLUSH_STOP:
        flushes[name] += 1
    elif ev.type == Gst.EventType.SEGMENT:
        segment_ms[name] = ev.parse_segment().start // Gst.MSECOND
    return Gst.PadProbeReturn.OK


def on_buffer(pad, info):
    # Decode time: what the keyframe index of a seek is about (PTS adds the B-frame delay).
    buf = info.get_buffer()
    seen["pts"] = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else buf.pts
    seen["count"] += 1
    return Gst.PadProbeReturn.OK


pipeline.get_by_name("v").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
for name in ("v", "a"):
    pipeline.get_by_name(name).get_static_pad("sink").add_probe(
        Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH, on_event, name)
bus = pipeline.get_bus()
result = {"errors": []}


def pump(seconds, until=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.ERROR)
        if msg:
            result["errors"].append(msg.parse_error()[0].message)
            return False
        if until and until():
            return True
    return until is None


pipeline.set_state(Gst.State.PLAYING)
pump(15, lambda: seen["pts"] is not None and seen["pts"] >= 3 * Gst.SECOND)
result["playing_pts_ms"] = None if seen["pts"] is None else seen["pts"] // Gst.MSECOND
ok, dur = pipeline.query_duration(Gst.Format.TIME)
result["duration_ms"] = dur // Gst.MSECOND if ok else None
q = Gst.Query.new_seeking(Gst.Format.TIME)
result["seekable"] = pipeline.query(q) and q.parse_seeking()[1]

seen["pts"] = None
t0 = time.monotonic()
result["seek_sent"] = pipeline.seek_simple(Gst.Format.TIME,
                                           Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT,
                                           10 * Gst.SECOND)
pump(10, lambda: seen["pts"] is not None)
result["after_seek_pts_ms"] = None if seen["pts"] is None else seen["pts"] // Gst.MSECOND
result["seek_ms"] = round((time.monotonic() - t0) * 1000)
result["flushes"] = dict(flushes)
result["segment_ms"] = dict(segment_ms)

pump(1.0)
pipeline.set_state(Gst.State.PAUSED)
pump(0.5)
count_paused = seen["count"]
pump(1.5)
result["buffers_while_paused"] = seen["count"] - count_paused
pts_before = seen["pts"]
pipeline.set_state(Gst.State.PLAYING)
pump(5, lambda: seen["count"] > count_paused + 10)
result["resumed_buffers"] = seen["count"] - count_paused
result["pts_before_resume_ms"] = None if pts_before is None else pts_before // Gst.MSECOND
result["pts_after_resume_ms"] = None if seen["pts"] is None else seen["pts"] // Gst.MSECOND
t0 = time.monotonic()
pipeline.set_state(Gst.State.NULL)
result["null_ms"] = round((time.monotonic() - t0) * 1000)
print(json.dumps(result))
