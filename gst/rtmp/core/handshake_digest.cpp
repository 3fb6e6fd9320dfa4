// The HMAC-SHA256 digest arithmetic of the RTMP handshake (see handshake.hpp for the layout).
#include "core/handshake.hpp"

#include <glib.h>

namespace rtmp::handshake_digest {

namespace {

// The 32 bytes that follow the readable text of both keys (FFmpeg rtmpproto.c rtmp_player_key /
// rtmp_server_key, librtmp handshake.h GenuineFPKey / GenuineFMSKey, nginx-rtmp
// ngx_rtmp_handshake.c).
constexpr std::array<std::uint8_t, 32> kKeyTail = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

// The readable text (without its NUL) followed by the tail.
template <std::size_t N>
constexpr std::array<std::uint8_t, N - 1 + kKeyTail.size()> make_key(const char (&text)[N]) {
  std::array<std::uint8_t, N - 1 + kKeyTail.size()> key{};
  for (std::size_t i = 0; i + 1 < N; ++i)
    key[i] = static_cast<std::uint8_t>(text[i]);
  for (std::size_t i = 0; i < kKeyTail.size(); ++i)
    key[N - 1 + i] = kKeyTail[i];
  return key;
}

} // namespace

const std::array<std::uint8_t, 62> kPlayerKey = make_key("Genuine Adobe Flash Player 001");
const std::array<std::uint8_t, 68> kServerKey = make_key("Genuine Adobe Flash Media Server 001");
static_assert(kPlayerKeyPartialSize + kKeyTail.size() == 62);
static_assert(kServerKeyPartialSize + kKeyTail.size() == 68);

namespace {

// HMAC-SHA256 over the concatenation of up to two spans (the packet around the digest hole).
Digest hmac2(ByteView key, ByteView a, ByteView b) {
  GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key.data(), key.size());
  if (!a.empty())
    g_hmac_update(h, a.data(), static_cast<gssize>(a.size()));
  if (!b.empty())
    g_hmac_update(h, b.data(), static_cast<gssize>(b.size()));
  Digest out{};
  gsize len = out.size();
  g_hmac_get_digest(h, out.data(), &len);
  g_hmac_unref(h);
  return out;
}

} // namespace

Digest hmac_sha256(ByteView key, ByteView data) {
  return hmac2(key, data, {});
}

std::size_t digest_offset(ByteView packet, bool second_half) {
  const std::size_t base = second_half ? kScheme1Base : kScheme0Base;
  ByteReader r(packet);
  ByteView offset_bytes;
  if (!r.skip(base) || !r.read_bytes(4, offset_bytes))
    return base + 4; // callers pass 1536-byte packets; keep a defined answer anyway
  std::size_t sum = 0;
  for (std::uint8_t b : offset_bytes)
    sum += b;
  return sum % kDigestModulo + base + 4;
}

Digest packet_digest(ByteView packet, std::size_t offset, ByteView key) {
  if (offset > packet.size() || packet.size() - offset < kDigestSize)
    return hmac2(key, packet, {});
  return hmac2(key, packet.first(offset), packet.subspan(offset + kDigestSize));
}

std::size_t imprint(std::span<std::uint8_t, kHandshakeSize> packet, bool second_half,
                    ByteView key) {
  const std::size_t offset = digest_offset(packet, second_half);
  const Digest d = packet_digest(packet, offset, key);
  std::copy(d.begin(), d.end(), packet.begin() + static_cast<std::ptrdiff_t>(offset));
  return offset;
}

std::optional<std::size_t> find_digest(ByteView packet, ByteView key) {
  if (packet.size() != kHandshakeSize)
    return std::nullopt;
  for (bool second_half : {true, false}) {
    const std::size_t offset = digest_offset(packet, second_half);
    const Digest d = packet_digest(packet, offset, key);
    if (std::equal(d.begin(), d.end(), packet.begin() + static_cast<std::ptrdiff_t>(offset)))
      return offset;
  }
  return std::nullopt;
}

Digest reply_signature(ByteView reply, ByteView full_key, ByteView peer_digest) {
  const Digest key = hmac_sha256(full_key, peer_digest);
  return hmac_sha256(key, reply.first(std::min(reply.size(), kSignedSize)));
}

} // namespace rtmp::handshake_digest
