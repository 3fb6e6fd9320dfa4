// FlvOutput's buffers (elements/flv_output.*): the zero-copy path that wraps a message payload
// into the output GstBuffer must produce exactly the bytes of the copying path it replaced
// (core write_flv_tag(), FLV spec 10.1 E.4.1), for every payload size around the wrap threshold,
// and free the payload with the buffer or hand it back to the pool (run under valgrind, or in
// the ASan build with ASAN_SUITES=elements, to see a leak or a double free).
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/flv.hpp"
#include "elements/flv_output.h"

namespace rtmp::gst {
namespace {

Bytes buffer_bytes(GstBuffer *buf) {
  Bytes out(gst_buffer_get_size(buf));
  gst_buffer_extract(buf, 0, out.data(), out.size());
  return out;
}

Bytes pattern(std::size_t n, std::uint8_t first) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(first + i * 7);
  return b;
}

Bytes copy_path(std::uint8_t type, std::uint32_t ts, const Bytes &payload) {
  Bytes tag;
  EXPECT_FALSE(write_flv_tag(type, ts, payload, tag));
  return tag;
}

class FlvOutputTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

TEST_F(FlvOutputTest, TagBufferEqualsCopyPathAroundWrapThreshold) {
  for (std::size_t n : {0u, 1u, 370u, 4095u, 4096u, 4097u, 65536u, 1000000u}) {
    for (std::uint32_t ts : {0u, 0xFFFFFFu, 0x01000000u, 0xFFFFFFFFu}) {
      Bytes payload = pattern(n, static_cast<std::uint8_t>(n));
      const Bytes expected = copy_path(9, ts, payload);
      GstBuffer *buf = flv_tag_buffer(9, ts, std::move(payload));
      ASSERT_NE(buf, nullptr);
      EXPECT_EQ(buffer_bytes(buf), expected) << n << " bytes, ts " << ts;
      // Large payloads are wrapped (header, payload, PreviousTagSize), small ones copied once.
      EXPECT_EQ(gst_buffer_n_memory(buf), n >= 4096 ? 3u : 1u) << n;
      // A mapped view (what a downstream element that maps the whole buffer sees) is the same.
      GstMapInfo map;
      ASSERT_TRUE(gst_buffer_map(buf, &map, GST_MAP_READ));
      EXPECT_EQ(Bytes(map.data, map.data + map.size), expected);
      gst_buffer_unmap(buf, &map);
      gst_buffer_unref(buf);
    }
  }
}

TEST_F(FlvOutputTest, WrappedPayloadIsNotCopied) {
  Bytes payload = pattern(100000, 3);
  const std::uint8_t *storage = payload.data();
  GstBuffer *buf = flv_tag_buffer(8, 42, std::move(payload));
  ASSERT_NE(buf, nullptr);
  GstMemory *mid = gst_buffer_peek_memory(buf, 1);
  GstMapInfo map;
  ASSERT_TRUE(gst_memory_map(mid, &map, GST_MAP_READ));
  EXPECT_EQ(map.data, storage);
  EXPECT_EQ(map.size, 100000u);
  gst_memory_unmap(mid, &map);
  // The memory outlives the buffer while someone else holds it (a queue, a sub-buffer).
  GstMemory *held = gst_memory_ref(mid);
  gst_buffer_unref(buf);
  ASSERT_TRUE(gst_memory_map(held, &map, GST_MAP_READ));
  EXPECT_EQ(map.data[0], 3);
  gst_memory_unmap(held, &map);
  gst_memory_unref(held); // frees the vector (ASan/valgrind would report a leak otherwise)
}

TEST_F(FlvOutputTest, FreedPayloadGoesBackToThePool) {
  auto pool = std::make_shared<StoragePool>();
  Bytes payload = pattern(100000, 3);
  const std::uint8_t *storage = payload.data();
  GstBuffer *buf = flv_tag_buffer(9, 0, std::move(payload), pool);
  ASSERT_NE(buf, nullptr);
  EXPECT_TRUE(pool->take_all().empty()); // still in use
  gst_buffer_unref(buf);
  std::vector<Bytes> back = pool->take_all();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].data(), storage);
  EXPECT_TRUE(pool->take_all().empty());
  // Bounded: buffers freed while nobody takes the spares are kept up to the reader's limit.
  for (std::size_t i = 0; i < ChunkReader::kMaxSpareStorage + 5; ++i)
    gst_buffer_unref(flv_tag_buffer(9, 0, pattern(8192, 1), pool));
  EXPECT_EQ(pool->take_all().size(), ChunkReader::kMaxSpareStorage);
  // The pool may go away before the buffers (an element finalized while downstream holds one).
  buf = flv_tag_buffer(9, 0, pattern(8192, 1), std::move(pool));
  gst_buffer_unref(buf);
}

