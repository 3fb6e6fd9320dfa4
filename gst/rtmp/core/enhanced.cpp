#include "core/enhanced.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string_view>

namespace rtmp {
namespace {

// VideoPacketType (E-RTMP v2 "Enhanced Video", ExVideoTagHeader).
constexpr std::uint8_t kVptSequenceStart = 0;
constexpr std::uint8_t kVptCodedFrames = 1;
constexpr std::uint8_t kVptSequenceEnd = 2;
constexpr std::uint8_t kVptCodedFramesX = 3;
constexpr std::uint8_t kVptMetadata = 4;
constexpr std::uint8_t kVptMpeg2TsSequenceStart = 5;
constexpr std::uint8_t kVptMultitrack = 6;
constexpr std::uint8_t kVptModEx = 7;

// AudioPacketType (E-RTMP v2 "Enhanced Audio", ExAudioTagHeader). 3 and 6 are reserved.
constexpr std::uint8_t kAptSequenceStart = 0;
constexpr std::uint8_t kAptCodedFrames = 1;
constexpr std::uint8_t kAptSequenceEnd = 2;
constexpr std::uint8_t kAptMultichannelConfig = 4;
constexpr std::uint8_t kAptMultitrack = 5;
constexpr std::uint8_t kAptModEx = 7;

// VideoPacketModExType / AudioPacketModExType.
constexpr std::uint8_t kModExTimestampOffsetNano = 0;

// isExVideoHeader is the top bit of the first video byte; SoundFormat 9 is ExHeader.
constexpr std::uint8_t kExVideoHeaderBit = 0x80;
constexpr std::uint8_t kSoundFormatExHeader = 9;
// Legacy CodecID 7 = AVC (FLV spec E.4.3.1); 12 = HEVC in the pre-E-RTMP Chinese convention.
constexpr std::uint8_t kCodecIdAvc = 7;
constexpr std::uint8_t kCodecIdHevcLegacy = 12;
// AVCPacketType (E.4.3.1 AVCVIDEOPACKET): 0 sequence header, 1 NALU, 2 end of sequence.
constexpr std::uint8_t kMaxAvcPacketType = 2;
// AACPacketType (E.4.2.1): 0 sequence header, 1 raw.
constexpr std::uint8_t kMaxAacPacketType = 1;
// SoundRate (E.4.2.1): 0 = 5.5 kHz, 1 = 11 kHz, 2 = 22 kHz, 3 = 44 kHz.
constexpr int kSoundRates[4] = {5512, 11025, 22050, 44100};

const std::uint32_t kFourCcAvc1 = fourcc("avc1");
const std::uint32_t kFourCcHvc1 = fourcc("hvc1");

bool carries_composition_time(std::uint32_t fcc) {
  return fcc == kFourCcAvc1 || fcc == kFourCcHvc1;
}

// The ModEx chain shared by audio and video headers: while the packet type says ModEx, read
// modExDataSize (UI8 + 1, or UI16 + 1 when the UI8 form says 256), modExData, then a byte of
// ModExType (high nibble) and the next packet type (low nibble).
std::error_code read_mod_ex(ByteReader &r, std::uint8_t mod_ex_value, std::uint8_t &packet_type,
                            std::uint32_t &nanosecond_offset) {
  std::size_t entries = 0;
  while (packet_type == mod_ex_value) {
    if (++entries > kMaxModExEntries)
      return Errc::limit_exceeded;
    std::uint8_t size8 = 0;
    if (!r.read_u8(size8))
      return Errc::truncated;
    std::size_t size = std::size_t{size8} + 1;
    if (size == 256) {
      std::uint16_t size16 = 0;
      if (!r.read_u16(size16))
        return Errc::truncated;
      size = std::size_t{size16} + 1;
    }
    ByteView data;
    std::uint8_t types = 0;
    if (!r.read_bytes(size, data) || !r.read_u8(types))
      return Errc::truncated;
    packet_type = types & 0x0F;
    if ((types >> 4) == kModExTimestampOffsetNano) {
      std::uint32_t nano = 0;
      ByteReader d(data);
      if (!d.read_u24(nano) || nano > kMaxNanosecondOffset)
        return Errc::malformed;
      nanosecond_offset = nano;
    }
    // Other ModEx types are unknown modifiers: skipped, which is what their size prefix is for.
  }
  return {};
}

// Multitrack prologue (AvMultitrackType high nibble, packet type low nibble, FourCC unless each
// track has its own) or the single-track FourCC.
struct TrackLayout {
  bool multitrack = false;
  MultitrackType type = MultitrackType::one_track;
  std::uint32_t fourcc = 0;
};

std::error_code read_track_layout(ByteReader &r, std::uint8_t multitrack_value,
                                  std::uint8_t mod_ex_value, std::uint8_t &packet_type,
                                  TrackLayout &layout) {
  if (packet_type == multitrack_value) {
    layout.multitrack = true;
    std::uint8_t b = 0;
    if (!r.read_u8(b))
      return Errc::truncated;
    if ((b >> 4) > static_cast<std::uint8_t>(MultitrackType::many_tracks_many_codecs))
      return Errc::malformed;
    layout.type = static_cast<MultitrackType>(b >> 4);
    packet_type = b & 0x0F;
    // "This fetch MUST not result in a ...PacketType.Multitrack"; ModEx comes before Multitrack.
    if (packet_type == multitrack_value || packet_type == mod_ex_value)
      return Errc::malformed;
    if (layout.type != MultitrackType::many_tracks_many_codecs && !r.read_u32(layout.fourcc))
      return Errc::truncated;
    return {};
  }
  if (!r.read_u32(layout.fourcc))
    return Errc::truncated;
  return {};
}

// The body loop of ExVideoTagBody / ExAudioTagBody: per track [FourCC] trackId [UI24 size],
// then the track body. Each track becomes a packet of `info.tracks` with the fields every track
// has; `read_body(t, b)` reads what its packet type adds from the track body `b`, and the rest of
// the body is the packet's payload.
template <typename Info, typename CodecOf, typename ReadBody>
std::error_code read_tracks(ByteReader &r, const TrackLayout &layout, std::uint8_t packet_type,
                            std::uint32_t nano, CodecOf codec_of, Info &info,
                            ReadBody &&read_body) {
  info.multitrack = layout.multitrack;
  info.multitrack_type = layout.type;
  std::uint32_t fcc = layout.fourcc;
  for (std::size_t count = 0;; ++count) {
    std::uint8_t track_id = 0;
    ByteView body;
    if (layout.multitrack) {
      if (count >= kMaxTracksPerMessage)
        return Errc::limit_exceeded;
      if (layout.type == MultitrackType::many_tracks_many_codecs && !r.read_u32(fcc))
        return Errc::truncated;
      if (!r.read_u8(track_id))
        return Errc::truncated;
      if (layout.type != MultitrackType::one_track) {
        // sizeOfTrack counts from just after itself to the next track's FourCC or trackId.
        std::uint32_t size = 0;
        if (!r.read_u24(size) || !r.read_bytes(size, body))
          return Errc::truncated;
      }
    }
    if (!layout.multitrack || layout.type == MultitrackType::one_track)
      r.read_bytes(r.remaining(), body);
    typename decltype(Info::tracks)::value_type t;
    t.track_id = track_id;
    t.fourcc = fcc;
    t.codec = codec_of(fcc);
    t.packet_type = packet_type;
    t.nanosecond_offset = nano;
    ByteReader b(body);
    if (auto ec = read_body(t, b))
      return ec;
    t.payload = b.rest();
    info.tracks.push_back(t);
    if (r.empty())
      return {};
  }
}

Result<VideoTagInfo> parse_legacy_video(std::uint8_t first, ByteReader &r) {
  // VideoTagHeader (FLV spec E.4.3.1): FrameType UB[4], CodecID UB[4].
  VideoTagInfo info;
  const std::uint8_t frame_type = first >> 4;
  const std::uint8_t codec_id = first & 0x0F;
  if (frame_type < 1 || frame_type > 5)
    return Errc::malformed;
  info.frame_type = static_cast<FrameType>(frame_type);
  if (info.frame_type == FrameType::command) {
    // "video info/command frame": a UI8 instead of video data.
    info.is_command_frame = true;
    if (!r.read_u8(info.command))
      return Errc::truncated;
    return info;
  }
  VideoTrackPacket t;
  t.kind = VideoPacketKind::coded_frames;
  if (codec_id >= static_cast<std::uint8_t>(VideoCodec::sorenson_h263) && codec_id <= kCodecIdAvc)
    t.codec = static_cast<VideoCodec>(codec_id);
  else if (codec_id == kCodecIdHevcLegacy)
    t.codec = VideoCodec::hevc;
  else
    t.kind = VideoPacketKind::other;
  if (codec_id == kCodecIdAvc || codec_id == kCodecIdHevcLegacy) {
    // AVCVIDEOPACKET: AVCPacketType UI8, CompositionTime SI24.
    if (!r.read_u8(t.packet_type) || !r.read_i24(t.composition_time_ms))
      return Errc::truncated;
    if (t.packet_type > kMaxAvcPacketType)
      return Errc::malformed;
    t.kind = t.packet_type == 0   ? VideoPacketKind::sequence_start
             : t.packet_type == 1 ? VideoPacketKind::coded_frames
                                  : VideoPacketKind::sequence_end;
  }
  t.payload = r.rest();
  info.tracks.push_back(t);
  return info;
}

std::uint32_t to_u32(char a, char b, char c, char d) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(a)) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b)) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(c)) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(d));
}

