// Helpers shared by the session tests: a byte pipe between a ClientSession and a ServerSession
// with random fragmentation, fake time and event collection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/chunk_writer.hpp"
#include "core/control.hpp"

#include "core/client_session.hpp"
#include "core/server_session.hpp"

#include "test_hex.hpp"

namespace rtmp::test {

// Deterministic handshake randomness (tests must not depend on std::random_device).
inline HandshakeOptions fixed_handshake(std::uint8_t seed = 1) {
  HandshakeOptions o;
  o.random_fill = [seed](std::span<std::uint8_t> out) {
    std::uint8_t v = seed;
    for (auto &b : out)
      b = v = static_cast<std::uint8_t>(v * 37 + 11);
  };
  return o;
}

inline ClientConfig client_config() {
  ClientConfig c;
  c.app = "live";
  c.tc_url = "rtmp://127.0.0.1/live";
  c.handshake = fixed_handshake(1);
  return c;
}

inline ServerConfig server_config() {
  ServerConfig s;
  s.handshake = fixed_handshake(2);
  return s;
}

template <typename T> std::vector<T> events_of(const std::vector<Event> &events) {
  std::vector<T> out;
  for (const auto &e : events)
    if (auto *p = std::get_if<T>(&e))
      out.push_back(*p);
  return out;
}

template <typename T> bool has_event(const std::vector<Event> &events) {
  return std::any_of(events.begin(), events.end(),
                     [](const Event &e) { return std::holds_alternative<T>(e); });
}

inline std::string describe(const std::vector<Event> &events) {
  std::string s;
  for (const auto &e : events) {
    s += event_name(e);
    if (auto *err = std::get_if<Error>(&e))
      s += "(" + err->code.message() + ": " + err->description + " " + err->status_code + ")";
    if (auto *n = std::get_if<Note>(&e))
      s += "(" + n->text + ")";
    s += " ";
  }
  return s;
}

template <typename Session> void drain(Session &s, std::vector<Event> &into) {
  while (auto e = s.poll_event())
    into.push_back(std::move(*e));
}

// Client and server joined by a pipe. Each direction is delivered in random fragments.
// With `auto_accept` the server side accepts connect, publish and play as soon as asked.
struct Pipe {
  ClientSession client;
  ServerSession server;
  std::mt19937 rng;
  std::size_t max_fragment;
  Millis now{1000};
  bool auto_accept = true;
  std::vector<Event> client_events;
  std::vector<Event> server_events;
  std::size_t server_seen = 0; // server events already reacted to

  Pipe(ClientConfig c, ServerConfig s, std::uint32_t seed = 1, std::size_t max_frag = 1500)
      : client(std::move(c)), server(std::move(s)), rng(seed), max_fragment(max_frag) {}

  void start() {
    server.start(now);
    client.start(now);
  }

  template <typename Session> void feed(Session &s, const Bytes &b) {
    std::size_t pos = 0;
    while (pos < b.size()) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(1, max_fragment)(rng);
      n = std::min(n, b.size() - pos);
      s.receive(ByteView(b).subspan(pos, n), now);
      pos += n;
    }
  }

  void react() {
    drain(server, server_events);
    drain(client, client_events);
    if (!auto_accept)
      return;
    for (; server_seen < server_events.size(); ++server_seen) {
      const Event &e = server_events[server_seen];
      if (std::holds_alternative<ConnectRequest>(e)) {
        EXPECT_FALSE(server.accept_connect(now));
      } else if (auto *p = std::get_if<PublishRequest>(&e)) {
        EXPECT_FALSE(server.accept_publish(p->stream_id));
      } else if (auto *q = std::get_if<PlayRequest>(&e)) {
        EXPECT_FALSE(server.accept_play(q->stream_id));
      }
    }
  }

  // Moves bytes both ways until both sides are quiet.
  void pump() {
    for (int round = 0; round < 100000; ++round) {
      react();
      Bytes c2s = client.take_output();
      Bytes s2c = server.take_output();
      if (c2s.empty() && s2c.empty())
        return;
      feed(server, c2s);
      feed(client, s2c);
    }
    ADD_FAILURE() << "pipe did not settle";
  }

  // Handshake + connect + createStream; returns the stream id (0 on failure).
  std::uint32_t connect_and_create_stream() {
    start();
    pump();
    if (!has_event<Connected>(client_events)) {
      ADD_FAILURE() << "not connected: " << describe(client_events);
      return 0;
    }
    EXPECT_FALSE(client.create_stream(now));
    pump();
    auto created = events_of<StreamCreated>(client_events);
    if (created.empty()) {
      ADD_FAILURE() << "no stream: " << describe(client_events);
      return 0;
    }
    return created.back().stream_id;
  }
};

// A scripted peer built from the building blocks (handshake, chunk writer and reader) rather
// than from a session, so that tests can send exactly what they want and see exactly what the
// session under test sent.
struct RawPeer {
  std::unique_ptr<HandshakeClient> hs_client;
  std::unique_ptr<HandshakeServer> hs_server;
  ChunkWriter writer;
  ChunkReader reader;
  Bytes out;
  Bytes after_handshake; // the bytes of the receive() that completed the handshake, after it

  static RawPeer client() {
    RawPeer p;
    p.hs_client = std::make_unique<HandshakeClient>(fixed_handshake(9));
    p.out = p.hs_client->start();
    return p;
  }
  static RawPeer server() {
    RawPeer p;
    p.hs_server = std::make_unique<HandshakeServer>(fixed_handshake(8));
    return p;
  }
  bool handshake_done() const { return hs_client ? hs_client->done() : hs_server->done(); }

  // Feeds bytes from the session under test; returns the messages they complete.
  std::vector<Message> receive(const Bytes &in) {
    std::vector<Message> msgs;
    ByteView v(in);
    if (!handshake_done()) {
      auto used = hs_client ? hs_client->receive(v, out) : hs_server->receive(v, out);
      EXPECT_TRUE(used.ok());
      if (!used.ok())
        return msgs;
      v = v.subspan(*used);
      after_handshake = Bytes(v.begin(), v.end());
    }
    if (!v.empty()) {
      EXPECT_FALSE(reader.read(v, msgs));
    }
    return msgs;
  }
  void send(const Message &m) { EXPECT_FALSE(writer.write(m, out)); }
  void send(const Command &c, std::uint32_t stream_id = 0) { send(encode_command(c, stream_id)); }
  void send_chunk_size(std::uint32_t n) {
    send(make_set_chunk_size(n));
    writer.set_chunk_size(n);
  }
  Bytes take() {
    Bytes b;
    b.swap(out);
    return b;
  }
};

inline std::vector<Command> commands_in(const std::vector<Message> &msgs) {
  std::vector<Command> out;
  for (const auto &m : msgs)
    if (m.kind() == MessageType::command_amf0 || m.kind() == MessageType::command_amf3) {
      auto c = decode_command(m);
      EXPECT_TRUE(c.ok());
      if (c.ok())
        out.push_back(std::move(*c));
    }
  return out;
}

} // namespace rtmp::test
