// RTMP chunk stream reader (RTMP 1.0 section 5.3): reassembles messages from interleaved chunks.
//
// Sans-IO: feed whatever bytes arrived with read(); complete messages come out in order. Of what
// the peer announces, the reader reserves at most 1 MiB per message before the bytes arrive (the
// whole of a typical frame, so that reassembly never reallocates it), and every value the peer
// controls (message length, number of chunk streams, bytes held in partial messages) has a
// bound in ChunkLimits whose violation is Errc::limit_exceeded. The bound on a message's length
// depends on its type and on the phase of the connection (see ChunkLimits), and is checked as
// soon as a header announces the length, not once the payload has arrived: a peer announcing
// more than a setup step needs is refused at once instead of being waited for.
//
// Peers disagree on whether a type 3 chunk repeats an extended timestamp (5.3.1.3; FFmpeg and
// Flash do, some others do not): the reader accepts both by comparing the next 4 bytes with the
// stored value (see parse_header for the heuristic and its one known ambiguity).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

// Constants of the chunk format shared by reader and writer (RTMP 1.0 5.3.1).
namespace chunk {
// 5.4.1: "The maximum chunk size defaults to 128 bytes".
inline constexpr std::uint32_t kDefaultChunkSize = 128;
// 5.4.1: the chunk size is 31 bits (the top bit MUST be zero), and at least 1.
inline constexpr std::uint32_t kMaxChunkSize = 0x7FFFFFFF;
// 5.3.1.1: chunk stream ids 2..65599; 0 and 1 select the 2- and 3-byte basic header forms.
inline constexpr std::uint32_t kMinCsid = 2;
inline constexpr std::uint32_t kMaxCsid = 65599;
inline constexpr std::uint32_t kMaxOneByteCsid = 63;  // 6 bits
inline constexpr std::uint32_t kMaxTwoByteCsid = 319; // 64 + 255
// 5.3.1.3: a 24-bit timestamp field of all ones announces the 32-bit extended timestamp.
inline constexpr std::uint32_t kExtendedTimestamp = 0xFFFFFF;
// 5.3.1.2: message length is a 24-bit field.
inline constexpr std::uint32_t kMaxMessageLength = 0xFFFFFF;
// Largest chunk header: 3-byte basic header + 11-byte type 0 header + 4-byte extended timestamp.
inline constexpr std::size_t kMaxHeaderSize = 3 + 11 + 4;
} // namespace chunk

// Bounds on what a peer can make the reader hold (see STYLE.md 1).
inline constexpr std::uint32_t kMaxMessageSize = 32u << 20;
// Command, data and shared object messages before streaming starts (ChunkReader::
// start_streaming). The largest either side sends then is the client's connect: tcUrl, swfUrl and
// pageUrl (each at most kMaxUrlLength, 8 KiB; FFmpeg caps tcUrl at 1 KiB), flashVer, an
// authentication query (kMaxQueryLength, 2 KiB) and an E-RTMP fourCcList: under 32 KiB even at
// those limits, 200-600 bytes from FFmpeg, OBS and Flash. The server's answers are smaller: a
// connect _result from FMS, Wowza, nginx-rtmp or SRS is 200-500 bytes, an _error carrying an
// authentication challenge under kMaxDescriptionLength (2 KiB), onStatus and onFCPublish a few
// hundred bytes, onBWDone a few dozen. Twice the worst case leaves room for extra connect
// properties while a peer announcing megabytes during setup is refused at once.
inline constexpr std::uint32_t kMaxCommandMessageSize = 64u << 10;
// Protocol control (5.4: 4 or 5 bytes) and User Control (7.1.7: 6 to 10 bytes; the largest any
// peer sends is the SWF verification response, 44) messages, at any time.
inline constexpr std::uint32_t kMaxControlMessageSize = 256;
inline constexpr std::size_t kMaxChunkStreams = 64;
inline constexpr std::size_t kMaxBufferedBytes = 64u << 20;