void write_mod_ex_nano(ByteWriter &w, std::uint32_t nano, std::uint8_t next_packet_type) {
  w.u8(3 - 1); // modExDataSize - 1: three bytes of UI24
  w.u24(nano);
  w.u8(static_cast<std::uint8_t>(kModExTimestampOffsetNano << 4 | (next_packet_type & 0x0F)));
}

std::uint8_t video_packet_type_for(const VideoTrackPacket &t) {
  switch (t.kind) {
  case VideoPacketKind::sequence_start:
    return kVptSequenceStart;
  case VideoPacketKind::sequence_end:
    return kVptSequenceEnd;
  case VideoPacketKind::metadata:
    return kVptMetadata;
  case VideoPacketKind::mpeg2ts_sequence_start:
    return kVptMpeg2TsSequenceStart;
  case VideoPacketKind::coded_frames:
  case VideoPacketKind::other:
    break;
  }
  return t.packet_type == kVptCodedFramesX ? kVptCodedFramesX : kVptCodedFrames;
}

std::uint8_t audio_packet_type_for(AudioPacketKind kind) {
  switch (kind) {
  case AudioPacketKind::sequence_start:
    return kAptSequenceStart;
  case AudioPacketKind::sequence_end:
    return kAptSequenceEnd;
  case AudioPacketKind::multichannel_config:
    return kAptMultichannelConfig;
  case AudioPacketKind::coded_frames:
  case AudioPacketKind::other:
    break;
  }
  return kAptCodedFrames;
}

