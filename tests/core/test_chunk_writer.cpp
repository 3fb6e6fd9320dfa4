// ChunkWriter: header compression and chunking (RTMP 1.0 section 5.3).
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>

#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/control.hpp"
#include "core/error.hpp"

#include "chunk_test_helpers.hpp"
#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::cat;
using rtmp::test::filled;
using rtmp::test::hex;
using rtmp::test::msg;

namespace {

Bytes write_all(ChunkWriter &w, const std::vector<Message> &msgs) {
  Bytes out;
  for (const Message &m : msgs)
    EXPECT_FALSE(w.write(m, out));
  return out;
}

} // namespace

TEST(ChunkWriter, SpecExample1AudioType0Type2Type3) {
  // RTMP 1.0 5.3.2.1: same-size audio messages every 20 ms -> type 0, type 2, type 3, type 3.
  ChunkWriter w;
  const Bytes p = filled(32, 0x10);
  std::vector<Message> msgs;
  for (std::uint32_t i = 0; i < 4; ++i)
    msgs.push_back(msg(8, 1000 + 20 * i, 12345, 3, p));
  EXPECT_EQ(write_all(w, msgs), cat({hex("03 0003E8 000020 08 39300000"), p, hex("83 000014"), p,
                                     hex("C3"), p, hex("C3"), p}));
}

TEST(ChunkWriter, SpecExample2VideoSplitIntoType3Chunks) {
  // RTMP 1.0 5.3.2.2: a 307-byte message at chunk size 128 -> type 0 + two type 3 chunks.
  ChunkWriter w;
  const Bytes p = filled(307, 0x40);
  EXPECT_EQ(
      write_all(w, {msg(9, 1000, 12346, 4, p)}),
      cat({hex("04 0003E8 000133 09 3A300000"), Bytes(p.begin(), p.begin() + 128), hex("C4"),
           Bytes(p.begin() + 128, p.begin() + 256), hex("C4"), Bytes(p.begin() + 256, p.end())}));
}

TEST(ChunkWriter, HeaderTypeSelection) {
  ChunkWriter w;
  Bytes out;
  auto first_byte = [&](const Message &m) {
    out.clear();
    EXPECT_FALSE(w.write(m, out));
    return out.at(0);
  };
  EXPECT_EQ(first_byte(msg(8, 100, 1, 4, {1})), 0x04);    // first message: type 0
  EXPECT_EQ(first_byte(msg(8, 100, 1, 4, {1})), 0x84);    // delta 0 after type 0: type 2
  EXPECT_EQ(first_byte(msg(8, 100, 1, 4, {1})), 0xC4);    // same delta, size, type: type 3
  EXPECT_EQ(first_byte(msg(8, 110, 1, 4, {1, 2})), 0x44); // new length: type 1
  EXPECT_EQ(first_byte(msg(9, 120, 1, 4, {1, 2})), 0x44); // new type: type 1
  EXPECT_EQ(first_byte(msg(9, 130, 1, 4, {1, 2})), 0xC4); // same delta 10: type 3
  EXPECT_EQ(first_byte(msg(9, 135, 1, 4, {1, 2})), 0x84); // new delta: type 2
  EXPECT_EQ(first_byte(msg(9, 130, 1, 4, {1, 2})), 0x04); // backwards: type 0
  EXPECT_EQ(first_byte(msg(9, 130, 2, 4, {1, 2})), 0x04); // new message stream: type 0
  EXPECT_EQ(out, hex("04 000082 000002 09 02000000 01 02"));
}

TEST(ChunkWriter, NeverType3RightAfterType0) {
  // After a type 0 chunk FFmpeg takes the absolute timestamp as the next delta, nginx-rtmp 0:
  // a type 3 there would be ambiguous, so the writer uses type 2.
  ChunkWriter w;
  Bytes out;
  ASSERT_FALSE(w.write(msg(8, 20, 1, 4, {1}), out));
  out.clear();
  ASSERT_FALSE(w.write(msg(8, 40, 1, 4, {1}), out));
  EXPECT_EQ(out, hex("84 000014 01"));
}

