// GstHarness tests of rtmpsink and rtmpsrc: factories, caps, properties, URI handler, tags,
// timestamps, rejections and state changes, against FakeRtmpServer (our core's ServerSession on
// a loopback port) so that nothing here depends on an external server.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/command.hpp"
#include "core/flv.hpp"
#include "client_harness.hpp"
#include "element_test_util.hpp"
#include "elements/no_data_watch.h"
#include "tee_renegotiation.hpp"
#include "fake_server.hpp"
#include "our_plugin.hpp"

using namespace rtmp;
using rtmp::test::client_harness;
using rtmp::test::FakeRtmpServer;
using rtmp::test::FakeServerOptions;
using rtmp::test::plugin_file;
using namespace rtmp::test;

namespace {

class ClientElements : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// FLV spec 10.1 E.2: "FLV", version 1, flags audio+video (0x05), DataOffset 9, then
// PreviousTagSize0 = 0 (E.3).
const Bytes kFlvHeader = {0x46, 0x4C, 0x56, 0x01, 0x05, 0x00, 0x00,
                          0x00, 0x09, 0x00, 0x00, 0x00, 0x00};

// AAC sequence header (FLV spec 10.1 E.4.2.1: SoundFormat 10, 44 kHz, 16-bit, stereo = 0xAF;
// AACPacketType 0) with AudioSpecificConfig 0x12 0x10 (AAC LC, 44.1 kHz, 2 channels).
const Bytes kAacConfig = {0xAF, 0x00, 0x12, 0x10};
// AVC sequence header (E.4.3.1: 0x17, AVCPacketType 0, CTS 0) with a minimal
// AVCDecoderConfigurationRecord (ISO 14496-15 5.2.4.1: version 1, profile 66, level 30, 4-byte
// lengths, no SPS/PPS).
const Bytes kAvcConfig = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0x00, 0x1E, 0xFF, 0xE0, 0x00};
Bytes aac_frame(std::uint8_t fill) {
  return {0xAF, 0x01, fill, fill, fill};
}
// AVC keyframe NALU payload (E.4.3.1: FrameType 1, CodecID 7 = 0x17; AVCPacketType 1; CTS 0).
Bytes avc_frame(bool key, std::uint8_t fill) {
  return {static_cast<std::uint8_t>(key ? 0x17 : 0x27), 0x01, 0, 0, 0, 0, 0, 0, 1, fill};
}

// Pulls the next buffer that is not the |RtmpSampleAccess script tag a server sends with
// NetStream.Play.Start (nginx-rtmp and FMS do; it is part of the FLV stream, but not of what
// these tests script).
GstBuffer *pull_scripted(GstHarness *h) {
  for (;;) {
    GstBuffer *b = gst_harness_pull(h);
    if (!b)
      return nullptr;
    const Bytes bytes = buffer_bytes(b);
    static const char kSampleAccess[] = "|RtmpSampleAccess";
    if (bytes.size() > 14 + sizeof(kSampleAccess) && bytes[0] == 18 &&
        std::memcmp(bytes.data() + 14, kSampleAccess, sizeof(kSampleAccess) - 1) == 0) {
      gst_buffer_unref(b);
      continue;
    }
    return b;
  }
}

} // namespace

// ---- factories, caps, properties ----------------------------------------------------------

TEST_F(ClientElements, FactoriesComeFromOurPlugin) {
  const std::string dir = rtmp::test::our_plugin_dir();
  for (const char *name : {"rtmpsink", "rtmpsrc"}) {
    GstElementFactory *f = gst_element_factory_find(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_STREQ(gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(f)), "rtmp");
    EXPECT_EQ(gst_plugin_feature_get_rank(GST_PLUGIN_FEATURE(f)), GST_RANK_PRIMARY + 2);
    gst_object_unref(f);
    EXPECT_EQ(plugin_file(name).rfind(dir, 0), 0u) << name << " from " << plugin_file(name);
  }
}

// gst-inspect-1.0 shows the plugin's package and origin: the build's meson options, never a
// made-up address.
TEST_F(ClientElements, PluginOriginIsNoPlaceholder) {
  GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "rtmp");
  ASSERT_NE(plugin, nullptr);
  const std::string origin = gst_plugin_get_origin(plugin);
  const std::string package = gst_plugin_get_package(plugin);
  gst_object_unref(plugin);
  EXPECT_EQ(origin.find("invalid"), std::string::npos) << origin;
  EXPECT_EQ(origin.find("example"), std::string::npos) << origin;
  EXPECT_FALSE(origin.empty());
  EXPECT_EQ(package, "gst-rtmp");
}

TEST_F(ClientElements, PadTemplatesAreFlv) {
  for (const char *name : {"rtmpsink", "rtmpsrc"}) {
    GstElement *e = gst_element_factory_make(name, nullptr);
    ASSERT_NE(e, nullptr);
    GstPad *pad = gst_element_get_static_pad(e, strcmp(name, "rtmpsink") == 0 ? "sink" : "src");
    GstCaps *caps = gst_pad_get_pad_template_caps(pad);
    GstCaps *flv = gst_caps_from_string("video/x-flv");
    EXPECT_TRUE(gst_caps_is_equal(caps, flv)) << name;
    gst_caps_unref(flv);
    gst_caps_unref(caps);
    gst_object_unref(pad);
    gst_object_unref(e);
  }
}

// Errors and debug logs name an element by its object name and GType name
// (`/GstPipeline:pipeline0/GstRtmpSink:rtmpsink0`): both follow the factory.
TEST_F(ClientElements, TypeAndInstanceNamesFollowTheFactory) {
  const struct {
    const char *factory;
    const char *type_name;
  } cases[] = {{"rtmpsrc", "GstRtmpSrc"}, {"rtmpsink", "GstRtmpSink"}};
  for (const auto &c : cases) {
    GstElement *e = gst_element_factory_make(c.factory, nullptr);
    ASSERT_NE(e, nullptr) << c.factory;
    gchar *name = gst_element_get_name(e);
    EXPECT_TRUE(g_str_has_prefix(name, c.factory)) << name;
    // Only digits after the factory name: rtmpsrc0, not rtmpsrcsomething0.
    for (const char *p = name + strlen(c.factory); *p; ++p)
      EXPECT_TRUE(g_ascii_isdigit(*p)) << name;
    EXPECT_STREQ(G_OBJECT_TYPE_NAME(e), c.type_name);
    g_free(name);
    gst_object_unref(e);
  }
}

