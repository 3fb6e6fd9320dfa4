// ClientSession state machine: what it sends, how it reads every answer, rejects,
// authentication retries, timeouts with fake time and hostile input. The server side is a
// scripted RawPeer.
#include <gtest/gtest.h>

#include "core/aggregate.hpp"
#include "core/auth.hpp"
#include "session_test_util.hpp"

namespace rtmp::test {
namespace {

struct ClientFixture {
  ClientSession c;
  RawPeer s = RawPeer::server();
  Millis now{0};
  std::vector<Event> events;
  std::vector<Message> sent; // what the client sent, dechunked
  Bytes raw_sent;            // the same as bytes, after the handshake

  explicit ClientFixture(ClientConfig cfg = client_config()) : c(std::move(cfg)) {}

  void flush() {
    for (int i = 0; i < 1000; ++i) {
      Bytes out = c.take_output();
      const bool was_done = s.handshake_done();
      if (was_done)
        raw_sent.insert(raw_sent.end(), out.begin(), out.end());
      auto msgs = s.receive(out);
      if (!was_done && s.handshake_done())
        raw_sent = s.after_handshake;
      sent.insert(sent.end(), msgs.begin(), msgs.end());
      Bytes in = s.take();
      if (!in.empty())
        c.receive(in, now);
      drain(c, events);
      if (in.empty() && out.empty())
        return;
    }
  }
  void handshake() {
    c.start(now);
    flush();
    ASSERT_TRUE(s.handshake_done());
  }
  // Handshake and the server's _result to connect.
  void connect() {
    handshake();
    ASSERT_FALSE(commands_in(sent).empty());
    s.send(make_connect_result(1));
    flush();
    ASSERT_TRUE(c.connected()) << describe(events);
    sent.clear();
  }
  std::uint32_t create_stream(std::uint32_t id = 1) {
    EXPECT_FALSE(c.create_stream(now));
    flush();
    auto cmds = commands_in(sent);
    sent.clear();
    EXPECT_EQ(cmds.size(), 1u);
    if (cmds.empty())
      return 0;
    s.send(make_create_stream_result(cmds[0].transaction_id, id));
    flush();
    return id;
  }
  void send_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                   std::string_view desc = "") {
    s.send(make_on_status(make_status_object(level, code, desc)), stream_id);
    flush();
  }
};

TEST(ClientSession, StartQueuesC0C1) {
  ClientSession c(client_config());
  EXPECT_FALSE(c.wants_write());
  c.start(Millis(0));
  Bytes out = c.take_output();
  // RTMP 1.0 5.2.2 / 5.2.3: C0 is the version byte 3, C1 is 1536 bytes.
  ASSERT_EQ(out.size(), 1u + 1536u);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_FALSE(c.wants_write());
  // Calling receive() before start() is our mistake.
  ClientSession idle(client_config());
  EXPECT_EQ(idle.receive(hex("03"), Millis(0)), make_error_code(Errc::invalid_state));
}

TEST(ClientSession, SendsChunkSizeThenConnect) {
  ClientConfig cfg = client_config();
  cfg.app = "live";
  cfg.tc_url = "rtmp://example.com/live";
  cfg.flash_ver = "FMLE/3.0 (compatible; test)";
  cfg.extra_connect_args = {{"custom", amf::Value("yes")}};
  ClientFixture f(cfg);
  f.handshake();
  // 5.4.1 Set Chunk Size 4096 first: type-0 chunk, csid 2, timestamp 0, length 4, type 1,
  // message stream 0, payload 0x00001000.
  const Bytes set_chunk_size = hex("02 000000 000004 01 00000000 00001000");
  ASSERT_GE(f.raw_sent.size(), set_chunk_size.size());
  EXPECT_EQ(Bytes(f.raw_sent.begin(), f.raw_sent.begin() + set_chunk_size.size()), set_chunk_size);
  auto cmds = commands_in(f.sent);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "connect");
  EXPECT_EQ(cmds[0].transaction_id, 1);
  EXPECT_EQ(cmds[0].command_object.string_at("app"), "live");
  EXPECT_EQ(cmds[0].command_object.string_at("tcUrl"), "rtmp://example.com/live");
  EXPECT_EQ(cmds[0].command_object.string_at("flashVer"), "FMLE/3.0 (compatible; test)");
  EXPECT_EQ(cmds[0].command_object.string_at("custom"), "yes");
  EXPECT_EQ(f.c.stats().chunk_size_out, 4096u);
}

