// rtmpsink / rtmpsrc: when the connection is made (async-connect), the secureToken answer
// (secure-token) and chunk-size changed while publishing, against FakeRtmpServer (our core's
// ServerSession on a loopback port), whose connect answer can be delayed.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "core/command.hpp"
#include "core/flv.hpp"
#include "core/secure_token.hpp"
#include "element_test_util.hpp"
#include "fake_server.hpp"

using namespace rtmp;
using rtmp::test::FakeRtmpServer;
using rtmp::test::FakeServerOptions;
using namespace rtmp::test;

namespace {

class ClientConnect : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// A configured rtmpsink in a harness; the harness sets it to PLAYING, which is timed.
struct SinkHarness {
  GstHarness *h = nullptr;
  GstElement *sink = nullptr;
  ErrorWatch *watch = nullptr;
  double start_ms = 0;

  SinkHarness(const std::string &location, bool async_connect, const char *secure_token = nullptr) {
    sink = gst_element_factory_make("rtmpsink", nullptr);
    g_object_set(sink, "location", location.c_str(), "async-connect", async_connect, nullptr);
    if (secure_token)
      g_object_set(sink, "secure-token", secure_token, nullptr);
    watch = new ErrorWatch(sink);
    const auto t0 = std::chrono::steady_clock::now();
    h = gst_harness_new_with_element(sink, "sink", nullptr);
    start_ms = elapsed_ms(t0);
    gst_harness_set_src_caps_str(h, "video/x-flv");
  }
  ~SinkHarness() {
    gst_harness_teardown(h);
    delete watch;
    gst_object_unref(sink);
  }
  GstFlowReturn push(const Bytes &b) {
    return gst_harness_push(h, gst_buffer_new_memdup(b.data(), b.size()));
  }
};

// AAC sequence header (FLV 10.1 E.4.2.1: 0xAF, AACPacketType 0, AudioSpecificConfig).
const Bytes kAacConfig = {0xAF, 0x00, 0x12, 0x10};

Bytes flv_file() {
  Bytes f = make_flv_header(FlvHeader{true, true});
  write_flv_tag(18, 0, test::make_metadata({{"width", 320.0}}).payload, f);
  write_flv_tag(8, 0, kAacConfig, f);
  write_flv_tag(9, 0, Bytes{0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 7}, f);
  return f;
}

// A video tag (E.4.3.1 inter frame, AVC NALU) with `size` bytes of a pattern after its header.
Bytes big_video_tag(std::uint32_t ts, std::size_t size, std::uint8_t seed) {
  Bytes data = {0x27, 0x01, 0, 0, 0};
  for (std::size_t i = 0; i < size; ++i)
    data.push_back(static_cast<std::uint8_t>(seed + i * 13));
  Bytes out;
  write_flv_tag(9, ts, data, out);
  return out;
}

GstElement *launch(const std::string &desc) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  EXPECT_NE(p, nullptr) << (err ? err->message : "");
  g_clear_error(&err);
  return p;
}

std::string bus_error(GstElement *pipeline, int ms) {
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(ms) * GST_MSECOND,
                                             GST_MESSAGE_ERROR);
  gst_object_unref(bus);
  if (!m)
    return {};
  GError *err = nullptr;
  gst_message_parse_error(m, &err, nullptr);
  std::string text = err->message;
  g_error_free(err);
  gst_message_unref(m);
  return text;
}

} // namespace

// ---- async-connect ---------------------------------------------------------------------------

// async-connect=true (the default, rtmp2's "Connect on READY, otherwise on first push"): the
// sink connects and publishes in the background from READY->PAUSED, before any data; the state
// change does not wait for the slow server.
TEST_F(ClientConnect, SinkAsyncConnectPublishesBeforeTheFirstBuffer) {
  FakeServerOptions o;
  o.connect_delay_ms = 700;
  FakeRtmpServer server(o);
  SinkHarness s(server.url(), true);
  EXPECT_LT(s.start_ms, 300.0); // the server answers connect after 700 ms
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(server.wait_until([&] { return server.saw("PublishRequest"); }, 5000));
  EXPECT_GT(elapsed_ms(t0), 300.0); // it really waited for the delayed connect answer
  EXPECT_TRUE(server.published().empty());
  // The first buffer finds the publish ready.
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(s.push(flv_file()), GST_FLOW_OK);
  EXPECT_LT(elapsed_ms(t1), 300.0);
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 3; }, 3000));
  EXPECT_EQ(server.published()[1].payload, kAacConfig);
  EXPECT_EQ(server.connections(), 1);
}

