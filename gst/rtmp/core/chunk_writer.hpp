// RTMP chunk stream writer (RTMP 1.0 section 5.3): splits messages into chunks with the most
// compact header each chunk stream allows.
#pragma once

#include <cstdint>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/chunk_reader.hpp"
#include "core/message.hpp"

namespace rtmp {

// The header fields of an outgoing message (RTMP 1.0 section 6.1.1), without its payload: lets
// a caller chunk a payload it does not own (e.g. a media buffer) without building a Message.
struct MessageHeader {
  std::uint8_t type = 0;             // a MessageType value
  std::uint32_t timestamp = 0;       // absolute, milliseconds, wraps at 2^32
  std::uint32_t stream_id = 0;       // message stream id
  std::uint32_t chunk_stream_id = 0; // 0 lets the writer choose by type
};

class ChunkWriter {
public:
  // Appends the chunks of `msg` to `out`. The header format (0..3) of the first chunk is the
  // smallest that is correct given the previous message on the same chunk stream:
  //   0 for the first message, a new message stream id or a timestamp going backwards;
  //   1 when length or type change; 2 when only the timestamp delta changes; 3 when the delta,
  //   length and type repeat those of a previous type 1/2/3 header (never right after type 0,
  //   whose meaning for a following type 3 differs between FFmpeg and nginx-rtmp).
  // Continuation chunks are type 3. Timestamps or deltas >= 0xFFFFFF use the extended
  // timestamp, which is repeated on type 3 chunks as Flash, FMS and FFmpeg do (5.3.1.3).
  // msg.chunk_stream_id 0 picks one by type (csid:: in message.hpp).
  // A payload longer than 0xFFFFFF bytes or a chunk stream id of 1 or above 65599 ->
  // Errc::invalid_argument and nothing is written.
  std::error_code write(const Message &msg, Bytes &out);
  // Same chunks for a message given as header + payload: the payload is copied exactly once,
  // into `out`. write(Message) is this with the message's fields.
  std::error_code write(const MessageHeader &header, ByteView payload, Bytes &out);

  // Call AFTER writing the Set Chunk Size message (5.4.1): it applies to the chunks that follow.
  // Values outside 1..0x7FFFFFFF are clamped.
  void set_chunk_size(std::uint32_t size);
  std::uint32_t chunk_size() const { return chunk_size_; }

  // The chunk stream a message with chunk_stream_id 0 is sent on.
  static std::uint32_t default_chunk_stream(std::uint8_t type);

private:
  struct Stream {
    std::uint32_t csid = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t delta = 0;
    std::uint32_t length = 0;
    std::uint32_t stream_id = 0;
    std::uint8_t type = 0;
    bool delta_valid = false;    // the last header was type 1/2/3, so type 3 repeats `delta`
    std::uint32_t ext_value = 0; // value of the extended timestamp field, if >= 0xFFFFFF
  };
  Stream &stream(std::uint32_t csid, bool &is_new);

  std::uint32_t chunk_size_ = chunk::kDefaultChunkSize;
  std::vector<Stream> streams_; // our own chunk streams: a handful, searched linearly
  std::size_t last_ = 0;
};

} // namespace rtmp
