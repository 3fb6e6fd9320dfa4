#include "core/chunk_reader.hpp"

#include <algorithm>
#include <string>

#include "core/control.hpp"
#include "core/error.hpp"

namespace rtmp {
namespace {

// Initial capacity reserved for a message: its whole announced length up to this, so that an
// audio/video frame is reassembled without reallocating (a reallocation copies what arrived so
// far: with 64 KiB here, each 80 KB frame of a 20 Mbit/s stream was copied twice), and a peer
// announcing 16 MiB messages without sending them reserves at most this per chunk stream, i.e.
// kMaxChunkStreams * 1 MiB = 64 MiB (= kMaxBufferedBytes) of address space in total. Capacity
// that no byte has reached is not touched, so it costs no resident memory.
constexpr std::size_t kInitialReserve = 1u << 20;

// 5.3.1.2: size of the message header for fmt 0..3.
constexpr std::size_t kMessageHeaderSize[4] = {11, 7, 3, 0};

// 5.3.1.1: size of the basic header that carries `csid` (the form is fixed by the id).
std::size_t basic_header_size(std::uint32_t csid) {
  return csid <= chunk::kMaxOneByteCsid ? 1 : csid <= chunk::kMaxTwoByteCsid ? 2 : 3;
}

// Payload plus one basic header per chunk for `remaining` payload bytes of a message on `csid`
// sent at `chunk_size`, all in type 3 chunks.
std::size_t chunked_size(std::size_t remaining, std::uint32_t csid, std::uint32_t chunk_size) {
  const std::size_t chunks = (remaining + chunk_size - 1) / chunk_size;
  return remaining + chunks * basic_header_size(csid);
}

// What a message of `type` is, in the words of RTMP 1.0 sections 5.4 and 7.1.
const char *type_name(std::uint8_t type) {
  switch (static_cast<MessageType>(type)) {
  case MessageType::set_chunk_size:
  case MessageType::abort:
  case MessageType::acknowledgement:
  case MessageType::window_ack_size:
  case MessageType::set_peer_bandwidth:
    return "protocol control";
  case MessageType::user_control:
    return "user control";
  case MessageType::audio:
    return "audio";
  case MessageType::video:
    return "video";
  case MessageType::data_amf0:
  case MessageType::data_amf3:
    return "data";
  case MessageType::shared_object_amf0:
  case MessageType::shared_object_amf3:
    return "shared object";
  case MessageType::command_amf0:
  case MessageType::command_amf3:
    return "command";
  case MessageType::aggregate:
    return "aggregate";
  }
  return "unknown";
}

// True if `bytes` (possibly shorter than 4) is a prefix of the big-endian encoding of `v`.
bool is_prefix_of_u32(ByteView bytes, std::uint32_t v) {
  const std::uint8_t be[4] = {static_cast<std::uint8_t>(v >> 24),
                              static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8),
                              static_cast<std::uint8_t>(v)};
  return std::equal(bytes.begin(), bytes.end(), std::begin(be));
}

} // namespace

ChunkReader::ChunkReader(ChunkLimits limits) : limits_(limits) {
  // More streams than there are chunk stream ids cannot exist (5.3.1.1).
  limits_.max_chunk_streams =
      std::min<std::size_t>(limits_.max_chunk_streams, chunk::kMaxCsid - chunk::kMinCsid + 1);
  // The per-type bounds narrow max_message_size, never widen it.
  limits_.max_command_message_size =
      std::min(limits_.max_command_message_size, limits_.max_message_size);
  limits_.max_control_message_size =
      std::min(limits_.max_control_message_size, limits_.max_message_size);
}

ChunkReader::Bound ChunkReader::bound_of(std::uint8_t type) const {
  if (is_protocol_control(static_cast<MessageType>(type)))
    return Bound::control;
  switch (static_cast<MessageType>(type)) {
  case MessageType::audio:
  case MessageType::video:
  case MessageType::aggregate:
    return Bound::message;
  default:
    return streaming_ ? Bound::message : Bound::command;
  }
}

