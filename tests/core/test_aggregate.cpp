// Aggregate messages (RTMP 1.0 section 7.1.6).
#include <gtest/gtest.h>

#include "core/aggregate.hpp"
#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/error.hpp"

#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::hex;

namespace {

Message aggregate_of(Bytes payload, std::uint32_t ts = 5000, std::uint32_t stream_id = 1) {
  Message m;
  m.type = static_cast<std::uint8_t>(MessageType::aggregate);
  m.timestamp = ts;
  m.stream_id = stream_id;
  m.chunk_stream_id = 6;
  m.payload = std::move(payload);
  return m;
}

// 7.1.6: two sub-messages, video at 1000 and audio at 1023, each header + data + back pointer
// (11 + data size).
const char *const kTwoSubMessages = "09 000002 0003E8 00 000001  1711  0000000D"
                                    "08 000001 0003FF 00 000001  AF    0000000C";

} // namespace

TEST(Aggregate, SplitsAndRebasesTimestamps) {
  auto subs = split_aggregate(aggregate_of(hex(kTwoSubMessages)));
  ASSERT_TRUE(subs) << subs.error().message();
  ASSERT_EQ(subs->size(), 2u);
  const Message &v = (*subs)[0];
  EXPECT_EQ(v.kind(), MessageType::video);
  EXPECT_EQ(v.timestamp, 5000u) << "first sub-message takes the aggregate's timestamp";
  EXPECT_EQ(v.payload, hex("1711"));
  EXPECT_EQ(v.stream_id, 1u);
  EXPECT_EQ(v.chunk_stream_id, 6u);
  const Message &a = (*subs)[1];
  EXPECT_EQ(a.kind(), MessageType::audio);
  EXPECT_EQ(a.timestamp, 5023u) << "others keep their offset from the first";
  EXPECT_EQ(a.payload, hex("AF"));
}

TEST(Aggregate, TimestampExtensionByteAndWrap) {
  // The 4th timestamp byte holds bits 24..31 (FLV 10.1 TimestampExtended).
  auto subs = split_aggregate(aggregate_of(hex("08 000000 FFFFFF FF 000000 0000000B"
                                               "08 000000 000010 00 000000 0000000B"),
                                           100));
  ASSERT_TRUE(subs);
  ASSERT_EQ(subs->size(), 2u);
  EXPECT_EQ((*subs)[0].timestamp, 100u);
  EXPECT_EQ((*subs)[1].timestamp, 100u + 0x11u) << "0xFFFFFFFF -> 0x10 is +0x11 mod 2^32";
}

TEST(Aggregate, LastBackPointerMayBeMissing) {
  Bytes p = hex(kTwoSubMessages);
  p.erase(p.end() - 4, p.end());
  auto subs = split_aggregate(aggregate_of(p));
  ASSERT_TRUE(subs);
  EXPECT_EQ(subs->size(), 2u);
}

TEST(Aggregate, TruncatedAtEveryOffset) {
  const Bytes p = hex(kTwoSubMessages);
  for (std::size_t k = 1; k < p.size(); ++k) {
    auto subs = split_aggregate(aggregate_of(Bytes(p.begin(), p.begin() + k)));
    // Cutting exactly before a back pointer is the tolerated "missing last back pointer".
    if (k == 13 || k == 17 || k == 29) {
      EXPECT_TRUE(subs) << k;
      continue;
    }
    EXPECT_EQ(subs.error(), Errc::truncated) << k;
  }
  auto empty = split_aggregate(aggregate_of({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(Aggregate, NestedAggregateIsMalformed) {
  auto subs = split_aggregate(aggregate_of(hex("16 000000 000000 00 000000 0000000B")));
  EXPECT_EQ(subs.error(), Errc::malformed);
}

TEST(Aggregate, TooManySubMessages) {
  Bytes p;
  for (int i = 0; i < 5; ++i) {
    const Bytes one = hex("08 000000 000000 00 000000 0000000B");
    p.insert(p.end(), one.begin(), one.end());
  }
  EXPECT_EQ(split_aggregate(aggregate_of(p), {.max_sub_messages = 4}).error(),
            Errc::limit_exceeded);
  auto ok = split_aggregate(aggregate_of(p), {.max_sub_messages = 5});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 5u);
}

TEST(Aggregate, RoundTripThroughMakeAggregateAndTheChunkLayerByteAtATime) {
  std::vector<Message> subs;
  for (std::uint32_t i = 0; i < 20; ++i) {
    Message m;
    m.type = static_cast<std::uint8_t>(i % 3 == 0 ? 9 : 8);
    m.timestamp = 0xFFFFF000u + 40 * i; // crosses 2^32
    m.payload = Bytes(i * 13, static_cast<std::uint8_t>(i));
    subs.push_back(std::move(m));
  }
  Message agg = make_aggregate(subs, 7);
  EXPECT_EQ(agg.timestamp, subs.front().timestamp);
  ChunkWriter w;
  Bytes wire;
  ASSERT_FALSE(w.write(agg, wire));
  ChunkReader r;
  std::vector<Message> out;
  for (std::uint8_t b : wire)
    ASSERT_FALSE(r.read(ByteView(&b, 1), out));
  ASSERT_EQ(out.size(), 1u);
  auto back = split_aggregate(out[0]);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), subs.size());
  for (std::size_t i = 0; i < subs.size(); ++i) {
    EXPECT_EQ((*back)[i].type, subs[i].type);
    EXPECT_EQ((*back)[i].timestamp, subs[i].timestamp);
    EXPECT_EQ((*back)[i].payload, subs[i].payload);
    EXPECT_EQ((*back)[i].stream_id, 7u);
  }
}