TEST(ClientSession, ConnectResultYieldsConnectedAndWindowAckSize) {
  ClientFixture f;
  f.handshake();
  f.sent.clear();
  EXPECT_EQ(f.c.create_stream(f.now), make_error_code(Errc::invalid_state));
  f.s.send(make_connect_result(1));
  f.flush();
  auto connected = events_of<Connected>(f.events);
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0].properties.string_at("fmsVer"), "FMS/3,5,7,7009");
  EXPECT_EQ(connected[0].information.string_at("code"), "NetConnection.Connect.Success");
  // Our Window Acknowledgement Size (5.4.4) follows the connect answer.
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].kind(), MessageType::window_ack_size);
  EXPECT_EQ(f.sent[0].payload, hex("002625a0"));
  EXPECT_FALSE(f.c.next_deadline().has_value());
}

TEST(ClientSession, ConnectRejected) {
  ClientFixture f;
  f.handshake();
  f.s.send(make_error(
      1, amf::Null{},
      make_status_object("error", "NetConnection.Connect.Rejected", "Application not found")));
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::connect_rejected));
  EXPECT_EQ(errors[0].status_code, "NetConnection.Connect.Rejected");
  EXPECT_EQ(errors[0].description, "Application not found");
  EXPECT_TRUE(errors[0].fatal);
  EXPECT_TRUE(has_event<Closed>(f.events));
  EXPECT_TRUE(f.c.closed());
}

TEST(ClientSession, AuthChallengeWithoutCredentialsFails) {
  ClientFixture f;
  f.handshake();
  f.s.send(make_connect_rejected(1, auth::need_auth_description(auth::Method::adobe)));
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::auth_failed));
  EXPECT_FALSE(has_event<AuthRetry>(f.events));
}

// The full Adobe exchange against a ServerSession with authentication: three connections.
TEST(ClientSession, AdobeAuthRetriesUntilAccepted) {
  ServerConfig sc = server_config();
  sc.auth.method = auth::Method::adobe;
  sc.auth.lookup = [](std::string_view user) -> std::optional<std::string> {
    if (user == "alice")
      return std::string("s3cret");
    return std::nullopt;
  };
  sc.auth.random = [](std::span<std::uint8_t> out) {
    for (auto &b : out)
      b = 0x5a;
  };
  ClientConfig cc = client_config();
  cc.username = "alice";
  cc.password = "s3cret";
  std::vector<std::string> apps;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Pipe p(cc, sc, attempt + 1);
    p.start();
    p.pump();
    auto retry = events_of<AuthRetry>(p.client_events);
    if (has_event<Connected>(p.client_events)) {
      EXPECT_EQ(attempt, 2);
      auto req = events_of<ConnectRequest>(p.server_events);
      ASSERT_EQ(req.size(), 1u);
      EXPECT_EQ(req[0].app, "live"); // the query is not the application's business
      return;
    }
    ASSERT_EQ(retry.size(), 1u) << describe(p.client_events);
    EXPECT_FALSE(has_event<Error>(p.client_events));
    apps.push_back(retry[0].app_with_auth_query);
    cc.app = retry[0].app_with_auth_query;
    cc.tc_url = "rtmp://127.0.0.1/" + cc.app;
  }
  FAIL() << "not accepted after 3 connections: " << (apps.empty() ? "" : apps.back());
}

TEST(ClientSession, AdobeAuthWrongPasswordIsAuthFailed) {
  ServerConfig sc = server_config();
  sc.auth.method = auth::Method::adobe;
  sc.auth.lookup = [](std::string_view) -> std::optional<std::string> {
    return std::string("right");
  };
  sc.auth.random = [](std::span<std::uint8_t> out) {
    for (auto &b : out)
      b = 0x33;
  };
  ClientConfig cc = client_config();
  cc.username = "bob";
  cc.password = "wrong";
  for (int attempt = 0; attempt < 4; ++attempt) {
    Pipe p(cc, sc, attempt + 1);
    p.start();
    p.pump();
    ASSERT_FALSE(has_event<Connected>(p.client_events));
    auto retry = events_of<AuthRetry>(p.client_events);
    if (retry.empty()) {
      auto errors = events_of<Error>(p.client_events);
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_EQ(errors[0].code, make_error_code(Errc::auth_failed));
      EXPECT_EQ(attempt, 2);
      return;
    }
    cc.app = retry[0].app_with_auth_query;
  }
  FAIL() << "never gave up";
}

