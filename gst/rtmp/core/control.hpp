// Protocol control messages (RTMP 1.0 section 5.4) and user control events (section 7.1.7):
// encoders, decoders and the small state machines behind Acknowledgement (5.4.3) and Set Peer
// Bandwidth (5.4.5).
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

// 5.4.5: the limit type byte of Set Peer Bandwidth.
enum class PeerBandwidthLimit : std::uint8_t { hard = 0, soft = 1, dynamic = 2 };

// 7.1.7 user control event types. 31 and 32 are not in the 1.0 spec but sent by Flash Media
// Server and Wowza ("buffer empty"/"buffer ready"); other unknown values are passed through.
enum class UserControlEvent : std::uint16_t {
  stream_begin = 0,
  stream_eof = 1,
  stream_dry = 2,
  set_buffer_length = 3,
  stream_is_recorded = 4,
  ping_request = 6,
  ping_response = 7,
  buffer_empty = 31,
  buffer_ready = 32,
};

struct UserControl {
  std::uint16_t event = 0;  // a UserControlEvent value; unknown values are kept
  std::uint32_t value = 0;  // stream id, or timestamp for ping request/response
  std::uint32_t value2 = 0; // buffer length in milliseconds for set_buffer_length

  UserControlEvent kind() const { return static_cast<UserControlEvent>(event); }
  bool operator==(const UserControl &) const = default;
};

struct PeerBandwidth {
  std::uint32_t window = 0;
  PeerBandwidthLimit limit = PeerBandwidthLimit::hard;
  bool operator==(const PeerBandwidth &) const = default;
};

// Encoders: messages on chunk stream 2, message stream 0, timestamp 0 (5.4).
Message make_set_chunk_size(std::uint32_t size); // caller keeps size in 1..0x7FFFFFFF
Message make_abort(std::uint32_t csid);
Message make_acknowledgement(std::uint32_t sequence_number);
Message make_window_ack_size(std::uint32_t window);
Message make_set_peer_bandwidth(std::uint32_t window, PeerBandwidthLimit limit);
Message make_user_control(const UserControl &event);

// The single 32-bit field of Set Chunk Size (1), Abort (2), Acknowledgement (3) and Window
// Acknowledgement Size (5). Fewer than 4 bytes -> Errc::truncated; extra bytes are ignored.
Result<std::uint32_t> parse_u32_payload(ByteView payload);
// Set Chunk Size with its range check (5.4.1): 0 or a set top bit -> Errc::chunk_bad_size.
Result<std::uint32_t> parse_set_chunk_size(ByteView payload);
// Window (u32) and limit type (u8) (5.4.5). A limit type above 2 -> Errc::malformed.
Result<PeerBandwidth> parse_set_peer_bandwidth(ByteView payload);
// Event type (u16) and its data (7.1.7). Known events missing their data -> Errc::truncated;
// unknown events keep the first 32-bit value if present and are not an error.
Result<UserControl> parse_user_control(ByteView payload);

// Acknowledgement bookkeeping (5.4.3, 5.4.4): the receiver of a Window Acknowledgement Size
// must acknowledge every `window` bytes it receives. The sequence number is the byte count
// modulo 2^32; totals are kept in 64 bits so that nothing stalls past 4 GiB.
class AckTracker {
public:
  // 0 disables acknowledgements (no window announced yet). Changing the window keeps the point
  // of the last acknowledgement.
  void set_window(std::uint32_t window) { window_ = window; }
  std::uint32_t window() const { return window_; }

  // Called with the total bytes received so far (ChunkReader::bytes_read() plus the handshake
  // if the caller counts it). Returns the sequence number to acknowledge when at least one
  // window has been received since the last acknowledgement.
  std::optional<std::uint32_t> on_bytes_received(std::uint64_t total);
  // Bytes that can still arrive (with `total` received so far) before an acknowledgement is
  // due; nullopt while no window is set. 0 when one is due already.
  std::optional<std::uint64_t> bytes_until_ack(std::uint64_t total) const;

private:
  std::uint32_t window_ = 0;
  std::uint64_t last_ack_ = 0;
};

// Set Peer Bandwidth semantics (5.4.5). The receiver limits its output to the window and, when
// the resulting window differs from the Window Acknowledgement Size it last sent, sends a new
// one. Hard: take the window. Soft: the smaller of the window and the limit in effect. Dynamic:
// like hard if the previous limit was hard, otherwise ignored.
class PeerBandwidthState {
public:
  // Returns the Window Acknowledgement Size to send back, if it changes.
  std::optional<std::uint32_t> on_set_peer_bandwidth(const PeerBandwidth &pb);
  // Tell the state which Window Acknowledgement Size we sent on our own initiative.
  void note_window_ack_size_sent(std::uint32_t window) { sent_window_ = window; }

  // The output limit in effect, if the peer set one.
  std::optional<std::uint32_t> limit() const { return limit_; }
  std::optional<PeerBandwidthLimit> limit_type() const { return limit_type_; }

private:
  std::optional<std::uint32_t> limit_;
  std::optional<PeerBandwidthLimit> limit_type_;
  std::optional<std::uint32_t> sent_window_;
};

} // namespace rtmp
