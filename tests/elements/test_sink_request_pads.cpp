// rtmpsink's request pads video_%u / audio_%u (issue 7): pad naming, the exclusion of the FLV
// pad, enhanced=never at caps negotiation, and what a server receives from them (the fake
// server of fake_server.hpp records every message): onMetaData first, sequence headers, frames
// interleaved by DTS with the composition time, E-RTMP FourCC headers and the connect command's
// fourCcList for HEVC + Opus, sequence end and EOS, FLAC's in-band header buffers left out, a DTS
// going backwards, a pad that never gets data (waited for in a non-live pipeline, for a bounded
// time in a live one), a branch held back in a non-live pipeline, caps without codec_data. The
// TrackInterleaver is also tested on its own.
#include <gst/base/gstbasesink.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "elements/track_interleaver.h"
#include "client_harness.hpp"
#include "fake_server.hpp"

using namespace rtmp;
using rtmp::gst::TrackInterleaver;
using rtmp::test::FakeRtmpServer;

namespace {

class SinkPads : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// avcC of a 64x64 High profile stream (ISO 14496-15 5.2.4.1: version 1, profile 0x64, level 0x1F,
// 4-byte NAL lengths, one SPS, one PPS).
const Bytes kAvcC = {0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x64,
                     0x00, 0x1F, 0x01, 0x00, 0x04, 0x68, 0xEE, 0x3C, 0x80};
// AudioSpecificConfig: AAC LC, 44.1 kHz, stereo (ISO 14496-3 1.6.2.1).
const Bytes kAsc = {0x12, 0x10};
// An hvcC that only needs to be carried, not parsed: configurationVersion 1 and zeros.
const Bytes kHvcC = [] {
  Bytes b(23, 0);
  b[0] = 1;
  return b;
}();

GstBuffer *bytes_buffer(const Bytes &b) {
  return gst_buffer_new_memdup(b.data(), b.size());
}

GstCaps *caps_with_codec_data(const char *text, const Bytes &config) {
  GstCaps *c = gst_caps_from_string(text);
  if (!config.empty()) {
    GstBuffer *cd = bytes_buffer(config);
    gst_caps_set_simple(c, "codec_data", GST_TYPE_BUFFER, cd, nullptr);
    gst_buffer_unref(cd);
  }
  return c;
}

// What h264parse / aacparse would put on the pads (64x48 H.264 with kAvcC, 44.1 kHz stereo AAC).
GstCaps *h264_caps() {
  return caps_with_codec_data("video/x-h264, stream-format=avc, alignment=au, width=64, "
                              "height=48, framerate=25/1",
                              kAvcC);
}
GstCaps *aac_caps() {
  return caps_with_codec_data("audio/mpeg, mpegversion=4, stream-format=raw, rate=44100, "
                              "channels=2",
                              kAsc);
}

// An rtmpsink in PLAYING whose request pads the test feeds directly (chain / send_event).
struct Sink {
  GstElement *element = nullptr;
  GstBus *bus = nullptr;
  std::vector<GstPad *> pads;
  std::vector<GstPad *> peers;

