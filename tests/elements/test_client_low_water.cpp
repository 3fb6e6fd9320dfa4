// rtmpsrc sleeps until the message in progress can complete (SO_RCVLOWAT set from
// Connection::receive_low_water, net/client_driver.cpp). These tests check that this never
// costs latency or liveness: against FakeRtmpServer writing hand-made chunks at its own pace
// (FakeServerOptions::after_play), each message must reach the src pad as soon as its last byte
// was sent, also when the server interleaves chunk streams, a server that stops at its
// acknowledgement window must get its acknowledgements, and a server that stalls in the middle
// of a message must still meet idle-timeout and a state change to NULL within 1 s.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "client_harness.hpp"
#include "core/chunk_writer.hpp"
#include "core/flv.hpp"
#include "element_test_util.hpp"
#include "fake_server.hpp"
#include "our_plugin.hpp"

using namespace rtmp;
using namespace rtmp::test;

namespace {

class ClientLowWater : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// Chunk streams the ServerSession itself does not use, so that hand-made chunks cannot clash
// with its header compression; the session's chunk size (ServerConfig default 4096) after its
// Set Chunk Size; the message stream of the first createStream.
constexpr std::uint32_t kVideoCsid = 40;
constexpr std::uint32_t kAudioCsid = 41;
constexpr std::uint32_t kChunkSize = 4096;
constexpr std::uint32_t kStreamId = 1;

Bytes video_payload(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  b[0] = 0x27; // FLV E.4.3.1: inter frame, AVC; the rest is just a pattern
  for (std::size_t i = 1; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed + i * 13);
  return b;
}

Bytes audio_payload(std::uint8_t fill) {
  return {0xAF, 0x01, fill, fill, fill, fill};
}

Message on(std::uint32_t csid, Message m) {
  m.chunk_stream_id = csid;
  m.stream_id = kStreamId;
  return m;
}

// Chunks like the session, after its Set Chunk Size.
ChunkWriter server_writer() {
  ChunkWriter w;
  w.set_chunk_size(kChunkSize);
  return w;
}

// Chunks `m` alone: one buffer per message as a non-interleaving server sends it.
Bytes chunked(ChunkWriter &w, const Message &m) {
  Bytes out;
  EXPECT_FALSE(w.write(m, out));
  return out;
}

// Each chunk of `m` (header + payload) on its own, for servers that interleave.
std::vector<Bytes> chunks_of(ChunkWriter &w, const Message &m) {
  const Bytes all = chunked(w, m);
  std::vector<Bytes> out;
  // The first header is of type 0, 1 or 2 (the writer compresses against the previous message
  // of the chunk stream), the others are one-byte type 3 headers (csid < 64).
  const std::size_t chunks = (m.payload.size() + kChunkSize - 1) / kChunkSize;
  const std::size_t first_header = all.size() - m.payload.size() - (chunks - 1);
  std::size_t pos = 0;
  for (std::size_t left = m.payload.size(); pos < all.size();) {
    const std::size_t header = out.empty() ? first_header : 1;
    const std::size_t body = std::min<std::size_t>(left, kChunkSize);
    out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(pos),
                     all.begin() + static_cast<std::ptrdiff_t>(pos + header + body));
    pos += header + body;
    left -= body;
  }
  return out;
}

struct Arrival {
  std::uint8_t type = 0;
  Bytes data;
  std::int64_t at_us = 0;
};

// Pulls FLV tags from rtmpsrc (skipping the FLV header and script tags) until `count` audio or
// video tags arrived or `timeout_ms` passed, stamping each with the monotonic time it was
// pulled (polled every millisecond).
std::vector<Arrival> pull_media(GstHarness *h, std::size_t count, int timeout_ms) {
  std::vector<Arrival> got;
  FlvReader reader;
  bool header_seen = false;
  const std::int64_t end = g_get_monotonic_time() + std::int64_t(timeout_ms) * 1000;
  while (got.size() < count && g_get_monotonic_time() < end) {
    GstBuffer *b = gst_harness_try_pull(h);
    if (!b) {
      g_usleep(1000);
      continue;
    }
    const std::int64_t now = g_get_monotonic_time();
    Bytes bytes = buffer_bytes(b);
    gst_buffer_unref(b);
    if (!header_seen) {
      header_seen = true;
      bytes.erase(bytes.begin(), bytes.begin() + 13); // FLV header + PreviousTagSize0
    }
    std::vector<FlvTag> tags;
    EXPECT_FALSE(reader.read(bytes, tags));
    for (FlvTag &t : tags)
      if (t.type == 8 || t.type == 9)
        got.push_back(Arrival{t.type, std::move(t.data), now});
  }
  return got;
}

