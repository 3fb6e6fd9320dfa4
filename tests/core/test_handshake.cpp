// Tests of the RTMP handshake (RTMP 1.0 section 5.2) in both roles and both forms, including
// replays of real FFmpeg and nginx-rtmp handshakes captured by tests/tools/handshake_capture.py.
#include <gtest/gtest.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/handshake.hpp"

#include "test_hex.hpp"

namespace rtmp {
namespace {

namespace hd = handshake_digest;
using test::hex;

constexpr std::size_t kC0C1 = 1 + kHandshakeSize;
constexpr std::size_t kS0S1S2 = 1 + 2 * kHandshakeSize;

Bytes load(const std::string &name) {
  std::ifstream f(std::string(TEST_DATA_DIR) + "/handshake/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing test data " << name;
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Bytes slice(const Bytes &b, std::size_t from, std::size_t n) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from),
               b.begin() + static_cast<std::ptrdiff_t>(from + n));
}

// A random_fill that hands out queued byte strings in order (the bytes a real peer used), then
// pseudo-random bytes from a fixed seed.
std::function<void(std::span<std::uint8_t>)> replay_fill(std::vector<Bytes> queue,
                                                         unsigned seed = 1) {
  struct State {
    std::vector<Bytes> queue;
    std::size_t next = 0;
    std::mt19937 rng;
  };
  auto st = std::make_shared<State>(State{std::move(queue), 0, std::mt19937(seed)});
  return [st](std::span<std::uint8_t> out) {
    if (st->next < st->queue.size()) {
      const Bytes &b = st->queue[st->next++];
      ASSERT_EQ(b.size(), out.size());
      std::copy(b.begin(), b.end(), out.begin());
      return;
    }
    for (auto &x : out)
      x = static_cast<std::uint8_t>(st->rng());
  };
}

HandshakeOptions options(HandshakeScheme scheme, unsigned seed, std::uint32_t epoch = 0) {
  HandshakeOptions o;
  o.scheme = scheme;
  o.epoch = epoch;
  o.random_fill = replay_fill({}, seed);
  return o;
}

// An HMAC-SHA256 written against GLib directly, so that the "what FFmpeg accepts" checks below
// do not reuse the code under test.
std::array<std::uint8_t, 32> ref_hmac(ByteView key, ByteView a, ByteView b = {}) {
  GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key.data(), key.size());
  g_hmac_update(h, a.data(), static_cast<gssize>(a.size()));
  if (!b.empty())
    g_hmac_update(h, b.data(), static_cast<gssize>(b.size()));
  std::array<std::uint8_t, 32> out{};
  gsize len = out.size();
  g_hmac_get_digest(h, out.data(), &len);
  g_hmac_unref(h);
  return out;
}

const Bytes kKeyTail = hex("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae");

Bytes text_key(std::string_view text) {
  Bytes k(text.begin(), text.end());
  k.insert(k.end(), kKeyTail.begin(), kKeyTail.end());
  return k;
}

// FFmpeg's rtmp_validate_digest(): digest position from 4 bytes at `off`, key given.
bool ref_digest_at(ByteView packet, std::size_t off, ByteView key, std::size_t &pos) {
  pos = (packet[off] + packet[off + 1] + packet[off + 2] + packet[off + 3]) % 728 + off + 4;
  const auto d = ref_hmac(key, packet.first(pos), packet.subspan(pos + 32));
  return std::equal(d.begin(), d.end(), packet.begin() + static_cast<std::ptrdiff_t>(pos));
}

// What FFmpeg (libavformat/rtmpproto.c rtmp_handshake, as a player) requires of S1 and S2 for
// its C1 whose digest sits at `c1_pos`: a server digest at the 772 or the 8 position with the
// 36-byte FMS key, and S2's last 32 bytes = HMAC(HMAC(68-byte FMS key, C1 digest), S2[0..1504)).
bool ffmpeg_accepts(ByteView c1, std::size_t c1_pos, ByteView s1, ByteView s2) {
  const Bytes fms = text_key("Genuine Adobe Flash Media Server 001");
  std::size_t spos = 0;
  if (s1[4] < 3)
    return false;
  if (!ref_digest_at(s1, 772, ByteView(fms).first(36), spos) &&
      !ref_digest_at(s1, 8, ByteView(fms).first(36), spos))
    return false;
  const auto key = ref_hmac(fms, c1.subspan(c1_pos, 32));
  const auto sig = ref_hmac(key, s2.first(1504));
  return std::equal(sig.begin(), sig.end(), s2.begin() + 1504);
}