std::uint32_t ChunkReader::max_size_of(std::uint8_t type) const {
  switch (bound_of(type)) {
  case Bound::control:
    return limits_.max_control_message_size;
  case Bound::command:
    return limits_.max_command_message_size;
  case Bound::message:
    break;
  }
  return limits_.max_message_size;
}

void ChunkReader::set_chunk_size(std::uint32_t size) {
  chunk_size_ = std::clamp<std::uint32_t>(size, 1, chunk::kMaxChunkSize);
}

ChunkReader::Stream *ChunkReader::find(std::uint32_t csid) {
  return const_cast<Stream *>(std::as_const(*this).find(csid));
}

const ChunkReader::Stream *ChunkReader::find(std::uint32_t csid) const {
  if (csid < small_index_.size()) {
    const std::uint32_t i = small_index_[csid];
    return i ? &streams_[i - 1] : nullptr;
  }
  for (const Stream &s : streams_)
    if (s.csid == csid)
      return &s;
  return nullptr;
}

std::error_code ChunkReader::fail(std::error_code ec) {
  error_ = ec;
  return ec;
}

std::error_code ChunkReader::over_limit(std::string detail) {
  error_detail_ = std::move(detail);
  return make_error_code(Errc::limit_exceeded);
}

std::error_code ChunkReader::too_large(std::uint8_t type, std::uint32_t length) {
  const Bound b = bound_of(type);
  const char *which = b == Bound::control   ? "max_control_message_size"
                      : b == Bound::command ? "max_command_message_size"
                                            : "max_message_size";
  const char *phase = b == Bound::command ? " before streaming starts" : "";
  const std::uint32_t bound = max_size_of(type);
  return over_limit("peer announced a " + std::to_string(length) + "-byte " + type_name(type) +
                    " message (type " + std::to_string(type) + "), above the " +
                    std::to_string(bound) + "-byte limit" + phase + " (" + which + ")");
}

// Parses one chunk header (5.3.1) from the start of `bytes` without changing any state.
ChunkReader::Parse ChunkReader::parse_header(ByteView bytes, Header &h, std::error_code &ec) const {
  ByteReader r(bytes);
  std::uint8_t b0;
  if (!r.read_u8(b0))
    return Parse::need_more;
  h.fmt = b0 >> 6;
  h.csid = b0 & 0x3F;
  // 5.3.1.1: csid 0 -> 2-byte form (csid - 64 in the second byte); 1 -> 3-byte form (csid - 64
  // in the second and third byte, least significant first).
  if (h.csid == 0) {
    std::uint8_t b1;
    if (!r.read_u8(b1))
      return Parse::need_more;
    h.csid = 64 + b1;
  } else if (h.csid == 1) {
    std::uint8_t b1, b2;
    if (r.remaining() < 2)
      return Parse::need_more;
    r.read_u8(b1);
    r.read_u8(b2);
    h.csid = 64 + b1 + 256u * b2;
  }

  // Types 1, 2 and 3 inherit fields from the previous header of the same chunk stream
  // (5.3.1.2.2-4); without one there is nothing to inherit from.
  const Stream *prev = find(h.csid);
  if (h.fmt != 0 && !prev) {
    ec = Errc::chunk_bad_header;
    return Parse::error;
  }

  if (r.remaining() < kMessageHeaderSize[h.fmt])
    return Parse::need_more;
  if (h.fmt <= 2)
    r.read_u24(h.ts_field);
  if (h.fmt <= 1) {
    r.read_u24(h.length);
    r.read_u8(h.type);
  }
  if (h.fmt == 0)
    r.read_u32_le(h.stream_id); // 5.3.1.2.1: little-endian
  // The length is known now: refuse it before waiting for an extended timestamp, let alone the
  // payload. (Types 2 and 3 inherit a length that was checked when it was announced.)
  if (h.fmt <= 1 && h.length > max_size_of(h.type)) {
    ec = Errc::limit_exceeded;
    return Parse::error;
  }

  if (h.fmt <= 2) {
    // 5.3.1.3: the 24-bit field of all ones announces a 32-bit extended timestamp.
    if (h.ts_field == chunk::kExtendedTimestamp) {
      if (!r.read_u32(h.ts_field))
        return Parse::need_more;
    }
  } else if (prev->extended) {
    // 5.3.1.3 (2012 text): a type 3 chunk of a stream whose last header had an extended
    // timestamp repeats it. Flash, FMS and FFmpeg do so; some peers (old librtmp, some hardware
    // encoders) do not. We peek: if the next 4 bytes equal the stored extended value (or, for a
    // continuation, the message's absolute timestamp, which some senders repeat instead) they
    // are the extended timestamp, otherwise they are payload. Known ambiguity: a payload that
    // happens to begin with exactly those 4 bytes from a peer that omits the field is misread
    // (4 bytes lost, the next chunk header misaligned). While the available bytes are a prefix
    // of a candidate we wait for more instead of guessing.
    const ByteView peek = r.rest().first(std::min<std::size_t>(4, r.remaining()));
    const bool match_ext = is_prefix_of_u32(peek, prev->ext_value);
    const bool match_abs = prev->in_progress && is_prefix_of_u32(peek, prev->timestamp);
    if (match_ext || match_abs) {
      if (peek.size() < 4)
        return Parse::need_more;
      r.skip(4);
    }
  }
  h.size = r.position();
  return Parse::done;
}