// async-connect=false: nothing happens on the network until the first buffer, whose render()
// then connects (waiting for the delayed answer) and publishes.
TEST_F(ClientConnect, SinkDelayedConnectWaitsForTheFirstBuffer) {
  FakeServerOptions o;
  o.connect_delay_ms = 500;
  FakeRtmpServer server(o);
  SinkHarness s(server.url(), false);
  EXPECT_LT(s.start_ms, 300.0);
  g_usleep(600 * 1000);
  EXPECT_EQ(server.connections(), 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(s.push(flv_file()), GST_FLOW_OK);
  EXPECT_GT(elapsed_ms(t0), 400.0); // the push carried the connect
  EXPECT_EQ(server.connections(), 1);
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 3; }, 3000));
}

// A failed connect is one clear error in both modes: with async-connect=true it is posted
// while no data has come at all, and the first buffer then fails without a second message.
TEST_F(ClientConnect, SinkConnectFailureIsAnErrorInBothModes) {
  {
    SinkHarness s(refused_url(), true);
    gint code = 0;
    const std::string text = s.watch->wait(3000, nullptr, &code);
    EXPECT_NE(text.find("could not connect"), std::string::npos) << text;
    EXPECT_EQ(code, GST_RESOURCE_ERROR_OPEN_WRITE);
    EXPECT_EQ(s.push(flv_file()), GST_FLOW_ERROR);
    EXPECT_EQ(s.watch->wait(300), "");
  }
  {
    SinkHarness s(refused_url(), false);
    EXPECT_EQ(s.watch->wait(500), ""); // no connect before data
    EXPECT_EQ(s.push(flv_file()), GST_FLOW_ERROR);
    const std::string text = s.watch->wait(1000);
    EXPECT_NE(text.find("could not connect"), std::string::npos) << text;
  }
}

// rtmpsrc (a live source: READY->PAUSED is NO_PREROLL, data flows in PLAYING): with
// async-connect=true the play is requested while PAUSED; with false only once PLAYING.
TEST_F(ClientConnect, SrcConnectsInPausedOnlyWithAsyncConnect) {
  for (bool async : {true, false}) {
    FakeServerOptions o;
    o.connect_delay_ms = 500;
    o.play_media.push_back(test::make_media(MessageType::audio, 0, kAacConfig));
    o.end_after_media = false;
    FakeRtmpServer server(o);
    GstElement *p = launch("rtmpsrc async-connect=" + std::string(async ? "true" : "false") +
                           " location=" + server.url() + " ! fakesink");
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(gst_element_set_state(p, GST_STATE_PAUSED), GST_STATE_CHANGE_NO_PREROLL);
    EXPECT_LT(elapsed_ms(t0), 300.0);
    if (async) {
      EXPECT_TRUE(server.wait_until([&] { return server.saw("PlayRequest"); }, 5000));
    } else {
      g_usleep(800 * 1000);
      EXPECT_EQ(server.connections(), 0);
    }
    gst_element_set_state(p, GST_STATE_PLAYING);
    EXPECT_TRUE(server.wait_until([&] { return server.saw("PlayRequest"); }, 5000)) << async;
    EXPECT_EQ(bus_error(p, 200), "");
    EXPECT_EQ(server.connections(), 1);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
}

TEST_F(ClientConnect, SrcConnectFailureInPausedIsAnError) {
  GstElement *p = launch("rtmpsrc location=" + refused_url() + " ! fakesink");
  gst_element_set_state(p, GST_STATE_PAUSED);
  const std::string text = bus_error(p, 3000);
  EXPECT_NE(text.find("could not connect"), std::string::npos) << text;
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
}

// NULL within 1 s while the background connect waits for a server that does not answer.
TEST_F(ClientConnect, NullWithin1sDuringTheBackgroundConnect) {
  for (const char *element : {"rtmpsrc", "rtmpsink"}) {
    FakeServerOptions o;
    o.connect_delay_ms = 5000;
    FakeRtmpServer server(o);
    const std::string desc =
        std::strcmp(element, "rtmpsrc") == 0
            ? "rtmpsrc timeout=30 location=" + server.url() + " ! fakesink"
            : "fakesrc num-buffers=0 ! rtmpsink async=false timeout=30 location=" + server.url();
    GstElement *p = launch(desc);
    gst_element_set_state(p, GST_STATE_PAUSED);
    ASSERT_TRUE(server.wait_until([&] { return server.saw("ConnectRequest"); }, 3000)) << desc;
    g_usleep(200 * 1000);
    const auto t0 = std::chrono::steady_clock::now();
    gst_element_set_state(p, GST_STATE_NULL);
    EXPECT_LT(elapsed_ms(t0), 1000.0) << desc;
    gst_object_unref(p);
  }
}

// ---- secure-token ------------------------------------------------------------------------------

TEST_F(ClientConnect, SinkAnswersTheSecureToken) {
  FakeServerOptions o;
  o.config.secure_token = *encrypt_secure_token("gst-rtmp key", "sesame 1234");
  FakeRtmpServer server(o);
  SinkHarness s(server.url(), true, "gst-rtmp key");
  ASSERT_EQ(s.push(flv_file()), GST_FLOW_OK);
  ASSERT_TRUE(server.wait_until([&] { return !server.calls().empty(); }, 3000));
  const auto calls = server.calls();
  ASSERT_EQ(calls[0].name, "secureTokenResponse");
  EXPECT_EQ(calls[0].transaction_id, 0);
  ASSERT_NE(calls[0].argument(0), nullptr);
  ASSERT_NE(calls[0].argument(0)->as_string(), nullptr);
  EXPECT_EQ(*calls[0].argument(0)->as_string(), "sesame 1234");
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 3; }, 3000));
}

