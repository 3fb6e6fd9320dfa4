// Protocol control (RTMP 1.0 section 5.4) and user control events (section 7.1.7).
#include <gtest/gtest.h>

#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/control.hpp"
#include "core/error.hpp"

#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::hex;

namespace {

void expect_control(const Message &m, MessageType type, const Bytes &payload) {
  EXPECT_EQ(m.kind(), type);
  EXPECT_EQ(m.chunk_stream_id, csid::protocol_control); // 5.4: chunk stream 2
  EXPECT_EQ(m.stream_id, 0u);                           // 5.4: message stream 0
  EXPECT_EQ(m.payload, payload);
}

} // namespace

TEST(Control, EncodersMatchTheSpecLayout) {
  // 5.4.1-5.4.5: 32-bit big-endian fields; Set Peer Bandwidth adds the limit type byte.
  expect_control(make_set_chunk_size(4096), MessageType::set_chunk_size, hex("00001000"));
  expect_control(make_abort(4), MessageType::abort, hex("00000004"));
  expect_control(make_acknowledgement(0x12345678), MessageType::acknowledgement, hex("12345678"));
  expect_control(make_window_ack_size(2500000), MessageType::window_ack_size, hex("002625A0"));
  expect_control(make_set_peer_bandwidth(2500000, PeerBandwidthLimit::dynamic),
                 MessageType::set_peer_bandwidth, hex("002625A0 02"));
}

TEST(Control, UserControlEncoding) {
  // 7.1.7: event type u16 followed by the event data.
  expect_control(make_user_control({0, 1}), MessageType::user_control, hex("0000 00000001"));
  expect_control(make_user_control({3, 1, 3000}), MessageType::user_control,
                 hex("0003 00000001 00000BB8"));
  expect_control(make_user_control({6, 0xCAFE}), MessageType::user_control, hex("0006 0000CAFE"));
}

