// ServerSession state machine: every request and its answer, rejects, authentication, timeouts
// with fake time and hostile input. The client side is a scripted RawPeer.
#include <gtest/gtest.h>

#include "core/aggregate.hpp"
#include "session_test_util.hpp"

namespace rtmp::test {
namespace {

struct ServerFixture {
  ServerSession s;
  RawPeer c = RawPeer::client();
  Millis now{0};
  std::vector<Event> events;
  std::vector<Message> replies; // what the server sent, dechunked
  Bytes raw_replies;            // the same, as bytes after the handshake

  explicit ServerFixture(ServerConfig cfg = server_config()) : s(std::move(cfg)) { s.start(now); }

  void flush() {
    for (int i = 0; i < 1000; ++i) {
      Bytes in = c.take();
      if (!in.empty())
        s.receive(in, now);
      drain(s, events);
      Bytes out = s.take_output();
      if (in.empty() && out.empty())
        return;
      if (c.handshake_done())
        raw_replies.insert(raw_replies.end(), out.begin(), out.end());
      auto msgs = c.receive(out);
      replies.insert(replies.end(), msgs.begin(), msgs.end());
    }
  }
  void send_connect(const std::string &app = "live") {
    c.send(make_connect(ConnectParams::for_publish(app, "rtmp://127.0.0.1/" + app)));
    flush();
  }
  void connect() {
    flush();
    ASSERT_TRUE(c.handshake_done());
    send_connect();
    ASSERT_EQ(events_of<ConnectRequest>(events).size(), 1u) << describe(events);
    ASSERT_FALSE(s.accept_connect(now));
    flush();
    replies.clear();
    raw_replies.clear();
  }
  std::uint32_t create_stream(double txn = 2) {
    c.send(make_create_stream(txn));
    flush();
    auto cmds = commands_in(replies);
    replies.clear();
    if (cmds.empty())
      return 0;
    return created_stream_id(cmds.back()).value_or(0);
  }
  // A new stream on which the client asked to publish `name` (the decision is the test's).
  std::uint32_t request_publish(const std::string &name) {
    const std::uint32_t id = create_stream();
    c.send(make_publish(0, name, PublishType::live), id);
    flush();
    return id;
  }
  // The same, accepted.
  std::uint32_t publish(const std::string &name) {
    const std::uint32_t id = request_publish(name);
    EXPECT_FALSE(s.accept_publish(id));
    return id;
  }
  std::vector<Command> reply_commands() { return commands_in(replies); }
};

TEST(ServerSession, HandshakeThenConnectRequest) {
  ServerFixture f;
  f.flush();
  ASSERT_TRUE(f.c.handshake_done());
  ASSERT_TRUE(has_event<HandshakeDone>(f.events));
  EXPECT_EQ(events_of<HandshakeDone>(f.events)[0].peer_version, 3);
  f.send_connect("live");
  auto req = events_of<ConnectRequest>(f.events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].app, "live");
  EXPECT_EQ(req[0].tc_url, "rtmp://127.0.0.1/live");
  EXPECT_EQ(req[0].txn, 1u);
  // Nothing is answered before the application decides.
  EXPECT_TRUE(f.replies.empty());
  EXPECT_FALSE(f.s.connected());
}

TEST(ServerSession, AcceptConnectSendsWhatFmsSends) {
  ServerFixture f;
  f.flush();
  f.send_connect();
  f.raw_replies.clear();
  ASSERT_FALSE(f.s.accept_connect(f.now));
  f.flush();
  // RTMP 1.0 5.4.4 Window Acknowledgement Size 2500000 (0x002625A0), then 5.4.5 Set Peer
  // Bandwidth 2500000 limit type 2 (dynamic), then 5.4.1 Set Chunk Size 4096 (0x1000), all on
  // csid 2, message stream 0, timestamp 0: a type-0 chunk header (5.3.1.2.1) first, then type-1
  // headers (5.3.1.2.2, same message stream: timestamp delta, length, type).
  const Bytes expected = hex("02 000000 000004 05 00000000  002625a0"
                             "42 000000 000005 06           002625a0 02"
                             "42 000000 000004 01           00001000");
  ASSERT_GE(f.raw_replies.size(), expected.size());
  EXPECT_EQ(Bytes(f.raw_replies.begin(), f.raw_replies.begin() + expected.size()), expected);
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].name, "_result");
  EXPECT_EQ(cmds[0].transaction_id, 1);
  EXPECT_EQ(cmds[0].command_object.string_at("fmsVer"), "FMS/3,5,7,7009");
  ASSERT_NE(cmds[0].argument(0), nullptr);
  EXPECT_EQ(cmds[0].argument(0)->string_at("code"), "NetConnection.Connect.Success");
  EXPECT_EQ(cmds[1].name, "onBWDone");
  EXPECT_TRUE(f.s.connected());
  EXPECT_EQ(f.s.stats().chunk_size_out, 4096u);
}

