// The RTMP handshake (RTMP 1.0 section 5.2), both roles, in its plain form and in the
// HMAC-SHA256 "digest" form that Flash Player 9+ and Flash Media Server 3+ use and that FFmpeg,
// librtmp, nginx-rtmp and SRS implement (it is not in the published spec; the layout below is
// the one these implementations agree on).
//
// Sans-IO: the caller feeds whatever bytes arrived and sends whatever the object appended.
//
//   client                                  server
//   C0 C1 = start()          ------>
//                            <------        S0 S1 S2   (receive(C0C1) appends them)
//   C2 (receive(S0S1) appends it) ------>
//   done() after S2                          done() after C2
//
// Packet layout (RTMP 1.0 5.2.3/5.2.4): 1 version byte (C0/S0) then 1536-byte C1/S1 made of
// time (4), zero/version (4), random (1528); C2/S2 echo the peer's C1/S1. In the digest form the
// 4 bytes after time carry the software version (non-zero) and a 32-byte HMAC-SHA256 digest sits
// inside the random part at an offset derived from 4 bytes of the packet itself:
//   scheme 0: offset = (b[8] + b[9] + b[10] + b[11]) % 728 + 12      (digest in the first half)
//   scheme 1: offset = (b[772] + ... + b[775]) % 728 + 776           (digest in the second half)
// The digest covers the 1504 other bytes. C2/S2 in the digest form are 1504 random bytes followed
// by HMAC(key = HMAC(full key of the replier, peer's C1/S1 digest), those 1504 bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp {

inline constexpr std::size_t kHandshakeSize = 1536; // C1/S1/C2/S2 length, RTMP 1.0 5.2.3
// The only version we speak (RTMP 1.0 5.2.2: "In this specification, this value is 3").
inline constexpr std::uint8_t kRtmpVersion = 3;

enum class HandshakeScheme { plain, digest };

struct HandshakeOptions {
  // Client: what we send (digest writes `version` into C1 and signs it, in scheme 0 as Flash
  // Player and FFmpeg do). Server: digest answers in the digest form, in the client's scheme,
  // when C1 carries a valid digest and in the plain form otherwise; plain always answers plain.
  HandshakeScheme scheme = HandshakeScheme::digest;
  std::uint32_t epoch = 0; // our time field in C1/S1 (RTMP 1.0 5.2.3)
  // Client: Flash Player version written in C1 (digest only). Server: FMS version in S1 (digest
  // only; FFmpeg checks the first byte is >= 3 before it verifies the digest).
  std::array<std::uint8_t, 4> version = {10, 0, 32, 2};
  // Fills random bytes. Empty -> std::random_device. Tests inject deterministic bytes; the calls
  // are, in order: our C1/S1 bytes 8..1535 (1528 bytes, the digest is written over them
  // afterwards), then, in the digest form only, our C2/S2 bytes 0..1503 (1504 bytes).
  std::function<void(std::span<std::uint8_t>)> random_fill;
  // Reject a C2/S2 that neither echoes our C1/S1 (from byte 8 on; bytes 4..7 are the peer's
  // time2, RTMP 1.0 5.2.4) nor carries the digest signature. Every peer we know passes (FFmpeg,
  // nginx-rtmp, librtmp, OBS, GStreamer rtmp2); librtmp and rtmp2 themselves only warn, so this
  // can be turned off for broken encoders: echo_verified() then reports the outcome instead.
  bool strict_echo = true;
};

// What both roles share: the bytes received so far, the peer's fields and the error detail.
class HandshakeBase {
public:
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }
  std::uint8_t peer_version() const { return peer_version_; }
  std::uint32_t peer_epoch() const { return peer_epoch_; }
  // Bytes 4..7 of the peer's C1/S1: its software version (zero in the plain form).
  std::array<std::uint8_t, 4> peer_software_version() const { return peer_software_; }
  // The peer's C1/S1 carried a valid digest (scheme 0 or 1).
  bool peer_used_digest() const { return peer_digest_offset_.has_value(); }
  // Whether the peer's C2/S2 echoed our C1/S1 or carried the digest signature (meaningful after
  // done(); always true when strict_echo is on).
  bool echo_verified() const { return echo_verified_; }
  // A human explanation of the last error (empty when none), for logs and bus messages.
  std::string_view error_detail() const { return error_detail_; }

