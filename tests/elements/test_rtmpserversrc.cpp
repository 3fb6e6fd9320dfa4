// GstHarness tests of rtmpserversrc: factory, pad template and caps, property defaults,
// location parsing (port 0 included), bound-port, state changes to NULL within 1 s (nothing
// connected, a silent TCP client connected, a publisher connected), and a loopback publish from
// our rtmpsink in the same process: the FLV tags arrive unchanged, onTextData / onCuePoint stay
// in the stream and become `rtmp-text-data` / `rtmp-cue-point` element messages (issue 5).
#include <gio/gio.h>
#include <gst/base/gstbasesrc.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "elements/flv_output.h"
#include "client_harness.hpp"
#include "element_test_util.hpp"
#include "our_plugin.hpp"
#include "tee_renegotiation.hpp"

using namespace rtmp;
using namespace rtmp::test;

namespace {

class ServerSrc : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

guint get_uint(GstElement *e, const char *prop) {
  guint v = 0;
  g_object_get(e, prop, &v, nullptr);
  return v;
}

std::string enum_nick(GstElement *e, const char *prop) {
  GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop);
  if (!spec || !G_IS_PARAM_SPEC_ENUM(spec))
    return {};
  gint v = 0;
  g_object_get(e, prop, &v, nullptr);
  GEnumValue *ev = g_enum_get_value(G_PARAM_SPEC_ENUM(spec)->enum_class, v);
  return ev ? ev->value_nick : "";
}

// A TCP connection to 127.0.0.1:port that sends nothing (a silent client).
GSocketConnection *tcp_connect(guint port) {
  GSocketClient *client = g_socket_client_new();
  GSocketConnection *c = g_socket_client_connect_to_host(
      client, ("127.0.0.1:" + std::to_string(port)).c_str(), 0, nullptr, nullptr);
  g_object_unref(client);
  return c;
}

// Sets `h`'s element to NULL and returns how long that took, in ms.
double time_to_null(GstHarness *h) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(gst_element_set_state(h->element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  return elapsed_ms(t0);
}

// A harness around a fresh rtmpserversrc listening on a free loopback port, PLAYING.
GstHarness *start_server(const char *extra_location = nullptr) {
  GstHarness *h = gst_harness_new("rtmpserversrc");
  g_object_set(h->element, "location",
               extra_location ? extra_location : "rtmp://127.0.0.1:0/live/key", nullptr);
  gst_harness_play(h);
  return h;
}

// Element messages named `name` posted on `bus` within `ms` (others are dropped).
GstStructure *wait_element_message(GstBus *bus, const char *name, int ms) {
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(ms) * 1000;
  for (;;) {
    const gint64 left = end - g_get_monotonic_time();
    if (left <= 0)
      return nullptr;
    GstMessage *m = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(left) * GST_USECOND,
                                               GST_MESSAGE_ELEMENT);
    if (!m)
      return nullptr;
    const GstStructure *s = gst_message_get_structure(m);
    GstStructure *copy = s && gst_structure_has_name(s, name) ? gst_structure_copy(s) : nullptr;
    gst_message_unref(m);
    if (copy)
      return copy;
  }
}

// The next buffer of `h` within `ms`, or nullptr.
GstBuffer *pull_within(GstHarness *h, int ms) {
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(ms) * 1000;
  while (g_get_monotonic_time() < end) {
    if (GstBuffer *b = gst_harness_try_pull(h))
      return b;
    g_usleep(2000);
  }
  return nullptr;
}

// FLV spec 10.1 E.2: "FLV", version 1, audio+video flags 0x05, header size 9, then
// PreviousTagSize0 = 0: the first buffer of the output.
const Bytes kFlvHeader = {0x46, 0x4C, 0x56, 0x01, 0x05, 0x00, 0x00,
                          0x00, 0x09, 0x00, 0x00, 0x00, 0x00};

// The next buffer of `h`, which must be the FLV header (flagged HEADER); returns its DTS
// (it is stamped like the first message, which follows it).
GstClockTime expect_header_first(GstHarness *h) {
  GstBuffer *b = pull_within(h, 20000);
  EXPECT_NE(b, nullptr) << "no FLV header";
  if (!b)
    return GST_CLOCK_TIME_NONE;
  EXPECT_EQ(buffer_bytes(b), kFlvHeader);
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_HEADER));
  const GstClockTime dts = GST_BUFFER_DTS(b);
  gst_buffer_unref(b);
  return dts;
}

Bytes flv_tag(std::uint8_t type, std::uint32_t ts, const Bytes &payload) {
  Bytes out;
  EXPECT_FALSE(write_flv_tag(type, ts, payload, out));
  return out;
}

Bytes data_payload(const char *handler, amf::Value arg) {
  return encode_data(DataMessage{handler, {std::move(arg)}}, 1, 0).payload;
}

} // namespace

TEST_F(ServerSrc, FactoryComesFromOurPlugin) {
  GstElementFactory *f = gst_element_factory_find("rtmpserversrc");
  ASSERT_NE(f, nullptr);
  EXPECT_STREQ(gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(f)), "rtmp");
  const std::string file = rtmp::test::plugin_file("rtmpserversrc");
  EXPECT_EQ(file.rfind(rtmp::test::our_plugin_dir(), 0), 0u) << "rtmpserversrc from " << file;
  EXPECT_STREQ(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS), "Source/Network");
  gst_object_unref(f);
}