std::uint8_t legacy_video_codec_id(VideoCodec codec) {
  if (codec == VideoCodec::hevc)
    return kCodecIdHevcLegacy;
  const int v = static_cast<int>(codec);
  if (v >= static_cast<int>(VideoCodec::sorenson_h263) && v <= static_cast<int>(VideoCodec::avc))
    return static_cast<std::uint8_t>(v);
  return 0;
}

int legacy_sound_format(AudioCodec codec) {
  const int v = static_cast<int>(codec);
  if (v >= 0 && v <= 15 && v != kSoundFormatExHeader && v != 12 && v != 13)
    return v;
  return -1;
}

// Appends the multitrack prologue/body framing shared by audio and video writers. `bodies[i]`
// is the already serialised body of track i.
std::error_code write_tracks(ByteWriter &w, bool multitrack, MultitrackType type,
                             const std::vector<std::uint32_t> &fourccs,
                             const std::vector<std::uint8_t> &track_ids,
                             const std::vector<Bytes> &bodies, std::uint8_t packet_type) {
  if (!multitrack) {
    if (bodies.size() != 1)
      return Errc::invalid_argument;
    w.u32(fourccs[0]);
    w.bytes(bodies[0]);
    return {};
  }
  if (type == MultitrackType::one_track && bodies.size() != 1)
    return Errc::invalid_argument;
  if (type == MultitrackType::many_tracks &&
      std::any_of(fourccs.begin(), fourccs.end(), [&](auto f) { return f != fourccs[0]; }))
    return Errc::invalid_argument;
  w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(type) << 4 | packet_type));
  if (type != MultitrackType::many_tracks_many_codecs)
    w.u32(fourccs[0]);
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    if (type == MultitrackType::many_tracks_many_codecs)
      w.u32(fourccs[i]);
    w.u8(track_ids[i]);
    if (type != MultitrackType::one_track) {
      if (bodies[i].size() > 0xFFFFFF)
        return Errc::invalid_argument;
      w.u24(static_cast<std::uint32_t>(bodies[i].size()));
    }
    w.bytes(bodies[i]);
  }
  return {};
}