// Feeds `pending` to `m` in chunks of the sizes `next_size` returns; appends what `m` sends to
// `out` and removes what it consumed from `pending`.
template <typename M, typename Sizes>
void feed(M &m, Bytes &pending, Bytes &out, Sizes &&next_size) {
  while (!pending.empty() && !m.done()) {
    const std::size_t n = std::min(pending.size(), next_size());
    auto r = m.receive(ByteView(pending).first(n), out);
    ASSERT_TRUE(r.ok()) << r.error().message() << ": " << m.error_detail();
    ASSERT_EQ(*r, n) << "an unfinished handshake consumes everything it is given";
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

template <typename Sizes>
void run_pair(HandshakeClient &client, HandshakeServer &server, Sizes &&next_size) {
  Bytes to_server = client.start();
  Bytes to_client;
  for (int round = 0; round < 4 && !(client.done() && server.done()); ++round) {
    feed(server, to_server, to_client, next_size);
    feed(client, to_client, to_server, next_size);
  }
  EXPECT_TRUE(client.done());
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(to_server.empty());
  EXPECT_TRUE(to_client.empty());
}

// --- Digest arithmetic: known answers ------------------------------------------------------

TEST(HandshakeDigest, HmacSha256MatchesRfc4231TestCase2) {
  const auto d = hd::hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(Bytes(d.begin(), d.end()),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST(HandshakeDigest, KeysAreTheGenuineAdobeKeys) {
  EXPECT_EQ(Bytes(hd::kPlayerKey.begin(), hd::kPlayerKey.end()),
            text_key("Genuine Adobe Flash Player 001"));
  EXPECT_EQ(Bytes(hd::kServerKey.begin(), hd::kServerKey.end()),
            text_key("Genuine Adobe Flash Media Server 001"));
  EXPECT_EQ(hd::player_partial_key().size(), 30u);
  EXPECT_EQ(hd::server_partial_key().size(), 36u);
}

TEST(HandshakeDigest, OffsetIsTheSumOfFourBytesModulo728) {
  Bytes p(kHandshakeSize, 0);
  EXPECT_EQ(hd::digest_offset(p, false), 12u);          // scheme 0: bytes 8..11 sum to 0
  EXPECT_EQ(hd::digest_offset(p, true), 776u);          // scheme 1: bytes 772..775 sum to 0
  p[8] = 0x01, p[9] = 0x02, p[10] = 0x03, p[11] = 0x04; // 10
  EXPECT_EQ(hd::digest_offset(p, false), 22u);
  p[8] = p[9] = p[10] = p[11] = 0xff; // 1020 % 728 = 292
  EXPECT_EQ(hd::digest_offset(p, false), 304u);
  p[8] = 0xff, p[9] = 0xff, p[10] = 0xd9, p[11] = 0x00; // 727: the last position, 739..770
  EXPECT_EQ(hd::digest_offset(p, false), 739u);
  p[772] = p[773] = p[774] = p[775] = 0xff;
  EXPECT_EQ(hd::digest_offset(p, true), 1068u);
  p[772] = 0xff, p[773] = 0xff, p[774] = 0xd9, p[775] = 0x00; // digest ends at byte 1535
  EXPECT_EQ(hd::digest_offset(p, true), 1503u);
}

TEST(HandshakeDigest, KnownDigestsOfAZeroPacket) {
  // Expected values computed with Python's hmac module (see handshake_capture.py).
  const Bytes zero(kHandshakeSize, 0);
  auto d = hd::packet_digest(zero, 12, hd::player_partial_key());
  EXPECT_EQ(Bytes(d.begin(), d.end()),
            hex("48568ca3c957d19edd1d11d5a3dc2205f432d23464a3dcb849a22c91822a65d0"));

  std::array<std::uint8_t, kHandshakeSize> s1{};
  s1[772] = s1[773] = s1[774] = s1[775] = 0xff;
  EXPECT_EQ(hd::imprint(s1, true, hd::server_partial_key()), 1068u);
  EXPECT_EQ(slice(Bytes(s1.begin(), s1.end()), 1068, 32),
            hex("70d0dfe56382f6a90d6592642ea7a9c9c746468f2e68ca4f6dfb7c926bbb7540"));
  EXPECT_EQ(hd::find_digest(s1, hd::server_partial_key()), 1068u);
  EXPECT_EQ(hd::find_digest(s1, hd::player_partial_key()), std::nullopt);

  const Bytes zero32(32, 0);
  d = hd::reply_signature(zero, hd::kServerKey, zero32);
  EXPECT_EQ(Bytes(d.begin(), d.end()),
            hex("6ed73ae4a999bf1cbb935655d0b0ef62f5575e73956bd94bdb20ab2c23b67522"));
}

TEST(HandshakeDigest, FfmpegC1CarriesAValidScheme0Digest) {
  const Bytes c0c1 = load("ffmpeg_publish_c0c1.bin");
  ASSERT_EQ(c0c1.size(), kC0C1);
  const ByteView c1 = ByteView(c0c1).subspan(1);
  // FFmpeg: uptime 0, version 9.0.124.2 (rtmp.h RTMP_CLIENT_VER*), digest in the first half.
  EXPECT_EQ(slice(c0c1, 0, 9), hex("03 00000000 09007c02"));
  EXPECT_EQ(hd::find_digest(c1, hd::player_partial_key()), 494u);
  EXPECT_EQ(hd::digest_offset(c1, false), 494u);
  Bytes broken(c1.begin(), c1.end());
  broken[1000] ^= 1;
  EXPECT_EQ(hd::find_digest(broken, hd::player_partial_key()), std::nullopt);
}

// --- Our client against our server -----------------------------------------------------------

TEST(Handshake, DigestClientAndServerOneShot) {
  HandshakeOptions co = options(HandshakeScheme::digest, 1, 1234);
  co.version = {11, 2, 202, 235};
  HandshakeOptions so = options(HandshakeScheme::digest, 2, 5678);
  so.version = {5, 0, 3, 1};
  HandshakeClient client(co);
  HandshakeServer server(so);
  run_pair(client, server, [] { return std::size_t{100000}; });
  EXPECT_TRUE(client.peer_used_digest());
  EXPECT_TRUE(server.peer_used_digest());
  EXPECT_EQ(client.peer_epoch(), 5678u);
  EXPECT_EQ(server.peer_epoch(), 1234u);
  EXPECT_EQ(client.peer_version(), 3);
  EXPECT_EQ(server.peer_version(), 3);
  EXPECT_EQ(server.peer_software_version(), (std::array<std::uint8_t, 4>{11, 2, 202, 235}));
  EXPECT_EQ(client.peer_software_version(), (std::array<std::uint8_t, 4>{5, 0, 3, 1}));
  EXPECT_TRUE(client.echo_verified());
  EXPECT_TRUE(server.echo_verified());
}

TEST(Handshake, PlainClientGetsPlainAnswer) {
  HandshakeClient client(options(HandshakeScheme::plain, 1, 7));
  HandshakeServer server(options(HandshakeScheme::digest, 2, 9));
  const Bytes c0c1 = client.start();
  ASSERT_EQ(c0c1.size(), kC0C1);
  EXPECT_EQ(slice(c0c1, 0, 9), hex("03 00000007 00000000")); // RTMP 1.0 5.2.3: zero field
  Bytes s0s1s2;
  auto r = server.receive(c0c1, s0s1s2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kC0C1);
  ASSERT_EQ(s0s1s2.size(), kS0S1S2);
  EXPECT_EQ(slice(s0s1s2, 0, 9), hex("03 00000009 00000000"));
  EXPECT_EQ(slice(s0s1s2, 1 + kHandshakeSize, kHandshakeSize), slice(c0c1, 1, kHandshakeSize))
      << "plain S2 repeats C1 whole, as nginx-rtmp does";
  EXPECT_FALSE(server.peer_used_digest());
  Bytes c2;
  r = client.receive(s0s1s2, c2);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(client.done());
  EXPECT_EQ(c2, slice(s0s1s2, 1, kHandshakeSize)) << "plain C2 repeats S1";
  Bytes none;
  r = server.receive(c2, none);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(client.peer_used_digest());
}

TEST(Handshake, PlainServerAnswersDigestClientPlainly) {
  HandshakeClient client(options(HandshakeScheme::digest, 1));
  HandshakeServer server(options(HandshakeScheme::plain, 2));
  run_pair(client, server, [] { return std::size_t{4096}; });
  EXPECT_TRUE(server.peer_used_digest()) << "the client did sign its C1";
  EXPECT_FALSE(client.peer_used_digest()) << "but our S1 carries no digest";
}

TEST(Handshake, ServerAnswersScheme1ClientInScheme1) {
  // A C1 with its digest in the second half, as RTMPE-era clients send.
  std::array<std::uint8_t, kHandshakeSize> c1{};
  std::mt19937 rng(5);
  for (auto &b : c1)
    b = static_cast<std::uint8_t>(rng());
  c1[4] = 9, c1[5] = 0, c1[6] = 115, c1[7] = 0;
  const std::size_t at = hd::imprint(c1, true, hd::player_partial_key());
  ASSERT_GE(at, 776u);
  Bytes in{3};
  in.insert(in.end(), c1.begin(), c1.end());
  HandshakeServer server(options(HandshakeScheme::digest, 3));
  Bytes out;
  ASSERT_TRUE(server.receive(in, out).ok());
  ASSERT_EQ(out.size(), kS0S1S2);
  EXPECT_TRUE(server.peer_used_digest());
  const ByteView s1 = ByteView(out).subspan(1, kHandshakeSize);
  const auto found = hd::find_digest(s1, hd::server_partial_key());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, hd::digest_offset(s1, true)) << "S1 digest in the client's scheme";
  EXPECT_TRUE(ffmpeg_accepts(c1, at, s1, ByteView(out).subspan(1 + kHandshakeSize)));
}

TEST(Handshake, ByteAtATime) {
  for (auto scheme : {HandshakeScheme::plain, HandshakeScheme::digest}) {
    HandshakeClient client(options(scheme, 1));
    HandshakeServer server(options(HandshakeScheme::digest, 2));
    run_pair(client, server, [] { return std::size_t{1}; });
    EXPECT_EQ(client.peer_used_digest(), scheme == HandshakeScheme::digest);
  }
}

TEST(Handshake, RandomSplitsGiveTheSameBytes) {
  // The same seeds with one-shot delivery and with random splits must produce identical output.
  auto transcript = [](auto sizes) {
    HandshakeClient client(options(HandshakeScheme::digest, 11));
    HandshakeServer server(options(HandshakeScheme::digest, 12));
    Bytes c2s = client.start();
    Bytes all_c2s = c2s;
    Bytes s2c;
    feed(server, c2s, s2c, sizes);
    Bytes all_s2c = s2c;
    Bytes c2;
    feed(client, s2c, c2, sizes);
    all_c2s.insert(all_c2s.end(), c2.begin(), c2.end());
    feed(server, c2, s2c, sizes);
    EXPECT_TRUE(client.done() && server.done());
    return std::make_pair(all_c2s, all_s2c);
  };
  const auto reference = transcript([] { return std::size_t{1} << 20; });
  for (unsigned seed = 0; seed < 20; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> dist(1, 2000);
    EXPECT_EQ(transcript([&] { return dist(rng); }), reference) << "seed " << seed;
  }
}

TEST(Handshake, TrailingBytesBelongToTheChunkStream) {
  HandshakeClient client(options(HandshakeScheme::digest, 1));
  HandshakeServer server(options(HandshakeScheme::digest, 2));
  Bytes c0c1 = client.start();
  Bytes s0s1s2;
  ASSERT_TRUE(server.receive(c0c1, s0s1s2).ok());
  const Bytes chunk = hex("02 000000 000004 01 00000000 00001000"); // Set Chunk Size (5.4.1)
  Bytes wire = s0s1s2;
  wire.insert(wire.end(), chunk.begin(), chunk.end());
  Bytes c2;
  auto r = client.receive(wire, c2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kS0S1S2);
  EXPECT_TRUE(client.done());
  c2.insert(c2.end(), chunk.begin(), chunk.end());
  Bytes none;
  r = server.receive(c2, none);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kHandshakeSize);
  EXPECT_TRUE(server.done());
}

// --- Truncation: every split point -----------------------------------------------------------

TEST(Handshake, ServerInputTruncatedAtEveryOffset) {
  // Reference: the whole C0C1C2 of a digest client in one piece.
  HandshakeClient client(options(HandshakeScheme::digest, 1));
  HandshakeServer ref_server(options(HandshakeScheme::digest, 2));
  Bytes wire = client.start();
  Bytes s0s1s2;
  ASSERT_TRUE(ref_server.receive(wire, s0s1s2).ok());
  Bytes c2;
  ASSERT_TRUE(client.receive(s0s1s2, c2).ok());
  wire.insert(wire.end(), c2.begin(), c2.end());

  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    HandshakeServer server(options(HandshakeScheme::digest, 2));
    Bytes out;
    auto r = server.receive(ByteView(wire).first(cut), out);
    ASSERT_TRUE(r.ok()) << cut;
    ASSERT_EQ(*r, cut);
    ASSERT_EQ(server.done(), cut == wire.size()) << cut;
    ASSERT_EQ(out.empty(), cut < kC0C1) << "S0S1S2 only once C0C1 are complete, cut " << cut;
    if (cut < wire.size()) {
      r = server.receive(ByteView(wire).subspan(cut), out);
      ASSERT_TRUE(r.ok()) << cut;
    }
    ASSERT_TRUE(server.done()) << cut;
    ASSERT_EQ(out, s0s1s2) << cut;
  }
}

TEST(Handshake, ClientInputTruncatedAtEveryOffset) {
  HandshakeServer server(options(HandshakeScheme::digest, 2));
  HandshakeClient ref(options(HandshakeScheme::digest, 1));
  Bytes s0s1s2;
  ASSERT_TRUE(server.receive(ref.start(), s0s1s2).ok());
  Bytes ref_c2;
  ASSERT_TRUE(ref.receive(s0s1s2, ref_c2).ok());
  ASSERT_TRUE(ref.done());

  for (std::size_t cut = 0; cut <= s0s1s2.size(); ++cut) {
    HandshakeClient client(options(HandshakeScheme::digest, 1));
    client.start();
    Bytes c2;
    auto r = client.receive(ByteView(s0s1s2).first(cut), c2);
    ASSERT_TRUE(r.ok()) << cut;
    ASSERT_EQ(*r, cut);
    ASSERT_EQ(client.done(), cut == s0s1s2.size()) << cut;
    ASSERT_EQ(c2.empty(), cut < kC0C1) << "C2 once S0S1 are complete, cut " << cut;
    if (cut < s0s1s2.size()) {
      r = client.receive(ByteView(s0s1s2).subspan(cut), c2);
      ASSERT_TRUE(r.ok()) << cut;
    }
    ASSERT_TRUE(client.done()) << cut;
    ASSERT_EQ(c2, ref_c2) << cut;
  }
}

// --- Versions, garbage, limits ---------------------------------------------------------------

TEST(Handshake, VersionByteIsCheckedAsSoonAsItArrives) {
  struct Case {
    std::uint8_t version;
    Errc expected;
    const char *detail_word;
  };
  // RTMP 1.0 5.2.2: 0..2 deprecated, 3 current, 4..31 reserved, >= 32 not RTMP. 6/8/9: RTMPE.
  const Case cases[] = {
      {0, Errc::handshake_bad_version, "older"},
      {2, Errc::handshake_bad_version, "older"},
      {4, Errc::handshake_bad_version, "only 3"},
      {6, Errc::unsupported, "RTMPE"},
      {8, Errc::unsupported, "RTMPE"},
      {9, Errc::unsupported, "RTMPE"},
      {0x16, Errc::handshake_bad_version, "TLS"},
      {31, Errc::handshake_bad_version, "only 3"},
      {'G', Errc::handshake_bad_version, "HTTP"},
      {255, Errc::handshake_bad_version, "HTTP"},
  };
  for (const Case &c : cases) {
    HandshakeServer server;
    Bytes out;
    const Bytes c0{c.version};
    auto r = server.receive(c0, out);
    ASSERT_FALSE(r.ok()) << int(c.version);
    EXPECT_EQ(r.error(), make_error_code(c.expected)) << int(c.version);
    EXPECT_NE(server.error_detail().find(c.detail_word), std::string_view::npos)
        << server.error_detail();
    EXPECT_EQ(error_origin(r.error()), ErrorOrigin::peer);
    EXPECT_TRUE(out.empty());
    EXPECT_TRUE(server.failed());
    // Sticky: the same error again, whatever comes next.
    r = server.receive(Bytes(10, 3), out);
    EXPECT_EQ(r.error(), make_error_code(c.expected));

    HandshakeClient client;
    client.start();
    r = client.receive(c0, out);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), make_error_code(c.expected)) << int(c.version);
  }
}