TEST_F(ServerSrc, SrcPadTemplateIsFlvAndTheSourceIsLive) {
  GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
  ASSERT_NE(e, nullptr);
  GstPadTemplate *t = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(e), "src");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(GST_PAD_TEMPLATE_DIRECTION(t), GST_PAD_SRC);
  GstCaps *caps = gst_pad_template_get_caps(t);
  GstCaps *flv = gst_caps_from_string("video/x-flv");
  EXPECT_TRUE(gst_caps_is_equal(caps, flv));
  gst_caps_unref(flv);
  gst_caps_unref(caps);
  EXPECT_TRUE(gst_base_src_is_live(GST_BASE_SRC(e)));
  gst_object_unref(e);
}

TEST_F(ServerSrc, PropertyDefaults) {
  GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(get_string(e, "location"), "rtmp://0.0.0.0:1935/*/*");
  EXPECT_EQ(get_string(e, "host"), "0.0.0.0");
  EXPECT_EQ(get_uint(e, "port"), 1935u);
  EXPECT_EQ(get_uint(e, "bound-port"), 0u);
  EXPECT_EQ(get_string(e, "application"), "");
  EXPECT_EQ(get_string(e, "stream-key"), "");
  EXPECT_EQ(get_string(e, "certificate-file"), "");
  EXPECT_EQ(get_string(e, "private-key-file"), "");
  EXPECT_EQ(get_uint(e, "chunk-size"), 4096u);
  EXPECT_EQ(get_uint(e, "window-ack-size"), 2500000u);
  EXPECT_EQ(get_uint(e, "max-connections"), 512u);
  EXPECT_EQ(get_uint(e, "max-connections-per-address"), 16u);
  EXPECT_EQ(get_uint(e, "role-timeout"), 5u);
  EXPECT_EQ(get_uint(e, "handshake-timeout"), 10u);
  EXPECT_EQ(get_uint(e, "idle-timeout"), 30u);
  EXPECT_EQ(get_uint(e, "max-message-size"), 8u << 20);
  EXPECT_EQ(enum_nick(e, "on-disconnect"), "eos");
  EXPECT_EQ(get_uint(e, "reconnect-timeout"), 10u);
  EXPECT_EQ(enum_nick(e, "auth"), "none");
  EXPECT_EQ(get_string(e, "username"), "");
  EXPECT_EQ(get_string(e, "password"), "");
  GstStructure *stats = nullptr;
  g_object_get(e, "stats", &stats, nullptr);
  ASSERT_NE(stats, nullptr);
  EXPECT_TRUE(gst_structure_has_name(stats, "rtmpserversrc-stats"));
  guint64 connections = 99;
  EXPECT_TRUE(gst_structure_get_uint64(stats, "connections", &connections));
  EXPECT_EQ(connections, 0u);
  gst_structure_free(stats);
  gst_object_unref(e);
}

TEST_F(ServerSrc, LocationFillsTheFieldsAndBack) {
  GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
  g_object_set(e, "location", "rtmp://127.0.0.1:19350/live/cam1", nullptr);
  EXPECT_EQ(get_string(e, "host"), "127.0.0.1");
  EXPECT_EQ(get_uint(e, "port"), 19350u);
  EXPECT_EQ(get_string(e, "application"), "live");
  EXPECT_EQ(get_string(e, "stream-key"), "cam1");
  EXPECT_EQ(get_string(e, "location"), "rtmp://127.0.0.1:19350/live/cam1");

  // No port: the scheme's (RTMP 1.0 section 5.2: 1935; rtmps: 443). '*' accepts any.
  g_object_set(e, "location", "rtmp://0.0.0.0/app/*", nullptr);
  EXPECT_EQ(get_string(e, "host"), "0.0.0.0");
  EXPECT_EQ(get_uint(e, "port"), 1935u);
  EXPECT_EQ(get_string(e, "application"), "app");
  EXPECT_EQ(get_string(e, "stream-key"), "");
  g_object_set(e, "location", "rtmps://[::1]/*/key", nullptr);
  EXPECT_EQ(get_string(e, "host"), "::1");
  EXPECT_EQ(get_uint(e, "port"), 443u);
  EXPECT_EQ(get_string(e, "application"), "");
  EXPECT_EQ(get_string(e, "location"), "rtmps://[::1]:443/*/key");

  // Port 0 in a location means "a free port", as port=0 does.
  g_object_set(e, "location", "rtmp://127.0.0.1:0/live/key", nullptr);
  EXPECT_EQ(get_uint(e, "port"), 0u);
  EXPECT_EQ(get_string(e, "host"), "127.0.0.1");
  EXPECT_EQ(get_string(e, "stream-key"), "key");
  EXPECT_EQ(get_string(e, "location"), "rtmp://127.0.0.1:0/live/key");
  g_object_set(e, "location", "rtmp://[::1]:0/live/key", nullptr);
  EXPECT_EQ(get_uint(e, "port"), 0u);
  EXPECT_EQ(get_string(e, "host"), "::1");

  // Invalid locations leave every field as it was.
  g_object_set(e, "location", "rtmp://127.0.0.1:4000/live/key", nullptr);
  for (const char *bad : {"http://127.0.0.1/live/key", "rtmp://127.0.0.1:70000/live/key",
                          "rtmp://127.0.0.1:-1/live/key", "rtmp:///live/key", "not a url"}) {
    g_object_set(e, "location", bad, nullptr);
    EXPECT_EQ(get_string(e, "location"), "rtmp://127.0.0.1:4000/live/key") << bad;
  }
  gst_object_unref(e);
}