// Updates the chunk stream state with a complete header and prepares to read its payload.
std::error_code ChunkReader::apply_header(const Header &h) {
  Stream *s = find(h.csid);
  if (!s) {
    // Only type 0 reaches here for an unknown csid (parse_header rejects the others).
    if (streams_.size() >= limits_.max_chunk_streams)
      return over_limit("peer opened more than " + std::to_string(limits_.max_chunk_streams) +
                        " chunk streams (max_chunk_streams)");
    streams_.push_back(Stream{});
    s = &streams_.back();
    s->csid = h.csid;
    if (h.csid < small_index_.size())
      small_index_[h.csid] = static_cast<std::uint32_t>(streams_.size());
  }

  if (s->in_progress) {
    // A type 0/1/2 header in the middle of a message. FFmpeg tolerates senders that repeat the
    // header on continuation chunks when it describes the same message; we do the same and keep
    // the message's timestamp. A header describing a different message would silently lose the
    // partial one, so it is an error (5.3.1.2: only type 3 continues a message).
    if (h.fmt <= 1 && (h.length != s->length || h.type != s->type))
      return Errc::chunk_bad_header;
    if (h.fmt == 0 && h.stream_id != s->stream_id)
      return Errc::chunk_bad_header;
  } else {
    switch (h.fmt) {
    case 0:
      s->timestamp = h.ts_field;
      // 5.3.1.2.4: a type 3 chunk following a type 0 chunk uses the type 0 timestamp as its
      // delta (FFmpeg and SRS agree; nginx-rtmp uses 0, so our writer never relies on this).
      s->delta = h.ts_field;
      s->length = h.length;
      s->type = h.type;
      s->stream_id = h.stream_id;
      break;
    case 1:
      s->length = h.length;
      s->type = h.type;
      [[fallthrough]];
    case 2:
      s->delta = h.ts_field;
      s->timestamp += h.ts_field; // 32-bit wraparound is intended (RTMP 1.0 section 4)
      break;
    default:
      s->timestamp += s->delta; // 5.3.1.2.4: same delta as the previous message
      break;
    }
    if (h.fmt <= 2) {
      s->extended = h.ts_field >= chunk::kExtendedTimestamp;
      s->ext_value = h.ts_field;
    }
    if (s->length > max_size_of(s->type))
      return too_large(s->type, s->length);
    // Another stream's message is incomplete: the peer interleaves (only ever set, see
    // peer_interleaves()). A continuation of it cannot be the first sign: some message started
    // while the other one was incomplete.
    if (in_progress_ > 0)
      interleaves_ = true;
    ++in_progress_;
    s->in_progress = true;
    s->received = 0;
    s->payload.clear();
    if (s->length >= kMinRecycledMessage && s->payload.capacity() < s->length && !spare_.empty()) {
      // The smallest spare that holds the whole message, else the largest (it grows once).
      auto best = spare_.begin();
      for (auto it = spare_.begin(); it != spare_.end(); ++it) {
        const bool fits = it->capacity() >= s->length;
        const bool best_fits = best->capacity() >= s->length;
        if (fits ? (!best_fits || it->capacity() < best->capacity())
                 : (!best_fits && it->capacity() > best->capacity()))
          best = it;
      }
      s->payload = std::move(*best);
      spare_.erase(best);
      s->payload.clear();
    }
    s->payload.reserve(std::min<std::size_t>(s->length, kInitialReserve));
  }

  current_ = static_cast<std::size_t>(s - streams_.data());
  in_chunk_ = true;
  chunk_remaining_ = std::min(chunk_size_, s->length - s->received);
  return {};
}

