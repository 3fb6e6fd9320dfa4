// rtmpserversrc output=elementary (issue 7, shared with rtmpsrc through elementary_output.h):
// a publisher (our rtmpsink in flv mode, fed hand-made FLV tags) sends H.264+AAC, HEVC+Opus
// (Enhanced RTMP), two video tracks (E-RTMP multitrack), a sequence header change, hostile tags;
// collector pads linked on pad-added record what each video_%u / audio_%u pad gets (events in
// order, caps, buffers with PTS/DTS/flags, tags, EOS) and the bus messages.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "elements/codec_caps.h"
#include "../core/test_hex.hpp"
#include "client_harness.hpp"
#include "element_test_util.hpp"
#include "fake_server.hpp"

using namespace rtmp;

namespace {

class SrcPads : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

using test::buffer_bytes;
using test::hex;

Bytes concat(const Bytes &a, const Bytes &b) {
  return test::cat({a, b});
}

// Real configuration records (x264 avcC, x265 hvcC head, AAC-LC ASC, OpusHead: see
// test_codec_caps.cpp).
const Bytes kAvcC = hex("01f4000bffe1001a67f4000b919b28508fc4e022000003000200000300641e28532c01"
                        "000668ebe3c44844");
// The same with a different SPS level byte (a "resolution change" as far as caps go).
const Bytes kAvcC2 = hex("01f4001fffe1001a67f4001f919b28508fc4e022000003000200000300641e28532c01"
                         "000668ebe3c44844");
const Bytes kHvcC =
    hex("0101600000009000000000005df000fcfdf8f800000f03a00001000c40010c01ffff01600000"
        "0300900000a1000100034201aa2000010004440101c1");
const Bytes kAsc = hex("1210");
const Bytes kOpusHead = hex("4f707573486561640102380180bb0000000000");

struct PadLog {
  // "stream-start", "caps", "segment", "tag", "buffer", "eos", "flush-start", "flush-stop"
  std::vector<std::string> order;
  std::vector<GstClockTime> segment_starts;
  std::vector<std::string> caps;
  std::vector<std::string> tags;
  std::vector<GstBuffer *> buffers;
  guint group_id = 0;
  bool eos = false;
};

struct Collector {
  GMutex lock;
  std::map<std::string, PadLog> pads;
  std::vector<GstPad *> sinks;
  bool no_more_pads = false;
  std::size_t pads_at_no_more_pads = 0;
  Collector() { g_mutex_init(&lock); }
  ~Collector() {
    for (auto &[n, l] : pads)
      for (GstBuffer *b : l.buffers)
        gst_buffer_unref(b);
    for (GstPad *p : sinks)
      gst_object_unref(p);
    g_mutex_clear(&lock);
  }
};

Collector *collector_of(GstPad *pad) {
  return static_cast<Collector *>(g_object_get_data(G_OBJECT(pad), "collector"));
}

GstFlowReturn collect_chain(GstPad *pad, GstObject *, GstBuffer *buf) {
  Collector *c = collector_of(pad);
  g_mutex_lock(&c->lock);
  PadLog &l = c->pads[GST_PAD_NAME(pad)];
  l.order.push_back("buffer");
  l.buffers.push_back(buf);
  g_mutex_unlock(&c->lock);
  return GST_FLOW_OK;
}

gboolean collect_event(GstPad *pad, GstObject *, GstEvent *e) {
  Collector *c = collector_of(pad);
  g_mutex_lock(&c->lock);
  PadLog &l = c->pads[GST_PAD_NAME(pad)];
  switch (GST_EVENT_TYPE(e)) {
  case GST_EVENT_STREAM_START:
    l.order.push_back("stream-start");
    gst_event_parse_group_id(e, &l.group_id);
    break;
  case GST_EVENT_CAPS: {
    GstCaps *caps = nullptr;
    gst_event_parse_caps(e, &caps);
    l.caps.push_back(test::take_string(gst_caps_to_string(caps)));
    l.order.push_back("caps");
    break;
  }
  case GST_EVENT_SEGMENT: {
    const GstSegment *seg = nullptr;
    gst_event_parse_segment(e, &seg);
    l.segment_starts.push_back(seg->start);
    l.order.push_back("segment");
    break;
  }
  case GST_EVENT_FLUSH_START:
    l.order.push_back("flush-start");
    break;
  case GST_EVENT_FLUSH_STOP:
    l.order.push_back("flush-stop");
    break;
  case GST_EVENT_TAG: {
    GstTagList *t = nullptr;
    gst_event_parse_tag(e, &t);
    l.tags.push_back(test::take_string(gst_tag_list_to_string(t)));
    l.order.push_back("tag");
    break;
  }
  case GST_EVENT_EOS:
    l.eos = true;
    l.order.push_back("eos");
    break;
  default:
    break;
  }
  g_mutex_unlock(&c->lock);
  gst_event_unref(e);
  return TRUE;
}

// Accepts any caps (the default would hold a template-less pad to its current caps, refusing a
// renegotiation).
gboolean collect_query(GstPad *pad, GstObject *parent, GstQuery *q) {
  if (GST_QUERY_TYPE(q) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result(q, TRUE);
    return TRUE;
  }
  if (GST_QUERY_TYPE(q) == GST_QUERY_CAPS) {
    gst_query_set_caps_result(q, GST_CAPS_ANY);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, q);
}

void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *c = static_cast<Collector *>(data);
  GstPad *sink = gst_pad_new(GST_PAD_NAME(pad), GST_PAD_SINK);
  g_object_set_data(G_OBJECT(sink), "collector", c);
  gst_pad_set_chain_function(sink, collect_chain);
  gst_pad_set_event_function(sink, collect_event);
  gst_pad_set_query_function(sink, collect_query);
  gst_pad_set_active(sink, TRUE);
  EXPECT_EQ(gst_pad_link(pad, sink), GST_PAD_LINK_OK);
  g_mutex_lock(&c->lock);
  c->sinks.push_back(sink);
  c->pads[GST_PAD_NAME(pad)];
  g_mutex_unlock(&c->lock);
}

void on_no_more_pads(GstElement *, gpointer data) {
  auto *c = static_cast<Collector *>(data);
  g_mutex_lock(&c->lock);
  c->no_more_pads = true;
  c->pads_at_no_more_pads = c->pads.size();
  g_mutex_unlock(&c->lock);
}