TEST(ServerSession, RejectConnectSendsErrorAndCloses) {
  ServerFixture f;
  f.flush();
  f.send_connect();
  ASSERT_FALSE(f.s.reject_connect("NetConnection.Connect.Rejected", "go away"));
  f.flush();
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_error");
  EXPECT_EQ(cmds[0].argument(0)->string_at("code"), "NetConnection.Connect.Rejected");
  EXPECT_EQ(cmds[0].argument(0)->string_at("description"), "go away");
  EXPECT_TRUE(has_event<Closed>(f.events));
  EXPECT_TRUE(f.s.closed());
  EXPECT_EQ(f.s.receive(hex("00"), f.now), make_error_code(Errc::invalid_state));
  // Answering twice is our mistake, not the peer's.
  EXPECT_EQ(f.s.accept_connect(f.now), make_error_code(Errc::invalid_state));
}

// A server hosting several applications must know which one a failed login was for (issue 5:
// only the rtmpserversrc of that application reports the rejection).
TEST(ServerSession, RejectedAuthenticationStillNamesTheApplication) {
  ServerConfig cfg = server_config();
  cfg.auth.method = auth::Method::adobe;
  cfg.auth.lookup = [](std::string_view) -> std::optional<std::string> {
    return std::string("right");
  };
  cfg.auth.random = [](std::span<std::uint8_t> out) {
    for (auto &b : out)
      b = 0x11;
  };
  {
    // Step 1 (no authmod): a challenge, no ConnectRequest, but app() is known.
    ServerFixture f(cfg);
    f.flush();
    f.send_connect("live");
    EXPECT_FALSE(has_event<ConnectRequest>(f.events));
    EXPECT_EQ(f.s.app(), "live");
  }
  {
    // A wrong answer: Errc::auth_failed, and app() without the authentication query.
    ServerFixture f(cfg);
    f.flush();
    f.send_connect("other?authmod=adobe&user=u&challenge=AAAA&response=wrong&opaque=x");
    auto errors = events_of<Error>(f.events);
    ASSERT_FALSE(errors.empty()) << describe(f.events);
    EXPECT_EQ(errors[0].code, make_error_code(Errc::auth_failed));
    EXPECT_EQ(f.s.app(), "other");
  }
}

TEST(ServerSession, CommandBeforeConnectIsProtocolViolation) {
  ServerFixture f;
  f.flush();
  f.c.send(make_create_stream(2));
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::protocol_violation));
  EXPECT_TRUE(errors[0].fatal);
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
  EXPECT_TRUE(f.s.closed());
}

TEST(ServerSession, AnswersBeforeAcceptAreHeldInOrder) {
  // A client that pipelines createStream behind connect gets its answer after the _result.
  ServerFixture f;
  f.flush();
  f.c.send(make_connect(ConnectParams::for_publish("live", "rtmp://h/live")));
  f.c.send(make_create_stream(2));
  f.flush();
  EXPECT_TRUE(f.replies.empty());
  ASSERT_FALSE(f.s.accept_connect(f.now));
  f.flush();
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].name, "_result");
  EXPECT_EQ(cmds[1].name, "onBWDone");
  EXPECT_EQ(cmds[2].name, "_result");
  EXPECT_EQ(created_stream_id(cmds[2]), 1u);
}