TEST(ChunkWriter, BasicHeaderFormsAtCsidBoundaries) {
  // 5.3.1.1: the shortest form for each id.
  struct Case {
    std::uint32_t csid;
    const char *basic;
  } cases[] = {{2, "02"},      {63, "3F"},        {64, "00 00"},
               {319, "00 FF"}, {320, "01 00 01"}, {65599, "01 FF FF"}};
  for (const Case &c : cases) {
    ChunkWriter w;
    w.set_chunk_size(1);
    Bytes out;
    ASSERT_FALSE(w.write(msg(8, 0, 0, c.csid, {0xAA, 0xBB}), out));
    const Bytes basic = hex(c.basic);
    EXPECT_EQ(out, cat({basic, hex("000000 000002 08 00000000 AA"), // type 0 chunk
                        Bytes{static_cast<std::uint8_t>(basic[0] | 0xC0)},
                        Bytes(basic.begin() + 1, basic.end()), hex("BB")}))
        << c.csid;
    ChunkReader r;
    r.set_chunk_size(1);
    std::vector<Message> got;
    ASSERT_FALSE(r.read(out, got));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].chunk_stream_id, c.csid);
  }
}

TEST(ChunkWriter, ExtendedTimestampRepeatedOnContinuationChunks) {
  // 5.3.1.3: 0x01000000 goes in the extended field, repeated after each type 3 basic header.
  ChunkWriter w;
  w.set_chunk_size(2);
  Bytes out;
  ASSERT_FALSE(w.write(msg(8, 0x01000000, 1, 3, {1, 2, 3}), out));
  EXPECT_EQ(out, hex("03 FFFFFF 000003 08 01000000 01000000 01 02  C3 01000000 03"));
  // The marker value itself is extended too ("timestamp >= 0xFFFFFF").
  ChunkWriter w2;
  out.clear();
  ASSERT_FALSE(w2.write(msg(8, 0xFFFFFF, 1, 3, {1}), out));
  EXPECT_EQ(out, hex("03 FFFFFF 000001 08 01000000 00FFFFFF 01"));
  // 0xFFFFFE fits in 24 bits.
  ChunkWriter w3;
  out.clear();
  ASSERT_FALSE(w3.write(msg(8, 0xFFFFFE, 1, 3, {1}), out));
  EXPECT_EQ(out, hex("03 FFFFFE 000001 08 01000000 01"));
}

TEST(ChunkWriter, ExtendedDelta) {
  ChunkWriter w;
  Bytes out;
  ASSERT_FALSE(w.write(msg(8, 1, 1, 3, {1}), out));
  out.clear();
  ASSERT_FALSE(w.write(msg(8, 0x02000001, 1, 3, {1}), out));
  EXPECT_EQ(out, hex("83 FFFFFF 02000000 01"));
  out.clear();
  ASSERT_FALSE(w.write(msg(8, 0x04000001, 1, 3, {1}), out));
  EXPECT_EQ(out, hex("C3 02000000 01")); // type 3 inherits (and repeats) the extended delta
}

TEST(ChunkWriter, DefaultChunkStreamByType) {
  EXPECT_EQ(make_set_chunk_size(1).chunk_stream_id, csid::protocol_control);
  ChunkWriter w;
  Bytes out;
  ASSERT_FALSE(w.write(msg(20, 0, 0, 0, {5}), out));
  EXPECT_EQ(out.at(0), csid::command);
  out.clear();
  ASSERT_FALSE(w.write(msg(9, 0, 1, 0, {5}), out));
  EXPECT_EQ(out.at(0), csid::video);
  out.clear();
  ASSERT_FALSE(w.write(msg(8, 0, 1, 0, {5}), out));
  EXPECT_EQ(out.at(0), csid::audio);
  out.clear();
  ASSERT_FALSE(w.write(msg(18, 0, 1, 0, {5}), out));
  EXPECT_EQ(out.at(0), csid::data);
  out.clear();
  ASSERT_FALSE(w.write(msg(5, 0, 0, 0, {0, 0, 0, 1}), out));
  EXPECT_EQ(out.at(0), csid::protocol_control);
}

