// The FLV byte stream that rtmpsrc and rtmpserversrc output, built from RTMP media messages.
//
// Both elements promise the same thing downstream: first a buffer with the
// FLV header (flagged HEADER), then one buffer per RTMP audio/video/data message, each a complete
// FLV tag (FLV spec 10.1 E.4.1), and caps `video/x-flv` carrying a `streamheader` with the FLV
// header, the onMetaData tag and the codec sequence headers as soon as they are known. onMetaData
// also becomes a GstTagList, held until the first audio/video buffer went out (flvdemux drops a
// tag event that reaches it before it has pads). Keeping this in one place is what makes the two
// sources interchangeable in front of flvdemux.
#pragma once

#include <gst/gst.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/amf_value.hpp"
#include "core/chunk_reader.hpp"
#include "core/message.hpp"

namespace rtmp::gst {

// Rebases RTMP timestamps (32-bit milliseconds that wrap, RTMP 1.0 section 5.3.1.3) to a
// 64-bit timeline starting at the first audio/video message. Consecutive messages are never more
// than 2^31 ms (24 days) apart, so the signed difference of two 32-bit values is the true
// step even across the 0xFFFFFFFF -> 0 wrap. (The 0xFFFFFF extended-timestamp boundary is the
// chunk layer's business: the core hands us full 32-bit timestamps.)
struct Timeline {
  bool started = false;
  std::uint32_t last = 0;
  std::int64_t position = 0; // ms since the first message
  // The largest position returned so far: audio and video interleave with small DTS
  // inversions, so the last message is not always the latest one, and a publisher that
  // continues the timeline must start after this one (rtmpserversrc on-disconnect=wait).
  std::int64_t highest = 0;

  std::int64_t rebase(std::uint32_t ts) {
    if (!started) {
      started = true;
      last = ts;
      highest = std::max(highest, position);
      return position < 0 ? 0 : position;
    }
    position += static_cast<std::int32_t>(ts - last);
    last = ts;
    highest = std::max(highest, position);
    // Audio and video are interleaved with small DTS inversions; never go before the start.
    return position < 0 ? 0 : position;
  }
  // A new publisher continues this timeline: its first message is placed at `at` ms
  // (rtmpserversrc on-disconnect=wait).
  void restart_at(std::int64_t at) {
    started = false;
    position = at;
  }
};

// AVC/HEVC/AV1... sequence headers and AAC AudioSpecificConfig: what a decoder needs before the
// first frame (FLV spec 10.1 E.4.2.1/E.4.3.1: AACPacketType / AVCPacketType 0; Enhanced RTMP v2
// ExVideoTagHeader PacketTypeSequenceStart 0).
bool is_video_config(ByteView payload);
bool is_audio_config(ByteView payload);

// onMetaData (FLV spec 10.1 E.5) as tags, or nullptr when it is not an object.
GstTagList *metadata_to_tags(const amf::Value &meta);

// The other data messages publishers send in an FLV stream (Adobe's FLV/F4V "onTextData" and
// "onCuePoint" script data, what FFmpeg and Flash Media Live Encoder write), as the element
// message structures the sources post: `rtmp-text-data` (text, language when present,
// timestamp-ms) and `rtmp-cue-point` (name, time in seconds, type, timestamp-ms, and
// `parameters`, a structure of the scalar parameters). nullptr for other handlers or a first
// argument that is not an object. Field counts and string lengths are bounded like the
// metadata tags (the data is peer-controlled).
GstStructure *data_to_structure(std::string_view handler, const amf::Value &arg,
                                std::int64_t timestamp_ms);

// Payload vectors coming back from freed output buffers (in whatever thread frees them), for the
// chunk reader to reassemble later messages into (ChunkReader::give_storage): reused storage
// is not page-faulted in again. Thread-safe; keeps at most ChunkReader::kMaxSpareStorage.
class StoragePool {
public:
  void put(Bytes &&b);
  std::vector<Bytes> take_all();

private:
  std::mutex mutex_;
  std::vector<Bytes> free_;
};

// One FLV tag (FLV spec 10.1 E.4.1: tag header, data, PreviousTagSize) as a GstBuffer, taking
// over `payload` as the tag's data: large payloads are wrapped as they are (the buffer's middle
// GstMemory owns the moved vector), small ones are copied into one memory. nullptr when the
// payload is larger than an FLV tag can describe. The bytes are those of write_flv_tag(). With
// a `pool`, a wrapped payload's vector goes there when the buffer's memory is freed.
GstBuffer *flv_tag_buffer(std::uint8_t type, std::uint32_t timestamp, Bytes &&payload,
                          std::shared_ptr<StoragePool> pool = nullptr);

// Answers the ALLOCATION query that GstBaseSrc sends downstream at every (re)negotiation at the
// source's own src pad instead. The sources never allocate from a downstream pool (their buffers
// hold the message payloads, flv_tag_buffer), and sent downstream the query is serialized: a
// `tee ! queue` branch holds it behind its buffers while its sink waits for preroll, and a live
// pipeline plays only once every sink prerolled, so when another branch's sink still waits for
// data (flvdemux's audio pad) from the very thread blocked in the query, the stream stops for
// good. flvdemux linking a pad sends the RECONFIGURE that starts such a renegotiation.
void answer_allocation_locally(GstPad *srcpad);

class FlvOutput {
public:
  FlvOutput();
  ~FlvOutput();
  FlvOutput(const FlvOutput &) = delete;
  FlvOutput &operator=(const FlvOutput &) = delete;