TEST(ClientSession, PublishSendsReleaseFcPublishPublish) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream(5);
  ASSERT_EQ(events_of<StreamCreated>(f.events).at(0).stream_id, 5u);
  EXPECT_EQ(f.c.publish(id, "cam", "bogus", f.now), make_error_code(Errc::invalid_argument));
  ASSERT_FALSE(f.c.publish(id, "cam", "live", f.now));
  f.flush();
  auto cmds = commands_in(f.sent);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].name, "releaseStream");
  EXPECT_EQ(cmds[1].name, "FCPublish");
  EXPECT_EQ(cmds[2].name, "publish");
  EXPECT_EQ(f.sent[2].stream_id, id);
  EXPECT_EQ(*cmds[2].argument(0)->as_string(), "cam");
  EXPECT_EQ(*cmds[2].argument(1)->as_string(), "live");
  f.send_status(id, "status", "NetStream.Publish.Start", "cam is now published");
  auto started = events_of<PublishStarted>(f.events);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].stream_id, id);
  EXPECT_EQ(events_of<Status>(f.events).back().info.code, "NetStream.Publish.Start");
}

TEST(ClientSession, PublishBadNameIsNonFatalError) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.publish(id, "taken", "live", f.now));
  f.flush();
  f.send_status(id, "error", "NetStream.Publish.BadName", "taken is already used");
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::publish_rejected));
  EXPECT_EQ(errors[0].status_code, "NetStream.Publish.BadName");
  EXPECT_EQ(errors[0].description, "taken is already used");
  EXPECT_FALSE(errors[0].fatal);
  EXPECT_FALSE(f.c.closed());
  // No timeout is left for that publish.
  EXPECT_FALSE(f.c.next_deadline().has_value());
}

TEST(ClientSession, PlayStreamNotFound) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.play(id, "nope", -2, -1, true, f.now));
  f.flush();
  auto cmds = commands_in(f.sent);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "play");
  // Then 7.1.7 Set Buffer Length (event 3) for stream 1: 3000 ms (0x0bb8).
  ASSERT_EQ(f.sent.size(), 2u);
  EXPECT_EQ(f.sent[1].payload, hex("0003 00000001 00000bb8"));
  f.send_status(id, "error", "NetStream.Play.StreamNotFound", "nope not found");
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::play_failed));
  EXPECT_EQ(errors[0].status_code, "NetStream.Play.StreamNotFound");
}

TEST(ClientSession, PlayEventsAndMedia) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.play(id, "cam", -2, -1, true, f.now));
  f.flush();
  // 7.1.7 Stream Begin (event 0) for stream 1, then onStatus, then media, Stream EOF (1), Stop.
  Message begin;
  begin.type = 4;
  begin.payload = hex("0000 00000001");
  f.s.send(begin);
  f.send_status(id, "status", "NetStream.Play.Start");
  Message video;
  video.type = 9;
  video.stream_id = id;
  video.timestamp = 0x01000000; // beyond 24 bits: extended timestamp (5.3.1.3)
  video.payload = hex("17 01 000000 00000005 6588840021");
  f.s.send(video);
  Message eof = begin;
  eof.payload = hex("0001 00000001");
  f.s.send(eof);
  f.send_status(id, "status", "NetStream.Play.Stop");
  EXPECT_EQ(events_of<StreamBegin>(f.events).at(0).stream_id, id);
  EXPECT_EQ(events_of<PlayStarted>(f.events).size(), 1u);
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].msg.timestamp, 0x01000000u);
  EXPECT_EQ(media[0].msg.payload, video.payload);
  EXPECT_EQ(events_of<StreamEof>(f.events).at(0).stream_id, id);
  EXPECT_EQ(events_of<PlayStopped>(f.events).at(0).status_code, "NetStream.Play.Stop");
}

TEST(ClientSession, AggregateSplitInOrder) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  std::vector<Message> parts(4);
  for (int i = 0; i < 4; ++i) {
    parts[i].type = i % 2 ? 8 : 9;
    parts[i].timestamp = 100 + 20 * i;
    parts[i].payload = Bytes(5 + i, static_cast<std::uint8_t>(0x10 + i));
  }
  Message agg = make_aggregate(parts, id);
  agg.timestamp = 100;
  f.s.send(agg);
  f.flush();
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(media[i].msg.type, parts[i].type);
    EXPECT_EQ(media[i].msg.timestamp, parts[i].timestamp);
    EXPECT_EQ(media[i].msg.payload, parts[i].payload);
    EXPECT_EQ(media[i].msg.stream_id, id);
  }
}

