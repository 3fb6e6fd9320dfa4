// core-selfcheck: the sans-IO core talking to itself, in one process, without sockets.
//
// A publishing client and a playing client each connect to their own ServerSession (one per
// "accepted connection"); a tiny relay in main() forwards what the publisher sends to the player.
// Everything crosses byte pipes that cut the stream at awkward places, so the handshake, the
// chunking (with different chunk sizes on each hop), the commands and the media path are all
// exercised. It prints what happened and exits 0 only when every message arrived intact.
#include <cstdint>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "core/client_session.hpp"
#include "core/server_session.hpp"

namespace {

using namespace rtmp;

// Deterministic "network": each direction delivered in fragments of varying size.
struct Link {
  std::size_t counter = 0;
  template <typename Session> void deliver(Session &to, const Bytes &bytes, Millis now) {
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      const std::size_t n = std::min<std::size_t>(1 + (counter++ * 733) % 1400, bytes.size() - pos);
      to.receive(ByteView(bytes).subspan(pos, n), now);
      pos += n;
    }
  }
};

std::uint32_t checksum(ByteView b) {
  std::uint32_t h = 2166136261u; // FNV-1a
  for (auto x : b)
    h = (h ^ x) * 16777619u;
  return h;
}

struct Peer {
  const char *name;
  ClientSession client;
  ServerSession server;
  Link up, down;
  std::vector<Event> client_events, server_events;
  Peer(const char *n, ClientConfig c, ServerConfig s)
      : name(n), client(std::move(c)), server(std::move(s)) {}

  // Moves bytes until both sides are quiet; returns false on a fatal error.
  bool pump(Millis now) {
    for (int i = 0; i < 10000; ++i) {
      Bytes c2s = client.take_output();
      Bytes s2c = server.take_output();
      if (c2s.empty() && s2c.empty())
        return true;
      up.deliver(server, c2s, now);
      down.deliver(client, s2c, now);
      while (auto e = client.poll_event())
        client_events.push_back(std::move(*e));
      while (auto e = server.poll_event())
        server_events.push_back(std::move(*e));
    }
    return false;
  }
};

template <typename T> const T *last(const std::vector<Event> &events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it)
    if (auto *p = std::get_if<T>(&*it))
      return p;
  return nullptr;
}

bool report_errors(const Peer &p) {
  bool any = false;
  for (const auto *list : {&p.client_events, &p.server_events})
    for (const auto &e : *list)
      if (auto *err = std::get_if<Error>(&e)) {
        std::printf("  %s: error: %s (%s) %s\n", p.name, err->description.c_str(),
                    err->code.message().c_str(), err->status_code.c_str());
        any = true;
      }
  return any;
}

// Handshake, connect (answered by the "application" below), createStream.
std::uint32_t connect(Peer &p, Millis now) {
  p.server.start(now);
  p.client.start(now);
  p.pump(now);
  if (auto *hs = last<HandshakeDone>(p.server_events))
    std::printf("  %s: handshake done (client used the %s scheme, version byte %u)\n", p.name,
                hs->peer_used_digest ? "digest" : "plain", hs->peer_version);
  auto *req = last<ConnectRequest>(p.server_events);
  if (!req)
    return 0;
  std::printf("  %s: connect app='%s' tcUrl='%s' flashVer='%s'\n", p.name, req->app.c_str(),
              req->tc_url.c_str(), req->flash_ver.c_str());
  p.server.accept_connect(now);
  p.pump(now);
  auto *c = last<Connected>(p.client_events);
  if (!c)
    return 0;
  std::printf("  %s: connected (%s, server chunk size %u)\n", p.name,
              c->information.string_at("code").value_or("?").c_str(),
              p.client.stats().chunk_size_in);
  p.client.create_stream(now);
  p.pump(now);
  auto *sc = last<StreamCreated>(p.client_events);
  return sc ? sc->stream_id : 0;
}

} // namespace

