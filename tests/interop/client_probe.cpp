// client_probe: runs a pipeline for a while, then measures how long the state change to NULL
// takes, and prints what the bus said. The hostile-peer interop tests use it to check that
// "every state change to NULL returns within 1 s whatever the peer does" (issue 4).
//
//   client_probe <seconds in PLAYING> <gst-launch pipeline description...>
//
// Output (one key=value per line): first-error=<text of the first ERROR message>,
// error-debug=<its debug string>, eos=0|1, null-ms=<duration of set_state(NULL)>,
// reconnect-messages=<number of rtmp-reconnect element messages>.
#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
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
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::string first_error, error_debug;
  bool eos = false;
  int reconnects = 0;
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds * G_USEC_PER_SEC);
  for (;;) {
    const gint64 now = g_get_monotonic_time();
    if (now >= end || eos)
      break;
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, static_cast<GstClockTime>(end - now) * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT));
    if (!msg)
      break;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT) {
      if (gst_message_has_name(msg, "rtmp-reconnect"))
        ++reconnects;
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      eos = true;
    } else if (first_error.empty()) {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(msg, &e, &dbg);
      first_error = e ? e->message : "";
      error_debug = dbg ? dbg : "";
      g_clear_error(&e);
      g_free(dbg);
    }
    gst_message_unref(msg);
  }
  const gint64 t0 = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_NULL);
  const gint64 null_us = g_get_monotonic_time() - t0;
  std::printf("first-error=%s\nerror-debug=%s\neos=%d\nnull-ms=%lld\nreconnect-messages=%d\n",
              first_error.c_str(), error_debug.c_str(), eos ? 1 : 0,
              static_cast<long long>(null_us / 1000), reconnects);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return 0;
}
