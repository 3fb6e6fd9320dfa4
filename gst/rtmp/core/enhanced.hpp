// Structured view of an audio/video message payload (= FLV tag Data): the legacy FLV headers
// (FLV spec 10.1, E.4.2.1 AUDIODATA / AudioTagHeader, E.4.3.1 VIDEODATA / VideoTagHeader) and the
// Enhanced RTMP v2 ones (veovera enhanced-rtmp-v2, "Enhanced Audio" ExAudioTagHeader/Body and
// "Enhanced Video" ExVideoTagHeader/Body, ModEx, Multitrack), plus the capability negotiation of
// "Enhancing NetConnection connect Command".
//
// Parsing never copies media: every ByteView in a result points into the parsed payload, which
// must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/amf_value.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp {

// Bounds on what a peer can make us do for one message.
// Track ids are UI8 (E-RTMP "Multitrack"), so a sane message never needs more tracks than this;
// without a bound, 4-byte tracks in a 16 MiB message would make us build millions of entries.
inline constexpr std::size_t kMaxTracksPerMessage = 256;
// The spec defines one ModEx type (TimestampOffsetNano) so a chain longer than a few entries is
// hostile; each entry is at least 2 bytes, but we bound the loop explicitly anyway.
inline constexpr std::size_t kMaxModExEntries = 16;
// TimestampOffsetNano: "modExData must be at least 3 bytes, storing values up to 999,999 ns".
inline constexpr std::uint32_t kMaxNanosecondOffset = 999'999;

// "hvc1" -> 0x68766331 (E-RTMP makeFourCc: big-endian ASCII).
std::uint32_t fourcc(const char (&s)[5]);
std::string fourcc_to_string(std::uint32_t fourcc); // non-printable bytes shown as '?'

// ---------------------------------------------------------------------------------------------
// Video
// Legacy CodecID values keep their numbers; FourCC-only codecs get values >= 100 so that no one
// mistakes them for a CodecID.
enum class VideoCodec {
  unknown = 0,
  sorenson_h263 = 2,
  screen = 3,
  vp6 = 4,
  vp6_alpha = 5,
  screen_v2 = 6,
  avc = 7,
  hevc = 100,
  av1,
  vp9,
  vp8,
};
enum class VideoPacketKind {
  sequence_start,
  coded_frames, // CodedFrames and CodedFramesX (composition time 0)
  sequence_end,
  metadata, // AMF-encoded [name, value] pairs, e.g. "colorInfo" (E-RTMP "Metadata Frame")
  other,    // legacy codecs' frame type 5 payloads and codecs we do not know
  mpeg2ts_sequence_start, // E-RTMP MPEG2TSSequenceStart (AV1 video descriptor)
};
enum class FrameType {
  keyframe = 1,
  inter = 2,
  disposable_inter = 3,
  generated_keyframe = 4,
  command = 5,
};
enum class MultitrackType : std::uint8_t {
  one_track = 0,
  many_tracks = 1,
  many_tracks_many_codecs = 2
};

struct VideoTrackPacket {
  std::uint8_t track_id = 0;
  VideoCodec codec = VideoCodec::unknown;
  std::uint32_t fourcc = 0; // 0 for legacy (CodecID) tags
  VideoPacketKind kind = VideoPacketKind::other;
  std::uint8_t packet_type = 0; // raw AVCPacketType (legacy AVC/HEVC) or VideoPacketType
  std::int32_t composition_time_ms = 0;
  std::uint32_t nanosecond_offset = 0; // ModEx TimestampOffsetNano of the message
  // Codec configuration record for sequence_start, frame data for coded_frames, AMF for
  // metadata; for legacy non-AVC codecs the whole VideoData field (E.4.3.1).
  ByteView payload;
};

struct VideoTagInfo {
  bool enhanced = false;
  FrameType frame_type = FrameType::keyframe;
  bool multitrack = false;
  MultitrackType multitrack_type = MultitrackType::one_track; // meaningful when multitrack
  std::vector<VideoTrackPacket> tracks;                       // empty for command frames
  bool is_command_frame = false;
  std::uint8_t command = 0; // VideoCommand (0 start seek, 1 end seek) when is_command_frame
};