struct ChunkLimits {
  // Audio, video and aggregate messages (8, 9, 22) at any time, every other type once streaming
  // (ChunkReader::start_streaming): a message header announcing more -> Errc::limit_exceeded.
  // (The length field is 24 bits, so only values below 16 MiB make this bite.)
  std::uint32_t max_message_size = kMaxMessageSize;
  // Command, data, shared object and unknown message types until streaming starts: a header
  // announcing more -> Errc::limit_exceeded. Never more than max_message_size.
  std::uint32_t max_command_message_size = kMaxCommandMessageSize;
  // Protocol control and User Control messages (1-6), in every phase. Never more than
  // max_message_size.
  std::uint32_t max_control_message_size = kMaxControlMessageSize;
  // Distinct chunk stream ids with state; one more -> Errc::limit_exceeded.
  std::size_t max_chunk_streams = kMaxChunkStreams;
  // Payload bytes held in partial messages across all chunk streams -> Errc::limit_exceeded.
  std::size_t max_buffered_bytes = kMaxBufferedBytes;
};

class ChunkReader {
public:
  explicit ChunkReader(ChunkLimits limits = {});

  // Consumes ALL of `data` (keeping an incomplete chunk header internally) and appends the
  // messages it completes to `out`, in the order their last chunk arrived.
  //
  // Set Chunk Size (type 1) and Abort (type 2) take effect as soon as the message is complete,
  // i.e. for the following bytes of the same call (5.4.1, 5.4.2); they are still output.
  // After an error the reader is unusable: every later call returns the same error.
  std::error_code read(ByteView data, std::vector<Message> &out);
  // Same, but returns as soon as a message is complete, before any further header announcing a
  // length is read, so that the caller can act on the message (start_streaming()) before the
  // next header is checked against the bounds. The value is the number of bytes of `data`
  // consumed: all of it unless a message completed before its end.
  Result<std::size_t> read_some(ByteView data, std::vector<Message> &out);

  // What the last error was about in words (which bound, the message type, what the header
  // announced); empty when the error code says it all.
  const std::string &error_detail() const { return error_detail_; }

  // Streaming has started (a client's publish or play, a server's accepted publish or play):
  // from the next header on, command, data and shared object messages are bounded by
  // max_message_size instead of max_command_message_size, since onMetaData with a keyframe
  // index or a shared object's state may then legitimately be large. One way.
  void start_streaming() { streaming_ = true; }
  bool streaming() const { return streaming_; }
  // The largest length a header may announce now for a message of `type`.
  std::uint32_t max_size_of(std::uint8_t type) const;

  // Our own knowledge of the peer's chunk size (e.g. when a session is resumed). Values outside
  // 1..0x7FFFFFFF are clamped. Takes effect at the next chunk header.
  void set_chunk_size(std::uint32_t size);
  std::uint32_t chunk_size() const { return chunk_size_; }

  // Total bytes consumed, for acknowledgements (5.4.3).
  std::uint64_t bytes_read() const { return bytes_read_; }
  // Payload bytes currently held in incomplete messages.
  std::size_t buffered_bytes() const { return buffered_; }

  // How many more bytes must arrive at least before the reader can output a message, for a
  // driver that wants to sleep until then (SO_RCVLOWAT, see Connection::receive_low_water).
  // Both are lower bounds (never more than needed, so waiting for them adds no latency) and 0
  // when a message could complete with any byte (nothing in progress).
  //
  // bytes_to_complete_message(): the message whose chunk was read last (the "message in
  // progress"): its missing payload plus one basic header per chunk still to come at the current
  // chunk size, minus a header already partly buffered. Exact for a peer that continues that
  // message with type 3 chunks and no other chunk stream in between; not counted, because
  // peers disagree (5.3.1.3): a repeated extended timestamp (4 bytes per chunk). With a header
  // of a new message partly buffered: the rest of its fixed part.
  std::size_t bytes_to_complete_message() const;
  // bytes_to_complete_chunk(): what must arrive before ANY message can complete, whatever
  // other chunk streams a peer interleaves: the rest of the chunk being read (+1 for the next
  // header if the message goes on after it); at a chunk boundary 0, or the rest of the fixed
  // part of a partly buffered header.
  std::size_t bytes_to_complete_chunk() const;
  // True once the peer has started a chunk of one chunk stream while a message of another was
  // incomplete (5.3.2.1-5.3.2.2 interleaving). Such a peer may deliver a small message in the
  // middle of a large one, which bytes_to_complete_message() would make a driver sit on.
  bool peer_interleaves() const { return interleaves_; }