TEST(ClientSession, AnswersPingIgnoresBufferEventsAndOnBwDone) {
  ClientFixture f;
  f.connect();
  Message ping;
  ping.type = 4;
  ping.payload = hex("0006 0000abcd"); // 7.1.7 PingRequest
  f.s.send(ping);
  Message ready;
  ready.type = 4;
  ready.payload = hex("0020 00000001"); // 32: buffer ready (FMS)
  f.s.send(ready);
  f.s.send(make_on_bw_done());
  f.flush();
  ASSERT_EQ(f.sent.size(), 2u);
  EXPECT_EQ(f.sent[0].payload, hex("0007 0000abcd")); // PingResponse, same timestamp
  auto cmds = commands_in(f.sent);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_checkbw");
  EXPECT_FALSE(has_event<Error>(f.events));
}

TEST(ClientSession, UnmatchedResultIsIgnoredWithNote) {
  ClientFixture f;
  f.connect();
  f.s.send(make_result(77, amf::Null{}, amf::Null{}));
  f.flush();
  EXPECT_TRUE(has_event<Note>(f.events));
  EXPECT_FALSE(has_event<Error>(f.events));
  EXPECT_FALSE(has_event<CommandResult>(f.events));
}

TEST(ClientSession, CallErrorResult) {
  ClientFixture f;
  f.connect();
  const std::uint32_t txn = f.c.call("secret", {amf::Value(1.0)});
  ASSERT_NE(txn, 0u);
  f.flush();
  f.s.send(make_error(txn, amf::Null{},
                      make_status_object("error", "NetConnection.Call.Failed", "no such method")));
  f.flush();
  auto r = events_of<CommandResult>(f.events);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].txn, txn);
  EXPECT_FALSE(r[0].ok);
  ASSERT_EQ(r[0].values.size(), 2u);
  EXPECT_EQ(r[0].values[1].string_at("code"), "NetConnection.Call.Failed");
}

TEST(ClientSession, Amf3ResultAccepted) {
  ClientFixture f;
  f.handshake();
  f.s.send(encode_command(make_connect_result(1), 0, true));
  f.flush();
  EXPECT_TRUE(f.c.connected()) << describe(f.events);
}

TEST(ClientSession, SetPeerBandwidthAndAcknowledgements) {
  ClientFixture f;
  f.connect();
  // 5.4.5 hard limit 3000000: we answer with a Window Acknowledgement Size of that value.
  f.s.send(make_set_peer_bandwidth(3000000, PeerBandwidthLimit::hard));
  // 5.4.4: the server wants an acknowledgement every 4096 bytes.
  f.s.send(make_window_ack_size(4096));
  f.flush();
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].kind(), MessageType::window_ack_size);
  EXPECT_EQ(f.sent[0].payload, hex("002dc6c0"));
  EXPECT_EQ(f.c.stats().peer_bandwidth, 3000000u);
  f.sent.clear();
  Message audio;
  audio.type = 8;
  audio.stream_id = 1;
  audio.payload.assign(5000, 1);
  f.s.send(audio);
  f.flush();
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].kind(), MessageType::acknowledgement);
  EXPECT_EQ(*parse_u32_payload(f.sent[0].payload), f.c.stats().bytes_in);
}

TEST(ClientSession, SharedObjectParsed) {
  ClientFixture f;
  f.connect();
  SharedObjectMessage so;
  so.name = "chat";
  so.events.push_back(SharedObjectEvent{SharedObjectEventType::use_success});
  f.s.send(encode_shared_object(so));
  f.flush();
  auto got = events_of<SharedObject>(f.events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message.name, "chat");
}

TEST(ClientSession, CommandsBeforeConnectedAreInvalidState) {
  ClientSession c(client_config());
  const auto invalid = make_error_code(Errc::invalid_state);
  EXPECT_EQ(c.create_stream(Millis(0)), invalid);
  EXPECT_EQ(c.publish(1, "x", "live", Millis(0)), invalid);
  EXPECT_EQ(c.play(1, "x", -2, -1, true, Millis(0)), invalid);
  EXPECT_EQ(c.send_media(1, MessageType::audio, 0, {}), invalid);
  EXPECT_EQ(c.ping(Millis(0)), invalid);
  EXPECT_EQ(c.call("x", {}), 0u);
  EXPECT_EQ(error_origin(invalid), ErrorOrigin::local);
}

