// libFuzzer target for the RTMP handshake (RTMP 1.0 5.2) in both roles.
//
// Input: byte 0 selects the mode and options, byte 1 the chunk size the rest is fed in; the
// rest is peer bytes:
//   mode 0: C0C1C2 to a server          mode 1: S0S1S2 to a client (after start())
//   mode 2: a valid C0C1 from our client, then the input as C2
//   mode 3: our server's answer to our client, XORed with the input
// Invariants checked: never more consumed than given, outputs only of handshake sizes, errors
// sticky, done() only after complete input.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/handshake.hpp"

namespace {

using namespace rtmp;

void check(bool ok) {
  if (!ok)
    std::abort();
}

HandshakeOptions fuzz_options(std::uint8_t flags, std::uint8_t seed) {
  HandshakeOptions o;
  o.scheme = (flags & 0x04) ? HandshakeScheme::plain : HandshakeScheme::digest;
  o.strict_echo = !(flags & 0x08);
  o.epoch = seed;
  // Deterministic "random" bytes so that crashes reproduce.
  o.random_fill = [seed](std::span<std::uint8_t> out) {
    std::uint8_t x = seed;
    for (auto &b : out)
      b = x = static_cast<std::uint8_t>(x * 33 + 7);
  };
  return o;
}

template <typename M>
void drive(M &m, rtmp::ByteView in, std::size_t chunk, Bytes &out, std::size_t max_out) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t n = std::min(chunk, in.size() - pos);
    auto r = m.receive(in.subspan(pos, n), out);
    if (!r.ok()) {
      check(m.failed() || error_origin(r.error()) == ErrorOrigin::local);
      auto again = m.receive(in.subspan(pos, n), out);
      check(!again.ok());
      return;
    }
    check(*r <= n);
    check(out.size() <= max_out);
    pos += *r;
    if (m.done())
      return;
    check(*r == n); // an unfinished handshake takes everything
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size < 2)
    return 0;
  const std::uint8_t flags = data[0];
  const std::size_t chunk = static_cast<std::size_t>(data[1]) * 16 + 1;
  const ByteView in(data + 2, size - 2);
  constexpr std::size_t kReply = 1 + 2 * kHandshakeSize;

  switch (flags & 0x03) {
  case 0: {
    HandshakeServer server(fuzz_options(flags, data[1]));
    Bytes out;
    drive(server, in, chunk, out, kReply);
    check(out.empty() || out.size() == kReply);
    break;
  }
  case 1: {
    HandshakeClient client(fuzz_options(flags, data[1]));
    check(client.start().size() == 1 + kHandshakeSize);
    Bytes out;
    drive(client, in, chunk, out, kHandshakeSize);
    check(out.empty() || out.size() == kHandshakeSize);
    break;
  }
  case 2: {
    HandshakeClient client(fuzz_options(flags ^ 0x04, 1));
    HandshakeServer server(fuzz_options(flags, 2));
    Bytes reply;
    auto r = server.receive(client.start(), reply);
    check(r.ok() && reply.size() == kReply);
    drive(server, in, chunk, reply, kReply);
    check(!server.done() || in.size() >= kHandshakeSize);
    break;
  }
  default: {
    HandshakeClient client(fuzz_options(flags, 1));
    HandshakeServer server(fuzz_options(flags ^ 0x04, 2));
    Bytes reply;
    auto r = server.receive(client.start(), reply);
    check(r.ok() && reply.size() == kReply);
    for (std::size_t i = 0; i < in.size() && i < reply.size(); ++i)
      reply[i] ^= in[i];
    Bytes c2;
    drive(client, reply, chunk, c2, kHandshakeSize);
    break;
  }
  }
  return 0;
}