ChunkReader::PendingHeader ChunkReader::pending_header(bool assume) const {
  PendingHeader p;
  const std::uint8_t fmt = header_buf_[0] >> 6;
  const std::uint8_t low = header_buf_[0] & 0x3F;
  const std::size_t basic = low == 0 ? 2 : low == 1 ? 3 : 1;
  const std::size_t fixed = basic + kMessageHeaderSize[fmt];
  p.missing = fixed > header_len_ ? fixed - header_len_ : 0;
  p.held = header_len_ > fixed ? header_len_ - fixed : 0;
  if (fmt != 3)
    return p;
  if (header_len_ < basic) {
    if (!assume || current_ >= streams_.size() || !streams_[current_].in_progress)
      return p;
    const std::uint32_t csid = streams_[current_].csid;
    const std::uint8_t form = csid <= chunk::kMaxOneByteCsid   ? static_cast<std::uint8_t>(csid)
                              : csid <= chunk::kMaxTwoByteCsid ? 0
                                                               : 1;
    const bool fits = low == form && (header_len_ < 2 || form != 1 ||
                                      header_buf_[1] == static_cast<std::uint8_t>(csid - 64));
    if (fits)
      p.continues = &streams_[current_];
    return p;
  }
  std::uint32_t csid = low;
  if (low == 0)
    csid = 64 + header_buf_[1];
  else if (low == 1)
    csid = 64 + header_buf_[1] + 256u * header_buf_[2];
  if (const Stream *s = find(csid); s && s->in_progress)
    p.continues = s;
  return p;
}

std::size_t ChunkReader::bytes_to_complete_message() const {
  if (error_)
    return 0;
  if (header_len_ > 0) {
    const PendingHeader p = pending_header(true);
    if (!p.continues)
      return p.missing;
    // The first of the chunks still to come is the one whose header is partly here; what it
    // holds beyond its basic header may be payload already.
    const Stream &s = *p.continues;
    const std::size_t need = chunked_size(s.length - s.received, s.csid, chunk_size_) -
                             basic_header_size(s.csid) + p.missing;
    return need > p.held ? need - p.held : 1;
  }
  if (current_ >= streams_.size() || !streams_[current_].in_progress)
    return 0;
  const Stream &s = streams_[current_];
  const std::size_t missing = s.length - s.received;
  if (!in_chunk_)
    return chunked_size(missing, s.csid, chunk_size_);
  return chunk_remaining_ + chunked_size(missing - chunk_remaining_, s.csid, chunk_size_);
}