  explicit Sink(const std::string &location, const char *enhanced = nullptr) {
    element = gst_element_factory_make("rtmpsink", nullptr);
    bus = gst_bus_new();
    gst_element_set_bus(element, bus);
    g_object_set(element, "location", location.c_str(), nullptr);
    if (enhanced)
      gst_util_set_object_arg(G_OBJECT(element), "enhanced", enhanced);
  }
  ~Sink() {
    gst_element_set_state(element, GST_STATE_NULL);
    for (GstPad *p : pads) {
      gst_element_release_request_pad(element, p);
      gst_object_unref(p);
    }
    for (GstPad *p : peers)
      gst_object_unref(p);
    gst_object_unref(element);
    gst_object_unref(bus);
  }
  // A request pad, linked to a src pad of the test (an unlinked pad is not waited for at EOS);
  // the test still feeds the sink pad directly (gst_pad_send_event / gst_pad_chain).
  GstPad *request(const char *name) {
    GstPad *p = gst_element_request_pad_simple(element, name);
    if (p) {
      pads.push_back(p);
      GstPad *src = gst_pad_new(nullptr, GST_PAD_SRC);
      EXPECT_EQ(gst_pad_link_full(src, p, GST_PAD_LINK_CHECK_NOTHING), GST_PAD_LINK_OK);
      peers.push_back(src);
    }
    return p;
  }
  void play() {
    ASSERT_EQ(gst_element_set_state(element, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  }
  // Releases a pad got from request().
  void release(GstPad *pad) {
    gst_element_release_request_pad(element, pad);
    std::erase(pads, pad);
    gst_object_unref(pad);
  }
  // The test's src pads answer the LATENCY query as live sources, and the sink is asked as the
  // pipeline asks before PLAYING: the request pads' upstream is live.
  void make_live() {
    for (GstPad *src : peers)
      gst_pad_set_query_function(src, [](GstPad *pad, GstObject *parent, GstQuery *q) -> gboolean {
        if (GST_QUERY_TYPE(q) != GST_QUERY_LATENCY)
          return gst_pad_query_default(pad, parent, q);
        gst_query_set_latency(q, TRUE, 0, GST_CLOCK_TIME_NONE);
        return TRUE;
      });
    GstQuery *q = gst_query_new_latency();
    ASSERT_TRUE(gst_element_query(element, q));
    gboolean live = FALSE;
    gst_query_parse_latency(q, &live, nullptr, nullptr);
    gst_query_unref(q);
    ASSERT_TRUE(live);
  }
  // stream-start, caps, a TIME segment from 0. Returns whether the caps were accepted.
  static bool start(GstPad *pad, GstCaps *caps) {
    gst_pad_send_event(pad, gst_event_new_stream_start(GST_PAD_NAME(pad)));
    const bool ok = gst_pad_send_event(pad, gst_event_new_caps(caps));
    gst_caps_unref(caps);
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    gst_pad_send_event(pad, gst_event_new_segment(&seg));
    return ok;
  }
  static GstFlowReturn push(GstPad *pad, const Bytes &data, GstClockTime dts, GstClockTime pts,
                            bool key) {
    GstBuffer *b = bytes_buffer(data);
    GST_BUFFER_DTS(b) = dts;
    GST_BUFFER_PTS(b) = pts;
    if (!key)
      GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
    return gst_pad_chain(pad, b);
  }
  // EOS on each pad, then the EOS message of the sink (true when it came within `ms`).
  bool end(std::initializer_list<GstPad *> eos_pads, int ms = 5000) {
    for (GstPad *p : eos_pads)
      gst_pad_send_event(p, gst_event_new_eos());
    GstMessage *m = wait(GST_MESSAGE_EOS, ms);
    if (m)
      gst_message_unref(m);
    return m != nullptr;
  }
  // The first message of `type` within `ms`; the text of an ERROR message, "" when none.
  GstMessage *wait(GstMessageType type, int ms) {
    return gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(ms) * GST_MSECOND, type);
  }
  std::string error_text(int ms, GstMessageType type = GST_MESSAGE_ERROR) {
    GstMessage *m = wait(type, ms);
    if (!m)
      return "";
    GError *err = nullptr;
    gchar *dbg = nullptr;
    if (type == GST_MESSAGE_WARNING)
      gst_message_parse_warning(m, &err, &dbg);
    else
      gst_message_parse_error(m, &err, &dbg);
    std::string t = err->message;
    g_error_free(err);
    g_free(dbg);
    gst_message_unref(m);
    return t;
  }
};

Bytes frame_bytes(std::uint8_t fill, std::size_t n = 100) {
  return Bytes(n, fill);
}

// A sink publishing to a fresh fake server, with video_0 (H.264) negotiated.
struct VideoPublish {
  FakeRtmpServer server;
  Sink s;
  GstPad *v = nullptr;
  VideoPublish() : s(server.url()) {
    v = s.request("video_%u");
    s.play();
    EXPECT_TRUE(Sink::start(v, h264_caps()));
  }
};

// A sink publishing to a fresh fake server, with video_0 (H.264) and audio_0 (AAC) negotiated.
struct AvPublish {
  FakeRtmpServer server;
  Sink s;
  GstPad *v = nullptr, *a = nullptr;
  explicit AvPublish(const char *enhanced = nullptr) : s(server.url(), enhanced) {
    v = s.request("video_%u");
    a = s.request("audio_%u");
    s.play();
    EXPECT_TRUE(Sink::start(v, h264_caps()));
    EXPECT_TRUE(Sink::start(a, aac_caps()));
  }
};

// onMetaData as the server got it: @setDataFrame "onMetaData" {...}.
const amf::Value *metadata_of(const Message &m, DataMessage &holder) {
  if (m.type != static_cast<std::uint8_t>(MessageType::data_amf0))
    return nullptr;
  auto d = decode_data(m);
  if (!d)
    return nullptr;
  holder = std::move(*d);
  for (const amf::Value &v : holder.values)
    if (v.properties())
      return &v;
  return nullptr;
}

double number_field(const amf::Value &obj, const char *key) {
  for (const auto &[k, v] : *obj.properties())
    if (k == key && v.as_number())
      return *v.as_number();
  return -1;
}

std::vector<Message> media_only(const std::vector<Message> &all) {
  std::vector<Message> out;
  for (const Message &m : all)
    if (m.type == 8 || m.type == 9)
      out.push_back(m);
  return out;
}

bool has_factory(const char *name) {
  GstElementFactory *f = gst_element_factory_find(name);
  if (f)
    gst_object_unref(f);
  return f != nullptr;
}

TEST_F(SinkPads, PadNamesAreTrackIds) {
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  ASSERT_NE(e, nullptr);
  GstPad *v0 = gst_element_request_pad_simple(e, "video_%u");
  GstPad *v1 = gst_element_request_pad_simple(e, "video_%u");
  GstPad *a7 = gst_element_request_pad_simple(e, "audio_7");
  ASSERT_TRUE(v0 && v1 && a7);
  EXPECT_STREQ(GST_PAD_NAME(v0), "video_0");
  EXPECT_STREQ(GST_PAD_NAME(v1), "video_1");
  EXPECT_STREQ(GST_PAD_NAME(a7), "audio_7");
  EXPECT_EQ(gst_element_request_pad_simple(e, "video_256"), nullptr) << "track ids are UI8";
  EXPECT_EQ(gst_element_request_pad_simple(e, "video_x"), nullptr);
  // The first audio pad asked for without a number is track 0.
  GstPad *a0 = gst_element_request_pad_simple(e, "audio_%u");
  ASSERT_NE(a0, nullptr);
  EXPECT_STREQ(GST_PAD_NAME(a0), "audio_0");
  for (GstPad *p : {v0, v1, a7, a0}) {
    gst_element_release_request_pad(e, p);
    gst_object_unref(p);
  }
  gst_object_unref(e);
}

TEST_F(SinkPads, FlvPadAndRequestPadsExcludeEachOther) {
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  GstPad *v0 = gst_element_request_pad_simple(e, "video_%u");
  ASSERT_NE(v0, nullptr);
  GstPad *src = gst_pad_new("src", GST_PAD_SRC);
  GstPad *sink = gst_element_get_static_pad(e, "sink");
  EXPECT_EQ(gst_pad_link(src, sink), GST_PAD_LINK_REFUSED);
  GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  ASSERT_NE(m, nullptr);
  GError *err = nullptr;
  gst_message_parse_error(m, &err, nullptr);
  EXPECT_NE(std::string(err->message).find("cannot be used together"), std::string::npos)
      << err->message;
  g_error_free(err);
  gst_message_unref(m);
  gst_element_release_request_pad(e, v0);
  gst_object_unref(v0);

  // The other way round: with the FLV pad linked, no request pad.
  ASSERT_EQ(gst_pad_link(src, sink), GST_PAD_LINK_OK);
  EXPECT_EQ(gst_element_request_pad_simple(e, "audio_%u"), nullptr);
  m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  EXPECT_NE(m, nullptr);
  if (m)
    gst_message_unref(m);
  gst_pad_unlink(src, sink);
  gst_object_unref(sink);
  gst_object_unref(src);
  gst_object_unref(bus);
  gst_object_unref(e);
}

TEST_F(SinkPads, EnhancedNeverRefusesHevcAtNegotiation) {
  Sink s("rtmp://127.0.0.1:1/live/x", "never");
  GstCaps *h265 = gst_caps_from_string("video/x-h265, stream-format=hvc1, alignment=au");
  GstCaps *h264 = gst_caps_from_string("video/x-h264, stream-format=avc, alignment=au");
  GstCaps *opus = gst_caps_from_string("audio/x-opus");
  // Unlinked, a pad offers everything it can carry, so that gst_pad_link() does not fail
  // without saying why...
  GstPad *unlinked = gst_element_request_pad_simple(s.element, "video_%u");
  ASSERT_NE(unlinked, nullptr);
  GstCaps *uc = gst_pad_query_caps(unlinked, nullptr);
  EXPECT_TRUE(gst_caps_can_intersect(uc, h265));
  gst_caps_unref(uc);
  gst_element_release_request_pad(s.element, unlinked);
  gst_object_unref(unlinked);
  GstPad *v = s.request("video_%u");
  GstPad *a = s.request("audio_%u");
  ASSERT_TRUE(v && a);
  // ... linked, its caps query follows the setting (and so does accept-caps).
  GstCaps *vc = gst_pad_query_caps(v, nullptr);
  EXPECT_FALSE(gst_caps_can_intersect(vc, h265));
  EXPECT_TRUE(gst_caps_can_intersect(vc, h264));
  GstCaps *ac = gst_pad_query_caps(a, nullptr);
  EXPECT_FALSE(gst_caps_can_intersect(ac, opus));
  EXPECT_EQ(s.wait(GST_MESSAGE_ERROR, 0), nullptr) << "an unfiltered query is not a refusal";
  // A peer asking for Opus (its codec as the filter) is told why not, once.
  GstCaps *none = gst_pad_query_caps(a, opus);
  EXPECT_TRUE(gst_caps_is_empty(none));
  gst_caps_unref(none);
  std::string text = s.error_text(1000);
  EXPECT_NE(text.find("audio_0: audio/x-opus"), std::string::npos) << text;
  EXPECT_NE(text.find("enhanced=never"), std::string::npos) << text;
  none = gst_pad_query_caps(a, opus);
  gst_caps_unref(none);
  EXPECT_EQ(s.wait(GST_MESSAGE_ERROR, 0), nullptr) << "posted twice for one pad";
  for (GstCaps *c : {vc, h265, h264, ac, opus})
    gst_caps_unref(c);
  GstCaps *full = caps_with_codec_data(
      "video/x-h265, stream-format=hvc1, alignment=au, width=64, height=64", kHvcC);
  EXPECT_FALSE(gst_pad_query_accept_caps(v, full));
  text = s.error_text(1000);
  EXPECT_NE(text.find("video_0: video/x-h265"), std::string::npos) << text;
  EXPECT_NE(text.find("enhanced=never"), std::string::npos) << text;
  // Forced anyway (the caps event is checked with accept-caps): not negotiated, nothing sent.
  s.play();
  EXPECT_FALSE(Sink::start(v, full));
  EXPECT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_NOT_NEGOTIATED);
  // Allowed codecs are still accepted on the same element.
  EXPECT_TRUE(Sink::start(a, aac_caps()));
}

// What `gst-launch-1.0 videotestsrc ! x265enc ! h265parse ! rtmpsink enhanced=never` gives: the
// pipeline is built (the link is not refused), then negotiation fails: first our error that says
// why, then the source's not-negotiated.
TEST_F(SinkPads, EnhancedNeverInAPipelineIsNotNegotiated) {
  GError *err = nullptr;
  GstElement *pipe = gst_parse_launch(
      "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=64 ! x265enc ! h265parse ! "
      "rtmpsink name=k enhanced=never location=rtmp://127.0.0.1:1/live/x",
      &err);
  if (!has_factory("x265enc") || !has_factory("h265parse")) {
    g_clear_error(&err);
    if (pipe)
      gst_object_unref(pipe);
    GTEST_SKIP() << "x265enc/h265parse not available";
  }
  ASSERT_TRUE(pipe && !err) << (err ? err->message : "") << ": the link was refused";
  GstBus *bus = gst_element_get_bus(pipe);
  gst_element_set_state(pipe, GST_STATE_PLAYING);
  std::string warnings, errors;
  for (GstMessage *m = gst_bus_timed_pop_filtered(
           bus, 20 * GST_SECOND,
           static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING));
       m; m = gst_bus_timed_pop_filtered(
              bus, errors.empty() ? 20 * GST_SECOND : 300 * GST_MSECOND,
              static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GError *e = nullptr;
    gchar *dbg = nullptr;
    const bool is_error = GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR;
    if (is_error)
      gst_message_parse_error(m, &e, &dbg);
    else
      gst_message_parse_warning(m, &e, &dbg);
    (is_error ? errors : warnings) += std::string(e->message) + " | " + (dbg ? dbg : "") + "\n";
    g_error_free(e);
    g_free(dbg);
    gst_message_unref(m);
  }
  EXPECT_EQ(errors.rfind("video_0: video/x-h265 needs Enhanced RTMP, which enhanced=never "
                         "forbids",
                         0),
            0u)
      << "not the first error: " << errors;
  EXPECT_NE(errors.find("not-negotiated"), std::string::npos) << errors;
  EXPECT_EQ(warnings, "");
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipe);
}