TEST_F(ClientConnect, SrcSecureTokenMissingIsNotAuthorized) {
  FakeServerOptions o;
  o.config.secure_token = *encrypt_secure_token("k", "secret");
  FakeRtmpServer server(o);
  GstElement *src = gst_element_factory_make("rtmpsrc", nullptr);
  g_object_set(src, "location", server.url().c_str(), nullptr);
  ErrorWatch watch(src);
  GstHarness *h = gst_harness_new_with_element(src, nullptr, "src");
  gst_harness_play(h);
  gint code = 0;
  const std::string text = watch.wait(3000, nullptr, &code);
  EXPECT_NE(text.find("secure token"), std::string::npos) << text;
  EXPECT_EQ(code, GST_RESOURCE_ERROR_NOT_AUTHORIZED) << text;
  EXPECT_TRUE(server.calls().empty());
  gst_harness_teardown(h);
  gst_object_unref(src);
}

// ---- chunk-size while publishing -------------------------------------------------------------

// A new chunk-size is sent at once as Set Chunk Size between two messages: the server reads the
// following messages with it, every payload intact, and stats shows it.
TEST_F(ClientConnect, SinkChunkSizeChangeIsSentWhilePublishing) {
  FakeRtmpServer server;
  SinkHarness s(server.url(), true);
  // Waits until the server received the Data field of `tag` as a message payload.
  auto arrived = [&](const Bytes &tag) {
    const Bytes data(tag.begin() + 11, tag.end() - 4);
    return server.wait_until(
        [&] {
          for (const Message &m : server.published())
            if (m.payload == data)
              return true;
          return false;
        },
        3000);
  };
  ASSERT_EQ(s.push(flv_file()), GST_FLOW_OK);
  const Bytes first = big_video_tag(40, 9000, 1);
  ASSERT_EQ(s.push(first), GST_FLOW_OK);
  ASSERT_TRUE(arrived(first));
  EXPECT_EQ(server.chunk_size_in(), 4096u);
  std::uint32_t ts = 80;
  for (guint size : {100u, 1u, 70000u}) {
    g_object_set(s.sink, "chunk-size", size, nullptr);
    const Bytes tag = big_video_tag(ts += 40, 9000, static_cast<std::uint8_t>(size + 7));
    ASSERT_EQ(s.push(tag), GST_FLOW_OK);
    ASSERT_TRUE(arrived(tag)) << size; // intact, read with the new chunk size
    EXPECT_EQ(server.chunk_size_in(), size);
    GstStructure *st = nullptr;
    g_object_get(s.sink, "stats", &st, nullptr);
    guint out = 0;
    ASSERT_TRUE(gst_structure_get_uint(st, "out-chunk-size", &out));
    EXPECT_EQ(out, size);
    gst_structure_free(st);
  }
  EXPECT_EQ(server.connections(), 1);
}