TEST(Handshake, GarbageC1GetsAPlainAnswer) {
  Bytes c0c1(kC0C1);
  std::mt19937 rng(99);
  for (auto &b : c0c1)
    b = static_cast<std::uint8_t>(rng());
  c0c1[0] = 3;
  HandshakeServer server(options(HandshakeScheme::digest, 2));
  Bytes out;
  ASSERT_TRUE(server.receive(c0c1, out).ok());
  EXPECT_FALSE(server.peer_used_digest());
  EXPECT_EQ(slice(out, 5, 4), hex("00000000"));
  EXPECT_EQ(slice(out, 1 + kHandshakeSize, kHandshakeSize), slice(c0c1, 1, kHandshakeSize));
}

TEST(Handshake, ServerRejectsC2ThatIsNeitherEchoNorSigned) {
  for (bool strict : {true, false}) {
    for (auto scheme : {HandshakeScheme::plain, HandshakeScheme::digest}) {
      HandshakeClient client(options(scheme, 1));
      HandshakeOptions so = options(HandshakeScheme::digest, 2);
      so.strict_echo = strict;
      HandshakeServer server(so);
      Bytes s0s1s2;
      ASSERT_TRUE(server.receive(client.start(), s0s1s2).ok());
      Bytes c2;
      ASSERT_TRUE(client.receive(s0s1s2, c2).ok());
      c2[kHandshakeSize - 1] ^= 0x80; // last byte: in the echo and in the signature
      Bytes none;
      auto r = server.receive(c2, none);
      if (strict) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), make_error_code(Errc::handshake_bad_echo));
        EXPECT_FALSE(server.done());
      } else {
        ASSERT_TRUE(r.ok());
        EXPECT_TRUE(server.done());
        EXPECT_FALSE(server.echo_verified());
      }
    }
  }
}