GstHarness *play(const FakeRtmpServer &server) {
  GstHarness *h = client_harness("rtmpsrc");
  g_object_set(h->element, "location", server.url().c_str(), nullptr);
  gst_harness_play(h);
  return h;
}

// rtmpsrc also wakes every 100 ms by itself (kCommandPollUs in gstrtmpsrc.cpp) and then reads
// whatever arrived, which would hide a mark set too high behind a delay of 0-100 ms. So each
// test repeats its pattern kRounds times, each message followed by a pause of kHoldUs, and asks
// that the median delay between the last byte of a message leaving the server and its tag
// leaving rtmpsrc be below kPromptUs: about 1 ms when right. A mark one byte too high makes
// each delay the wait for rtmpsrc's next poll, 0-100 ms, 15 ms or less with probability 0.15:
// all but 0.3% of such runs fail. kGapUs: pauses after which the client is surely asleep.
constexpr std::size_t kRounds = 8;
constexpr std::int64_t kPromptUs = 15000;
constexpr unsigned kGapUs = 30000;
constexpr unsigned kHoldUs = 100000;

std::int64_t median(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? -1 : v[v.size() / 2];
}

// got[offset + 2f] must carry first[f] and got[offset + 2f + 1] second[f], and each kind must
// leave rtmpsrc with a median delay below kPromptUs after its last byte was sent (*_done).
void expect_rounds(const std::vector<Arrival> &got, std::size_t offset,
                   const std::vector<Message> &first, const std::vector<std::int64_t> &first_done,
                   const std::vector<Message> &second,
                   const std::vector<std::int64_t> &second_done) {
  ASSERT_EQ(got.size(), offset + 2 * kRounds);
  std::vector<std::int64_t> first_delay, second_delay;
  for (std::size_t f = 0; f < kRounds; ++f) {
    const Arrival &a = got[offset + 2 * f];
    const Arrival &b = got[offset + 2 * f + 1];
    EXPECT_EQ(a.data, first[f].payload) << f;
    EXPECT_EQ(b.data, second[f].payload) << f;
    first_delay.push_back(a.at_us - first_done[f]);
    second_delay.push_back(b.at_us - second_done[f]);
  }
  EXPECT_LT(median(first_delay), kPromptUs);
  EXPECT_LT(median(second_delay), kPromptUs);
}

// kRounds video frames of 200 KB and audio messages, with timestamps 40 ms apart.
void make_rounds(std::vector<Message> &video, std::vector<Message> &audio, std::uint32_t first_ts) {
  for (std::size_t i = 0; i < kRounds; ++i) {
    const auto seed = static_cast<std::uint8_t>(i);
    const auto ts = first_ts + static_cast<std::uint32_t>(40 * i);
    video.push_back(
        on(kVideoCsid, make_media(MessageType::video, ts, video_payload(200000, seed))));
    audio.push_back(on(kAudioCsid, make_media(MessageType::audio, ts + 5, audio_payload(seed))));
  }
}

} // namespace

// A server that sends each 200 KB video frame in two halves with a pause between them (the
// client goes to sleep in the middle of the frame), then a pause, then a small audio message:
// each message reaches the pad right after its last byte was sent, not with the next bytes.
TEST_F(ClientLowWater, EveryMessageArrivesAsSoonAsItsLastByte) {
  std::vector<Message> frames, audio;
  make_rounds(frames, audio, 0);
  std::vector<std::int64_t> frame_done(kRounds), audio_done(kRounds);
  FakeServerOptions o;
  o.after_play = [&](GSocket *sock, ServerSession &) {
    ChunkWriter w = server_writer();
    for (std::size_t f = 0; f < kRounds; ++f) {
      const Bytes v = chunked(w, frames[f]);
      const std::size_t half = v.size() / 2;
      send_all(sock, ByteView(v).first(half));
      g_usleep(kGapUs);
      send_all(sock, ByteView(v).subspan(half));
      frame_done[f] = g_get_monotonic_time();
      g_usleep(kHoldUs);
      send_all(sock, chunked(w, audio[f]));
      audio_done[f] = g_get_monotonic_time();
      g_usleep(kHoldUs);
    }
  };
  FakeRtmpServer server(o);
  GstHarness *h = play(server);
  expect_rounds(pull_media(h, 2 * kRounds, 20000), 0, frames, frame_done, audio, audio_done);
  gst_harness_teardown(h);
}