// gst-inspect-1.0 shows the blurbs: `location` gives its format, `stats` lists its fields.
TEST_F(ClientElements, BlurbsGiveTheLocationFormatAndTheStatsFields) {
  for (const char *name : {"rtmpsink", "rtmpsrc"}) {
    GstElement *e = gst_element_factory_make(name, nullptr);
    GObjectClass *klass = G_OBJECT_GET_CLASS(e);
    const std::string location =
        g_param_spec_get_blurb(g_object_class_find_property(klass, "location"));
    EXPECT_NE(location.find("rtmp[s]://"), std::string::npos) << name << ": " << location;
    const std::string stats = g_param_spec_get_blurb(g_object_class_find_property(klass, "stats"));
    GstStructure *s = nullptr;
    g_object_get(e, "stats", &s, nullptr);
    for (int i = 0; i < gst_structure_n_fields(s); ++i) {
      // "in-/out-chunk-size" names both directions of a field.
      std::string field = gst_structure_nth_field_name(s, i);
      for (const char *dir : {"in-", "out-"})
        if (field.rfind(dir, 0) == 0)
          field = field.substr(strlen(dir));
      EXPECT_NE(stats.find(field), std::string::npos) << name << ": " << field;
    }
    EXPECT_NE(stats.find("rtt-ms"), std::string::npos) << name;
    gst_structure_free(s);
    gst_object_unref(e);
  }
}

TEST_F(ClientElements, SinkPropertyDefaults) {
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  guint chunk = 0, timeout = 0, stop = 0;
  gint port = 0;
  gboolean reconnect = TRUE, async_connect = FALSE;
  guint64 max_queue = 0;
  g_object_get(e, "chunk-size", &chunk, "port", &port, "timeout", &timeout, "stop-commands", &stop,
               "reconnect", &reconnect, "max-queue-bytes", &max_queue, "async-connect",
               &async_connect, nullptr);
  EXPECT_EQ(chunk, 4096u);
  EXPECT_EQ(port, 1935);
  EXPECT_EQ(timeout, 5u);
  EXPECT_EQ(stop, 1u | 4u); // fcunpublish + deletestream, as rtmp2sink
  EXPECT_FALSE(reconnect);
  EXPECT_TRUE(async_connect);
  EXPECT_GT(max_queue, 0u);
  EXPECT_EQ(get_string(e, "location"), "rtmp://localhost/live/myStream");
  // Sink-only and source-only properties are not mixed.
  EXPECT_EQ(g_object_class_find_property(G_OBJECT_GET_CLASS(e), "buffer-length"), nullptr);
  gst_object_unref(e);
}

TEST_F(ClientElements, SrcPropertyDefaults) {
  GstElement *e = gst_element_factory_make("rtmpsrc", nullptr);
  guint buffer_length = 0, idle = 1;
  gboolean ra = FALSE, rv = FALSE, live = FALSE, no_eof = TRUE;
  gint64 start = 0;
  g_object_get(e, "buffer-length", &buffer_length, "idle-timeout", &idle, "receive-audio", &ra,
               "receive-video", &rv, "live", &live, "start", &start, "no-eof-is-error", &no_eof,
               nullptr);
  EXPECT_EQ(buffer_length, 3000u);
  EXPECT_EQ(idle, 0u);
  EXPECT_TRUE(ra);
  EXPECT_TRUE(rv);
  EXPECT_TRUE(live);
  EXPECT_EQ(start, -2);
  EXPECT_FALSE(no_eof);
  EXPECT_EQ(g_object_class_find_property(G_OBJECT_GET_CLASS(e), "chunk-size"), nullptr);
  gst_object_unref(e);
}

TEST_F(ClientElements, LocationFillsTheFieldsAndBack) {
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  g_object_set(e, "location", "rtmps://user:pw@example.com:4443/app/inst/key?t=1", nullptr);
  gint port = 0, scheme = -1;
  g_object_get(e, "port", &port, "scheme", &scheme, nullptr);
  EXPECT_EQ(port, 4443);
  EXPECT_EQ(scheme, 1); // rtmps
  EXPECT_EQ(get_string(e, "host"), "example.com");
  EXPECT_EQ(get_string(e, "application"), "app/inst");
  EXPECT_EQ(get_string(e, "stream"), "key?t=1");
  EXPECT_EQ(get_string(e, "username"), "user");
  EXPECT_EQ(get_string(e, "password"), "pw");
  // The location read back never carries the credentials.
  EXPECT_EQ(get_string(e, "location"), "rtmps://example.com:4443/app/inst/key?t=1");

  g_object_set(e, "host", "10.0.0.1", "port", 1935, "scheme", 0, "application", "live", "stream",
               "s", nullptr);
  EXPECT_EQ(get_string(e, "location"), "rtmp://10.0.0.1/live/s");
  gst_object_unref(e);
}

TEST_F(ClientElements, InvalidLocationLeavesTheFields) {
  GstElement *e = gst_element_factory_make("rtmpsrc", nullptr);
  g_object_set(e, "location", "rtmp://good.example/app/stream", nullptr);
  g_object_set(e, "location", "http://bad.example/x/y", nullptr);
  EXPECT_EQ(get_string(e, "location"), "rtmp://good.example/app/stream");
  GError *err = nullptr;
  EXPECT_FALSE(gst_uri_handler_set_uri(GST_URI_HANDLER(e), "rtmpt://h/a/b", &err));
  ASSERT_NE(err, nullptr);
  g_error_free(err);
  EXPECT_EQ(get_string(e, "host"), "good.example");
  gst_object_unref(e);
}

TEST_F(ClientElements, UriHandlerPicksOurElements) {
  GError *err = nullptr;
  GstElement *src =
      gst_element_make_from_uri(GST_URI_SRC, "rtmp://127.0.0.1/live/x", nullptr, &err);
  ASSERT_NE(src, nullptr) << (err ? err->message : "");
  GstElementFactory *f = gst_element_get_factory(src);
  EXPECT_STREQ(GST_OBJECT_NAME(f), "rtmpsrc");
  EXPECT_EQ(plugin_file("rtmpsrc"), plugin_file("rtmpsink"));
  gchar *uri = gst_uri_handler_get_uri(GST_URI_HANDLER(src));
  EXPECT_STREQ(uri, "rtmp://127.0.0.1/live/x");
  g_free(uri);
  const gchar *const *protocols = gst_uri_handler_get_protocols(GST_URI_HANDLER(src));
  ASSERT_NE(protocols, nullptr);
  EXPECT_TRUE(g_strv_contains(protocols, "rtmp"));
  EXPECT_TRUE(g_strv_contains(protocols, "rtmps"));
  gst_object_unref(src);

  GstElement *sink = gst_element_make_from_uri(GST_URI_SINK, "rtmps://h/live/y", nullptr, &err);
  ASSERT_NE(sink, nullptr);
  EXPECT_STREQ(GST_OBJECT_NAME(gst_element_get_factory(sink)), "rtmpsink");
  gst_object_unref(sink);
}