  // Storage for the payloads of later messages: a caller that gets payload vectors back once
  // it is done with them (rtmpsrc, when the GstBuffer wrapping one is freed downstream) hands
  // them in, and the next message of at least kMinRecycledMessage bytes is reassembled into one
  // instead of freshly allocated (and page-faulted) memory. At most kMaxSpareStorage vectors of
  // at most kMaxSpareCapacity bytes are kept; others are freed.
  static constexpr std::size_t kMinRecycledMessage = 4096;
  static constexpr std::size_t kMaxSpareStorage = 8;
  static constexpr std::size_t kMaxSpareCapacity = 1u << 20;
  void give_storage(Bytes &&spare);

private:
  // Per chunk stream state: the last message header seen (for header compression) and the
  // message being reassembled.
  struct Stream {
    std::uint32_t csid = 0;
    std::uint32_t timestamp = 0; // absolute timestamp of the current/last message
    std::uint32_t delta = 0;     // timestamp delta applied by a type 3 chunk starting a message
    std::uint32_t length = 0;
    std::uint32_t stream_id = 0;
    std::uint8_t type = 0;
    bool extended = false;       // last type 0/1/2 header used the extended timestamp
    std::uint32_t ext_value = 0; // value carried in that extended timestamp field
    bool in_progress = false;    // a message is partially received
    std::uint32_t received = 0;  // payload bytes of it received so far
    Bytes payload;
  };
  struct Header {
    std::uint32_t csid = 0;
    std::uint8_t fmt = 0;
    std::uint32_t ts_field = 0; // timestamp (type 0) or delta (type 1, 2), extended if needed
    std::uint32_t length = 0;
    std::uint8_t type = 0;
    std::uint32_t stream_id = 0;
    std::size_t size = 0; // header bytes
  };
  enum class Parse { need_more, done, error };
  // Which of ChunkLimits' length bounds applies to a message type now (max_size_of()).
  enum class Bound { message, command, control };
  Bound bound_of(std::uint8_t type) const;

  Parse parse_header(ByteView bytes, Header &h, std::error_code &ec) const;
  std::error_code apply_header(const Header &h);
  // Reads `data` into `out`; with `one_message`, stops after the first message it completes.
  // `used` is set to the bytes of `data` consumed.
  std::error_code consume(ByteView data, std::vector<Message> &out, bool one_message,
                          std::size_t &used);
  std::error_code too_large(std::uint8_t type, std::uint32_t length);
  std::error_code over_limit(std::string detail);
  bool continue_fast(ByteReader &in);
  std::error_code append_payload(ByteView bytes);
  std::error_code complete_message(Stream &s, std::vector<Message> &out);
  Stream *find(std::uint32_t csid);
  const Stream *find(std::uint32_t csid) const;
  std::error_code fail(std::error_code ec);
  // A partly buffered chunk header (header_len_ > 0), for the low-water queries.
  struct PendingHeader {
    std::size_t missing = 0; // bytes of its fixed part (basic + message header) still to come
    // Bytes held beyond the fixed part: an extended timestamp, or payload that the peek of
    // parse_header has not placed yet (a peer that omits the field, 5.3.1.3).
    std::size_t held = 0;
    const Stream *continues = nullptr; // a type 3 header continuing this stream's message
  };
  // While the basic header itself is incomplete the csid is unknown: `assume` takes it to be
  // the message in progress if the bytes so far fit (no interleaving), otherwise nothing is
  // assumed.
  PendingHeader pending_header(bool assume) const;

  ChunkLimits limits_;
  std::uint32_t chunk_size_ = chunk::kDefaultChunkSize;
  std::uint64_t bytes_read_ = 0;
  std::size_t buffered_ = 0;
  std::error_code error_;
  std::string error_detail_;
  bool streaming_ = false;      // start_streaming()
  std::size_t in_progress_ = 0; // streams with Stream::in_progress
  bool interleaves_ = false;    // peer_interleaves()

  std::vector<Stream> streams_;
  std::vector<Bytes> spare_; // give_storage()
  // Index+1 into streams_ for the common one- and two-byte csids, so that the per-chunk lookup
  // is O(1) even at chunk size 1; larger csids are searched linearly (at most max_chunk_streams).
  std::array<std::uint32_t, chunk::kMaxTwoByteCsid + 1> small_index_{};

  // The chunk whose payload is being read: index into streams_ and bytes left in this chunk.
  std::size_t current_ = 0;
  bool in_chunk_ = false;
  std::uint32_t chunk_remaining_ = 0;

  // Bytes of a chunk header split across read() calls.
  std::array<std::uint8_t, chunk::kMaxHeaderSize> header_buf_{};
  std::size_t header_len_ = 0;
};

} // namespace rtmp