TEST(ChunkWriter, InvalidArguments) {
  ChunkWriter w;
  Bytes out;
  EXPECT_EQ(w.write(msg(8, 0, 1, 1, {1}), out), Errc::invalid_argument);
  EXPECT_EQ(w.write(msg(8, 0, 1, 65600, {1}), out), Errc::invalid_argument);
  EXPECT_EQ(w.write(msg(8, 0, 1, 4, Bytes(0x1000000)), out), Errc::invalid_argument);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(w.write(msg(8, 0, 1, 4, Bytes(0xFFFFFF)), out));
}

TEST(ChunkWriter, ChunkSizeIsClamped) {
  ChunkWriter w;
  w.set_chunk_size(0);
  EXPECT_EQ(w.chunk_size(), 1u);
  w.set_chunk_size(0xFFFFFFFF);
  EXPECT_EQ(w.chunk_size(), chunk::kMaxChunkSize);
  w.set_chunk_size(4096);
  EXPECT_EQ(w.chunk_size(), 4096u);
}

TEST(ChunkWriter, EmptyPayload) {
  ChunkWriter w;
  Bytes out;
  ASSERT_FALSE(w.write(msg(18, 7, 1, 5, {}), out));
  EXPECT_EQ(out, hex("05 000007 000000 12 01000000"));
}

TEST(ChunkWriter, AccumulatingOutputGrowsGeometrically) {
  // Appending many messages to one buffer must not reallocate (and copy) it on every write.
  ChunkWriter w;
  Bytes out;
  int reallocations = 0;
  for (std::uint32_t i = 0; i < 10000; ++i) {
    const std::size_t before = out.capacity();
    ASSERT_FALSE(w.write(msg(8, i * 20, 1, 4, Bytes(100, 1)), out));
    reallocations += out.capacity() != before;
  }
  EXPECT_LT(reallocations, 40);
}

// ---- write(MessageHeader, ByteView): the copy-free overload (issue 6) -----------------------

namespace {

// A pseudo-random message exercising every header decision of 5.3.1: the csid forms of 5.3.1.1
// (0 = by type, one-, two- and three-byte ids), repeated and changed lengths/types/stream ids,
// timestamps going forwards, backwards and past the 24-bit field (5.3.1.3), multi-chunk payloads.
Message random_message(std::mt19937 &rng, std::uint32_t &ts) {
  static constexpr std::uint32_t kCsids[] = {0, 2, 3, 4, 63, 64, 319, 320, 65599};
  static constexpr std::uint8_t kTypes[] = {8, 9, 18, 20, 22};
  static constexpr std::size_t kSizes[] = {0, 1, 127, 128, 129, 300, 4096, 5000};
  switch (rng() % 6) {
  case 0:
    ts -= rng() % 100; // backwards: type 0
    break;
  case 1:
    ts += 0xFFFFFF + rng() % 3; // a delta needing the extended field
    break;
  case 2:
    ts = 0xFFFFF0 + rng() % 32; // absolute timestamp around the extended boundary
    break;
  default:
    ts += rng() % 3 == 0 ? 20 : static_cast<std::uint32_t>(rng() % 50);
    break;
  }
  const std::size_t size = kSizes[rng() % std::size(kSizes)];
  return msg(kTypes[rng() % std::size(kTypes)], ts, 1 + rng() % 2,
             kCsids[rng() % std::size(kCsids)], filled(size, static_cast<std::uint8_t>(rng())));
}

} // namespace

TEST(ChunkWriter, HeaderOverloadIsByteIdenticalToMessageOverload) {
  // Two writers fed the same sequence, one through each overload, with chunk size changes in
  // between: every write must produce the same bytes (and the same verdict).
  std::mt19937 rng(6);
  ChunkWriter by_message, by_header;
  Bytes a, b;
  std::uint32_t ts = 0;
  for (int i = 0; i < 3000; ++i) {
    if (i % 500 == 0) {
      const std::uint32_t size = 1 + rng() % 600;
      by_message.set_chunk_size(size);
      by_header.set_chunk_size(size);
    }
    const Message m = random_message(rng, ts);
    const MessageHeader h{m.type, m.timestamp, m.stream_id, m.chunk_stream_id};
    const std::size_t before = a.size();
    ASSERT_EQ(by_message.write(m, a), by_header.write(h, m.payload, b)) << "message " << i;
    ASSERT_EQ(a, b) << "message " << i;
    ASSERT_GT(a.size(), before + m.payload.size()) << "message " << i;
  }
}

