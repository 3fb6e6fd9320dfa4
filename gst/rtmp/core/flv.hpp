// FLV container framing: file header, tags and PreviousTagSize fields (FLV spec 10.1, annex E.2
// "The FLV header", E.3 "The FLV file body", E.4.1 "FLV Tag").
//
// An RTMP audio/video/data message payload is exactly the Data field of the FLV tag of the same
// type, so the source element writes tags from messages and the sink element reads tags from
// whatever byte stream flvmux (or a file) hands it. The codec-level payload layout lives in
// enhanced.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

// Sizes fixed by the FLV spec 10.1: header (E.2), tag header (E.4.1), PreviousTagSize (E.3).
inline constexpr std::size_t kFlvHeaderSize = 9;
inline constexpr std::size_t kFlvTagHeaderSize = 11;
inline constexpr std::size_t kFlvPreviousTagSizeSize = 4;
// DataSize is a UI24 (E.4.1): the largest tag body the format can describe.
inline constexpr std::uint32_t kMaxFlvTagDataSize = 0xFFFFFF;
// DataOffset (E.2) may in principle announce a header longer than 9 bytes (reserved for future
// versions); we skip such an extension but bound it so that garbage cannot make us buffer
// megabytes before the first tag.
inline constexpr std::uint32_t kMaxFlvHeaderSize = 1024;

// TagType values (E.4.1). They equal the RTMP message type ids of the same payloads.
enum class FlvTagType : std::uint8_t { audio = 8, video = 9, script = 18 };

// TypeFlagsAudio / TypeFlagsVideo of the FLV header (E.2).
struct FlvHeader {
  bool has_audio = true;
  bool has_video = true;
  bool operator==(const FlvHeader &) const = default;
};

// The 9-byte FLV header (signature "FLV", version 1, flags, DataOffset 9) followed by
// PreviousTagSize0 = 0 (E.3): what a file or a streamheader starts with.
Bytes make_flv_header(FlvHeader h);

struct FlvTag {
  std::uint8_t type = 0;       // an FlvTagType value: 8, 9 or 18
  std::uint32_t timestamp = 0; // milliseconds: Timestamp (UI24) | TimestampExtended (UI8) << 24
  Bytes data;                  // the tag's Data field, i.e. the RTMP message payload
  bool operator==(const FlvTag &) const = default;
};

// Appends tag header + data + PreviousTagSize (= 11 + data size) to `out`. StreamID is written as
// 0 (E.4.1 "Always 0"). Returns Errc::invalid_argument (and appends nothing) when data is larger
// than kMaxFlvTagDataSize, which the UI24 DataSize cannot express.
std::error_code write_flv_tag(std::uint8_t type, std::uint32_t timestamp, ByteView data,
                              Bytes &out);

// The two parts of write_flv_tag() around the data, for callers that keep the data where it is
// (rtmpsrc wraps the message payload into its output buffer instead of copying it): the 11-byte
// tag header of a tag with `data_size` bytes of data, and the 4-byte PreviousTagSize that
// follows the data. Same bounds and bytes as write_flv_tag().
std::error_code write_flv_tag_header(std::uint8_t type, std::uint32_t timestamp,
                                     std::size_t data_size, Bytes &out);
void write_flv_previous_tag_size(std::size_t data_size, Bytes &out);

// The RTMP message carrying `tag` on message stream `stream_id`: tag type 8/9/18 maps to
// MessageType audio/video/data_amf0 (same numbers). chunk_stream_id is left 0 so that the chunk
// writer chooses. A script tag is passed through as is: RTMP publishers conventionally prefix
// "onMetaData" with "@setDataFrame" (see prepend_set_data_frame), which is the session's choice.
Message flv_tag_to_message(FlvTag &&tag, std::uint32_t stream_id);

// AMF0 string "@setDataFrame" followed by `script_data`: the form in which a publisher sends an
// FLV onMetaData script tag so that the server stores it for later players (this is what
// FFmpeg, OBS and rtmp2sink send; the RTMP 1.0 spec does not describe it).
Bytes prepend_set_data_frame(ByteView script_data);

struct FlvLimits {
  // Largest tag body we accept; above it the reader fails with Errc::limit_exceeded instead of
  // buffering. The UI24 field caps it at kMaxFlvTagDataSize anyway.
  std::uint32_t max_tag_size = 16 << 20;
};