// enhanced=never with a codec that does not need E-RTMP: x264enc ! h264parse links, negotiates
// and publishes with legacy headers, without any error or warning.
TEST_F(SinkPads, EnhancedNeverStillPublishesH264) {
  FakeRtmpServer server;
  GError *err = nullptr;
  const std::string desc =
      "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=64,framerate=25/1 ! "
      "x264enc ! h264parse ! rtmpsink sync=false enhanced=never location=" +
      server.url();
  GstElement *pipe = gst_parse_launch(desc.c_str(), &err);
  if (!has_factory("x264enc")) {
    g_clear_error(&err);
    if (pipe)
      gst_object_unref(pipe);
    GTEST_SKIP() << "x264enc not available";
  }
  ASSERT_TRUE(pipe && !err) << (err ? err->message : "");
  GstBus *bus = gst_element_get_bus(pipe);
  gst_element_set_state(pipe, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(
      bus, 20 * GST_SECOND,
      static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
  gst_message_unref(m);
  gst_element_set_state(pipe, GST_STATE_NULL);
  const auto media = media_only(server.published());
  ASSERT_EQ(media.size(), 12u) << "sequence header, 10 frames, sequence end";
  for (const Message &msg : media)
    EXPECT_EQ(msg.payload.at(0) & 0x8F, 0x07) << "not a legacy AVC header";
  gst_object_unref(bus);
  gst_object_unref(pipe);
}

TEST_F(SinkPads, CapsWithoutCodecDataAreAClearError) {
  Sink s("rtmp://127.0.0.1:1/live/x");
  GstPad *v = s.request("video_%u");
  s.play();
  EXPECT_FALSE(Sink::start(
      v, gst_caps_from_string("video/x-h264, stream-format=avc, alignment=au, width=64")));
  const std::string text = s.error_text(1000);
  EXPECT_NE(text.find("codec_data"), std::string::npos) << text;
  EXPECT_NE(text.find("video_0"), std::string::npos) << text;
}

// H.264 with B-frames + AAC: what the server receives, message by message.
TEST_F(SinkPads, H264AndAacInterleavedByDtsWithCompositionTime) {
  AvPublish av;
  auto &[server, s, v, a] = av;
  // Video I P B B at 40 ms, DTS starting 80 ms before the PTS (as x264enc makes them, with the
  // first DTS before the segment start); audio every 23 ms from 0.
  const GstClockTime ms = GST_MSECOND;
  struct V {
    GstClockTime dts, pts;
    bool key;
  };
  const V vids[] = {{0, 80 * ms, true},
                    {40 * ms, 200 * ms, false},
                    {80 * ms, 120 * ms, false},
                    {120 * ms, 160 * ms, false}};
  const GstClockTime shift = 80 * ms; // running times start at -80 ms
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  seg.start = shift;
  seg.time = shift;
  gst_pad_send_event(v, gst_event_new_segment(&seg));
  gst_pad_send_event(a, gst_event_new_segment(&seg));
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(Sink::push(v, frame_bytes(0x10 + i), vids[i].dts, vids[i].pts, vids[i].key),
              GST_FLOW_OK);
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(
        Sink::push(a, frame_bytes(0x20 + i, 50), shift + i * 23 * ms, shift + i * 23 * ms, true),
        GST_FLOW_OK);
  ASSERT_TRUE(s.end({v, a})) << "no EOS after EOS on every request pad";
  ASSERT_TRUE(server.wait_until([&] { return server.saw("DeleteStream"); }, 3000))
      << "no clean unpublish";

  const auto all = server.published();
  ASSERT_FALSE(all.empty());
  DataMessage holder;
  const amf::Value *meta = metadata_of(all[0], holder);
  ASSERT_NE(meta, nullptr) << "onMetaData is not the first message";
  EXPECT_EQ(number_field(*meta, "width"), 64);
  EXPECT_EQ(number_field(*meta, "height"), 48);
  EXPECT_EQ(number_field(*meta, "framerate"), 25);
  EXPECT_EQ(number_field(*meta, "videocodecid"), 7);
  EXPECT_EQ(number_field(*meta, "audiocodecid"), 10);
  EXPECT_EQ(number_field(*meta, "audiosamplerate"), 44100);

  const auto media = media_only(all);
  // DTS order (ties: video first, it was queued first): sequence headers with the first frame.
  struct Want {
    std::uint8_t type;
    std::uint32_t ts;
    Bytes head; // header bytes before the frame data
    Bytes body;
  };
  auto vh = [](bool key, std::uint8_t packet_type, int cts) {
    return Bytes{static_cast<std::uint8_t>(key ? 0x17 : 0x27), packet_type,
                 static_cast<std::uint8_t>((cts >> 16) & 0xFF),
                 static_cast<std::uint8_t>((cts >> 8) & 0xFF),
                 static_cast<std::uint8_t>(cts & 0xFF)};
  };
  const Bytes aac_head = {0xAF, 0x01};
  std::vector<Want> want = {
      {9, 0, vh(true, 0, 0), kAvcC},
      {9, 0, vh(true, 1, 80), frame_bytes(0x10)},
      {9, 40, vh(false, 1, 160), frame_bytes(0x11)},
      {9, 80, vh(false, 1, 40), frame_bytes(0x12)}, // a tie: the track asked for first wins
      {8, 80, {0xAF, 0x00}, kAsc},
      {8, 80, aac_head, frame_bytes(0x20, 50)},
      {8, 103, aac_head, frame_bytes(0x21, 50)},
      {9, 120, vh(false, 1, 40), frame_bytes(0x13)},
      {9, 120, {0x17, 0x02, 0x00, 0x00, 0x00}, {}}, // AVC end of sequence at EOS
      {8, 126, aac_head, frame_bytes(0x22, 50)},
      {8, 149, aac_head, frame_bytes(0x23, 50)},
      {8, 172, aac_head, frame_bytes(0x24, 50)},
      {8, 195, aac_head, frame_bytes(0x25, 50)},
      {8, 218, aac_head, frame_bytes(0x26, 50)},
  };
  ASSERT_EQ(media.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    Bytes payload = want[i].head;
    payload.insert(payload.end(), want[i].body.begin(), want[i].body.end());
    EXPECT_EQ(media[i].type, want[i].type) << i;
    EXPECT_EQ(media[i].timestamp, want[i].ts) << i;
    EXPECT_EQ(media[i].payload, payload) << i;
  }
}

TEST_F(SinkPads, HevcAndOpusUseFourCcHeadersAndAnnounceThem) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstPad *v = s.request("video_%u");
  GstPad *a = s.request("audio_%u");
  s.play();
  ASSERT_TRUE(Sink::start(v, caps_with_codec_data("video/x-h265, stream-format=hvc1, "
                                                  "alignment=au, width=64, height=48",
                                                  kHvcC)));
  ASSERT_TRUE(Sink::start(a, gst_caps_from_string("audio/x-opus, channel-mapping-family=0, "
                                                  "rate=48000, channels=2")));
  const GstClockTime ms = GST_MSECOND;
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(a, frame_bytes(2, 30), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(v, frame_bytes(3), 40 * ms, 80 * ms, false), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(a, frame_bytes(4, 30), 20 * ms, 20 * ms, true), GST_FLOW_OK);
  ASSERT_TRUE(s.end({v, a}));
  ASSERT_TRUE(server.wait_until([&] { return server.saw("DeleteStream"); }, 3000));

  const EnhancedCapabilities caps = server.connect_capabilities();
  EXPECT_NE(std::find(caps.fourcc_list.begin(), caps.fourcc_list.end(), "hvc1"),
            caps.fourcc_list.end());
  EXPECT_NE(std::find(caps.fourcc_list.begin(), caps.fourcc_list.end(), "Opus"),
            caps.fourcc_list.end());
  EXPECT_EQ(caps.video_fourcc_info.count("hvc1"), 1u);
  EXPECT_EQ(caps.audio_fourcc_info.count("Opus"), 1u);

  const auto all = server.published();
  DataMessage holder;
  const amf::Value *meta = all.empty() ? nullptr : metadata_of(all[0], holder);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(number_field(*meta, "videocodecid"), static_cast<double>(fourcc("hvc1")));
  EXPECT_EQ(number_field(*meta, "audiocodecid"), static_cast<double>(fourcc("Opus")));

  // Parsed back with the core: FourCC, packet types, composition time, frame bytes.
  std::vector<VideoTagInfo> video;
  std::vector<AudioTagInfo> audio;
  std::vector<std::uint32_t> vts;
  const auto media = media_only(all); // the parsed views point into it
  for (const Message &m : media) {
    if (m.type == 9) {
      auto t = parse_video_tag(m.payload);
      ASSERT_TRUE(t) << "video tag does not parse";
      video.push_back(*t);
      vts.push_back(m.timestamp);
    } else {
      auto t = parse_audio_tag(m.payload);
      ASSERT_TRUE(t) << "audio tag does not parse";
      audio.push_back(*t);
    }
  }
  ASSERT_EQ(video.size(), 4u); // sequence start, 2 frames, sequence end
  ASSERT_EQ(audio.size(), 4u);
  for (const auto &t : video) {
    EXPECT_TRUE(t.enhanced);
    ASSERT_EQ(t.tracks.size(), 1u);
    EXPECT_EQ(t.tracks[0].codec, VideoCodec::hevc);
  }
  EXPECT_EQ(video[0].tracks[0].kind, VideoPacketKind::sequence_start);
  EXPECT_EQ(Bytes(video[0].tracks[0].payload.begin(), video[0].tracks[0].payload.end()), kHvcC);
  EXPECT_EQ(video[1].tracks[0].kind, VideoPacketKind::coded_frames);
  EXPECT_EQ(Bytes(video[1].tracks[0].payload.begin(), video[1].tracks[0].payload.end()),
            frame_bytes(1));
  EXPECT_EQ(video[2].tracks[0].composition_time_ms, 40);
  EXPECT_EQ(vts[2], 40u);
  EXPECT_EQ(video[3].tracks[0].kind, VideoPacketKind::sequence_end);
  for (const auto &t : audio) {
    EXPECT_TRUE(t.enhanced);
    ASSERT_EQ(t.tracks.size(), 1u);
    EXPECT_EQ(t.tracks[0].codec, AudioCodec::opus);
  }
  EXPECT_EQ(audio[0].tracks[0].kind, AudioPacketKind::sequence_start);
  const ByteView head = audio[0].tracks[0].payload;
  ASSERT_GE(head.size(), 8u);
  EXPECT_EQ(std::memcmp(head.data(), "OpusHead", 8), 0);
  EXPECT_EQ(audio[3].tracks[0].kind, AudioPacketKind::sequence_end);
}

// "fLaC" + the STREAMINFO block as flacparse pushes them in-band (FLAC format:
// METADATA_BLOCK_HEADER type 0, length 34; block size 4096/4096, frame sizes 0/0, 44100 Hz, 2
// channels, 16 bits, 0 samples, zero MD5), and a VORBIS_COMMENT block (type 4, last) with an empty
// vendor string.
const Bytes kFlacMarker = {'f', 'L', 'a', 'C'};
const Bytes kFlacStreamInfo = [] {
  Bytes b = {0x00, 0x00, 0x00, 0x22, 0x10, 0x00, 0x10, 0x00, 0, 0, 0,
             0,    0,    0,    0x0A, 0xC4, 0x42, 0xF0, 0,    0, 0, 0};
  b.resize(4 + 34, 0);
  return b;
}();
const Bytes kFlacComment = {0x84, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};

// flacparse's caps: streamheader = the Ogg-FLAC mapping packet (0x7F "FLAC" 1.0, one more header
// packet, "fLaC", STREAMINFO) and the comment block.
GstCaps *flac_caps() {
  GstCaps *c = gst_caps_from_string("audio/x-flac, framed=true, rate=44100, channels=2");
  Bytes mapping = {0x7F, 'F', 'L', 'A', 'C', 0x01, 0x00, 0x00, 0x01};
  mapping.insert(mapping.end(), kFlacMarker.begin(), kFlacMarker.end());
  mapping.insert(mapping.end(), kFlacStreamInfo.begin(), kFlacStreamInfo.end());
  GValue array = G_VALUE_INIT;
  g_value_init(&array, GST_TYPE_ARRAY);
  for (const Bytes *b : std::initializer_list<const Bytes *>{&mapping, &kFlacComment}) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_BUFFER);
    GstBuffer *buf = bytes_buffer(*b);
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_HEADER);
    g_value_take_boxed(&v, buf);
    gst_value_array_append_and_take_value(&array, &v);
  }
  gst_structure_take_value(gst_caps_get_structure(c, 0), "streamheader", &array);
  return c;
}