TEST_F(ServerSrc, UriHandlerTakesRtmpServerUris) {
  GstElement *e =
      gst_element_make_from_uri(GST_URI_SRC, "rtmpserver://127.0.0.1:0/live/key", nullptr, nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(GST_OBJECT_NAME(gst_element_get_factory(e)), "rtmpserversrc");
  EXPECT_EQ(get_uint(e, "port"), 0u);
  EXPECT_EQ(get_string(e, "application"), "live");
  GError *err = nullptr;
  EXPECT_TRUE(
      gst_uri_handler_set_uri(GST_URI_HANDLER(e), "rtmpservers://127.0.0.1:1936/a/b", &err));
  EXPECT_EQ(get_string(e, "location"), "rtmps://127.0.0.1:1936/a/b");
  EXPECT_FALSE(gst_uri_handler_set_uri(GST_URI_HANDLER(e), "rtmpserver://", &err));
  ASSERT_NE(err, nullptr);
  g_clear_error(&err);
  gst_object_unref(e);
}

TEST_F(ServerSrc, PortZeroBindsAFreePortAndBoundPortTellsIt) {
  for (const char *how : {"property", "location"}) {
    GstHarness *h = gst_harness_new("rtmpserversrc");
    if (std::strcmp(how, "property") == 0)
      g_object_set(h->element, "host", "127.0.0.1", "port", 0u, nullptr);
    else
      g_object_set(h->element, "location", "rtmp://127.0.0.1:0/live/key", nullptr);
    EXPECT_EQ(get_uint(h->element, "bound-port"), 0u) << how;
    gst_harness_play(h);
    const guint port = get_uint(h->element, "bound-port");
    EXPECT_NE(port, 0u) << how;
    EXPECT_NE(port, 1935u) << how;
    EXPECT_EQ(get_uint(h->element, "port"), 0u) << how;
    GSocketConnection *c = tcp_connect(port);
    EXPECT_NE(c, nullptr) << how << ": nothing listens on bound-port " << port;
    if (c)
      g_object_unref(c);
    EXPECT_LT(time_to_null(h), 1000.0);
    gst_harness_teardown(h);
  }
}

TEST_F(ServerSrc, CapsAreFlvWithTheFlvHeaderAsStreamheader) {
  GstHarness *h = start_server();
  // No buffer before a publisher's first message (the FLV header goes out with it).
  GstBuffer *b = pull_within(h, 300);
  EXPECT_EQ(b, nullptr);
  if (b)
    gst_buffer_unref(b);
  GstPad *pad = gst_element_get_static_pad(h->element, "src");
  GstCaps *caps = gst_pad_query_caps(pad, nullptr);
  gst_object_unref(pad);
  ASSERT_EQ(gst_caps_get_size(caps), 1u);
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  EXPECT_TRUE(gst_structure_has_name(s, "video/x-flv"));
  const GValue *sh = gst_structure_get_value(s, "streamheader");
  ASSERT_NE(sh, nullptr);
  ASSERT_EQ(gst_value_array_get_size(sh), 1u); // nothing published yet: the FLV header only
  EXPECT_EQ(buffer_bytes(gst_value_get_buffer(gst_value_array_get_value(sh, 0))), kFlvHeader);
  gst_caps_unref(caps);
  EXPECT_LT(time_to_null(h), 1000.0);
  gst_harness_teardown(h);
}

TEST_F(ServerSrc, NullWithinOneSecondWithNothingConnected) {
  GstHarness *h = start_server();
  g_usleep(200000); // create() now waits for a publisher
  EXPECT_LT(time_to_null(h), 1000.0);
  gst_harness_teardown(h);
}

TEST_F(ServerSrc, NullWithinOneSecondWithSilentClientsConnected) {
  GstHarness *h = start_server();
  const guint port = get_uint(h->element, "bound-port");
  std::vector<GSocketConnection *> silent;
  for (int i = 0; i < 5; ++i) {
    GSocketConnection *c = tcp_connect(port);
    ASSERT_NE(c, nullptr);
    silent.push_back(c);
  }
  g_usleep(200000); // accepted and waiting for C0/C1 on the listener thread
  GstStructure *stats = nullptr;
  g_object_get(h->element, "stats", &stats, nullptr);
  guint64 open = 0;
  ASSERT_TRUE(gst_structure_get_uint64(stats, "connections-open", &open));
  EXPECT_EQ(open, 5u);
  gst_structure_free(stats);
  EXPECT_LT(time_to_null(h), 1000.0);
  // The listener closed them: a read sees the end of the stream (or a reset), not a hang.
  for (GSocketConnection *c : silent) {
    GSocket *s = g_socket_connection_get_socket(c);
    g_socket_set_timeout(s, 5);
    gchar byte = 0;
    EXPECT_LE(g_socket_receive(s, &byte, 1, nullptr, nullptr), 0);
    g_object_unref(c);
  }
  gst_harness_teardown(h);
}

// max-connections-per-address: a third silent client of 127.0.0.1 takes the place of the oldest
// one (it has no stream role), which is closed and counted; the table keeps two.
TEST_F(ServerSrc, PerAddressLimitEvictsTheOldestClientOfThatAddress) {
  GstHarness *h = gst_harness_new("rtmpserversrc");
  g_object_set(h->element, "location", "rtmp://127.0.0.1:0/live/key", "max-connections-per-address",
               2u, nullptr);
  gst_harness_play(h);
  const guint port = get_uint(h->element, "bound-port");
  std::vector<GSocketConnection *> clients;
  for (int i = 0; i < 3; ++i) {
    GSocketConnection *c = tcp_connect(port);
    ASSERT_NE(c, nullptr);
    clients.push_back(c);
    g_usleep(100000); // accepted in this order
  }
  g_usleep(200000);
  GstStructure *stats = nullptr;
  g_object_get(h->element, "stats", &stats, nullptr);
  guint64 open = 0, evicted = 0;
  ASSERT_TRUE(gst_structure_get_uint64(stats, "connections-open", &open));
  EXPECT_EQ(open, 2u);
  ASSERT_TRUE(gst_structure_get_uint64(stats, "dropped-evicted-per-address", &evicted));
  EXPECT_EQ(evicted, 1u);
  gst_structure_free(stats);
  GSocket *first = g_socket_connection_get_socket(clients[0]);
  g_socket_set_timeout(first, 5);
  gchar byte = 0;
  EXPECT_LE(g_socket_receive(first, &byte, 1, nullptr, nullptr), 0);
  EXPECT_LT(time_to_null(h), 1000.0);
  for (GSocketConnection *c : clients)
    g_object_unref(c);
  gst_harness_teardown(h);
}

// Our rtmpsink publishes an FLV stream (AVC sequence header, frames, onTextData, onCuePoint)
// to rtmpserversrc in the same process: every tag arrives with its payload unchanged, the
// data tags stay in the stream and are posted as element messages, the publisher leaving is
// EOS (on-disconnect=eos), and NULL is quick with the publisher connected.
TEST_F(ServerSrc, LoopbackPublishKeepsTagsAndPostsTextDataAndCuePoints) {
  GstHarness *srv = start_server();
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(srv->element, bus);
  const guint port = get_uint(srv->element, "bound-port");

  GstHarness *pub = rtmp::test::client_harness("rtmpsink");
  ASSERT_NE(pub, nullptr);
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/key";
  g_object_set(pub->element, "location", url.c_str(), nullptr);
  gst_harness_set_src_caps_str(pub, "video/x-flv");

  // FLV spec 10.1 E.4.3.1: FrameType 1 (key) / 2 (inter), CodecID 7 (AVC); AVCPacketType 0 is
  // the sequence header, 1 a NALU, then a 24-bit composition time of 0.
  const Bytes avc_config = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00,
                            0x04, 0x67, 0x64, 0x00, 0x1F, 0x01, 0x00, 0x04, 0x68, 0xEE, 0x3C, 0x80};
  auto frame = [](bool key, std::uint8_t fill) {
    Bytes f = {static_cast<std::uint8_t>(key ? 0x17 : 0x27), 0x01, 0x00, 0x00, 0x00};
    f.insert(f.end(), 200, fill);
    return f;
  };
  const Bytes text = data_payload(
      "onTextData", amf::make_ecma_array({{"text", "hello captions"}, {"language", "eng"}}));
  const Bytes cue = data_payload(
      "onCuePoint",
      amf::make_object({{"name", "chapter-2"},
                        {"time", 0.08},
                        {"type", "event"},
                        {"parameters", amf::make_object({{"lang", "fr"}, {"1st key", 7}})}}));
  struct Sent {
    std::uint8_t type;
    std::uint32_t ts;
    Bytes payload;
  };
  const std::vector<Sent> sent = {
      {9, 0, avc_config},       {9, 0, frame(true, 1)}, {9, 40, frame(false, 2)}, {18, 40, text},
      {9, 80, frame(false, 3)}, {18, 80, cue},          {9, 120, frame(true, 4)},
  };
  Bytes stream = make_flv_header(FlvHeader{false, true});
  for (const auto &s : sent) {
    const Bytes t = flv_tag(s.type, s.ts, s.payload);
    stream.insert(stream.end(), t.begin(), t.end());
  }
  gst_harness_play(pub);
  ASSERT_EQ(gst_harness_push(pub, gst_buffer_new_memdup(stream.data(), stream.size())),
            GST_FLOW_OK);

  const GstClockTime header_dts = expect_header_first(srv);
  // Every tag arrives in order as one buffer: same type and payload, timestamps rebased to the
  // first message (placed at the running time, so compare differences).
  std::vector<GstBuffer *> got;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    GstBuffer *buf = pull_within(srv, 20000);
    ASSERT_NE(buf, nullptr) << "tag " << i << " did not arrive";
    got.push_back(buf);
  }
  const GstClockTime t0 = GST_BUFFER_DTS(got[0]);
  // The header is stamped like the first message: no time jump between them for a queue.
  EXPECT_EQ(header_dts, t0);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const Bytes tag = buffer_bytes(got[i]);
    ASSERT_GE(tag.size(), 11u + 4u);
    EXPECT_EQ(tag[0], sent[i].type) << i;
    const Bytes payload(tag.begin() + 11, tag.end() - 4);
    EXPECT_EQ(payload, sent[i].payload) << "tag " << i;
    EXPECT_EQ(GST_BUFFER_DTS(got[i]) - t0, sent[i].ts * GST_MSECOND) << i;
    gst_buffer_unref(got[i]);
  }

  GstStructure *t = wait_element_message(bus, "rtmp-text-data", 5000);
  ASSERT_NE(t, nullptr) << "no rtmp-text-data message";
  EXPECT_STREQ(gst_structure_get_string(t, "text"), "hello captions");
  EXPECT_STREQ(gst_structure_get_string(t, "language"), "eng");
  guint64 ts = 0;
  EXPECT_TRUE(gst_structure_get_uint64(t, "timestamp-ms", &ts));
  gst_structure_free(t);

  GstStructure *c = wait_element_message(bus, "rtmp-cue-point", 5000);
  ASSERT_NE(c, nullptr) << "no rtmp-cue-point message";
  EXPECT_STREQ(gst_structure_get_string(c, "name"), "chapter-2");
  EXPECT_STREQ(gst_structure_get_string(c, "type"), "event");
  gdouble time = 0;
  EXPECT_TRUE(gst_structure_get_double(c, "time", &time));
  EXPECT_DOUBLE_EQ(time, 0.08);
  guint64 cue_ts = 0;
  EXPECT_TRUE(gst_structure_get_uint64(c, "timestamp-ms", &cue_ts));
  EXPECT_EQ(cue_ts - ts, 40u); // 40 ms after the text, as sent
  GstStructure *params = nullptr;
  ASSERT_TRUE(gst_structure_get(c, "parameters", GST_TYPE_STRUCTURE, &params, nullptr));
  EXPECT_STREQ(gst_structure_get_string(params, "lang"), "fr");
  EXPECT_STREQ(gst_structure_get_string(params, "p1st_key"), "7"); // sanitised field name
  gst_structure_free(params);
  gst_structure_free(c);

  // The text also went downstream as a tag event before its tag.
  bool text_tag = false;
  while (GstEvent *ev = gst_harness_try_pull_event(srv)) {
    if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG) {
      GstTagList *tags = nullptr;
      gst_event_parse_tag(ev, &tags);
      gchar *comment = nullptr;
      if (gst_tag_list_get_string(tags, GST_TAG_COMMENT, &comment))
        text_tag = text_tag || std::strcmp(comment, "hello captions") == 0;
      g_free(comment);
    }
    gst_event_unref(ev);
  }
  EXPECT_TRUE(text_tag);

  // NULL on the server with the publisher still connected: quick.
  EXPECT_LT(time_to_null(srv), 1000.0);
  gst_harness_teardown(pub);
  gst_harness_teardown(srv);
  gst_object_unref(bus);
}

