#include "core/flv.hpp"

#include <algorithm>

namespace rtmp {
namespace {

// FLV header (FLV spec 10.1, E.2): Signature "FLV", Version 1, TypeFlags, DataOffset.
constexpr std::uint8_t kSignature[3] = {'F', 'L', 'V'};
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kFlagAudio = 0x04; // TypeFlagsAudio, bit 2
constexpr std::uint8_t kFlagVideo = 0x01; // TypeFlagsVideo, bit 0

// First byte of a tag (E.4.1): Reserved UB[2] (must be 0), Filter UB[1], TagType UB[5].
constexpr std::uint8_t kTagReservedMask = 0xC0;
constexpr std::uint8_t kTagFilterMask = 0x20;
constexpr std::uint8_t kTagTypeMask = 0x1F;

bool is_known_tag_type(std::uint8_t t) {
  return t == static_cast<std::uint8_t>(FlvTagType::audio) ||
         t == static_cast<std::uint8_t>(FlvTagType::video) ||
         t == static_cast<std::uint8_t>(FlvTagType::script);
}

} // namespace

Bytes make_flv_header(FlvHeader h) {
  Bytes out;
  ByteWriter w(out);
  w.bytes(ByteView(kSignature));
  w.u8(kVersion);
  w.u8(static_cast<std::uint8_t>((h.has_audio ? kFlagAudio : 0) | (h.has_video ? kFlagVideo : 0)));
  w.u32(kFlvHeaderSize); // DataOffset: the header's own length for version 1
  w.u32(0);              // PreviousTagSize0 is always 0 (E.3)
  return out;
}

std::error_code write_flv_tag_header(std::uint8_t type, std::uint32_t timestamp,
                                     std::size_t data_size, Bytes &out) {
  if (data_size > kMaxFlvTagDataSize)
    return Errc::invalid_argument;
  ByteWriter w(out);
  w.u8(type & kTagTypeMask);
  w.u24(static_cast<std::uint32_t>(data_size));
  w.u24(timestamp & 0xFFFFFFu);                     // Timestamp: lower 24 bits
  w.u8(static_cast<std::uint8_t>(timestamp >> 24)); // TimestampExtended: upper 8 bits
  w.u24(0);                                         // StreamID: always 0
  return {};
}

void write_flv_previous_tag_size(std::size_t data_size, Bytes &out) {
  ByteWriter(out).u32(static_cast<std::uint32_t>(kFlvTagHeaderSize + data_size));
}

std::error_code write_flv_tag(std::uint8_t type, std::uint32_t timestamp, ByteView data,
                              Bytes &out) {
  if (auto ec = write_flv_tag_header(type, timestamp, data.size(), out))
    return ec;
  ByteWriter(out).bytes(data);
  write_flv_previous_tag_size(data.size(), out); // PreviousTagSize
  return {};
}

Message flv_tag_to_message(FlvTag &&tag, std::uint32_t stream_id) {
  Message m;
  m.type = tag.type; // FLV TagType 8/9/18 == RTMP message type audio/video/data_amf0
  m.timestamp = tag.timestamp;
  m.stream_id = stream_id;
  m.payload = std::move(tag.data);
  return m;
}

Bytes prepend_set_data_frame(ByteView script_data) {
  static constexpr std::string_view kName = "@setDataFrame";
  Bytes out;
  out.reserve(3 + kName.size() + script_data.size());
  ByteWriter w(out);
  w.u8(0x02); // AMF0 string marker (AMF0 spec 2.4)
  w.u16(static_cast<std::uint16_t>(kName.size()));
  w.bytes(kName);
  w.bytes(script_data);
  return out;
}

FlvReader::FlvReader(FlvLimits limits) : limits_(limits) {}

void FlvReader::reset() {
  pending_.clear();
  pending_body_ = {};
  pending_need_ = 0;
  error_.clear();
  header_ = {};
  header_seen_ = false;
  tags_read_ = 0;
  mismatches_ = 0;
}

std::size_t FlvReader::needed(ByteView prefix, std::error_code &ec) const {
  if (prefix.empty())
    return 1;
  if (prefix[0] == kSignature[0]) {
    // A header. 'F' (0x46) has a reserved bit set, so it can never start a valid tag.
    for (std::size_t i = 1; i < std::min<std::size_t>(prefix.size(), 3); ++i) {
      if (prefix[i] != kSignature[i]) {
        ec = Errc::flv_bad_header;
        return 0;
      }
    }
    if (prefix.size() > 3 && prefix[3] != kVersion) {
      ec = Errc::flv_bad_header;
      return 0;
    }
    if (prefix.size() < kFlvHeaderSize)
      return kFlvHeaderSize;
    ByteReader r(prefix);
    std::uint32_t data_offset = 0;
    r.skip(5);
    r.read_u32(data_offset);
    if (data_offset < kFlvHeaderSize) {
      ec = Errc::flv_bad_header;
      return 0;
    }
    if (data_offset > kMaxFlvHeaderSize) {
      ec = Errc::limit_exceeded;
      return 0;
    }
    return data_offset + kFlvPreviousTagSizeSize;
  }

  const std::uint8_t first = prefix[0];
  if ((first & kTagReservedMask) != 0 || !is_known_tag_type(first & kTagTypeMask)) {
    ec = Errc::flv_bad_tag;
    return 0;
  }
  if (first & kTagFilterMask) {
    ec = Errc::unsupported; // encrypted tag (E.4.1 Filter, "Adobe Access")
    return 0;
  }
  if (prefix.size() < kFlvTagHeaderSize)
    return kFlvTagHeaderSize;
  ByteReader r(prefix);
  std::uint32_t data_size = 0, stream_id = 0;
  r.skip(1);
  r.read_u24(data_size);
  r.skip(4); // Timestamp + TimestampExtended
  r.read_u24(stream_id);
  if (data_size > limits_.max_tag_size) {
    ec = Errc::limit_exceeded;
    return 0;
  }
  // StreamID is "Always 0" (E.4.1) in every muxer we know of; anything else means we are not
  // looking at a tag boundary.
  if (stream_id != 0) {
    ec = Errc::flv_bad_tag;
    return 0;
  }
  return kFlvTagHeaderSize + data_size + kFlvPreviousTagSizeSize;
}

std::size_t FlvReader::pending_needed() {
  if (pending_need_ != 0)
    return pending_need_;
  const std::size_t need = needed(pending_, error_);
  if (error_)
    return 0;
  // Below its own header size needed() answers provisionally (1, 9 or 11); from there on the size
  // fields are visible and the answer is the unit's total size (E.2 DataOffset, E.4.1 DataSize).
  const std::size_t header_size = pending_[0] == kSignature[0] ? kFlvHeaderSize : kFlvTagHeaderSize;
  if (pending_.size() >= header_size)
    pending_need_ = need;
  return need;
}

void FlvReader::append_pending(ByteView bytes) {
  // Once a tag's header is complete (pending_need_ set), everything goes to its body: the common
  // case, and the only one when input comes a byte at a time.
  if (pending_need_ == 0 || pending_[0] == kSignature[0]) {
    // An FLV header stays whole in pending_; of a tag, pending_ takes the 11 header bytes only.
    const bool flv_header = (pending_.empty() ? bytes[0] : pending_[0]) == kSignature[0];
    const std::size_t to_pending =
        flv_header ? bytes.size() : std::min(bytes.size(), kFlvTagHeaderSize - pending_.size());
    pending_.insert(pending_.end(), bytes.begin(),
                    bytes.begin() + static_cast<std::ptrdiff_t>(to_pending));
    bytes = bytes.subspan(to_pending);
    if (bytes.empty())
      return;
  }
  // Only a tag whose header is complete gets here, and needed() has validated that header: its
  // total size is final and within FlvLimits::max_tag_size.
  if (pending_body_.empty())
    pending_body_.reserve(pending_needed() - kFlvTagHeaderSize);
  pending_body_.insert(pending_body_.end(), bytes.begin(), bytes.end());
}

FlvTag FlvReader::make_tag(ByteView header, std::uint32_t previous) {
  // needed() has validated every field read here.
  ByteReader r(header);
  std::uint8_t type = 0, ts_ext = 0;
  std::uint32_t size = 0, ts = 0;
  r.read_u8(type);
  r.read_u24(size);
  r.read_u24(ts);
  r.read_u8(ts_ext);
  if (previous != kFlvTagHeaderSize + size)
    ++mismatches_;
  FlvTag tag;
  tag.type = type & kTagTypeMask;
  tag.timestamp = ts | static_cast<std::uint32_t>(ts_ext) << 24;
  ++tags_read_;
  return tag;
}

void FlvReader::consume_unit(ByteView unit, std::vector<FlvTag> &out) {
  // needed() has validated every field read here and `unit` has exactly the announced size.
  ByteReader r(unit);
  if (unit[0] == kSignature[0]) {
    std::uint8_t flags = 0;
    std::uint32_t data_offset = 0, previous = 0;
    r.skip(4);
    r.read_u8(flags);
    r.read_u32(data_offset);
    r.skip(data_offset - kFlvHeaderSize);
    r.read_u32(previous);
    header_.has_audio = (flags & kFlagAudio) != 0;
    header_.has_video = (flags & kFlagVideo) != 0;
    header_seen_ = true;
    if (previous != 0)
      ++mismatches_;
    return;
  }
  const std::size_t size = unit.size() - kFlvTagHeaderSize - kFlvPreviousTagSizeSize;
  std::uint32_t previous = 0;
  ByteReader(unit.last(kFlvPreviousTagSizeSize)).read_u32(previous);
  FlvTag tag = make_tag(unit.first(kFlvTagHeaderSize), previous);
  const ByteView data = unit.subspan(kFlvTagHeaderSize, size);
  tag.data.assign(data.begin(), data.end());
  out.push_back(std::move(tag));
}

void FlvReader::consume_pending(std::vector<FlvTag> &out) {
  if (pending_[0] == kSignature[0]) {
    consume_unit(pending_, out);
  } else {
    const std::size_t size = pending_body_.size() - kFlvPreviousTagSizeSize;
    std::uint32_t previous = 0;
    ByteReader(ByteView(pending_body_).subspan(size)).read_u32(previous);
    FlvTag tag = make_tag(pending_, previous);
    pending_body_.resize(size);
    tag.data = std::move(pending_body_);
    out.push_back(std::move(tag));
  }
  pending_.clear();
  pending_body_ = {};
  pending_need_ = 0;
}

std::error_code FlvReader::read(ByteView data, std::vector<FlvTag> &out) {
  if (error_)
    return error_;
  // First complete a unit begun by an earlier call, copying only the bytes it still lacks.
  while (!pending_.empty()) {
    const std::size_t need = pending_need_ != 0 ? pending_need_ : pending_needed();
    if (error_)
      return error_;
    const std::size_t have = buffered();
    if (have >= need) {
      consume_pending(out);
      break;
    }
    if (data.empty())
      return {};
    const std::size_t take = std::min(need - have, data.size());
    append_pending(data.first(take));
    data = data.subspan(take);
  }
  // Then parse whole units straight from the caller's bytes; only an incomplete tail is copied.
  while (!data.empty()) {
    const std::size_t need = needed(data, error_);
    if (error_)
      return error_;
    if (need > data.size()) {
      append_pending(data);
      break;
    }
    consume_unit(data.first(need), out);
    data = data.subspan(need);
  }
  return {};
}

} // namespace rtmp