std::size_t ChunkReader::bytes_to_complete_chunk() const {
  if (error_)
    return 0;
  // What a chunk of `s` beginning now needs: its payload, and a next header if the message
  // goes on (that header could begin and end a zero-length message of another stream).
  auto chunk_of = [](const Stream &s, std::size_t payload) {
    return payload + (s.length - s.received > payload ? 1 : 0);
  };
  if (header_len_ > 0) {
    const PendingHeader p = pending_header(false);
    if (!p.continues)
      return p.missing;
    const Stream &s = *p.continues;
    const std::size_t need =
        p.missing + chunk_of(s, std::min<std::size_t>(chunk_size_, s.length - s.received));
    return need > p.held ? need - p.held : 1;
  }
  if (in_chunk_)
    return chunk_of(streams_[current_], chunk_remaining_);
  return 0;
}

void ChunkReader::give_storage(Bytes &&spare) {
  if (spare.capacity() >= kMinRecycledMessage && spare.capacity() <= kMaxSpareCapacity &&
      spare_.size() < kMaxSpareStorage)
    spare_.push_back(std::move(spare));
}

std::error_code ChunkReader::append_payload(ByteView bytes) {
  if (bytes.size() > limits_.max_buffered_bytes - buffered_)
    return over_limit("partial messages would hold more than " +
                      std::to_string(limits_.max_buffered_bytes) + " bytes (max_buffered_bytes)");
  Stream &s = streams_[current_];
  const std::size_t needed = s.payload.size() + bytes.size();
  if (needed > s.payload.capacity()) {
    // Grow geometrically, but never past the announced length.
    const std::size_t grown = std::max({needed, 2 * s.payload.capacity(), kInitialReserve});
    s.payload.reserve(std::min<std::size_t>(grown, s.length));
  }
  s.payload.insert(s.payload.end(), bytes.begin(), bytes.end());
  s.received += static_cast<std::uint32_t>(bytes.size());
  buffered_ += bytes.size();
  chunk_remaining_ -= static_cast<std::uint32_t>(bytes.size());
  return {};
}

std::error_code ChunkReader::complete_message(Stream &s, std::vector<Message> &out) {
  buffered_ -= s.received;
  s.in_progress = false;
  --in_progress_;
  s.received = 0;
  Message m;
  m.type = s.type;
  m.timestamp = s.timestamp;
  m.stream_id = s.stream_id;
  m.chunk_stream_id = s.csid;
  m.payload = std::move(s.payload);
  s.payload = Bytes{};

  // 5.4.1, 5.4.2: protocol control takes effect for the bytes that follow. We honour them on
  // any chunk/message stream, as FFmpeg and nginx-rtmp do.
  if (m.kind() == MessageType::set_chunk_size) {
    auto size = parse_set_chunk_size(m.payload);
    if (!size)
      return size.error() == Errc::truncated ? make_error_code(Errc::chunk_bad_size) : size.error();
    chunk_size_ = *size;
  } else if (m.kind() == MessageType::abort) {
    auto target = parse_u32_payload(m.payload);
    if (!target)
      return target.error();
    if (Stream *t = *target <= chunk::kMaxCsid ? find(*target) : nullptr; t && t->in_progress) {
      buffered_ -= t->received;
      t->in_progress = false;
      --in_progress_;
      t->received = 0;
      t->payload = Bytes{};
    }
  }
  out.push_back(std::move(m));
  return {};
}

// The most common header at small chunk sizes: a one-byte type 3 header continuing a message
// on a stream without extended timestamp. Same outcome as parse_header + apply_header, without
// their generality (measurably faster at chunk size 1).
bool ChunkReader::continue_fast(ByteReader &in) {
  std::uint8_t b0;
  if (!in.peek_u8(b0) || (b0 >> 6) != 3 || (b0 & 0x3F) < chunk::kMinCsid)
    return false;
  const std::uint32_t index = small_index_[b0 & 0x3F];
  if (index == 0)
    return false;
  const Stream &s = streams_[index - 1];
  if (!s.in_progress || s.extended)
    return false;
  in.skip(1);
  current_ = index - 1;
  in_chunk_ = true;
  chunk_remaining_ = std::min(chunk_size_, s.length - s.received);
  return true;
}