TEST_F(ClientElements, StatsIsAStructure) {
  for (const char *name : {"rtmpsink", "rtmpsrc"}) {
    GstElement *e = gst_element_factory_make(name, nullptr);
    GstStructure *s = nullptr;
    g_object_get(e, "stats", &s, nullptr);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(gst_structure_has_field(s, "out-chunk-size"));
    EXPECT_TRUE(gst_structure_has_field(s, "in-bytes-total"));
    EXPECT_TRUE(gst_structure_has_field(s, "reconnects"));
    EXPECT_TRUE(gst_structure_has_field(s, "dropped-bytes"));
    gst_structure_free(s);
    gst_object_unref(e);
  }
}

// Before any connection, `stats` does not contradict the properties: the chunk size we send with
// is the one that will be announced (rtmpsink: `chunk-size`; rtmpsrc: 4096), the peer's is the
// initial 128 of RTMP 1.0 section 5.4.1, nothing is counted and there is no RTT.
TEST_F(ClientElements, StatsBeforeConnectingFollowTheProperties) {
  auto chunk_sizes = [](GstElement *e) {
    GstStructure *s = nullptr;
    g_object_get(e, "stats", &s, nullptr);
    guint in = 0, out = 0;
    guint64 bytes_out = 1;
    EXPECT_TRUE(gst_structure_get_uint(s, "in-chunk-size", &in));
    EXPECT_TRUE(gst_structure_get_uint(s, "out-chunk-size", &out));
    EXPECT_TRUE(gst_structure_get_uint64(s, "out-bytes-total", &bytes_out));
    EXPECT_EQ(bytes_out, 0u);
    EXPECT_FALSE(gst_structure_has_field(s, "rtt-ms"));
    gst_structure_free(s);
    return std::pair<guint, guint>(in, out);
  };

  GstElement *sink = gst_element_factory_make("rtmpsink", nullptr);
  guint configured = 0;
  g_object_get(sink, "chunk-size", &configured, nullptr);
  EXPECT_EQ(chunk_sizes(sink), std::make_pair(128u, configured));
  g_object_set(sink, "chunk-size", 60000u, nullptr);
  EXPECT_EQ(chunk_sizes(sink), std::make_pair(128u, 60000u));
  gst_object_unref(sink);

  GstElement *src = gst_element_factory_make("rtmpsrc", nullptr);
  EXPECT_EQ(chunk_sizes(src), std::make_pair(128u, 4096u));
  gst_object_unref(src);
}

// ---- rtmpsrc against the fake server ------------------------------------------------------

TEST_F(ClientElements, SrcOutputsFlvWithStreamheaderTagsAndEos) {
  FakeServerOptions o;
  o.play_media.push_back(test::make_metadata(
      {{"title", "fake title"}, {"width", 640.0}, {"height", 360.0}, {"duration", 12.5}}));
  o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
  o.play_media.push_back(test::make_media(MessageType::video, 0, kAvcConfig));
  o.play_media.push_back(test::make_media(MessageType::video, 0, avc_frame(true, 1)));
  o.play_media.push_back(test::make_media(MessageType::audio, 23, aac_frame(2)));
  o.play_media.push_back(test::make_media(MessageType::video, 33, avc_frame(false, 3)));
  FakeRtmpServer server(o);

  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_play(h);

  GstBuffer *b = gst_harness_pull(h);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(buffer_bytes(b), kFlvHeader);
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_HEADER));
  gst_buffer_unref(b);

  // Then one FLV tag per message: metadata, AAC config, AVC config, AVC key, AAC, AVC delta.
  std::vector<FlvTag> tags;
  FlvReader reader;
  std::vector<GstClockTime> pts;
  for (int i = 0; i < 6; ++i) {
    b = pull_scripted(h);
    ASSERT_NE(b, nullptr) << i;
    pts.push_back(GST_BUFFER_PTS(b));
    const Bytes bytes = buffer_bytes(b);
    std::vector<FlvTag> one;
    ASSERT_FALSE(reader.read(bytes, one));
    ASSERT_EQ(one.size(), 1u) << "each buffer is exactly one tag";
    tags.push_back(one[0]);
    EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT), i == 5) << i;
    EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_HEADER), i <= 2) << i;
    gst_buffer_unref(b);
  }
  EXPECT_EQ(tags[0].type, 18);
  EXPECT_EQ(tags[1].data, kAacConfig);
  EXPECT_EQ(tags[2].data, kAvcConfig);
  EXPECT_EQ(tags[3].data, avc_frame(true, 1));
  EXPECT_EQ(tags[4].timestamp, 23u);
  EXPECT_EQ(tags[5].timestamp, 33u);
  EXPECT_EQ(pts[5], 33 * GST_MSECOND);

  // The caps now carry FLV header + onMetaData + both sequence headers.
  GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_NE(caps, nullptr);
  const GValue *sh = gst_structure_get_value(gst_caps_get_structure(caps, 0), "streamheader");
  ASSERT_NE(sh, nullptr);
  EXPECT_EQ(gst_value_array_get_size(sh), 4u);
  gst_caps_unref(caps);

  // Tags from onMetaData, then EOS (the server sent Stream EOF / Play.Stop).
  bool saw_title = false, saw_eos = false;
  for (int i = 0; i < 200 && !saw_eos; ++i) {
    GstEvent *ev = gst_harness_try_pull_event(h);
    if (!ev) {
      g_usleep(10000);
      continue;
    }
    if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG) {
      GstTagList *tl = nullptr;
      gst_event_parse_tag(ev, &tl);
      gchar *title = nullptr;
      if (gst_tag_list_get_string(tl, GST_TAG_TITLE, &title)) {
        EXPECT_STREQ(title, "fake title");
        saw_title = true;
        g_free(title);
      }
      guint64 duration = 0;
      if (gst_tag_list_get_uint64(tl, GST_TAG_DURATION, &duration)) {
        EXPECT_EQ(duration, 12500 * GST_MSECOND);
      }
    }
    saw_eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
    gst_event_unref(ev);
  }
  EXPECT_TRUE(saw_title);
  EXPECT_TRUE(saw_eos);
  EXPECT_TRUE(server.saw("PlayRequest"));
  gst_harness_teardown(h);
}

