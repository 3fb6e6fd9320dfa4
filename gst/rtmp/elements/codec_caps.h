// RTMP audio/video message headers <-> GstCaps, for elementary-stream pads.
//
// Source side: the parsed tag headers of core/enhanced.hpp (parse_video_tag / parse_audio_tag)
// plus the codec configuration of the sequence start become the caps of one pad. For the legacy
// codecs the caps are field for field what flvdemux (GStreamer 1.22) puts on its pads for the
// same FLV file, so that pipelines written for flvdemux keep working; H.264 gets alignment=au on
// top (flvdemux leaves it out, h264parse then has to guess). For the Enhanced RTMP v2 codecs
// they are the caps GStreamer's parsers and decoders take (h265parse, av1parse, vp9dec, opusdec,
// flacdec, ac3parse).
//
// Sink side: caps of a request pad become a SendFormat that builds the FLV/E-RTMP header bytes
// before each frame and the sequence-start message payload: legacy headers (FLV spec 10.1 E.4.2.1,
// E.4.3.1) for H.264, AAC and MP3 so that servers that predate Enhanced RTMP keep working,
// ExVideoTagHeader / ExAudioTagHeader with a FourCC (E-RTMP v2) for the rest.
//
// Nothing here touches a pad: the elements own pads, locking and timing.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/enhanced.hpp"
#include "core/error.hpp"

namespace rtmp::gst {

// Bounds on what a peer can make us put in caps. A codec configuration record is a few dozen
// bytes (avcC/hvcC with parameter sets: a few hundred; AV1 av1C: 4 + config OBUs); a record above
// this is hostile and is refused rather than copied into every caps event.
inline constexpr std::size_t kMaxCodecConfigSize = 64 * 1024;
// Pixel dimensions and frame rate taken from onMetaData into caps: beyond these the values are
// garbage (the largest video formats in use are 8K = 7680x4320; 1000 fps is far above any camera).
inline constexpr int kMaxVideoDimension = 16384;
inline constexpr double kMaxFrameRate = 1000.0;
// Below this a frame duration no longer fits a GstClockTime: onMetaData framerates are peer data.
inline constexpr double kMinFrameRate = 0.001;
// Pixel-aspect-ratio terms from onMetaData (AspectRatioX/Y).
inline constexpr int kMaxAspectTerm = 65535;

// What flvdemux takes from onMetaData into video caps (width, height, framerate, AspectRatioX/Y),
// 0 = unknown. See metadata_tags.h for reading them.
struct VideoHints {
  int width = 0;
  int height = 0;
  double framerate = 0;
  int par_n = 0;
  int par_d = 0;
  bool operator==(const VideoHints &) const = default;
};

// ---------------------------------------------------------------------------------------------
// Source side: message -> caps

// Caps for a video track of `codec` with codec configuration `config` (the sequence start
// payload: avcC, hvcC, av1C, vpcC; empty when none was received). nullptr (no caps yet) when the
// codec needs a configuration record and `config` is empty (AVC, HEVC, AV1: decoders cannot start
// without it, flvdemux waits the same way), or for an unknown codec or oversized config.
GstCaps *video_caps(VideoCodec codec, ByteView config, const VideoHints &hints = {});

// Caps for an audio track. rate_hz/bits/channels are the legacy AudioTagHeader values
// (AudioTagInfo after parse_audio_tag; 0 for enhanced tags). `config` is the sequence start
// payload (AudioSpecificConfig, OpusHead, "fLaC"+STREAMINFO, dac3/dec3 body), empty when none.
// nullptr when the codec needs a configuration (AAC, Opus, FLAC) and has none, or is unknown.
GstCaps *audio_caps(AudioCodec codec, int rate_hz, int bits, int channels, ByteView config);

// The part of a coded-frames payload that goes into the output buffer: the payload itself, except
// for VP6 and VP6 alpha where the first byte (HorizontalAdjustment/VerticalAdjustment, FLV spec
// E.4.3.1 VP6FLVVIDEOPACKET) is dropped as flvdemux does (the decoders do not expect it).
ByteView video_frame_data(const VideoTrackPacket &packet);

// PTS - DTS of a coded frame in nanoseconds: the SI24 CompositionTime (legacy AVC, avc1/hvc1
// CodedFrames; 0 for CodedFramesX) plus the ModEx TimestampOffsetNano (E-RTMP v2 "ModEx"), which
// refines the millisecond timestamp of the message. Add it to the DTS taken from the message
// timestamp to get the PTS.
inline std::int64_t presentation_offset_ns(const VideoTrackPacket &packet) {
  return std::int64_t{packet.composition_time_ms} * 1'000'000 + packet.nanosecond_offset;
}

// One source pad's worth of state, following flvdemux: remembers the codec, the last sequence
// start and (audio) the legacy rate/size/channels, and says when the caps must change (first
// media, a new sequence header, a codec or format change mid-stream).
class VideoTrackCaps {
public:
  VideoTrackCaps() = default;
  ~VideoTrackCaps();
  VideoTrackCaps(const VideoTrackCaps &) = delete;
  VideoTrackCaps &operator=(const VideoTrackCaps &) = delete;