TEST(Handshake, ClientRejectsS2ThatIsNeitherEchoNorSigned) {
  for (auto scheme : {HandshakeScheme::plain, HandshakeScheme::digest}) {
    for (std::size_t flip : {std::size_t{8}, std::size_t{700}, kHandshakeSize - 1}) {
      HandshakeClient client(options(scheme, 1));
      HandshakeServer server(options(HandshakeScheme::digest, 2));
      Bytes s0s1s2;
      ASSERT_TRUE(server.receive(client.start(), s0s1s2).ok());
      s0s1s2[1 + kHandshakeSize + flip] ^= 1;
      Bytes c2;
      auto r = client.receive(s0s1s2, c2);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error(), make_error_code(Errc::handshake_bad_echo));
      EXPECT_FALSE(client.error_detail().empty());
      EXPECT_EQ(c2.size(), kHandshakeSize) << "C2 went out before S2 arrived";
    }
  }
}

TEST(Handshake, EchoIgnoresTime2) {
  // RTMP 1.0 5.2.4: bytes 4..7 of C2/S2 are the peer's time2; FFmpeg's listener zeroes them.
  HandshakeClient client(options(HandshakeScheme::plain, 1, 77));
  HandshakeServer server(options(HandshakeScheme::digest, 2));
  Bytes s0s1s2;
  ASSERT_TRUE(server.receive(client.start(), s0s1s2).ok());
  s0s1s2[1 + kHandshakeSize + 5] ^= 0xff;
  Bytes c2;
  ASSERT_TRUE(client.receive(s0s1s2, c2).ok());
  EXPECT_TRUE(client.done());
}