// RTMP timestamps are 32-bit ms (RTMP 1.0 section 5.3.1.3); above 0xFFFFFF they use the
// extended timestamp field, and they wrap at 2^32. Output time must stay monotonic.
TEST_F(ClientElements, SrcTimestampsCrossExtendedAndWrap) {
  FakeServerOptions o;
  // Steps stay below 2^31 ms, as between any two consecutive real messages.
  const std::uint32_t ts[] = {0xFFFFF0u,   0xFFFFFFu,   0x1000010u, 0x7FFFFFF0u,
                              0xFFFFFFE0u, 0x00000005u, 0x00000020u};
  for (std::uint32_t t : ts)
    o.play_media.push_back(test::make_media(MessageType::audio, t, aac_frame(1)));
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_play(h);
  gst_buffer_unref(gst_harness_pull(h)); // FLV header
  std::vector<GstClockTime> pts;
  std::vector<std::uint32_t> tag_ts;
  for (std::size_t i = 0; i < std::size(ts); ++i) {
    GstBuffer *b = pull_scripted(h);
    ASSERT_NE(b, nullptr);
    pts.push_back(GST_BUFFER_PTS(b));
    std::vector<FlvTag> one;
    FlvReader reader;
    ASSERT_FALSE(reader.read(buffer_bytes(b), one));
    ASSERT_EQ(one.size(), 1u);
    tag_ts.push_back(one[0].timestamp);
    gst_buffer_unref(b);
  }
  // Rebased to the first message; every step is the true forward step, across the 0xFFFFFF
  // extended-timestamp boundary and across the 2^32 wrap.
  const GstClockTime steps[] = {15, 17, 0x7FFFFFF0u - 0x1000010u, 0x7FFFFFF0u, 0x25, 0x1B};
  EXPECT_EQ(pts[0], 0u);
  for (std::size_t i = 1; i < pts.size(); ++i) {
    EXPECT_EQ(pts[i] - pts[i - 1], steps[i - 1] * GST_MSECOND) << i;
    // The FLV tag carries the same rebased time, modulo 2^32 (FLV spec 10.1 E.4.1).
    EXPECT_EQ(tag_ts[i], static_cast<std::uint32_t>(pts[i] / GST_MSECOND)) << i;
  }
  gst_harness_teardown(h);
}

// The first error an element posted: its text, GError domain and code.
struct PostedError {
  std::string text;
  GQuark domain = 0;
  gint code = 0;
};

// rtmpsrc playing `url`: the first error within 5 s.
static PostedError play_error(const std::string &url) {
  GstHarness *h = client_harness("rtmpsrc");
  ErrorWatch watch(h->element);
  g_object_set(h->element, "location", url.c_str(), nullptr);
  gst_harness_play(h);
  PostedError e;
  e.text = watch.wait(5000, &e.domain, &e.code);
  gst_harness_teardown(h);
  return e;
}

TEST_F(ClientElements, SrcPlayRejectedIsANotFoundError) {
  FakeServerOptions o;
  o.reject_play = {{std::string(status::play_stream_not_found), "No such stream"}};
  FakeRtmpServer server(o);
  const auto [text, domain, code] = play_error(server.url());
  EXPECT_NE(text.find("NetStream.Play.StreamNotFound"), std::string::npos) << text;
  EXPECT_NE(text.find("No such stream"), std::string::npos) << text;
  EXPECT_EQ(domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(code, GST_RESOURCE_ERROR_NOT_FOUND);
}

// ---- rtmpsink against the fake server -----------------------------------------------------

static Bytes flv_file() {
  Bytes f = make_flv_header(FlvHeader{true, true});
  // onMetaData script tag (FLV spec 10.1 E.5): "onMetaData" + ECMA array. With the audio fields
  // the AAC config tells, so that the sink has nothing to complete (no second onMetaData).
  const Message meta = test::make_metadata(
      {{"width", 320.0}, {"audiocodecid", 10.0}, {"audiosamplerate", 44100.0}, {"stereo", true}});
  write_flv_tag(18, 0, meta.payload, f);
  write_flv_tag(8, 0, kAacConfig, f);
  write_flv_tag(9, 0, avc_frame(true, 7), f);
  write_flv_tag(8, 23, aac_frame(8), f);
  write_flv_tag(9, 0x1000000, avc_frame(false, 9), f); // extended timestamp
  return f;
}

// rtmpsink publishing flv_file() to `url`: the push fails, then the first error within 1 s.
static PostedError publish_error(const std::string &url) {
  GstHarness *h = client_harness("rtmpsink");
  ErrorWatch watch(h->element);
  g_object_set(h->element, "location", url.c_str(), nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  const Bytes file = flv_file();
  EXPECT_EQ(gst_harness_push(h, gst_buffer_new_memdup(file.data(), file.size())), GST_FLOW_ERROR);
  PostedError e;
  e.text = watch.wait(1000, &e.domain, &e.code);
  gst_harness_teardown(h);
  return e;
}

TEST_F(ClientElements, SinkPublishesUnalignedFlv) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  const Bytes file = flv_file();
  // Odd-sized pieces: tags are cut anywhere (FLV header included).
  for (std::size_t off = 0; off < file.size(); off += 7) {
    const std::size_t n = std::min<std::size_t>(7, file.size() - off);
    ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(file.data() + off, n)), GST_FLOW_OK);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 5; }, 5000));
  const auto msgs = server.published();
  ASSERT_EQ(msgs.size(), 5u);
  // onMetaData is published wrapped in @setDataFrame.
  auto data = decode_data(msgs[0]);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->handler, handler::set_data_frame);
  EXPECT_EQ(msgs[1].payload, kAacConfig);
  EXPECT_EQ(msgs[2].kind(), MessageType::video);
  EXPECT_EQ(msgs[3].timestamp, 23u);
  EXPECT_EQ(msgs[4].timestamp, 0x1000000u);
  EXPECT_EQ(msgs[4].payload, avc_frame(false, 9));
  // Stop commands per stop-commands (FCUnpublish + deleteStream).
  EXPECT_TRUE(server.wait_until([&] { return server.saw("DeleteStream"); }, 3000));
  EXPECT_TRUE(server.saw("FCUnpublish"));
  gst_harness_teardown(h);
}

// video/x-flv caps whose streamheader is `header` (one buffer).
static GstCaps *flv_caps_with_streamheader(GstBuffer *header) {
  GstCaps *caps = gst_caps_new_empty_simple("video/x-flv");
  GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
  gst_value_array_init(&array, 1);
  g_value_init(&v, GST_TYPE_BUFFER);
  gst_value_set_buffer(&v, header);
  gst_value_array_append_and_take_value(&array, &v);
  gst_caps_set_value(caps, "streamheader", &array);
  g_value_unset(&array);
  return caps;
}

