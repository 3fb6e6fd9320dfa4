// ChunkReader: reassembly of RTMP chunk streams (RTMP 1.0 section 5.3).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>

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

void expect_same(const Message &a, const Message &b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.stream_id, b.stream_id);
  EXPECT_EQ(a.chunk_stream_id, b.chunk_stream_id);
  EXPECT_EQ(a.payload, b.payload);
}

std::vector<Message> read_all(ByteView data, std::error_code *ec_out = nullptr,
                              ChunkLimits limits = {}) {
  ChunkReader r(limits);
  std::vector<Message> out;
  auto ec = r.read(data, out);
  if (ec_out)
    *ec_out = ec;
  else
    EXPECT_FALSE(ec) << ec.message();
  return out;
}

std::vector<Message> read_bytewise(ByteView data, std::error_code *ec_out = nullptr) {
  ChunkReader r;
  std::vector<Message> out;
  std::error_code ec;
  for (std::size_t i = 0; i < data.size() && !ec; ++i)
    ec = r.read(data.subspan(i, 1), out);
  if (ec_out)
    *ec_out = ec;
  else
    EXPECT_FALSE(ec) << ec.message();
  return out;
}

// RTMP 1.0 5.3.2.1, example 1: four 32-byte audio messages on chunk stream 3, message stream
// 12345, timestamps 1000 + 20n: a type 0 chunk, a type 2 chunk (delta 20), then type 3 chunks.
Bytes spec_example1() {
  const Bytes p = filled(32, 0x10);
  return cat({hex("03 0003E8 000020 08 39300000"), p, // type 0: ts 1000, len 32, type 8
              hex("83 000014"), p,                    // type 2: delta 20
              hex("C3"), p,                           // type 3
              hex("C3"), p});
}

// RTMP 1.0 5.3.2.2, example 2: one 307-byte video message, chunk stream 4, message stream
// 12346, timestamp 1000, split at the default chunk size 128 into a type 0 and two type 3 chunks.
Bytes spec_example2() {
  const Bytes p = filled(307, 0x40);
  return cat({hex("04 0003E8 000133 09 3A300000"), Bytes(p.begin(), p.begin() + 128), hex("C4"),
              Bytes(p.begin() + 128, p.begin() + 256), hex("C4"), Bytes(p.begin() + 256, p.end())});
}

void check_example1(const std::vector<Message> &out) {
  ASSERT_EQ(out.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    expect_same(out[i],
                msg(8, 1000 + 20 * static_cast<std::uint32_t>(i), 12345, 3, filled(32, 0x10)));
  }
}

void check_example2(const std::vector<Message> &out) {
  ASSERT_EQ(out.size(), 1u);
  expect_same(out[0], msg(9, 1000, 12346, 4, filled(307, 0x40)));
}

} // namespace

TEST(ChunkReader, SpecExample1AudioType0Type2Type3) {
  const Bytes data = spec_example1();
  EXPECT_EQ(data.size(), 12u + 32 + 4 + 32 + 1 + 32 + 1 + 32);
  check_example1(read_all(data));
}

TEST(ChunkReader, SpecExample2VideoSplitIntoType3Chunks) {
  check_example2(read_all(spec_example2()));
}

TEST(ChunkReader, ByteAtATime) {
  check_example1(read_bytewise(spec_example1()));
  check_example2(read_bytewise(spec_example2()));
}

TEST(ChunkReader, TruncatedAtEveryOffsetCompletesWhenTheRestArrives) {
  const Bytes data = spec_example2();
  for (std::size_t k = 0; k < data.size(); ++k) {
    ChunkReader r;
    std::vector<Message> out;
    ASSERT_FALSE(r.read(ByteView(data).first(k), out)) << "offset " << k;
    EXPECT_TRUE(out.empty()) << "offset " << k;
    ASSERT_FALSE(r.read(ByteView(data).subspan(k), out)) << "offset " << k;
    check_example2(out);
    EXPECT_EQ(r.bytes_read(), data.size());
    EXPECT_EQ(r.buffered_bytes(), 0u);
  }
  const Bytes data1 = spec_example1();
  for (std::size_t k = 0; k < data1.size(); ++k) {
    ChunkReader r;
    std::vector<Message> out;
    ASSERT_FALSE(r.read(ByteView(data1).first(k), out));
    EXPECT_LE(out.size(), 4u);
    ASSERT_FALSE(r.read(ByteView(data1).subspan(k), out));
    check_example1(out);
  }
}

TEST(ChunkReader, BasicHeaderForms) {
  // 5.3.1.1: 2-byte form (csid 0: id = 64 + byte), 3-byte form (csid 1: id = 64 + b1 + 256*b2).
  struct Case {
    const char *basic;
    std::uint32_t csid;
  } cases[] = {{"02", 2},      {"3F", 63},        {"00 00", 64},
               {"00 FF", 319}, {"01 00 01", 320}, {"01 FF FF", 65599}};
  for (const Case &c : cases) {
    const Bytes data = cat({hex(c.basic), hex("000001 000002 14 00000000 AA BB")});
    auto out = read_all(data);
    ASSERT_EQ(out.size(), 1u) << c.csid;
    EXPECT_EQ(out[0].chunk_stream_id, c.csid);
    EXPECT_EQ(out[0].payload, hex("AA BB"));
    EXPECT_EQ(read_bytewise(data).at(0).chunk_stream_id, c.csid);
  }
}

TEST(ChunkReader, Type1ChangesLengthAndType) {
  // 5.3.1.2.2: type 1 keeps the message stream id, carries delta, length and type.
  const Bytes data = hex("03 000064 000001 08 01000000 11"
                         "43 00000A 000002 09 2222");
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 2u);
  expect_same(out[1], msg(9, 110, 1, 3, hex("2222")));
}