TEST_F(ServerSrc, PublisherLeavingIsEosWithOnDisconnectEos) {
  GstHarness *srv = start_server();
  const guint port = get_uint(srv->element, "bound-port");
  GstHarness *pub = flv_publisher(server_url(port));
  ASSERT_EQ(push_flv(pub, make_flv_header(FlvHeader{false, true}),
                     {{9, 0, Bytes{0x17, 0x01, 0x00, 0x00, 0x00, 0xAA}}}),
            GST_FLOW_OK);
  expect_header_first(srv);
  GstBuffer *frame = pull_within(srv, 20000);
  ASSERT_NE(frame, nullptr);
  gst_buffer_unref(frame);
  // The server pinged as the publish started; the sink answers while it renders the next tag.
  const Bytes t2 = flv_tag(9, 40, Bytes{0x27, 0x01, 0x00, 0x00, 0x00, 0xBB});
  ASSERT_EQ(gst_harness_push(pub, gst_buffer_new_memdup(t2.data(), t2.size())), GST_FLOW_OK);
  GstBuffer *second = pull_within(srv, 20000);
  ASSERT_NE(second, nullptr);
  gst_buffer_unref(second);
  gst_harness_teardown(pub); // the publisher goes away

  bool eos = false;
  const gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  while (!eos && g_get_monotonic_time() < end) {
    if (GstEvent *ev = gst_harness_try_pull_event(srv)) {
      eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
      gst_event_unref(ev);
    } else {
      g_usleep(5000);
    }
  }
  EXPECT_TRUE(eos) << "no EOS after the publisher left";
  GstStructure *stats = nullptr;
  g_object_get(srv->element, "stats", &stats, nullptr);
  guint64 rtt = G_MAXUINT64;
  EXPECT_TRUE(gst_structure_get_uint64(stats, "rtt-ms", &rtt)) << "no RTT from the publish ping";
  EXPECT_LT(rtt, 5000u);
  gst_structure_free(stats);
  gst_harness_teardown(srv);
}