// Pushes an AAC frame at 23 ms and checks that the server got exactly the AAC sequence header
// and that frame, then tears the harness down.
static void expect_aac_config_then_frame_at_23(GstHarness *h, FakeRtmpServer &server) {
  Bytes tag;
  write_flv_tag(8, 23, aac_frame(1), tag);
  ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(tag.data(), tag.size())), GST_FLOW_OK);
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 2; }, 5000));
  g_usleep(100000);
  const auto msgs = server.published();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].payload, kAacConfig);
  EXPECT_EQ(msgs[1].timestamp, 23u);
  gst_harness_teardown(h);
}

TEST_F(ClientElements, SinkUsesStreamheaderAndSkipsInBandHeaders) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  Bytes header = make_flv_header(FlvHeader{true, true});
  write_flv_tag(8, 0, kAacConfig, header);
  GstBuffer *hb = gst_buffer_new_memdup(header.data(), header.size());
  GST_BUFFER_FLAG_SET(hb, GST_BUFFER_FLAG_HEADER);
  gst_harness_set_src_caps(h, flv_caps_with_streamheader(hb));
  // flvmux pushes the header in-band too, flagged HEADER: it must not be sent twice.
  ASSERT_EQ(gst_harness_push(h, hb), GST_FLOW_OK);
  expect_aac_config_then_frame_at_23(h, server);
}

// rtmpserversrc's streamheader starts with the FLV header alone and grows as the publisher's
// metadata and sequence headers arrive; those come in-band, flagged HEADER, after the sink has
// sent the streamheader it had: they are news and must be published.
TEST_F(ClientElements, SinkSendsInBandHeadersMissingFromTheStreamheader) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  const Bytes header = make_flv_header(FlvHeader{true, true});
  GstBuffer *hb = gst_buffer_new_memdup(header.data(), header.size());
  GST_BUFFER_FLAG_SET(hb, GST_BUFFER_FLAG_HEADER);
  gst_harness_set_src_caps(h, flv_caps_with_streamheader(hb));
  ASSERT_EQ(gst_harness_push(h, hb), GST_FLOW_OK); // the FLV header again: a copy
  Bytes config;
  write_flv_tag(8, 0, kAacConfig, config);
  GstBuffer *cb = gst_buffer_new_memdup(config.data(), config.size());
  GST_BUFFER_FLAG_SET(cb, GST_BUFFER_FLAG_HEADER);
  ASSERT_EQ(gst_harness_push(h, cb), GST_FLOW_OK);
  expect_aac_config_then_frame_at_23(h, server);
}

TEST_F(ClientElements, SinkPublishRejectedNamesTheServerCode) {
  FakeServerOptions o;
  o.reject_publish = {{std::string(status::publish_bad_name), "Stream already publishing"}};
  FakeRtmpServer server(o);
  const auto [text, domain, code] = publish_error(server.url());
  EXPECT_NE(text.find("server rejected publish"), std::string::npos) << text;
  EXPECT_NE(text.find("NetStream.Publish.BadName"), std::string::npos) << text;
  EXPECT_NE(text.find("Stream already publishing"), std::string::npos) << text;
  EXPECT_EQ(domain, GST_RESOURCE_ERROR);
}

TEST_F(ClientElements, SinkConnectRefusedIsAClearError) {
  const guint16 port = refused_port();
  const auto [text, domain, code] =
      publish_error("rtmp://127.0.0.1:" + std::to_string(port) + "/live/x");
  EXPECT_EQ(text.rfind("could not connect to 127.0.0.1:" + std::to_string(port), 0), 0u) << text;
  EXPECT_EQ(domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(code, GST_RESOURCE_ERROR_OPEN_WRITE);
}

TEST_F(ClientElements, ConnectRejectedIsNotAuthorized) {
  FakeServerOptions o;
  o.reject_connect = {{std::string(status::connect_rejected), "go away"}};
  FakeRtmpServer server(o);
  const auto [text, domain, code] = play_error(server.url());
  EXPECT_NE(text.find("go away"), std::string::npos) << text;
  EXPECT_EQ(domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(code, GST_RESOURCE_ERROR_NOT_AUTHORIZED) << text;
}

// ---- state changes ------------------------------------------------------------------------

// Whatever the server does (here: accept TCP and never answer), PLAYING -> NULL returns within
// 1 s for both elements, while they are blocked waiting for the handshake.
TEST_F(ClientElements, NullWithin1sWithASilentServer) {
  FakeServerOptions o;
  o.silent = true;
  FakeRtmpServer server(o);
  for (const std::string &desc :
       {"rtmpsrc timeout=30 location=" + server.url() + " ! fakesink",
        "audiotestsrc is-live=1 ! avenc_aac ! flvmux streamable=1 ! rtmpsink timeout=30 "
        "location=" +
            server.url()}) {
    GError *err = nullptr;
    GstElement *p = gst_parse_launch(desc.c_str(), &err);
    ASSERT_NE(p, nullptr) << (err ? err->message : "");
    gst_element_set_state(p, GST_STATE_PLAYING);
    ASSERT_TRUE(server.wait_until([&] { return server.connections() > 0; }, 5000));
    g_usleep(300000);
    const auto t0 = std::chrono::steady_clock::now();
    gst_element_set_state(p, GST_STATE_NULL);
    EXPECT_LT(elapsed_ms(t0), 1000.0) << desc;
    gst_object_unref(p);
  }
}

TEST_F(ClientElements, NullWithin1sWithNoServer) {
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(refused_port()) + "/live/x";
  GstElement *p = gst_parse_launch(("rtmpsrc location=" + url + " ! fakesink").c_str(), nullptr);
  gst_element_set_state(p, GST_STATE_PLAYING);
  g_usleep(200000);
  const auto t0 = std::chrono::steady_clock::now();
  gst_element_set_state(p, GST_STATE_NULL);
  EXPECT_LT(elapsed_ms(t0), 1000.0);
  gst_object_unref(p);
}

// ---- authentication (Adobe and Limelight, answered by our core's server side) --------------

namespace {

FakeServerOptions auth_server(auth::Method method) {
  FakeServerOptions o;
  o.config.auth.method = method;
  o.config.auth.lookup = [](std::string_view user) -> std::optional<std::string> {
    if (user == "alice")
      return std::string("s3cret");
    return std::nullopt;
  };
  o.config.auth.random = [](std::span<std::uint8_t> out) {
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<std::uint8_t>(i * 37 + 11);
  };
  return o;
}

// Publishes one small FLV file; returns the flow return of the push.
GstFlowReturn publish_once(GstHarness *h) {
  gst_harness_set_src_caps_str(h, "video/x-flv");
  const Bytes file = flv_file();
  return gst_harness_push(h, gst_buffer_new_memdup(file.data(), file.size()));
}

} // namespace

TEST_F(ClientElements, SinkAuthenticatesAdobeAndLlnw) {
  for (auto method : {auth::Method::adobe, auth::Method::llnw}) {
    FakeRtmpServer server(auth_server(method));
    GstHarness *h = client_harness("rtmpsink");
    const std::string url =
        "rtmp://alice:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/live/test";
    g_object_set(h->element, "location", url.c_str(), nullptr);
    EXPECT_EQ(publish_once(h), GST_FLOW_OK) << auth::to_string(method);
    EXPECT_TRUE(server.wait_until([&] { return !server.published().empty(); }, 3000));
    // The challenge needs more than one connection (rejection with the challenge, then the
    // response in the app's query).
    EXPECT_GE(server.connections(), 2) << auth::to_string(method);
    gst_harness_teardown(h);
  }
}

TEST_F(ClientElements, SrcAuthenticatesWithUsernamePasswordProperties) {
  FakeServerOptions o = auth_server(auth::Method::adobe);
  o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), "username", "alice", "password",
               "s3cret", "authmod", 2 /* adobe */, nullptr);
  gst_harness_play(h);
  gst_buffer_unref(gst_harness_pull(h)); // FLV header
  GstBuffer *b = pull_scripted(h);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_HEADER)); // the AAC config
  gst_buffer_unref(b);
  gst_harness_teardown(h);
}

