// ClientSession <-> ServerSession through a byte pipe with random fragmentation and random chunk
// sizes: every media message must arrive intact, in order, with its timestamp (RTMP 1.0
// sections 5.3 chunking, 7.2.1 connect / createStream, 7.2.2 publish / play).
#include <gtest/gtest.h>

#include "core/enhanced.hpp"
#include "session_test_util.hpp"

namespace rtmp::test {
namespace {

struct SentMedia {
  MessageType type;
  std::uint32_t timestamp;
  Bytes payload;
};

std::vector<SentMedia> make_media(std::mt19937 &rng, int count) {
  std::vector<SentMedia> out;
  std::uint32_t ts = 0;
  for (int i = 0; i < count; ++i) {
    SentMedia m;
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    m.type = kind < 4 ? MessageType::audio : kind < 9 ? MessageType::video : MessageType::data_amf0;
    // Timestamps increase, with a jump past the 24-bit field so that the extended timestamp
    // (section 5.3.1.3) is exercised, and sometimes repeat (same delta / same timestamp).
    if (i == count / 2)
      ts += 0x01000000;
    else
      ts += std::uniform_int_distribution<std::uint32_t>(0, 40)(rng);
    m.timestamp = ts;
    // Mostly small frames, sometimes large ones spanning many chunks, sometimes empty.
    const int size_class = std::uniform_int_distribution<int>(0, 9)(rng);
    const std::size_t size = size_class == 0 ? 0
                             : size_class < 7
                                 ? std::uniform_int_distribution<std::size_t>(1, 300)(rng)
                                 : std::uniform_int_distribution<std::size_t>(301, 40000)(rng);
    m.payload.resize(size);
    for (auto &b : m.payload)
      b = static_cast<std::uint8_t>(rng());
    out.push_back(std::move(m));
  }
  return out;
}

void expect_media_equal(const std::vector<SentMedia> &sent, const std::vector<Media> &got,
                        std::uint32_t stream_id) {
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    EXPECT_EQ(got[i].msg.kind(), sent[i].type);
    EXPECT_EQ(got[i].msg.timestamp, sent[i].timestamp);
    EXPECT_EQ(got[i].msg.stream_id, stream_id);
    EXPECT_EQ(got[i].msg.payload, sent[i].payload);
  }
}

constexpr std::uint32_t kChunkSizes[] = {1, 7, 128, 1000, 4096, 65536};

class TranscriptTest : public ::testing::TestWithParam<int> {};

TEST_P(TranscriptTest, PublishDeliversEveryMessageIntact) {
  const int seed = GetParam();
  std::mt19937 rng(seed);
  ClientConfig cc = client_config();
  ServerConfig sc = server_config();
  cc.chunk_size = kChunkSizes[rng() % std::size(kChunkSizes)];
  sc.chunk_size = kChunkSizes[rng() % std::size(kChunkSizes)];
  // Small windows so that acknowledgements flow during the test (section 5.4.3).
  cc.window_ack_size = 5000;
  sc.window_ack_size = 7000;
  Pipe p(cc, sc, seed, 1 + rng() % 3000);

  const std::uint32_t id = p.connect_and_create_stream();
  ASSERT_NE(id, 0u);
  ASSERT_FALSE(p.client.publish(id, "stream", "live", p.now));
  p.pump();
  auto req = events_of<PublishRequest>(p.server_events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].name, "stream");
  EXPECT_EQ(req[0].type, "live");
  EXPECT_TRUE(has_event<ReleaseStream>(p.server_events));
  EXPECT_TRUE(has_event<FCPublish>(p.server_events));
  ASSERT_TRUE(has_event<PublishStarted>(p.client_events)) << describe(p.client_events);

  auto media = make_media(rng, 300);
  for (const auto &m : media) {
    ASSERT_FALSE(p.client.send_media(id, m.type, m.timestamp, m.payload));
    if (rng() % 4 == 0)
      p.pump();
  }
  p.pump();
  expect_media_equal(media, events_of<Media>(p.server_events), id);

  // Unpublish as FFmpeg does: FCUnpublish then deleteStream.
  ASSERT_FALSE(p.client.unpublish(id, "stream"));
  ASSERT_FALSE(p.client.delete_stream(id));
  p.pump();
  EXPECT_TRUE(has_event<FCUnpublish>(p.server_events));
  auto unpub = events_of<Unpublished>(p.server_events);
  ASSERT_EQ(unpub.size(), 1u);
  EXPECT_EQ(unpub[0].stream_id, id);
  EXPECT_TRUE(has_event<DeleteStream>(p.server_events));