// A second publisher for a key that is being published is refused with BadName and the first
// one is kept (issue 5).
TEST_F(ServerSrc, SecondPublisherOfABusyKeyIsRejectedAndTheFirstKept) {
  GstHarness *srv = start_server();
  const guint port = get_uint(srv->element, "bound-port");
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/key";
  auto publisher = [&url]() {
    GstHarness *h = rtmp::test::client_harness("rtmpsink");
    g_object_set(h->element, "location", url.c_str(), "timeout", 5u, nullptr);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    gst_harness_play(h);
    return h;
  };
  auto push_tag = [](GstHarness *h, std::uint32_t ts, std::uint8_t marker, bool with_header) {
    Bytes stream = with_header ? make_flv_header(FlvHeader{false, true}) : Bytes{};
    const Bytes t = flv_tag(9, ts, Bytes{0x17, 0x01, 0x00, 0x00, 0x00, marker});
    stream.insert(stream.end(), t.begin(), t.end());
    return gst_harness_push(h, gst_buffer_new_memdup(stream.data(), stream.size()));
  };

  GstHarness *first = publisher();
  ASSERT_EQ(push_tag(first, 0, 0xA1, true), GST_FLOW_OK);
  expect_header_first(srv);
  GstBuffer *b = pull_within(srv, 20000);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(buffer_bytes(b)[11 + 5], 0xA1);
  gst_buffer_unref(b);

  GstHarness *second = publisher();
  EXPECT_NE(push_tag(second, 0, 0xB1, true), GST_FLOW_OK) << "a second publisher was accepted";
  gst_harness_teardown(second);

  ASSERT_EQ(push_tag(first, 40, 0xA2, false), GST_FLOW_OK);
  b = pull_within(srv, 20000);
  ASSERT_NE(b, nullptr) << "the first publisher was not kept";
  EXPECT_EQ(buffer_bytes(b)[11 + 5], 0xA2) << "something of the second publisher arrived";
  gst_buffer_unref(b);
  gst_harness_teardown(first);
  gst_harness_teardown(srv);
}