// The part of write_video_tag / write_audio_tag after the legacy cases: the first byte
// (`header_bits` | packet type), [ModEx TimestampOffsetNano], then the tracks, whose packet type
// (`packet_type_of(t)`) and nanosecond offset must all agree. `write_body(t, packet_type, bw)`
// writes what a track body has before its payload.
template <typename Info, typename PacketTypeOf, typename WriteBody>
std::error_code write_ex_tag(ByteWriter &w, const Info &info, std::uint8_t header_bits,
                             std::uint8_t mod_ex_value, std::uint8_t multitrack_value,
                             PacketTypeOf packet_type_of, WriteBody &&write_body) {
  if (info.tracks.empty())
    return Errc::invalid_argument;
  const std::uint8_t packet_type = packet_type_of(info.tracks[0]);
  const std::uint32_t nano = info.tracks[0].nanosecond_offset;
  std::vector<std::uint32_t> fourccs;
  std::vector<std::uint8_t> ids;
  std::vector<Bytes> bodies;
  for (const auto &t : info.tracks) {
    if (packet_type_of(t) != packet_type || t.nanosecond_offset != nano)
      return Errc::invalid_argument;
    fourccs.push_back(t.fourcc);
    ids.push_back(t.track_id);
    Bytes body;
    ByteWriter bw(body);
    if (auto ec = write_body(t, packet_type, bw))
      return ec;
    bw.bytes(t.payload);
    bodies.push_back(std::move(body));
  }
  const std::uint8_t first_type = info.multitrack ? multitrack_value : packet_type;
  if (nano != 0) {
    if (nano > kMaxNanosecondOffset)
      return Errc::invalid_argument;
    w.u8(header_bits | mod_ex_value);
    write_mod_ex_nano(w, nano, first_type);
  } else {
    w.u8(header_bits | first_type);
  }
  return write_tracks(w, info.multitrack, info.multitrack_type, fourccs, ids, bodies, packet_type);
}

const amf::Properties *properties_of(const amf::Value &v) {
  if (const auto *o = v.get_if<amf::Object>())
    return &o->properties;
  if (const auto *e = v.get_if<amf::EcmaArray>())
    return &e->properties;
  return nullptr;
}

const amf::Value *lookup(const amf::Properties &props, std::string_view key) {
  for (const auto &[k, v] : props)
    if (k == key)
      return &v;
  return nullptr;
}

// A peer's number as a non-negative int: NaN and negatives become 0, huge values INT_MAX.
int clamp_to_int(const amf::Value &v) {
  double d = 0;
  if (const auto *x = v.get_if<double>())
    d = *x;
  else if (const auto *i = v.get_if<amf::Integer>())
    d = i->value;
  else
    return 0;
  if (!(d > 0))
    return 0;
  if (d >= static_cast<double>(INT_MAX))
    return INT_MAX;
  return static_cast<int>(d);
}

std::map<std::string, int> read_info_map(const amf::Value *v) {
  std::map<std::string, int> out;
  const amf::Properties *props = v ? properties_of(*v) : nullptr;
  if (!props)
    return out;
  for (const auto &[k, value] : *props) {
    if (out.size() >= kMaxFourCcEntries)
      break;
    out[k] = clamp_to_int(value);
  }
  return out;
}

amf::Value info_map_value(const std::map<std::string, int> &m) {
  amf::Object o;
  for (const auto &[k, v] : m)
    o.properties.emplace_back(k, amf::Value(static_cast<double>(v)));
  return amf::Value(std::move(o));
}

} // namespace

std::uint32_t fourcc(const char (&s)[5]) {
  return to_u32(s[0], s[1], s[2], s[3]);
}

std::string fourcc_to_string(std::uint32_t f) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((f >> shift) & 0xFF);
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return out;
}

namespace {

// The FourCC of each Enhanced RTMP v2 codec ("Enhancing FLV", FourCC table); one table serves
// both directions of the mapping.
struct VideoFourcc {
  VideoCodec codec;
  const char name[5];
};
constexpr VideoFourcc kVideoFourccs[] = {{VideoCodec::avc, "avc1"},
                                         {VideoCodec::hevc, "hvc1"},
                                         {VideoCodec::av1, "av01"},
                                         {VideoCodec::vp9, "vp09"},
                                         {VideoCodec::vp8, "vp08"}};
struct AudioFourcc {
  AudioCodec codec;
  const char name[5];
};
constexpr AudioFourcc kAudioFourccs[] = {{AudioCodec::aac, "mp4a"},  {AudioCodec::mp3, ".mp3"},
                                         {AudioCodec::opus, "Opus"}, {AudioCodec::flac, "fLaC"},
                                         {AudioCodec::ac3, "ac-3"},  {AudioCodec::eac3, "ec-3"}};

} // namespace