TEST(ServerSession, CreateStreamIsBounded) {
  ServerConfig cfg = server_config();
  cfg.max_streams = 16;
  ServerFixture f(cfg);
  f.connect();
  for (int i = 0; i < 10000; ++i)
    f.c.send(make_create_stream(2 + i));
  f.flush();
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 10000u);
  std::size_t ok = 0;
  for (const auto &c : cmds)
    ok += c.name == "_result";
  EXPECT_EQ(ok, 16u);
  EXPECT_EQ(cmds[16].name, "_error");
  EXPECT_FALSE(f.s.closed());
  EXPECT_FALSE(has_event<Error>(f.events));
}

TEST(ServerSession, PublishFlow) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_EQ(id, 1u);
  f.c.send(make_release_stream(3, "cam"));
  f.c.send(make_fc_publish(4, "cam"));
  f.c.send(make_publish(5, "cam?key=secret", PublishType::live), id);
  f.flush();
  EXPECT_EQ(events_of<ReleaseStream>(f.events).at(0).name, "cam");
  EXPECT_EQ(events_of<FCPublish>(f.events).at(0).name, "cam");
  auto req = events_of<PublishRequest>(f.events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].stream_id, id);
  EXPECT_EQ(req[0].name, "cam");
  EXPECT_EQ(req[0].query, "key=secret");
  EXPECT_EQ(req[0].type, "live");
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "onFCPublish");
  f.replies.clear();

  // Media sent before the answer is held, not lost.
  Message video;
  video.type = 9;
  video.stream_id = id;
  video.timestamp = 40;
  video.payload = hex("17 00 00 00 00 01 64 00 1f");
  f.c.send(video);
  f.flush();
  EXPECT_FALSE(has_event<Media>(f.events));
  ASSERT_FALSE(f.s.accept_publish(id));
  f.flush();
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].msg.payload, video.payload);
  EXPECT_EQ(media[0].msg.timestamp, 40u);
  // Stream Begin (7.1.7, event 0, stream 1), then onStatus NetStream.Publish.Start.
  ASSERT_GE(f.replies.size(), 2u);
  EXPECT_EQ(f.replies[0].payload, hex("0000 00000001"));
  auto status = f.reply_commands();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].name, "onStatus");
  EXPECT_EQ(status[0].argument(0)->string_at("code"), "NetStream.Publish.Start");

  // FCUnpublish + deleteStream as FFmpeg ends.
  f.replies.clear();
  f.c.send(make_fc_unpublish(6, "cam"));
  f.c.send(make_delete_stream(7, id));
  f.flush();
  EXPECT_EQ(f.reply_commands().at(0).name, "onFCUnpublish");
  EXPECT_EQ(events_of<FCUnpublish>(f.events).size(), 1u);
  EXPECT_EQ(events_of<Unpublished>(f.events).size(), 1u);
  EXPECT_EQ(events_of<DeleteStream>(f.events).at(0).stream_id, id);
  // The stream is gone: media on it is dropped and counted.
  f.c.send(video);
  f.flush();
  EXPECT_EQ(events_of<Media>(f.events).size(), 1u);
  EXPECT_EQ(f.s.stats().media_dropped, 1u);
}

TEST(ServerSession, RejectPublishBadName) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.request_publish("taken");
  ASSERT_FALSE(f.s.reject_publish(id, "NetStream.Publish.BadName", "taken is already used"));
  f.flush();
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].argument(0)->string_at("level"), "error");
  EXPECT_EQ(cmds[0].argument(0)->string_at("code"), "NetStream.Publish.BadName");
  EXPECT_EQ(f.s.accept_publish(id), make_error_code(Errc::invalid_state));
  EXPECT_FALSE(f.s.closed());
}