  // Forgets the timeline, the stored headers and pending tags (a new stream).
  void reset();

  // The FLV header buffer (flagged HEADER, timestamp 0).
  GstBuffer *header_buffer() const;
  // Caps with the current streamheader.
  GstCaps *caps() const;
  // The answer to a caps query on the source's `srcpad` (GstBaseSrc::get_caps), intersected with
  // `filter` when given. A caps query may come from any thread while the FlvOutput belongs to the
  // streaming thread: once caps are set, the pad's (what the streaming thread last set) answer
  // it; before, the streaming thread has not started writing and caps() does.
  GstCaps *query_caps(GstPad *srcpad, GstCaps *filter) const;
  // True once when the streamheader changed since the last call (set new caps then).
  bool take_caps_changed();

  // One output buffer for a message (an FLV tag, PTS = DTS = rebased timestamp), or nullptr for
  // messages that are not part of the FLV stream (AMF3 data, an empty payload, undecodable
  // data). `log_object` is used for debug output only. The payload of a converted message is
  // moved into the buffer: `msg.payload` is empty afterwards.
  GstBuffer *message_to_buffer(GstObject *log_object, Message &msg);

  // The tags from the last onMetaData, once an audio/video buffer went out (else nullptr).
  // Ownership passes to the caller.
  GstTagList *take_ready_tags();

  // The `rtmp-text-data` / `rtmp-cue-point` structure (data_to_structure) of the message the
  // last message_to_buffer() call converted, or nullptr. Only the latest one is held, so a
  // user that never takes them (rtmpsrc) keeps at most one. Ownership passes to the caller.
  GstStructure *take_data_structure();

  // Payload vectors of freed output buffers, to hand to the session (Connection::give_storage).
  std::vector<Bytes> take_spare_storage() { return pool_->take_all(); }

  Timeline &timeline() { return timeline_; }
  std::uint64_t media_buffers_out() const { return media_buffers_out_; }

private:
  Timeline timeline_;
  Bytes flv_header_;
  std::optional<Bytes> metadata_tag_, video_config_tag_, audio_config_tag_;
  bool caps_dirty_ = false;
  GstTagList *pending_tags_ = nullptr;
  GstStructure *data_structure_ = nullptr;
  std::uint64_t media_buffers_out_ = 0;
  std::shared_ptr<StoragePool> pool_ = std::make_shared<StoragePool>();
};

} // namespace rtmp::gst
