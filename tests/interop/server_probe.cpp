// server_probe: runs a pipeline with rtmpserversrc elements and reports, line by line, what
// arrived, so that the server interop tests can compare it with what the publisher sent.
//
//   server_probe [--seconds S] [--reject-publish KEY] [--reject-connect APP]
//                [--until ELEMENT=COUNT]... [--until-stdin] <pipeline...>
//
// Any pipeline works (the round-trip tests run their senders and rtmpsrc receivers with it too).
// Every element whose name starts with "out" (e.g. fakesink name=out_video) gets a buffer probe
// on its sink pad. Output (stdout, flushed per line):
//   port <element> <bound-port>          once PLAYING, for every rtmpserversrc
//   buf <element> <pts_ms> <dts_ms> <size> <md5>
//   caps <element> <caps>                 on each caps event at an "out" element
//   msg <element> <structure>             element messages (rtmp-client-connected, ...)
//   tag <element> <taglist>               tag messages, with the element that posted them
//   error <text> | <debug>
//   warning <element> <text> | <debug>
//   eos
//   stats <element> <structure>           of every rtmpserversrc, at the end
//   null-ms <ms>                          how long set_state(NULL) took
//   until-reached                         when every --until element got its COUNT buffers
//                                         (--until-stdin: counts read from stdin, see below)
//   send-eos                              500 ms later, as it sends EOS to the pipeline (then
//                                         it waits at most 1.5 s for the EOS message)
// It stops at EOS, at an error, or after S seconds (default 120); exit status 0. --until is for
// players of servers that never end the stream (node-media-server): the EOS drains decoders, and
// the 500 ms before it show buffers that arrive beyond the count.
#include <gst/gst.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string reject_publish, reject_connect;

// --until / --until-stdin: buffers each named element must receive before the probe sends EOS.
// All under print_lock.
std::map<std::string, guint64> buffers_seen;        // per "out" element
std::vector<std::pair<std::string, guint64>> until; // element, count
bool until_armed = false, until_posted = false;
GstElement *the_pipeline = nullptr;

// Called from every streaming thread: one locked write per line so that lines never mix.
GMutex print_lock;
void print_line(const std::string &s) {
  const std::string line = s + "\n";
  g_mutex_lock(&print_lock);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  g_mutex_unlock(&print_lock);
}

std::string ms(GstClockTime t) {
  return GST_CLOCK_TIME_IS_VALID(t) ? std::to_string(t / GST_MSECOND) : std::string("none");
}

// With print_lock held: posts one application message on the bus once every --until count is
// reached (the main loop then sends EOS).
void check_until_locked() {
  if (!until_armed || until_posted)
    return;
  for (const auto &[element, target] : until)
    if (buffers_seen[element] < target)
      return;
  until_posted = true;
  gst_element_post_message(the_pipeline,
                           gst_message_new_application(nullptr, gst_structure_new_empty("until")));
}

void count_buffer(const gchar *element) {
  g_mutex_lock(&print_lock);
  ++buffers_seen[element];
  check_until_locked();
  g_mutex_unlock(&print_lock);
}

// "ELEMENT=COUNT" -> one --until count; false when there is no '='.
bool add_until(const char *spec) {
  const char *eq = std::strchr(spec, '=');
  if (!eq)
    return false;
  until.emplace_back(std::string(spec, static_cast<size_t>(eq - spec)),
                     g_ascii_strtoull(eq + 1, nullptr, 10));
  return true;
}

// --until-stdin: "ELEMENT=COUNT" lines, then "go" (or the end of stdin) arms the counts. The
// test learns the counts from its sender, which runs after this probe started.
gpointer read_until_from_stdin(gpointer) {
  char line[512];
  while (std::fgets(line, sizeof line, stdin)) {
    g_strstrip(line);
    if (std::strcmp(line, "go") == 0)
      break;
    g_mutex_lock(&print_lock);
    add_until(line);
    g_mutex_unlock(&print_lock);
  }
  g_mutex_lock(&print_lock);
  until_armed = true;
  check_until_locked();
  g_mutex_unlock(&print_lock);
  return nullptr;
}

GstPadProbeReturn on_data(GstPad *pad, GstPadProbeInfo *info, gpointer) {
  gchar *name = gst_object_get_name(GST_OBJECT_PARENT(pad));
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    std::string md5 = "-";
    if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
      gchar *sum = g_compute_checksum_for_data(G_CHECKSUM_MD5, map.data, map.size);
      md5 = sum;
      g_free(sum);
      gst_buffer_unmap(buf, &map);
    }
    print_line(std::string("buf ") + name + " " + ms(GST_BUFFER_PTS(buf)) + " " +
               ms(GST_BUFFER_DTS(buf)) + " " + std::to_string(gst_buffer_get_size(buf)) + " " +
               md5);
    count_buffer(name);
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps(ev, &caps);
      gchar *s = gst_caps_to_string(caps);
      print_line(std::string("caps ") + name + " " + s);
      g_free(s);
    }
  }
  g_free(name);
  return GST_PAD_PROBE_OK;
}

gboolean on_connect(GstElement *, const gchar *, const gchar *app, const gchar *, const gchar *,
                    gpointer) {
  return reject_connect.empty() || reject_connect != app;
}

gboolean on_publish(GstElement *, const gchar *, const gchar *key, const gchar *, const gchar *,
                    gpointer) {
  return reject_publish.empty() || reject_publish != key;
}

