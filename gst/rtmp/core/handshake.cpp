// The RTMP handshake state machines (RTMP 1.0 section 5.2); the digest arithmetic lives in
// handshake_digest.cpp.
#include "core/handshake.hpp"

#include <algorithm>
#include <random>
#include <string>

namespace rtmp {

namespace hd = handshake_digest;

namespace {

// C0/S0 (1 byte) followed by C1/S1 (RTMP 1.0 5.2.2, 5.2.3).
constexpr std::size_t kPacket0And1Size = 1 + kHandshakeSize;
// RTMPE (encrypted RTMP, Adobe's proprietary variant) puts these in C0: 6 = Diffie-Hellman +
// RC4, 8 = with XTEA, 9 = with Blowfish (FFmpeg rtmpcrypt.c, librtmp handshake.h).
constexpr std::uint8_t kRtmpeVersion = 6;
constexpr std::uint8_t kRtmpeXteaVersion = 8;
constexpr std::uint8_t kRtmpeBlowfishVersion = 9;
// First byte of a TLS record (handshake content type): an rtmps client on a plain port.
constexpr std::uint8_t kTlsHandshakeRecord = 0x16;
// RTMP 1.0 5.2.2: "values greater than 31 are not allowed", to tell RTMP from text protocols.
constexpr std::uint8_t kFirstForbiddenVersion = 32;
// Bytes 0..3 are the time and 4..7 the zero/version field (or time2 in C2/S2, 5.2.4); the random
// part that an echo must repeat starts after them.
constexpr std::size_t kEchoedFrom = 8;

bool is_second_half(std::size_t digest_offset) {
  return digest_offset >= hd::kScheme1Base + 4;
}

} // namespace

HandshakeBase::HandshakeBase(HandshakeOptions opts) : opts_(std::move(opts)) {
  in_.reserve(kPacket0And1Size);
}

std::error_code HandshakeBase::fail(Errc e, std::string detail) {
  state_ = State::failed;
  error_ = make_error_code(e);
  error_detail_ = std::move(detail);
  return error_;
}

std::error_code HandshakeBase::check_version_byte(std::uint8_t v) {
  // We accept only 3. RTMP 1.0 5.2.2 lets a server answer 3 to an unknown version, but no real
  // client sends one (nginx-rtmp and FFmpeg's listener reject anything but 3 too), so answering
  // would only delay the failure; the other values get a message that says what went wrong.
  peer_version_ = v;
  if (v == kRtmpVersion)
    return {};
  const std::string n = std::to_string(v);
  if (v == kRtmpeVersion || v == kRtmpeXteaVersion || v == kRtmpeBlowfishVersion)
    return fail(Errc::unsupported, "peer asked for RTMPE (encrypted RTMP, handshake version " + n +
                                       "), which is not supported: use rtmp:// or rtmps://");
  if (v == kTlsHandshakeRecord)
    return fail(Errc::handshake_bad_version,
                "peer sent a TLS handshake (first byte 0x16) to a plain RTMP endpoint: use the "
                "rtmps:// port or URL");
  if (v < kRtmpVersion)
    return fail(Errc::handshake_bad_version,
                "peer uses RTMP handshake version " + n + ", older than 3 (RTMP 1.0 5.2.2)");
  if (v >= kFirstForbiddenVersion)
    return fail(Errc::handshake_bad_version,
                "peer sent " + n +
                    " as RTMP version; values above 31 are not RTMP (RTMP 1.0 5.2.2), is it "
                    "speaking HTTP or another text protocol?");
  return fail(Errc::handshake_bad_version,
              "peer asked for RTMP handshake version " + n + ", only 3 is supported");
}

void HandshakeBase::fill_random(std::span<std::uint8_t> out) {
  if (opts_.random_fill) {
    opts_.random_fill(out);
    return;
  }
  std::random_device rd;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  for (auto &b : out)
    b = static_cast<std::uint8_t>(byte(rd));
}

std::size_t HandshakeBase::gather(ByteView in, std::size_t pos, std::size_t want) {
  const std::size_t have = in_.size();
  const std::size_t take = std::min(want - have, in.size() - pos);
  in_.insert(in_.end(), in.begin() + static_cast<std::ptrdiff_t>(pos),
             in.begin() + static_cast<std::ptrdiff_t>(pos + take));
  return take;
}

void HandshakeBase::make_packet1(bool digest, bool second_half, ByteView partial_key) {
  // RTMP 1.0 5.2.3: time (4), zero (4; the software version in the digest form), random.
  Bytes head;
  ByteWriter w(head);
  w.u32(opts_.epoch);
  if (digest)
    w.bytes(ByteView(opts_.version));
  else
    w.u32(0);
  std::copy(head.begin(), head.end(), packet_.begin());
  fill_random(std::span(packet_).subspan(kEchoedFrom));
  our_digest_offset_.reset();
  if (digest)
    our_digest_offset_ = hd::imprint(packet_, second_half, partial_key);
}

bool HandshakeBase::verify_echo(ByteView echo, ByteView full_key) const {
  // The plain echo (RTMP 1.0 5.2.4): time (4), time2 (4), then our random data. Peers differ on
  // the first 8 bytes: nginx-rtmp and librtmp repeat our C1/S1 whole, FFmpeg's listener zeroes
  // time2, GStreamer rtmp2 writes its own time2, so we compare from byte 8 only.
  if (std::equal(echo.begin() + kEchoedFrom, echo.end(), packet_.begin() + kEchoedFrom))
    return true;
  // The digest form: random bytes signed with a key derived from our digest.
  if (!our_digest_offset_)
    return false;
  const ByteView ours = ByteView(packet_).subspan(*our_digest_offset_, hd::kDigestSize);
  const hd::Digest sig = hd::reply_signature(echo, full_key, ours);
  return std::equal(sig.begin(), sig.end(), echo.begin() + hd::kSignedSize);
}

bool HandshakeBase::gather_packet1(ByteView in, std::size_t &pos, std::error_code &ec) {
  const bool first = in_.empty();
  pos += gather(in, pos, kPacket0And1Size);
  // Check the version byte as soon as it arrives: a non-RTMP peer (RTMPE, TLS, HTTP) fails
  // before we wait for 1536 bytes.
  if (first && !in_.empty())
    ec = check_version_byte(in_[0]);
  return !ec && in_.size() >= kPacket0And1Size;
}

ByteView HandshakeBase::read_peer_packet1() {
  ByteReader r(in_);
  ByteView packet1;
  ByteView software;
  r.skip(1);
  r.read_bytes(kHandshakeSize, packet1);
  ByteReader fields(packet1);
  fields.read_u32(peer_epoch_);
  fields.read_bytes(4, software);
  std::copy(software.begin(), software.end(), peer_software_.begin());
  return packet1;
}

void HandshakeBase::append_packet2(Bytes &out, ByteView peer_packet1, bool sign,
                                   ByteView full_key) {
  const std::size_t at = out.size();
  out.resize(at + kHandshakeSize);
  std::span<std::uint8_t> packet2(out.data() + at, kHandshakeSize);
  if (sign) {
    // Random bytes + HMAC(HMAC(full key, peer digest), random) (FFmpeg rtmp_handshake).
    fill_random(packet2.first(hd::kSignedSize));
    const hd::Digest sig = hd::reply_signature(
        packet2, full_key, peer_packet1.subspan(*peer_digest_offset_, hd::kDigestSize));
    std::copy(sig.begin(), sig.end(), packet2.begin() + hd::kSignedSize);
  } else {
    // The whole packet 1 repeated, time2 included, as nginx-rtmp, librtmp and FFmpeg's
    // publisher do: librtmp compares all 1536 bytes (and only warns), GStreamer rtmp2 from
    // byte 8.
    std::copy(peer_packet1.begin(), peer_packet1.end(), packet2.begin());
  }
}

Result<std::size_t> HandshakeBase::finish_with_packet2(ByteView in, std::size_t pos,
                                                       ByteView full_key, std::string mismatch) {
  pos += gather(in, pos, kHandshakeSize);
  if (in_.size() < kHandshakeSize)
    return pos;
  echo_verified_ = verify_echo(in_, full_key);
  if (!echo_verified_ && opts_.strict_echo)
    return fail(Errc::handshake_bad_echo, std::move(mismatch));
  in_.clear();
  in_.shrink_to_fit();
  state_ = State::done;
  return pos;
}

template <typename Answer, typename Mismatch>
Result<std::size_t> HandshakeBase::receive_packets(ByteView in, Bytes &out, Answer &&answer,
                                                   ByteView full_key, Mismatch &&mismatch) {
  if (state_ == State::failed)
    return error_;
  if (state_ == State::idle || state_ == State::done)
    return Errc::invalid_state;

  std::size_t pos = 0;
  if (state_ == State::wait_packet1) {
    std::error_code ec;
    if (!gather_packet1(in, pos, ec)) {
      if (ec)
        return ec;
      return pos;
    }
    answer(read_peer_packet1(), out);
    in_.clear();
    state_ = State::wait_packet2;
  }
  return finish_with_packet2(in, pos, full_key, mismatch());
}

// ---------------------------------------------------------------------------------------------

HandshakeClient::HandshakeClient(HandshakeOptions opts) : HandshakeBase(std::move(opts)) {}

Bytes HandshakeClient::start() {
  if (state_ != State::idle)
    return {};
  // Scheme 0 (digest in the first half) as Flash Player, FFmpeg and nginx-rtmp use for
  // unencrypted RTMP; scheme 1 is what RTMPE clients use.
  make_packet1(opts_.scheme == HandshakeScheme::digest, false, hd::player_partial_key());
  Bytes out;
  out.reserve(kPacket0And1Size);
  out.push_back(kRtmpVersion);
  out.insert(out.end(), packet_.begin(), packet_.end());
  state_ = State::wait_packet1;
  return out;
}

Result<std::size_t> HandshakeClient::receive(ByteView in, Bytes &out) {
  auto answer_s1 = [&](ByteView s1, Bytes &c2) {
    // A server answers with a digest only when it found ours: nginx-rtmp echoes C1 as S1 when
    // C1's version field is zero or has no valid digest, FFmpeg's listener always answers
    // plain (version 0). Without a valid S1 digest we fall back to the plain form.
    if (our_digest_offset_)
      peer_digest_offset_ = hd::find_digest(s1, hd::server_partial_key());
    append_packet2(c2, s1, peer_digest_offset_.has_value(), hd::kPlayerKey);
  };
  // S2 proves the server read our C1: FFmpeg (as a player) and librtmp (FP9 mode) reject a bad
  // signature; nginx-rtmp signs S2 whenever C1 had a digest and echoes C1 otherwise.
  auto mismatch = [&] {
    return peer_used_digest()
               ? "S2 carries neither our C1's random bytes nor a valid digest signature"
               : "S2 does not echo the random bytes of our C1 (RTMP 1.0 5.2.4)";
  };
  return receive_packets(in, out, answer_s1, hd::kServerKey, mismatch);
}

// ---------------------------------------------------------------------------------------------

HandshakeServer::HandshakeServer(HandshakeOptions opts) : HandshakeBase(std::move(opts)) {
  state_ = State::wait_packet1;
}

Result<std::size_t> HandshakeServer::receive(ByteView in, Bytes &out) {
  auto answer_c1 = [&](ByteView c1, Bytes &s0s1s2) {
    // The digest is looked for whatever C1's version field says (nginx-rtmp skips the search
    // when it is zero; a random match is a 2^-256 event, so the result is the same).
    peer_digest_offset_ = hd::find_digest(c1, hd::player_partial_key());
    const bool digest = peer_digest_offset_ && opts_.scheme == HandshakeScheme::digest;

    // S0, then S1 in the client's scheme so that clients that try only one position (scheme 0
    // for Flash Player, scheme 1 for RTMPE-style clients) find our digest.
    s0s1s2.reserve(s0s1s2.size() + kPacket0And1Size + kHandshakeSize);
    s0s1s2.push_back(kRtmpVersion);
    make_packet1(digest, digest && is_second_half(*peer_digest_offset_), hd::server_partial_key());
    s0s1s2.insert(s0s1s2.end(), packet_.begin(), packet_.end());
    // S2 signed with the full FMS key is what FFmpeg checks as a player ("Signature mismatch"
    // otherwise) and what nginx-rtmp sends.
    append_packet2(s0s1s2, c1, digest, hd::kServerKey);
  };

  // C2 from real clients: FFmpeg publishing and librtmp/OBS echo S1 whole, GStreamer rtmp2
  // echoes it with its own time2, FFmpeg playing, Flash Player and nginx-rtmp relays sign it.
  return receive_packets(in, out, answer_c1, hd::kPlayerKey, [] {
    return "C2 carries neither our S1's random bytes nor a valid digest signature";
  });
}

} // namespace rtmp