// Parses a video message payload. Errors: Errc::truncated (input ends inside a field or a
// track's announced size), Errc::malformed (reserved frame type, packet type or multitrack type,
// a nested Multitrack, legacy AVCPacketType > 2, bad nanosecond offset), Errc::limit_exceeded
// (more than kMaxTracksPerMessage tracks or kMaxModExEntries ModEx entries).
// An unknown FourCC is not an error: the track has codec unknown and its raw body as payload.
// Legacy CodecID 12 is read as HEVC with the AVC packet layout, the pre-E-RTMP convention of
// Chinese CDNs that SRS and FFmpeg forks follow.
Result<VideoTagInfo> parse_video_tag(ByteView payload);

// ---------------------------------------------------------------------------------------------
// Audio
// Legacy SoundFormat values keep their numbers; FourCC-only codecs get values >= 100.
enum class AudioCodec {
  linear_pcm_ne = 0,
  adpcm = 1,
  mp3 = 2,
  linear_pcm_le = 3,
  nellymoser_16k = 4,
  nellymoser_8k = 5,
  nellymoser = 6,
  g711_alaw = 7,
  g711_mulaw = 8,
  aac = 10,
  speex = 11,
  mp3_8k = 14,
  device_specific = 15,
  opus = 100,
  flac,
  ac3,
  eac3,
  unknown,
};
enum class AudioPacketKind {
  sequence_start,
  coded_frames,
  sequence_end,
  multichannel_config,
  other
};

// E-RTMP AudioPacketType.MultichannelConfig body.
enum class AudioChannelOrder : std::uint8_t { unspecified = 0, native = 1, custom = 2 };
struct AudioMultichannelConfig {
  AudioChannelOrder order = AudioChannelOrder::unspecified;
  std::uint8_t channel_count = 0;
  std::uint32_t channel_flags = 0; // AudioChannelMask bits, for order native
  ByteView channel_mapping;        // one AudioChannel byte per channel, for order custom
};

struct AudioTrackPacket {
  std::uint8_t track_id = 0;
  AudioCodec codec = AudioCodec::unknown;
  std::uint32_t fourcc = 0; // 0 for legacy (SoundFormat) tags
  AudioPacketKind kind = AudioPacketKind::other;
  std::uint8_t packet_type = 0;         // raw AACPacketType (legacy AAC) or AudioPacketType
  std::uint32_t nanosecond_offset = 0;  // ModEx TimestampOffsetNano of the message
  AudioMultichannelConfig multichannel; // when kind == multichannel_config
  // AudioSpecificConfig / OpusHead / fLaC+STREAMINFO for sequence_start, frames for
  // coded_frames, the bytes after the config for multichannel_config (normally none); for legacy
  // codecs other than AAC the whole SoundData field (E.4.2.1).
  ByteView payload;
};

struct AudioTagInfo {
  bool enhanced = false;
  // Legacy SoundRate/SoundSize/SoundType (E.4.2.1) turned into numbers, with the fixed values
  // of Nellymoser 8/16 kHz, MP3 8 kHz and Speex (16 kHz mono) applied. For AAC the FLV spec says
  // the flags are always 44 kHz stereo and the AudioSpecificConfig is authoritative. Enhanced
  // tags carry none of this (it is in the codec configuration): rate_hz, bits and channels are 0.
  int rate_hz = 0;
  int bits = 16;
  int channels = 1;
  bool multitrack = false;
  MultitrackType multitrack_type = MultitrackType::one_track;
  std::vector<AudioTrackPacket> tracks;
  // An empty audio message is the "audio silence" message (E-RTMP AudioPacketType notes): no
  // header, no tracks.
  bool silence = false;
};

// Errors as for parse_video_tag. A reserved legacy SoundFormat (12, 13) is not an error: the
// track has codec unknown.
Result<AudioTagInfo> parse_audio_tag(ByteView payload);

// ---------------------------------------------------------------------------------------------
// Codec <-> FourCC (E-RTMP VideoFourCc / AudioFourCc). 0 / unknown when there is none.
std::uint32_t video_codec_fourcc(VideoCodec codec);
VideoCodec video_codec_from_fourcc(std::uint32_t fourcc);
std::uint32_t audio_codec_fourcc(AudioCodec codec);
AudioCodec audio_codec_from_fourcc(std::uint32_t fourcc);

// ---------------------------------------------------------------------------------------------
// Builders for the sink side. Each returns the header bytes that go before the frame data.
//
// Legacy VideoTagHeader: 1 byte, plus AVCPacketType and SI24 CompositionTime for AVC (and HEVC
// with CodecID 12). `kind` other is written as a coded frame.
Bytes make_legacy_video_header(FrameType frame_type, VideoCodec codec, VideoPacketKind kind,
                               std::int32_t composition_time_ms = 0);