TEST(ClientSession, PeerClosedEndsTheSession) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  f.c.peer_closed();
  drain(f.c, f.events);
  auto closed = events_of<Closed>(f.events);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(f.c.send_media(id, MessageType::audio, 0, {}), make_error_code(Errc::invalid_state));
  EXPECT_EQ(f.c.create_stream(f.now), make_error_code(Errc::invalid_state));
  EXPECT_FALSE(f.c.next_deadline().has_value());
}

// ---- Timeouts -----------------------------------------------------------------------------

TEST(ClientSession, HandshakeTimeout) {
  ClientConfig cfg = client_config();
  cfg.timeout = Millis(2000);
  ClientSession c(cfg);
  EXPECT_FALSE(c.next_deadline().has_value());
  c.start(Millis(500));
  EXPECT_EQ(c.next_deadline(), Millis(2500));
  c.on_timer(Millis(2499));
  EXPECT_FALSE(c.poll_event().has_value());
  c.on_timer(Millis(2500));
  auto e = c.poll_event();
  ASSERT_TRUE(e && std::holds_alternative<Error>(*e));
  EXPECT_EQ(std::get<Error>(*e).code, make_error_code(Errc::timeout));
}

TEST(ClientSession, ConnectCreateStreamAndPublishTimeouts) {
  ClientConfig cfg = client_config();
  cfg.timeout = Millis(1000);
  {
    ClientFixture f(cfg);
    f.handshake();
    EXPECT_EQ(f.c.next_deadline(), Millis(1000));
    f.c.on_timer(Millis(1000));
    drain(f.c, f.events);
    ASSERT_TRUE(has_event<Error>(f.events));
    EXPECT_NE(events_of<Error>(f.events)[0].description.find("connect"), std::string::npos);
  }
  {
    ClientFixture f(cfg);
    f.connect();
    f.now = Millis(300);
    ASSERT_FALSE(f.c.create_stream(f.now));
    EXPECT_EQ(f.c.next_deadline(), Millis(1300));
    f.c.on_timer(Millis(1300));
    drain(f.c, f.events);
    ASSERT_TRUE(has_event<Error>(f.events));
    EXPECT_EQ(events_of<Error>(f.events)[0].code, make_error_code(Errc::timeout));
  }
  {
    ClientFixture f(cfg);
    f.connect();
    const std::uint32_t id = f.create_stream();
    f.now = Millis(700);
    ASSERT_FALSE(f.c.publish(id, "x", "live", f.now));
    EXPECT_EQ(f.c.next_deadline(), Millis(1700));
    f.c.on_timer(Millis(1699));
    EXPECT_FALSE(has_event<Error>(f.events));
    f.c.on_timer(Millis(1700));
    drain(f.c, f.events);
    ASSERT_TRUE(has_event<Error>(f.events));
    EXPECT_NE(events_of<Error>(f.events)[0].description.find("Publish.Start"), std::string::npos);
  }
}

TEST(ClientSession, ZeroTimeoutMeansNoDeadlines) {
  ClientConfig cfg = client_config();
  cfg.timeout = Millis(0);
  ClientFixture f(cfg);
  f.c.start(f.now);
  EXPECT_FALSE(f.c.next_deadline().has_value());
  f.flush();
  f.s.send(make_connect_result(1));
  f.flush();
  ASSERT_TRUE(f.c.connected());
  ASSERT_FALSE(f.c.create_stream(f.now));
  EXPECT_FALSE(f.c.next_deadline().has_value());
  f.c.on_timer(Millis(1000000));
  EXPECT_FALSE(f.c.closed());
}

// ---- Hostile input ------------------------------------------------------------------------

TEST(ClientSession, BadHandshakeVersionIsTypedError) {
  ClientSession c(client_config());
  c.start(Millis(0));
  Bytes s0s1(1537, 0);
  s0s1[0] = 0x06; // RTMPE, not plain RTMP (5.2.2)
  EXPECT_TRUE(c.receive(s0s1, Millis(0)));
  auto e = c.poll_event();
  ASSERT_TRUE(e && std::holds_alternative<Error>(*e));
  EXPECT_EQ(error_origin(std::get<Error>(*e).code), ErrorOrigin::peer);
}

