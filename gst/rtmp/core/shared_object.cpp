#include "core/shared_object.hpp"

#include <algorithm>
#include <utility>

#include "core/amf0.hpp"
#include "core/command.hpp"

namespace rtmp {
namespace {

// Section 7.1.3 flags word: FMS and Red5 write 2 for a persistent object, 0 otherwise.
constexpr std::uint32_t kPersistentFlag = 2;
// Type 16 starts with a format byte, 0 (same convention as type 17 commands, section 7.1.1).
constexpr std::uint8_t kAmf3FormatPrefix = 0x00;

bool valid_event_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(SharedObjectEventType::use) &&
         t <= static_cast<std::uint8_t>(SharedObjectEventType::use_success);
}

// A u16-length UTF-8 string without type marker (an AMF0 "UTF-8" as in the envelope).
Result<std::string> read_short_string(ByteReader &r) {
  std::uint16_t len = 0;
  if (!r.read_u16(len))
    return Errc::truncated;
  if (len > kMaxSharedObjectNameLength)
    return Errc::limit_exceeded;
  std::string s;
  if (!r.read_string(len, s))
    return Errc::truncated;
  return s;
}

void write_short_string(ByteWriter &w, std::string_view s) {
  // Encoding our own names: longer ones are cut at the field's capacity rather than wrapped.
  std::size_t n = std::min<std::size_t>(s.size(), 0xFFFF);
  w.u16(static_cast<std::uint16_t>(n));
  w.bytes(s.substr(0, n));
}

// One AMF value from the front of `r` (a fresh AMF0 reader over what is left; it follows an
// avmplus switch by itself). Advances `r` by what the value used.
Result<amf::Value> read_value(ByteReader &r, const amf::DecodeLimits &limits) {
  amf::Amf0Reader reader(r.rest(), limits);
  auto v = reader.read();
  if (!v)
    return v.error();
  r.skip(reader.position());
  return v;
}

Result<SharedObjectEvent> decode_event(SharedObjectEventType type, ByteView data,
                                       const amf::DecodeLimits &limits) {
  SharedObjectEvent e;
  e.type = type;
  ByteReader r(data);
  switch (type) {
  case SharedObjectEventType::use:
  case SharedObjectEventType::release:
  case SharedObjectEventType::clear:
  case SharedObjectEventType::use_success:
    break;
  case SharedObjectEventType::request_change:
  case SharedObjectEventType::change:
    while (!r.empty()) {
      if (e.changes.size() >= kMaxSharedObjectPairs)
        return Errc::limit_exceeded;
      auto key = read_short_string(r);
      if (!key)
        return key.error();
      auto value = read_value(r, limits);
      if (!value)
        return value.error();
      e.changes.emplace_back(std::move(*key), std::move(*value));
    }
    break;
  case SharedObjectEventType::success:
  case SharedObjectEventType::remove:
  case SharedObjectEventType::request_remove: {
    auto key = read_short_string(r);
    if (!key)
      return key.error();
    e.key = std::move(*key);
    break;
  }
  case SharedObjectEventType::send_message:
    while (!r.empty()) {
      if (e.message.size() >= kMaxSharedObjectMessageValues)
        return Errc::limit_exceeded;
      auto value = read_value(r, limits);
      if (!value)
        return value.error();
      e.message.push_back(std::move(*value));
    }
    break;
  case SharedObjectEventType::status: {
    auto code = read_short_string(r);
    if (!code)
      return code.error();
    auto level = read_short_string(r);
    if (!level)
      return level.error();
    e.code = std::move(*code);
    e.level = std::move(*level);
    break;
  }
  }
  // Every byte of the event must belong to it: anything left is not a shape we know.
  if (!r.empty())
    return Errc::malformed;
  return e;
}

Bytes encode_event_data(const SharedObjectEvent &e, bool amf3) {
  Bytes out;
  ByteWriter w(out);
  switch (e.type) {
  case SharedObjectEventType::use:
  case SharedObjectEventType::release:
  case SharedObjectEventType::clear:
  case SharedObjectEventType::use_success:
    break;
  case SharedObjectEventType::request_change:
  case SharedObjectEventType::change:
    for (const auto &[key, value] : e.changes) {
      write_short_string(w, key);
      append_message_value(out, value, amf3);
    }
    break;
  case SharedObjectEventType::success:
  case SharedObjectEventType::remove:
  case SharedObjectEventType::request_remove:
    write_short_string(w, e.key);
    break;
  case SharedObjectEventType::send_message:
    for (const auto &v : e.message)
      append_message_value(out, v, amf3);
    break;
  case SharedObjectEventType::status:
    write_short_string(w, e.code);
    write_short_string(w, e.level);
    break;
  }
  return out;
}

} // namespace