  EXPECT_FALSE(has_event<Error>(p.client_events)) << describe(p.client_events);
  EXPECT_FALSE(has_event<Error>(p.server_events)) << describe(p.server_events);
  // Both windows are far below the bytes exchanged: acknowledgements went both ways.
  EXPECT_GT(p.server.stats().acks_sent, 0u);
  EXPECT_GT(p.client.stats().acks_received, 0u);
  EXPECT_EQ(p.server.stats().chunk_size_in, cc.chunk_size);
  EXPECT_EQ(p.client.stats().chunk_size_in, sc.chunk_size);
  EXPECT_EQ(p.server.stats().media_messages_in, media.size());
}

TEST_P(TranscriptTest, PlayDeliversEveryMessageIntact) {
  const int seed = GetParam();
  std::mt19937 rng(seed + 1000);
  ClientConfig cc = client_config();
  cc.publishing = false;
  ServerConfig sc = server_config();
  cc.chunk_size = kChunkSizes[rng() % std::size(kChunkSizes)];
  sc.chunk_size = kChunkSizes[rng() % std::size(kChunkSizes)];
  sc.window_ack_size = 4096;
  Pipe p(cc, sc, seed, 1 + rng() % 3000);

  const std::uint32_t id = p.connect_and_create_stream();
  ASSERT_NE(id, 0u);
  ASSERT_FALSE(p.client.play(id, "stream", -2, -1, true, p.now));
  p.pump();
  auto req = events_of<PlayRequest>(p.server_events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].name, "stream");
  EXPECT_EQ(req[0].start, -2);
  EXPECT_TRUE(req[0].reset);
  ASSERT_TRUE(has_event<PlayStarted>(p.client_events)) << describe(p.client_events);
  EXPECT_TRUE(has_event<StreamBegin>(p.client_events));
  // |RtmpSampleAccess arrives as a data message before any media we send.
  const std::size_t before = events_of<Media>(p.client_events).size();
  EXPECT_EQ(before, 1u);

  auto media = make_media(rng, 300);
  for (const auto &m : media) {
    ASSERT_FALSE(p.server.send_media(id, m.type, m.timestamp, m.payload));
    if (rng() % 4 == 0)
      p.pump();
  }
  ASSERT_FALSE(p.server.end_stream(id));
  p.pump();
  auto got = events_of<Media>(p.client_events);
  got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(before));
  expect_media_equal(media, got, id);
  EXPECT_TRUE(has_event<StreamEof>(p.client_events));
  auto stopped = events_of<PlayStopped>(p.client_events);
  ASSERT_FALSE(stopped.empty());
  EXPECT_EQ(stopped.back().status_code, "NetStream.Play.Stop");
  EXPECT_FALSE(has_event<Error>(p.client_events)) << describe(p.client_events);
  EXPECT_GT(p.client.stats().acks_sent, 0u);
  EXPECT_GT(p.server.stats().acks_received, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TranscriptTest, ::testing::Range(1, 13));

TEST(Transcript, ByteAtATime) {
  ClientConfig cc = client_config();
  Pipe p(cc, server_config(), 7, 1);
  const std::uint32_t id = p.connect_and_create_stream();
  ASSERT_NE(id, 0u);
  ASSERT_FALSE(p.client.publish(id, "s", "live", p.now));
  p.pump();
  ASSERT_TRUE(has_event<PublishStarted>(p.client_events));
  Bytes payload(10000);
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_FALSE(p.client.send_media(id, MessageType::video, 0x12345678, payload));
  p.pump();
  auto got = events_of<Media>(p.server_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].msg.timestamp, 0x12345678u);
  EXPECT_EQ(got[0].msg.payload, payload);
}

TEST(Transcript, PingRoundTrip) {
  Pipe p(client_config(), server_config());
  ASSERT_NE(p.connect_and_create_stream(), 0u);
  ASSERT_FALSE(p.client.ping(p.now));
  p.now += Millis(25);
  // The server answers a ping request by itself (section 7.1.7).
  p.react();
  Bytes c2s = p.client.take_output();
  p.feed(p.server, c2s);
  Bytes s2c = p.server.take_output();
  ASSERT_FALSE(s2c.empty());
  p.feed(p.client, s2c);
  p.react();
  auto rtt = events_of<PingRtt>(p.client_events);
  ASSERT_EQ(rtt.size(), 1u);
  EXPECT_EQ(rtt[0].rtt, Millis(25));
  ASSERT_TRUE(p.client.stats().rtt.has_value());
}