// Enhanced RTMP v2 (HEVC and Opus in ExVideoTagHeader / ExAudioTagHeader form) is accepted and
// passed on in the FLV stream byte for byte (issue 5), with our rtmpsink as the publisher.
TEST_F(ServerSrc, EnhancedRtmpTagsPassThroughUnchanged) {
  GstHarness *srv = start_server();
  const guint port = get_uint(srv->element, "bound-port");
  GstHarness *pub = flv_publisher(server_url(port));

  auto with = [](Bytes header, const Bytes &body) {
    header.insert(header.end(), body.begin(), body.end());
    return header;
  };
  const std::uint32_t hvc1 = fourcc("hvc1"), opus = fourcc("Opus");
  const std::vector<FlvTagSpec> sent = {
      {9, 0,
       with(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::sequence_start, hvc1),
            Bytes{0x01, 0x01, 0x60, 0x00, 0x00, 0x00})},
      {8, 0,
       with(make_enhanced_audio_header(AudioPacketKind::sequence_start, opus),
            Bytes{'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 0x01, 0x02, 0x38, 0x01, 0x80, 0xBB, 0x00,
                  0x00, 0x00, 0x00, 0x00})},
      {9, 0,
       with(
           make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::coded_frames, hvc1, 33),
           Bytes{0x00, 0x00, 0x00, 0x02, 0x26, 0x01})},
      {8, 20,
       with(make_enhanced_audio_header(AudioPacketKind::coded_frames, opus), Bytes{0xFC, 0xFF})},
      {9, 40,
       with(make_enhanced_video_header(FrameType::inter, VideoPacketKind::coded_frames, hvc1),
            Bytes{0x00, 0x00, 0x00, 0x02, 0x02, 0x01})},
  };
  ASSERT_EQ(push_flv(pub, make_flv_header(FlvHeader{true, true}), sent), GST_FLOW_OK);
  expect_header_first(srv);
  for (const auto &[type, ts, payload] : sent) {
    GstBuffer *b = pull_within(srv, 20000);
    ASSERT_NE(b, nullptr) << "missing tag of type " << int(type) << " at " << ts;
    const Bytes tag = buffer_bytes(b);
    gst_buffer_unref(b);
    ASSERT_EQ(tag.size(), 11u + payload.size() + 4u);
    EXPECT_EQ(tag[0], type);
    EXPECT_EQ(Bytes(tag.begin() + 11, tag.end() - 4), payload)
        << "type " << int(type) << " at " << ts;
  }
  gst_harness_teardown(pub);
  gst_harness_teardown(srv);
}

// Audio and video interleave with DTS inversions: the last message is not the latest. A
// timeline that a new publisher continues must start after the highest position seen.
TEST_F(ServerSrc, TimelineRestartsAfterTheHighestPosition) {
  gst::Timeline t;
  t.restart_at(500);
  EXPECT_EQ(t.rebase(0), 500);
  EXPECT_EQ(t.rebase(1000), 1500); // audio ahead
  EXPECT_EQ(t.rebase(100), 600);   // video behind it: the last, not the highest
  EXPECT_EQ(t.position, 600);
  EXPECT_EQ(t.highest, 1500);
  // 32-bit wrap (RTMP 1.0 section 5.3.1.3): 0xFFFFFFF0 -> 0x10 is 32 ms forward.
  gst::Timeline w;
  EXPECT_EQ(w.rebase(0xFFFFFFF0u), 0);
  EXPECT_EQ(w.rebase(0x10u), 32);
  EXPECT_EQ(w.highest, 32);
}

namespace {

// One publish from our rtmpsink (a harness) of `tags` (type, timestamp, payload) as an FLV
// stream, then the publisher goes away.
void publish_and_leave(guint port, const std::vector<FlvTagSpec> &tags) {
  GstHarness *pub = flv_publisher(server_url(port));
  EXPECT_EQ(push_flv(pub, make_flv_header(FlvHeader{true, true}), tags), GST_FLOW_OK);
  gst_harness_push_event(pub, gst_event_new_eos());
  gst_harness_teardown(pub);
}

} // namespace

// on-disconnect=wait: a second publisher of the same key continues the timeline after the
// highest timestamp of the first (not its last message), and the stream ends with one EOS
// when reconnect-timeout expires after the last publisher left.
TEST_F(ServerSrc, WaitContinuesTheTimelineAndEndsAfterReconnectTimeout) {
  GstHarness *srv = gst_harness_new("rtmpserversrc");
  g_object_set(srv->element, "location", "rtmp://127.0.0.1:0/live/key", "reconnect-timeout", 1u,
               nullptr);
  gst_util_set_object_arg(G_OBJECT(srv->element), "on-disconnect", "wait");
  gst_harness_play(srv);
  const guint port = get_uint(srv->element, "bound-port");
  // FLV spec 10.1 E.4.2.1: 0xAF = AAC, 44 kHz, 16-bit, stereo; AACPacketType 1 (raw).
  const Bytes key = {0x17, 0x01, 0x00, 0x00, 0x00, 0x11};
  const Bytes inter = {0x27, 0x01, 0x00, 0x00, 0x00, 0x22};
  const Bytes aac = {0xAF, 0x01, 0x33};
  publish_and_leave(port, {{9, 0, key}, {8, 1000, aac}, {9, 100, inter}});
  expect_header_first(srv);
  std::vector<GstClockTime> dts;
  for (int i = 0; i < 3; ++i) {
    GstBuffer *buf = pull_within(srv, 20000);
    ASSERT_NE(buf, nullptr) << "first publisher, tag " << i;
    dts.push_back(GST_BUFFER_DTS(buf));
    gst_buffer_unref(buf);
  }
  EXPECT_EQ(dts[1] - dts[0], 1000 * GST_MSECOND);
  EXPECT_EQ(dts[2] - dts[0], 100 * GST_MSECOND);

  publish_and_leave(port, {{9, 5000, key}, {9, 5040, inter}});
  const auto left = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) {
    GstBuffer *buf = pull_within(srv, 20000);
    ASSERT_NE(buf, nullptr) << "second publisher, tag " << i;
    dts.push_back(GST_BUFFER_DTS(buf));
    gst_buffer_unref(buf);
  }
  EXPECT_GE(dts[3], dts[1]) << "the second publisher starts before the first one's audio";
  EXPECT_EQ(dts[4] - dts[3], 40 * GST_MSECOND);

  int eos = 0;
  double eos_after_ms = 0;
  const gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end && eos == 0) {
    while (GstEvent *ev = gst_harness_try_pull_event(srv)) {
      if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS) {
        ++eos;
        eos_after_ms = elapsed_ms(left);
      }
      gst_event_unref(ev);
    }
    g_usleep(5000);
  }
  g_usleep(300000);
  while (GstEvent *ev = gst_harness_try_pull_event(srv)) {
    eos += GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
    gst_event_unref(ev);
  }
  EXPECT_EQ(eos, 1);
  EXPECT_GE(eos_after_ms, 800.0) << "EOS before reconnect-timeout expired";
  EXPECT_EQ(gst_harness_buffers_in_queue(srv), 0u);
  gst_harness_teardown(srv);
}