std::error_code ChunkReader::read(ByteView data, std::vector<Message> &out) {
  if (error_)
    return error_;
  bytes_read_ += data.size();
  std::size_t used = 0;
  if (auto ec = consume(data, out, false, used))
    return fail(ec);
  return {};
}

Result<std::size_t> ChunkReader::read_some(ByteView data, std::vector<Message> &out) {
  if (error_)
    return error_;
  std::size_t used = 0;
  if (auto ec = consume(data, out, true, used)) {
    bytes_read_ += data.size();
    return fail(ec);
  }
  bytes_read_ += used;
  return used;
}

std::error_code ChunkReader::consume(ByteView data, std::vector<Message> &out, bool one_message,
                                     std::size_t &used) {
  ByteReader in(data);
  used = data.size();
  while (true) {
    if (in_chunk_) {
      const std::size_t n = std::min<std::size_t>(chunk_remaining_, in.remaining());
      if (chunk_remaining_ > 0 && n == 0)
        break; // input exhausted inside the chunk
      ByteView slice;
      in.read_bytes(n, slice);
      if (auto ec = append_payload(slice))
        return ec;
      if (chunk_remaining_ > 0)
        break;
      in_chunk_ = false;
      Stream &s = streams_[current_];
      if (s.received == s.length) {
        if (auto ec = complete_message(s, out))
          return ec;
        if (one_message) {
          used = in.position();
          return {};
        }
      }
      continue;
    }
    if (in.empty())
      break;

    if (header_len_ == 0 && continue_fast(in))
      continue;

    Header h;
    std::error_code ec;
    if (header_len_ == 0) {
      const Parse p = parse_header(in.rest(), h, ec);
      if (p == Parse::error)
        return ec == Errc::limit_exceeded ? too_large(h.type, h.length) : ec;
      if (p == Parse::need_more) {
        // Less than a full header remains, so it fits in header_buf_.
        const ByteView rest = in.rest();
        std::copy(rest.begin(), rest.end(), header_buf_.begin());
        header_len_ = rest.size();
        break;
      }
      in.skip(h.size);
      if (auto aec = apply_header(h))
        return aec;
      continue;
    }

    // A header split across calls: complete it in header_buf_.
    const std::size_t resume = in.position();
    const std::size_t before = header_len_;
    ByteView more;
    in.read_bytes(std::min(header_buf_.size() - before, in.remaining()), more);
    std::copy(more.begin(), more.end(), header_buf_.begin() + before);
    const Parse p = parse_header(ByteView(header_buf_).first(before + more.size()), h, ec);
    if (p == Parse::error)
      return ec == Errc::limit_exceeded ? too_large(h.type, h.length) : ec;
    if (p == Parse::need_more) {
      header_len_ += more.size();
      break; // a header is at most kMaxHeaderSize bytes, so `in` is exhausted here
    }
    header_len_ = 0;
    if (auto aec = apply_header(h))
      return aec;
    in = ByteReader(data);
    if (h.size >= before) {
      in.skip(resume + (h.size - before)); // the rest of `more` is payload or the next chunk
    } else {
      // The extended-timestamp peek waited on bytes that turned out to be payload (see
      // parse_header): they were buffered before `data`, so feed them first.
      // Fewer than 4 bytes hold no header that announces a length, so they need not stop at a
      // message for the bounds' sake; the caller of read_some() still gets control after one.
      std::array<std::uint8_t, 4> held{};
      const std::size_t n = before - h.size;
      std::copy_n(header_buf_.begin() + h.size, n, held.begin());
      const std::size_t completed = out.size();
      std::size_t held_used = 0;
      if (auto cec = consume(ByteView(held).first(n), out, false, held_used))
        return cec;
      in.skip(resume);
      if (one_message && out.size() > completed) {
        used = resume;
        return {};
      }
    }
  }
  return {};
}

} // namespace rtmp
