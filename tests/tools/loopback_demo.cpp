// The README's main job: a real loopback through our plugin, in one process.
//
//   sender:   videotestsrc + audiotestsrc -> x264enc / voaacenc -> flvmux -> rtmpsink
//   receiver: rtmpserversrc -> flvdemux -> fakesinks
//
// The receiver listens on a free loopback port (port=0, read back from bound-port) and the
// sender publishes rtmp://127.0.0.1:PORT/live/demo to it. Every second the demo prints what
// arrived (video frames, audio buffers, bitrate, caps, tags) and at the end a summary. It exits 0
// only if the receiver got exactly the encoded frames and audio buffers that were sent: the same
// number, in the same order, with the same payload bytes (an MD5 chain over each stream), and
// the onMetaData tags; 1 otherwise, and 1 if it has not finished after kDeadlineSeconds.
//
//   loopback_demo [seconds of media, default 10]
#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kDeadlineSeconds = 50;
constexpr int kFramesPerSecond = 30;
constexpr int kAudioRate = 48000;
constexpr int kAudioSamplesPerBuffer = 1024; // one AAC frame per audiotestsrc buffer

// An ordered fingerprint of one elementary stream: count, bytes and an MD5 over the MD5 of
// every buffer, so that a lost, duplicated, reordered or altered buffer changes it.
struct Tally {
  GMutex lock;
  guint64 buffers = 0;
  guint64 bytes = 0;
  GChecksum *chain = g_checksum_new(G_CHECKSUM_MD5);
  std::string caps;

  Tally() { g_mutex_init(&lock); }
  void add(GstBuffer *buf) {
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ))
      return;
    gchar *sum = g_compute_checksum_for_data(G_CHECKSUM_MD5, map.data, map.size);
    g_mutex_lock(&lock);
    ++buffers;
    bytes += map.size;
    g_checksum_update(chain, reinterpret_cast<const guchar *>(sum), 32);
    g_mutex_unlock(&lock);
    g_free(sum);
    gst_buffer_unmap(buf, &map);
  }
  std::string digest() {
    g_mutex_lock(&lock);
    GChecksum *copy = g_checksum_copy(chain);
    g_mutex_unlock(&lock);
    std::string d = g_checksum_get_string(copy);
    g_checksum_free(copy);
    return d;
  }
  guint64 count() {
    g_mutex_lock(&lock);
    const guint64 n = buffers;
    g_mutex_unlock(&lock);
    return n;
  }
  guint64 total_bytes() {
    g_mutex_lock(&lock);
    const guint64 n = bytes;
    g_mutex_unlock(&lock);
    return n;
  }
};

Tally sent_video, sent_audio, got_video, got_audio;
// Every tag the receiver's sinks reported, merged (onMetaData fields arrive as title, encoder,
// extended comments...).
GstTagList *tags_merged = nullptr;
GMutex tags_lock;
constexpr const char *kTitle = "gst-rtmp loopback demo";

GstPadProbeReturn count_probe(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *t = static_cast<Tally *>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    t->add(GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps(ev, &caps);
      gchar *s = gst_caps_to_string(caps);
      g_mutex_lock(&t->lock);
      t->caps = s;
      g_mutex_unlock(&t->lock);
      g_free(s);
    }
  }
  return GST_PAD_PROBE_OK;
}

void probe(GstElement *bin, const char *element, const char *pad, Tally *t) {
  GstElement *e = gst_bin_get_by_name(GST_BIN(bin), element);
  GstPad *p = gst_element_get_static_pad(e, pad);
  gst_pad_add_probe(
      p,
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      count_probe, t, nullptr);
  gst_object_unref(p);
  gst_object_unref(e);
}

GstElement *launch(const std::string &desc) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  if (!p) {
    std::fprintf(stderr, "demo: cannot build pipeline: %s\n  %s\n", err ? err->message : "?",
                 desc.c_str());
    std::exit(1);
  }
  return p;
}

