// Replays real captures (tests/data/transcripts/, see its README): ffmpeg publishing to
// nginx-rtmp and ffmpeg playing from it. The client-to-server bytes of the publish go through a
// ServerSession, the server-to-client bytes of the play through a ClientSession; every message
// the README counts must come out.
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "session_test_util.hpp"

namespace rtmp::test {
namespace {

Bytes read_file(const std::string &name) {
  std::ifstream f(std::string(TEST_DATA_DIR) + "/transcripts/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::size_t count_media(const std::vector<Event> &events, MessageType t) {
  std::size_t n = 0;
  for (const auto &m : events_of<Media>(events))
    n += m.msg.kind() == t;
  return n;
}

// Feeds `data` in pieces of `step` bytes, accepting every request as a server would.
std::vector<Event> replay_publish(std::size_t step) {
  const Bytes data = read_file("ffmpeg_publish.c2s.bin");
  EXPECT_EQ(data.size(), 53738u);
  ServerConfig cfg = server_config();
  // ffmpeg's C2 echoes nginx's S1, not ours.
  cfg.handshake.strict_echo = false;
  ServerSession s(cfg);
  Millis now{0};
  s.start(now);
  std::vector<Event> events;
  std::size_t seen = 0;
  for (std::size_t pos = 0; pos < data.size(); pos += step) {
    const std::size_t n = std::min(step, data.size() - pos);
    EXPECT_FALSE(s.receive(ByteView(data).subspan(pos, n), now)) << "at offset " << pos;
    // Answering a request releases what was held behind it: drain until quiet.
    for (drain(s, events); seen < events.size(); drain(s, events)) {
      for (; seen < events.size(); ++seen) {
        if (std::holds_alternative<ConnectRequest>(events[seen])) {
          EXPECT_FALSE(s.accept_connect(now));
        } else if (auto *p = std::get_if<PublishRequest>(&events[seen])) {
          EXPECT_FALSE(s.accept_publish(p->stream_id));
        }
      }
    }
    (void)s.take_output();
  }
  return events;
}

void check_publish(const std::vector<Event> &events) {
  SCOPED_TRACE(describe(events).substr(0, 2000));
  auto connect = events_of<ConnectRequest>(events);
  ASSERT_EQ(connect.size(), 1u);
  EXPECT_EQ(connect[0].app, "live");
  EXPECT_EQ(connect[0].tc_url.substr(0, 7), "rtmp://");
  auto release = events_of<ReleaseStream>(events);
  ASSERT_EQ(release.size(), 1u);
  EXPECT_EQ(release[0].name, "test");
  ASSERT_EQ(events_of<FCPublish>(events).size(), 1u);
  auto publish = events_of<PublishRequest>(events);
  ASSERT_EQ(publish.size(), 1u);
  EXPECT_EQ(publish[0].name, "test");
  EXPECT_EQ(publish[0].type, "live");
  EXPECT_EQ(publish[0].stream_id, 1u);
  // README: 132 audio, 77 video, 1 data (@setDataFrame onMetaData).
  EXPECT_EQ(count_media(events, MessageType::audio), 132u);
  EXPECT_EQ(count_media(events, MessageType::video), 77u);
  EXPECT_EQ(count_media(events, MessageType::data_amf0), 1u);
  auto media = events_of<Media>(events);
  ASSERT_FALSE(media.empty());
  auto meta = decode_data(media.front().msg);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->handler, "@setDataFrame");
  // Video timestamps 0 ... 2960 ms, increasing (README).
  std::uint32_t first_video = 0xFFFFFFFF, last_video = 0;
  for (const auto &m : media) {
    if (m.msg.kind() != MessageType::video)
      continue;
    first_video = std::min(first_video, m.msg.timestamp);
    last_video = std::max(last_video, m.msg.timestamp);
  }
  EXPECT_EQ(first_video, 0u);
  EXPECT_EQ(last_video, 2960u);
  EXPECT_EQ(events_of<FCUnpublish>(events).size(), 1u);
  EXPECT_EQ(events_of<Unpublished>(events).size(), 1u);
  EXPECT_EQ(events_of<DeleteStream>(events).size(), 1u);
  EXPECT_FALSE(has_event<Error>(events));
}

TEST(Replay, FfmpegPublishThroughServerSessionWhole) {
  check_publish(replay_publish(1 << 20));
}
TEST(Replay, FfmpegPublishThroughServerSessionByteAtATime) {
  check_publish(replay_publish(1));
}
TEST(Replay, FfmpegPublishThroughServerSessionOddPieces) {
  check_publish(replay_publish(1000));
}

// The play: our ClientSession stands where ffmpeg stood. Requests are made as soon as the
// session allows them, as an element would.
std::vector<Event> replay_play(std::size_t step, ClientSession **out_session = nullptr) {
  const Bytes data = read_file("ffmpeg_play.s2c.bin");
  EXPECT_EQ(data.size(), 54008u);
  ClientConfig cfg = client_config();
  cfg.publishing = false;
  cfg.handshake.strict_echo = false; // nginx's S2 echoes ffmpeg's C1, not ours
  static std::unique_ptr<ClientSession> keep;
  keep = std::make_unique<ClientSession>(cfg);
  ClientSession &c = *keep;
  if (out_session)
    *out_session = &c;
  Millis now{0};
  c.start(now);
  std::vector<Event> events;
  for (std::size_t pos = 0; pos < data.size(); pos += step) {
    const std::size_t n = std::min(step, data.size() - pos);
    EXPECT_FALSE(c.receive(ByteView(data).subspan(pos, n), now)) << "at offset " << pos;
    std::size_t first_new = events.size();
    drain(c, events);
    for (std::size_t i = first_new; i < events.size(); ++i) {
      if (std::holds_alternative<Connected>(events[i])) {
        EXPECT_FALSE(c.create_stream(now));
      } else if (auto *sc = std::get_if<StreamCreated>(&events[i])) {
        EXPECT_FALSE(c.play(sc->stream_id, "test", -2, -1, true, now));
      }
    }
    (void)c.take_output();
  }
  return events;
}

TEST(Replay, NginxPlayThroughClientSessionByteAtATime) {
  auto events = replay_play(1);
  SCOPED_TRACE(describe(events).substr(0, 2000));
  ASSERT_EQ(events_of<Connected>(events).size(), 1u);
  auto created = events_of<StreamCreated>(events);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].stream_id, 1u);
  auto started = events_of<PlayStarted>(events);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].stream_id, 1u);
  EXPECT_EQ(count_media(events, MessageType::audio), 132u);
  EXPECT_EQ(count_media(events, MessageType::video), 77u);
  // |RtmpSampleAccess and onMetaData.
  EXPECT_EQ(count_media(events, MessageType::data_amf0), 2u);
  EXPECT_EQ(events_of<StreamBegin>(events).size(), 1u);
  EXPECT_EQ(events_of<StreamEof>(events).size(), 1u);
  auto stopped = events_of<PlayStopped>(events);
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].status_code, "NetStream.Play.Stop");
  EXPECT_EQ(events_of<PeerChunkSize>(events).size(), 1u);
  EXPECT_FALSE(has_event<Error>(events));
}