TEST_F(FlvOutputTest, OversizedPayloadIsRefused) {
  // DataSize is a UI24: a payload one byte too large gives no buffer, not a truncated tag.
  GstBuffer *buf = flv_tag_buffer(9, 0, Bytes(kMaxFlvTagDataSize + 1));
  EXPECT_EQ(buf, nullptr);
  buf = flv_tag_buffer(9, 0, Bytes(kMaxFlvTagDataSize));
  ASSERT_NE(buf, nullptr);
  EXPECT_EQ(gst_buffer_get_size(buf), kMaxFlvTagDataSize + 15);
  gst_buffer_unref(buf);
}

Message media(MessageType type, std::uint32_t ts, Bytes payload) {
  Message m;
  m.type = static_cast<std::uint8_t>(type);
  m.timestamp = ts;
  m.stream_id = 1;
  m.payload = std::move(payload);
  return m;
}

TEST_F(FlvOutputTest, MessageToBufferKeepsFlagsTimestampsAndStreamheader) {
  FlvOutput out;
  // AVC sequence header (FrameType 1, CodecID 7, AVCPacketType 0): a header, in the caps.
  Bytes config = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f};
  Message m = media(MessageType::video, 1000, config);
  GstBuffer *buf = out.message_to_buffer(nullptr, m);
  ASSERT_NE(buf, nullptr);
  EXPECT_TRUE(m.payload.empty());
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER));
  EXPECT_EQ(buffer_bytes(buf), copy_path(9, 0, config));
  EXPECT_TRUE(out.take_caps_changed());
  GstCaps *caps = out.caps();
  const GValue *sh = gst_structure_get_value(gst_caps_get_structure(caps, 0), "streamheader");
  ASSERT_NE(sh, nullptr);
  ASSERT_EQ(gst_value_array_get_size(sh), 2u); // FLV header + the video config tag
  EXPECT_EQ(buffer_bytes(gst_value_get_buffer(gst_value_array_get_value(sh, 1))),
            copy_path(9, 0, config));
  gst_caps_unref(caps);
  gst_buffer_unref(buf);

  // A large inter frame (FrameType 2): wrapped, delta unit, rebased timestamp.
  Bytes inter = pattern(50000, 0);
  inter[0] = 0x27;
  m = media(MessageType::video, 1040, inter);
  buf = out.message_to_buffer(nullptr, m);
  ASSERT_NE(buf, nullptr);
  EXPECT_EQ(buffer_bytes(buf), copy_path(9, 40, inter));
  EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER));
  EXPECT_EQ(GST_BUFFER_PTS(buf), 40 * GST_MSECOND);
  gst_buffer_unref(buf);

  // A large keyframe: no delta flag.
  inter[0] = 0x17;
  inter[1] = 0x01;
  m = media(MessageType::video, 1080, inter);
  buf = out.message_to_buffer(nullptr, m);
  ASSERT_NE(buf, nullptr);
  EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_EQ(buffer_bytes(buf), copy_path(9, 80, inter));
  gst_buffer_unref(buf);
  EXPECT_EQ(out.media_buffers_out(), 3u);
}

TEST_F(FlvOutputTest, HostileMessagesGiveNoBuffer) {
  FlvOutput out;
  Message empty = media(MessageType::video, 0, {});
  EXPECT_EQ(out.message_to_buffer(nullptr, empty), nullptr);
  Message garbage = media(MessageType::data_amf0, 0, pattern(5000, 0xFE));
  EXPECT_EQ(out.message_to_buffer(nullptr, garbage), nullptr);
  Message huge = media(MessageType::audio, 0, Bytes(kMaxFlvTagDataSize + 1, 0xAF));
  EXPECT_EQ(out.message_to_buffer(nullptr, huge), nullptr);
  EXPECT_EQ(out.media_buffers_out(), 0u);
}

} // namespace
} // namespace rtmp::gst