std::string_view to_string(SharedObjectEventType t) {
  switch (t) {
  case SharedObjectEventType::use:
    return "Use";
  case SharedObjectEventType::release:
    return "Release";
  case SharedObjectEventType::request_change:
    return "RequestChange";
  case SharedObjectEventType::change:
    return "Change";
  case SharedObjectEventType::success:
    return "Success";
  case SharedObjectEventType::send_message:
    return "SendMessage";
  case SharedObjectEventType::status:
    return "Status";
  case SharedObjectEventType::clear:
    return "Clear";
  case SharedObjectEventType::remove:
    return "Remove";
  case SharedObjectEventType::request_remove:
    return "RequestRemove";
  case SharedObjectEventType::use_success:
    return "UseSuccess";
  }
  return "Unknown";
}

Result<SharedObjectMessage> decode_shared_object(const Message &msg) {
  return decode_shared_object(msg, amf::DecodeLimits{});
}

Result<SharedObjectMessage> decode_shared_object(const Message &msg,
                                                 const amf::DecodeLimits &limits) {
  const bool amf3 = msg.type == static_cast<std::uint8_t>(MessageType::shared_object_amf3);
  if (!amf3 && msg.type != static_cast<std::uint8_t>(MessageType::shared_object_amf0))
    return Errc::unsupported;
  ByteReader r(msg.payload);
  if (amf3) {
    std::uint8_t prefix = 0;
    if (!r.read_u8(prefix))
      return Errc::truncated;
    if (prefix != kAmf3FormatPrefix)
      return Errc::malformed;
  }
  SharedObjectMessage so;
  auto name = read_short_string(r);
  if (!name)
    return name.error();
  so.name = std::move(*name);
  std::uint32_t flags = 0, reserved = 0;
  if (!r.read_u32(so.version) || !r.read_u32(flags) || !r.read_u32(reserved))
    return Errc::truncated;
  so.persistent = (flags & kPersistentFlag) != 0;
  while (!r.empty()) {
    if (so.events.size() >= kMaxSharedObjectEvents)
      return Errc::limit_exceeded;
    std::uint8_t type = 0;
    std::uint32_t length = 0;
    if (!r.read_u8(type) || !r.read_u32(length))
      return Errc::truncated;
    if (!valid_event_type(type))
      return Errc::malformed;
    ByteView data;
    if (!r.read_bytes(length, data))
      return Errc::truncated;
    auto e = decode_event(static_cast<SharedObjectEventType>(type), data, limits);
    if (!e)
      return e.error();
    so.events.push_back(std::move(*e));
  }
  return so;
}

Message encode_shared_object(const SharedObjectMessage &so, std::uint32_t stream_id, bool amf3) {
  Message m;
  m.type = static_cast<std::uint8_t>(amf3 ? MessageType::shared_object_amf3
                                          : MessageType::shared_object_amf0);
  m.stream_id = stream_id;
  m.chunk_stream_id = csid::command;
  ByteWriter w(m.payload);
  if (amf3)
    w.u8(kAmf3FormatPrefix);
  write_short_string(w, so.name);
  w.u32(so.version);
  w.u32(so.persistent ? kPersistentFlag : 0);
  w.u32(0);
  for (const auto &e : so.events) {
    Bytes data = encode_event_data(e, amf3);
    w.u8(static_cast<std::uint8_t>(e.type));
    w.u32(static_cast<std::uint32_t>(data.size()));
    w.bytes(data);
  }
  return m;
}

} // namespace rtmp