TEST_F(ClientElements, WrongPasswordIsAClearAuthError) {
  for (auto method : {auth::Method::adobe, auth::Method::llnw}) {
    FakeRtmpServer server(auth_server(method));
    GstHarness *h = client_harness("rtmpsink");
    ErrorWatch watch(h->element);
    const std::string url =
        "rtmp://alice:wrong@127.0.0.1:" + std::to_string(server.port()) + "/live/test";
    g_object_set(h->element, "location", url.c_str(), nullptr);
    EXPECT_EQ(publish_once(h), GST_FLOW_ERROR);
    GQuark domain = 0;
    gint code = 0;
    const std::string text = watch.wait(1000, &domain, &code);
    EXPECT_EQ(code, GST_RESOURCE_ERROR_NOT_AUTHORIZED) << text;
    EXPECT_TRUE(text.find("authentication") != std::string::npos ||
                text.find("rejected") != std::string::npos)
        << text;
    EXPECT_TRUE(server.published().empty());
    gst_harness_teardown(h);
  }
}

// Upstream tags go into onMetaData: merged into the one of the stream, and sent as an updated
// onMetaData when they arrive while publishing.
TEST_F(ClientElements, SinkMergesTagsIntoMetadata) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  GstTagList *tl = gst_tag_list_new(GST_TAG_TITLE, "first title", nullptr);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_tag(tl)));
  const Bytes file = flv_file();
  ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(file.data(), file.size())), GST_FLOW_OK);
  tl = gst_tag_list_new(GST_TAG_TITLE, "second title", GST_TAG_ARTIST, "someone", nullptr);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_tag(tl)));
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 6; }, 5000));
  const auto msgs = server.published();
  std::vector<DataMessage> metas;
  for (const Message &m : msgs) {
    if (m.kind() != MessageType::data_amf0)
      continue;
    auto d = decode_data(m);
    ASSERT_TRUE(d.ok());
    metas.push_back(unwrap_set_data_frame(*d));
  }
  ASSERT_EQ(metas.size(), 2u);
  ASSERT_FALSE(metas[0].values.empty());
  EXPECT_EQ(metas[0].values[0].string_at("title"), "first title");
  EXPECT_EQ(metas[0].values[0].number_at("width"), 320.0); // the stream's own field kept
  EXPECT_EQ(metas[1].values[0].string_at("title"), "second title");
  EXPECT_EQ(metas[1].values[0].string_at("artist"), "someone");
  EXPECT_EQ(metas[1].values[0].number_at("width"), 320.0);
  gst_harness_teardown(h);
}

// An onMetaData without width/height/framerate gets them from the SPS of the AVC sequence header
// (the completed onMetaData follows the header); a garbage SPS adds nothing.
static std::vector<DataMessage> published_metadata(const Bytes &avc_config) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  Bytes f = make_flv_header(FlvHeader{true, false});
  write_flv_tag(18, 0, test::make_metadata({{"duration", 0.0}}).payload, f);
  write_flv_tag(9, 0, avc_config, f);
  write_flv_tag(9, 0, avc_frame(true, 7), f);
  EXPECT_EQ(gst_harness_push(h, gst_buffer_new_memdup(f.data(), f.size())), GST_FLOW_OK);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_TRUE(server.wait_until([&] { return server.saw("DeleteStream"); }, 5000));
  std::vector<DataMessage> metas;
  for (const Message &m : server.published()) {
    if (m.kind() != MessageType::data_amf0)
      continue;
    auto d = decode_data(m);
    EXPECT_TRUE(d.ok());
    if (d.ok())
      metas.push_back(unwrap_set_data_frame(*d));
  }
  gst_harness_teardown(h);
  return metas;
}

TEST_F(ClientElements, SinkFillsPictureSizeAndFramerateFromSps) {
  // FLV AVC sequence header (E.4.3.1: 0x17, AVCPacketType 0, CTS 0) + the avcC x264enc wrote for
  // video/x-raw,format=I420,width=642,height=362,framerate=30/1 (see tests/core/test_avc_sps.cpp).
  Bytes config = {0x17, 0x00, 0x00, 0x00, 0x00};
  const char *avcc = "0164001effe1001e6764001eacd940a42fe224c05a8303035280000003008000001e478b16cb0"
                     "1000568ebecb22c";
  for (const char *c = avcc; c[0] && c[1]; c += 2)
    config.push_back(static_cast<std::uint8_t>(std::stoi(std::string(c, 2), nullptr, 16)));
  auto metas = published_metadata(config);
  ASSERT_EQ(metas.size(), 2u);
  EXPECT_FALSE(metas[0].values[0].number_at("width")); // nothing known before the header
  EXPECT_EQ(metas[1].values[0].number_at("width"), 642.0);
  EXPECT_EQ(metas[1].values[0].number_at("height"), 362.0);
  EXPECT_EQ(metas[1].values[0].number_at("framerate"), 30.0);
  EXPECT_EQ(metas[1].values[0].number_at("videocodecid"), 7.0);

  // The same header with the SPS fields after profile/level zeroed (an exp-Golomb code longer
  // than 32 bits): the codec id only.
  for (std::size_t i = 5 + 8 + 4; i < 5 + 8 + 30; ++i)
    config[i] = 0x00;
  metas = published_metadata(config);
  ASSERT_EQ(metas.size(), 2u);
  EXPECT_EQ(metas[1].values[0].number_at("videocodecid"), 7.0);
  EXPECT_FALSE(metas[1].values[0].number_at("width"));
  EXPECT_FALSE(metas[1].values[0].number_at("framerate"));
}