// A pipeline with rtmpserversrc output=elementary on a free port, PLAYING.
struct Server {
  GstElement *pipeline = nullptr, *src = nullptr;
  Collector collector;
  guint port = 0;
  // `wait_s` > 0: on-disconnect=wait with that reconnect-timeout.
  explicit Server(guint wait_s = 0) {
    pipeline = gst_pipeline_new(nullptr);
    src = gst_element_factory_make("rtmpserversrc", nullptr);
    g_object_set(src, "location", "rtmp://127.0.0.1:0/live/key", nullptr);
    if (wait_s) {
      gst_util_set_object_arg(G_OBJECT(src), "on-disconnect", "wait");
      g_object_set(src, "reconnect-timeout", wait_s, nullptr);
    }
    gst_util_set_object_arg(G_OBJECT(src), "output", "elementary");
    g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), &collector);
    g_signal_connect(src, "no-more-pads", G_CALLBACK(on_no_more_pads), &collector);
    gst_bin_add(GST_BIN(pipeline), src);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    g_object_get(src, "bound-port", &port, nullptr);
  }
  ~Server() {
    stop();
    gst_object_unref(pipeline);
  }
  // Time to NULL in ms.
  double stop() {
    const auto t0 = std::chrono::steady_clock::now();
    gst_element_set_state(pipeline, GST_STATE_NULL);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  // Waits until every pad in `names` got EOS (within 10 s).
  bool wait_eos(const std::vector<std::string> &names) {
    const gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
      g_mutex_lock(&collector.lock);
      bool all = true;
      for (const auto &n : names) {
        auto it = collector.pads.find(n);
        all = all && it != collector.pads.end() && it->second.eos;
      }
      g_mutex_unlock(&collector.lock);
      if (all)
        return true;
      g_usleep(5000);
    }
    return false;
  }
  std::vector<std::string> pad_names() {
    std::vector<std::string> out;
    GstIterator *it = gst_element_iterate_src_pads(src);
    GValue v = G_VALUE_INIT;
    while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
      out.push_back(GST_PAD_NAME(g_value_get_object(&v)));
      g_value_reset(&v);
    }
    g_value_unset(&v);
    gst_iterator_free(it);
    return out;
  }
  // Element messages named `name` posted so far.
  std::vector<GstStructure *> messages(const char *name) {
    std::vector<GstStructure *> out;
    GstBus *bus = gst_element_get_bus(pipeline);
    while (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
      const GstStructure *s = gst_message_get_structure(m);
      if (s && gst_structure_has_name(s, name))
        out.push_back(gst_structure_copy(s));
      gst_message_unref(m);
    }
    gst_object_unref(bus);
    return out;
  }
};

using Tag = test::FlvTagSpec;

// Publishes `tags` as one FLV stream from our rtmpsink, then leaves (EOS).
void publish(guint port, const std::vector<Tag> &tags) {
  GstHarness *pub = test::flv_publisher(test::server_url(port));
  EXPECT_EQ(test::push_flv(pub, make_flv_header(FlvHeader{true, true}), tags), GST_FLOW_OK);
  gst_harness_push_event(pub, gst_event_new_eos());
  gst_harness_teardown(pub);
}

// Our rtmpsink publishing an AVC sequence header and a keyframe to `srv`, still connected once
// both of srv's pads (always src and video_0) exist or 10 s have passed.
GstHarness *publish_keyframe(Server &srv) {
  GstHarness *pub = test::flv_publisher(test::server_url(srv.port));
  EXPECT_EQ(test::push_flv(pub, make_flv_header(FlvHeader{true, true}),
                           {{9, 0, concat(hex("17 00 000000"), kAvcC)},
                            {9, 0, concat(hex("17 01 000000"), hex("00000001 65"))}}),
            GST_FLOW_OK);
  const gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (srv.pad_names().size() < 2 && g_get_monotonic_time() < end)
    g_usleep(5000);
  return pub;
}

Bytes metadata(amf::Properties props) {
  return encode_data(make_set_data_frame(amf::make_ecma_array(std::move(props))), 1, 0).payload;
}

Bytes data(const char *handler, amf::Properties props) {
  return encode_data(DataMessage{handler, {amf::make_ecma_array(std::move(props))}}, 1, 0).payload;
}

constexpr GstClockTime ms(std::uint64_t v) {
  return v * GST_MSECOND;
}

} // namespace

TEST_F(SrcPads, TemplatesAndOutputProperty) {
  GstElementFactory *f = gst_element_factory_find("rtmpserversrc");
  ASSERT_NE(f, nullptr);
  bool video = false, audio = false;
  for (const GList *l = gst_element_factory_get_static_pad_templates(f); l; l = l->next) {
    auto *t = static_cast<GstStaticPadTemplate *>(l->data);
    if (g_str_equal(t->name_template, "video_%u") && t->presence == GST_PAD_SOMETIMES)
      video = true;
    if (g_str_equal(t->name_template, "audio_%u") && t->presence == GST_PAD_SOMETIMES)
      audio = true;
  }
  EXPECT_TRUE(video && audio);
  gst_object_unref(f);
  for (const char *name : {"rtmpsrc", "rtmpserversrc"}) {
    GstElement *e = gst_element_factory_make(name, nullptr);
    ASSERT_NE(e, nullptr);
    gint mode = -1;
    g_object_get(e, "output", &mode, nullptr);
    EXPECT_EQ(mode, 0) << name << ": flv by default";
    gst_util_set_object_arg(G_OBJECT(e), "output", "elementary");
    g_object_get(e, "output", &mode, nullptr);
    EXPECT_EQ(mode, 1) << name;
    EXPECT_NE(gst_element_get_pad_template(e, "video_%u"), nullptr) << name;
    EXPECT_NE(gst_element_get_pad_template(e, "audio_%u"), nullptr) << name;
    gst_object_unref(e);
  }
}