TEST(Handshake, CorruptS1DigestFallsBackToPlain) {
  HandshakeClient client(options(HandshakeScheme::digest, 1));
  HandshakeServer server(options(HandshakeScheme::digest, 2));
  Bytes s0s1s2;
  ASSERT_TRUE(server.receive(client.start(), s0s1s2).ok());
  s0s1s2[1 + 1000] ^= 1; // inside S1, outside any digest-offset byte
  Bytes c2;
  auto r = client.receive(s0s1s2, c2);
  ASSERT_TRUE(r.ok()) << "S2 is still signed for our C1 digest";
  EXPECT_FALSE(client.peer_used_digest());
  EXPECT_EQ(c2, slice(s0s1s2, 1, kHandshakeSize)) << "plain C2 echoes S1";
}

TEST(Handshake, ApiMisuseIsALocalError) {
  HandshakeClient client;
  Bytes out;
  auto r = client.receive(Bytes{3}, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), make_error_code(Errc::invalid_state));
  EXPECT_EQ(error_origin(r.error()), ErrorOrigin::local);

  HandshakeClient c(options(HandshakeScheme::digest, 1));
  HandshakeServer s(options(HandshakeScheme::digest, 2));
  run_pair(c, s, [] { return std::size_t{5000}; });
  EXPECT_TRUE(c.start().empty()) << "start() twice";
  EXPECT_EQ(c.receive(Bytes{1}, out).error(), make_error_code(Errc::invalid_state));
  EXPECT_EQ(s.receive(Bytes{1}, out).error(), make_error_code(Errc::invalid_state));
}