namespace {

gchar *password_of(GstElement *, const gchar *user, gpointer) {
  return g_strcmp0(user, "alice") == 0 ? g_strdup("wonder@land") : nullptr;
}

// Our rtmpsink publishing one keyframe with credentials; returns the flow of the push.
GstFlowReturn publish_with(guint port, const char *user, const char *password) {
  GstHarness *pub = rtmp::test::client_harness("rtmpsink");
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/key";
  g_object_set(pub->element, "location", url.c_str(), "username", user, "password", password,
               nullptr);
  gst_harness_set_src_caps_str(pub, "video/x-flv");
  gst_harness_play(pub);
  Bytes stream = make_flv_header(FlvHeader{false, true});
  const Bytes t = flv_tag(9, 0, Bytes{0x17, 0x01, 0x00, 0x00, 0x00, 0x5A});
  stream.insert(stream.end(), t.begin(), t.end());
  const GstFlowReturn r =
      gst_harness_push(pub, gst_buffer_new_memdup(stream.data(), stream.size()));
  gst_harness_teardown(pub);
  return r;
}

} // namespace

// auth=llnw with the password from the get-password signal (core/auth.hpp, server side): a
// wrong password is rejected with an rtmp-client-rejected message and nothing published; the
// right one publishes.
TEST_F(ServerSrc, AuthWithGetPasswordSignal) {
  for (const char *method : {"adobe", "llnw"}) {
    GstHarness *srv = gst_harness_new("rtmpserversrc");
    g_object_set(srv->element, "location", "rtmp://127.0.0.1:0/live/key", nullptr);
    gst_util_set_object_arg(G_OBJECT(srv->element), "auth", method);
    g_signal_connect(srv->element, "get-password", G_CALLBACK(password_of), nullptr);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(srv->element, bus);
    gst_harness_play(srv);
    const guint port = get_uint(srv->element, "bound-port");

    EXPECT_NE(publish_with(port, "alice", "wrong"), GST_FLOW_OK) << method;
    GstStructure *rejected = wait_element_message(bus, "rtmp-client-rejected", 10000);
    ASSERT_NE(rejected, nullptr) << method << ": no rtmp-client-rejected for a wrong password";
    EXPECT_STREQ(gst_structure_get_string(rejected, "stage"), "connect");
    gst_structure_free(rejected);
    EXPECT_NE(publish_with(port, "mallory", "wonder@land"), GST_FLOW_OK) << method;
    GstBuffer *none = pull_within(srv, 300);
    EXPECT_EQ(none, nullptr) << method << ": something was published without the password";
    if (none)
      gst_buffer_unref(none);

    EXPECT_EQ(publish_with(port, "alice", "wonder@land"), GST_FLOW_OK) << method;
    EXPECT_EQ(expect_header_first(srv) != GST_CLOCK_TIME_NONE, true) << method;
    GstBuffer *frame = pull_within(srv, 20000);
    ASSERT_NE(frame, nullptr) << method << ": the authenticated publisher's frame";
    const Bytes tag = buffer_bytes(frame);
    ASSERT_EQ(tag.size(), 11u + 6u + 4u);
    EXPECT_EQ(tag[11 + 5], 0x5A);
    gst_buffer_unref(frame);
    GstStructure *stats = nullptr;
    g_object_get(srv->element, "stats", &stats, nullptr);
    guint64 publishes = 0;
    EXPECT_TRUE(gst_structure_get_uint64(stats, "publishes", &publishes));
    EXPECT_EQ(publishes, 1u) << method;
    gst_structure_free(stats);
    gst_harness_teardown(srv);
    gst_object_unref(bus);
  }
}

namespace {

// WARNING lines of the rtmpserversrc debug category, collected from every thread while alive.
class ServerWarnings {
public:
  ServerWarnings() {
    gst_debug_set_threshold_for_name("rtmpserversrc", GST_LEVEL_WARNING);
    // Parenthesized: the macro of the same name compares function and object pointers, which
    // -Wpedantic refuses in C++.
    (gst_debug_add_log_function)(&ServerWarnings::collect, this, nullptr);
  }
  ~ServerWarnings() { gst_debug_remove_log_function_by_data(this); }
  ServerWarnings(const ServerWarnings &) = delete;
  ServerWarnings &operator=(const ServerWarnings &) = delete;