TEST(ChunkWriter, HeaderOverloadRejectsLikeMessageOverload) {
  ChunkWriter w;
  Bytes out;
  const Bytes too_long(chunk::kMaxMessageLength + 1);
  EXPECT_EQ(w.write(MessageHeader{9, 0, 1, 0}, too_long, out), Errc::invalid_argument);
  EXPECT_EQ(w.write(MessageHeader{9, 0, 1, 1}, Bytes{1}, out), Errc::invalid_argument);
  EXPECT_EQ(w.write(MessageHeader{9, 0, 1, chunk::kMaxCsid + 1}, Bytes{1}, out),
            Errc::invalid_argument);
  EXPECT_TRUE(out.empty());
  // The payload view may point into memory the caller keeps (no Message needed); the chunks
  // follow 5.3.2.2 exactly as for a Message.
  const Bytes p = filled(307, 0x40);
  ASSERT_FALSE(w.write(MessageHeader{9, 1000, 12346, 4}, ByteView(p), out));
  EXPECT_EQ(out, cat({hex("04 0003E8 000133 09 3A300000"), Bytes(p.begin(), p.begin() + 128),
                      hex("C4"), Bytes(p.begin() + 128, p.begin() + 256), hex("C4"),
                      Bytes(p.begin() + 256, p.end())}));
}

TEST(ChunkWriter, OneExactAllocationPerMessageIntoAnEmptyBuffer) {
  // The writer computes the exact wire size up front (headers of every chunk, extended fields
  // included), so a message written into an empty buffer allocates once and exactly: too small a
  // reservation would grow the buffer again while writing (capacity > size with libstdc++'s
  // doubling), too large a one would waste memory per message.
  std::mt19937 rng(7);
  ChunkWriter w;
  w.set_chunk_size(100);
  std::uint32_t ts = 0;
  for (int i = 0; i < 2000; ++i) {
    const Message m = random_message(rng, ts);
    Bytes out;
    ASSERT_FALSE(w.write(MessageHeader{m.type, m.timestamp, m.stream_id, m.chunk_stream_id},
                         m.payload, out));
    ASSERT_EQ(out.capacity(), out.size()) << "message " << i;
  }
}

TEST(ChunkWriter, HeaderOverloadRandomRoundTrip) {
  // Random messages through write(MessageHeader, ByteView) and back through ChunkReader fed in
  // random slices (1 byte to a few chunks): same type, timestamp, stream id and payload.
  for (std::uint32_t seed = 0; seed < 20; ++seed) {
    std::mt19937 rng(seed);
    ChunkWriter w;
    ChunkReader r;
    const std::uint32_t chunk_size = 1 + rng() % 300;
    Bytes wire;
    // Announce the chunk size in-band (5.4.1) so the reader follows.
    ASSERT_FALSE(w.write(make_set_chunk_size(chunk_size), wire));
    w.set_chunk_size(chunk_size);
    std::vector<Message> sent;
    std::uint32_t ts = 0;
    for (int i = 0; i < 200; ++i) {
      sent.push_back(random_message(rng, ts));
      const Message &m = sent.back();
      ASSERT_FALSE(w.write(MessageHeader{m.type, m.timestamp, m.stream_id, m.chunk_stream_id},
                           m.payload, wire));
    }
    std::vector<Message> got;
    for (std::size_t pos = 0; pos < wire.size();) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 700, wire.size() - pos);
      ASSERT_FALSE(r.read(ByteView(wire).subspan(pos, n), got)) << "seed " << seed;
      pos += n;
    }
    ASSERT_EQ(got.size(), sent.size() + 1) << "seed " << seed;
    EXPECT_EQ(got[0].type, 1);
    for (std::size_t i = 0; i < sent.size(); ++i) {
      const Message &g = got[i + 1];
      ASSERT_EQ(g.type, sent[i].type) << "seed " << seed << " message " << i;
      ASSERT_EQ(g.timestamp, sent[i].timestamp) << "seed " << seed << " message " << i;
      ASSERT_EQ(g.stream_id, sent[i].stream_id) << "seed " << seed << " message " << i;
      ASSERT_EQ(g.payload, sent[i].payload) << "seed " << seed << " message " << i;
    }
  }
}