TEST(Handshake, DefaultRandomSourceDiffersBetweenRuns) {
  HandshakeClient a, b;
  EXPECT_NE(a.start(), b.start());
}

// --- Real peers ------------------------------------------------------------------------------

// A client that writes exactly FFmpeg's C1 (same uptime, version and random bytes).
HandshakeOptions ffmpeg_like_client(const Bytes &ffmpeg_c0c1) {
  HandshakeOptions o;
  o.epoch = 0;
  o.version = {9, 0, 124, 2};
  o.random_fill = replay_fill({slice(ffmpeg_c0c1, 9, kHandshakeSize - 8)});
  return o;
}

// A server that writes exactly the S1/S2 of a captured answer (same random bytes).
HandshakeOptions server_replaying(const Bytes &s0s1s2) {
  HandshakeOptions o;
  o.epoch = 0;
  o.version = {4, 5, 0, 1};
  o.random_fill =
      replay_fill({slice(s0s1s2, 9, kHandshakeSize - 8), slice(s0s1s2, 1 + kHandshakeSize, 1504)});
  return o;
}

TEST(HandshakeRealPeers, OurDigestC1IsByteIdenticalToFfmpegs) {
  const Bytes ffmpeg = load("ffmpeg_publish_c0c1.bin");
  HandshakeClient client(ffmpeg_like_client(ffmpeg));
  EXPECT_EQ(client.start(), ffmpeg);
}

TEST(HandshakeRealPeers, ServerAgainstFfmpegPublisher) {
  const Bytes c0c1 = load("ffmpeg_publish_c0c1.bin");
  const Bytes answer = load("ffmpeg_publish_s0s1s2.bin");
  const Bytes c2 = load("ffmpeg_publish_c2.bin");
  HandshakeServer server(server_replaying(answer));
  Bytes out;
  ASSERT_TRUE(server.receive(c0c1, out).ok());
  EXPECT_TRUE(server.peer_used_digest());
  EXPECT_EQ(server.peer_software_version(), (std::array<std::uint8_t, 4>{9, 0, 124, 2}));
  EXPECT_EQ(out, answer) << "same bytes as the independent Python implementation";
  // FFmpeg as a publisher does not verify S1 and sends it back whole as C2.
  EXPECT_EQ(c2, slice(answer, 1, kHandshakeSize));
  Bytes none;
  ASSERT_TRUE(server.receive(c2, none).ok());
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(server.echo_verified());
}

TEST(HandshakeRealPeers, ServerAgainstFfmpegPlayer) {
  // FFmpeg as a player verified this S1 and S2 (it sent C2 instead of "Signature mismatch").
  const Bytes c0c1 = load("ffmpeg_play_c0c1.bin");
  const Bytes answer = load("ffmpeg_play_s0s1s2.bin");
  const Bytes c2 = load("ffmpeg_play_c2.bin");
  HandshakeServer server(server_replaying(answer));
  Bytes out;
  ASSERT_TRUE(server.receive(c0c1, out).ok());
  EXPECT_EQ(out, answer);
  EXPECT_NE(c2, slice(answer, 1, kHandshakeSize)) << "a player signs C2 instead of echoing";
  Bytes none;
  ASSERT_TRUE(server.receive(c2, none).ok()) << server.error_detail();
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(server.echo_verified());
}