// peak-kbps paces the output: 40 KB of media at 320 kbit/s take about 1 s instead of
// arriving at once.
TEST_F(ClientElements, SinkPeakKbpsPacesTheOutput) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), "peak-kbps", 320u, nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  Bytes file = make_flv_header(FlvHeader{true, true});
  for (int i = 0; i < 10; ++i) {
    Bytes frame = avc_frame(i == 0, static_cast<std::uint8_t>(i));
    frame.resize(4000, 0x55);
    write_flv_tag(9, static_cast<std::uint32_t>(i * 33), frame, file);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t off = 0; off < file.size(); off += 4096) {
    const std::size_t n = std::min<std::size_t>(4096, file.size() - off);
    ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(file.data() + off, n)), GST_FLOW_OK);
  }
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 10; }, 5000));
  const double ms = elapsed_ms(t0);
  // 40000 bytes * 8 / 320 kbit/s = 1000 ms (the last frame's share is not waited for).
  EXPECT_GT(ms, 800.0);
  EXPECT_LT(ms, 3000.0);
  gst_harness_teardown(h);
}

// ---- source commands and endings --------------------------------------------------------------

TEST_F(ClientElements, SrcSendsBufferLengthAndReceiveCommands) {
  FakeServerOptions o;
  o.end_after_media = false;
  o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
  for (std::uint32_t i = 1; i <= 50; ++i)
    o.play_media.push_back(test::make_media(MessageType::audio, i * 23, aac_frame(1)));
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), "buffer-length", 1234u,
               "receive-audio", FALSE, nullptr);
  gst_harness_play(h);
  gst_buffer_unref(gst_harness_pull(h)); // FLV header
  gst_buffer_unref(pull_scripted(h));    // the AAC config: we are playing
  EXPECT_TRUE(server.wait_until([&] { return server.saw("SetBufferLength"); }, 2000));
  EXPECT_TRUE(server.wait_until([&] { return server.saw("ReceiveAudio"); }, 2000));
  EXPECT_FALSE(server.saw("ReceiveVideo"));
  // Changed while playing: sent by the streaming thread before its next message.
  g_object_set(h->element, "receive-video", FALSE, nullptr);
  for (int i = 0; i < 3; ++i)
    gst_buffer_unref(pull_scripted(h));
  EXPECT_TRUE(server.wait_until([&] { return server.saw("ReceiveVideo"); }, 2000));
  gst_harness_teardown(h);
}

TEST_F(ClientElements, SrcIdleTimeoutIsAnError) {
  FakeServerOptions o;
  o.end_after_media = false; // plays, then sends nothing
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  ErrorWatch watch(h->element);
  g_object_set(h->element, "location", server.url().c_str(), "idle-timeout", 1u, nullptr);
  gst_harness_play(h);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string text = watch.wait(4000);
  EXPECT_NE(text.find("no data for 1 s"), std::string::npos) << text;
  EXPECT_GT(elapsed_ms(t0), 800.0);
  gst_harness_teardown(h);
}

// Waits up to `ms` for EOS on the harness's sink pad.
static bool wait_eos(GstHarness *h, int ms) {
  for (int i = 0; i < ms / 10; ++i) {
    GstEvent *ev = gst_harness_try_pull_event(h);
    if (!ev) {
      g_usleep(10000);
      continue;
    }
    const bool eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
    gst_event_unref(ev);
    if (eos)
      return true;
  }
  return false;
}

// librtmp's meaning of `timeout` (set, idle-timeout not set): a play that receives nothing ends
// with EOS, not an error.
TEST_F(ClientElements, SrcTimeoutEndsASilentPlayWithEos) {
  FakeServerOptions o;
  o.end_after_media = false; // plays, then sends nothing
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  ErrorWatch watch(h->element);
  g_object_set(h->element, "location", server.url().c_str(), "timeout", 1u, nullptr);
  gst_harness_play(h);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_eos(h, 4000));
  EXPECT_GT(elapsed_ms(t0), 800.0);
  EXPECT_EQ(watch.wait(200), "");
  gst_harness_teardown(h);
}

// rtmp2's meaning: idle-timeout set, even to 0, decides alone; 0 waits for ever.
TEST_F(ClientElements, SrcIdleTimeoutZeroKeepsASilentPlayDespiteTimeout) {
  FakeServerOptions o;
  o.end_after_media = false;
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  ErrorWatch watch(h->element);
  g_object_set(h->element, "location", server.url().c_str(), "timeout", 1u, "idle-timeout", 0u,
               nullptr);
  gst_harness_play(h);
  EXPECT_FALSE(wait_eos(h, 2500));
  EXPECT_EQ(watch.wait(10), "");
  gst_harness_teardown(h);
}

// The precedence of no_data_watch.h, and what restarts each clock.
TEST(NoDataWatch, IdleTimeoutSetDecidesAloneThenTimeoutThenLibrtmpDefault) {
  using rtmp::gst::no_data_limit;
  using rtmp::gst::NoDataRule;
  struct Row {
    bool idle_set;
    unsigned idle;
    bool timeout_set;
    unsigned timeout;
    NoDataRule rule;
    unsigned seconds;
  };
  const Row rows[] = {
      {false, 0, false, 5, NoDataRule::bytes, rtmp::gst::kLibrtmpSrcDefaultTimeoutSeconds},
      {false, 0, true, 3, NoDataRule::bytes, 3},
      {false, 0, true, 0, NoDataRule::none, 0},
      {true, 0, true, 3, NoDataRule::none, 0},
      {true, 0, false, 5, NoDataRule::none, 0},
      {true, 2, true, 30, NoDataRule::media, 2},
      {true, 2, false, 5, NoDataRule::media, 2},
  };
  for (const Row &r : rows) {
    const auto l = no_data_limit(r.idle_set, r.idle, r.timeout_set, r.timeout);
    EXPECT_EQ(l.rule, r.rule) << r.idle_set << r.idle << r.timeout_set << r.timeout;
    EXPECT_EQ(l.seconds, r.seconds) << r.idle_set << r.idle << r.timeout_set << r.timeout;
  }
}