std::uint32_t video_codec_fourcc(VideoCodec codec) {
  for (const auto &e : kVideoFourccs)
    if (e.codec == codec)
      return fourcc(e.name);
  return 0;
}

VideoCodec video_codec_from_fourcc(std::uint32_t f) {
  for (const auto &e : kVideoFourccs)
    if (fourcc(e.name) == f)
      return e.codec;
  return VideoCodec::unknown;
}

std::uint32_t audio_codec_fourcc(AudioCodec codec) {
  for (const auto &e : kAudioFourccs)
    if (e.codec == codec)
      return fourcc(e.name);
  return 0;
}

AudioCodec audio_codec_from_fourcc(std::uint32_t f) {
  for (const auto &e : kAudioFourccs)
    if (fourcc(e.name) == f)
      return e.codec;
  return AudioCodec::unknown;
}

Result<VideoTagInfo> parse_video_tag(ByteView payload) {
  ByteReader r(payload);
  std::uint8_t first = 0;
  if (!r.read_u8(first))
    return Errc::truncated;
  if (!(first & kExVideoHeaderBit))
    return parse_legacy_video(first, r);

  // ExVideoTagHeader: isExVideoHeader UB[1], VideoFrameType UB[3], VideoPacketType UB[4].
  VideoTagInfo info;
  info.enhanced = true;
  const std::uint8_t frame_type = (first >> 4) & 0x07;
  std::uint8_t packet_type = first & 0x0F;
  std::uint32_t nano = 0;
  if (auto ec = read_mod_ex(r, kVptModEx, packet_type, nano))
    return ec;
  info.frame_type = static_cast<FrameType>(frame_type);
  if (packet_type != kVptMetadata && info.frame_type == FrameType::command) {
    // A command frame has no FourCC and no body: just the VideoCommand UI8.
    info.is_command_frame = true;
    if (!r.read_u8(info.command))
      return Errc::truncated;
    return info;
  }
  TrackLayout layout;
  if (auto ec = read_track_layout(r, kVptMultitrack, kVptModEx, packet_type, layout))
    return ec;
  if (packet_type > kVptMpeg2TsSequenceStart)
    return Errc::malformed; // reserved VideoPacketType
  // The frame type is ignored for Metadata; otherwise 0, 6 and 7 are reserved.
  if (packet_type != kVptMetadata && (frame_type < 1 || frame_type > 4))
    return Errc::malformed;
  auto read_body = [&](VideoTrackPacket &t, ByteReader &b) -> std::error_code {
    switch (packet_type) {
    case kVptSequenceStart:
      t.kind = VideoPacketKind::sequence_start;
      break;
    case kVptCodedFrames:
      t.kind = VideoPacketKind::coded_frames;
      // Only AVC and HEVC coded frames carry the SI24 compositionTimeOffset.
      if (carries_composition_time(t.fourcc) && !b.read_i24(t.composition_time_ms))
        return Errc::truncated;
      break;
    case kVptSequenceEnd:
      t.kind = VideoPacketKind::sequence_end;
      break;
    case kVptCodedFramesX:
      t.kind = VideoPacketKind::coded_frames;
      break;
    case kVptMetadata:
      t.kind = VideoPacketKind::metadata;
      break;
    default:
      t.kind = VideoPacketKind::mpeg2ts_sequence_start;
      break;
    }
    return {};
  };
  if (auto ec = read_tracks(r, layout, packet_type, nano, video_codec_from_fourcc, info, read_body))
    return ec;
  return info;
}