TEST(ClientSession, GarbageAfterHandshake) {
  ClientFixture f;
  f.handshake();
  // A type-0 header whose message is a command with a non-string name (AMF0 number).
  Message m;
  m.type = 20;
  m.payload = hex("00 3ff0000000000000");
  f.s.send(m);
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
  EXPECT_TRUE(f.c.closed());
}

// A server that answers connect with a chunk header announcing a 16 MiB - 1 AMF0 command
// (5.3.1.2.1: type 0, csid 3, length FFFFFF, type 20) and then nothing is refused as soon as the
// header is complete, not after waiting for the payload until the server closes.
TEST(ClientSession, HugeCommandDuringConnectFailsBeforeItsPayload) {
  ClientFixture f;
  f.handshake();
  ASSERT_TRUE(f.c.receive(hex("03 000000 FFFFFF 14 00000000"), f.now));
  drain(f.c, f.events);
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u) << describe(f.events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
  EXPECT_NE(errors[0].description.find("command message"), std::string::npos);
  EXPECT_NE(errors[0].description.find("max_command_message_size"), std::string::npos);
  EXPECT_TRUE(f.c.closed());
  EXPECT_FALSE(f.c.next_deadline().has_value());
}

// onMetaData of 1 MiB (e.g. a recorded file's keyframe index) in a data message (7.1.2).
Message big_metadata(std::uint32_t stream_id) {
  amf::Properties meta = {{"duration", amf::Value(3600.0)},
                          {"keyframes", amf::Value(std::string(1u << 20, 'k'))}};
  return encode_data(DataMessage{"onMetaData", {amf::Value(amf::EcmaArray{std::move(meta)})}},
                     stream_id, 0);
}

TEST(ClientSession, LargeMetadataOnceThePlayStarted) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.play(id, "vod", -2, -1, true, f.now));
  f.flush();
  // NetStream.Play.Start and the metadata right behind it arrive in one receive().
  const Message meta = big_metadata(id);
  ASSERT_GT(meta.payload.size(), kMaxCommandMessageSize);
  f.s.send(make_on_status(make_status_object("status", "NetStream.Play.Start", "")), id);
  f.s.send(meta);
  f.flush();
  EXPECT_FALSE(has_event<Error>(f.events)) << describe(f.events);
  EXPECT_EQ(events_of<PlayStarted>(f.events).size(), 1u);
  auto media = events_of<Media>(f.events);
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].msg.payload, meta.payload);
}

TEST(ClientSession, LargeMetadataBeforeThePlayStartedIsRefused) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.play(id, "vod", -2, -1, true, f.now));
  f.flush();
  f.s.send(big_metadata(id));
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u) << describe(f.events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::limit_exceeded));
  EXPECT_FALSE(has_event<Media>(f.events));
}

TEST(ClientSession, LargeCommandOnceThePublishStarted) {
  ClientFixture f;
  f.connect();
  const std::uint32_t id = f.create_stream();
  ASSERT_FALSE(f.c.publish(id, "cam", "live", f.now));
  f.flush();
  f.s.send(make_on_status(make_status_object("status", "NetStream.Publish.Start", "")), id);
  const std::uint32_t txn = f.c.call("getInventory", {}, f.now);
  ASSERT_NE(txn, 0u);
  f.s.send(make_result(txn, amf::Null{}, amf::Value(std::string(1u << 20, 'i'))));
  f.flush();
  EXPECT_FALSE(has_event<Error>(f.events)) << describe(f.events);
  auto results = events_of<CommandResult>(f.events);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].values.at(1).as_string()->size(), 1u << 20);
}