// ExVideoTagHeader for one track: [ModEx TimestampOffsetNano when nanosecond_offset != 0],
// FourCC, and for avc1/hvc1 coded frames the SI24 composition time. Coded frames with composition
// time 0 are sent as CodedFramesX (the spec's optimisation). Only avc1 and hvc1 carry a
// composition time: for other codecs it is not written.
Bytes make_enhanced_video_header(FrameType frame_type, VideoPacketKind kind, std::uint32_t fourcc,
                                 std::int32_t composition_time_ms = 0,
                                 std::uint32_t nanosecond_offset = 0);
// Legacy AudioTagHeader: 1 byte, plus AACPacketType for AAC. rate_hz/bits/channels are mapped to
// the nearest flag values (AAC is always written as 44 kHz 16-bit stereo, as the spec asks).
Bytes make_legacy_audio_header(AudioCodec codec, int rate_hz, int bits, int channels,
                               AudioPacketKind kind = AudioPacketKind::coded_frames);
// ExAudioTagHeader for one track: [ModEx], FourCC.
Bytes make_enhanced_audio_header(AudioPacketKind kind, std::uint32_t fourcc,
                                 std::uint32_t nanosecond_offset = 0);

// Complete payloads from a description (inverse of the parsers; the payload views are copied).
// Enhanced coded frames are written as CodedFramesX when the track's packet_type is 3, else as
// CodedFrames; a multichannel_config track is written from its `multichannel` member. Legacy
// command frames are written with CodecID 0 (the parser does not keep it).
// Errc::invalid_argument for descriptions the wire cannot express (no tracks, tracks of
// different kinds in one multitrack message, one_track with several tracks, many_tracks with
// different FourCCs, a legacy tag with more than one track, a track body above 2^24-1 bytes).
Result<Bytes> write_video_tag(const VideoTagInfo &info);
Result<Bytes> write_audio_tag(const AudioTagInfo &info);

// ---------------------------------------------------------------------------------------------
// connect command capability negotiation (E-RTMP "Enhancing NetConnection connect Command").
// FourCcInfoMask bits of videoFourCcInfoMap / audioFourCcInfoMap values.
inline constexpr int kFourCcCanDecode = 0x01;
inline constexpr int kFourCcCanEncode = 0x02;
inline constexpr int kFourCcCanForward = 0x04;
// CapsExMask bits of capsEx.
inline constexpr int kCapsExReconnect = 0x01;
inline constexpr int kCapsExMultitrack = 0x02;
inline constexpr int kCapsExModEx = 0x04;
inline constexpr int kCapsExTimestampNanoOffset = 0x08;
// Bound on the entries we take from each list/map of a peer's connect object; extra entries are
// ignored (a real client lists a handful of codecs; "*" stands for all).
inline constexpr std::size_t kMaxFourCcEntries = 64;

struct EnhancedCapabilities {
  std::vector<std::string> fourcc_list;         // fourCcList (E-RTMP v1); may contain "*"
  std::map<std::string, int> video_fourcc_info; // videoFourCcInfoMap: FourCC -> FourCcInfoMask
  std::map<std::string, int> audio_fourcc_info; // audioFourCcInfoMap
  int caps_ex = 0;                              // capsEx: CapsExMask
  bool operator==(const EnhancedCapabilities &) const = default;
  bool empty() const {
    return fourcc_list.empty() && video_fourcc_info.empty() && audio_fourcc_info.empty() &&
           caps_ex == 0;
  }
};

// Reads the E-RTMP properties of a connect command object (an Object or ECMA array). Missing or
// mistyped properties are left empty; numbers are clamped to 0..0x7fffffff; at most
// kMaxFourCcEntries entries per list/map are kept.
EnhancedCapabilities parse_enhanced_capabilities(const amf::Value &connect_command_object);
// Sets fourCcList (strict array), videoFourCcInfoMap / audioFourCcInfoMap (objects) and capsEx
// (number) on `connect_command_object`, replacing properties of the same name; empty ones are
// not written.
void add_enhanced_capabilities(amf::Properties &connect_command_object,
                               const EnhancedCapabilities &caps);

} // namespace rtmp
