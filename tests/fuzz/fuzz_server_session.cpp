// libFuzzer target: the session state machines fed hostile chunk streams.
//
// Input: one mode byte, then the bytes a peer sends after the handshake (RTMP 1.0 section 5.3
// chunk stream). The harness completes a real handshake first so that the fuzzer spends its time
// on the chunk, control and command layers. Mode bit 0 picks the role under test (0: a
// ServerSession fed client bytes, 1: a ClientSession fed server bytes); bits 1..7 pick the
// fragment size of the feed. Requests are answered as an application would (accept or reject,
// chosen from the input), so that every state is reachable.
//
// Invariants: no crash, no sanitizer report, a fatal Error is followed by the session being
// closed, and output stays proportional to input (no amplification without bound).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/client_session.hpp"
#include "core/server_session.hpp"

namespace {

using namespace rtmp;

HandshakeOptions fixed_handshake() {
  HandshakeOptions o;
  o.scheme = HandshakeScheme::plain;
  o.random_fill = [](std::span<std::uint8_t> out) {
    std::uint8_t v = 7;
    for (auto &b : out)
      b = v = static_cast<std::uint8_t>(v * 37 + 11);
  };
  return o;
}

void check(bool ok) {
  if (!ok)
    std::abort();
}

template <typename Session> void drain_and_answer(Session &s, std::uint8_t choice, Millis now) {
  while (auto e = s.poll_event()) {
    if (auto *err = std::get_if<Error>(&*e))
      check(!err->fatal || s.closed());
    if constexpr (std::is_same_v<Session, ServerSession>) {
      const bool accept = (choice & 1) == 0;
      if (std::holds_alternative<ConnectRequest>(*e)) {
        if (accept)
          s.accept_connect(now);
        else
          s.reject_connect("NetConnection.Connect.Rejected", "fuzz");
      } else if (auto *p = std::get_if<PublishRequest>(&*e)) {
        if (accept)
          s.accept_publish(p->stream_id);
        else
          s.reject_publish(p->stream_id, "NetStream.Publish.BadName", "fuzz");
      } else if (auto *q = std::get_if<PlayRequest>(&*e)) {
        if (accept) {
          s.accept_play(q->stream_id);
          const std::uint8_t frame[] = {0xAF, 0x01, 0x21};
          s.send_media(q->stream_id, MessageType::audio, 0, frame);
          s.end_stream(q->stream_id);
        } else {
          s.reject_play(q->stream_id, "NetStream.Play.StreamNotFound", "fuzz");
        }
      }
    } else {
      if (std::holds_alternative<Connected>(*e)) {
        s.create_stream(now);
      } else if (auto *c = std::get_if<StreamCreated>(&*e)) {
        if (choice & 1)
          s.play(c->stream_id, "x", -2, -1, true, now);
        else
          s.publish(c->stream_id, "x", "live", now);
      } else if (auto *p = std::get_if<PublishStarted>(&*e)) {
        const std::uint8_t frame[] = {0x17, 0x01, 0, 0, 0};
        s.send_media(p->stream_id, MessageType::video, 40, frame);
      }
    }
  }
}

template <typename Session>
void run(Session &s, HandshakeServer *peer_server, HandshakeClient *peer_client,
         const std::uint8_t *data, std::size_t size, std::size_t step, std::uint8_t choice) {
  Millis now{0};
  s.start(now);
  // Handshake with a real peer.
  Bytes to_peer = s.take_output(), to_session;
  if (peer_client) {
    to_session = peer_client->start();
    check(s.receive(to_session, now) == std::error_code{});
    to_session.clear();
    to_peer = s.take_output();
    check(peer_client->receive(to_peer, to_session).ok());
  } else {
    check(peer_server->receive(to_peer, to_session).ok());
  }
  check(s.receive(to_session, now) == std::error_code{});
  drain_and_answer(s, choice, now);
  std::size_t out_bytes = s.take_output().size();

  for (std::size_t pos = 0; pos < size && !s.closed(); pos += step) {
    const std::size_t n = std::min(step, size - pos);
    now += Millis(1);
    s.receive(ByteView(data + pos, n), now);
    drain_and_answer(s, choice, now);
    out_bytes += s.take_output().size();
    if (auto d = s.next_deadline(); d && *d <= now) {
      s.on_timer(now);
      drain_and_answer(s, choice, now);
    }
  }
  // Each input byte may cost a reply (a one-byte ping request chunk answered with a full
  // message); bound the ratio generously but finitely.
  check(out_bytes <= 64 * size + 64 * 1024);
  s.peer_closed();
  drain_and_answer(s, choice, now);
  check(s.closed());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size < 1)
    return 0;
  const std::uint8_t mode = data[0];
  const std::size_t step = 1 + (static_cast<std::size_t>(mode >> 1) * 37) % 4096;
  const std::uint8_t choice = size > 1 ? data[size - 1] : 0;
  if ((mode & 1) == 0) {
    ServerConfig cfg;
    cfg.handshake = fixed_handshake();
    cfg.limits.max_message_size = 1 << 20;
    cfg.limits.max_buffered_bytes = 4 << 20;
    ServerSession s(cfg);
    HandshakeClient peer(fixed_handshake());
    run(s, nullptr, &peer, data + 1, size - 1, step, choice);
  } else {
    ClientConfig cfg;
    cfg.app = "live";
    cfg.tc_url = "rtmp://127.0.0.1/live";
    cfg.handshake = fixed_handshake();
    cfg.limits.max_message_size = 1 << 20;
    cfg.limits.max_buffered_bytes = 4 << 20;
    ClientSession s(cfg);
    HandshakeServer peer(fixed_handshake());
    run(s, &peer, nullptr, data + 1, size - 1, step, choice);
  }
  return 0;
}
