#include "core/chunk_writer.hpp"

#include <algorithm>
#include <array>

#include "core/error.hpp"

namespace rtmp {
namespace {

// 5.3.1.1: the shortest basic header for a chunk stream id, encoded into `out`; returns its size.
std::size_t encode_basic_header(std::uint8_t fmt, std::uint32_t csid,
                                std::array<std::uint8_t, 3> &out) {
  const auto f = static_cast<std::uint8_t>(fmt << 6);
  if (csid <= chunk::kMaxOneByteCsid) {
    out[0] = static_cast<std::uint8_t>(f | csid);
    return 1;
  }
  if (csid <= chunk::kMaxTwoByteCsid) {
    out[0] = f;
    out[1] = static_cast<std::uint8_t>(csid - 64);
    return 2;
  }
  out[0] = static_cast<std::uint8_t>(f | 1);
  out[1] = static_cast<std::uint8_t>((csid - 64) & 0xFF);
  out[2] = static_cast<std::uint8_t>((csid - 64) >> 8);
  return 3;
}

// 5.3.1.2: size of the message header for fmt 0..3.
constexpr std::size_t kMessageHeaderSize[4] = {11, 7, 3, 0};

// Exact bytes the chunks of one message take: the first chunk's header, one type 3 header per
// continuation chunk (5.3.2), the extended timestamp on each chunk if used (5.3.1.3), the payload.
std::size_t wire_size(std::uint8_t fmt, std::size_t basic_header_size, bool extended,
                      std::size_t length, std::uint32_t chunk_size) {
  const std::size_t chunks = length == 0 ? 1 : (length - 1) / chunk_size + 1;
  const std::size_t per_chunk = basic_header_size + (extended ? 4 : 0);
  return kMessageHeaderSize[fmt] + chunks * per_chunk + length;
}

} // namespace

void ChunkWriter::set_chunk_size(std::uint32_t size) {
  chunk_size_ = std::clamp<std::uint32_t>(size, 1, chunk::kMaxChunkSize);
}

std::uint32_t ChunkWriter::default_chunk_stream(std::uint8_t type) {
  if (is_protocol_control(static_cast<MessageType>(type)))
    return csid::protocol_control;
  switch (static_cast<MessageType>(type)) {
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
  return write(MessageHeader{msg.type, msg.timestamp, msg.stream_id, msg.chunk_stream_id},
               msg.payload, out);
}

std::error_code ChunkWriter::write(const MessageHeader &msg, ByteView payload, Bytes &out) {
  std::uint32_t id = msg.chunk_stream_id;
  if (id == 0)
    id = default_chunk_stream(msg.type);
  if (id < chunk::kMinCsid || id > chunk::kMaxCsid || payload.size() > chunk::kMaxMessageLength)
    return Errc::invalid_argument;
  const auto length = static_cast<std::uint32_t>(payload.size());

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

  std::array<std::uint8_t, 3> basic{};
  const ByteView basic_header = ByteView(basic).first(encode_basic_header(fmt, id, basic));
  // Every continuation chunk starts with the same type 3 basic header (5.3.2.2): encode it once.
  std::array<std::uint8_t, 3> continuation{};
  const ByteView continuation_header =
      ByteView(continuation).first(encode_basic_header(3, id, continuation));

  // At most one allocation for the whole message, and geometric growth when the caller
  // accumulates many messages in `out` (reserving only what this message needs would
  // reallocate, and copy everything already queued, on every write).
  const std::size_t needed =
      out.size() + wire_size(fmt, basic_header.size(), extended, length, chunk_size_);
  if (needed > out.capacity())
    out.reserve(std::max(needed, 2 * out.capacity()));

  ByteWriter w(out);
  for (const std::uint8_t b : basic_header)
    w.u8(b);
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

  std::size_t pos = 0;
  while (true) {
    const std::size_t n = std::min<std::size_t>(chunk_size_, payload.size() - pos);
    w.bytes(payload.subspan(pos, n));
    pos += n;
    if (pos == payload.size())
      break;
    for (const std::uint8_t b : continuation_header) // 1..3 bytes: cheaper than a range insert
      w.u8(b);
    if (extended)
      w.u32(s.ext_value);
  }
  return {};
}

} // namespace rtmp