TEST(HandshakeRealPeers, ServerS2PassesFfmpegsCheckWithFreshRandom) {
  const Bytes c0c1 = load("ffmpeg_play_c0c1.bin");
  for (unsigned seed = 0; seed < 8; ++seed) {
    HandshakeOptions so = options(HandshakeScheme::digest, seed);
    so.version = {5, 0, 3, 1};
    HandshakeServer server(so);
    Bytes out;
    ASSERT_TRUE(server.receive(c0c1, out).ok());
    const ByteView v(out);
    EXPECT_TRUE(ffmpeg_accepts(ByteView(c0c1).subspan(1), 494, v.subspan(1, kHandshakeSize),
                               v.subspan(1 + kHandshakeSize)))
        << seed;
    // And the same check fails for an S2 computed for another C1.
    Bytes other = out;
    other[1 + kHandshakeSize + 3] ^= 1;
    EXPECT_FALSE(ffmpeg_accepts(ByteView(c0c1).subspan(1), 494, ByteView(other).subspan(1, 1536),
                                ByteView(other).subspan(1 + kHandshakeSize)));
  }
}

TEST(HandshakeRealPeers, ClientAgainstNginxDigest) {
  const Bytes c0c1 = load("nginx_digest_c0c1.bin");
  const Bytes answer = load("nginx_digest_s0s1s2.bin");
  HandshakeClient client(ffmpeg_like_client(c0c1));
  ASSERT_EQ(client.start(), c0c1);
  Bytes c2;
  auto r = client.receive(answer, c2);
  ASSERT_TRUE(r.ok()) << client.error_detail();
  EXPECT_EQ(*r, kS0S1S2);
  EXPECT_TRUE(client.done());
  EXPECT_TRUE(client.peer_used_digest());
  EXPECT_TRUE(client.echo_verified());
  // ngx_rtmp_server_version and a scheme-0 S1 digest.
  EXPECT_EQ(client.peer_software_version(), (std::array<std::uint8_t, 4>{0x0d, 0x0e, 0x0a, 0x0d}));
  EXPECT_EQ(hd::find_digest(ByteView(answer).subspan(1, kHandshakeSize), hd::server_partial_key()),
            477u);
  // Our C2 is signed with HMAC(HMAC(full player key, S1 digest), C2[0..1504)).
  const Bytes fp = text_key("Genuine Adobe Flash Player 001");
  const auto key = ref_hmac(fp, ByteView(answer).subspan(1 + 477, 32));
  const auto sig = ref_hmac(key, ByteView(c2).first(1504));
  EXPECT_EQ(slice(c2, 1504, 32), Bytes(sig.begin(), sig.end()));
}

TEST(HandshakeRealPeers, ClientAgainstNginxPlain) {
  const Bytes c0c1 = load("nginx_plain_c0c1.bin");
  const Bytes answer = load("nginx_plain_s0s1s2.bin");
  HandshakeOptions o;
  o.scheme = HandshakeScheme::plain;
  o.random_fill = replay_fill({slice(c0c1, 9, kHandshakeSize - 8)});
  HandshakeClient client(o);
  ASSERT_EQ(client.start(), c0c1);
  // nginx-rtmp answers a zero version field "old style": S1 and S2 both repeat C1.
  EXPECT_EQ(slice(answer, 1, kHandshakeSize), slice(c0c1, 1, kHandshakeSize));
  Bytes c2;
  ASSERT_TRUE(client.receive(answer, c2).ok()) << client.error_detail();
  EXPECT_TRUE(client.done());
  EXPECT_FALSE(client.peer_used_digest());
  EXPECT_EQ(c2, slice(answer, 1, kHandshakeSize));
}

TEST(HandshakeRealPeers, ClientAgainstFfmpegListener) {
  // FFmpeg's listener answers plainly (zero version) whatever C1 carries and zeroes S2's time2.
  const Bytes c0c1 = load("ffmpeg_publish_c0c1.bin");
  const Bytes answer = load("ffmpeg_listen_s0s1s2.bin");
  EXPECT_EQ(slice(answer, 1 + kHandshakeSize, 8), hex("00000000 00000000"));
  HandshakeClient client(ffmpeg_like_client(c0c1));
  ASSERT_EQ(client.start(), c0c1);
  Bytes c2;
  ASSERT_TRUE(client.receive(answer, c2).ok()) << client.error_detail();
  EXPECT_TRUE(client.done());
  EXPECT_FALSE(client.peer_used_digest());
  EXPECT_EQ(c2, slice(answer, 1, kHandshakeSize));
}

// --- Live peers: our state machines over a loopback socket (skipped without the programs) ----

class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  ~Fd() {
    if (fd_ >= 0)
      close(fd_);
  }
  int get() const { return fd_; }

private:
  int fd_;
};