TEST_F(SinkPads, FlacHeaderBuffersInBandAreNotSentAsFrames) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstPad *a = s.request("audio_%u");
  s.play();
  ASSERT_TRUE(Sink::start(a, flac_caps()));
  // flacparse pushes its header buffers untimed, flagged HEADER, before the first frame.
  for (const Bytes *h : {&kFlacMarker, &kFlacStreamInfo, &kFlacComment}) {
    GstBuffer *b = bytes_buffer(*h);
    GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_HEADER);
    ASSERT_EQ(gst_pad_chain(a, b), GST_FLOW_OK);
  }
  const GstClockTime ms = GST_MSECOND;
  ASSERT_EQ(Sink::push(a, frame_bytes(5, 30), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(a, frame_bytes(6, 30), 26 * ms, 26 * ms, true), GST_FLOW_OK);
  ASSERT_TRUE(s.end({a}));
  ASSERT_TRUE(server.wait_until([&] { return server.saw("DeleteStream"); }, 3000));

  // Sequence start ("fLaC" + STREAMINFO), the two frames and nothing else, sequence end.
  const auto media = media_only(server.published());
  std::vector<AudioTagInfo> audio;
  for (const Message &m : media) {
    auto t = parse_audio_tag(m.payload);
    ASSERT_TRUE(t) << "audio tag does not parse";
    ASSERT_EQ(t->tracks.size(), 1u);
    EXPECT_EQ(t->tracks[0].codec, AudioCodec::flac);
    audio.push_back(*t);
  }
  ASSERT_EQ(audio.size(), 4u);
  EXPECT_EQ(audio[0].tracks[0].kind, AudioPacketKind::sequence_start);
  const ByteView start = audio[0].tracks[0].payload;
  ASSERT_EQ(start.size(), kFlacMarker.size() + kFlacStreamInfo.size());
  EXPECT_EQ(std::memcmp(start.data(), "fLaC", 4), 0);
  for (std::size_t i = 1; i <= 2; ++i) {
    EXPECT_EQ(audio[i].tracks[0].kind, AudioPacketKind::coded_frames);
    EXPECT_EQ(Bytes(audio[i].tracks[0].payload.begin(), audio[i].tracks[0].payload.end()),
              frame_bytes(static_cast<std::uint8_t>(4 + i), 30));
  }
  EXPECT_EQ(audio[3].tracks[0].kind, AudioPacketKind::sequence_end);
}

TEST_F(SinkPads, DtsGoingBackwardsIsSentAtTheLastOne) {
  VideoPublish vp;
  auto &[server, s, v] = vp;
  const GstClockTime ms = GST_MSECOND;
  for (GstClockTime t : {0 * ms, 80 * ms, 40 * ms, 120 * ms})
    ASSERT_EQ(Sink::push(v, frame_bytes(1), t, t, t == 0), GST_FLOW_OK);
  ASSERT_TRUE(s.end({v}));
  std::vector<std::uint32_t> ts;
  for (const Message &m : media_only(server.published()))
    if (m.payload.size() > 1 && m.payload[1] == 1) // AVC NALU packets
      ts.push_back(m.timestamp);
  EXPECT_EQ(ts, (std::vector<std::uint32_t>{0, 80, 80, 120}));
}

// A frame larger than an RTMP message can be (24-bit length): a clear error, nothing sent of it.
TEST_F(SinkPads, FrameAboveTheMessageSizeLimitIsAnError) {
  VideoPublish vp;
  auto &[server, s, v] = vp;
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  EXPECT_EQ(Sink::push(v, Bytes(17 * 1024 * 1024, 0x42), 40 * GST_MSECOND, 40 * GST_MSECOND, false),
            GST_FLOW_ERROR);
  const std::string text = s.error_text(2000);
  EXPECT_NE(text.find("could not send"), std::string::npos) << text;
  for (const Message &m : server.published())
    EXPECT_LT(m.payload.size(), 1u << 24);
}

// Two video tracks: track 1 goes as an E-RTMP Multitrack message (OneTrack, trackId 1), H.264 on
// track 0 keeps the legacy header; connect announces capsEx Multitrack and avc1.
TEST_F(SinkPads, SecondVideoTrackIsMultitrack) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstPad *v0 = s.request("video_%u");
  GstPad *v1 = s.request("video_%u");
  s.play();
  const char *h264 = "video/x-h264, stream-format=avc, alignment=au, width=64, height=48";
  ASSERT_TRUE(Sink::start(v0, caps_with_codec_data(h264, kAvcC)));
  ASSERT_TRUE(Sink::start(v1, caps_with_codec_data(h264, kAvcC)));
  ASSERT_EQ(Sink::push(v0, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(v1, frame_bytes(2), 0, 0, true), GST_FLOW_OK);
  ASSERT_TRUE(s.end({v0, v1}));
  const EnhancedCapabilities caps = server.connect_capabilities();
  EXPECT_TRUE(caps.caps_ex & kCapsExMultitrack);
  EXPECT_EQ(caps.video_fourcc_info.count("avc1"), 1u);
  const auto media = media_only(server.published());
  std::vector<std::pair<int, VideoPacketKind>> seen; // (track id, kind) of each video message
  for (const Message &m : media) {
    auto t = parse_video_tag(m.payload);
    ASSERT_TRUE(t);
    ASSERT_EQ(t->tracks.size(), 1u);
    EXPECT_EQ(t->enhanced, t->tracks[0].track_id != 0);
    if (t->tracks[0].kind == VideoPacketKind::coded_frames) {
      EXPECT_EQ(Bytes(t->tracks[0].payload.begin(), t->tracks[0].payload.end()),
                frame_bytes(t->tracks[0].track_id == 0 ? 1 : 2));
    }
    seen.emplace_back(t->tracks[0].track_id, t->tracks[0].kind);
  }
  // All at DTS 0: ties go to the pad asked for first, so track 0 (ended first) comes first.
  const std::vector<std::pair<int, VideoPacketKind>> want = {
      {0, VideoPacketKind::sequence_start}, {0, VideoPacketKind::coded_frames},
      {0, VideoPacketKind::sequence_end},   {1, VideoPacketKind::sequence_start},
      {1, VideoPacketKind::coded_frames},   {1, VideoPacketKind::sequence_end}};
  EXPECT_EQ(seen, want);
}

// enhanced=always: H.264 and AAC get FourCC headers (avc1, mp4a).
TEST_F(SinkPads, EnhancedAlwaysUsesFourCcForH264AndAac) {
  AvPublish av("always");
  auto &[server, s, v, a] = av;
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(a, frame_bytes(2, 20), 0, 0, true), GST_FLOW_OK);
  ASSERT_TRUE(s.end({v, a}));
  const auto media = media_only(server.published());
  ASSERT_FALSE(media.empty());
  for (const Message &m : media) {
    ASSERT_GE(m.payload.size(), 5u);
    const Bytes fcc(m.payload.begin() + 1, m.payload.begin() + 5);
    if (m.type == 9) {
      EXPECT_TRUE(m.payload[0] & 0x80);
      EXPECT_EQ(fcc, (Bytes{'a', 'v', 'c', '1'}));
    } else {
      EXPECT_EQ(m.payload[0] >> 4, 9);
      EXPECT_EQ(fcc, (Bytes{'m', 'p', '4', 'a'}));
    }
  }
  const auto caps = server.connect_capabilities();
  EXPECT_NE(std::find(caps.fourcc_list.begin(), caps.fourcc_list.end(), "mp4a"),
            caps.fourcc_list.end());
}

// New caps with a new codec_data mid-stream (a resolution change): a new sequence start before the
// next frame and an updated onMetaData; the same caps again send nothing new.
TEST_F(SinkPads, CapsChangeSendsANewSequenceStartAndMetadata) {
  VideoPublish vp;
  auto &[server, s, v] = vp;
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  Bytes other = kAvcC;
  other[3] = 0x28; // another level: another configuration record
  GstCaps *bigger = caps_with_codec_data("video/x-h264, stream-format=avc, alignment=au, "
                                         "width=128, height=96",
                                         other);
  ASSERT_TRUE(gst_pad_send_event(v, gst_event_new_caps(bigger)));
  ASSERT_EQ(Sink::push(v, frame_bytes(2), 40 * GST_MSECOND, 40 * GST_MSECOND, true), GST_FLOW_OK);
  ASSERT_TRUE(gst_pad_send_event(v, gst_event_new_caps(bigger)));
  gst_caps_unref(bigger);
  ASSERT_EQ(Sink::push(v, frame_bytes(3), 80 * GST_MSECOND, 80 * GST_MSECOND, false), GST_FLOW_OK);
  ASSERT_TRUE(s.end({v}));
  std::vector<std::string> order;
  double last_width = 0;
  for (const Message &m : server.published()) {
    DataMessage holder;
    if (const amf::Value *meta = metadata_of(m, holder)) {
      order.push_back("meta");
      last_width = number_field(*meta, "width");
    } else if (m.type == 9 && m.payload.size() > 5) {
      order.push_back(m.payload[1] == 0 ? "config" : m.payload[1] == 1 ? "frame" : "end");
      if (m.payload[1] == 0) {
        EXPECT_EQ(Bytes(m.payload.begin() + 5, m.payload.end()), order.size() < 4 ? kAvcC : other);
      }
    } else if (m.type == 9) {
      order.push_back("end");
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"meta", "config", "frame", "meta", "config", "frame",
                                             "frame", "end"}));
  EXPECT_EQ(last_width, 128);
}