// Legacy H.264 + AAC with onMetaData: pad names, caps (flvdemux's plus alignment=au),
// event order, PTS = DTS + CompositionTime, DELTA_UNIT, payloads, tags, rtmp-metadata on the
// bus, no-more-pads once both announced tracks have pads, EOS on both when the publisher leaves.
TEST_F(SrcPads, H264AndAacPadsCapsTimestampsTags) {
  Server srv;
  ASSERT_NE(srv.port, 0u);
  const Bytes frame1 = hex("0000000565888000"), frame2 = hex("00000003419a00");
  const Bytes aac1 = hex("21100400"), aac2 = hex("2110");
  publish(srv.port, {
                        {18, 0,
                         metadata({{"title", amf::Value("hello")},
                                   {"hasVideo", amf::Value(true)},
                                   {"hasAudio", amf::Value(true)},
                                   {"videocodecid", amf::Value(7.0)},
                                   {"audiocodecid", amf::Value(10.0)},
                                   {"myfield", amf::Value("custom")}})},
                        {9, 0, concat(hex("17 00 000000"), kAvcC)},
                        {8, 0, concat(hex("af 00"), kAsc)},
                        {9, 0, concat(hex("17 01 000042"), frame1)}, // CompositionTime 66 ms
                        {8, 10, concat(hex("af 01"), aac1)},
                        {9, 40, concat(hex("27 01 000000"), frame2)},
                        {8, 33, concat(hex("af 01"), aac2)},
                        {18, 40,
                         data("onTextData",
                              {{"text", amf::Value("caption")}, {"language", amf::Value("eng")}})},
                        {18, 40,
                         data("onCuePoint", {{"name", amf::Value("cue1")},
                                             {"time", amf::Value(0.04)},
                                             {"type", amf::Value("event")}})},
                    });
  ASSERT_TRUE(srv.wait_eos({"video_0", "audio_0"}));
  auto names = srv.pad_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"audio_0", "src", "video_0"}));

  g_mutex_lock(&srv.collector.lock);
  PadLog &v = srv.collector.pads["video_0"];
  PadLog &a = srv.collector.pads["audio_0"];
  ASSERT_EQ(v.caps.size(), 1u);
  GstCaps *vc = gst_caps_from_string(v.caps[0].c_str());
  GstCaps *expect_v = gst_caps_from_string(
      "video/x-h264, stream-format=avc, alignment=au, "
      "codec_data=(buffer)01f4000bffe1001a67f4000b919b28508fc4e022000003000200000300641e28532c01"
      "000668ebe3c44844");
  EXPECT_TRUE(gst_caps_is_subset(vc, expect_v)) << v.caps[0];
  gst_caps_unref(vc);
  gst_caps_unref(expect_v);
  ASSERT_EQ(a.caps.size(), 1u);
  GstCaps *ac = gst_caps_from_string(a.caps[0].c_str());
  GstCaps *expect_a =
      gst_caps_from_string("audio/mpeg, mpegversion=4, stream-format=raw, codec_data=(buffer)1210");
  EXPECT_TRUE(gst_caps_is_subset(ac, expect_a)) << a.caps[0];
  gst_caps_unref(ac);
  gst_caps_unref(expect_a);

  // stream-start, caps, segment before any buffer; tags after the caps; one group id.
  ASSERT_GE(v.order.size(), 4u);
  EXPECT_EQ(v.order[0], "stream-start");
  EXPECT_EQ(v.order[1], "caps");
  EXPECT_EQ(v.order[2], "segment");
  EXPECT_EQ(v.order.back(), "eos");
  EXPECT_NE(v.group_id, 0u);
  EXPECT_EQ(v.group_id, a.group_id);
  bool title = false;
  for (const auto &t : v.tags)
    title = title || t.find("title=(string)hello") != std::string::npos;
  EXPECT_TRUE(title) << "no title tag on video_0";
  title = false;
  for (const auto &t : a.tags)
    title = title || t.find("title=(string)hello") != std::string::npos;
  EXPECT_TRUE(title) << "no title tag on audio_0";

  ASSERT_EQ(v.buffers.size(), 2u);
  EXPECT_EQ(buffer_bytes(v.buffers[0]), frame1);
  EXPECT_EQ(buffer_bytes(v.buffers[1]), frame2);
  const GstClockTime base = GST_BUFFER_DTS(v.buffers[0]);
  EXPECT_EQ(GST_BUFFER_PTS(v.buffers[0]) - base, ms(66));
  EXPECT_EQ(GST_BUFFER_DTS(v.buffers[1]) - base, ms(40));
  EXPECT_EQ(GST_BUFFER_PTS(v.buffers[1]) - base, ms(40));
  EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(v.buffers[0], GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(v.buffers[1], GST_BUFFER_FLAG_DELTA_UNIT));
  ASSERT_EQ(a.buffers.size(), 2u);
  EXPECT_EQ(buffer_bytes(a.buffers[0]), aac1);
  EXPECT_EQ(buffer_bytes(a.buffers[1]), aac2);
  EXPECT_EQ(GST_BUFFER_PTS(a.buffers[0]) - base, ms(10));
  EXPECT_EQ(GST_BUFFER_PTS(a.buffers[1]) - base, ms(33));
  EXPECT_TRUE(srv.collector.no_more_pads);
  EXPECT_EQ(srv.collector.pads_at_no_more_pads, 2u);
  bool caption = false;
  for (const auto &t : a.tags)
    caption = caption || t.find("comment=(string)caption") != std::string::npos;
  EXPECT_TRUE(caption) << "onTextData as a comment tag on audio_0";
  g_mutex_unlock(&srv.collector.lock);

  // onMetaData's unmapped fields, onTextData and onCuePoint on the bus, once each.
  GstBus *bus = gst_element_get_bus(srv.pipeline);
  std::vector<std::string> posted;
  while (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    if (const GstStructure *st = gst_message_get_structure(m)) {
      posted.push_back(gst_structure_get_name(st));
      if (gst_structure_has_name(st, "rtmp-text-data")) {
        EXPECT_STREQ(gst_structure_get_string(st, "text"), "caption");
      }
      if (gst_structure_has_name(st, "rtmp-cue-point")) {
        EXPECT_STREQ(gst_structure_get_string(st, "name"), "cue1");
      }
      if (gst_structure_has_name(st, "rtmp-metadata")) {
        EXPECT_STREQ(gst_structure_get_string(st, "myfield"), "custom");
      }
    }
    gst_message_unref(m);
  }
  gst_object_unref(bus);
  for (const char *n : {"rtmp-metadata", "rtmp-text-data", "rtmp-cue-point"})
    EXPECT_EQ(std::count(posted.begin(), posted.end(), n), 1) << n;
}

// Enhanced RTMP: HEVC (hvc1) with CodedFrames composition time and Opus; a second video track
// through a multitrack message -> video_0 and video_1.
TEST_F(SrcPads, HevcOpusAndTwoVideoTracks) {
  Server srv;
  const std::uint32_t hvc1 = fourcc("hvc1"), opus = fourcc("Opus");
  const Bytes nal = hex("00000002 2601"), nal2 = hex("00000002 0201");
  VideoTagInfo second_seq;
  second_seq.enhanced = true;
  second_seq.multitrack = true;
  second_seq.multitrack_type = MultitrackType::one_track;
  second_seq.tracks.push_back(
      VideoTrackPacket{1, VideoCodec::hevc, hvc1, VideoPacketKind::sequence_start, 0, 0, 0, kHvcC});
  auto seq1 = write_video_tag(second_seq);
  ASSERT_TRUE(seq1);
  VideoTagInfo second_frame = second_seq;
  second_frame.tracks[0].kind = VideoPacketKind::coded_frames;
  second_frame.tracks[0].packet_type = 1;
  second_frame.tracks[0].payload = nal2;
  auto frame1 = write_video_tag(second_frame);
  ASSERT_TRUE(frame1);
  publish(
      srv.port,
      {
          {9, 0,
           concat(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::sequence_start,
                                             hvc1),
                  kHvcC)},
          {8, 0,
           concat(make_enhanced_audio_header(AudioPacketKind::sequence_start, opus), kOpusHead)},
          {9, 0, *seq1},
          {9, 0,
           concat(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::coded_frames,
                                             hvc1, 33),
                  nal)},
          {8, 20,
           concat(make_enhanced_audio_header(AudioPacketKind::coded_frames, opus), hex("fcff"))},
          {9, 40, *frame1},
      });
  ASSERT_TRUE(srv.wait_eos({"video_0", "video_1", "audio_0"}));
  g_mutex_lock(&srv.collector.lock);
  PadLog &v0 = srv.collector.pads["video_0"];
  PadLog &v1 = srv.collector.pads["video_1"];
  PadLog &a0 = srv.collector.pads["audio_0"];
  ASSERT_EQ(v0.caps.size(), 1u);
  EXPECT_EQ(v0.caps[0].rfind("video/x-h265", 0), 0u) << v0.caps[0];
  EXPECT_NE(v0.caps[0].find("stream-format=(string)hvc1"), std::string::npos) << v0.caps[0];
  EXPECT_NE(v0.caps[0].find("codec_data"), std::string::npos) << v0.caps[0];
  ASSERT_EQ(v1.caps.size(), 1u);
  EXPECT_EQ(v1.caps[0], v0.caps[0]);
  ASSERT_EQ(a0.caps.size(), 1u);
  EXPECT_EQ(a0.caps[0].rfind("audio/x-opus", 0), 0u) << a0.caps[0];
  ASSERT_EQ(v0.buffers.size(), 1u);
  EXPECT_EQ(buffer_bytes(v0.buffers[0]), nal);
  EXPECT_EQ(GST_BUFFER_PTS(v0.buffers[0]) - GST_BUFFER_DTS(v0.buffers[0]), ms(33));
  ASSERT_EQ(v1.buffers.size(), 1u);
  EXPECT_EQ(buffer_bytes(v1.buffers[0]), nal2);
  EXPECT_EQ(GST_BUFFER_DTS(v1.buffers[0]) - GST_BUFFER_DTS(v0.buffers[0]), ms(40));
  ASSERT_EQ(a0.buffers.size(), 1u);
  EXPECT_EQ(buffer_bytes(a0.buffers[0]), hex("fcff"));
  g_mutex_unlock(&srv.collector.lock);
}