// A server that interleaves (RTMP 1.0 5.3.2.2: audio between the chunks of a large video
// frame): once the client has seen it do so, an audio message sent in the middle of a frame
// reaches the pad at once, not when the frame completes.
TEST_F(ClientLowWater, InterleavedMessagesAreNotHeldBehindTheFrame) {
  const Message v0 = on(kVideoCsid, make_media(MessageType::video, 0, video_payload(50000, 99)));
  const Message a0 = on(kAudioCsid, make_media(MessageType::audio, 0, audio_payload(99)));
  std::vector<Message> frames, audio;
  make_rounds(frames, audio, 40);
  std::vector<std::int64_t> audio_sent(kRounds), frame_done(kRounds);
  FakeServerOptions o;
  o.after_play = [&](GSocket *sock, ServerSession &) {
    ChunkWriter w = server_writer();
    // First frame: a0 after its first chunk, all at once (the client learns that this server
    // interleaves; the first interleaved message of a connection may wait for its frame).
    const std::vector<Bytes> c0 = chunks_of(w, v0);
    send_all(sock, c0[0]);
    send_all(sock, chunked(w, a0));
    for (std::size_t i = 1; i < c0.size(); ++i)
      send_all(sock, c0[i]);
    g_usleep(kGapUs);
    // Then each frame: half of its chunks, a pause (the client sleeps in the middle of the
    // frame), an audio message, a pause, the rest, a pause.
    for (std::size_t f = 0; f < kRounds; ++f) {
      const std::vector<Bytes> c = chunks_of(w, frames[f]);
      for (std::size_t i = 0; i < c.size() / 2; ++i)
        send_all(sock, c[i]);
      g_usleep(kGapUs);
      send_all(sock, chunked(w, audio[f]));
      audio_sent[f] = g_get_monotonic_time();
      g_usleep(kHoldUs);
      for (std::size_t i = c.size() / 2; i < c.size(); ++i)
        send_all(sock, c[i]);
      frame_done[f] = g_get_monotonic_time();
      g_usleep(kHoldUs);
    }
  };
  FakeRtmpServer server(o);
  GstHarness *h = play(server);
  const std::vector<Arrival> got = pull_media(h, 2 + 2 * kRounds, 20000);
  ASSERT_EQ(got.size(), 2u + 2 * kRounds);
  EXPECT_EQ(got[0].data, a0.payload);
  EXPECT_EQ(got[1].data, v0.payload);
  expect_rounds(got, 2, audio, audio_sent, frames, frame_done);
  gst_harness_teardown(h);
}