TEST(Replay, NginxPlayThroughClientSessionWhole) {
  // All at once: the createStream _result arrives before we could ask, so it is unmatched (and
  // ignored with a note), but everything on the stream still comes out.
  ClientSession *c = nullptr;
  auto events = replay_play(1 << 20, &c);
  EXPECT_EQ(events_of<Connected>(events).size(), 1u);
  EXPECT_EQ(events_of<PlayStarted>(events).size(), 1u);
  EXPECT_EQ(count_media(events, MessageType::audio), 132u);
  EXPECT_EQ(count_media(events, MessageType::video), 77u);
  EXPECT_TRUE(has_event<Note>(events));
  EXPECT_FALSE(has_event<Error>(events));
  // nginx asked for acknowledgements every 5000000 bytes: none due in 54 kB.
  EXPECT_EQ(c->stats().ack_window_in, 5000000u);
  EXPECT_EQ(c->stats().acks_sent, 0u);
}

// A capture cut at every offset: never an error, and the events are a prefix of those of the
// whole (the session waits for more instead of guessing).
TEST(Replay, NginxPlayTruncatedAtEveryOffset) {
  const Bytes data = read_file("ffmpeg_play.s2c.bin");
  const std::size_t limit = std::min<std::size_t>(data.size(), 9000);
  auto run = [&](std::size_t len) {
    ClientConfig cfg = client_config();
    cfg.publishing = false;
    cfg.handshake.strict_echo = false;
    ClientSession c(cfg);
    c.start(Millis(0));
    EXPECT_FALSE(c.receive(ByteView(data).first(len), Millis(0))) << len;
    std::vector<Event> events;
    drain(c, events);
    return events;
  };
  const auto all = run(limit);
  ASSERT_TRUE(has_event<PlayStarted>(all));
  for (std::size_t len = 0; len < limit; ++len) {
    auto events = run(len);
    ASSERT_LE(events.size(), all.size()) << len;
    for (std::size_t i = 0; i < events.size(); ++i)
      ASSERT_EQ(events[i].index(), all[i].index()) << "prefix " << len << " event " << i;
  }
}

// The server-to-client bytes of the publish through a ClientSession: connect, createStream and
// publish answered as nginx-rtmp answers them.
TEST(Replay, NginxPublishAnswersThroughClientSession) {
  const Bytes data = read_file("ffmpeg_publish.s2c.bin");
  ClientConfig cfg = client_config();
  cfg.handshake.strict_echo = false;
  ClientSession c(cfg);
  Millis now{0};
  c.start(now);
  std::vector<Event> events;
  for (std::size_t pos = 0; pos < data.size(); ++pos) {
    ASSERT_FALSE(c.receive(ByteView(data).subspan(pos, 1), now)) << pos;
    std::size_t first_new = events.size();
    drain(c, events);
    for (std::size_t i = first_new; i < events.size(); ++i) {
      if (std::holds_alternative<Connected>(events[i])) {
        // ffmpeg sent releaseStream (2) and FCPublish (3) before createStream (4); nginx
        // answers only createStream, so use the same transaction numbering.
        ASSERT_EQ(c.call("releaseStream", {amf::Value("test")}), 2u);
        ASSERT_EQ(c.call("FCPublish", {amf::Value("test")}), 3u);
        ASSERT_FALSE(c.create_stream(now));
      } else if (auto *sc = std::get_if<StreamCreated>(&events[i])) {
        ASSERT_FALSE(c.publish(sc->stream_id, "test", "live", now));
      }
    }
  }
  SCOPED_TRACE(describe(events));
  EXPECT_EQ(events_of<Connected>(events).size(), 1u);
  EXPECT_EQ(events_of<StreamCreated>(events).size(), 1u);
  EXPECT_EQ(events_of<PublishStarted>(events).size(), 1u);
  EXPECT_EQ(events_of<Unpublished>(events).size(), 1u);
  EXPECT_FALSE(has_event<Error>(events));
  EXPECT_EQ(c.stats().chunk_size_in, 4096u);
  // nginx's Set Peer Bandwidth (dynamic, first limit) is ignored; our own Window
  // Acknowledgement Size went out after connect.
  EXPECT_NE(c.stats().ack_window_out, 0u);
}

} // namespace
} // namespace rtmp::test