// Tags built by rtmpsink's own formatting (codec_caps' VideoSendFormat / AudioSendFormat, the
// FourCC and multitrack headers it sends): HEVC on video track 0, AV1 on track 1, Opus, FLAC and
// AC-3 on audio tracks 0..2. Each lands on its own pad with its codec's caps and the frame
// bytes unchanged.
TEST_F(SrcPads, SendFormatsOfEveryTrackReachTheirPads) {
  Server srv;
  gst::VideoSendFormat hevc{VideoCodec::hevc, true, fourcc("hvc1"), 0, kHvcC};
  gst::VideoSendFormat av1{VideoCodec::av1, true, fourcc("av01"), 1,
                           hex("81080c000a0b00000042abbfc3710abe0040")};
  gst::AudioSendFormat opus{AudioCodec::opus, true, fourcc("Opus"), 0, kOpusHead};
  gst::AudioSendFormat flac{AudioCodec::flac, true, fourcc("fLaC"), 1,
                            hex("664c6143 80000022 10001000 000000 000000 0ac44 2 f0 00000000 "
                                "00000000000000000000000000000000")};
  gst::AudioSendFormat ac3{AudioCodec::ac3, true, fourcc("ac-3"), 2, hex("10 3d e0")};
  const Bytes vframe = hex("00000002 2601"), aframe = hex("fcff 0102");
  std::vector<Tag> tags;
  for (const gst::VideoSendFormat *f : {&hevc, &av1})
    tags.push_back({9, 0, f->sequence_start()});
  for (const gst::AudioSendFormat *f : {&opus, &flac, &ac3})
    tags.push_back({8, 0, f->sequence_start()});
  for (const gst::VideoSendFormat *f : {&hevc, &av1})
    tags.push_back({9, 0, concat(f->frame_header(true, 0), vframe)});
  for (const gst::AudioSendFormat *f : {&opus, &flac, &ac3})
    tags.push_back({8, 0, concat(f->frame_header(), aframe)});
  publish(srv.port, tags);
  const std::vector<std::pair<std::string, std::string>> expected = {{"video_0", "video/x-h265"},
                                                                     {"video_1", "video/x-av1"},
                                                                     {"audio_0", "audio/x-opus"},
                                                                     {"audio_1", "audio/x-flac"},
                                                                     {"audio_2", "audio/x-ac3"}};
  std::vector<std::string> names;
  for (const auto &[pad, type] : expected)
    names.push_back(pad);
  ASSERT_TRUE(srv.wait_eos(names));
  g_mutex_lock(&srv.collector.lock);
  for (const auto &[pad, type] : expected) {
    PadLog &l = srv.collector.pads[pad];
    ASSERT_EQ(l.caps.size(), 1u) << pad;
    EXPECT_EQ(l.caps[0].rfind(type, 0), 0u) << pad << ": " << l.caps[0];
    ASSERT_EQ(l.buffers.size(), 1u) << pad;
    EXPECT_EQ(buffer_bytes(l.buffers[0]), pad[0] == 'v' ? vframe : aframe) << pad;
  }
  g_mutex_unlock(&srv.collector.lock);
}

// A stale message first (what node-media-server replays to a late player: an E-RTMP multitrack
// frame of a track without sequence start, stamped at the live edge), then the sequence header
// and the cached GOP with earlier timestamps: the timeline starts at the first frame that is
// pushed, so the GOP keeps its spacing instead of collapsing to one timestamp.
TEST_F(SrcPads, StaleFirstMessageDoesNotStartTheTimeline) {
  Server srv;
  VideoTagInfo stale;
  stale.enhanced = true;
  stale.multitrack = true;
  stale.multitrack_type = MultitrackType::one_track;
  stale.frame_type = FrameType::inter;
  // The packet views its payload: the bytes must outlive write_video_tag().
  const Bytes stale_payload = hex("0000");
  stale.tracks.push_back(VideoTrackPacket{1, VideoCodec::avc, fourcc("avc1"),
                                          VideoPacketKind::coded_frames, 1, 0, 0, stale_payload});
  auto stale_tag = write_video_tag(stale);
  ASSERT_TRUE(stale_tag);
  publish(srv.port, {
                        {9, 1766, *stale_tag},
                        {9, 0, concat(hex("17 00 000000"), kAvcC)},
                        {9, 1000, concat(hex("17 01 000000"), hex("00000001 65"))},
                        {9, 1033, concat(hex("27 01 000000"), hex("00000001 41"))},
                        {9, 1066, concat(hex("27 01 000000"), hex("00000001 41"))},
                    });
  ASSERT_TRUE(srv.wait_eos({"video_0"}));
  g_mutex_lock(&srv.collector.lock);
  const PadLog &v = srv.collector.pads["video_0"];
  ASSERT_EQ(v.buffers.size(), 3u);
  EXPECT_EQ(GST_BUFFER_DTS(v.buffers[1]) - GST_BUFFER_DTS(v.buffers[0]), ms(33));
  EXPECT_EQ(GST_BUFFER_DTS(v.buffers[2]) - GST_BUFFER_DTS(v.buffers[0]), ms(66));
  g_mutex_unlock(&srv.collector.lock);
}

// A new sequence header mid-stream: a new caps event before the next buffer, same pad.
TEST_F(SrcPads, NewSequenceHeaderRenegotiates) {
  Server srv;
  publish(srv.port, {
                        {9, 0, concat(hex("17 00 000000"), kAvcC)},
                        {9, 0, concat(hex("17 01 000000"), hex("00000001 65"))},
                        {9, 40, concat(hex("27 01 000000"), hex("00000001 41"))},
                        {9, 80, concat(hex("17 00 000000"), kAvcC2)},
                        {9, 80, concat(hex("17 01 000000"), hex("00000001 65"))},
                    });
  ASSERT_TRUE(srv.wait_eos({"video_0"}));
  g_mutex_lock(&srv.collector.lock);
  PadLog &v = srv.collector.pads["video_0"];
  std::string order;
  for (const auto &o : v.order)
    order += o + " ";
  EXPECT_EQ(v.caps.size(), 2u) << order;
  EXPECT_NE(v.caps[0], v.caps[1]);
  EXPECT_NE(v.caps[1].find("01f4001fffe1"), std::string::npos) << v.caps[1];
  std::vector<std::string> media;
  for (const auto &o : v.order)
    if (o == "caps" || o == "buffer")
      media.push_back(o);
  EXPECT_EQ(media, (std::vector<std::string>{"caps", "buffer", "buffer", "caps", "buffer"}));
  EXPECT_EQ(srv.pad_names().size(), 2u); // src + video_0
  g_mutex_unlock(&srv.collector.lock);
}