TEST(ServerSession, PlayFlowAndEndStream) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  PlayParams p;
  p.stream_name = "cam";
  p.start = -1;
  p.duration = -1;
  p.reset = false;
  f.c.send(make_play(0, p), id);
  f.flush();
  auto req = events_of<PlayRequest>(f.events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].name, "cam");
  EXPECT_EQ(req[0].start, -1);
  EXPECT_FALSE(req[0].reset);
  const Bytes frame = hex("af 01 21 10 04 60 8c 1c");
  EXPECT_EQ(f.s.send_media(id, MessageType::audio, 0, frame), make_error_code(Errc::invalid_state));
  ASSERT_FALSE(f.s.accept_play(id));
  ASSERT_FALSE(f.s.send_media(id, MessageType::audio, 23, frame));
  ASSERT_FALSE(f.s.end_stream(id));
  f.flush();
  auto cmds = f.reply_commands();
  // No Play.Reset (reset false): Play.Start, UnpublishNotify, Play.Stop.
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].argument(0)->string_at("code"), "NetStream.Play.Start");
  EXPECT_EQ(cmds[1].argument(0)->string_at("code"), "NetStream.Play.UnpublishNotify");
  EXPECT_EQ(cmds[2].argument(0)->string_at("code"), "NetStream.Play.Stop");
  bool saw_audio = false, saw_eof = false;
  for (const auto &m : f.replies) {
    if (m.kind() == MessageType::audio) {
      saw_audio = true;
      EXPECT_EQ(m.payload, frame);
      EXPECT_EQ(m.timestamp, 23u);
      EXPECT_EQ(m.stream_id, id);
    }
    // User Control Stream EOF (7.1.7 event 1) for the stream.
    if (m.kind() == MessageType::user_control && m.payload == hex("0001 00000001"))
      saw_eof = true;
  }
  EXPECT_TRUE(saw_audio);
  EXPECT_TRUE(saw_eof);
}

TEST(ServerSession, StreamCommandsBecomeEvents) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  f.c.send(make_seek(0, 1500), id);
  f.c.send(make_pause(0, true, 2000), id);
  f.c.send(make_receive_audio(false), id);
  f.c.send(make_receive_video(true), id);
  f.c.send(make_close_stream(0), id);
  f.c.send(make_user_control(
      UserControl{static_cast<std::uint16_t>(UserControlEvent::set_buffer_length), id, 3000}));
  f.flush();
  EXPECT_EQ(events_of<Seek>(f.events).at(0).ms, 1500);
  EXPECT_TRUE(events_of<Pause>(f.events).at(0).paused);
  EXPECT_EQ(events_of<Pause>(f.events).at(0).ms, 2000);
  EXPECT_FALSE(events_of<ReceiveAudio>(f.events).at(0).enabled);
  EXPECT_TRUE(events_of<ReceiveVideo>(f.events).at(0).enabled);
  EXPECT_EQ(events_of<CloseStream>(f.events).at(0).stream_id, id);
  EXPECT_EQ(events_of<SetBufferLength>(f.events).at(0).ms, 3000u);
}

TEST(ServerSession, AnswersPingAndIgnoresBufferEvents) {
  ServerFixture f;
  f.connect();
  // 7.1.7: PingRequest (6) with timestamp 0x01020304 -> PingResponse (7), same timestamp.
  Message ping;
  ping.type = 4;
  ping.payload = hex("0006 01020304");
  f.c.send(ping);
  Message buffer_empty;
  buffer_empty.type = 4;
  buffer_empty.payload = hex("001f 00000001"); // 31: FMS/Wowza buffer empty
  f.c.send(buffer_empty);
  f.flush();
  ASSERT_EQ(f.replies.size(), 1u);
  EXPECT_EQ(f.replies[0].kind(), MessageType::user_control);
  EXPECT_EQ(f.replies[0].payload, hex("0007 01020304"));
  EXPECT_FALSE(has_event<Error>(f.events));
  EXPECT_FALSE(has_event<Note>(f.events));
}