// A pad requested but never linked (a gst-launch line that asked for one too many): EOS of the
// linked pads ends the stream.
TEST_F(SinkPads, UnlinkedPadDoesNotHoldBackEos) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstPad *v = s.request("video_%u");
  GstPad *unlinked = gst_element_request_pad_simple(s.element, "audio_%u");
  ASSERT_NE(unlinked, nullptr);
  s.play();
  ASSERT_TRUE(Sink::start(v, h264_caps()));
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  gst_pad_send_event(v, gst_event_new_eos());
  GstMessage *eos = s.wait(GST_MESSAGE_EOS, 3000);
  EXPECT_NE(eos, nullptr) << "EOS waits for a pad nothing is linked to";
  if (eos)
    gst_message_unref(eos);
  EXPECT_EQ(media_only(server.published()).size(), 3u); // config, frame, end of sequence
  gst_element_set_state(s.element, GST_STATE_NULL);
  gst_element_release_request_pad(s.element, unlinked);
  gst_object_unref(unlinked);
}

// Releasing one pad while the other streams: the other goes on (per-pad flushing).
TEST_F(SinkPads, ReleasingAPadLeavesTheOthersStreaming) {
  AvPublish av;
  auto &[server, s, v, a] = av;
  ASSERT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  ASSERT_EQ(Sink::push(a, frame_bytes(2, 20), 0, 0, true), GST_FLOW_OK);
  gst_element_release_request_pad(s.element, a);
  s.pads.erase(std::find(s.pads.begin(), s.pads.end(), a));
  gst_object_unref(a);
  // Still linked pads: EOS waits for them; released ones: not.
  for (int i = 1; i < 5; ++i)
    ASSERT_EQ(Sink::push(v, frame_bytes(1), i * 40 * GST_MSECOND, i * 40 * GST_MSECOND, false),
              GST_FLOW_OK);
  ASSERT_TRUE(s.end({v})) << "EOS must not wait for a released pad";
  std::size_t frames = 0;
  for (const Message &m : media_only(server.published()))
    frames += m.type == 9 && m.payload.size() > 5 && m.payload[1] == 1;
  EXPECT_EQ(frames, 5u);
}

// rtmpserversrc in this process, PLAYING, on `port` (0: a free one).
GstHarness *start_server(guint port) {
  GstHarness *h = gst_harness_new("rtmpserversrc");
  const std::string loc = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/key";
  g_object_set(h->element, "location", loc.c_str(), nullptr);
  gst_harness_play(h);
  return h;
}

// The FLV tags (type, payload) rtmpserversrc pushes within `ms`.
std::vector<std::pair<std::uint8_t, Bytes>> pull_tags(GstHarness *h, int ms) {
  std::vector<std::pair<std::uint8_t, Bytes>> out;
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(ms) * 1000;
  while (g_get_monotonic_time() < end) {
    GstBuffer *b = gst_harness_try_pull(h);
    if (!b) {
      g_usleep(2000);
      continue;
    }
    Bytes d(gst_buffer_get_size(b));
    gst_buffer_extract(b, 0, d.data(), d.size());
    gst_buffer_unref(b);
    if (d.size() >= 15 && (d[0] == 8 || d[0] == 9 || d[0] == 18))
      out.emplace_back(d[0], Bytes(d.begin() + 11, d.end() - 4));
  }
  return out;
}

// reconnect=true with two video tracks: after the server comes back, the sequence headers of both
// tracks (track 1 in a Multitrack message) are sent again before the frames.
TEST_F(SinkPads, ReconnectResendsTheSequenceHeadersOfEveryTrack) {
  GstHarness *srv = start_server(0);
  guint port = 0;
  g_object_get(srv->element, "bound-port", &port, nullptr);
  Sink s("rtmp://127.0.0.1:" + std::to_string(port) + "/live/key");
  g_object_set(s.element, "reconnect", TRUE, "reconnect-delay", 50u, nullptr);
  GstPad *v0 = s.request("video_%u");
  GstPad *v1 = s.request("video_%u");
  s.play();
  const char *h264 = "video/x-h264, stream-format=avc, alignment=au, width=64, height=48";
  ASSERT_TRUE(Sink::start(v0, caps_with_codec_data(h264, kAvcC)));
  ASSERT_TRUE(Sink::start(v1, caps_with_codec_data(h264, kAvcC)));
  GstClockTime t = 0;
  auto push_both = [&] {
    EXPECT_EQ(Sink::push(v0, frame_bytes(1), t, t, true), GST_FLOW_OK);
    EXPECT_EQ(Sink::push(v1, frame_bytes(2), t, t, true), GST_FLOW_OK);
    t += 40 * GST_MSECOND;
  };
  for (int i = 0; i < 5; ++i)
    push_both();
  EXPECT_FALSE(pull_tags(srv, 300).empty());
  gst_harness_teardown(srv); // the server goes away with its connection
  srv = start_server(port);
  // Frames keep coming; the sink notices the drop, queues, reconnects.
  std::vector<std::pair<std::uint8_t, Bytes>> got;
  for (int i = 0; i < 100 && got.size() < 8; ++i) {
    push_both();
    auto more = pull_tags(srv, 20);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_GE(got.size(), 8u) << "nothing arrived after the server came back";
  // Up to the first coded frame: onMetaData and the two sequence headers.
  bool track0_config = false, track1_config = false;
  for (const auto &[type, payload] : got) {
    if (type != 9)
      continue;
    if (payload[0] == 0x17 && payload[1] == 0) {
      track0_config = true;
      continue;
    }
    if (payload[0] == 0x96 && payload[1] == 0x00 && payload.size() > 7 && payload[6] == 1) {
      track1_config = true; // Multitrack (6), OneTrack + SequenceStart, "avc1", track 1
      continue;
    }
    break; // a frame
  }
  EXPECT_TRUE(track0_config) << "track 0 sequence header not re-sent";
  EXPECT_TRUE(track1_config) << "track 1 (Multitrack) sequence header not re-sent";
  s.play(); // still fine
  gst_element_set_state(s.element, GST_STATE_NULL);
  gst_harness_teardown(srv);
}

// Pushes video frames 40 ms apart on a thread of its own, as an encoder's streaming thread does,
// until `frames` went through or a push failed.
struct VideoPusher {
  GstPad *pad;
  int frames;
  std::atomic<bool> finished{false};
  std::atomic<GstFlowReturn> last{GST_FLOW_OK};
  std::thread thread;
  VideoPusher(GstPad *p, int n) : pad(p), frames(n) {
    thread = std::thread([this] {
      for (int i = 0; i < frames && last == GST_FLOW_OK; ++i)
        last = Sink::push(pad, frame_bytes(static_cast<std::uint8_t>(i)), i * 40 * GST_MSECOND,
                          i * 40 * GST_MSECOND, i % 25 == 0);
      finished = true;
    });
  }
  ~VideoPusher() { thread.join(); }
  bool wait_finished(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!finished && std::chrono::steady_clock::now() < until)
      g_usleep(10 * 1000);
    return finished;
  }
};

// Video frames 0, 40, 80... ms after the sequence start, then the sequence end: all of them, in
// order.
void expect_video_in_order(const FakeRtmpServer &server, int frames) {
  const auto media = media_only(server.published());
  ASSERT_EQ(media.size(), static_cast<std::size_t>(frames + 2)); // + sequence start and end
  for (std::size_t i = 1; i + 1 < media.size(); ++i)
    EXPECT_EQ(media[i].timestamp, (i - 1) * 40) << i;
}

// Non-live (no live upstream answered the LATENCY query): a linked audio pad without a buffer
// holds the video back until its EOS, however long that takes; nothing is sent ahead of it.
TEST_F(SinkPads, NonLivePadWithoutDataHoldsTheOthersBackUntilItsEos) {
  AvPublish av;
  auto &[server, s, v, a] = av;
  constexpr int kFrames = 100; // 4 s at 25 fps: twice what a track queues while waiting
  VideoPusher pusher(v, kFrames);
  g_usleep(2500 * 1000); // well beyond what a live pipeline waits (kMinLiveStallWaitNs)
  EXPECT_FALSE(pusher.finished) << "the video went on without the silent audio pad";
  EXPECT_TRUE(media_only(server.published()).empty()) << "video sent ahead of the audio pad";
  gst_pad_send_event(a, gst_event_new_eos());
  ASSERT_TRUE(pusher.wait_finished(3000)) << "the audio EOS did not release the video";
  EXPECT_EQ(pusher.last, GST_FLOW_OK);
  ASSERT_TRUE(s.end({v}));
  ASSERT_TRUE(server.wait_until(
      [&] { return media_only(server.published()).size() >= kFrames + 2; }, 3000));
  expect_video_in_order(server, kFrames);
}

// Non-live: unlinking or releasing the silent pad ends the wait for it.
TEST_F(SinkPads, NonLivePadWithoutDataIsNotWaitedForOnceUnlinkedOrReleased) {
  for (const bool release : {false, true}) {
    SCOPED_TRACE(release ? "release" : "unlink");
    AvPublish av;
    auto &[server, s, v, a] = av;
    constexpr int kFrames = 100;
    VideoPusher pusher(v, kFrames);
    g_usleep(1500 * 1000);
    EXPECT_FALSE(pusher.finished) << "the video went on without the silent audio pad";
    if (release) {
      s.release(a);
    } else {
      GstPad *peer = gst_pad_get_peer(a);
      ASSERT_NE(peer, nullptr);
      EXPECT_TRUE(gst_pad_unlink(peer, a));
      gst_object_unref(peer);
    }
    ASSERT_TRUE(pusher.wait_finished(3000)) << "still waiting for the audio pad";
    EXPECT_EQ(pusher.last, GST_FLOW_OK);
    ASSERT_TRUE(s.end({v}));
    ASSERT_TRUE(server.wait_until(
        [&] { return media_only(server.published()).size() >= kFrames + 2; }, 3000));
    expect_video_in_order(server, kFrames);
  }
}