// Drains a bus; returns true once EOS was seen, and sets `failed` on an error.
bool drain(GstBus *bus, const char *who, bool &failed) {
  bool eos = false;
  while (GstMessage *m = gst_bus_pop(bus)) {
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_EOS:
      eos = true;
      break;
    case GST_MESSAGE_ERROR: {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(m, &e, &dbg);
      std::printf("demo: %s error: %s (%s)\n", who, e->message, dbg ? dbg : "");
      g_error_free(e);
      g_free(dbg);
      failed = true;
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(m);
      if (s && g_str_has_prefix(gst_structure_get_name(s), "rtmp-")) {
        gchar *str = gst_structure_to_string(s);
        std::printf("demo: %s: %s\n", who, str);
        g_free(str);
      }
      break;
    }
    case GST_MESSAGE_TAG: {
      GstTagList *tags = nullptr;
      gst_message_parse_tag(m, &tags);
      g_mutex_lock(&tags_lock);
      gst_tag_list_insert(tags_merged, tags, GST_TAG_MERGE_KEEP);
      g_mutex_unlock(&tags_lock);
      gst_tag_list_unref(tags);
      break;
    }
    default:
      break;
    }
    gst_message_unref(m);
  }
  return eos;
}

} // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  g_mutex_init(&tags_lock);
  tags_merged = gst_tag_list_new_empty();
  const int seconds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const int frames = seconds * kFramesPerSecond;
  const int audio_buffers = seconds * kAudioRate / kAudioSamplesPerBuffer;

  GstElementFactory *f = gst_element_factory_find("rtmpserversrc");
  if (!f) {
    std::fprintf(stderr, "demo: rtmpserversrc not found: set GST_PLUGIN_PATH to the build's "
                         "gst/rtmp/elements\n");
    return 1;
  }
  GstPlugin *plugin = gst_plugin_feature_get_plugin(GST_PLUGIN_FEATURE(f));
  std::printf("demo: using rtmpserversrc and rtmpsink from %s\n",
              plugin ? gst_plugin_get_filename(plugin) : "?");
  if (plugin)
    gst_object_unref(plugin);
  gst_object_unref(f);

  GstElement *receiver =
      launch("rtmpserversrc name=srv port=0 host=127.0.0.1 application=live stream-key=demo ! "
             "flvdemux name=d d.video ! queue ! fakesink name=vout sync=false d.audio ! queue ! "
             "fakesink name=aout sync=false");
  probe(receiver, "vout", "sink", &got_video);
  probe(receiver, "aout", "sink", &got_audio);
  gst_element_set_state(receiver, GST_STATE_PLAYING);
  GstElement *srv = gst_bin_get_by_name(GST_BIN(receiver), "srv");
  guint port = 0;
  g_object_get(srv, "bound-port", &port, nullptr);
  if (port == 0) {
    std::printf("demo: the receiver could not listen\n");
    return 1;
  }
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/demo";
  std::printf("demo: receiver listening on port %u; publishing %d s of %dx%d@%d H.264 + AAC to "
              "%s\n",
              port, seconds, 320, 240, kFramesPerSecond, url.c_str());

  GstElement *sender = launch(
      "videotestsrc is-live=true num-buffers=" + std::to_string(frames) +
      " ! video/x-raw,width=320,height=240,framerate=" + std::to_string(kFramesPerSecond) +
      "/1 ! taginject tags=\"title=\\\"" + std::string(kTitle) +
      "\\\"\" ! x264enc tune=zerolatency key-int-max=30 bitrate=800 ! h264parse ! "
      "video/x-h264,stream-format=avc ! identity name=venc ! queue ! mux. "
      "audiotestsrc is-live=true wave=ticks samplesperbuffer=" +
      std::to_string(kAudioSamplesPerBuffer) + " num-buffers=" + std::to_string(audio_buffers) +
      " ! audio/x-raw,rate=" + std::to_string(kAudioRate) +
      ",channels=2 ! voaacenc ! aacparse ! identity name=aenc ! queue ! mux. "
      "flvmux name=mux streamable=true metadatacreator=gst-rtmp-demo ! rtmpsink location=" +
      url);
  probe(sender, "venc", "src", &sent_video);
  probe(sender, "aenc", "src", &sent_audio);
  gst_element_set_state(sender, GST_STATE_PLAYING);

  GstBus *rbus = gst_element_get_bus(receiver);
  GstBus *sbus = gst_element_get_bus(sender);
  bool failed = false, sender_eos = false, receiver_eos = false;
  const gint64 start = g_get_monotonic_time();
  gint64 next_report = start + G_USEC_PER_SEC;
  guint64 last_bytes = 0;
  while (!failed && !receiver_eos) {
    g_usleep(50 * 1000);
    sender_eos = drain(sbus, "sender", failed) || sender_eos;
    receiver_eos = drain(rbus, "receiver", failed) || receiver_eos;
    const gint64 now = g_get_monotonic_time();
    if (now >= next_report || receiver_eos) {
      const guint64 bytes = got_video.total_bytes() + got_audio.total_bytes();
      std::printf("demo: t=%2llds sent %llu frames / %llu audio buffers, received %llu frames / "
                  "%llu audio buffers, %llu kbit/s\n",
                  static_cast<long long>((now - start) / G_USEC_PER_SEC),
                  static_cast<unsigned long long>(sent_video.count()),
                  static_cast<unsigned long long>(sent_audio.count()),
                  static_cast<unsigned long long>(got_video.count()),
                  static_cast<unsigned long long>(got_audio.count()),
                  static_cast<unsigned long long>((bytes - last_bytes) * 8 / 1000));
      std::fflush(stdout);
      last_bytes = bytes;
      next_report += G_USEC_PER_SEC;
    }
    if (now - start > static_cast<gint64>(kDeadlineSeconds) * G_USEC_PER_SEC) {
      std::printf("demo: not finished after %d s\n", kDeadlineSeconds);
      failed = true;
    }
  }

  GstStructure *stats = nullptr;
  g_object_get(srv, "stats", &stats, nullptr);
  gchar *stats_str = stats ? gst_structure_to_string(stats) : g_strdup("none");
  gst_element_set_state(sender, GST_STATE_NULL);
  gst_element_set_state(receiver, GST_STATE_NULL);

  std::printf("\ndemo: video caps received: %s\n", got_video.caps.c_str());
  std::printf("demo: audio caps received: %s\n", got_audio.caps.c_str());
  gchar *title = nullptr;
  gst_tag_list_get_string(tags_merged, GST_TAG_TITLE, &title);
  gchar *tags_str = gst_tag_list_to_string(tags_merged);
  std::printf("demo: tags received: %s\n", tags_str);
  g_free(tags_str);
  const bool tags_ok = title && std::string(title) == kTitle;
  g_free(title);
  std::printf("demo: server stats: %s\n", stats_str);
  const double elapsed = static_cast<double>(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
  std::printf("demo: %-6s %8s %8s  %-32s\n", "", "sent", "received", "MD5 chain sent / received");
  const std::string sv = sent_video.digest(), gv = got_video.digest();
  const std::string sa = sent_audio.digest(), ga = got_audio.digest();
  std::printf("demo: %-6s %8llu %8llu  %s / %s\n", "video",
              static_cast<unsigned long long>(sent_video.count()),
              static_cast<unsigned long long>(got_video.count()), sv.c_str(), gv.c_str());
  std::printf("demo: %-6s %8llu %8llu  %s / %s\n", "audio",
              static_cast<unsigned long long>(sent_audio.count()),
              static_cast<unsigned long long>(got_audio.count()), sa.c_str(), ga.c_str());

  const bool same = sent_video.count() == static_cast<guint64>(frames) &&
                    sent_audio.count() == static_cast<guint64>(audio_buffers) &&
                    got_video.count() == sent_video.count() &&
                    got_audio.count() == sent_audio.count() && sv == gv && sa == ga;
  const bool ok = !failed && receiver_eos && same && tags_ok;
  std::printf("demo: %s in %.1f s: %s\n", ok ? "PASS" : "FAIL", elapsed,
              ok       ? "every frame and audio buffer arrived intact, in order, with the metadata"
              : failed ? "a pipeline failed or the demo timed out"
              : !receiver_eos ? "the receiver did not reach EOS"
              : !same         ? "what arrived differs from what was sent"
                              : "the onMetaData tags did not arrive");
  g_free(stats_str);
  if (stats)
    gst_structure_free(stats);
  gst_object_unref(srv);
  gst_object_unref(rbus);
  gst_object_unref(sbus);
  gst_object_unref(sender);
  gst_object_unref(receiver);
  return ok ? 0 : 1;
}
