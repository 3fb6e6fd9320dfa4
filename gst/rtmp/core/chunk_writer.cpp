#include "core/chunk_writer.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace rtmp {
namespace {

// 5.3.1.1: the shortest basic header for a chunk stream id.
void write_basic_header(ByteWriter &w, std::uint8_t fmt, std::uint32_t csid) {
  const auto f = static_cast<std::uint8_t>(fmt << 6);
  if (csid <= chunk::kMaxOneByteCsid) {
    w.u8(static_cast<std::uint8_t>(f | csid));
  } else if (csid <= chunk::kMaxTwoByteCsid) {
    w.u8(f);
    w.u8(static_cast<std::uint8_t>(csid - 64));
  } else {
    w.u8(static_cast<std::uint8_t>(f | 1));
    w.u8(static_cast<std::uint8_t>((csid - 64) & 0xFF));
    w.u8(static_cast<std::uint8_t>((csid - 64) >> 8));
  }
}

std::size_t basic_header_size(std::uint32_t csid) {
  return csid <= chunk::kMaxOneByteCsid ? 1 : csid <= chunk::kMaxTwoByteCsid ? 2 : 3;
}

} // namespace

void ChunkWriter::set_chunk_size(std::uint32_t size) {
  chunk_size_ = std::clamp<std::uint32_t>(size, 1, chunk::kMaxChunkSize);
}

std::uint32_t ChunkWriter::default_chunk_stream(std::uint8_t type) {
  switch (static_cast<MessageType>(type)) {
  case MessageType::set_chunk_size:
  case MessageType::abort:
  case MessageType::acknowledgement:
  case MessageType::user_control:
  case MessageType::window_ack_size:
  case MessageType::set_peer_bandwidth:
    return csid::protocol_control;
  case MessageType::audio:
    return csid::audio;
  case MessageType::video:
  case MessageType::aggregate:
    return csid::video;
  case MessageType::data_amf0:
  case MessageType::data_amf3:
  case MessageType::shared_object_amf0:
  case MessageType::shared_object_amf3:
    return csid::data;
  default:
    return csid::command;
  }
}

ChunkWriter::Stream &ChunkWriter::stream(std::uint32_t csid, bool &is_new) {
  is_new = false;
  if (last_ < streams_.size() && streams_[last_].csid == csid)
    return streams_[last_];
  for (std::size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i].csid == csid) {
      last_ = i;
      return streams_[i];
    }
  }
  is_new = true;
  streams_.push_back(Stream{});
  streams_.back().csid = csid;
  last_ = streams_.size() - 1;
  return streams_.back();
}

std::error_code ChunkWriter::write(const Message &msg, Bytes &out) {
  std::uint32_t id = msg.chunk_stream_id;
  if (id == 0)
    id = default_chunk_stream(msg.type);
  if (id < chunk::kMinCsid || id > chunk::kMaxCsid || msg.payload.size() > chunk::kMaxMessageLength)
    return Errc::invalid_argument;
  const auto length = static_cast<std::uint32_t>(msg.payload.size());

  bool is_new;
  Stream &s = stream(id, is_new);
  std::uint8_t fmt;
  std::uint32_t ts_field; // what the header carries: absolute timestamp or delta
  const std::uint32_t delta = msg.timestamp - s.timestamp;
  if (is_new || msg.stream_id != s.stream_id || msg.timestamp < s.timestamp) {
    // 5.3.1.2.1: type 0 starts a chunk stream and follows a backward timestamp.
    fmt = 0;
    ts_field = msg.timestamp;
  } else if (length != s.length || msg.type != s.type) {
    fmt = 1;
    ts_field = delta;
  } else if (delta != s.delta || !s.delta_valid) {
    fmt = 2;
    ts_field = delta;
  } else {
    fmt = 3;
    ts_field = delta;
  }
  if (fmt != 3)
    s.ext_value = ts_field;
  // A type 3 chunk repeats the extended field of the header it inherits from (5.3.1.3).
  const bool extended = s.ext_value >= chunk::kExtendedTimestamp;
  s.timestamp = msg.timestamp;
  s.delta = fmt == 0 ? 0 : delta;
  s.delta_valid = fmt != 0;
  s.length = length;
  s.type = msg.type;
  s.stream_id = msg.stream_id;

  // At most one allocation for the whole message: headers of every chunk plus the payload.
  const std::size_t chunks = length == 0 ? 1 : (length + chunk_size_ - 1) / chunk_size_;
  const std::size_t continuation_header = basic_header_size(id) + (extended ? 4 : 0);
  // Keep geometric growth when the caller accumulates many messages in `out`.
  const std::size_t needed = out.size() + 11 + chunks * continuation_header + length;
  if (needed > out.capacity())
    out.reserve(std::max(needed, 2 * out.capacity()));

  ByteWriter w(out);
  write_basic_header(w, fmt, id);
  if (fmt <= 2)
    w.u24(extended ? chunk::kExtendedTimestamp : ts_field);
  if (fmt <= 1) {
    w.u24(length);
    w.u8(msg.type);
  }
  if (fmt == 0)
    w.u32_le(msg.stream_id); // 5.3.1.2.1: little-endian
  if (extended)
    w.u32(s.ext_value);

  const ByteView payload(msg.payload);
  std::size_t pos = 0;
  while (true) {
    const std::size_t n = std::min<std::size_t>(chunk_size_, payload.size() - pos);
    w.bytes(payload.subspan(pos, n));
    pos += n;
    if (pos == payload.size())
      break;
    write_basic_header(w, 3, id);
    if (extended)
      w.u32(s.ext_value);
  }
  return {};
}

} // namespace rtmp