TEST(Transcript, CallResultMatchesTransaction) {
  Pipe p(client_config(), server_config());
  ASSERT_NE(p.connect_and_create_stream(), 0u);
  const std::uint32_t txn = p.client.call("getServerTime", {amf::Value(1.5)}, p.now);
  ASSERT_NE(txn, 0u);
  p.pump();
  auto calls = events_of<IncomingCall>(p.server_events);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].command.name, "getServerTime");
  EXPECT_EQ(calls[0].command.transaction_id, txn);
  ASSERT_FALSE(p.server.send_call(make_result(txn, amf::Null{}, amf::Value(42.0))));
  p.pump();
  auto results = events_of<CommandResult>(p.client_events);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].txn, txn);
  EXPECT_TRUE(results[0].ok);
  ASSERT_EQ(results[0].values.size(), 2u);
  EXPECT_EQ(results[0].values[1], amf::Value(42.0));
  // No deadline is left behind once answered.
  EXPECT_FALSE(p.client.next_deadline().has_value());
}

TEST(Transcript, EnhancedCapabilitiesNegotiated) {
  // Enhanced RTMP v2: the client lists its codecs in connect, the server answers with what it
  // accepts in the _result properties.
  ClientConfig cc = client_config();
  cc.capabilities.fourcc_list = {"hvc1", "av01"};
  cc.capabilities.caps_ex = kCapsExMultitrack;
  ServerConfig sc = server_config();
  sc.accepted_capabilities.fourcc_list = {"hvc1"};
  Pipe p(cc, sc);
  p.start();
  p.pump();
  auto req = events_of<ConnectRequest>(p.server_events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].capabilities.fourcc_list, cc.capabilities.fourcc_list);
  EXPECT_EQ(req[0].capabilities.caps_ex, kCapsExMultitrack);
  auto connected = events_of<Connected>(p.client_events);
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0].capabilities.fourcc_list, std::vector<std::string>{"hvc1"});
}

TEST(Transcript, LegacyClientGetsNoEnhancedProperties) {
  ServerConfig sc = server_config();
  sc.accepted_capabilities.fourcc_list = {"hvc1"};
  Pipe p(client_config(), sc);
  p.start();
  p.pump();
  auto connected = events_of<Connected>(p.client_events);
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_TRUE(connected[0].capabilities.empty());
  EXPECT_EQ(connected[0].properties.find("fourCcList"), nullptr);
}

TEST(Transcript, EveryEventHasAName) {
  for (std::size_t i = 0; i < std::variant_size_v<Event>; ++i) {
    Event e = Note{};
    // Build an event of alternative i through the variant's index.
    static const std::vector<Event> samples = {HandshakeDone{},
                                               Status{},
                                               Media{},
                                               StreamBegin{},
                                               StreamEof{},
                                               StreamDry{},
                                               StreamIsRecorded{},
                                               PingRtt{},
                                               PeerChunkSize{},
                                               SharedObject{},
                                               Error{},
                                               Closed{},
                                               Note{},
                                               Connected{},
                                               StreamCreated{},
                                               PublishStarted{},
                                               PlayStarted{},
                                               PlayStopped{},
                                               Unpublished{},
                                               CommandResult{},
                                               IncomingCall{},
                                               AuthRetry{},
                                               ConnectRequest{},
                                               PublishRequest{},
                                               PlayRequest{},
                                               Play2Request{},
                                               ReleaseStream{},
                                               FCPublish{},
                                               FCUnpublish{},
                                               DeleteStream{},
                                               CloseStream{},
                                               Seek{},
                                               Pause{},
                                               ReceiveAudio{},
                                               ReceiveVideo{},
                                               SetBufferLength{}};
    ASSERT_EQ(samples.size(), std::variant_size_v<Event>);
    e = samples[i];
    ASSERT_EQ(e.index(), i);
    EXPECT_NE(std::string(event_name(e)), "");
  }
  EXPECT_EQ(std::string(event_name(Event{PublishRequest{}})), "PublishRequest");
  EXPECT_EQ(std::string(event_name(Event{SetBufferLength{}})), "SetBufferLength");
}

} // namespace
} // namespace rtmp::test
