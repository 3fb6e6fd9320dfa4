#include "core/control.hpp"

#include <algorithm>

#include "core/chunk_reader.hpp"

namespace rtmp {
namespace {

Message control_message(MessageType type) {
  Message m;
  m.type = static_cast<std::uint8_t>(type);
  m.chunk_stream_id = csid::protocol_control; // 5.4: chunk stream 2, message stream 0
  return m;
}

Message u32_message(MessageType type, std::uint32_t v) {
  Message m = control_message(type);
  ByteWriter(m.payload).u32(v);
  return m;
}

// 7.1.7: which events carry one 32-bit value, and which carry two.
bool event_has_value(std::uint16_t event) {
  switch (static_cast<UserControlEvent>(event)) {
  case UserControlEvent::stream_begin:
  case UserControlEvent::stream_eof:
  case UserControlEvent::stream_dry:
  case UserControlEvent::set_buffer_length:
  case UserControlEvent::stream_is_recorded:
  case UserControlEvent::ping_request:
  case UserControlEvent::ping_response:
  case UserControlEvent::buffer_empty:
  case UserControlEvent::buffer_ready:
    return true;
  }
  return false;
}

} // namespace

Message make_set_chunk_size(std::uint32_t size) {
  return u32_message(MessageType::set_chunk_size, size);
}
Message make_abort(std::uint32_t chunk_stream) {
  return u32_message(MessageType::abort, chunk_stream);
}
Message make_acknowledgement(std::uint32_t sequence_number) {
  return u32_message(MessageType::acknowledgement, sequence_number);
}
Message make_window_ack_size(std::uint32_t window) {
  return u32_message(MessageType::window_ack_size, window);
}

Message make_set_peer_bandwidth(std::uint32_t window, PeerBandwidthLimit limit) {
  Message m = control_message(MessageType::set_peer_bandwidth);
  ByteWriter w(m.payload);
  w.u32(window);
  w.u8(static_cast<std::uint8_t>(limit));
  return m;
}

Message make_user_control(const UserControl &event) {
  // 7.1.7: user control messages use message stream 0 and chunk stream 2 like protocol control.
  Message m = control_message(MessageType::user_control);
  ByteWriter w(m.payload);
  w.u16(event.event);
  w.u32(event.value); // unknown events: one value, the common shape of the defined ones
  if (event.kind() == UserControlEvent::set_buffer_length)
    w.u32(event.value2);
  return m;
}

Result<std::uint32_t> parse_u32_payload(ByteView payload) {
  ByteReader r(payload);
  std::uint32_t v;
  if (!r.read_u32(v))
    return Errc::truncated;
  return v;
}

Result<std::uint32_t> parse_set_chunk_size(ByteView payload) {
  auto v = parse_u32_payload(payload);
  if (!v)
    return v;
  // 5.4.1: "The first bit of the data MUST be zero"; a size of 0 would make no progress.
  if (*v == 0 || *v > chunk::kMaxChunkSize)
    return Errc::chunk_bad_size;
  return v;
}

Result<PeerBandwidth> parse_set_peer_bandwidth(ByteView payload) {
  ByteReader r(payload);
  std::uint32_t window;
  std::uint8_t limit;
  if (!r.read_u32(window) || !r.read_u8(limit))
    return Errc::truncated;
  if (limit > static_cast<std::uint8_t>(PeerBandwidthLimit::dynamic))
    return Errc::malformed;
  return PeerBandwidth{window, static_cast<PeerBandwidthLimit>(limit)};
}

Result<UserControl> parse_user_control(ByteView payload) {
  ByteReader r(payload);
  UserControl uc;
  if (!r.read_u16(uc.event))
    return Errc::truncated;
  if (event_has_value(uc.event)) {
    if (!r.read_u32(uc.value))
      return Errc::truncated;
    if (uc.kind() == UserControlEvent::set_buffer_length && !r.read_u32(uc.value2))
      return Errc::truncated;
  } else {
    // Unknown events (e.g. SWF verification 26/27) are kept; their data shape is unknown.
    if (!r.read_u32(uc.value))
      uc.value = 0;
  }
  return uc;
}

std::optional<std::uint32_t> AckTracker::on_bytes_received(std::uint64_t total) {
  if (window_ == 0 || total < last_ack_ || total - last_ack_ < window_)
    return std::nullopt;
  last_ack_ = total;
  // 5.4.3: the sequence number is the number of bytes received so far, a 32-bit field.
  return static_cast<std::uint32_t>(total);
}

std::optional<std::uint64_t> AckTracker::bytes_until_ack(std::uint64_t total) const {
  if (window_ == 0)
    return std::nullopt;
  if (total < last_ack_)
    return window_;
  const std::uint64_t since = total - last_ack_;
  return since >= window_ ? 0 : window_ - since;
}

std::optional<std::uint32_t> PeerBandwidthState::on_set_peer_bandwidth(const PeerBandwidth &pb) {
  std::uint32_t window = pb.window;
  PeerBandwidthLimit type = pb.limit;
  switch (pb.limit) {
  case PeerBandwidthLimit::hard:
    break;
  case PeerBandwidthLimit::soft:
    if (limit_)
      window = std::min(window, *limit_);
    break;
  case PeerBandwidthLimit::dynamic:
    if (limit_type_ != PeerBandwidthLimit::hard)
      return std::nullopt; // 5.4.5: "otherwise ignore this message"
    type = PeerBandwidthLimit::hard;
    break;
  }
  limit_ = window;
  limit_type_ = type;
  if (sent_window_ == window)
    return std::nullopt;
  sent_window_ = window;
  return window;
}

} // namespace rtmp