TEST(ChunkReader, Type3AfterType0UsesTheTimestampAsDelta) {
  // 5.3.1.2.4: a type 3 chunk after a type 0 chunk takes the type 0 timestamp as its delta.
  const Bytes data = hex("03 000064 000001 08 01000000 11  C3 22");
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].timestamp, 200u);
  EXPECT_EQ(out[1].payload, hex("22"));
}

TEST(ChunkReader, TimestampDeltaWrapsAt32Bits) {
  // Type 0 with extended timestamp 0xFFFFFFF0, then type 2 delta 0x20 -> 0x10 (mod 2^32).
  const Bytes data = hex("03 FFFFFF 000001 08 01000000 FFFFFFF0 11"
                         "83 000020 22");
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].timestamp, 0xFFFFFFF0u);
  EXPECT_EQ(out[1].timestamp, 0x10u);
}

TEST(ChunkReader, ExtendedTimestampRepeatedOnType3Chunks) {
  // 5.3.1.3: timestamp 0x01000000 (>= 0xFFFFFF) is carried in the extended field; the sender
  // repeats it on the type 3 continuation chunk (Flash/FFmpeg). Chunk size 2.
  const Bytes data =
      cat({hex("02 000000 000004 01 00000000 00000002"), // Set Chunk Size 2
           hex("03 FFFFFF 000003 08 01000000 01000000 AA BB"), hex("C3 01000000 CC")});
  for (auto out : {read_all(data), read_bytewise(data)}) {
    ASSERT_EQ(out.size(), 2u);
    expect_same(out[1], msg(8, 0x01000000, 1, 3, hex("AA BB CC")));
  }
}

TEST(ChunkReader, ExtendedTimestampOmittedOnType3Chunks) {
  // Same as above from a peer that does not repeat the extended field: the next bytes do not
  // match the stored value so they are payload.
  const Bytes data = cat({hex("02 000000 000004 01 00000000 00000002"),
                          hex("03 FFFFFF 000003 08 01000000 01000000 AA BB"), hex("C3 CC")});
  for (auto out : {read_all(data), read_bytewise(data)}) {
    ASSERT_EQ(out.size(), 2u);
    expect_same(out[1], msg(8, 0x01000000, 1, 3, hex("AA BB CC")));
  }
}

TEST(ChunkReader, OmittedExtendedTimestampWithPayloadMatchingItsPrefixAtEverySplit) {
  // The continuation payload starts with 01 00 00, the first three bytes of the stored extended
  // timestamp 01000000: the reader must wait, then hand those bytes back as payload.
  const Bytes data = cat({hex("02 000000 000004 01 00000000 00000004"), // chunk size 4
                          hex("03 FFFFFF 000007 08 01000000 01000000 AA BB CC DD"),
                          hex("C3 01 00 00"), hex("03 000005 000001 08 01000000 EE")});
  for (std::size_t k = 0; k <= data.size(); ++k) {
    ChunkReader r;
    std::vector<Message> out;
    ASSERT_FALSE(r.read(ByteView(data).first(k), out)) << k;
    ASSERT_FALSE(r.read(ByteView(data).subspan(k), out)) << k;
    ASSERT_EQ(out.size(), 3u) << k;
    expect_same(out[1], msg(8, 0x01000000, 1, 3, hex("AA BB CC DD 01 00 00")));
    expect_same(out[2], msg(8, 5, 1, 3, hex("EE")));
  }
}

TEST(ChunkReader, ExtendedTimestampOnType3StartingANewMessage) {
  // Type 2 with an extended delta 0x01000000, then a type 3 chunk starting the next message
  // with the same delta, repeating the extended field.
  const Bytes data = hex("03 000010 000001 08 01000000 11"
                         "83 FFFFFF 01000000 22"
                         "C3 01000000 33");
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].timestamp, 0x01000010u);
  EXPECT_EQ(out[2].timestamp, 0x02000010u);
  EXPECT_EQ(out[2].payload, hex("33"));
}

TEST(ChunkReader, InterleavedChunkStreams) {
  // Two 4-byte messages on chunk streams 4 and 6, chunk size 2, chunks alternating.
  const Bytes data =
      cat({hex("02 000000 000004 01 00000000 00000002"), hex("04 000001 000004 08 01000000 A1 A2"),
           hex("06 000002 000004 09 01000000 B1 B2"), hex("C4 A3 A4"), hex("C6 B3 B4")});
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 3u);
  expect_same(out[1], msg(8, 1, 1, 4, hex("A1 A2 A3 A4")));
  expect_same(out[2], msg(9, 2, 1, 6, hex("B1 B2 B3 B4")));
}