TEST(Control, RoundTrips) {
  for (std::uint32_t v : {0u, 1u, 128u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    EXPECT_EQ(*parse_u32_payload(make_acknowledgement(v).payload), v);
    EXPECT_EQ(*parse_u32_payload(make_window_ack_size(v).payload), v);
    for (auto limit :
         {PeerBandwidthLimit::hard, PeerBandwidthLimit::soft, PeerBandwidthLimit::dynamic}) {
      auto pb = parse_set_peer_bandwidth(make_set_peer_bandwidth(v, limit).payload);
      ASSERT_TRUE(pb);
      EXPECT_EQ(*pb, (PeerBandwidth{v, limit}));
    }
  }
  for (std::uint16_t e : {0, 1, 2, 3, 4, 6, 7, 31, 32, 26, 1000}) {
    UserControl uc{e, 0x01020304, e == 3 ? 0x05060708u : 0u};
    auto parsed = parse_user_control(make_user_control(uc).payload);
    ASSERT_TRUE(parsed) << e;
    EXPECT_EQ(*parsed, uc) << e;
  }
}

TEST(Control, SetChunkSizeRange) {
  // 5.4.1: 1..0x7FFFFFFF; the top bit must be zero.
  EXPECT_EQ(*parse_set_chunk_size(hex("00000001")), 1u);
  EXPECT_EQ(*parse_set_chunk_size(hex("7FFFFFFF")), 0x7FFFFFFFu);
  EXPECT_EQ(parse_set_chunk_size(hex("00000000")).error(), Errc::chunk_bad_size);
  EXPECT_EQ(parse_set_chunk_size(hex("80000000")).error(), Errc::chunk_bad_size);
  EXPECT_EQ(parse_set_chunk_size(hex("000080")).error(), Errc::truncated);
}

TEST(Control, TruncatedAtEveryOffset) {
  const Bytes pbw = make_set_peer_bandwidth(5000000, PeerBandwidthLimit::soft).payload;
  for (std::size_t k = 0; k < pbw.size(); ++k)
    EXPECT_EQ(parse_set_peer_bandwidth(ByteView(pbw).first(k)).error(), Errc::truncated) << k;
  const Bytes ack = make_acknowledgement(7).payload;
  for (std::size_t k = 0; k < ack.size(); ++k)
    EXPECT_EQ(parse_u32_payload(ByteView(ack).first(k)).error(), Errc::truncated) << k;
  const Bytes sbl = make_user_control({3, 1, 100}).payload;
  for (std::size_t k = 0; k < sbl.size(); ++k)
    EXPECT_EQ(parse_user_control(ByteView(sbl).first(k)).error(), Errc::truncated) << k;
}

TEST(Control, ByteAtATimeThroughTheChunkLayer) {
  ChunkWriter w;
  Bytes wire;
  const UserControl ping{static_cast<std::uint16_t>(UserControlEvent::ping_request), 123456};
  ASSERT_FALSE(w.write(make_user_control(ping), wire));
  ASSERT_FALSE(w.write(make_set_peer_bandwidth(1000, PeerBandwidthLimit::hard), wire));
  ChunkReader r;
  std::vector<Message> out;
  for (std::uint8_t b : wire)
    ASSERT_FALSE(r.read(ByteView(&b, 1), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*parse_user_control(out[0].payload), ping);
  EXPECT_EQ(*parse_set_peer_bandwidth(out[1].payload),
            (PeerBandwidth{1000, PeerBandwidthLimit::hard}));
}

TEST(Control, BadPeerBandwidthLimitType) {
  EXPECT_EQ(parse_set_peer_bandwidth(hex("00001000 03")).error(), Errc::malformed);
  EXPECT_EQ(parse_set_peer_bandwidth(hex("00001000 FF")).error(), Errc::malformed);
}

TEST(Control, UnknownUserControlEventsAreKept) {
  // SWF verification request (26) carries no 32-bit value in the spec; we keep the type.
  auto uc = parse_user_control(hex("001A"));
  ASSERT_TRUE(uc);
  EXPECT_EQ(uc->event, 26);
  EXPECT_EQ(uc->value, 0u);
  auto other = parse_user_control(hex("1234 00000009 FF"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->value, 9u);
  EXPECT_EQ(parse_user_control(hex("00")).error(), Errc::truncated);
}

TEST(AckTracker, AcknowledgesEachWindow) {
  // 5.4.3: acknowledge after receiving bytes equal to the window size.
  AckTracker t;
  EXPECT_FALSE(t.on_bytes_received(1000000)) << "no window yet";
  t.set_window(2500000);
  EXPECT_FALSE(t.on_bytes_received(2499999));
  EXPECT_EQ(t.on_bytes_received(2500000), 2500000u);
  EXPECT_FALSE(t.on_bytes_received(2500001));
  EXPECT_FALSE(t.on_bytes_received(4999999));
  EXPECT_EQ(t.on_bytes_received(5100000), 5100000u);
  t.set_window(100);
  EXPECT_EQ(t.on_bytes_received(5100100), 5100100u);
}

TEST(AckTracker, KeepsAcknowledgingAcrossThe4GiBWrap) {
  AckTracker t;
  t.set_window(1u << 30);
  std::vector<std::uint32_t> seqs;
  for (std::uint64_t total = 0; total <= (10ull << 30); total += 1u << 28)
    if (auto s = t.on_bytes_received(total))
      seqs.push_back(*s);
  ASSERT_EQ(seqs.size(), 10u) << "one per GiB, including after 4 GiB";
  EXPECT_EQ(seqs[3], 0u);          // 4 GiB wraps to 0 (the sequence number is 32 bits)
  EXPECT_EQ(seqs[4], 1u << 30);    // 5 GiB
  EXPECT_EQ(seqs[9], 0x80000000u); // 10 GiB mod 4 GiB
}

TEST(PeerBandwidthState, HardSoftDynamic) {
  // 5.4.5.
  PeerBandwidthState s;
  s.note_window_ack_size_sent(2500000);
  EXPECT_FALSE(s.on_set_peer_bandwidth({2500000, PeerBandwidthLimit::hard}))
      << "same as the window we already sent";
  EXPECT_EQ(s.limit(), 2500000u);
  EXPECT_EQ(s.on_set_peer_bandwidth({5000000, PeerBandwidthLimit::soft}), std::nullopt)
      << "soft keeps the smaller limit in effect";
  EXPECT_EQ(s.limit(), 2500000u);
  EXPECT_EQ(s.on_set_peer_bandwidth({1000000, PeerBandwidthLimit::soft}), 1000000u);
  EXPECT_EQ(s.limit_type(), PeerBandwidthLimit::soft);
  EXPECT_FALSE(s.on_set_peer_bandwidth({3000000, PeerBandwidthLimit::dynamic}))
      << "dynamic after soft is ignored";
  EXPECT_EQ(s.limit(), 1000000u);
  EXPECT_EQ(s.on_set_peer_bandwidth({3000000, PeerBandwidthLimit::hard}), 3000000u);
  EXPECT_EQ(s.on_set_peer_bandwidth({4000000, PeerBandwidthLimit::dynamic}), 4000000u)
      << "dynamic after hard acts as hard";
  EXPECT_EQ(s.limit_type(), PeerBandwidthLimit::hard);
}

TEST(PeerBandwidthState, FirstMessageWithoutPriorWindow) {
  PeerBandwidthState s;
  EXPECT_FALSE(s.on_set_peer_bandwidth({5000, PeerBandwidthLimit::dynamic}))
      << "no hard limit before: ignored";
  EXPECT_EQ(s.on_set_peer_bandwidth({5000, PeerBandwidthLimit::soft}), 5000u);
}