TEST(ServerSession, AcknowledgesWhenWindowReached) {
  ServerFixture f;
  f.connect();
  // 5.4.4: ask for an acknowledgement every 5000 bytes.
  f.c.send(make_window_ack_size(5000));
  f.flush();
  EXPECT_EQ(f.s.stats().ack_window_in, 5000u);
  const std::uint32_t id = f.publish("x");
  f.flush();
  f.replies.clear();
  Message audio;
  audio.type = 8;
  audio.stream_id = id;
  audio.payload.assign(6000, 0xAF);
  f.c.send(audio);
  f.flush();
  std::vector<Message> acks;
  for (const auto &m : f.replies)
    if (m.kind() == MessageType::acknowledgement)
      acks.push_back(m);
  ASSERT_EQ(acks.size(), 1u);
  auto seq = parse_u32_payload(acks[0].payload);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, f.s.stats().bytes_in);
  EXPECT_EQ(f.s.stats().acks_sent, 1u);
}

TEST(ServerSession, SetPeerBandwidthHardAnswersWindowAckSize) {
  ServerFixture f;
  f.connect();
  // 5.4.5: window 1000000, limit type 0 (hard).
  f.c.send(make_set_peer_bandwidth(1000000, PeerBandwidthLimit::hard));
  f.flush();
  ASSERT_EQ(f.replies.size(), 1u);
  EXPECT_EQ(f.replies[0].kind(), MessageType::window_ack_size);
  EXPECT_EQ(f.replies[0].payload, hex("000f4240"));
  EXPECT_EQ(f.s.stats().peer_bandwidth, 1000000u);
}

TEST(ServerSession, SplitsAggregatesInOrder) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.publish("x");
  std::vector<Message> parts(3);
  for (int i = 0; i < 3; ++i) {
    parts[i].type = i == 1 ? 8 : 9;
    parts[i].timestamp = 1000 + 40 * i;
    parts[i].payload = Bytes(10 + i, static_cast<std::uint8_t>(i));
  }
  Message agg = make_aggregate(parts, id);
  agg.timestamp = 5000;
  f.c.send(agg);
  f.flush();
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(media[i].msg.type, parts[i].type);
    EXPECT_EQ(media[i].msg.payload, parts[i].payload);
    // 7.1.6: rebased on the aggregate's timestamp.
    EXPECT_EQ(media[i].msg.timestamp, 5000u + 40 * i);
  }
}

TEST(ServerSession, SharedObjectUseGetsUseSuccess) {
  ServerFixture f;
  f.connect();
  SharedObjectMessage use;
  use.name = "chat";
  use.events.push_back(SharedObjectEvent{SharedObjectEventType::use});
  f.c.send(encode_shared_object(use));
  f.flush();
  ASSERT_EQ(f.replies.size(), 1u);
  auto reply = decode_shared_object(f.replies[0]);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->name, "chat");
  ASSERT_FALSE(reply->events.empty());
  EXPECT_EQ(reply->events[0].type, SharedObjectEventType::use_success);
  EXPECT_EQ(events_of<SharedObject>(f.events).size(), 1u);
}

TEST(ServerSession, Amf3CommandsAccepted) {
  ServerFixture f;
  f.flush();
  f.c.send(encode_command(make_connect(ConnectParams::for_play("vod", "rtmp://h/vod")), 0, true));
  f.flush();
  auto req = events_of<ConnectRequest>(f.events);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].app, "vod");
}

TEST(ServerSession, CheckBwAnswered) {
  ServerFixture f;
  f.connect();
  f.c.send(make_check_bw(9));
  f.flush();
  auto cmds = f.reply_commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_result");
  EXPECT_EQ(cmds[0].transaction_id, 9);
}