TEST(NoDataWatch, BytesRestartTheTimeoutClockOnlyMediaTheIdleClock) {
  using rtmp::gst::NoDataLimit;
  using rtmp::gst::NoDataRule;
  using rtmp::gst::NoDataWatch;
  constexpr std::int64_t s = 1'000'000;
  NoDataWatch bytes(NoDataLimit{NoDataRule::bytes, 3});
  bytes.start(10 * s, 100);
  EXPECT_EQ(bytes.deadline_us(), 13 * s);
  bytes.observe(12 * s, 100, false); // nothing new
  EXPECT_FALSE(bytes.expired(12 * s));
  EXPECT_TRUE(bytes.expired(13 * s));
  bytes.observe(12 * s, 112, false); // a ping: data
  EXPECT_EQ(bytes.deadline_us(), 15 * s);

  NoDataWatch media(NoDataLimit{NoDataRule::media, 2});
  media.start(10 * s, 100);
  media.observe(11 * s, 5000, false); // bytes without media do not count
  EXPECT_TRUE(media.expired(12 * s));
  media.observe(12 * s, 6000, true);
  EXPECT_EQ(media.deadline_us(), 14 * s);

  NoDataWatch none(NoDataLimit{});
  none.start(10 * s, 0);
  EXPECT_EQ(none.deadline_us(), -1);
  EXPECT_FALSE(none.expired(1000 * s));
}

TEST_F(ClientElements, SrcConnectionClosedWithoutEofDependsOnNoEofIsError) {
  for (gboolean no_eof_is_error : {gboolean(FALSE), gboolean(TRUE)}) {
    FakeServerOptions o;
    o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
    o.close_after_media = true;
    FakeRtmpServer server(o);
    GstHarness *h = client_harness("rtmpsrc");
    ErrorWatch watch(h->element);
    g_object_set(h->element, "location", server.url().c_str(), "no-eof-is-error", no_eof_is_error,
                 nullptr);
    gst_harness_play(h);
    bool saw_eos = false;
    for (int i = 0; i < 300 && !saw_eos; ++i) {
      GstEvent *ev = gst_harness_try_pull_event(h);
      if (!ev) {
        g_usleep(10000);
        continue;
      }
      saw_eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
      gst_event_unref(ev);
    }
    const std::string text = watch.wait(no_eof_is_error ? 2000 : 200);
    // EOS downstream either way (GstBaseSrc also sends EOS after a flow error); the error
    // message is what no-eof-is-error adds.
    EXPECT_TRUE(saw_eos) << no_eof_is_error;
    EXPECT_EQ(text.empty(), !no_eof_is_error) << text;
    if (no_eof_is_error) {
      EXPECT_NE(text.find("closed"), std::string::npos) << text;
    }
    gst_harness_teardown(h);
  }
}

// The stats property reflects the connection: bytes, chunk size we send with, and the RTT of
// the ping sent after createStream (answered by the server's core session).
TEST_F(ClientElements, SinkStatsAfterPublishing) {
  FakeRtmpServer server;
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", server.url().c_str(), "chunk-size", 8192u, nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  const Bytes file = flv_file();
  ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(file.data(), file.size())), GST_FLOW_OK);
  // Another buffer later: stats are refreshed by render().
  g_usleep(100000);
  Bytes tag;
  write_flv_tag(8, 50, aac_frame(3), tag);
  ASSERT_EQ(gst_harness_push(h, gst_buffer_new_memdup(tag.data(), tag.size())), GST_FLOW_OK);
  GstStructure *s = nullptr;
  g_object_get(h->element, "stats", &s, nullptr);
  ASSERT_NE(s, nullptr);
  guint out_chunk = 0;
  guint64 out_bytes = 0, out_media = 0, rtt = 0;
  EXPECT_TRUE(gst_structure_get_uint(s, "out-chunk-size", &out_chunk));
  EXPECT_EQ(out_chunk, 8192u);
  EXPECT_TRUE(gst_structure_get_uint64(s, "out-bytes-total", &out_bytes));
  EXPECT_GT(out_bytes, file.size());
  EXPECT_TRUE(gst_structure_get_uint64(s, "out-media-messages", &out_media));
  EXPECT_GE(out_media, 5u);
  EXPECT_TRUE(gst_structure_get_uint64(s, "rtt-ms", &rtt)) << gst_structure_to_string(s);
  EXPECT_LT(rtt, 1000u);
  gst_structure_free(s);
  gst_harness_teardown(h);
}

// The same renegotiation as rtmpserversrc's RenegotiationWithAHeldTeeBranch... (see
// tee_renegotiation.hpp): rtmpsrc answers GstBaseSrc's ALLOCATION query itself, so a `tee`
// branch holding its buffers does not stop the other one.
TEST_F(ClientElements, SrcRenegotiationWithAHeldTeeBranchKeepsTheOtherBranchFlowing) {
  FakeServerOptions o;
  o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
  o.play_media.push_back(test::make_media(MessageType::video, 0, kAvcConfig));
  o.play_media.push_back(test::make_media(MessageType::video, 0, avc_frame(true, 1)));
  for (std::uint32_t i = 1; i <= 20; ++i) {
    o.play_media.push_back(test::make_media(MessageType::audio, i * 20, aac_frame(2)));
    o.play_media.push_back(test::make_media(MessageType::video, i * 40, avc_frame(false, 3)));
  }
  FakeRtmpServer server(o);
  // The FLV header, |RtmpSampleAccess (sent with Play.Start, as nginx-rtmp does), every message.
  const int want = 2 + static_cast<int>(o.play_media.size());
  const int got = test::free_branch_buffers_after_renegotiation(
      "rtmpsrc location=" + server.url(), [](GstElement *) {}, want, 10000);
  EXPECT_EQ(got, want) << "the free branch stopped";
}

// do-timestamp=true (output=flv): the buffers carry the running time of their arrival (GstBaseSrc
// stamps buffers without timestamps), not the stream's, which jumps 10 s here although
// everything arrives at once.
TEST_F(ClientElements, SrcDoTimestampStampsArrivalTime) {
  FakeServerOptions o;
  o.play_media.push_back(test::make_media(MessageType::video, 0, kAvcConfig));
  o.play_media.push_back(test::make_media(MessageType::video, 0, avc_frame(true, 1)));
  o.play_media.push_back(test::make_media(MessageType::video, 10000, avc_frame(false, 2)));
  FakeRtmpServer server(o);
  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), "do-timestamp", TRUE, nullptr);
  gst_harness_play(h);
  gst_buffer_unref(gst_harness_pull(h)); // the FLV header
  std::vector<GstClockTime> dts;
  for (int i = 0; i < 3; ++i) {
    GstBuffer *b = pull_scripted(h);
    ASSERT_NE(b, nullptr) << i;
    dts.push_back(GST_BUFFER_DTS(b));
    EXPECT_EQ(GST_BUFFER_PTS(b), GST_BUFFER_DTS(b)) << i;
    gst_buffer_unref(b);
  }
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(dts[1]) && GST_CLOCK_TIME_IS_VALID(dts[2]));
  EXPECT_LT(dts[2] - dts[1], GST_SECOND) << "stream time (10 s apart), not arrival time";
  gst_harness_teardown(h);
}