TEST(ClientSession, BadSetChunkSizeIsTypedError) {
  ClientFixture f;
  f.connect();
  Message m;
  m.type = 1;
  m.payload = hex("00000000"); // 5.4.1: chunk size 0 is not allowed
  f.s.send(m);
  f.flush();
  auto errors = events_of<Error>(f.events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(error_origin(errors[0].code), ErrorOrigin::peer);
}

TEST(ClientSession, ByteAtATimeConnect) {
  ClientSession c(client_config());
  c.start(Millis(0));
  ServerSession s(server_config());
  s.start(Millis(0));
  std::vector<Event> ce, se;
  for (int round = 0; round < 50; ++round) {
    Bytes a = c.take_output();
    for (auto b : a)
      ASSERT_FALSE(s.receive(ByteView(&b, 1), Millis(0)));
    drain(s, se);
    for (auto &e : se) {
      if (std::holds_alternative<ConnectRequest>(e) && !s.connected()) {
        ASSERT_FALSE(s.accept_connect(Millis(0)));
      }
    }
    Bytes b2 = s.take_output();
    for (auto b : b2)
      ASSERT_FALSE(c.receive(ByteView(&b, 1), Millis(0)));
    drain(c, ce);
    if (a.empty() && b2.empty())
      break;
  }
  EXPECT_TRUE(has_event<Connected>(ce)) << describe(ce);
}

// A video message of `size` bytes on chunk stream 6, message stream 1, chunked at `chunk_size`
// as a server sends it.
Bytes video_chunks(std::size_t size, std::uint32_t chunk_size) {
  Message video;
  video.type = 9;
  video.stream_id = 1;
  video.chunk_stream_id = 6;
  video.payload = Bytes(size, 0x17);
  ChunkWriter w;
  w.set_chunk_size(chunk_size);
  Bytes wire;
  EXPECT_FALSE(w.write(video, wire));
  return wire;
}

// receive_low_water() (SO_RCVLOWAT for the driver, core/connection.cpp): 1 where any byte may
// complete a message, the rest of the message in progress otherwise, never past the point
// where we owe the server an acknowledgement (5.4.3) and never above kMaxReceiveLowWater.
TEST(ClientSession, ReceiveLowWater) {
  ClientFixture f;
  EXPECT_EQ(f.c.receive_low_water(), 1u); // not started
  f.c.start(f.now);
  EXPECT_EQ(f.c.receive_low_water(), 1u); // handshake
  f.connect();
  EXPECT_EQ(f.c.receive_low_water(), 1u); // between messages

  // A 100000-byte video message at chunk size 4096 (25 chunks), csid 6: after its type 0
  // header and 1000 payload bytes, 99000 bytes and 24 one-byte headers are missing.
  f.s.send_chunk_size(4096);
  const Bytes wire = video_chunks(100000, 4096);
  f.c.receive(f.s.take(), f.now);
  ByteView rest(wire);
  auto feed = [&](std::size_t n) {
    f.c.receive(rest.first(n), f.now);
    rest = rest.subspan(n);
  };
  feed(12 + 1000);
  EXPECT_EQ(f.c.receive_low_water(), 99000u + 24);
  feed(3096); // the end of the first chunk
  EXPECT_EQ(f.c.receive_low_water(), 95904u + 24);

  // Between two chunks the server asks for an acknowledgement every 4096 bytes (kMinAckWindow;
  // csid 2, so it interleaves): more than that was received, so one is sent at once, and the
  // bound is now the rest of the chunk being read, never past the next acknowledgement.
  const std::uint64_t acks = f.c.stats().acks_sent;
  Bytes ack_window;
  ChunkWriter control;
  ASSERT_FALSE(control.write(make_window_ack_size(4096), ack_window));
  f.c.receive(ack_window, f.now);
  EXPECT_EQ(f.c.stats().acks_sent, acks + 1);
  EXPECT_EQ(f.c.receive_low_water(), 1u); // at a chunk boundary of an interleaving peer
  feed(1 + 100);                          // the next chunk's header and 100 bytes of it
  // 3996 bytes (+1 header) left in this chunk, but an acknowledgement is due after 4096 - 101.
  EXPECT_EQ(f.c.receive_low_water(), 4096u - 101);
  feed(3000);
  EXPECT_EQ(f.c.receive_low_water(), 4096u - 3101);
  // A server that stops at the window until acknowledged: exactly that much makes the ack.
  feed(4096 - 3101);
  EXPECT_EQ(f.c.stats().acks_sent, acks + 2);
  EXPECT_EQ(f.c.receive_low_water(), 1u + 1);
}

TEST(ClientSession, ReceiveLowWaterIsCappedAndOneAfterClose) {
  ClientFixture f;
  f.connect();
  f.s.send_chunk_size(65536);
  f.c.receive(f.s.take(), f.now);
  const Bytes wire = video_chunks(3u << 20, 65536); // 3 MiB
  f.c.receive(ByteView(wire).first(12 + 10), f.now);
  EXPECT_EQ(f.c.receive_low_water(), kMaxReceiveLowWater);
  f.c.peer_closed();
  EXPECT_EQ(f.c.receive_low_water(), 1u);
}

} // namespace
} // namespace rtmp::test