// ---- Timeouts (fake time) -----------------------------------------------------------------

TEST(ServerSession, HandshakeTimeout) {
  ServerConfig cfg = server_config();
  cfg.handshake_timeout = Millis(5000);
  ServerSession s(cfg);
  s.start(Millis(100));
  ASSERT_EQ(s.next_deadline(), Millis(5100));
  s.on_timer(Millis(5099));
  EXPECT_FALSE(s.poll_event().has_value());
  s.on_timer(Millis(5100));
  auto e = s.poll_event();
  ASSERT_TRUE(e && std::holds_alternative<Error>(*e));
  EXPECT_EQ(std::get<Error>(*e).code, make_error_code(Errc::timeout));
  EXPECT_TRUE(s.closed());
  EXPECT_FALSE(s.next_deadline().has_value());
}

TEST(ServerSession, ConnectTimeoutWhenApplicationNeverAnswers) {
  ServerConfig cfg = server_config();
  cfg.handshake_timeout = Millis(3000);
  ServerFixture f(cfg);
  f.flush();
  f.send_connect();
  f.s.on_timer(Millis(2999));
  EXPECT_FALSE(has_event<Error>(f.events));
  f.s.on_timer(Millis(3000));
  drain(f.s, f.events);
  ASSERT_TRUE(has_event<Error>(f.events));
  EXPECT_EQ(events_of<Error>(f.events)[0].code, make_error_code(Errc::timeout));
}

TEST(ServerSession, IdleTimeout) {
  ServerConfig cfg = server_config();
  cfg.idle_timeout = Millis(10000);
  ServerFixture f(cfg);
  f.connect();
  EXPECT_FALSE(f.s.next_deadline() < Millis(10000));
  f.now = Millis(9000);
  f.c.send(make_window_ack_size(100000));
  f.flush();
  EXPECT_EQ(f.s.next_deadline(), Millis(19000));
  f.s.on_timer(Millis(18999));
  EXPECT_FALSE(f.s.closed());
  f.s.on_timer(Millis(19000));
  EXPECT_TRUE(f.s.closed());
}

// ---- Hostile input ------------------------------------------------------------------------

TEST(ServerSession, GarbageAfterHandshakeIsATypedError) {
  ServerFixture f;
  f.flush();
  // A type 3 chunk on a chunk stream that never had a header (5.3.1.2.4).
  f.s.receive(hex("c5 01 02 03 04 05 06 07"), f.now);
  drain(f.s, f.events);
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
  EXPECT_TRUE(f.s.closed());
}

TEST(ServerSession, MalformedCommandIsATypedError) {
  ServerFixture f;
  f.flush();
  Message m;
  m.type = 20;
  m.payload = hex("00 0007 636f6e6e656374 00"); // "connect" then a truncated number (AMF0 2.2)
  f.c.send(m);
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
}

TEST(ServerSession, HugeMessageIsRefused) {
  ServerConfig cfg = server_config();
  cfg.limits.max_message_size = 64 * 1024;
  ServerFixture f(cfg);
  f.flush();
  // Type 0 chunk header announcing a 16 MiB - 1 video message (5.3.1.2.1).
  f.s.receive(hex("06 000000 ffffff 09 01000000"), f.now);
  drain(f.s, f.events);
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
}

// A client whose connect is announced as a 16 MiB - 1 AMF0 command (5.3.1.2.1: type 0, csid 3,
// length FFFFFF, type 20) is refused when the header is complete, before any payload.
TEST(ServerSession, HugeConnectIsRefusedAtOnce) {
  ServerFixture f;
  f.flush();
  ASSERT_TRUE(f.c.handshake_done());
  ASSERT_TRUE(f.s.receive(hex("03 000000 FFFFFF 14 00000000"), f.now));
  drain(f.s, f.events);
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u) << describe(f.events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
  EXPECT_NE(errors[0].description.find("max_command_message_size"), std::string::npos);
  EXPECT_FALSE(has_event<ConnectRequest>(f.events));
  EXPECT_TRUE(f.s.closed());
}