Result<AudioTagInfo> parse_audio_tag(ByteView payload) {
  AudioTagInfo info;
  ByteReader r(payload);
  std::uint8_t first = 0;
  if (!r.read_u8(first)) {
    info.silence = true; // an empty audio message means silence, not an error
    return info;
  }
  const std::uint8_t sound_format = first >> 4;
  if (sound_format != kSoundFormatExHeader) {
    // AudioTagHeader (FLV spec E.4.2.1): SoundFormat UB[4], SoundRate UB[2], SoundSize UB[1],
    // SoundType UB[1].
    info.rate_hz = kSoundRates[(first >> 2) & 0x03];
    info.bits = (first & 0x02) ? 16 : 8;
    info.channels = (first & 0x01) ? 2 : 1;
    AudioTrackPacket t;
    t.kind = AudioPacketKind::coded_frames;
    t.codec = (sound_format == 12 || sound_format == 13) ? AudioCodec::unknown
                                                         : static_cast<AudioCodec>(sound_format);
    switch (t.codec) {
    case AudioCodec::nellymoser_16k:
      info.rate_hz = 16000;
      info.channels = 1;
      break;
    case AudioCodec::nellymoser_8k:
    case AudioCodec::g711_alaw: // G.711 is 8 kHz; SoundRate cannot express it (as FFmpeg reads)
    case AudioCodec::g711_mulaw:
      info.rate_hz = 8000;
      info.channels = (t.codec == AudioCodec::nellymoser_8k) ? 1 : info.channels;
      break;
    case AudioCodec::mp3_8k:
      info.rate_hz = 8000;
      break;
    case AudioCodec::speex:
      // "Speex ... mono sampled at 16 kHz" whatever the flags say (E.4.2.1).
      info.rate_hz = 16000;
      info.channels = 1;
      info.bits = 16;
      break;
    case AudioCodec::aac:
      if (!r.read_u8(t.packet_type))
        return Errc::truncated;
      if (t.packet_type > kMaxAacPacketType)
        return Errc::malformed;
      t.kind = t.packet_type == 0 ? AudioPacketKind::sequence_start : AudioPacketKind::coded_frames;
      break;
    case AudioCodec::unknown:
      t.kind = AudioPacketKind::other;
      break;
    default:
      break;
    }
    t.payload = r.rest();
    info.tracks.push_back(t);
    return info;
  }

  // ExAudioTagHeader: the low nibble is an AudioPacketType.
  info.enhanced = true;
  info.rate_hz = 0;
  info.bits = 0;
  info.channels = 0;
  std::uint8_t packet_type = first & 0x0F;
  std::uint32_t nano = 0;
  if (auto ec = read_mod_ex(r, kAptModEx, packet_type, nano))
    return ec;
  TrackLayout layout;
  if (auto ec = read_track_layout(r, kAptMultitrack, kAptModEx, packet_type, layout))
    return ec;
  if (packet_type != kAptSequenceStart && packet_type != kAptCodedFrames &&
      packet_type != kAptSequenceEnd && packet_type != kAptMultichannelConfig)
    return Errc::malformed; // reserved AudioPacketType
  auto read_body = [&](AudioTrackPacket &t, ByteReader &b) -> std::error_code {
    switch (packet_type) {
    case kAptSequenceStart:
      t.kind = AudioPacketKind::sequence_start;
      break;
    case kAptCodedFrames:
      t.kind = AudioPacketKind::coded_frames;
      break;
    case kAptSequenceEnd:
      t.kind = AudioPacketKind::sequence_end;
      break;
    default: {
      // MultichannelConfig: AudioChannelOrder UI8, channelCount UI8, then a UI8 mapping per
      // channel (Custom) or UI32 AudioChannelMask flags (Native).
      t.kind = AudioPacketKind::multichannel_config;
      std::uint8_t order = 0;
      if (!b.read_u8(order) || !b.read_u8(t.multichannel.channel_count))
        return Errc::truncated;
      if (order > static_cast<std::uint8_t>(AudioChannelOrder::custom))
        return Errc::malformed;
      t.multichannel.order = static_cast<AudioChannelOrder>(order);
      if (t.multichannel.order == AudioChannelOrder::custom &&
          !b.read_bytes(t.multichannel.channel_count, t.multichannel.channel_mapping))
        return Errc::truncated;
      if (t.multichannel.order == AudioChannelOrder::native &&
          !b.read_u32(t.multichannel.channel_flags))
        return Errc::truncated;
      break;
    }
    }
    return {};
  };
  if (auto ec = read_tracks(r, layout, packet_type, nano, audio_codec_from_fourcc, info, read_body))
    return ec;
  return info;
}