int main() {
  std::printf("gst-rtmp core self-check: client and server sessions in one process\n");
  Millis now{0};

  ClientConfig pub_cfg;
  pub_cfg.app = "live";
  pub_cfg.tc_url = "rtmp://selfcheck.invalid/live";
  pub_cfg.chunk_size = 1000;
  pub_cfg.window_ack_size = 250000; // the server acknowledges every 250 kB it receives
  ServerConfig srv_cfg;
  srv_cfg.chunk_size = 4096;
  Peer pub("publisher", pub_cfg, srv_cfg);

  ClientConfig play_cfg = pub_cfg;
  play_cfg.publishing = false;
  play_cfg.flash_ver = "LNX 9,0,124,2";
  play_cfg.chunk_size = 128;
  play_cfg.window_ack_size = 2500000;
  ServerConfig play_srv_cfg = srv_cfg;
  play_srv_cfg.chunk_size = 333; // odd on purpose: media cross many chunks
  play_srv_cfg.window_ack_size = 250000;
  Peer player("player", play_cfg, play_srv_cfg);

  std::printf("[1] connect\n");
  const std::uint32_t pub_stream = connect(pub, now);
  const std::uint32_t play_stream = connect(player, now);
  if (!pub_stream || !play_stream) {
    report_errors(pub);
    report_errors(player);
    std::printf("FAILED: could not connect\n");
    return 1;
  }

  std::printf("[2] publish and play\n");
  pub.client.publish(pub_stream, "selfcheck", "live", now);
  pub.pump(now);
  if (auto *r = last<PublishRequest>(pub.server_events)) {
    std::printf("  publisher: publish '%s' (%s) on stream %u -> accepted\n", r->name.c_str(),
                r->type.c_str(), r->stream_id);
    pub.server.accept_publish(r->stream_id);
  }
  pub.pump(now);
  player.client.play(play_stream, "selfcheck", -2, -1, true, now);
  player.pump(now);
  if (auto *r = last<PlayRequest>(player.server_events)) {
    std::printf("  player: play '%s' on stream %u -> accepted\n", r->name.c_str(), r->stream_id);
    player.server.accept_play(r->stream_id);
  }
  player.pump(now);
  if (!last<PublishStarted>(pub.client_events) || !last<PlayStarted>(player.client_events)) {
    report_errors(pub);
    report_errors(player);
    std::printf("FAILED: publish or play did not start\n");
    return 1;
  }
  std::printf("  publisher: NetStream.Publish.Start; player: NetStream.Play.Start\n");

  std::printf("[3] media: publisher -> server -> relay -> server -> player\n");
  struct Sent {
    MessageType type;
    std::uint32_t ts;
    std::uint32_t sum;
    std::size_t size;
  };
  std::vector<Sent> sent;
  const std::size_t first_player_media = [&] {
    std::size_t n = 0;
    for (auto &e : player.client_events)
      n += std::holds_alternative<Media>(e);
    return n;
  }();
  std::size_t relayed = 0;
  std::uint64_t payload_bytes = 0;
  for (int i = 0; i < 200; ++i) {
    const bool video = i % 3 != 0;
    const std::uint32_t ts = static_cast<std::uint32_t>(i / 3 * 40);
    Bytes payload(video ? 500 + (i * 97) % 9000 : 200 + i % 50);
    for (std::size_t k = 0; k < payload.size(); ++k)
      payload[k] = static_cast<std::uint8_t>(i * 31 + k * 7);
    const MessageType type = video ? MessageType::video : MessageType::audio;
    pub.client.send_media(pub_stream, type, ts, payload);
    sent.push_back({type, ts, checksum(payload), payload.size()});
    payload_bytes += payload.size();
    if (i % 10 == 9) {
      now += Millis(400);
      const std::size_t before = pub.server_events.size();
      pub.pump(now);
      // The relay: what the publisher's connection produced goes to the player's.
      for (std::size_t k = before; k < pub.server_events.size(); ++k)
        if (auto *m = std::get_if<Media>(&pub.server_events[k])) {
          player.server.send_media(play_stream, m->msg.kind(), m->msg.timestamp, m->msg.payload);
          ++relayed;
        }
      player.pump(now);
    }
  }
  player.server.end_stream(play_stream);
  player.pump(now);
  pub.client.unpublish(pub_stream, "selfcheck");
  pub.client.delete_stream(pub_stream);
  pub.pump(now);

  std::size_t received = 0, intact = 0, index = 0;
  for (auto &e : player.client_events) {
    auto *m = std::get_if<Media>(&e);
    if (!m || index++ < first_player_media)
      continue;
    if (received < sent.size()) {
      const Sent &s = sent[received];
      intact += m->msg.kind() == s.type && m->msg.timestamp == s.ts &&
                m->msg.payload.size() == s.size && checksum(m->msg.payload) == s.sum;
    }
    ++received;
  }
  std::printf("  %zu messages (%llu payload bytes) sent, %zu relayed, %zu received, %zu intact\n",
              sent.size(), static_cast<unsigned long long>(payload_bytes), relayed, received,
              intact);
  const Stats ps = pub.client.stats(), ss = player.server.stats(), pc = player.client.stats();
  std::printf("  publisher out: %llu bytes in %llu messages (chunk size %u); acks received %llu\n",
              static_cast<unsigned long long>(ps.bytes_out),
              static_cast<unsigned long long>(ps.messages_out), ps.chunk_size_out,
              static_cast<unsigned long long>(ps.acks_received));
  std::printf("  player in: %llu bytes (server chunk size %u); acks sent %llu\n",
              static_cast<unsigned long long>(pc.bytes_in), ss.chunk_size_out,
              static_cast<unsigned long long>(pc.acks_sent));

  std::printf("[4] teardown\n");
  if (last<PlayStopped>(player.client_events))
    std::printf("  player: %s\n", last<PlayStopped>(player.client_events)->status_code.c_str());
  if (last<Unpublished>(pub.server_events))
    std::printf("  server: publisher unpublished stream %u\n",
                last<Unpublished>(pub.server_events)->stream_id);

  const bool errors = report_errors(pub) | report_errors(player);
  const bool ok = !errors && received == sent.size() && intact == sent.size() &&
                  relayed == sent.size() && last<PlayStopped>(player.client_events) &&
                  last<Unpublished>(pub.server_events);
  std::printf("%s\n", ok ? "OK: every message arrived intact" : "FAILED");
  return ok ? 0 : 1;
}