TEST(ChunkReader, SetChunkSizeTakesEffectWithinTheSameCall) {
  ChunkWriter w;
  Bytes data;
  ASSERT_FALSE(w.write(make_set_chunk_size(4096), data));
  w.set_chunk_size(4096);
  const Message video = msg(9, 40, 1, 6, filled(10000, 3));
  ASSERT_FALSE(w.write(video, data));
  ChunkReader r;
  std::vector<Message> out;
  ASSERT_FALSE(r.read(data, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind(), MessageType::set_chunk_size);
  EXPECT_EQ(r.chunk_size(), 4096u);
  expect_same(out[1], video);
}

TEST(ChunkReader, AbortDropsThePartialMessage) {
  // 5.4.2: a partial message on csid 4 (2 of 4 bytes) is discarded by Abort(4).
  const Bytes data =
      cat({hex("02 000000 000004 01 00000000 00000002"), hex("04 000001 000004 08 01000000 A1 A2"),
           hex("02 000000 000004 02 00000000 0000 C2 0004"), // at chunk size 2
           hex("04 000009 000001 08 01000000 C1")});
  ChunkReader r;
  std::vector<Message> out;
  const std::size_t tail = 17 + 13; // the Abort message and the new message
  ASSERT_FALSE(r.read(ByteView(data).first(data.size() - tail), out));
  EXPECT_EQ(r.buffered_bytes(), 2u);
  ASSERT_FALSE(r.read(ByteView(data).last(tail), out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].kind(), MessageType::abort);
  expect_same(out[2], msg(8, 9, 1, 4, hex("C1")));
  EXPECT_EQ(r.buffered_bytes(), 0u);
}

TEST(ChunkReader, ZeroLengthMessage) {
  auto out = read_all(hex("03 000001 000000 12 01000000  03 000002 000001 12 01000000 55"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_EQ(out[1].payload, hex("55"));
}

TEST(ChunkReader, RepeatedFullHeaderOnContinuationIsTolerated) {
  // Some senders repeat a type 0 header describing the same message on continuation chunks.
  const Bytes data =
      cat({hex("02 000000 000004 01 00000000 00000002"), hex("04 000001 000004 08 01000000 A1 A2"),
           hex("04 000001 000004 08 01000000 A3 A4")});
  auto out = read_all(data);
  ASSERT_EQ(out.size(), 2u);
  expect_same(out[1], msg(8, 1, 1, 4, hex("A1 A2 A3 A4")));
}

TEST(ChunkReader, NewMessageHeaderInsideAPartialMessageIsAnError) {
  const Bytes data =
      cat({hex("02 000000 000004 01 00000000 00000002"), hex("04 000001 000004 08 01000000 A1 A2"),
           hex("44 000001 000003 08 A3 A4")});
  std::error_code ec;
  read_all(data, &ec);
  EXPECT_EQ(ec, Errc::chunk_bad_header);
}

TEST(ChunkReader, ContinuationWithoutPreviousHeaderIsAnError) {
  for (const char *h : {"43 000001 000001 08 00", "83 000001 00", "C3 00"}) {
    std::error_code ec;
    auto out = read_all(hex(h), &ec);
    EXPECT_EQ(ec, Errc::chunk_bad_header) << h;
    EXPECT_TRUE(out.empty());
  }
}

TEST(ChunkReader, ErrorsAreSticky) {
  ChunkReader r;
  std::vector<Message> out;
  EXPECT_EQ(r.read(hex("C3"), out), Errc::chunk_bad_header);
  EXPECT_EQ(r.read(hex("03 000001 000001 08 01000000 11"), out), Errc::chunk_bad_header);
  EXPECT_TRUE(out.empty());
}

TEST(ChunkReader, SetChunkSizeOutOfRange) {
  // 5.4.1: the top bit must be zero, and 0 would make no progress.
  for (const char *size : {"00000000", "80000000", "FFFFFFFF"}) {
    std::error_code ec;
    read_all(cat({hex("02 000000 000004 01 00000000"), hex(size)}), &ec);
    EXPECT_EQ(ec, Errc::chunk_bad_size) << size;
  }
  std::error_code ec;
  read_all(hex("02 000000 000002 01 00000000 0001"), &ec);
  EXPECT_EQ(ec, Errc::chunk_bad_size);
  auto out = read_all(hex("02 000000 000004 01 00000000 7FFFFFFF"));
  ASSERT_EQ(out.size(), 1u);
}

TEST(ChunkReader, LimitMessageSize) {
  ChunkLimits limits;
  limits.max_message_size = 100;
  std::error_code ec;
  auto out = read_all(hex("03 000000 000064 09 01000000"), &ec, limits);
  EXPECT_FALSE(ec) << "exactly the limit is fine";
  read_all(hex("03 000000 000065 09 01000000"), &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
  // A type 1 header raising the length is checked too.
  read_all(hex("03 000000 000001 09 01000000 00  43 000000 000065 09"), &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
}

// Bounds by message type and phase (chunk_reader.hpp, ChunkLimits). Each header below is a
// type 0 chunk header (5.3.1.2.1) on chunk stream 3: timestamp 0, then the 24-bit length and the
// type id, message stream 0; no payload follows, since the bound must bite on the header alone.
Bytes header_announcing(std::uint32_t length, std::uint8_t type) {
  Bytes h = hex("03 000000 000000 00 00000000");
  h[4] = static_cast<std::uint8_t>(length >> 16);
  h[5] = static_cast<std::uint8_t>(length >> 8);
  h[6] = static_cast<std::uint8_t>(length);
  h[7] = type;
  return h;
}

TEST(ChunkReader, SetupBoundRefusesCommandDataAndSharedObjectHeaders) {
  // 7.1.1 command (AMF0 20, AMF3 17), 7.1.2 data (18, 15), 7.1.3 shared object (19, 16).
  for (const std::uint8_t type : {20, 17, 18, 15, 19, 16}) {
    std::error_code ec;
    EXPECT_TRUE(read_all(header_announcing(kMaxCommandMessageSize, type), &ec).empty());
    EXPECT_FALSE(ec) << "exactly the bound is fine, type " << int(type);
    ChunkReader r;
    std::vector<Message> out;
    EXPECT_EQ(r.read(header_announcing(kMaxCommandMessageSize + 1, type), out),
              Errc::limit_exceeded)
        << "type " << int(type);
    EXPECT_NE(r.error_detail().find("max_command_message_size"), std::string::npos)
        << r.error_detail();
  }
}

TEST(ChunkReader, SetupBoundNamesWhatWasExceeded) {
  ChunkReader r;
  std::vector<Message> out;
  EXPECT_EQ(r.read(header_announcing(0xFFFFFF, 20), out), Errc::limit_exceeded);
  EXPECT_EQ(r.error_detail(), "peer announced a 16777215-byte command message (type 20), above "
                              "the 65536-byte limit before streaming starts "
                              "(max_command_message_size)");
}

TEST(ChunkReader, SetupBoundBitesWhenTheHeaderIsCompleteByteAtATime) {
  const Bytes header = header_announcing(0xFFFFFF, 20);
  ChunkReader r;
  std::vector<Message> out;
  for (std::size_t i = 0; i + 1 < header.size(); ++i)
    ASSERT_FALSE(r.read(ByteView(header).subspan(i, 1), out)) << "byte " << i;
  EXPECT_EQ(r.read(ByteView(header).last(1), out), Errc::limit_exceeded);
}

TEST(ChunkReader, SetupBoundBitesBeforeTheExtendedTimestamp) {
  // 5.3.1.3: a timestamp field of FFFFFF announces 4 more header bytes; the length is known
  // before they come, and a peer that never sends them is refused all the same.
  Bytes header = header_announcing(0xFFFFFF, 20);
  header[1] = header[2] = header[3] = 0xFF;
  ChunkReader r;
  std::vector<Message> out;
  EXPECT_EQ(r.read(header, out), Errc::limit_exceeded);
}

TEST(ChunkReader, SetupBoundAppliesToAType1HeaderRaisingTheLength) {
  // A 1-byte command, then a type 1 header (5.3.1.2.2) on the same chunk stream announcing a
  // 16 MiB - 1 one.
  std::error_code ec;
  read_all(hex("03 000000 000001 14 00000000 05  43 000000 FFFFFF 14"), &ec);
  EXPECT_EQ(ec, Errc::limit_exceeded);
}

TEST(ChunkReader, MediaKeepsMaxMessageSizeBeforeStreaming) {
  // Audio 8, video 9 and aggregate 22 announcing the largest length the field holds.
  for (const std::uint8_t type : {8, 9, 22}) {
    std::error_code ec;
    read_all(header_announcing(0xFFFFFF, type), &ec);
    EXPECT_FALSE(ec) << "type " << int(type);
  }
}

TEST(ChunkReader, ControlBoundInEveryPhase) {
  // 5.4 protocol control (1, 2, 3, 5, 6) and 7.1.7 User Control (4).
  for (const std::uint8_t type : {1, 2, 3, 4, 5, 6}) {
    for (const bool streaming : {false, true}) {
      ChunkReader r;
      if (streaming)
        r.start_streaming();
      std::vector<Message> out;
      EXPECT_FALSE(r.read(header_announcing(kMaxControlMessageSize, type), out));
      ChunkReader over;
      if (streaming)
        over.start_streaming();
      EXPECT_EQ(over.read(header_announcing(kMaxControlMessageSize + 1, type), out),
                Errc::limit_exceeded)
          << "type " << int(type) << " streaming " << streaming;
      EXPECT_NE(over.error_detail().find("max_control_message_size"), std::string::npos);
    }
  }
}

TEST(ChunkReader, StreamingLiftsTheSetupBoundForTheNextHeader) {
  // A 1 MiB onMetaData (data, 18) once streaming has started: read whole.
  ChunkReader r;
  r.set_chunk_size(chunk::kMaxChunkSize);
  r.start_streaming();
  std::vector<Message> out;
  ASSERT_FALSE(r.read(cat({header_announcing(1u << 20, 18), filled(1u << 20, 3)}), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, filled(1u << 20, 3));
  // Still bounded by max_message_size.
  ChunkLimits limits;
  limits.max_message_size = 1u << 20;
  ChunkReader small(limits);
  small.start_streaming();
  EXPECT_EQ(small.read(header_announcing((1u << 20) + 1, 18), out), Errc::limit_exceeded);
  EXPECT_NE(small.error_detail().find("max_message_size"), std::string::npos);
}

TEST(ChunkReader, PerTypeBoundsNeverExceedMaxMessageSize) {
  ChunkLimits limits;
  limits.max_message_size = 100;
  std::error_code ec;
  read_all(header_announcing(101, 20), &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
  limits.max_message_size = 16;
  read_all(header_announcing(17, 4), &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
}

TEST(ChunkReader, ReadSomeStopsAfterEachMessage) {
  // Two commands and the start of a third in one buffer: one message per call, so that the
  // caller can change the bounds in between (start_streaming()).
  const Bytes first = hex("03 000000 000002 14 00000000 AABB");
  const Bytes second = hex("43 000000 000001 12 CC");
  const Bytes third = header_announcing(1u << 20, 18);
  const Bytes data = cat({first, second, third});
  ChunkReader r;
  std::vector<Message> out;
  auto used = r.read_some(data, out);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, first.size());
  ASSERT_EQ(out.size(), 1u);
  used = r.read_some(ByteView(data).subspan(first.size()), out);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, second.size());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].kind(), MessageType::data_amf0);
  // The third header would be refused before streaming; now it is accepted.
  r.start_streaming();
  used = r.read_some(ByteView(data).subspan(first.size() + second.size()), out);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, third.size());
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(r.bytes_read(), data.size());
}

TEST(ChunkReader, ReadSomeByteAtATimeMatchesRead) {
  for (const Bytes &data : {spec_example1(), spec_example2()}) {
    ChunkReader r;
    std::vector<Message> out;
    for (std::size_t i = 0; i < data.size(); ++i) {
      ByteView rest = ByteView(data).subspan(i, 1);
      while (!rest.empty()) {
        auto used = r.read_some(rest, out);
        ASSERT_TRUE(used.ok());
        rest = rest.subspan(*used);
      }
    }
    std::vector<Message> whole;
    ChunkReader w;
    ASSERT_FALSE(w.read(data, whole));
    ASSERT_EQ(out.size(), whole.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      expect_same(out[i], whole[i]);
  }
}

TEST(ChunkReader, LimitChunkStreams) {
  ChunkLimits limits;
  limits.max_chunk_streams = 3;
  Bytes data;
  for (std::uint8_t id = 3; id <= 5; ++id)
    data = cat({data, Bytes{id}, hex("000000 000001 08 01000000 00")});
  std::error_code ec;
  EXPECT_EQ(read_all(data, &ec, limits).size(), 3u);
  EXPECT_FALSE(ec);
  data = cat({data, hex("06 000000 000001 08 01000000 00")});
  read_all(data, &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
}

TEST(ChunkReader, LimitBufferedBytes) {
  // Two partial 1000-byte messages at chunk size 600 hold 1200 bytes: over a 1000-byte limit.
  ChunkLimits limits;
  limits.max_buffered_bytes = 1000;
  const Bytes first = cat({hex("02 000000 000004 01 00000000 00000258"),
                           hex("04 000000 0003E8 09 01000000"), filled(600, 1)});
  std::error_code ec;
  read_all(first, &ec, limits);
  EXPECT_FALSE(ec);
  read_all(cat({first, hex("06 000000 0003E8 09 01000000"), filled(600, 2)}), &ec, limits);
  EXPECT_EQ(ec, Errc::limit_exceeded);
}

TEST(ChunkReader, AnnouncedLengthIsNotAllocatedUpFront) {
  // A 16 MiB announcement with 10 bytes behind it holds 10 bytes, not 16 MiB.
  ChunkReader r;
  r.set_chunk_size(chunk::kMaxChunkSize);
  std::vector<Message> out;
  ASSERT_FALSE(r.read(cat({hex("04 000000 FFFFFF 09 01000000"), filled(10, 0)}), out));
  EXPECT_EQ(r.buffered_bytes(), 10u);
}

TEST(ChunkReader, WriterRoundTripRandomMessagesChunkSizesAndSplits) {
  std::mt19937 rng(1234);
  auto pick = [&](std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
  };
  const std::uint32_t csids[] = {0, 2, 3, 4, 63, 64, 319, 320, 65599};
  for (int round = 0; round < 40; ++round) {
    ChunkWriter w;
    Bytes wire;
    std::vector<Message> sent;
    std::uint32_t ts = pick(0, 1) ? 0xFFFFF0 : pick(0, 0xFFFFFFFF);
    for (int i = 0; i < 60; ++i) {
      if (pick(0, 9) == 0) {
        const std::uint32_t size = pick(0, 3) == 0 ? pick(1, 8) : pick(1, 70000);
        Message m = make_set_chunk_size(size);
        ASSERT_FALSE(w.write(m, wire));
        w.set_chunk_size(size);
        sent.push_back(m);
        continue;
      }
      const std::uint32_t step = pick(0, 3) == 0 ? pick(0, 0x2000000) : pick(0, 40);
      ts = pick(0, 15) == 0 ? ts - pick(0, 100) : ts + step;
      const std::size_t len = pick(0, 4) == 0 ? pick(0, 100000) : pick(0, 300);
      Message m = msg(static_cast<std::uint8_t>(pick(0, 1) ? 8 : 9), ts, pick(0, 2),
                      csids[pick(0, 8)], filled(len, static_cast<std::uint8_t>(i)));
      ASSERT_FALSE(w.write(m, wire));
      if (m.chunk_stream_id == 0)
        m.chunk_stream_id = ChunkWriter::default_chunk_stream(m.type);
      sent.push_back(std::move(m));
    }
    ChunkReader r;
    std::vector<Message> got;
    std::size_t pos = 0;
    while (pos < wire.size()) {
      const std::size_t n =
          std::min<std::size_t>(wire.size() - pos, pick(0, 3) ? pick(0, 64) : pick(0, 200000));
      ASSERT_FALSE(r.read(ByteView(wire).subspan(pos, n), got));
      pos += n;
    }
    ASSERT_EQ(got.size(), sent.size()) << "round " << round;
    for (std::size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(i);
      expect_same(got[i], sent[i]);
    }
    EXPECT_EQ(r.bytes_read(), wire.size());
    EXPECT_EQ(r.buffered_bytes(), 0u);
  }
}

TEST(ChunkReader, ChunkSizeOneLargeMessage) {
  ChunkWriter w;
  Bytes wire;
  ASSERT_FALSE(w.write(make_set_chunk_size(1), wire));
  w.set_chunk_size(1);
  const Message big = msg(9, 0x1000000, 1, 6, filled(200000, 9)); // extended on every chunk
  ASSERT_FALSE(w.write(big, wire));
  EXPECT_EQ(wire.size(), 16u + 16 + 200000 + (200000 - 1) * 5);
  auto out = read_all(wire);
  ASSERT_EQ(out.size(), 2u);
  expect_same(out[1], big);
}

TEST(ChunkReader, GarbageNeverCrashesAndSplitsAgree) {
  // Random bytes, some starting like a real stream: whole-buffer and byte-wise reads must agree.
  std::mt19937 rng(99);
  for (int round = 0; round < 300; ++round) {
    Bytes data = round % 2 ? spec_example1() : Bytes{};
    const std::size_t n = rng() % 400;
    for (std::size_t i = 0; i < n; ++i)
      data.push_back(static_cast<std::uint8_t>(rng()));
    std::error_code ec_all, ec_bytes;
    auto all = read_all(data, &ec_all);
    auto bytes = read_bytewise(data, &ec_bytes);
    EXPECT_EQ(ec_all, ec_bytes);
    ASSERT_EQ(all.size(), bytes.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      expect_same(all[i], bytes[i]);
  }
}

namespace {

// Seed inputs of the chunk fuzz target, captured from FFmpeg publishing to and playing from
// nginx-rtmp (Debian 12 packages) after the handshake; the first 2 bytes are the fuzzer's split.
Bytes corpus_file(const char *name) {
  std::ifstream f(std::string(TEST_DATA_DIR) + "/../fuzz/corpus/chunk/" + name, std::ios::binary);
  Bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_GT(b.size(), 2u) << name;
  return b.size() > 2 ? Bytes(b.begin() + 2, b.end()) : Bytes{};
}

} // namespace

TEST(ChunkReader, RealCapturesWithExtendedTimestamps) {
  // Published with -output_ts_offset 16780 s, so media timestamps exceed 0xFFFFFF. FFmpeg sends
  // the 5869-byte keyframe with a type 0 header and repeats the extended timestamp on its type 3
  // chunk (chunk size 4096). nginx-rtmp (chunk size 4000) sends the 5665-byte keyframe after a
  // small type 1 delta, so its type 3 chunk has no extended field to repeat or omit.
  struct Case {
    const char *file;
    std::uint32_t keyframe_len, keyframe_ts;
  } cases[] = {{"ffmpeg_publish_type3_with_extended", 5869, 16779867},
               {"nginx_play_ext_timestamp", 5665, 16780867}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.file);
    const Bytes data = corpus_file(c.file);
    const auto whole = read_all(data);
    const auto bytewise = read_bytewise(data);
    ASSERT_EQ(whole.size(), bytewise.size());
    for (std::size_t i = 0; i < whole.size(); ++i)
      expect_same(whole[i], bytewise[i]);
    const Message *keyframe = nullptr;
    std::uint32_t last_video_ts = 0;
    for (const Message &m : whole) {
      if (m.kind() != MessageType::video)
        continue;
      EXPECT_GE(m.timestamp, last_video_ts);
      last_video_ts = m.timestamp;
      if (m.payload.size() == c.keyframe_len)
        keyframe = &m;
    }
    ASSERT_NE(keyframe, nullptr);
    EXPECT_EQ(keyframe->timestamp, c.keyframe_ts);
    EXPECT_EQ(keyframe->payload.at(0), 0x17) << "FLV VideoTagHeader: keyframe, AVC";
    EXPECT_GT(last_video_ts, keyframe->timestamp);
  }
}

// give_storage(): a message of at least kMinRecycledMessage bytes is reassembled into a vector
// the caller handed back (same storage, bytes intact); small messages, too small or too large
// spares and spares beyond kMaxSpareStorage are not used or kept.
TEST(ChunkReader, ReassemblesLargeMessagesIntoGivenStorage) {
  const Message big = msg(9, 40, 1, 6, filled(20000, 5));
  const Message small = msg(8, 41, 1, 4, filled(300, 9));
  ChunkWriter w;
  Bytes wire;
  ASSERT_FALSE(w.write(small, wire));
  ASSERT_FALSE(w.write(big, wire));
  ChunkReader r;
  Bytes spare;
  spare.reserve(32768);
  const std::uint8_t *storage = spare.data();
  r.give_storage(std::move(spare));
  r.give_storage(Bytes(10)); // capacity below kMinRecycledMessage: dropped
  std::vector<Message> out;
  ASSERT_FALSE(r.read(wire, out));
  ASSERT_EQ(out.size(), 2u);
  expect_same(out[0], small);
  EXPECT_NE(out[0].payload.data(), storage); // small messages do not take the spare
  expect_same(out[1], big);
  EXPECT_EQ(out[1].payload.data(), storage);
  // The spare is used up: the next large message allocates (and is still intact). The first
  // payload stays alive so that the allocator cannot hand its address out again.
  const Bytes first = std::move(out[1].payload);
  out.clear();
  wire.clear();
  ASSERT_FALSE(w.write(big, wire));
  ASSERT_FALSE(r.read(wire, out));
  ASSERT_EQ(out.size(), 1u);
  expect_same(out[0], big);
  EXPECT_NE(out[0].payload.data(), storage);
}

TEST(ChunkReader, SpareStorageIsBounded) {
  ChunkReader r;
  // A flood of spares, some huge: only kMaxSpareStorage of at most kMaxSpareCapacity are kept,
  // which the reader proves by using exactly that many.
  for (int i = 0; i < 100; ++i) {
    Bytes b;
    b.reserve(i % 2 ? ChunkReader::kMaxSpareCapacity + 1 : 8192);
    r.give_storage(std::move(b));
  }
  ChunkWriter w;
  for (std::size_t i = 0; i < ChunkReader::kMaxSpareStorage + 2; ++i) {
    Bytes wire;
    const Message m = msg(9, static_cast<std::uint32_t>(i), 1, 6, filled(5000, 1));
    ASSERT_FALSE(w.write(m, wire));
    std::vector<Message> out;
    ASSERT_FALSE(r.read(wire, out));
    ASSERT_EQ(out.size(), 1u);
    expect_same(out[0], m);
    // The kept spares (capacity 8192) first, then fresh storage sized to the message.
    EXPECT_EQ(out[0].payload.capacity(), i < ChunkReader::kMaxSpareStorage ? 8192u : 5000u) << i;
  }
}

TEST(ChunkReader, TakesTheSmallestSpareThatHoldsTheMessage) {
  ChunkReader r;
  for (std::size_t cap : {8192u, 65536u, 20000u}) {
    Bytes b;
    b.reserve(cap);
    r.give_storage(std::move(b));
  }
  ChunkWriter w;
  Bytes wire;
  const Message m = msg(9, 0, 1, 6, filled(15000, 2));
  ASSERT_FALSE(w.write(m, wire));
  std::vector<Message> out;
  ASSERT_FALSE(r.read(wire, out));
  ASSERT_EQ(out.size(), 1u);
  expect_same(out[0], m);
  EXPECT_EQ(out[0].payload.capacity(), 20000u);
}

// --- How many bytes a driver may wait for (bytes_to_complete_message / _chunk, used for
// SO_RCVLOWAT by Connection::receive_low_water). Both must be lower bounds at every split
// point (a driver waiting for more would sit on a complete message), and exact where the doc
// says so (otherwise the driver wakes for nothing).

namespace {

struct Wire {
  Bytes bytes;
  std::vector<std::size_t> message_ends; // offsets right after each message's last byte
};

// Messages of 0..3000 bytes on one-, two- and three-byte csids, chunk size changes between
// them (5.4.1), timestamps below the extended range: a peer that never interleaves.
Wire sequential_wire() {
  Wire w;
  ChunkWriter writer;
  auto add = [&](const Message &m) {
    ASSERT_FALSE(writer.write(m, w.bytes));
    w.message_ends.push_back(w.bytes.size());
  };
  const std::uint32_t csids[] = {3, 6, 64, 319, 320, 65599};
  const std::size_t sizes[] = {1, 300, 0, 129, 2000, 128, 3000, 256, 77};
  std::uint32_t ts = 0;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    if (i == 3 || i == 6) {
      const std::uint32_t size = i == 3 ? 100 : 1000;
      add(make_set_chunk_size(size));
      writer.set_chunk_size(size);
    }
    add(msg(9, ts += 33, 1, csids[i % std::size(csids)],
            filled(sizes[i], static_cast<std::uint8_t>(i))));
  }
  return w;
}

std::size_t read_count(ChunkReader &r, ByteView data) {
  std::vector<Message> out;
  EXPECT_FALSE(r.read(data, out));
  return out.size();
}

} // namespace

TEST(ChunkReaderLowWater, BytesToCompleteMessageIsExactAtEverySplit) {
  const Wire w = sequential_wire();
  const ByteView data(w.bytes);
  ChunkReader r;
  std::size_t ends_seen = 0;
  for (std::size_t k = 0; k <= data.size(); ++k) {
    SCOPED_TRACE(k);
    if (k > 0)
      read_count(r, data.subspan(k - 1, 1));
    const bool at_end =
        k == 0 || (ends_seen < w.message_ends.size() && w.message_ends[ends_seen] == k);
    if (at_end && k > 0)
      ++ends_seen;
    const std::size_t q = r.bytes_to_complete_message();
    EXPECT_FALSE(r.peer_interleaves());
    // 0 exactly at message boundaries: nothing is in progress.
    EXPECT_EQ(q == 0, at_end) << "q=" << q;
    if (q == 0)
      continue;
    ASSERT_LE(k + q, data.size());
    // Lower bound: one byte less completes nothing.
    ChunkReader c = r;
    EXPECT_EQ(read_count(c, data.subspan(k, q - 1)), 0u) << "q=" << q;
    // Exact once the message's first header was read (some payload is held): the q-th byte
    // completes it. Inside a new message's header only the header's rest is known.
    const std::size_t next_end = w.message_ends[ends_seen];
    if (r.buffered_bytes() > 0)
      EXPECT_EQ(k + q, next_end);
    else
      EXPECT_LE(k + q, next_end);
    EXPECT_EQ(read_count(c, data.subspan(k + q - 1, 1)), k + q == next_end ? 1u : 0u);
  }
  EXPECT_EQ(ends_seen, w.message_ends.size());
}

TEST(ChunkReaderLowWater, BytesToCompleteChunkIsALowerBoundAtEverySplit) {
  // On the sequential wire and on an interleaved one: fewer bytes than announced never
  // complete any message.
  const Bytes interleaved =
      cat({hex("02 000000 000004 01 00000000 00000002"), hex("04 000001 000004 08 01000000 A1 A2"),
           hex("06 000002 000004 09 01000000 B1 B2"), hex("C4 A3 A4"), hex("C6 B3 B4"),
           hex("06 000002 000000 09 01000000"), // zero-length message
           hex("44 000001 000005 08 C1 C2"), hex("C6"), hex("C4 C3 C4"), hex("C4 C5")});
  for (const Bytes &wire : {sequential_wire().bytes, interleaved}) {
    const ByteView data(wire);
    ChunkReader r;
    for (std::size_t k = 0; k <= data.size(); ++k) {
      SCOPED_TRACE(k);
      if (k > 0)
        read_count(r, data.subspan(k - 1, 1));
      const std::size_t q = r.bytes_to_complete_chunk();
      EXPECT_LE(q, r.bytes_to_complete_message() + 1);
      if (q == 0)
        continue;
      ChunkReader c = r;
      EXPECT_EQ(read_count(c, data.subspan(k, q - 1)), 0u) << "q=" << q;
    }
  }
}

TEST(ChunkReaderLowWater, SpecExample2Values) {
  // RTMP 1.0 5.3.2.2: 307 bytes at chunk size 128 on csid 4: 12-byte header + 128, "C4" + 128,
  // "C4" + 51.
  const Bytes data = spec_example2();
  ChunkReader r;
  EXPECT_EQ(r.bytes_to_complete_message(), 0u);
  read_count(r, ByteView(data).first(12)); // the type 0 header
  EXPECT_EQ(r.bytes_to_complete_message(), 307u + 2);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 128u + 1);
  read_count(r, ByteView(data).subspan(12, 100));
  EXPECT_EQ(r.bytes_to_complete_message(), 207u + 2);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 28u + 1);
  read_count(r, ByteView(data).subspan(112, 28)); // end of chunk 1
  EXPECT_EQ(r.bytes_to_complete_message(), 179u + 2);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 0u); // the next header may be of another stream
  read_count(r, ByteView(data).subspan(140, 1 + 128 + 1 + 10));
  EXPECT_EQ(r.bytes_to_complete_message(), 41u);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 41u); // the last chunk: no header after it
  EXPECT_EQ(read_count(r, ByteView(data).subspan(280)), 1u);
  EXPECT_EQ(r.bytes_to_complete_message(), 0u);
}