// RTMP 1.0 5.4.3/5.4.4: a server with a Window Acknowledgement Size of 4096 that never has more
// than 4096 bytes unacknowledged (it waits for our Acknowledgement before sending more) and a
// 400 KB frame: the client must acknowledge in the middle of the frame, although the frame
// cannot complete before the server gets the acknowledgement.
TEST_F(ClientLowWater, AServerWaitingForItsAcknowledgementIsAcknowledged) {
  const Message video = on(kVideoCsid, make_media(MessageType::video, 0, video_payload(400000, 4)));
  const Message audio = on(kAudioCsid, make_media(MessageType::audio, 10, audio_payload(5)));
  std::atomic<bool> stalled{false};
  std::atomic<int> waits{0};
  FakeServerOptions o;
  o.config.window_ack_size = 4096;
  o.after_play = [&](GSocket *sock, ServerSession &s) {
    ChunkWriter w = server_writer();
    Bytes wire = chunked(w, video);
    const Bytes a = chunked(w, audio);
    wire.insert(wire.end(), a.begin(), a.end());
    std::uint64_t raw = 0; // hand-made bytes sent; the session counts its own
    std::vector<std::uint8_t> buf(64 * 1024);
    for (std::size_t pos = 0; pos < wire.size();) {
      const std::uint64_t total = s.stats().bytes_out + raw;
      const std::uint64_t unacked = total - s.stats().last_ack_received;
      if (unacked < 4096) {
        const std::size_t n = std::min<std::size_t>(4096 - unacked, wire.size() - pos);
        if (!send_all(sock, ByteView(wire).subspan(pos, n)))
          return;
        pos += n;
        raw += n;
        continue;
      }
      // Window full: nothing more until the client acknowledges (at most 2 s).
      ++waits;
      GError *err = nullptr;
      if (!g_socket_condition_timed_wait(sock, G_IO_IN, 2 * G_USEC_PER_SEC, nullptr, &err)) {
        g_clear_error(&err);
        stalled = true;
        return;
      }
      const gssize n = g_socket_receive(sock, reinterpret_cast<gchar *>(buf.data()), buf.size(),
                                        nullptr, nullptr);
      if (n <= 0)
        return;
      (void)s.receive(ByteView(buf.data(), static_cast<std::size_t>(n)),
                      Millis(g_get_monotonic_time() / 1000));
      if (!send_all(sock, s.take_output()))
        return;
    }
  };
  FakeRtmpServer server(o);
  GstHarness *h = play(server);
  ASSERT_TRUE(server.wait_until([&] { return server.saw("PlayRequest"); }, 5000));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Arrival> got = pull_media(h, 2, 10000);
  // About 1 ms per window when every acknowledgement goes out at once; held until rtmpsrc's own
  // 100 ms poll, the ~100 windows would take seconds (and 2 s without any wakeup: `stalled`).
  EXPECT_LT(elapsed_ms(t0), 1500.0);
  EXPECT_FALSE(stalled) << "the client did not acknowledge a full window";
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data, video.payload);
  EXPECT_EQ(got[1].data, audio.payload);
  EXPECT_GE(waits.load(), 90); // the server really waited for every window of the frame
  gst_harness_teardown(h);
}

// A server that stalls in the middle of a frame: idle-timeout still fires (the timers are not
// behind the low-water mark), and a state change to NULL returns within 1 s.
TEST_F(ClientLowWater, AServerStallingInTheMiddleOfAFrameMeetsTimeoutsAndNull) {
  std::atomic<bool> release{false};
  FakeServerOptions o;
  o.end_after_media = false;
  o.after_play = [&](GSocket *sock, ServerSession &) {
    ChunkWriter w = server_writer();
    const Bytes v =
        chunked(w, on(kVideoCsid, make_media(MessageType::video, 0, video_payload(200000, 6))));
    send_all(sock, ByteView(v).first(v.size() / 2));
    for (int i = 0; i < 500 && !release; ++i)
      g_usleep(10000);
  };
  {
    FakeRtmpServer server(o);
    GstHarness *h = client_harness("rtmpsrc");
    ErrorWatch watch(h->element);
    g_object_set(h->element, "location", server.url().c_str(), "idle-timeout", 1u, nullptr);
    gst_harness_play(h);
    ASSERT_TRUE(server.wait_until([&] { return server.saw("PlayRequest"); }, 5000));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string text = watch.wait(4000);
    EXPECT_NE(text.find("no data for 1 s"), std::string::npos) << text;
    EXPECT_LT(elapsed_ms(t0), 2000.0);
    gst_harness_teardown(h);
    release = true;
  }
  release = false;
  {
    FakeRtmpServer server(o);
    const std::string desc = "rtmpsrc location=" + server.url() + " ! fakesink";
    GstElement *p = gst_parse_launch(desc.c_str(), nullptr);
    ASSERT_NE(p, nullptr);
    gst_element_set_state(p, GST_STATE_PLAYING);
    ASSERT_TRUE(server.wait_until([&] { return server.saw("PlayRequest"); }, 5000));
    g_usleep(300000); // the half frame is in, the rest never comes
    const auto t0 = std::chrono::steady_clock::now();
    gst_element_set_state(p, GST_STATE_NULL);
    EXPECT_LT(elapsed_ms(t0), 1000.0);
    gst_object_unref(p);
    release = true;
  }
}