std::vector<GstElement *> elements_of(GstBin *bin) {
  std::vector<GstElement *> out;
  GstIterator *it = gst_bin_iterate_recurse(bin);
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    out.push_back(GST_ELEMENT(g_value_get_object(&v)));
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  return out;
}

bool is_server(GstElement *e) {
  GstElementFactory *f = gst_element_get_factory(e);
  return f && std::strcmp(GST_OBJECT_NAME(f), "rtmpserversrc") == 0;
}

} // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  double seconds = 120;
  bool until_stdin = false;
  int i = 1;
  for (; i < argc; i += 2) {
    if (std::strcmp(argv[i], "--until-stdin") == 0) {
      until_stdin = true;
      --i;
    } else if (i + 1 >= argc) {
      break;
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--reject-publish") == 0) {
      reject_publish = argv[i + 1];
    } else if (std::strcmp(argv[i], "--reject-connect") == 0) {
      reject_connect = argv[i + 1];
    } else if (std::strcmp(argv[i], "--until") == 0 && add_until(argv[i + 1])) {
      until_armed = true;
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr,
                 "usage: %s [--seconds S] [--reject-publish KEY] [--reject-connect APP] "
                 "[--until ELEMENT=COUNT]... [--until-stdin] <pipeline...>\n",
                 argv[0]);
    return 2;
  }
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launchv(const_cast<const gchar **>(argv + i), &err);
  if (!pipeline) {
    std::fprintf(stderr, "parse error: %s\n", err ? err->message : "?");
    return 2;
  }
  the_pipeline = pipeline;
  std::vector<GstElement *> servers;
  for (GstElement *e : elements_of(GST_BIN(pipeline))) {
    const gchar *name = GST_OBJECT_NAME(e);
    if (g_str_has_prefix(name, "out")) {
      GstPad *pad = gst_element_get_static_pad(e, "sink");
      gst_pad_add_probe(pad,
                        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                     GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                        on_data, nullptr, nullptr);
      gst_object_unref(pad);
    }
    if (is_server(e)) {
      servers.push_back(e);
      g_signal_connect(e, "on-connect", G_CALLBACK(on_connect), nullptr);
      g_signal_connect(e, "on-publish", G_CALLBACK(on_publish), nullptr);
    }
  }
  if (until_stdin)
    g_thread_unref(g_thread_new("until-stdin", read_until_from_stdin, nullptr));
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    print_line("error could not start the pipeline");
  for (GstElement *s : servers) {
    guint port = 0;
    g_object_get(s, "bound-port", &port, nullptr);
    print_line(std::string("port ") + GST_OBJECT_NAME(s) + " " + std::to_string(port));
  }

  GstBus *bus = gst_element_get_bus(pipeline);
  gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds * G_USEC_PER_SEC);
  gint64 eos_at = G_MAXINT64; // --until: when to send EOS
  bool done = false;
  while (!done) {
    const gint64 now = g_get_monotonic_time();
    if (now >= end)
      break;
    if (now >= eos_at) {
      print_line("send-eos");
      gst_element_send_event(pipeline, gst_event_new_eos());
      eos_at = G_MAXINT64;
      end = std::min(end, now + 3 * G_USEC_PER_SEC / 2);
      continue;
    }
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, static_cast<GstClockTime>(std::min(end, eos_at) - now) * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_EOS |
                                    GST_MESSAGE_ELEMENT | GST_MESSAGE_TAG |
                                    GST_MESSAGE_APPLICATION));
    if (!msg)
      continue;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(msg, &e, &dbg);
      print_line(std::string("error ") + (e ? e->message : "?") + " | " + (dbg ? dbg : ""));
      g_clear_error(&e);
      g_free(dbg);
      done = true;
      break;
    }
    case GST_MESSAGE_WARNING: {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_warning(msg, &e, &dbg);
      print_line(std::string("warning ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)) + " " +
                 (e ? e->message : "?") + " | " + (dbg ? dbg : ""));
      g_clear_error(&e);
      g_free(dbg);
      break;
    }
    case GST_MESSAGE_EOS:
      print_line("eos");
      done = true;
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(msg);
      if (s) {
        gchar *str = gst_structure_to_string(s);
        print_line(std::string("msg ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)) + " " + str);
        g_free(str);
      }
      break;
    }
    case GST_MESSAGE_TAG: {
      GstTagList *tags = nullptr;
      gst_message_parse_tag(msg, &tags);
      gchar *str = gst_tag_list_to_string(tags);
      print_line(std::string("tag ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)) + " " + str);
      g_free(str);
      gst_tag_list_unref(tags);
      break;
    }
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name(msg, "until")) {
        print_line("until-reached");
        eos_at = g_get_monotonic_time() + 500 * 1000;
      }
      break;
    default:
      break;
    }
    gst_message_unref(msg);
  }
  for (GstElement *s : servers) {
    GstStructure *st = nullptr;
    g_object_get(s, "stats", &st, nullptr);
    gchar *str = st ? gst_structure_to_string(st) : g_strdup("none");
    print_line(std::string("stats ") + GST_OBJECT_NAME(s) + " " + str);
    g_free(str);
    if (st)
      gst_structure_free(st);
  }
  const gint64 t0 = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_NULL);
  print_line("null-ms " + std::to_string((g_get_monotonic_time() - t0) / 1000));
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return 0;
}