  // The first collected line containing every one of `parts`, waiting up to `ms` for it.
  std::string wait_for(const std::vector<std::string> &parts, int ms) {
    const gint64 end = g_get_monotonic_time() + static_cast<gint64>(ms) * 1000;
    do {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        for (const std::string &line : lines_) {
          bool all = true;
          for (const std::string &part : parts)
            all = all && line.find(part) != std::string::npos;
          if (all)
            return line;
        }
      }
      g_usleep(10000);
    } while (g_get_monotonic_time() < end);
    return {};
  }

private:
  static void collect(GstDebugCategory *category, GstDebugLevel level, const gchar *, const gchar *,
                      gint, GObject *object, GstDebugMessage *message, gpointer data) {
    if (level != GST_LEVEL_WARNING || g_strcmp0(category->name, "rtmpserversrc") != 0)
      return;
    auto *self = static_cast<ServerWarnings *>(data);
    std::string line = object && GST_IS_OBJECT(object) ? GST_OBJECT_NAME(object) : "";
    line += ": ";
    line += gst_debug_message_get(message);
    std::lock_guard<std::mutex> guard(self->mutex_);
    self->lines_.push_back(std::move(line));
  }

  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Our rtmpsink publishing one keyframe to `url`; returns the flow of the push.
GstFlowReturn publish_to(const std::string &url) {
  GstHarness *pub = rtmp::test::client_harness("rtmpsink");
  g_object_set(pub->element, "location", url.c_str(), "timeout", 5u, nullptr);
  gst_harness_set_src_caps_str(pub, "video/x-flv");
  gst_harness_play(pub);
  Bytes stream = make_flv_header(FlvHeader{false, true});
  const Bytes t = flv_tag(9, 0, Bytes{0x17, 0x01, 0x00, 0x00, 0x00, 0x5A});
  stream.insert(stream.end(), t.begin(), t.end());
  const GstFlowReturn r =
      gst_harness_push(pub, gst_buffer_new_memdup(stream.data(), stream.size()));
  gst_harness_teardown(pub);
  return r;
}

} // namespace

// A rejection the element decides (wrong stream key, wrong application, failed auth answer) is a
// WARNING of the rtmpserversrc category naming the element and the client's address, besides the
// rtmp-client-rejected message.
TEST_F(ServerSrc, RejectionsAreWarningsWithTheClientAddress) {
  ServerWarnings warnings;
  auto name_of = [](GstHarness *h) {
    gchar *n = gst_element_get_name(h->element);
    const std::string name = n;
    g_free(n);
    return name;
  };

  GstHarness *srv = start_server();
  const std::string base =
      "rtmp://127.0.0.1:" + std::to_string(get_uint(srv->element, "bound-port"));
  const std::string name = name_of(srv);
  EXPECT_NE(publish_to(base + "/live/wrongkey"), GST_FLOW_OK);
  EXPECT_NE(
      warnings.wait_for({name + ": ", "client 127.0.0.1:", "publish rejected", "wrongkey"}, 10000),
      "")
      << "no WARNING for a wrong stream key";
  EXPECT_NE(publish_to(base + "/otherapp/key"), GST_FLOW_OK);
  EXPECT_NE(
      warnings.wait_for({name + ": ", "client 127.0.0.1:", "connect rejected", "otherapp"}, 10000),
      "")
      << "no WARNING for a wrong application";
  gst_harness_teardown(srv);

  GstHarness *auth = gst_harness_new("rtmpserversrc");
  g_object_set(auth->element, "location", "rtmp://127.0.0.1:0/live/key", nullptr);
  gst_util_set_object_arg(G_OBJECT(auth->element), "auth", "llnw");
  g_signal_connect(auth->element, "get-password", G_CALLBACK(password_of), nullptr);
  gst_harness_play(auth);
  const std::string auth_name = name_of(auth);
  EXPECT_NE(publish_with(get_uint(auth->element, "bound-port"), "alice", "wrong"), GST_FLOW_OK);
  EXPECT_NE(warnings.wait_for(
                {auth_name + ": ", "client 127.0.0.1:", "connect rejected", "authfailed"}, 10000),
            "")
      << "no WARNING for a failed auth answer";
  gst_harness_teardown(auth);
}

// server_sessions.py case `tee`, deterministic (tee_renegotiation.hpp): GstBaseSrc's ALLOCATION
// query after a RECONFIGURE is answered by the source itself; sent downstream, it waited in the
// held branch's queue with the streaming thread blocked in it, and the other branch got the FLV
// header only.
TEST_F(ServerSrc, RenegotiationWithAHeldTeeBranchKeepsTheOtherBranchFlowing) {
  const Bytes key = {0x17, 0x01, 0x00, 0x00, 0x00, 0x11};
  const Bytes inter = {0x27, 0x01, 0x00, 0x00, 0x00, 0x22};
  const Bytes aac = {0xAF, 0x01, 0x33};
  std::vector<rtmp::test::FlvTagSpec> tags = {{9, 0, key}};
  for (std::uint32_t i = 1; i <= 20; ++i) {
    tags.emplace_back(8, i * 20, aac);
    tags.emplace_back(9, i * 40, inter);
  }
  const int want = 1 + static_cast<int>(tags.size()); // the FLV header, then every tag
  const int got = rtmp::test::free_branch_buffers_after_renegotiation(
      "rtmpserversrc location=rtmp://127.0.0.1:0/live/key",
      [&](GstElement *srv) { publish_and_leave(get_uint(srv, "bound-port"), tags); }, want, 10000);
  EXPECT_EQ(got, want) << "the free branch stopped";
}
