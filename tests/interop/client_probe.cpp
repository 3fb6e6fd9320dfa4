// client_probe: runs a pipeline for a while, then measures how long the state change to NULL
// takes, and prints what the bus said. The hostile-peer interop tests use it to check that
// "every state change to NULL returns within 1 s whatever the peer does" (issue 4).
//
//   client_probe <seconds in PLAYING> <gst-launch pipeline description...>
//
// Output (one key=value per line): first-error=<text of the first ERROR message>,
// error-debug=<its debug string>, first-error-ms=<when it arrived, in ms after the pipeline was
// set to PLAYING; -1 without one>, eos=0|1, eos-ms=<when EOS arrived, same clock; -1 without>,
// null-ms=<duration of set_state(NULL)>, playing-at-us=<g_get_monotonic_time() when the pipeline
// was set to PLAYING: CLOCK_MONOTONIC, Python's time.monotonic() * 1e6>,
// reconnect-messages=<number of rtmp-reconnect element messages>,
// element-messages=<names of the other element messages, comma-separated>.
//
// PROBE_SET="<seconds>:<element name>:<property>=<value>" in the environment sets that property
// (gst_util_set_object_arg) after that many seconds in PLAYING: how the tests change rtmpsrc's
// `stream` or rtmpsink's `chunk-size` while data flows.
//
// PROBE_HOLD="<seconds>:<element name>" holds the buffers leaving that element's src pad (a
// blocking pad probe installed before PLAYING) and lets them go after that many seconds: an
// encoder that is slow to give its first frame, deterministically.
#include <gst/gst.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <seconds> <pipeline...>\n", argv[0]);
    return 2;
  }
  const double seconds = std::atof(argv[1]);
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launchv(const_cast<const gchar **>(argv + 2), &err);
  if (!pipeline) {
    std::fprintf(stderr, "parse error: %s\n", err ? err->message : "?");
    return 2;
  }
  // PROBE_HOLD: seconds, element.
  double hold_seconds = -1;
  GstPad *held = nullptr;
  gulong hold_probe = 0;
  if (const char *spec = std::getenv("PROBE_HOLD")) {
    gchar **parts = g_strsplit(spec, ":", 2);
    GstElement *e =
        g_strv_length(parts) == 2 ? gst_bin_get_by_name(GST_BIN(pipeline), parts[1]) : nullptr;
    if (e) {
      hold_seconds = std::atof(parts[0]);
      held = gst_element_get_static_pad(e, "src");
      hold_probe = gst_pad_add_probe(
          held, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER),
          [](GstPad *, GstPadProbeInfo *, gpointer) { return GST_PAD_PROBE_OK; }, nullptr, nullptr);
      gst_object_unref(e);
    } else {
      std::fprintf(stderr, "PROBE_HOLD: no element in \"%s\"\n", spec);
      g_strfreev(parts);
      return 2;
    }
    g_strfreev(parts);
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::string first_error, error_debug;
  gint64 first_error_us = -1;
  bool eos = false;
  gint64 eos_us = -1;
  int reconnects = 0;
  std::string element_messages;
  const gint64 start = g_get_monotonic_time();
  const gint64 end = start + static_cast<gint64>(seconds * G_USEC_PER_SEC);
  // PROBE_SET: seconds, element, property=value.
  gint64 set_at = -1;
  std::string set_element, set_property, set_value;
  if (const char *spec = std::getenv("PROBE_SET")) {
    gchar **parts = g_strsplit(spec, ":", 3);
    if (g_strv_length(parts) == 3 && std::strchr(parts[2], '=')) {
      set_at = start + static_cast<gint64>(std::atof(parts[0]) * G_USEC_PER_SEC);
      set_element = parts[1];
      const char *eq = std::strchr(parts[2], '=');
      set_property.assign(parts[2], static_cast<std::size_t>(eq - parts[2]));
      set_value = eq + 1;
    }
    g_strfreev(parts);
  }
  gint64 hold_until = hold_probe ? start + static_cast<gint64>(hold_seconds * G_USEC_PER_SEC) : -1;
  for (;;) {
    const gint64 now = g_get_monotonic_time();
    if (now >= end || eos)
      break;
    if (hold_until >= 0 && now >= hold_until) {
      hold_until = -1;
      gst_pad_remove_probe(held, hold_probe);
    }
    if (set_at >= 0 && now >= set_at) {
      set_at = -1;
      GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline), set_element.c_str());
      if (e) {
        gst_util_set_object_arg(G_OBJECT(e), set_property.c_str(), set_value.c_str());
        gst_object_unref(e);
      } else {
        std::fprintf(stderr, "PROBE_SET: no element %s\n", set_element.c_str());
      }
    }
    gint64 until = set_at >= 0 ? std::min(end, set_at) : end;
    if (hold_until >= 0)
      until = std::min(until, hold_until);
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, static_cast<GstClockTime>(until - now) * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT));
    if (!msg)
      continue;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT) {
      if (gst_message_has_name(msg, "rtmp-reconnect"))
        ++reconnects;
      else if (const GstStructure *st = gst_message_get_structure(msg))
        element_messages +=
            std::string(element_messages.empty() ? "" : ",") + gst_structure_get_name(st);
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      eos = true;
      eos_us = g_get_monotonic_time() - start;
    } else if (first_error.empty()) {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(msg, &e, &dbg);
      first_error = e ? e->message : "";
      error_debug = dbg ? dbg : "";
      first_error_us = g_get_monotonic_time() - start;
      g_clear_error(&e);
      g_free(dbg);
    }
    gst_message_unref(msg);
  }
  const gint64 t0 = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_NULL);
  const gint64 null_us = g_get_monotonic_time() - t0;
  std::printf("first-error=%s\nerror-debug=%s\nfirst-error-ms=%lld\neos=%d\neos-ms=%lld\n"
              "null-ms=%lld\nplaying-at-us=%lld\nreconnect-messages=%d\nelement-messages=%s\n",
              first_error.c_str(), error_debug.c_str(),
              static_cast<long long>(first_error_us < 0 ? -1 : first_error_us / 1000), eos ? 1 : 0,
              static_cast<long long>(eos_us < 0 ? -1 : eos_us / 1000),
              static_cast<long long>(null_us / 1000), static_cast<long long>(start), reconnects,
              element_messages.c_str());
  if (held)
    gst_object_unref(held);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return 0;
}