// ---- play2 (stream switch while playing) ------------------------------------------------------

// Setting `stream` while playing sends play2 {streamName, oldStreamName, start, len,
// transition "switch"} on our stream; the old stream's Play.Stop is not the end; the new
// stream's media follows with timestamps continuing ours; rtmp-play-switched is posted.
TEST_F(ClientConnect, SrcStreamChangeWhilePlayingSwitchesWithPlay2) {
  FakeServerOptions o;
  o.end_after_media = false;
  o.play_media = {test::make_media(MessageType::audio, 0, kAacConfig),
                  test::make_media(MessageType::audio, 1000, {0xAF, 0x01, 0xA1}),
                  test::make_media(MessageType::audio, 1023, {0xAF, 0x01, 0xA2})};
  // The new stream's own timeline starts at 0 again.
  o.play2_media = {test::make_media(MessageType::audio, 0, kAacConfig),
                   test::make_media(MessageType::audio, 0, {0xAF, 0x01, 0xB1}),
                   test::make_media(MessageType::audio, 23, {0xAF, 0x01, 0xB2})};
  FakeRtmpServer server(o);
  GstElement *src = gst_element_factory_make("rtmpsrc", nullptr);
  g_object_set(src, "location", server.url("live", "streamA").c_str(), nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(src, bus);
  GstHarness *h = gst_harness_new_with_element(src, nullptr, "src");
  gst_harness_play(h);
  // FLV audio tags of 3 data bytes: the last one tells A's (0xA_) from B's (0xB_) frames.
  auto pull_frame = [&](std::uint8_t &marker, GstClockTime &pts) {
    for (;;) {
      GstBuffer *b = gst_harness_pull(h);
      if (!b)
        return false;
      GstMapInfo map;
      gst_buffer_map(b, &map, GST_MAP_READ);
      const bool frame = map.size == 11 + 3 + 4 && map.data[0] == 8 && map.data[12] == 0x01;
      marker = frame ? map.data[13] : 0;
      pts = GST_BUFFER_PTS(b);
      gst_buffer_unmap(b, &map);
      gst_buffer_unref(b);
      if (frame)
        return true;
    }
  };
  std::uint8_t marker = 0;
  GstClockTime pts = 0, last_a = 0;
  ASSERT_TRUE(pull_frame(marker, pts));
  EXPECT_EQ(marker, 0xA1);
  ASSERT_TRUE(pull_frame(marker, last_a));
  EXPECT_EQ(marker, 0xA2);

  g_object_set(src, "stream", "streamB", nullptr);
  ASSERT_TRUE(server.wait_until([&] { return !server.play2_requests().empty(); }, 2000));
  const amf::Value opts = server.play2_requests()[0];
  EXPECT_EQ(opts.string_at("streamName"), "streamB");
  EXPECT_EQ(opts.string_at("oldStreamName"), "streamA");
  EXPECT_EQ(opts.string_at("transition"), "switch");
  EXPECT_EQ(opts.number_at("start"), -2000.0); // start=-2 (live, then recorded), as for play
  EXPECT_EQ(opts.number_at("len"), -1.0);

  ASSERT_TRUE(pull_frame(marker, pts));
  EXPECT_EQ(marker, 0xB1);
  EXPECT_GT(pts, last_a); // B's timestamp 0 continues after A's last one
  const GstClockTime first_b = pts;
  ASSERT_TRUE(pull_frame(marker, pts));
  EXPECT_EQ(marker, 0xB2);
  EXPECT_EQ(pts - first_b, 23 * GST_MSECOND);
  GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(gst_message_has_name(m, "rtmp-play-switched"));
  EXPECT_STREQ(gst_structure_get_string(gst_message_get_structure(m), "stream"), "streamB");
  gst_message_unref(m);
  EXPECT_EQ(gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR), nullptr);
  EXPECT_EQ(server.connections(), 1);
  gst_harness_teardown(h);
  gst_object_unref(src);
  gst_object_unref(bus);
}