TEST(ChunkReaderLowWater, BasicHeaderSizeOfTheCsidIsCounted) {
  // 300 bytes at chunk size 128: two more chunks after the first, each with a 1-, 2- or
  // 3-byte basic header (5.3.1.1).
  for (const auto &[csid, basic] : {std::pair{63u, 1u}, {64u, 2u}, {319u, 2u}, {320u, 3u}}) {
    ChunkWriter w;
    Bytes wire;
    ASSERT_FALSE(w.write(msg(9, 0, 1, csid, filled(300, 1)), wire));
    ChunkReader r;
    read_count(r, ByteView(wire).first(basic + 11 + 10));
    EXPECT_EQ(r.bytes_to_complete_message(), 290u + 2 * basic) << csid;
    // A continuation header split inside its basic header (2- and 3-byte forms).
    ChunkReader s;
    read_count(s, ByteView(wire).first(basic + 11 + 128 + 1));
    EXPECT_EQ(s.bytes_to_complete_message(), 172u + 2 * basic - 1) << csid;
  }
}

TEST(ChunkReaderLowWater, ExtendedTimestampsAreNotCounted) {
  // Chunk size 4, a 10-byte message with an extended timestamp (5.3.1.3).
  const Bytes scs = hex("02 000000 000004 01 00000000 00000004");
  const Bytes head = hex("03 FFFFFF 00000A 08 01000000 01000000");
  const Bytes p = hex("AA BB CC DD EE FF 11 22 33 44");
  // A peer that omits the field on type 3 chunks: exact (6 payload + 2 headers).
  auto part = [&](std::size_t at, std::size_t n) {
    return Bytes(p.begin() + static_cast<std::ptrdiff_t>(at),
                 p.begin() + static_cast<std::ptrdiff_t>(at + n));
  };
  const Bytes omitted = cat({scs, head, part(0, 4), hex("C3"), part(4, 4), hex("C3"), part(8, 2)});
  // A peer that repeats it: 4 bytes more per chunk, so only a lower bound.
  const Bytes repeated =
      cat({scs, head, part(0, 4), hex("C3 01000000"), part(4, 4), hex("C3 01000000"), part(8, 2)});
  const std::size_t after_first = scs.size() + head.size() + 4;
  for (const Bytes *w : {&omitted, &repeated}) {
    const Bytes &wire = *w;
    ChunkReader r;
    read_count(r, ByteView(wire).first(after_first));
    EXPECT_EQ(r.bytes_to_complete_message(), 6u + 2);
    ChunkReader c = r;
    EXPECT_EQ(read_count(c, ByteView(wire).subspan(after_first, 7)), 0u);
    EXPECT_EQ(read_count(c, ByteView(wire).subspan(after_first + 7)), 1u);
    EXPECT_EQ(wire.size() - after_first, w == &omitted ? 8u : 16u);
  }
  // Waiting in the extended-timestamp peek of a continuation (3 of its 4 bytes here): those 3
  // bytes may be payload (from a peer that omits the field, whose payload begins like it), so
  // they count as received: 6 - 3 payload bytes and the last header.
  ChunkReader r;
  read_count(r, ByteView(repeated).first(after_first + 1 + 3));
  EXPECT_EQ(r.bytes_to_complete_message(), 6u + 1 - 3);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 4u + 1 - 3);
}