// Live (a live upstream answered the LATENCY query, latency 0): a linked audio pad that never gets
// a buffer holds the video back once, for kMinLiveStallWaitNs, then the video flows.
TEST_F(SinkPads, LivePadWithoutDataHoldsTheOthersBackOnlyBriefly) {
  AvPublish av;
  auto &[server, s, v, a] = av;
  s.make_live();
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kFrames = 100;
  for (int i = 0; i < kFrames; ++i)
    ASSERT_EQ(Sink::push(v, frame_bytes(static_cast<std::uint8_t>(i)), i * 40 * GST_MSECOND,
                         i * 40 * GST_MSECOND, i % 25 == 0),
              GST_FLOW_OK);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(took, 0.9) << "did not wait for the empty track at all";
  EXPECT_LT(took, 3.0) << "waited for the empty track more than once";
  // Everything up to the last 2 s has been sent (the rest waits in the queue, bounded).
  ASSERT_TRUE(server.wait_until(
      [&] { return media_only(server.published()).size() >= kFrames / 2; }, 3000));
  // Audio EOS without data: the video is no longer held back at all; all of it arrives.
  ASSERT_TRUE(s.end({a, v}));
  ASSERT_TRUE(server.wait_until(
      [&] { return media_only(server.published()).size() >= kFrames + 2; }, 3000));
  expect_video_in_order(server, kFrames);
}

// A non-live pipeline: appsrc (H.264) -> video_0 and appsrc (AAC) -> audio_0, sync=false, the
// video branch held by a blocking probe on its source's pad (an encoder that is slow to give its
// first frame, e.g. x264enc under load).
struct HeldVideoPipeline {
  static constexpr int kVideoFrames = 100; // 4 s at 25 fps
  static constexpr int kAudioFrames = 200; // 4.6 s of 1024-sample AAC frames at 44.1 kHz
  GstElement *pipe = nullptr;
  GstBus *bus = nullptr;
  GstPad *held = nullptr;
  gulong probe = 0;

  explicit HeldVideoPipeline(const std::string &url) {
    const std::string desc = "rtmpsink name=k sync=false location=" + url +
                             " appsrc name=vsrc format=time ! k.video_0"
                             " appsrc name=asrc format=time ! k.audio_0";
    GError *err = nullptr;
    pipe = gst_parse_launch(desc.c_str(), &err);
    EXPECT_TRUE(pipe && !err) << (err ? err->message : "");
    g_clear_error(&err);
    bus = gst_element_get_bus(pipe);
    GstElement *vsrc = gst_bin_get_by_name(GST_BIN(pipe), "vsrc");
    GstElement *asrc = gst_bin_get_by_name(GST_BIN(pipe), "asrc");
    GstCaps *vc = h264_caps(), *ac = aac_caps();
    g_object_set(vsrc, "caps", vc, nullptr);
    g_object_set(asrc, "caps", ac, nullptr);
    gst_caps_unref(vc);
    gst_caps_unref(ac);
    held = gst_element_get_static_pad(vsrc, "src");
    probe = gst_pad_add_probe(
        held, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER),
        [](GstPad *, GstPadProbeInfo *, gpointer) { return GST_PAD_PROBE_OK; }, nullptr, nullptr);
    EXPECT_NE(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    // Everything is queued in the appsrcs at once: the sink's pads get data as fast as they take
    // it, but for the held video.
    for (int i = 0; i < kVideoFrames; ++i)
      push(vsrc, frame_bytes(static_cast<std::uint8_t>(i)), i * 40 * GST_MSECOND, i % 25 != 0);
    for (int i = 0; i < kAudioFrames; ++i)
      push(asrc, frame_bytes(0xAA, 20), gst_util_uint64_scale(i, 1024 * GST_SECOND, 44100), false);
    for (GstElement *src : {vsrc, asrc}) {
      GstFlowReturn r = GST_FLOW_OK;
      g_signal_emit_by_name(src, "end-of-stream", &r);
      gst_object_unref(src);
    }
  }
  ~HeldVideoPipeline() {
    release();
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(held);
    gst_object_unref(bus);
    gst_object_unref(pipe);
  }
  static void push(GstElement *src, const Bytes &data, GstClockTime ts, bool delta) {
    GstBuffer *b = bytes_buffer(data);
    GST_BUFFER_DTS(b) = GST_BUFFER_PTS(b) = ts;
    if (delta)
      GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
    GstFlowReturn r = GST_FLOW_OK;
    g_signal_emit_by_name(src, "push-buffer", b, &r);
    gst_buffer_unref(b);
    EXPECT_EQ(r, GST_FLOW_OK);
  }
  void release() {
    if (probe)
      gst_pad_remove_probe(held, probe);
    probe = 0;
  }
};

// Non-live, the video branch held for 3 s: the audio pad, full after 2 s of audio, waits for the
// video's first frame however long it takes, and the server gets one stream interleaved by DTS
// from the first tag on (nothing of the audio is sent ahead).
TEST_F(SinkPads, NonLiveBranchHeldBackIsStillInterleaved) {
  FakeRtmpServer server;
  const auto t0 = std::chrono::steady_clock::now();
  HeldVideoPipeline p(server.url());
  g_usleep(2500 * 1000);
  EXPECT_TRUE(media_only(server.published()).empty()) << "sent ahead of the held video branch";
  std::this_thread::sleep_until(t0 + std::chrono::seconds(3));
  p.release();
  GstMessage *m = gst_bus_timed_pop_filtered(
      p.bus, 10 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(m, nullptr) << "no EOS";
  EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
  gst_message_unref(m);
  const std::size_t expected = HeldVideoPipeline::kVideoFrames + HeldVideoPipeline::kAudioFrames +
                               3; // + AVC start/end, AAC start
  ASSERT_TRUE(
      server.wait_until([&] { return media_only(server.published()).size() >= expected; }, 3000));
  const auto media = media_only(server.published());
  EXPECT_EQ(media.size(), expected);
  std::vector<std::uint32_t> ts;
  for (const Message &msg : media)
    ts.push_back(msg.timestamp);
  EXPECT_TRUE(std::is_sorted(ts.begin(), ts.end())) << "media not interleaved by DTS";
  EXPECT_EQ(ts.front(), 0u);
  EXPECT_EQ(ts.back(), 4620u) << "the last AAC frame, at 199 * 1024 / 44100 s";
}

// The same, never released: NULL returns within a second (the audio pad's wait ends).
TEST_F(SinkPads, NullWithinOneSecondWhileABranchIsHeldBack) {
  FakeRtmpServer server;
  HeldVideoPipeline p(server.url());
  g_usleep(1500 * 1000); // the audio pad now waits for the video
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(gst_element_set_state(p.pipe, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 1.0);
  EXPECT_TRUE(media_only(server.published()).empty());
}

// FLUSH_START on the waiting pad ends its wait for an empty track at once.
TEST_F(SinkPads, FlushEndsTheWaitForAnEmptyTrack) {
  AvPublish av;
  auto &v = av.v;
  VideoPusher pusher(v, 1000);
  g_usleep(300 * 1000); // the pusher is now waiting for the audio track
  EXPECT_FALSE(pusher.finished);
  gst_pad_send_event(v, gst_event_new_flush_start());
  EXPECT_TRUE(pusher.wait_finished(1000));
  EXPECT_EQ(pusher.last, GST_FLOW_FLUSHING);
  gst_pad_send_event(v, gst_event_new_flush_stop(TRUE));
}

TEST_F(SinkPads, NullWithinOneSecondWhileWaitingForAnEmptyTrack) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstPad *v = s.request("video_%u");
  GstPad *a = s.request("audio_%u");
  (void)a;
  s.play();
  ASSERT_TRUE(Sink::start(v, h264_caps()));
  GstFlowReturn last = GST_FLOW_OK;
  GThread *pusher = g_thread_new(
      "push",
      [](gpointer data) -> gpointer {
        auto *args = static_cast<std::pair<GstPad *, GstFlowReturn *> *>(data);
        for (int i = 0; i < 1000 && *args->second == GST_FLOW_OK; ++i)
          *args->second = Sink::push(args->first, frame_bytes(1), i * 40 * GST_MSECOND,
                                     i * 40 * GST_MSECOND, i == 0);
        return nullptr;
      },
      new std::pair<GstPad *, GstFlowReturn *>(v, &last));
  g_usleep(300 * 1000); // the pusher is now waiting for the audio track
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(gst_element_set_state(s.element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 1.0);
  g_thread_join(pusher);
  EXPECT_EQ(last, GST_FLOW_FLUSHING);
}

// The FLV `sink` pad: an onMetaData without the audio fields, then the AAC sequence header: the
// sink sends the onMetaData again with audiosamplerate/stereo/audiocodecid from the
// AudioSpecificConfig, keeping the stream's own fields (width, and a videocodecid it had).
TEST_F(SinkPads, FlvPadCompletesOnMetaDataFromTheAacConfig) {
  FakeRtmpServer server;
  GstHarness *pub = rtmp::test::client_harness("rtmpsink");
  g_object_set(pub->element, "location", server.url().c_str(), nullptr);
  gst_harness_set_src_caps_str(pub, "video/x-flv");
  const Bytes meta = encode_data(DataMessage{"onMetaData",
                                             {amf::make_ecma_array({
                                                 {"width", 320.0},
                                                 {"videocodecid", 99.0},
                                             })}},
                                 0, 0)
                         .payload;
  Bytes aac_config = {0xAF, 0x00};
  aac_config.insert(aac_config.end(), kAsc.begin(), kAsc.end());
  Bytes avc_config = {0x17, 0x00, 0x00, 0x00, 0x00};
  avc_config.insert(avc_config.end(), kAvcC.begin(), kAvcC.end());
  Bytes stream = make_flv_header(FlvHeader{true, true});
  for (const auto &[type, payload] : std::vector<std::pair<std::uint8_t, Bytes>>{
           {18, meta}, {9, avc_config}, {8, aac_config}, {8, {0xAF, 0x01, 0x55}}}) {
    ASSERT_FALSE(write_flv_tag(type, 0, payload, stream));
  }
  gst_harness_play(pub);
  ASSERT_EQ(gst_harness_push(pub, bytes_buffer(stream)), GST_FLOW_OK);
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 5; }, 5000));
  std::vector<Message> metas;
  for (const Message &m : server.published())
    if (m.type == static_cast<std::uint8_t>(MessageType::data_amf0))
      metas.push_back(m);
  ASSERT_EQ(metas.size(), 2u) << "the onMetaData was not completed after the AAC config";
  DataMessage h0, h1;
  const amf::Value *first = metadata_of(metas[0], h0);
  const amf::Value *second = metadata_of(metas[1], h1);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(number_field(*first, "audiosamplerate"), -1) << "filled before the config was seen";
  EXPECT_EQ(number_field(*second, "audiosamplerate"), 44100);
  EXPECT_EQ(number_field(*second, "audiocodecid"), 10);
  EXPECT_EQ(number_field(*second, "width"), 320);
  EXPECT_EQ(number_field(*second, "videocodecid"), 99) << "the stream's own field was replaced";
  bool stereo = false;
  for (const auto &[k, v] : *second->properties())
    if (k == "stereo")
      stereo = v.as_bool().value_or(false);
  EXPECT_TRUE(stereo);
  gst_harness_teardown(pub);
}

