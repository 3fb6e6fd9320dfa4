// Runs a source with dynamic pads (`flvdemux` on a file, or rtmpserversrc / rtmpsrc with
// output=elementary) and prints, per pad, what arrives, so that a python driver can compare two
// runs (issue 7):
//   port <bound-port>                              (rtmpserversrc, once listening)
//   pad <name>                                     (pad-added)
//   caps <pad> <caps>                              (each caps change, before the buffers it covers)
//   buf <pad> <pts ns|-1> <dts ns|-1> <delta 0/1> <size> <md5>
//   tag <pad> <taglist>
//   no-more-pads
//   msg <structure>                                (element messages, e.g. rtmp-metadata)
//   eos | error <text>
// usage: elementary_probe <seconds> <gst-launch description; the source is named "src">
#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

GstElement *pipeline = nullptr;

GstPadProbeReturn on_data(GstPad *pad, GstPadProbeInfo *info, gpointer) {
  const std::string name = GST_PAD_NAME(pad);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    gchar *md5 = g_compute_checksum_for_data(G_CHECKSUM_MD5, map.data, map.size);
    std::printf("buf %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %d %zu %s\n", name.c_str(),
                GST_BUFFER_PTS_IS_VALID(b) ? static_cast<gint64>(GST_BUFFER_PTS(b)) : -1,
                GST_BUFFER_DTS_IS_VALID(b) ? static_cast<gint64>(GST_BUFFER_DTS(b)) : -1,
                GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT) ? 1 : 0, map.size, md5);
    g_free(md5);
    gst_buffer_unmap(b, &map);
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *e = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(e) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps(e, &caps);
      gchar *s = gst_caps_to_string(caps);
      std::printf("caps %s %s\n", name.c_str(), s);
      g_free(s);
    } else if (GST_EVENT_TYPE(e) == GST_EVENT_TAG) {
      GstTagList *t = nullptr;
      gst_event_parse_tag(e, &t);
      gchar *s = gst_tag_list_to_string(t);
      std::printf("tag %s %s\n", name.c_str(), s);
      g_free(s);
    }
  }
  std::fflush(stdout);
  return GST_PAD_PROBE_OK;
}

void on_pad_added(GstElement *, GstPad *pad, gpointer) {
  std::printf("pad %s\n", GST_PAD_NAME(pad));
  std::fflush(stdout);
  gst_pad_add_probe(
      pad,
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_data, nullptr, nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad *sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sinkpad);
  gst_object_unref(sinkpad);
}

void on_no_more_pads(GstElement *, gpointer) {
  std::printf("no-more-pads\n");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <seconds> <pipeline with a source named src>\n", argv[0]);
    return 2;
  }
  const int seconds = std::atoi(argv[1]);
  GError *err = nullptr;
  pipeline = gst_parse_launch(argv[2], &err);
  if (!pipeline) {
    std::printf("error %s\n", err ? err->message : "parse");
    return 1;
  }
  if (!GST_IS_PIPELINE(pipeline)) { // a lone element: parse_launch returns it as it is
    GstElement *bin = gst_pipeline_new(nullptr);
    gst_bin_add(GST_BIN(bin), pipeline);
    pipeline = bin;
  }
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  if (!src) {
    std::printf("error no element named src\n");
    return 1;
  }
  g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), nullptr);
  g_signal_connect(src, "no-more-pads", G_CALLBACK(on_no_more_pads), nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(src), "bound-port")) {
    guint port = 0;
    for (int i = 0; i < 200 && port == 0; ++i) {
      g_object_get(src, "bound-port", &port, nullptr);
      if (!port)
        g_usleep(10000);
    }
    std::printf("port %u\n", port);
    std::fflush(stdout);
  }
  GstBus *bus = gst_element_get_bus(pipeline);
  int rc = 1;
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds) * G_USEC_PER_SEC;
  for (;;) {
    const gint64 left = end - g_get_monotonic_time();
    if (left <= 0) {
      std::printf("error timeout\n");
      break;
    }
    GstMessage *m = gst_bus_timed_pop_filtered(
        bus, static_cast<GstClockTime>(left) * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    if (!m)
      continue;
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT) {
      if (const GstStructure *s = gst_message_get_structure(m)) {
        gchar *t = gst_structure_to_string(s);
        std::printf("msg %s\n", t);
        g_free(t);
      }
      gst_message_unref(m);
      continue;
    }
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
      std::printf("eos\n");
      rc = 0;
    } else {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(m, &e, &dbg);
      std::printf("error %s (%s)\n", e->message, dbg ? dbg : "");
      g_error_free(e);
      g_free(dbg);
    }
    gst_message_unref(m);
    break;
  }
  std::fflush(stdout);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(pipeline);
  return rc;
}