Bytes make_legacy_video_header(FrameType frame_type, VideoCodec codec, VideoPacketKind kind,
                               std::int32_t composition_time_ms) {
  Bytes out;
  ByteWriter w(out);
  const std::uint8_t codec_id = legacy_video_codec_id(codec);
  w.u8(static_cast<std::uint8_t>((static_cast<int>(frame_type) & 0x0F) << 4 | codec_id));
  if (codec_id == kCodecIdAvc || codec_id == kCodecIdHevcLegacy) {
    w.u8(kind == VideoPacketKind::sequence_start ? 0
         : kind == VideoPacketKind::sequence_end ? 2
                                                 : 1);
    w.i24(composition_time_ms);
  }
  return out;
}

Bytes make_enhanced_video_header(FrameType frame_type, VideoPacketKind kind, std::uint32_t fcc,
                                 std::int32_t composition_time_ms,
                                 std::uint32_t nanosecond_offset) {
  VideoTrackPacket t;
  t.kind = kind;
  std::uint8_t packet_type = video_packet_type_for(t);
  const bool with_cts = carries_composition_time(fcc) && composition_time_ms != 0;
  if (packet_type == kVptCodedFrames && carries_composition_time(fcc) && !with_cts)
    packet_type = kVptCodedFramesX;
  Bytes out;
  ByteWriter w(out);
  const auto frame_bits = static_cast<std::uint8_t>((static_cast<int>(frame_type) & 0x07) << 4);
  if (nanosecond_offset != 0) {
    w.u8(kExVideoHeaderBit | frame_bits | kVptModEx);
    write_mod_ex_nano(w, std::min(nanosecond_offset, kMaxNanosecondOffset), packet_type);
  } else {
    w.u8(kExVideoHeaderBit | frame_bits | packet_type);
  }
  w.u32(fcc);
  if (packet_type == kVptCodedFrames && with_cts)
    w.i24(composition_time_ms);
  return out;
}

Bytes make_legacy_audio_header(AudioCodec codec, int rate_hz, int bits, int channels,
                               AudioPacketKind kind) {
  Bytes out;
  ByteWriter w(out);
  const int format = legacy_sound_format(codec);
  if (format < 0)
    return out;
  int rate = rate_hz >= 44100 ? 3 : rate_hz >= 22050 ? 2 : rate_hz >= 11025 ? 1 : 0;
  int size = bits >= 16 ? 1 : 0;
  int type = channels >= 2 ? 1 : 0;
  if (codec == AudioCodec::aac) {
    rate = 3; // "SoundRate should be set to 3 (44 kHz)", SoundType 1 (E.4.2.1)
    size = 1;
    type = 1;
  } else if (codec == AudioCodec::speex) {
    rate = 0; // "SoundRate shall be 0, SoundSize shall be 1, SoundType shall be 0"
    size = 1;
    type = 0;
  }
  w.u8(static_cast<std::uint8_t>(format << 4 | rate << 2 | size << 1 | type));
  if (codec == AudioCodec::aac)
    w.u8(kind == AudioPacketKind::sequence_start ? 0 : 1);
  return out;
}

Bytes make_enhanced_audio_header(AudioPacketKind kind, std::uint32_t fcc,
                                 std::uint32_t nanosecond_offset) {
  const std::uint8_t packet_type = audio_packet_type_for(kind);
  Bytes out;
  ByteWriter w(out);
  constexpr auto kEx = static_cast<std::uint8_t>(kSoundFormatExHeader << 4);
  if (nanosecond_offset != 0) {
    w.u8(kEx | kAptModEx);
    write_mod_ex_nano(w, std::min(nanosecond_offset, kMaxNanosecondOffset), packet_type);
  } else {
    w.u8(kEx | packet_type);
  }
  w.u32(fcc);
  return out;
}

Result<Bytes> write_video_tag(const VideoTagInfo &info) {
  Bytes out;
  ByteWriter w(out);
  const auto frame = static_cast<int>(info.frame_type);
  if (!info.enhanced) {
    if (info.is_command_frame) {
      w.u8(static_cast<std::uint8_t>(static_cast<int>(FrameType::command) << 4));
      w.u8(info.command);
      return out;
    }
    if (info.tracks.size() != 1 || legacy_video_codec_id(info.tracks[0].codec) == 0)
      return Errc::invalid_argument;
    const VideoTrackPacket &t = info.tracks[0];
    w.bytes(make_legacy_video_header(info.frame_type, t.codec, t.kind, t.composition_time_ms));
    w.bytes(t.payload);
    return out;
  }
  const auto frame_bits = static_cast<std::uint8_t>((frame & 0x07) << 4);
  if (info.is_command_frame) {
    w.u8(kExVideoHeaderBit | static_cast<std::uint8_t>(static_cast<int>(FrameType::command) << 4) |
         kVptCodedFrames);
    w.u8(info.command);
    return out;
  }
  auto write_body = [](const VideoTrackPacket &t, std::uint8_t packet_type,
                       ByteWriter &bw) -> std::error_code {
    if (packet_type == kVptCodedFrames && carries_composition_time(t.fourcc))
      bw.i24(t.composition_time_ms);
    return {};
  };
  if (auto ec = write_ex_tag(w, info, kExVideoHeaderBit | frame_bits, kVptModEx, kVptMultitrack,
                             video_packet_type_for, write_body))
    return ec;
  return out;
}