TEST(ChunkReaderLowWater, LowerBoundsWhenThePeekHoldsPayload) {
  // The wire of OmittedExtendedTimestampWithPayloadMatchingItsPrefixAtEverySplit: the reader
  // holds "01 00 00" in its peek, then finds them to be payload. At every split, fewer bytes
  // than either query says complete nothing (the message query: of this non-interleaving
  // wire).
  const Bytes data = cat({hex("02 000000 000004 01 00000000 00000004"), // chunk size 4
                          hex("03 FFFFFF 000007 08 01000000 01000000 AA BB CC DD"),
                          hex("C3 01 00 00"), hex("03 000005 000001 08 01000000 EE")});
  ChunkReader r;
  for (std::size_t k = 0; k <= data.size(); ++k) {
    SCOPED_TRACE(k);
    if (k > 0)
      read_count(r, ByteView(data).subspan(k - 1, 1));
    for (const std::size_t q : {r.bytes_to_complete_message(), r.bytes_to_complete_chunk()}) {
      if (q == 0)
        continue;
      ChunkReader c = r;
      EXPECT_EQ(read_count(c, ByteView(data).subspan(k, std::min(q - 1, data.size() - k))), 0u)
          << "q=" << q;
    }
  }
}

TEST(ChunkReaderLowWater, ChunkSizeChangeInTheMiddleOfAMessage) {
  // A Set Chunk Size interleaved (csid 2) into a 1000-byte message on csid 6: the rest is
  // counted at the new size once it took effect; and the peer is now known to interleave.
  ChunkWriter w;
  Bytes first;
  ASSERT_FALSE(w.write(msg(9, 0, 1, 6, filled(1000, 5)), first));
  ChunkReader r;
  read_count(r, ByteView(first).first(12 + 128));
  EXPECT_FALSE(r.peer_interleaves());
  EXPECT_EQ(r.bytes_to_complete_message(), 872u + 7); // 7 more chunks of 128
  EXPECT_EQ(read_count(r, hex("02 000000 000004 01 00000000 00000200")), 1u); // 512
  EXPECT_EQ(r.chunk_size(), 512u);
  EXPECT_TRUE(r.peer_interleaves());
  EXPECT_EQ(r.bytes_to_complete_chunk(), 0u);
  read_count(r, cat({hex("C6"), filled(10, 0)}));
  EXPECT_EQ(r.bytes_to_complete_message(), 862u + 1); // 502 here, then one chunk of 360
  EXPECT_EQ(r.bytes_to_complete_chunk(), 502u + 1);
  read_count(r, cat({filled(502, 0), hex("C6")}));
  EXPECT_EQ(r.bytes_to_complete_message(), 360u);
  EXPECT_EQ(r.bytes_to_complete_chunk(), 360u);
}

TEST(ChunkReaderLowWater, InterleavingIsNoticedAndAbortEndsTheMessage) {
  ChunkReader r;
  // Whole messages one after the other on several csids: not interleaving.
  read_count(r, cat({hex("02 000000 000004 01 00000000 00000002"),
                     hex("04 000001 000004 08 01000000 A1 A2 C4 A3 A4"),
                     hex("06 000002 000002 09 01000000 B1 B2")}));
  EXPECT_FALSE(r.peer_interleaves());
  read_count(r, hex("44 000001 000004 08 A1 A2")); // csid 4, half of a message
  EXPECT_EQ(r.bytes_to_complete_message(), 3u);
  // Abort(4) (5.4.2) between its chunks: nothing is in progress any more.
  EXPECT_EQ(read_count(r, hex("02 000000 000004 02 00000000 0000 C2 0004")), 1u);
  EXPECT_EQ(r.bytes_to_complete_message(), 0u);
  EXPECT_TRUE(r.peer_interleaves()); // the Abort itself came in the middle of a message
  EXPECT_EQ(read_count(r, hex("44 000001 000001 08 C1")), 1u);
  EXPECT_EQ(r.bytes_to_complete_message(), 0u);
}