// A child process killed (by its pid) when the test ends.
class Child {
public:
  explicit Child(const std::vector<std::string> &argv) {
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

private:
  pid_t pid_ = -1;
};

constexpr int kLiveTimeoutMs = 10000;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::uint16_t free_port() {
  Fd s(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  bind(s.get(), reinterpret_cast<sockaddr *>(&a), sizeof a);
  getsockname(s.get(), reinterpret_cast<sockaddr *>(&a), &len);
  return ntohs(a.sin_port);
}

bool write_all(int fd, const Bytes &b) {
  std::size_t off = 0;
  while (off < b.size()) {
    const ssize_t n = write(fd, b.data() + off, b.size() - off);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Pumps bytes between the socket and the handshake until it is done, fails, or times out.
template <typename M> void pump(int fd, M &m, Bytes first_out) {
  ASSERT_TRUE(write_all(fd, first_out));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kLiveTimeoutMs);
  std::uint8_t buf[4096];
  while (!m.done() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    const ssize_t n = read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0) << "peer closed during the handshake";
    Bytes out;
    auto r = m.receive(ByteView(buf, static_cast<std::size_t>(n)), out);
    ASSERT_TRUE(r.ok()) << r.error().message() << ": " << m.error_detail();
    ASSERT_TRUE(write_all(fd, out));
  }
  ASSERT_TRUE(m.done()) << "timed out";
}

bool have_program(const char *name) {
  gchar *path = g_find_program_in_path(name);
  const bool found = path != nullptr;
  g_free(path);
  return found;
}

// Reads until the peer sends something after the handshake (its first chunk), which shows it
// accepted our C2/S2 instead of hanging up.
bool peer_continues(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, kLiveTimeoutMs) <= 0)
    return false;
  std::uint8_t b[256];
  return read(fd, b, sizeof b) > 0;
}

TEST(HandshakeLive, FfmpegPlayerAcceptsOurServer) {
  if (!have_program("ffmpeg"))
    GTEST_SKIP() << "ffmpeg not installed";
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  getsockname(listener.get(), reinterpret_cast<sockaddr *>(&a), &len);
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/live/x";
  // As a player FFmpeg verifies S1's digest and S2's signature ("Signature mismatch") and signs
  // its C2, so done() here means both directions of the digest form interoperate.
  Child ffmpeg(
      {"ffmpeg", "-nostdin", "-loglevel", "quiet", "-i", url, "-t", "1", "-f", "null", "-"});
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, kLiveTimeoutMs), 1) << "ffmpeg did not connect";
  Fd conn(accept(listener.get(), nullptr, nullptr));
  HandshakeOptions so;
  so.version = {5, 0, 3, 1};
  HandshakeServer server(so);
  pump(conn.get(), server, {});
  EXPECT_TRUE(server.peer_used_digest());
  EXPECT_TRUE(server.echo_verified());
  EXPECT_TRUE(peer_continues(conn.get())) << "ffmpeg sends connect after a good handshake";
}

class NginxRtmp {
public:
  NginxRtmp() : port_(free_port()) {
    gchar *dir = g_dir_make_tmp("hs_nginx_XXXXXX", nullptr);
    dir_ = dir;
    g_free(dir);
    g_mkdir_with_parents((dir_ + "/logs").c_str(), 0700);
    const std::string conf =
        "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\ndaemon off;\npid " + dir_ +
        "/nginx.pid;\nerror_log " + dir_ + "/err.log;\nevents {}\nrtmp { server { listen " +
        "127.0.0.1:" + std::to_string(port_) + "; application live { live on; } } }\n";
    g_file_set_contents((dir_ + "/nginx.conf").c_str(), conf.c_str(), -1, nullptr);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{"nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"});
  }
  ~NginxRtmp() {
    child_.reset();
    for (const char *f : {"/nginx.conf", "/err.log", "/nginx.pid"})
      g_remove((dir_ + f).c_str());
    g_rmdir((dir_ + "/logs").c_str());
    g_rmdir(dir_.c_str());
  }
  // Connects, retrying while nginx starts.
  int connect_fd() {
    for (int i = 0; i < kLiveTimeoutMs / 50 && child_->running(); ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = loopback(port_);
      if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0)
        return fd;
      close(fd);
      usleep(50 * 1000);
    }
    return -1;
  }

private:
  std::uint16_t port_;
  std::string dir_;
  std::unique_ptr<Child> child_;
};

TEST(HandshakeLive, OurClientAgainstNginxRtmp) {
  if (!have_program("nginx") || access("/usr/lib/nginx/modules/ngx_rtmp_module.so", R_OK) != 0)
    GTEST_SKIP() << "nginx with the rtmp module not installed";
  NginxRtmp nginx;
  for (auto scheme : {HandshakeScheme::digest, HandshakeScheme::plain}) {
    Fd fd(nginx.connect_fd());
    ASSERT_GE(fd.get(), 0) << "nginx did not start";
    HandshakeOptions co;
    co.scheme = scheme;
    HandshakeClient client(co);
    pump(fd.get(), client, client.start());
    EXPECT_EQ(client.peer_used_digest(), scheme == HandshakeScheme::digest);
    EXPECT_EQ(client.peer_software_version(),
              (scheme == HandshakeScheme::digest ? std::array<std::uint8_t, 4>{13, 14, 10, 13}
                                                 : std::array<std::uint8_t, 4>{0, 0, 0, 0}));
  }
}

} // namespace
} // namespace rtmp