Result<Bytes> write_audio_tag(const AudioTagInfo &info) {
  Bytes out;
  ByteWriter w(out);
  if (info.silence)
    return out;
  if (!info.enhanced) {
    if (info.tracks.size() != 1 || legacy_sound_format(info.tracks[0].codec) < 0)
      return Errc::invalid_argument;
    const AudioTrackPacket &t = info.tracks[0];
    w.bytes(make_legacy_audio_header(t.codec, info.rate_hz, info.bits, info.channels, t.kind));
    w.bytes(t.payload);
    return out;
  }
  auto write_body = [](const AudioTrackPacket &t, std::uint8_t packet_type,
                       ByteWriter &bw) -> std::error_code {
    if (packet_type == kAptMultichannelConfig) {
      const auto &mc = t.multichannel;
      bw.u8(static_cast<std::uint8_t>(mc.order));
      if (mc.order == AudioChannelOrder::custom) {
        if (mc.channel_mapping.size() > 0xFF)
          return Errc::invalid_argument;
        bw.u8(static_cast<std::uint8_t>(mc.channel_mapping.size()));
        bw.bytes(mc.channel_mapping);
      } else {
        bw.u8(mc.channel_count);
        if (mc.order == AudioChannelOrder::native)
          bw.u32(mc.channel_flags);
      }
    }
    return {};
  };
  constexpr auto kEx = static_cast<std::uint8_t>(kSoundFormatExHeader << 4);
  auto packet_type_of = [](const AudioTrackPacket &t) { return audio_packet_type_for(t.kind); };
  if (auto ec = write_ex_tag(w, info, kEx, kAptModEx, kAptMultitrack, packet_type_of, write_body))
    return ec;
  return out;
}

EnhancedCapabilities parse_enhanced_capabilities(const amf::Value &connect_command_object) {
  EnhancedCapabilities caps;
  const amf::Properties *props = properties_of(connect_command_object);
  if (!props)
    return caps;
  if (const amf::Value *list = lookup(*props, "fourCcList")) {
    if (const auto *array = list->get_if<amf::Array>()) {
      for (const auto &item : array->dense) {
        if (caps.fourcc_list.size() >= kMaxFourCcEntries)
          break;
        if (const auto *s = item.get_if<std::string>())
          caps.fourcc_list.push_back(*s);
      }
    }
  }
  caps.video_fourcc_info = read_info_map(lookup(*props, "videoFourCcInfoMap"));
  caps.audio_fourcc_info = read_info_map(lookup(*props, "audioFourCcInfoMap"));
  if (const amf::Value *caps_ex = lookup(*props, "capsEx"))
    caps.caps_ex = clamp_to_int(*caps_ex);
  return caps;
}

void add_enhanced_capabilities(amf::Properties &object, const EnhancedCapabilities &caps) {
  auto set = [&](std::string_view key, amf::Value value) {
    std::erase_if(object, [&](const amf::Property &p) { return p.first == key; });
    object.emplace_back(std::string(key), std::move(value));
  };
  if (!caps.fourcc_list.empty()) {
    amf::Array array;
    for (const auto &f : caps.fourcc_list)
      array.dense.emplace_back(f);
    set("fourCcList", amf::Value(std::move(array)));
  }
  if (!caps.video_fourcc_info.empty())
    set("videoFourCcInfoMap", info_map_value(caps.video_fourcc_info));
  if (!caps.audio_fourcc_info.empty())
    set("audioFourCcInfoMap", info_map_value(caps.audio_fourcc_info));
  if (caps.caps_ex != 0)
    set("capsEx", amf::Value(static_cast<double>(caps.caps_ex)));
}

} // namespace rtmp