// on-disconnect=wait: a second publisher with a different H.264 configuration and an audio
// track the first one did not have keeps video_0 (new caps before its first frame, timeline
// continued), adds audio_0, and every pad gets one EOS after reconnect-timeout.
TEST_F(SrcPads, NewPublisherKeepsPadsAndRenegotiates) {
  Server srv(1);
  publish(srv.port, {
                        {9, 0, concat(hex("17 00 000000"), kAvcC)},
                        {9, 0, concat(hex("17 01 000000"), hex("00000001 65"))},
                        {9, 40, concat(hex("27 01 000000"), hex("00000001 41"))},
                    });
  publish(srv.port, {
                        {9, 0, concat(hex("17 00 000000"), kAvcC2)},
                        {8, 0, concat(hex("af 00"), kAsc)},
                        {9, 0, concat(hex("17 01 000000"), hex("00000001 65"))},
                        {8, 10, concat(hex("af 01"), hex("2110"))},
                    });
  ASSERT_TRUE(srv.wait_eos({"video_0", "audio_0"}));
  g_mutex_lock(&srv.collector.lock);
  PadLog &v = srv.collector.pads["video_0"];
  EXPECT_EQ(v.caps.size(), 2u);
  EXPECT_EQ(std::count(v.order.begin(), v.order.end(), "stream-start"), 1);
  EXPECT_EQ(std::count(v.order.begin(), v.order.end(), "eos"), 1);
  ASSERT_EQ(v.buffers.size(), 3u);
  // The timeline continues from the highest position plus the (ms-rounded) gap: never back.
  EXPECT_GE(GST_BUFFER_DTS(v.buffers[2]), GST_BUFFER_DTS(v.buffers[1]));
  PadLog &a = srv.collector.pads["audio_0"];
  EXPECT_EQ(a.caps.size(), 1u);
  EXPECT_EQ(a.buffers.size(), 1u);
  EXPECT_EQ(std::count(a.order.begin(), a.order.end(), "eos"), 1);
  g_mutex_unlock(&srv.collector.lock);
  auto names = srv.pad_names();
  EXPECT_EQ(names.size(), 3u);
}

// Hostile publisher: garbage tag headers, a codec configuration above kMaxCodecConfigSize, a
// flood of audio track ids. No crash, a bounded number of pads, the valid tracks still work,
// and the element reaches NULL within 1 s with the publisher still connected.
TEST_F(SrcPads, HostileTagsBoundedPadsAndQuickNull) {
  Server srv;
  // Multitrack audio, ManyTracks, AAC... rather: one message per track id, PCM-free E-RTMP Opus.
  std::vector<Tag> tags;
  tags.push_back({9, 0, hex("ff")});              // ExHeader with nothing after it
  tags.push_back({9, 0, hex("9f 00 01 02")});     // unknown packet type, cut FourCC
  tags.push_back({8, 0, hex("9f")});              // ExAudio cut
  tags.push_back({9, 0, hex("17 00 00")});        // AVC header cut
  tags.push_back({9, 0, Bytes(70 * 1024, 0x17)}); // "AVC sequence header" of 70 KiB garbage
  Bytes huge = concat(hex("17 00 000000"), Bytes(70 * 1024, 0x01));
  tags.push_back({9, 0, huge}); // avcC above kMaxCodecConfigSize: no caps, no pad
  tags.push_back({9, 0, concat(hex("17 01 000000"), hex("00000001 65"))});
  const std::uint32_t opus = fourcc("Opus");
  for (std::uint8_t id = 0; id < 40; ++id) {
    AudioTagInfo info;
    info.enhanced = true;
    info.multitrack = true;
    info.multitrack_type = MultitrackType::one_track;
    AudioTrackPacket seq{};
    seq.track_id = id;
    seq.codec = AudioCodec::opus;
    seq.fourcc = opus;
    seq.kind = AudioPacketKind::sequence_start;
    seq.payload = kOpusHead;
    info.tracks.push_back(seq);
    auto s = write_audio_tag(info);
    ASSERT_TRUE(s);
    tags.push_back({8, 10, *s});
    info.tracks[0].kind = AudioPacketKind::coded_frames;
    info.tracks[0].payload = ByteView(kOpusHead.data(), 2);
    auto f = write_audio_tag(info);
    ASSERT_TRUE(f);
    tags.push_back({8, 10, *f});
  }
  // After all that, a valid H.264 stream still gets its pad.
  tags.push_back({9, 20, concat(hex("17 00 000000"), kAvcC)});
  tags.push_back({9, 20, concat(hex("17 01 000000"), hex("00000001 65"))});
  publish(srv.port, tags);
  ASSERT_TRUE(srv.wait_eos({"video_0", "audio_0"}));
  const auto names = srv.pad_names();
  std::size_t audio_pads = 0;
  for (const auto &n : names)
    audio_pads += n.rfind("audio_", 0) == 0;
  EXPECT_EQ(audio_pads, 8u) << "kMaxTracksPerKind";
  g_mutex_lock(&srv.collector.lock);
  EXPECT_EQ(srv.collector.pads["video_0"].buffers.size(), 1u);
  EXPECT_EQ(srv.collector.pads["video_0"].caps.size(), 1u);
  g_mutex_unlock(&srv.collector.lock);
  EXPECT_LT(srv.stop(), 1000.0);
  EXPECT_EQ(srv.pad_names(), (std::vector<std::string>{"src"})) << "pads removed at NULL";
}

// 600 random audio/video/data payloads (fixed seed; header bytes drawn from the values that
// select legacy, enhanced, multitrack and ModEx parsing), then a valid stream: no crash, at most
// kMaxTracksPerKind pads per kind, and the valid track still gets its pad with its frame.
TEST_F(SrcPads, RandomTagsThenAValidStream) {
  Server srv;
  std::mt19937 rng(7);
  const std::uint8_t firsts[] = {0x17, 0x27, 0x1c, 0x90, 0x91, 0x96, 0x97, 0xd6,
                                 0xaf, 0x2f, 0x9f, 0x95, 0x02, 0x52, 0xb2, 0x22};
  std::vector<Tag> tags;
  for (int i = 0; i < 600; ++i) {
    Bytes payload(1 + rng() % 64);
    for (auto &b : payload)
      b = static_cast<std::uint8_t>(rng());
    payload[0] = firsts[rng() % sizeof(firsts)];
    const std::uint8_t type = static_cast<std::uint8_t>(i % 3 == 0 ? 8 : i % 3 == 1 ? 9 : 18);
    tags.push_back({type, static_cast<std::uint32_t>(rng() % 100000), payload});
  }
  tags.push_back({9, 100000, concat(hex("17 00 000000"), kAvcC)});
  tags.push_back({9, 100000, concat(hex("17 01 000000"), hex("00000001 65"))});
  publish(srv.port, tags);
  ASSERT_TRUE(srv.wait_eos({"video_0"}));
  std::size_t video = 0, audio = 0;
  for (const auto &n : srv.pad_names()) {
    video += n.rfind("video_", 0) == 0;
    audio += n.rfind("audio_", 0) == 0;
  }
  EXPECT_LE(video, 8u);
  EXPECT_LE(audio, 8u);
  g_mutex_lock(&srv.collector.lock);
  const PadLog &v = srv.collector.pads["video_0"];
  ASSERT_FALSE(v.buffers.empty());
  EXPECT_EQ(buffer_bytes(v.buffers.back()), hex("00000001 65"));
  g_mutex_unlock(&srv.collector.lock);
  EXPECT_LT(srv.stop(), 1000.0);
}

