// An RTMP message as the chunk layer reassembles it (RTMP 1.0 section 5.4 and 6.1).
#pragma once

#include <chrono>
#include <cstdint>

#include "core/bytes.hpp"

namespace rtmp {

// Monotonic milliseconds since an epoch of the caller's choosing. The core never reads a clock:
// every entry point that depends on time takes `now`.
using Millis = std::chrono::milliseconds;

// RTMP message type ids (RTMP 1.0 sections 5.4 and 7.1).
enum class MessageType : std::uint8_t {
  set_chunk_size = 1,
  abort = 2,
  acknowledgement = 3,
  user_control = 4,
  window_ack_size = 5,
  set_peer_bandwidth = 6,
  audio = 8,
  video = 9,
  data_amf3 = 15,
  shared_object_amf3 = 16,
  command_amf3 = 17,
  data_amf0 = 18,
  shared_object_amf0 = 19,
  command_amf0 = 20,
  aggregate = 22,
};

// Protocol control (section 5.4: types 1, 2, 3, 5, 6) and User Control (section 7.1.7: type 4):
// the messages of chunk stream 2 and message stream 0, a few bytes each.
constexpr bool is_protocol_control(MessageType t) {
  return t >= MessageType::set_chunk_size && t <= MessageType::set_peer_bandwidth;
}

// Chunk stream ids we use when sending (ids 0 and 1 select the 2- and 3-byte basic headers and
// 2 is reserved for protocol control, RTMP 1.0 section 5.3.1.1 and 5.4). The choice of the
// others follows what FFmpeg and Flash Media Server use so captures look familiar.
namespace csid {
inline constexpr std::uint32_t protocol_control = 2;
inline constexpr std::uint32_t command = 3;
inline constexpr std::uint32_t audio = 4;
inline constexpr std::uint32_t data = 5;
inline constexpr std::uint32_t video = 6;
} // namespace csid

struct Message {
  std::uint8_t type = 0;             // a MessageType value; unknown types are passed through
  std::uint32_t timestamp = 0;       // absolute, milliseconds, wraps at 2^32
  std::uint32_t stream_id = 0;       // message stream id (0 = NetConnection / control)
  std::uint32_t chunk_stream_id = 0; // as received; when sending, 0 lets the writer choose
  Bytes payload;

  MessageType kind() const { return static_cast<MessageType>(type); }
};

} // namespace rtmp