  // Feed every parsed packet of this track (sequence start, coded frames...). Returns true when
  // caps() differs from what it returned before: push a caps event before this packet's data.
  bool update(const VideoTrackPacket &packet);
  // New onMetaData values; true when the caps changed.
  bool set_hints(const VideoHints &hints);
  // Current caps (transfer full), nullptr while not negotiable (see video_caps()).
  GstCaps *caps() const;
  VideoCodec codec() const { return codec_; }

private:
  bool refresh();
  VideoCodec codec_ = VideoCodec::unknown;
  Bytes config_;
  VideoHints hints_;
  GstCaps *caps_ = nullptr;
};

class AudioTrackCaps {
public:
  AudioTrackCaps() = default;
  ~AudioTrackCaps();
  AudioTrackCaps(const AudioTrackCaps &) = delete;
  AudioTrackCaps &operator=(const AudioTrackCaps &) = delete;

  // `tag` is the message the packet came from (for the legacy rate/size/channels flags).
  bool update(const AudioTagInfo &tag, const AudioTrackPacket &packet);
  GstCaps *caps() const;
  AudioCodec codec() const { return codec_; }

private:
  bool refresh();
  AudioCodec codec_ = AudioCodec::unknown;
  int rate_ = 0, bits_ = 0, channels_ = 0;
  Bytes config_;
  GstCaps *caps_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Sink side: caps -> header bytes

// rtmpsink's `enhanced` property: auto uses Enhanced RTMP only for codecs and track ids that
// need it, always uses FourCC headers for every codec that has a FourCC, never refuses codecs and
// track ids that need it.
enum class EnhancedMode { automatic, always, never };

// AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3) for the sequence header OBU found in
// `temporal_unit` (low-overhead OBUs, AV1 spec 5.3): seq_profile, seq_level_idx_0 and seq_tier_0
// from the OBU, the colour fields from `bit_depth`/`chroma_format` (caps), configOBUs = that OBU.
// Errc::truncated / malformed for a broken OBU, Errc::invalid_argument when there is no sequence
// header, Errc::limit_exceeded for an OBU above kMaxCodecConfigSize.
Result<Bytes> av1_config_from_temporal_unit(ByteView temporal_unit, unsigned bit_depth = 8,
                                            const std::string &chroma_format = "4:2:0");

// Template caps for rtmpsink's video_%u / audio_%u request pads.
GstCaps *video_sink_template_caps();
GstCaps *audio_sink_template_caps();

struct VideoSendFormat {
  VideoCodec codec = VideoCodec::unknown;
  bool enhanced = false;
  std::uint32_t fourcc = 0; // when enhanced
  std::uint8_t track_id = 0;
  Bytes config;              // sequence start body (avcC, hvcC, av1C, vpcC); empty when none yet
  int width = 0, height = 0; // from caps, for the VP6 adjustment byte and onMetaData
  int fps_n = 0, fps_d = 1;
  unsigned bit_depth = 8;         // bit-depth-luma of the caps (AV1 av1C, VP9 vpcC)
  std::string chroma_format = ""; // "4:2:0", "4:4:4"... of the caps, "" when not given

  // AV1 caps from av1parse carry no codec_data: the av1C is then built from the first temporal
  // unit that has a sequence header OBU. True when `config` was empty and is now set (send
  // sequence_start() before this frame); false when there was nothing to do or to find.
  bool take_config_from_frame(ByteView frame);

  // Whole message payload of the sequence start; empty when there is no configuration (legacy
  // codecs other than AVC, AV1 caps without codec_data).
  Bytes sequence_start() const;
  // Whole message payload of the sequence end (AVC and enhanced codecs; empty for the others).
  Bytes sequence_end() const;
  // Bytes to put before the data of one coded frame. `composition_time_ms` = PTS - DTS.
  Bytes frame_header(bool keyframe, std::int32_t composition_time_ms = 0) const;
};

struct AudioSendFormat {
  AudioCodec codec = AudioCodec::unknown;
  bool enhanced = false;
  std::uint32_t fourcc = 0;
  std::uint8_t track_id = 0;
  Bytes config; // AudioSpecificConfig, OpusHead, "fLaC"+STREAMINFO; empty when none
  int rate_hz = 0, bits = 16, channels = 0; // from caps (written in legacy headers)

  Bytes sequence_start() const; // empty for codecs without configuration
  Bytes sequence_end() const;   // enhanced only; empty for legacy
  Bytes frame_header() const;
};

// Errc::unsupported (with `why` saying what and why, for the element's error message) when the
// caps are of a codec we cannot send, or need Enhanced RTMP and `mode` is never;
// Errc::invalid_argument when they lack what the codec needs (H.264 without codec_data, ...).
Result<VideoSendFormat> video_send_format(const GstCaps *caps, EnhancedMode mode,
                                          std::uint8_t track_id, std::string *why = nullptr);
Result<AudioSendFormat> audio_send_format(const GstCaps *caps, EnhancedMode mode,
                                          std::uint8_t track_id, std::string *why = nullptr);

} // namespace rtmp::gst
