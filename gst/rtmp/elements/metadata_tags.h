// onMetaData (FLV spec 10.1 E.5 "onMetaData", the script data object RTMP publishers send with
// @setDataFrame) <-> GStreamer tags, for the elementary-stream pads.
//
// Source side: the standard fields become GST_TAG_* (global scope for title/artist/...; the
// bitrates go to the tag list of the pad they describe), width/height/framerate/AspectRatio
// become VideoHints for the caps (as flvdemux does), and every other field goes into a
// GstStructure named "rtmp-metadata" for an element message on the bus.
// Sink side: the reverse, an ECMA array for onMetaData from the upstream tags and the caps.
#pragma once

#include <gst/gst.h>

#include <cstddef>

#include "codec_caps.h"
#include "core/amf_value.hpp"

namespace rtmp::gst {

// Bounds on what a peer's onMetaData can make us build. Real metadata has 10 to 40 fields
// (FFmpeg ~15, OBS ~20, Wirecast adds a few dozen): 256 leaves room, a megabyte of fields does not
// become a megabyte of GValues on the bus. Strings are titles and encoder names; nesting is one
// level in practice (E-RTMP audioTrackIdInfoMap / videoTrackIdInfoMap).
inline constexpr std::size_t kMaxMetadataFields = 256;
inline constexpr std::size_t kMaxMetadataStringBytes = 4096;
inline constexpr std::size_t kMaxMetadataDepth = 4;
// onMetaData duration is in seconds (E.5); above ~31 years it is garbage, not a duration.
inline constexpr double kMaxMetadataDurationSeconds = 1e9;
// videodatarate/audiodatarate are in kbit/s (E.5); above 10 Gbit/s they are garbage.
inline constexpr double kMaxMetadataKbps = 1e7;

inline constexpr const char *kRtmpMetadataStructureName = "rtmp-metadata";

// The result of reading one onMetaData. Owns its members (unref'd/freed by the destructor); take
// them with std::exchange(m.global, nullptr) to keep them.
struct StreamMetadata {
  GstTagList *global = nullptr;  // GST_TAG_SCOPE_GLOBAL: title, artist, comment, encoder, date...
  GstTagList *video = nullptr;   // GST_TAG_SCOPE_STREAM: bitrate of the video pad
  GstTagList *audio = nullptr;   // GST_TAG_SCOPE_STREAM: bitrate of the audio pad
  GstStructure *extra = nullptr; // "rtmp-metadata": the fields not mapped to a tag or a hint
  VideoHints video_hints;

  StreamMetadata() = default;
  ~StreamMetadata();
  StreamMetadata(StreamMetadata &&o) noexcept;
  StreamMetadata &operator=(StreamMetadata &&o) noexcept;
  StreamMetadata(const StreamMetadata &) = delete;
  StreamMetadata &operator=(const StreamMetadata &) = delete;
};

// Reads an onMetaData value (an ECMA array or an object; anything else gives empty tag lists and
// no extra). Lists are always non-null for an object-like value, possibly empty; `extra` is null
// when every field was mapped. Non-UTF-8 or oversized strings and non-finite numbers are
// dropped; at most kMaxMetadataFields fields (nested ones included) are read.
StreamMetadata metadata_from_amf(const amf::Value &meta);

// An element message carrying a copy of `m.extra` (nullptr when there is none).
GstMessage *metadata_message(GstObject *src, const StreamMetadata &m);

// Parses onMetaData "creationdate": the ctime form Flash and flvdemux use ("Fri Oct 15 15:13:16
// 2004") or ISO 8601. nullptr when it is neither.
GstDateTime *parse_creation_date(const char *text);

// What the sink knows when it (re)sends onMetaData.
struct MetadataSource {
  const GstTagList *tags = nullptr;       // global upstream tags (title, artist...)
  const GstTagList *video_tags = nullptr; // the video pad's tags (GST_TAG_BITRATE)
  const GstTagList *audio_tags = nullptr; // the audio pad's tags
  const VideoSendFormat *video = nullptr; // null when there is no video pad
  const AudioSendFormat *audio = nullptr;
};

// The onMetaData ECMA array, fields in the order FFmpeg's flv muxer writes them: duration 0 (live),
// width, height, videodatarate, framerate, videocodecid, audiodatarate, audiosamplerate,
// audiosamplesize, stereo, audiocodecid, then title, artist, comment, copyright, encoder,
// creationdate from the tags. Codec ids are the legacy CodecID/SoundFormat, or the FourCC as a
// number for enhanced tracks (E-RTMP v1 "onMetaData ... videocodecid").
amf::Value metadata_to_amf(const MetadataSource &source);

} // namespace rtmp::gst
