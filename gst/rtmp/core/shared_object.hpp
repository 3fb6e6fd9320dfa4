// Shared object messages (RTMP 1.0 section 7.1.3): type 19 (AMF0) and 16 (AMF3).
//
// Layout (section 7.1.3, figure "Shared object message format"; the flags/reserved words as
// FMS and Red5 write them):
//   name       u16 length + UTF-8
//   version    u32
//   flags      u32   (2 = persistent, 0 = transient)
//   reserved   u32
//   events     { type u8, length u32, data[length] }*
// Event data by type: Use/Release/Clear/Use Success carry nothing; Request Change and Change
// carry (u16 name, AMF value) pairs; Success, Remove and Request Remove a u16 slot name;
// SendMessage an AMF handler name and arguments; Status a u16 code and a u16 level.
// Type 16 messages start with one 0x00 format byte (as for type 17 commands) and their values
// may switch to AMF3 through the AMF0 avmplus marker 0x11.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf_value.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

namespace amf {
struct DecodeLimits; // amf0.hpp
}

// Events in one message: FMS batches a few (Use Success + Clear + Changes); a bound keeps a
// message of 5-byte empty events from growing a huge vector.
inline constexpr std::size_t kMaxSharedObjectEvents = 1024;
// Name/value pairs in one Change / Request Change event, for the same reason.
inline constexpr std::size_t kMaxSharedObjectPairs = 4096;
// Shared object and slot names are identifiers chosen by applications.
inline constexpr std::size_t kMaxSharedObjectNameLength = 1024;
// Values of one SendMessage event (handler name included).
inline constexpr std::size_t kMaxSharedObjectMessageValues = 64;

// Section 7.1.3 event types.
enum class SharedObjectEventType : std::uint8_t {
  use = 1,
  release = 2,
  request_change = 3,
  change = 4,
  success = 5,
  send_message = 6,
  status = 7,
  clear = 8,
  remove = 9,
  request_remove = 10,
  use_success = 11,
};
std::string_view to_string(SharedObjectEventType t);

struct SharedObjectEvent {
  SharedObjectEventType type = SharedObjectEventType::use;
  amf::Properties changes;         // request_change, change: slot name / value pairs
  std::string key;                 // success, remove, request_remove: the slot name
  std::vector<amf::Value> message; // send_message: handler name, then arguments
  std::string code;                // status
  std::string level;               // status

  bool operator==(const SharedObjectEvent &) const = default;
};

struct SharedObjectMessage {
  std::string name;
  std::uint32_t version = 0;
  bool persistent = false;
  std::vector<SharedObjectEvent> events;

  bool operator==(const SharedObjectMessage &) const = default;
};

// Errors: Errc::unsupported for another message type, Errc::truncated when an event or the
// header is cut, Errc::malformed for an unknown event type, data inside an event that has none
// or data left over after a slot name, Errc::limit_exceeded past the bounds above, and AMF
// decoding errors.
Result<SharedObjectMessage> decode_shared_object(const Message &msg);
Result<SharedObjectMessage> decode_shared_object(const Message &msg,
                                                 const amf::DecodeLimits &limits);
// Type 19, or type 16 when `amf3`; chunk stream csid::command (FMS sends them with commands).
Message encode_shared_object(const SharedObjectMessage &so, std::uint32_t stream_id = 0,
                             bool amf3 = false);

} // namespace rtmp