// Legacy video tags with no frame data (FLV spec E.4.3.1): VP6 / VP6A with the flags byte only or
// the adjustment byte only, Sorenson H.263 and Screen video with the flags byte only. flvdemux
// pushes nothing for them ("Nothing left in this tag"); neither do we: the pads carry exactly
// the frames, VP6 without its adjustment byte, VP6A keeping OffsetToAlpha and the alpha data.
TEST_F(SrcPads, LegacyVideoTagsWithoutFrameDataPushNothing) {
  struct Case {
    std::uint8_t codec;
    std::vector<Bytes> tags; // VideoData after the flags byte of a keyframe, one tag each
    std::vector<Bytes> frames;
    const char *caps;
  };
  const std::vector<Case> cases = {
      {4,
       {hex(""), hex("64"), hex("64 2830 0b"), hex("00"), hex("64 a8")},
       {hex("2830 0b"), hex("a8")},
       "video/x-vp6-flash"},
      {5,
       {hex(""), hex("64"), hex("64 000002 2830 ff")},
       {hex("000002 2830 ff")},
       "video/x-vp6-alpha"},
      {2, {hex(""), hex("000084 00"), hex("")}, {hex("000084 00")}, "video/x-flash-video"},
      {3, {hex(""), hex("")}, {}, nullptr},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.codec);
    Server srv;
    std::vector<Tag> tags;
    std::uint32_t ts = 0;
    for (const Bytes &data : c.tags)
      tags.push_back({9, ts += 40, concat(Bytes{static_cast<std::uint8_t>(0x10 | c.codec)}, data)});
    // An AAC stream after them, so that EOS has a pad to reach when no video pad exists.
    tags.push_back({8, ts, concat(hex("af 00"), kAsc)});
    tags.push_back({8, ts, concat(hex("af 01"), hex("21100400"))});
    publish(srv.port, tags);
    ASSERT_TRUE(srv.wait_eos({"audio_0"}));
    g_mutex_lock(&srv.collector.lock);
    const bool has_video = srv.collector.pads.count("video_0") > 0;
    EXPECT_EQ(has_video, c.caps != nullptr);
    if (has_video) {
      const PadLog &v = srv.collector.pads["video_0"];
      EXPECT_EQ(v.buffers.size(), c.frames.size());
      for (std::size_t i = 0; i < std::min(c.frames.size(), v.buffers.size()); ++i)
        EXPECT_EQ(buffer_bytes(v.buffers[i]), c.frames[i]) << "buffer " << i;
      EXPECT_EQ(v.caps.size(), 1u);
      if (!v.caps.empty()) {
        EXPECT_EQ(v.caps[0].rfind(c.caps, 0), 0u) << v.caps[0];
      }
    }
    g_mutex_unlock(&srv.collector.lock);
  }
}

// AAC frames without their AudioSpecificConfig for 2 s (what a late player of node-media-server
// gets for the tracks whose sequence start it does not replay): no pad for them, as flvdemux,
// but one warning on the bus once they have lasted kNoMorePadsWaitMs, naming the track. An H.264
// frame before its sequence start (a stale message before the replayed headers) gives none.
TEST_F(SrcPads, FramesWithoutSequenceHeaderWarnOnce) {
  Server srv;
  std::vector<Tag> tags;
  // video_0: one stale AVC frame, then its sequence start and frames (no warning for it).
  tags.push_back({9, 0, concat(hex("27 01 000000"), hex("00000002 4101"))});
  tags.push_back({9, 0, concat(hex("17 00 000000"), kAvcC)});
  // audio_0: AAC frames without AudioSpecificConfig for 2 s (40 frames, 50 ms apart).
  for (std::uint32_t ts = 0; ts <= 2000; ts += 50) {
    tags.push_back({9, ts, concat(hex("27 01 000000"), hex("00000002 4101"))});
    tags.push_back({8, ts, concat(hex("af 01"), hex("2110"))});
  }
  publish(srv.port, tags);
  ASSERT_TRUE(srv.wait_eos({"video_0"}));
  std::vector<std::string> warnings;
  GstBus *bus = gst_element_get_bus(srv.pipeline);
  while (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING)) {
    GError *err = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_warning(m, &err, &debug);
    warnings.push_back(std::string(err->message) + " | " + (debug ? debug : ""));
    g_error_free(err);
    g_free(debug);
    gst_message_unref(m);
  }
  gst_object_unref(bus);
  ASSERT_EQ(warnings.size(), 1u) << (warnings.empty() ? "" : warnings[0]);
  EXPECT_NE(warnings[0].find("audio track 0: coded frames dropped, no usable sequence header"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("configuration record"), std::string::npos) << warnings[0];
  EXPECT_EQ(srv.pad_names().size(), 2u) << "src and video_0, no audio_0";
  g_mutex_lock(&srv.collector.lock);
  EXPECT_EQ(srv.collector.pads["video_0"].buffers.size(), 41u);
  g_mutex_unlock(&srv.collector.lock);
}