// @setDataFrame with a 1 MiB onMetaData (7.1.2).
Message big_set_data_frame(std::uint32_t stream_id) {
  amf::Properties meta = {{"keyframes", amf::Value(std::string(1u << 20, 'k'))}};
  return encode_data(make_set_data_frame(amf::Value(amf::EcmaArray{std::move(meta)})), stream_id,
                     0);
}

TEST(ServerSession, LargeMetadataOnceThePublishIsAccepted) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.publish("cam");
  f.flush();
  const Message meta = big_set_data_frame(id);
  ASSERT_GT(meta.payload.size(), kMaxCommandMessageSize);
  f.c.send(meta);
  f.flush();
  EXPECT_FALSE(has_event<Error>(f.events)) << describe(f.events);
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].msg.payload, meta.payload);
}

TEST(ServerSession, LargeMetadataBeforeThePublishIsAcceptedIsRefused) {
  ServerFixture f;
  f.connect();
  const std::uint32_t id = f.request_publish("cam");
  f.c.send(big_set_data_frame(id));
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u) << describe(f.events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
}

TEST(ServerSession, FloodWhileRequestPendingIsBounded) {
  ServerFixture f;
  f.flush();
  f.send_connect();
  // The application has not answered connect; the peer keeps sending.
  Message m;
  m.type = 9;
  m.stream_id = 1;
  m.payload.assign(100, 0);
  for (std::size_t i = 0; i <= kMaxHeldMessages; ++i)
    f.c.send(m);
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
}

// Truncated input at every offset: a prefix of a valid client transcript is never an error and
// yields a prefix of the events of the whole.
TEST(ServerSession, TruncatedAtEveryOffset) {
  ServerFixture whole;
  whole.connect();
  // Reconstruct the client's bytes: handshake, connect, createStream, publish, a frame.
  RawPeer c = RawPeer::client();
  Bytes script = c.take();
  ServerSession probe(server_config());
  probe.start(Millis(0));
  probe.receive(script, Millis(0));
  c.receive(probe.take_output());
  c.send(make_connect(ConnectParams::for_publish("live", "rtmp://h/live")));
  c.send(make_create_stream(2));
  c.send(make_publish(0, "x", PublishType::live), 1);
  Bytes rest = c.take();
  script.insert(script.end(), rest.begin(), rest.end());

  auto run = [&](std::size_t len) {
    ServerSession s(server_config());
    s.start(Millis(0));
    std::vector<Event> ev;
    EXPECT_FALSE(s.receive(ByteView(script).first(len), Millis(0))) << len;
    drain(s, ev);
    for (std::size_t i = 0; i < ev.size(); ++i) {
      if (std::holds_alternative<ConnectRequest>(ev[i])) {
        EXPECT_FALSE(s.accept_connect(Millis(0)));
      }
    }
    drain(s, ev);
    return ev;
  };
  const auto all = run(script.size());
  ASSERT_TRUE(has_event<ConnectRequest>(all));
  ASSERT_TRUE(has_event<PublishRequest>(all)) << describe(all);
  for (std::size_t len = 0; len < script.size(); ++len) {
    auto ev = run(len);
    ASSERT_LE(ev.size(), all.size());
    for (std::size_t i = 0; i < ev.size(); ++i)
      ASSERT_EQ(ev[i].index(), all[i].index()) << "prefix " << len;
    EXPECT_FALSE(has_event<Error>(ev));
  }
}

TEST(ServerSession, PeerClosedWhilePublishingReportsUnpublished) {
  ServerFixture f;
  f.connect();
  f.publish("x");
  f.s.peer_closed();
  drain(f.s, f.events);
  EXPECT_EQ(events_of<Unpublished>(f.events).size(), 1u);
  EXPECT_TRUE(has_event<Closed>(f.events));
}

} // namespace
} // namespace rtmp::test