// In a pipeline (a clock, sync=true): a frame 10 s ahead waits on the clock; NULL still returns
// within a second and the wait ends with FLUSHING.
TEST_F(SinkPads, NullWithinOneSecondWhileWaitingForTheClock) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), GST_ELEMENT(gst_object_ref(s.element)));
  GstPad *v = s.request("video_%u");
  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  ASSERT_TRUE(Sink::start(v, h264_caps()));
  struct Args {
    GstPad *pad;
    GstFlowReturn last = GST_FLOW_OK;
    gint64 returned_us = 0;
  } args{v};
  GThread *pusher = g_thread_new(
      "push",
      [](gpointer data) -> gpointer {
        auto *a = static_cast<Args *>(data);
        a->last = Sink::push(a->pad, frame_bytes(1), 0, 0, true);
        if (a->last == GST_FLOW_OK)
          a->last = Sink::push(a->pad, frame_bytes(2), 10 * GST_SECOND, 10 * GST_SECOND, true);
        a->returned_us = g_get_monotonic_time();
        return nullptr;
      },
      &args);
  ASSERT_TRUE(server.wait_until([&] { return media_only(server.published()).size() >= 2; }, 3000))
      << "the first frame was not sent at once";
  g_usleep(200 * 1000); // the pusher now waits for the clock to reach 10 s
  EXPECT_EQ(args.returned_us, 0) << "the second frame did not wait for the clock";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  g_thread_join(pusher);
  EXPECT_EQ(args.last, GST_FLOW_FLUSHING);
  EXPECT_EQ(media_only(server.published()).size(), 2u); // config + first frame only
  gst_object_unref(pipeline);
}

// What a test's src pad linked to a request pad answers to the LATENCY query, and the LATENCY
// event it got.
struct UpstreamLatency {
  bool live = true;
  GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
  GstClockTime event = GST_CLOCK_TIME_NONE;

  void attach(GstPad *src) {
    gst_pad_set_active(src, TRUE); // takes events
    gst_pad_set_element_private(src, this);
    gst_pad_set_query_function(src, [](GstPad *pad, GstObject *, GstQuery *q) -> gboolean {
      auto *u = static_cast<UpstreamLatency *>(gst_pad_get_element_private(pad));
      if (GST_QUERY_TYPE(q) != GST_QUERY_LATENCY)
        return FALSE;
      gst_query_set_latency(q, u->live, u->min, u->max);
      return TRUE;
    });
    gst_pad_set_event_function(src, [](GstPad *pad, GstObject *, GstEvent *e) -> gboolean {
      auto *u = static_cast<UpstreamLatency *>(gst_pad_get_element_private(pad));
      if (GST_EVENT_TYPE(e) == GST_EVENT_LATENCY)
        gst_event_parse_latency(e, &u->event);
      gst_event_unref(e);
      return TRUE;
    });
  }
};

// The pipeline's LATENCY query goes up every request pad and is combined as a muxer does (the
// largest minimum, the smallest maximum, live when any branch is), plus GstBaseSink's processing
// deadline when syncing; the LATENCY event goes up every request pad.
TEST_F(SinkPads, LatencyQueryAndEventGoThroughTheRequestPads) {
  Sink s("rtmp://127.0.0.1:1/live/x");
  ASSERT_TRUE(s.request("video_%u") && s.request("audio_%u") && s.request("video_%u"));
  UpstreamLatency video{true, 100 * GST_MSECOND, GST_SECOND};
  UpstreamLatency audio{true, 40 * GST_MSECOND, GST_CLOCK_TIME_NONE};
  UpstreamLatency file{false, 0, 0}; // not live: does not count
  video.attach(s.peers[0]);
  audio.attach(s.peers[1]);
  file.attach(s.peers[2]);
  const GstClockTime deadline = gst_base_sink_get_processing_deadline(GST_BASE_SINK(s.element));
  EXPECT_EQ(deadline, 20 * GST_MSECOND); // GstBaseSink's default
  GstQuery *q = gst_query_new_latency();
  ASSERT_TRUE(gst_element_query(s.element, q));
  gboolean live = FALSE;
  GstClockTime min = 0, max = 0;
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_TRUE(live);
  EXPECT_EQ(min, 100 * GST_MSECOND + deadline);
  EXPECT_EQ(max, GST_SECOND);
  gst_query_unref(q);
  // sync=false: not live ourselves, upstream's latency as it is.
  g_object_set(s.element, "sync", FALSE, nullptr);
  q = gst_query_new_latency();
  ASSERT_TRUE(gst_element_query(s.element, q));
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_FALSE(live);
  EXPECT_EQ(min, 100 * GST_MSECOND);
  gst_query_unref(q);

  s.play(); // the request pads are active: they pass events upstream
  ASSERT_TRUE(gst_element_send_event(s.element, gst_event_new_latency(300 * GST_MSECOND)));
  EXPECT_EQ(video.event, 300 * GST_MSECOND);
  EXPECT_EQ(audio.event, 300 * GST_MSECOND);
  EXPECT_EQ(file.event, 300 * GST_MSECOND);
}

// With sync=true, a tag waits for running time + the pipeline latency (what GstBaseSink does for
// its own pad): a frame at running time 0 with 400 ms of latency goes out about 400 ms after
// PLAYING, not at once.
TEST_F(SinkPads, ClockWaitIncludesThePipelineLatency) {
  FakeRtmpServer server;
  Sink s(server.url());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), GST_ELEMENT(gst_object_ref(s.element)));
  GstPad *v = s.request("video_%u");
  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(gst_element_send_event(pipeline, gst_event_new_latency(400 * GST_MSECOND)));
  ASSERT_TRUE(Sink::start(v, h264_caps()));
  EXPECT_EQ(Sink::push(v, frame_bytes(1), 0, 0, true), GST_FLOW_OK);
  ASSERT_TRUE(server.wait_until([&] { return media_only(server.published()).size() >= 2; }, 3000));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(took, 0.35) << "sent before running time + latency";
  EXPECT_LT(took, 1.5);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