protected:
  enum class State { idle, wait_packet1, wait_packet2, done, failed };

  explicit HandshakeBase(HandshakeOptions opts);
  std::error_code fail(Errc e, std::string detail);
  std::error_code check_version_byte(std::uint8_t v);
  // Appends up to `want` bytes of `in` (from `pos`) to in_; returns how many.
  std::size_t gather(ByteView in, std::size_t pos, std::size_t want);
  void fill_random(std::span<std::uint8_t> out);
  // Builds our C1/S1 in `packet_`; the digest form signs it with `partial_key` in scheme 1
  // (second_half) or 0.
  void make_packet1(bool digest, bool second_half, ByteView partial_key);
  // Checks the peer's C2/S2 against our C1/S1 (`packet_`). `full_key` derives the signing key
  // from our digest (digest form only).
  bool verify_echo(ByteView echo, ByteView full_key) const;

  // The stages both roles share. gather_packet1: collects the peer's version byte and
  // packet 1 (failing early on a bad version byte); false while incomplete or on error (`ec`).
  bool gather_packet1(ByteView in, std::size_t &pos, std::error_code &ec);
  // Takes the peer's time and software version from the complete packet 1 in in_; returns it
  // (valid until in_ is cleared).
  ByteView read_peer_packet1();
  // Appends our packet 2 for the peer's packet 1: random bytes signed with `full_key` and the
  // peer's digest when `sign`, else the plain echo of the whole packet.
  void append_packet2(Bytes &out, ByteView peer_packet1, bool sign, ByteView full_key);
  // Collects the peer's packet 2 and checks it echoes ours (`mismatch` names what is wrong).
  Result<std::size_t> finish_with_packet2(ByteView in, std::size_t pos, ByteView full_key,
                                          std::string mismatch);
  // receive() of both roles: the sticky error and the state check, the peer's version byte and
  // packet 1, which `answer(peer_packet1, out)` answers, then the peer's packet 2, checked with
  // `full_key` (finish_with_packet2; `mismatch()` names what is wrong).
  template <typename Answer, typename Mismatch>
  Result<std::size_t> receive_packets(ByteView in, Bytes &out, Answer &&answer, ByteView full_key,
                                      Mismatch &&mismatch);

  HandshakeOptions opts_;
  State state_ = State::idle;
  Bytes in_;                                          // peer bytes of the current stage
  std::array<std::uint8_t, kHandshakeSize> packet_{}; // our C1/S1
  std::optional<std::size_t> our_digest_offset_;
  std::optional<std::size_t> peer_digest_offset_;
  std::uint8_t peer_version_ = 0;
  std::uint32_t peer_epoch_ = 0;
  std::array<std::uint8_t, 4> peer_software_{};
  bool echo_verified_ = false;
  std::error_code error_;
  std::string error_detail_;
};

class HandshakeClient : public HandshakeBase {
public:
  explicit HandshakeClient(HandshakeOptions opts = {});
  // C0 + C1. Call once, before receive().
  Bytes start();
  // Consumes bytes of S0, S1, S2 from `in`; appends C2 to `out` as soon as S0S1 are complete.
  // Returns the bytes consumed: after done() the rest of `in` belongs to the chunk stream. A
  // peer error is sticky (every later call returns it); calling before start() or after done()
  // is Errc::invalid_state.
  Result<std::size_t> receive(ByteView in, Bytes &out);
};

class HandshakeServer : public HandshakeBase {
public:
  explicit HandshakeServer(HandshakeOptions opts = {});
  // Consumes C0, C1, C2 from `in`; appends S0S1S2 to `out` once C0C1 are complete; done() after
  // C2. Returns the bytes consumed, as HandshakeClient::receive().
  Result<std::size_t> receive(ByteView in, Bytes &out);
};

// The digest arithmetic, exposed for known-answer tests and for tools.
namespace handshake_digest {

inline constexpr std::size_t kDigestSize = 32; // HMAC-SHA256 output
// 728 = 764 (half of the 1528 random bytes) - 4 (offset bytes) - 32 (digest): the digest always
// fits in its half. Values shared by FFmpeg (rtmpproto.c), librtmp (handshake.h), nginx-rtmp.
inline constexpr std::size_t kDigestModulo = 728;
inline constexpr std::size_t kScheme0Base = 8;   // offset bytes 8..11, digest from 12
inline constexpr std::size_t kScheme1Base = 772; // offset bytes 772..775, digest from 776
inline constexpr std::size_t kSignedSize = kHandshakeSize - kDigestSize; // 1504

// "Genuine Adobe Flash Player 001" followed by 32 constant bytes; C1 digests use the first 30
// bytes, the C2 signing key is derived with all 62.
inline constexpr std::size_t kPlayerKeyPartialSize = 30;
extern const std::array<std::uint8_t, 62> kPlayerKey;
// "Genuine Adobe Flash Media Server 001" followed by the same 32 bytes; S1 digests use the first
// 36 bytes, the S2 signing key is derived with all 68.
inline constexpr std::size_t kServerKeyPartialSize = 36;
extern const std::array<std::uint8_t, 68> kServerKey;

inline ByteView player_partial_key() {
  return ByteView(kPlayerKey).first(kPlayerKeyPartialSize);
}
inline ByteView server_partial_key() {
  return ByteView(kServerKey).first(kServerKeyPartialSize);
}

using Digest = std::array<std::uint8_t, kDigestSize>;

Digest hmac_sha256(ByteView key, ByteView data);
// Where the digest of a 1536-byte C1/S1 sits in scheme 0 (second_half = false) or 1.
std::size_t digest_offset(ByteView packet, bool second_half);
// HMAC of the packet without the 32 bytes at `offset`.
Digest packet_digest(ByteView packet, std::size_t offset, ByteView key);
// Writes the digest of `packet` (1536 bytes) in the given scheme; returns its offset.
std::size_t imprint(std::span<std::uint8_t, kHandshakeSize> packet, bool second_half, ByteView key);
// The offset of a valid digest, trying scheme 1 then scheme 0 as FFmpeg and nginx-rtmp do.
std::optional<std::size_t> find_digest(ByteView packet, ByteView key);
// The C2/S2 signature: HMAC(HMAC(full_key, peer_digest), reply[0..1504)).
Digest reply_signature(ByteView reply, ByteView full_key, ByteView peer_digest);

} // namespace handshake_digest

} // namespace rtmp