// PLAYING -> PAUSED -> PLAYING while a publisher streams: the streaming thread leaves create()
// (flushing, no EOS) and comes back; later frames reach the same pad.
TEST_F(SrcPads, PauseAndPlayKeepStreaming) {
  Server srv;
  GstHarness *pub = test::flv_publisher(test::server_url(srv.port));
  auto push = [&](const std::vector<Tag> &tags, bool header) {
    EXPECT_EQ(test::push_flv(pub, header ? make_flv_header(FlvHeader{true, true}) : Bytes{}, tags),
              GST_FLOW_OK);
  };
  auto video_buffers = [&] {
    g_mutex_lock(&srv.collector.lock);
    const std::size_t n = srv.collector.pads["video_0"].buffers.size();
    g_mutex_unlock(&srv.collector.lock);
    return n;
  };
  auto wait_buffers = [&](std::size_t n) {
    const gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (video_buffers() < n && g_get_monotonic_time() < end)
      g_usleep(5000);
    return video_buffers();
  };
  push({{9, 0, concat(hex("17 00 000000"), kAvcC)},
        {9, 0, concat(hex("17 01 000000"), hex("00000001 65"))}},
       true);
  ASSERT_EQ(wait_buffers(1), 1u);
  EXPECT_NE(gst_element_set_state(srv.pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_NE(gst_element_set_state(srv.pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  push({{9, 40, concat(hex("27 01 000000"), hex("00000001 41"))},
        {9, 80, concat(hex("27 01 000000"), hex("00000001 41"))}},
       false);
  EXPECT_EQ(wait_buffers(3), 3u);
  g_mutex_lock(&srv.collector.lock);
  EXPECT_FALSE(srv.collector.pads["video_0"].eos);
  g_mutex_unlock(&srv.collector.lock);
  gst_harness_teardown(pub);
}

// An EOS the application sends to the element (gst-launch-1.0 -e) while a publisher keeps
// streaming reaches the track pads, not only the unused always pad.
TEST_F(SrcPads, ApplicationEosReachesTheTrackPads) {
  Server srv;
  GstHarness *pub = publish_keyframe(srv);
  ASSERT_EQ(srv.pad_names().size(), 2u);
  EXPECT_TRUE(gst_element_send_event(srv.src, gst_event_new_eos()));
  EXPECT_TRUE(srv.wait_eos({"video_0"}));
  g_mutex_lock(&srv.collector.lock);
  const auto &order = srv.collector.pads["video_0"].order;
  EXPECT_EQ(std::count(order.begin(), order.end(), "eos"), 1);
  g_mutex_unlock(&srv.collector.lock);
  gst_harness_teardown(pub);
}

// NULL within 1 s while a publisher is connected and streaming (pads exist, one unlinked).
TEST_F(SrcPads, NullWithinOneSecondWhilePublishing) {
  Server srv;
  GstHarness *pub = publish_keyframe(srv);
  ASSERT_EQ(srv.pad_names().size(), 2u);
  EXPECT_LT(srv.stop(), 1000.0);
  gst_harness_teardown(pub);
}

namespace {

// rtmpsrc output=elementary playing from the fake server: pads of its own, linked to the same
// collector.
struct Client {
  GstElement *pipeline = nullptr, *src = nullptr;
  Collector collector;
  explicit Client(const std::string &url, const std::function<void(GstElement *)> &setup = {}) {
    pipeline = gst_pipeline_new(nullptr);
    src = gst_element_factory_make("rtmpsrc", nullptr);
    g_object_set(src, "location", url.c_str(), nullptr);
    gst_util_set_object_arg(G_OBJECT(src), "output", "elementary");
    if (setup)
      setup(src);
    g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), &collector);
    g_signal_connect(src, "no-more-pads", G_CALLBACK(on_no_more_pads), &collector);
    gst_bin_add(GST_BIN(pipeline), src);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
  }
  ~Client() {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
  bool wait(const std::function<bool(Collector &)> &pred, int ms) {
    const gint64 end = g_get_monotonic_time() + static_cast<gint64>(ms) * 1000;
    while (g_get_monotonic_time() < end) {
      g_mutex_lock(&collector.lock);
      const bool ok = pred(collector);
      g_mutex_unlock(&collector.lock);
      if (ok)
        return true;
      g_usleep(5000);
    }
    return false;
  }
};

std::vector<Message> h264_aac_media() {
  return {
      test::make_media(
          MessageType::data_amf0, 0,
          encode_data(DataMessage{"onMetaData",
                                  {amf::make_ecma_array({{"title", amf::Value("fromrtmpsrc")},
                                                         {"hasVideo", amf::Value(true)},
                                                         {"hasAudio", amf::Value(true)}})}},
                      1, 0)
              .payload),
      test::make_media(MessageType::video, 1000, concat(hex("17 00 000000"), kAvcC)),
      test::make_media(MessageType::audio, 1000, concat(hex("af 00"), kAsc)),
      test::make_media(MessageType::video, 1000, concat(hex("17 01 000021"), hex("00000001 65"))),
      test::make_media(MessageType::audio, 1005, concat(hex("af 01"), hex("2110"))),
      test::make_media(MessageType::video, 1040, concat(hex("27 01 000000"), hex("00000001 41"))),
  };
}

} // namespace

// rtmpsrc: the same pads, caps, timestamps (rebased to the first message) and tags, EOS on both
// pads when the server ends the stream.
TEST_F(SrcPads, RtmpsrcPlaysIntoTrackPads) {
  test::FakeServerOptions opts;
  opts.play_media = h264_aac_media();
  test::FakeRtmpServer server(std::move(opts));
  Client c(server.url());
  ASSERT_TRUE(c.wait(
      [](Collector &col) {
        return col.pads.count("video_0") && col.pads["video_0"].eos && col.pads.count("audio_0") &&
               col.pads["audio_0"].eos;
      },
      10000));
  g_mutex_lock(&c.collector.lock);
  PadLog &v = c.collector.pads["video_0"];
  PadLog &a = c.collector.pads["audio_0"];
  EXPECT_EQ(v.caps.size(), 1u);
  EXPECT_EQ(a.caps.size(), 1u);
  if (v.buffers.size() == 2 && a.buffers.size() == 1) {
    EXPECT_EQ(GST_BUFFER_DTS(v.buffers[0]), 0u);
    EXPECT_EQ(GST_BUFFER_PTS(v.buffers[0]), ms(33));
    EXPECT_EQ(GST_BUFFER_DTS(v.buffers[1]), ms(40));
    EXPECT_EQ(GST_BUFFER_PTS(a.buffers[0]), ms(5));
    EXPECT_EQ(buffer_bytes(a.buffers[0]), hex("2110"));
  } else {
    ADD_FAILURE() << v.buffers.size() << " video and " << a.buffers.size() << " audio buffers";
  }
  bool title = false;
  for (const auto &t : v.tags)
    title = title || t.find("fromrtmpsrc") != std::string::npos;
  EXPECT_TRUE(title);
  EXPECT_TRUE(c.collector.no_more_pads);
  g_mutex_unlock(&c.collector.lock);
}

// rtmpsrc: an application EOS while the server keeps the stream open reaches both pads.
TEST_F(SrcPads, RtmpsrcApplicationEosReachesTheTrackPads) {
  test::FakeServerOptions opts;
  opts.play_media = h264_aac_media();
  opts.end_after_media = false;
  test::FakeRtmpServer server(std::move(opts));
  Client c(server.url());
  ASSERT_TRUE(c.wait([](Collector &col) { return col.pads.size() == 2; }, 10000));
  EXPECT_TRUE(gst_element_send_event(c.src, gst_event_new_eos()));
  EXPECT_TRUE(c.wait(
      [](Collector &col) { return col.pads["video_0"].eos && col.pads["audio_0"].eos; }, 5000));
}

// rtmpsrc: NULL within 1 s while the server keeps the stream open, pads removed.
TEST_F(SrcPads, RtmpsrcNullWithinOneSecond) {
  test::FakeServerOptions opts;
  opts.play_media = h264_aac_media();
  opts.end_after_media = false;
  test::FakeRtmpServer server(std::move(opts));
  Client c(server.url());
  ASSERT_TRUE(c.wait([](Collector &col) { return col.pads.size() == 2; }, 10000));
  const auto t0 = std::chrono::steady_clock::now();
  gst_element_set_state(c.pipeline, GST_STATE_NULL);
  const double took =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 1000.0);
  EXPECT_EQ(c.src->numsrcpads, 1u) << "track pads removed";
}

namespace {

// A recorded H.264+AAC stream: onMetaData with a duration, the sequence headers, a keyframe at
// `at` ms (composition time 33 ms) and audio, then a delta frame and audio `step` ms later.
std::vector<Message> recorded_media(std::uint32_t at, std::uint32_t step, bool headers) {
  std::vector<Message> m;
  if (headers) {
    m.push_back(test::make_metadata(
        {{"duration", 60.0}, {"hasVideo", amf::Value(true)}, {"hasAudio", amf::Value(true)}}));
    m.push_back(test::make_media(MessageType::video, at, concat(hex("17 00 000000"), kAvcC)));
    m.push_back(test::make_media(MessageType::audio, at, concat(hex("af 00"), kAsc)));
  }
  m.push_back(
      test::make_media(MessageType::video, at, concat(hex("17 01 000021"), hex("00000001 65"))));
  m.push_back(test::make_media(MessageType::audio, at + 5, concat(hex("af 01"), hex("2110"))));
  m.push_back(test::make_media(MessageType::video, at + step,
                               concat(hex("27 01 000000"), hex("00000001 41"))));
  m.push_back(test::make_media(MessageType::audio, at + step, concat(hex("af 01"), hex("2111"))));
  return m;
}

std::size_t count_of(const std::vector<std::string> &v, const char *what) {
  return static_cast<std::size_t>(std::count(v.begin(), v.end(), what));
}

} // namespace

// rtmpsrc output=elementary, a recorded stream: the track pads answer SEEKING (seekable, to the
// onMetaData duration) and DURATION; a flushing seek sent up both track pads (one seqnum, as a
// pipeline seek comes up every branch) sends one RTMP seek, flushes both pads once, and each gets
// a segment starting at the target before the buffers of the new position, which carry the
// server's timestamps.
TEST_F(SrcPads, RtmpsrcSeekFlushesAndRestartsEveryTrackPad) {
  test::FakeServerOptions opts;
  opts.play_media = recorded_media(0, 40, true);
  opts.end_after_media = false;
  opts.on_seek = [](double ms) {
    return recorded_media(static_cast<std::uint32_t>(ms), 40, false);
  };
  test::FakeRtmpServer server(std::move(opts));
  Client c(server.url());
  ASSERT_TRUE(c.wait(
      [](Collector &col) {
        return col.pads["video_0"].buffers.size() == 2 && col.pads["audio_0"].buffers.size() == 2;
      },
      10000));
  GstPad *video = gst_element_get_static_pad(c.src, "video_0");
  GstPad *audio = gst_element_get_static_pad(c.src, "audio_0");
  ASSERT_NE(video, nullptr);
  ASSERT_NE(audio, nullptr);
  GstQuery *q = gst_query_new_seeking(GST_FORMAT_TIME);
  ASSERT_TRUE(gst_pad_peer_query(c.collector.sinks[0], q));
  gboolean seekable = FALSE;
  gint64 end = 0;
  gst_query_parse_seeking(q, nullptr, &seekable, nullptr, &end);
  gst_query_unref(q);
  EXPECT_TRUE(seekable);
  EXPECT_EQ(end, static_cast<gint64>(60 * GST_SECOND));
  gint64 duration = 0;
  EXPECT_TRUE(gst_pad_query_duration(audio, GST_FORMAT_TIME, &duration));
  EXPECT_EQ(duration, static_cast<gint64>(60 * GST_SECOND));

  GstEvent *seek = gst_event_new_seek(1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET,
                                      static_cast<gint64>(30 * GST_SECOND), GST_SEEK_TYPE_NONE, -1);
  for (GstPad *sink : c.collector.sinks)
    EXPECT_TRUE(gst_pad_push_event(sink, gst_event_ref(seek)));
  gst_event_unref(seek);
  ASSERT_TRUE(c.wait(
      [](Collector &col) {
        return col.pads["video_0"].buffers.size() == 4 && col.pads["audio_0"].buffers.size() == 4;
      },
      10000));
  g_mutex_lock(&c.collector.lock);
  for (const char *name : {"video_0", "audio_0"}) {
    PadLog &l = c.collector.pads[name];
    EXPECT_EQ(count_of(l.order, "flush-start"), 1u) << name;
    EXPECT_EQ(count_of(l.order, "flush-stop"), 1u) << name;
    // flush-stop, then the new segment, then the buffers of the new position.
    auto stop = std::find(l.order.begin(), l.order.end(), "flush-stop");
    ASSERT_NE(stop, l.order.end()) << name;
    auto seg = std::find(stop, l.order.end(), "segment");
    EXPECT_NE(seg, l.order.end()) << name;
    EXPECT_EQ(std::count(stop, seg, std::string("buffer")), 0) << name;
    ASSERT_EQ(l.segment_starts.size(), 2u) << name;
    EXPECT_EQ(l.segment_starts[1], 30 * GST_SECOND) << name;
  }
  PadLog &v = c.collector.pads["video_0"];
  PadLog &a = c.collector.pads["audio_0"];
  EXPECT_EQ(GST_BUFFER_DTS(v.buffers[2]), 30 * GST_SECOND);
  EXPECT_EQ(GST_BUFFER_PTS(v.buffers[2]), 30 * GST_SECOND + ms(33));
  EXPECT_EQ(GST_BUFFER_DTS(v.buffers[3]), 30 * GST_SECOND + ms(40));
  EXPECT_EQ(GST_BUFFER_PTS(a.buffers[2]), 30 * GST_SECOND + ms(5));
  g_mutex_unlock(&c.collector.lock);
  std::size_t seeks = 0;
  for (const std::string &e : server.events())
    seeks += e == "Seek";
  EXPECT_EQ(seeks, 1u);
  gst_object_unref(video);
  gst_object_unref(audio);
}

// rtmpsrc output=elementary do-timestamp=true: DTS is the running time of arrival, not the
// stream's (which jumps 10 s here although everything arrives at once); PTS keeps its distance
// to DTS (the composition time).
TEST_F(SrcPads, RtmpsrcDoTimestampStampsArrival) {
  test::FakeServerOptions opts;
  opts.play_media = recorded_media(1000, 10000, true);
  opts.end_after_media = false;
  test::FakeRtmpServer server(std::move(opts));
  Client c(server.url(), [](GstElement *src) { g_object_set(src, "do-timestamp", TRUE, nullptr); });
  ASSERT_TRUE(c.wait(
      [](Collector &col) {
        return col.pads["video_0"].buffers.size() == 2 && col.pads["audio_0"].buffers.size() == 2;
      },
      10000));
  GstClock *clock = gst_element_get_clock(c.pipeline);
  ASSERT_NE(clock, nullptr);
  const GstClockTime running = gst_clock_get_time(clock) - gst_element_get_base_time(c.pipeline);
  gst_object_unref(clock);
  g_mutex_lock(&c.collector.lock);
  PadLog &v = c.collector.pads["video_0"];
  PadLog &a = c.collector.pads["audio_0"];
  for (GstBuffer *b : {v.buffers[0], v.buffers[1], a.buffers[0], a.buffers[1]}) {
    ASSERT_TRUE(GST_BUFFER_DTS_IS_VALID(b));
    EXPECT_LE(GST_BUFFER_DTS(b), running);
  }
  EXPECT_LT(GST_BUFFER_DTS(v.buffers[1]) - GST_BUFFER_DTS(v.buffers[0]), 2 * GST_SECOND)
      << "stream time (10 s apart), not arrival time";
  EXPECT_EQ(GST_BUFFER_PTS(v.buffers[0]) - GST_BUFFER_DTS(v.buffers[0]), ms(33));
  EXPECT_EQ(GST_BUFFER_PTS(a.buffers[1]), GST_BUFFER_DTS(a.buffers[1]));
  g_mutex_unlock(&c.collector.lock);
}