// Incremental FLV reader for input cut anywhere (a sink receives buffers split at arbitrary
// points). Sans-IO: feed bytes, collect complete tags.
//
// Accepted framing, repeated: an optional FLV header (9 bytes + PreviousTagSize0), then tags, each
// followed by its PreviousTagSize. The header is detected by its "FLV" signature; input may start
// directly with a tag, as flvmux's one-tag-per-buffer output does after its streamheader. A
// header may also reappear at a tag boundary (concatenated files, a muxer re-sending its
// streamheader); it is accepted and header() is updated.
//
// Errors are sticky: after one, read() returns it again without consuming anything until
// reset(). Garbage is reported as Errc::flv_bad_header (bad signature or version, DataOffset < 9)
// or Errc::flv_bad_tag (reserved bits set, unknown TagType, StreamID != 0); an encrypted tag
// (Filter bit, E.4.1) as Errc::unsupported; a body above FlvLimits::max_tag_size or a header
// longer than kMaxFlvHeaderSize as Errc::limit_exceeded.
class FlvReader {
public:
  explicit FlvReader(FlvLimits limits = {});

  // Consumes all of `data`; appends each complete tag to `out`. Bytes of an incomplete tag are
  // kept (buffered()) until a later call completes it. On error, tags completed before the bad
  // one are still appended to `out`.
  std::error_code read(ByteView data, std::vector<FlvTag> &out);

  bool header_seen() const { return header_seen_; }
  FlvHeader header() const { return header_; }
  // Bytes held of a unit (header or tag) that is not complete yet.
  std::size_t buffered() const { return pending_.size() + pending_body_.size(); }
  std::size_t tags_read() const { return tags_read_; }
  // PreviousTagSize fields that do not equal 11 + DataSize (or 0 after the header). They are
  // tolerated because real muxers get them wrong (some write the data size alone, some always
  // write 0, some count a previous tag they dropped) and the framing never depends on them: the
  // tag header's DataSize says where the next tag starts.
  std::size_t previous_tag_size_mismatches() const { return mismatches_; }
  // Forgets buffered bytes, the error and the header: ready for a new stream.
  void reset();

private:
  // How many bytes the unit starting at `prefix` needs in total, given the bytes available so
  // far (the answer grows once a header's size fields are visible). 0 with `ec` set on garbage.
  std::size_t needed(ByteView prefix, std::error_code &ec) const;
  // needed() for the unit held in pending_, computed once: as soon as the unit's own header
  // (FLV header or tag header) is complete the answer can no longer change, so it is cached in
  // pending_need_: a unit fed one byte per read() then costs a copy per byte instead of a
  // re-parse of its header (twice) per byte.
  std::size_t pending_needed();
  // Appends bytes of the pending unit (never more than it still needs): a tag's body and
  // PreviousTagSize go to pending_body_ once its header is complete, everything else to pending_.
  void append_pending(ByteView bytes);
  // Completes the unit of `unit` (header or whole tag, parsed in place) or, for
  // consume_pending(), the one held in pending_ + pending_body_.
  void consume_unit(ByteView unit, std::vector<FlvTag> &out);
  void consume_pending(std::vector<FlvTag> &out);
  // A tag from its validated 11-byte header (E.4.1) and its PreviousTagSize field.
  FlvTag make_tag(ByteView header, std::uint32_t previous);

  FlvLimits limits_;
  // The pending unit: an FLV header whole, or a tag's header (up to 11 bytes).
  Bytes pending_;
  // The Data field + PreviousTagSize of a pending tag whose header is complete, reserved at their
  // full size (bounded by FlvLimits::max_tag_size) when the header completes: a tag that arrives
  // in pieces (filesrc hands out 4 KiB buffers, video tags are tens of KiB) is copied once into
  // it and its Data then moved into the FlvTag, not copied out of a buffer holding the whole unit.
  Bytes pending_body_;
  // Total size of the unit in pending_ once its header is complete (final), else 0.
  std::size_t pending_need_ = 0;
  std::error_code error_;
  FlvHeader header_;
  bool header_seen_ = false;
  std::size_t tags_read_ = 0;
  std::size_t mismatches_ = 0;
};

} // namespace rtmp