// A live pipeline (videotestsrc is-live ! x264enc tune=zerolatency, audiotestsrc is-live !
// avenc_aac) into the request pads, sync=true: the pipeline's latency query is answered from both
// branches plus the processing deadline, and every buffer reaches the server (none is dropped as
// late), in order, on the capture timeline.
TEST_F(SinkPads, LivePipelineLatencyAndNothingDroppedAsLate) {
  if (!has_factory("x264enc") || !has_factory("avenc_aac")) {
    GTEST_SKIP() << "x264enc/avenc_aac not available";
  }
  FakeRtmpServer server;
  constexpr int kFrames = 40; // 1.6 s at 25 fps
  const std::string desc =
      "rtmpsink name=k location=" + server.url() +
      " videotestsrc is-live=1 num-buffers=" + std::to_string(kFrames) +
      " ! video/x-raw,width=64,height=64,framerate=25/1 ! x264enc tune=zerolatency "
      "key-int-max=25 ! h264parse ! queue ! k.video_0 "
      "audiotestsrc is-live=1 samplesperbuffer=1024 num-buffers=40 ! avenc_aac ! aacparse ! "
      "queue ! k.audio_0";
  GError *err = nullptr;
  GstElement *pipe = gst_parse_launch(desc.c_str(), &err);
  ASSERT_TRUE(pipe && !err) << (err ? err->message : "");
  GstElement *k = gst_bin_get_by_name(GST_BIN(pipe), "k");
  GstBus *bus = gst_element_get_bus(pipe);
  ASSERT_NE(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(server.wait_until([&] { return media_only(server.published()).size() >= 4; }, 5000));

  // The pipeline's answer (the sink is its only sink) against the branches' own.
  GstClockTime branch_min = 0;
  for (const char *name : {"video_0", "audio_0"}) {
    GstPad *pad = gst_element_get_static_pad(k, name);
    GstQuery *q = gst_query_new_latency();
    ASSERT_TRUE(gst_pad_peer_query(pad, q)) << name;
    gboolean live = FALSE;
    GstClockTime min = 0, max = 0;
    gst_query_parse_latency(q, &live, &min, &max);
    EXPECT_TRUE(live) << name;
    branch_min = std::max(branch_min, min);
    gst_query_unref(q);
    gst_object_unref(pad);
  }
  EXPECT_GT(branch_min, 0u);
  GstQuery *q = gst_query_new_latency();
  ASSERT_TRUE(gst_element_query(pipe, q));
  gboolean live = FALSE;
  GstClockTime min = 0, max = 0;
  gst_query_parse_latency(q, &live, &min, &max);
  gst_query_unref(q);
  EXPECT_TRUE(live);
  EXPECT_EQ(min, branch_min + 20 * GST_MSECOND);

  GstMessage *m = gst_bus_timed_pop_filtered(
      bus, 20 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
  gst_message_unref(m);
  gst_element_set_state(pipe, GST_STATE_NULL);
  std::vector<std::uint32_t> video;
  std::size_t audio = 0;
  std::uint32_t last = 0;
  for (const Message &msg : media_only(server.published())) {
    EXPECT_GE(msg.timestamp, last) << "timestamps went back";
    last = msg.timestamp;
    if (msg.type == 9 && msg.payload.size() > 1 && msg.payload[1] == 1) // AVC NALU
      video.push_back(msg.timestamp);
    if (msg.type == 8 && msg.payload.size() > 1 && msg.payload[1] == 1) // AAC raw
      ++audio;
  }
  ASSERT_EQ(video.size(), static_cast<std::size_t>(kFrames)) << "video frames dropped";
  for (std::size_t i = 1; i < video.size(); ++i)
    EXPECT_NEAR(static_cast<double>(video[i] - video[i - 1]), 40.0, 1.0) << i;
  // 40 x 1024 samples: avenc_aac makes one frame per 1024 (plus its priming frame at most).
  EXPECT_GE(audio, 40u);
  EXPECT_LE(audio, 41u);
  gst_object_unref(bus);
  gst_object_unref(k);
  gst_object_unref(pipe);
}

// ---- TrackInterleaver on its own -----------------------------------------------------------

FlvTag tag(std::uint8_t type, std::uint8_t marker) {
  return FlvTag{type, 0, Bytes{marker}};
}

TEST(TrackInterleaver, WaitsForEveryTrackThenSendsTheLowestDtsFirst) {
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  il.push(v, tag(9, 1), 1'000'000'000);
  EXPECT_FALSE(il.pop()) << "audio has nothing yet";
  il.push(a, tag(8, 2), 1'020'000'000);
  auto t = il.pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->data[0], 1);
  EXPECT_EQ(t->timestamp, 0u); // the first tag is time 0
  EXPECT_FALSE(il.pop()) << "video is empty again";
  il.push(v, tag(9, 3), 1'040'000'000);
  t = il.pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->data[0], 2);
  EXPECT_EQ(t->timestamp, 20u);
  il.set_eos(a);
  t = il.pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->timestamp, 40u);
  EXPECT_FALSE(il.all_eos());
  il.set_eos(v);
  EXPECT_TRUE(il.all_eos());
}

TEST(TrackInterleaver, BackwardsDtsIsRaisedAndNegativeTimesWork) {
  TrackInterleaver il;
  const auto v = il.add_track();
  EXPECT_EQ(il.push(v, tag(9, 1), -80'000'000), -80'000'000);
  EXPECT_EQ(il.push(v, tag(9, 2), -120'000'000), -80'000'000);
  EXPECT_EQ(il.push(v, tag(9, 3), 0), 0);
  std::vector<std::uint32_t> ts;
  while (auto t = il.pop())
    ts.push_back(t->timestamp);
  EXPECT_EQ(ts, (std::vector<std::uint32_t>{0, 0, 80}));
}

TEST(TrackInterleaver, FullAfterTheWaitBoundAndSkippingEmptyTracks) {
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  std::int64_t t = 0;
  while (!il.full(v)) {
    il.push(v, tag(9, 0), t);
    t += 40'000'000;
    ASSERT_LE(t, rtmp::gst::kMaxInterleaveWaitNs + 80'000'000);
  }
  EXPECT_FALSE(il.full(a));
  EXPECT_FALSE(il.pop());
  il.skip_empty_tracks();
  std::size_t n = 0;
  while (il.pop())
    ++n;
  EXPECT_EQ(n, static_cast<std::size_t>(t / 40'000'000));
  // A skipped track that pushes again is waited for again.
  il.push(a, tag(8, 0), t);
  il.push(v, tag(9, 0), t + 10);
  il.push(a, tag(8, 0), t + 20);
  EXPECT_TRUE(il.pop());
  EXPECT_TRUE(il.pop());
  EXPECT_FALSE(il.pop()) << "video is empty: wait for it";
  // Count bound: tags that do not advance in time fill a track too.
  TrackInterleaver same;
  const auto x = same.add_track();
  same.add_track();
  for (std::size_t i = 0; i < rtmp::gst::kMaxQueuedTagsPerTrack; ++i)
    same.push(x, tag(9, 0), 0);
  EXPECT_TRUE(same.full(x));
  EXPECT_EQ(same.queued(), rtmp::gst::kMaxQueuedTagsPerTrack);
  EXPECT_TRUE(same.pop(true)) << "drain pops regardless";
}

// A track `v` filled up to kMaxInterleaveWaitNs while track `a` has nothing.
std::int64_t fill(TrackInterleaver &il, std::size_t v) {
  std::int64_t t = 0;
  while (!il.full(v)) {
    il.push(v, tag(9, 0), t);
    t += 40'000'000;
  }
  return t;
}

using Action = rtmp::gst::RoomDecision::Action;
constexpr std::int64_t kSecond = 1'000'000'000;

// Non-live: nothing is lost by waiting, so a full track waits for a linked, silent one however
// long it takes (an encoder whose first frame is late), like GstAggregator.
TEST(TrackInterleaver, NonLiveWaitsForALinkedTrackWithoutDataForEver) {
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  fill(il, v);
  for (const std::int64_t now : {std::int64_t{0}, kSecond, 60 * kSecond, 24 * 3600 * kSecond}) {
    const auto d = il.wait_for_room(v, 0, now, std::nullopt);
    EXPECT_EQ(d.action, Action::wait) << now;
    EXPECT_FALSE(d.until_ns) << "a non-live wait has no deadline";
    EXPECT_FALSE(il.pop()) << "video sent ahead of the silent audio track";
  }
  // The audio comes at last: everything is sent in decode-time order.
  il.push(a, tag(8, 1), 20'000'000);
  EXPECT_EQ(il.pop()->data[0], 0); // video at 0
  EXPECT_EQ(il.pop()->data[0], 1); // audio at 20 ms
  EXPECT_FALSE(il.pop()) << "audio is empty again";
  EXPECT_EQ(il.wait_for_room(v, 0, 0, std::nullopt).action, Action::proceed)
      << "less than kMaxInterleaveWaitNs queued";
}

TEST(TrackInterleaver, EosOfTheSilentTrackReleasesTheWait) {
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  const std::int64_t end = fill(il, v);
  EXPECT_EQ(il.wait_for_room(v, 0, kSecond, std::nullopt).action, Action::wait);
  il.set_eos(a);
  std::size_t n = 0;
  while (il.pop())
    ++n;
  EXPECT_EQ(n, static_cast<std::size_t>(end / 40'000'000));
  EXPECT_EQ(il.wait_for_room(v, 0, kSecond, std::nullopt).action, Action::proceed);
}

TEST(TrackInterleaver, UnlinkOrRemovalOfTheSilentTrackReleasesTheWait) {
  for (const bool remove : {false, true}) {
    TrackInterleaver il;
    const auto v = il.add_track();
    const auto a = il.add_track();
    fill(il, v);
    EXPECT_EQ(il.wait_for_room(v, 0, kSecond, std::nullopt).action, Action::wait);
    if (remove)
      il.remove_track(a);
    else
      il.set_linked(a, false);
    while (il.pop()) {
    }
    EXPECT_EQ(il.wait_for_room(v, 0, kSecond, std::nullopt).action, Action::proceed) << remove;
  }
  // An unlinked track is not waited for from the start; linked again, it is.
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  il.set_linked(a, false);
  il.push(v, tag(9, 0), 0);
  EXPECT_TRUE(il.pop());
  il.set_linked(a, true);
  il.push(v, tag(9, 0), 40'000'000);
  EXPECT_FALSE(il.pop()) << "a linked track without data is waited for";
}

// Live: a track later than the limit (the pipeline latency, at least kMinLiveStallWaitNs) would
// make everything late; the full track waits until the limit, then the empty tracks are skipped
// until they deliver again.
TEST(TrackInterleaver, LiveGivesUpAfterTheLimit) {
  TrackInterleaver il;
  const auto v = il.add_track();
  const auto a = il.add_track();
  const std::int64_t end = fill(il, v);
  const std::int64_t since = 100 * kSecond;
  auto d = il.wait_for_room(v, since, since + kSecond / 2, kSecond);
  EXPECT_EQ(d.action, Action::wait);
  EXPECT_EQ(d.until_ns, since + kSecond);
  EXPECT_FALSE(il.pop());
  d = il.wait_for_room(v, since, since + kSecond, kSecond);
  EXPECT_EQ(d.action, Action::gave_up);
  std::size_t n = 0;
  while (il.pop())
    ++n;
  EXPECT_EQ(n, static_cast<std::size_t>(end / 40'000'000)) << "sent without the empty track";
  EXPECT_EQ(il.wait_for_room(v, since, since + kSecond, kSecond).action, Action::proceed);
  // The skipped track delivers: it is waited for again.
  il.push(a, tag(8, 1), end);
  il.push(v, tag(9, 0), end + 10);
  EXPECT_TRUE(il.pop());
  EXPECT_FALSE(il.pop()) << "audio is empty: wait for it";
}

} // namespace
