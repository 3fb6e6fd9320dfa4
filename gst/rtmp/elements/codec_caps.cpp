// RTMP audio/video message headers <-> GstCaps. See codec_caps.h.
#include "codec_caps.h"

#include <gst/pbutils/codec-utils.h>
#include <gst/video/video.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string_view>

namespace rtmp::gst {
namespace {

GstBuffer *buffer_from(ByteView bytes) {
  return gst_buffer_new_memdup(bytes.data(), bytes.size());
}

void set_buffer(GstCaps *caps, const char *field, ByteView bytes) {
  GstBuffer *buf = buffer_from(bytes);
  gst_caps_set_simple(caps, field, GST_TYPE_BUFFER, buf, nullptr);
  gst_buffer_unref(buf);
}

// Appends `bufs` as a GST_TYPE_ARRAY `streamheader`, the form Speex/Opus/FLAC decoders read.
void set_streamheader(GstCaps *caps, std::initializer_list<ByteView> bufs) {
  GValue array = G_VALUE_INIT;
  g_value_init(&array, GST_TYPE_ARRAY);
  for (ByteView b : bufs) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_BUFFER);
    GstBuffer *buf = buffer_from(b);
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_HEADER);
    g_value_take_boxed(&v, buf);
    gst_value_array_append_and_take_value(&array, &v);
  }
  gst_structure_take_value(gst_caps_get_structure(caps, 0), "streamheader", &array);
}

// Most-significant-bit-first reader over a few bytes of a codec configuration record (dac3, dec3,
// STREAMINFO); every read is bounds-checked and a short record simply fails.
class BitReader {
public:
  explicit BitReader(ByteView data) : data_(data) {}
  bool read(unsigned n, std::uint32_t &v) {
    if (n > 32 || pos_ + n > data_.size() * 8)
      return false;
    v = 0;
    for (unsigned i = 0; i < n; ++i, ++pos_)
      v = (v << 1) | ((data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
    return true;
  }
  bool skip(unsigned n) {
    if (pos_ + n > data_.size() * 8)
      return false;
    pos_ += n;
    return true;
  }

private:
  ByteView data_;
  std::size_t pos_ = 0;
};

// AC-3 acmod -> full-bandwidth channels (ATSC A/52 table 5.8), before the LFE.
constexpr std::array<int, 8> kAc3AcmodChannels = {2, 1, 2, 3, 3, 4, 4, 5};
// AC-3 fscod -> sample rate (A/52 table 5.6); 3 is reserved.
constexpr std::array<int, 3> kAc3Rates = {48000, 44100, 32000};

// AC3SpecificBox body (ETSI TS 102 366 F.4): fscod 2, bsid 5, bsmod 3, acmod 3, lfeon 1, ...
// EC3SpecificBox body (F.6): data_rate 13, num_ind_sub 3, then per independent substream fscod 2,
// bsid 5, reserved 1, asvc 1, bsmod 3, acmod 3, lfeon 1, ... We read the first substream.
bool parse_ac3_config(ByteView config, bool eac3, int &rate, int &channels) {
  BitReader b(config);
  std::uint32_t fscod = 0, acmod = 0, lfeon = 0;
  if (eac3) {
    if (!b.skip(13 + 3) || !b.read(2, fscod) || !b.skip(5 + 1 + 1 + 3))
      return false;
  } else if (!b.read(2, fscod) || !b.skip(5 + 3)) {
    return false;
  }
  if (!b.read(3, acmod) || !b.read(1, lfeon) || fscod >= kAc3Rates.size())
    return false;
  rate = kAc3Rates[fscod];
  channels = kAc3AcmodChannels[acmod] + static_cast<int>(lfeon);
  return true;
}

// MPEG audio frame header (ISO 11172-3 2.4.1.3, ISO 13818-3 for the half rates): syncword 11 bits
// (with MPEG 2.5's extension), version 2, layer 2, protection 1, bitrate 4, sampling frequency 2,
// padding 1, private 1, mode 2. Enhanced ".mp3" tracks have no rate/channel flags and no sequence
// start: the first frame says it.
bool parse_mpeg_audio_header(ByteView frame, int &rate, int &channels) {
  BitReader b(frame);
  std::uint32_t sync = 0, version = 0, layer = 0, fs = 0, mode = 0;
  if (!b.read(11, sync) || sync != 0x7FF || !b.read(2, version) || !b.read(2, layer) ||
      !b.skip(1 + 4) || !b.read(2, fs) || !b.skip(1 + 1) || !b.read(2, mode))
    return false;
  if (version == 1 || layer == 0 || fs == 3) // reserved values
    return false;
  constexpr std::array<int, 3> kMpeg1Rates = {44100, 48000, 32000};
  const int divisor = version == 3 ? 1 : version == 2 ? 2 : 4; // MPEG-1, MPEG-2, MPEG-2.5
  rate = kMpeg1Rates[fs] / divisor;
  channels = mode == 3 ? 1 : 2; // single channel, else stereo / joint / dual
  return true;
}

constexpr std::string_view kFlacSignature = "fLaC";
// METADATA_BLOCK_HEADER (4 bytes) + METADATA_BLOCK_STREAMINFO (34 bytes), FLAC format spec.
constexpr std::size_t kFlacStreamInfoBlockSize = 4 + 34;

// "fLaC" + STREAMINFO block -> rate/channels, and the block itself (E-RTMP v2 FLAC sequence
// start: the FLAC stream header). False when it is not that.
bool parse_flac_config(ByteView config, int &rate, int &channels, ByteView &streaminfo_block) {
  ByteReader r(config);
  ByteView sig;
  if (!r.read_bytes(kFlacSignature.size(), sig) ||
      std::memcmp(sig.data(), kFlacSignature.data(), sig.size()) != 0)
    return false;
  if (!r.read_bytes(kFlacStreamInfoBlockSize, streaminfo_block))
    return false;
  BitReader b(streaminfo_block);
  std::uint32_t type = 0, length = 0, sample_rate = 0, channels_minus_1 = 0;
  // Block header: last-metadata-block flag 1, BLOCK_TYPE 7 (0 = STREAMINFO), length 24; then
  // min/max block size 16+16, min/max frame size 24+24, sample rate 20, channels - 1 3.
  if (!b.skip(1) || !b.read(7, type) || !b.read(24, length) || type != 0 || length != 34 ||
      !b.skip(16 + 16 + 24 + 24) || !b.read(20, sample_rate) || !b.read(3, channels_minus_1))
    return false;
  if (sample_rate == 0)
    return false;
  rate = static_cast<int>(sample_rate);
  channels = static_cast<int>(channels_minus_1) + 1;
  return true;
}

// The Speex header flvdemux makes up (FLV spec E.4.2.1: Speex in FLV is always 16 kHz mono
// wideband with no header of its own): Speex "SpeexHeader" layout, little-endian fields.
Bytes speex_header() {
  Bytes out;
  ByteWriter w(out);
  w.bytes(std::string_view("Speex   ", 8)); // speex_string
  w.bytes(std::string_view("1.1.12\0", 7)); // speex_version[20], zero padded
  for (int i = 0; i < 13; ++i)
    w.u8(0);
  w.u32_le(1);          // speex_version_id
  w.u32_le(80);         // header_size
  w.u32_le(16000);      // rate
  w.u32_le(1);          // mode: wideband
  w.u32_le(4);          // mode_bitstream_version
  w.u32_le(1);          // nb_channels
  w.u32_le(0xFFFFFFFF); // bitrate: unknown (-1)
  w.u32_le(0x50);       // frame_size, as flvdemux writes it
  w.u32_le(0);          // vbr
  w.u32_le(1);          // frames_per_packet
  w.u32_le(0);          // extra_headers
  w.u32_le(0);          // reserved1
  w.u32_le(0);          // reserved2
  return out;
}

// A Vorbis comment packet without the Vorbis packet prefix, with the framing bit, as
// gst_tag_list_to_vorbiscomment_buffer(empty, NULL, 0, "No comments") writes it.
Bytes speex_comment() {
  constexpr std::string_view vendor = "No comments";
  Bytes out;
  ByteWriter w(out);
  w.u32_le(static_cast<std::uint32_t>(vendor.size()));
  w.bytes(vendor);
  w.u32_le(0); // no user comments
  w.u8(1);     // framing bit
  return out;
}

bool needs_video_config(VideoCodec codec) {
  return codec == VideoCodec::avc || codec == VideoCodec::hevc || codec == VideoCodec::av1;
}

// VPCodecConfigurationRecord (VP Codec ISO Media File Format Binding, "vpcC"), optionally
// preceded by the FullBox version 1 + flags 0 as in an MP4 file: 8 record bytes at least.
int vp_profile_from_config(ByteView config) {
  std::size_t at = 0;
  if (config.size() >= 12 && config[0] == 1 && config[1] == 0 && config[2] == 0 && config[3] == 0)
    at = 4;
  if (config.size() < at + 8 || config[at] > 3)
    return -1;
  return config[at];
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Source side

GstCaps *video_caps(VideoCodec codec, ByteView config, const VideoHints &hints) {
  if (config.size() > kMaxCodecConfigSize)
    return nullptr;
  if (needs_video_config(codec) && config.empty())
    return nullptr;
  GstCaps *caps = nullptr;
  switch (codec) {
  case VideoCodec::sorenson_h263:
    caps = gst_caps_new_simple("video/x-flash-video", "flvversion", G_TYPE_INT, 1, nullptr);
    break;
  case VideoCodec::screen:
    caps = gst_caps_new_empty_simple("video/x-flash-screen");
    break;
  case VideoCodec::screen_v2:
    caps = gst_caps_new_empty_simple("video/x-flash-screen2");
    break;
  case VideoCodec::vp6:
    caps = gst_caps_new_empty_simple("video/x-vp6-flash");
    break;
  case VideoCodec::vp6_alpha:
    caps = gst_caps_new_empty_simple("video/x-vp6-alpha");
    break;
  case VideoCodec::avc:
    // flvdemux: stream-format=avc only; alignment=au is true of RTMP (one access unit per
    // message, E.4.3.1 "one or more NALUs (full frames are required)") and spares h264parse a
    // guess.
    caps = gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING, "avc", "alignment",
                               G_TYPE_STRING, "au", nullptr);
    break;
  case VideoCodec::hevc:
    caps = gst_caps_new_simple("video/x-h265", "stream-format", G_TYPE_STRING, "hvc1", "alignment",
                               G_TYPE_STRING, "au", nullptr);
    break;
  case VideoCodec::av1:
    // E-RTMP v2: av01 coded frames are temporal units of low-overhead OBUs (obu-stream).
    caps = gst_caps_new_simple("video/x-av1", "stream-format", G_TYPE_STRING, "obu-stream",
                               "alignment", G_TYPE_STRING, "tu", nullptr);
    break;
  case VideoCodec::vp9:
  case VideoCodec::vp8:
    caps = gst_caps_new_empty_simple(codec == VideoCodec::vp9 ? "video/x-vp9" : "video/x-vp8");
    if (codec == VideoCodec::vp9) {
      const int profile = vp_profile_from_config(config);
      if (profile >= 0) {
        const std::string p = std::to_string(profile);
        gst_caps_set_simple(caps, "profile", G_TYPE_STRING, p.c_str(), nullptr);
      }
    }
    break;
  default:
    return nullptr;
  }
  // Same fields, same sources and same order as flvdemux's gst_flv_demux_video_negotiate.
  if (hints.par_n > 0 && hints.par_d > 0 && hints.par_n <= kMaxAspectTerm &&
      hints.par_d <= kMaxAspectTerm)
    gst_caps_set_simple(caps, "pixel-aspect-ratio", GST_TYPE_FRACTION, hints.par_n, hints.par_d,
                        nullptr);
  if (hints.width > 0 && hints.width <= kMaxVideoDimension)
    gst_caps_set_simple(caps, "width", G_TYPE_INT, hints.width, nullptr);
  if (hints.height > 0 && hints.height <= kMaxVideoDimension)
    gst_caps_set_simple(caps, "height", G_TYPE_INT, hints.height, nullptr);
  if (std::isfinite(hints.framerate) && hints.framerate >= kMinFrameRate &&
      hints.framerate <= kMaxFrameRate) {
    gint num = 0, den = 0;
    if (gst_video_guess_framerate(static_cast<GstClockTime>(GST_SECOND / hints.framerate), &num,
                                  &den))
      gst_caps_set_simple(caps, "framerate", GST_TYPE_FRACTION, num, den, nullptr);
  }
  if (!config.empty())
    set_buffer(caps, "codec_data", config);
  return caps;
}

GstCaps *audio_caps(AudioCodec codec, int rate_hz, int bits, int channels, ByteView config) {
  if (config.size() > kMaxCodecConfigSize)
    return nullptr;
  GstCaps *caps = nullptr;
  bool with_codec_data = false;
  switch (codec) {
  case AudioCodec::adpcm:
    caps = gst_caps_new_simple("audio/x-adpcm", "layout", G_TYPE_STRING, "swf", nullptr);
    break;
  case AudioCodec::mp3:
  case AudioCodec::mp3_8k:
    caps = gst_caps_new_simple("audio/mpeg", "mpegversion", G_TYPE_INT, 1, "layer", G_TYPE_INT, 3,
                               "parsed", G_TYPE_BOOLEAN, TRUE, nullptr);
    break;
  case AudioCodec::linear_pcm_ne:
  case AudioCodec::linear_pcm_le:
    // SoundFormat 0 is "platform endian"; like flvdemux we take little endian, what every
    // machine that wrote such files was. 8-bit samples are unsigned (E.4.2.1).
    caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, bits == 8 ? "U8" : "S16LE",
                               "layout", G_TYPE_STRING, "interleaved", nullptr);
    break;
  case AudioCodec::nellymoser_16k:
  case AudioCodec::nellymoser_8k:
  case AudioCodec::nellymoser:
    caps = gst_caps_new_empty_simple("audio/x-nellymoser");
    break;
  case AudioCodec::g711_alaw:
    caps = gst_caps_new_empty_simple("audio/x-alaw");
    break;
  case AudioCodec::g711_mulaw:
    caps = gst_caps_new_empty_simple("audio/x-mulaw");
    break;
  case AudioCodec::aac: {
    if (config.empty())
      return nullptr;
    // The AudioSpecificConfig (ISO 14496-3 1.6.2.1) is authoritative; the FLV flags of AAC are
    // always 44 kHz stereo (E.4.2.1). flvdemux reads rate and channels the same way.
    if (config.size() >= 2) {
      const guint asc_rate =
          gst_codec_utils_aac_get_sample_rate(config.data(), static_cast<guint>(config.size()));
      const guint asc_channels =
          gst_codec_utils_aac_get_channels(config.data(), static_cast<guint>(config.size()));
      if (asc_rate)
        rate_hz = static_cast<int>(asc_rate);
      if (asc_channels)
        channels = static_cast<int>(asc_channels);
    }
    caps = gst_caps_new_simple("audio/mpeg", "mpegversion", G_TYPE_INT, 4, "framed", G_TYPE_BOOLEAN,
                               TRUE, "stream-format", G_TYPE_STRING, "raw", nullptr);
    with_codec_data = true;
    break;
  }
  case AudioCodec::speex: {
    caps = gst_caps_new_empty_simple("audio/x-speex");
    const Bytes header = speex_header();
    const Bytes comment = speex_comment();
    set_streamheader(caps, {header, comment});
    rate_hz = 16000;
    channels = 1;
    break;
  }
  case AudioCodec::opus: {
    // OpusHead (RFC 7845 5.1): pbutils checks it and makes rate/channels/mapping caps with a
    // streamheader of the ID header and a generated comment header, what opusdec wants.
    // The fixed part of the ID header is 19 bytes starting with the magic "OpusHead".
    constexpr std::size_t kOpusHeadSize = 19;
    if (config.size() < kOpusHeadSize || std::memcmp(config.data(), "OpusHead", 8) != 0)
      return nullptr;
    GstBuffer *head = buffer_from(config);
    caps = gst_codec_utils_opus_create_caps_from_header(head, nullptr);
    gst_buffer_unref(head);
    return caps;
  }
  case AudioCodec::flac: {
    ByteView streaminfo;
    if (!parse_flac_config(config, rate_hz, channels, streaminfo))
      return nullptr;
    // flacparse/flacdec streamheader: the Ogg FLAC mapping packet (0x7F "FLAC" 1.0, header
    // packet count 0 = unknown, "fLaC", STREAMINFO), with STREAMINFO flagged last.
    Bytes first;
    ByteWriter w(first);
    w.u8(0x7F);
    w.bytes(std::string_view("FLAC"));
    w.u8(1);
    w.u8(0);
    w.u16(0);
    w.bytes(kFlacSignature);
    w.u8(static_cast<std::uint8_t>(streaminfo[0] | 0x80));
    w.bytes(streaminfo.subspan(1));
    caps = gst_caps_new_simple("audio/x-flac", "framed", G_TYPE_BOOLEAN, TRUE, nullptr);
    set_streamheader(caps, {first});
    break;
  }
  case AudioCodec::ac3:
  case AudioCodec::eac3: {
    const bool eac3 = codec == AudioCodec::eac3;
    caps = gst_caps_new_simple(eac3 ? "audio/x-eac3" : "audio/x-ac3", "framed", G_TYPE_BOOLEAN,
                               TRUE, "alignment", G_TYPE_STRING, "frame", nullptr);
    rate_hz = 0;
    channels = 0;
    if (!config.empty())
      parse_ac3_config(config, eac3, rate_hz, channels);
    break;
  }
  default:
    return nullptr;
  }
  if (rate_hz > 0 && channels > 0)
    gst_caps_set_simple(caps, "rate", G_TYPE_INT, rate_hz, "channels", G_TYPE_INT, channels,
                        nullptr);
  if (with_codec_data)
    set_buffer(caps, "codec_data", config);
  return caps;
}

ByteView video_frame_data(const VideoTrackPacket &packet) {
  if ((packet.codec == VideoCodec::vp6 || packet.codec == VideoCodec::vp6_alpha) &&
      !packet.payload.empty())
    return packet.payload.subspan(1);
  return packet.payload;
}

namespace {
// Replaces *slot with `caps` (taking it); true when they differ.
bool replace_caps(GstCaps *&slot, GstCaps *caps) {
  const bool changed =
      (slot == nullptr) != (caps == nullptr) || (slot != nullptr && !gst_caps_is_equal(slot, caps));
  if (slot)
    gst_caps_unref(slot);
  slot = caps;
  return changed;
}
} // namespace

VideoTrackCaps::~VideoTrackCaps() {
  if (caps_)
    gst_caps_unref(caps_);
}

bool VideoTrackCaps::refresh() {
  return replace_caps(caps_, video_caps(codec_, config_, hints_));
}

bool VideoTrackCaps::update(const VideoTrackPacket &packet) {
  if (packet.kind == VideoPacketKind::sequence_end || packet.kind == VideoPacketKind::metadata ||
      packet.codec == VideoCodec::unknown)
    return false;
  if (packet.codec != codec_) {
    codec_ = packet.codec;
    config_.clear();
  }
  if (packet.kind == VideoPacketKind::sequence_start) {
    if (packet.payload.size() > kMaxCodecConfigSize)
      return false;
    config_.assign(packet.payload.begin(), packet.payload.end());
  }
  return refresh();
}

bool VideoTrackCaps::set_hints(const VideoHints &hints) {
  if (hints == hints_)
    return false;
  hints_ = hints;
  return codec_ != VideoCodec::unknown && refresh();
}

GstCaps *VideoTrackCaps::caps() const {
  return caps_ ? gst_caps_ref(caps_) : nullptr;
}

AudioTrackCaps::~AudioTrackCaps() {
  if (caps_)
    gst_caps_unref(caps_);
}

bool AudioTrackCaps::refresh() {
  return replace_caps(caps_, audio_caps(codec_, rate_, bits_, channels_, config_));
}

bool AudioTrackCaps::update(const AudioTagInfo &tag, const AudioTrackPacket &packet) {
  if (packet.kind == AudioPacketKind::sequence_end ||
      packet.kind == AudioPacketKind::multichannel_config || packet.codec == AudioCodec::unknown)
    return false;
  if (packet.codec != codec_) {
    codec_ = packet.codec;
    config_.clear();
  }
  // Enhanced tags carry no rate/size/channels: keep what the configuration says.
  if (!tag.enhanced) {
    rate_ = tag.rate_hz;
    bits_ = tag.bits;
    channels_ = tag.channels;
  }
  if (packet.kind == AudioPacketKind::sequence_start) {
    if (packet.payload.size() > kMaxCodecConfigSize)
      return false;
    config_.assign(packet.payload.begin(), packet.payload.end());
  } else if (tag.enhanced && codec_ == AudioCodec::mp3) {
    parse_mpeg_audio_header(packet.payload, rate_, channels_);
  }
  return refresh();
}

GstCaps *AudioTrackCaps::caps() const {
  return caps_ ? gst_caps_ref(caps_) : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Sink side

GstCaps *video_sink_template_caps() {
  return gst_caps_from_string("video/x-h264, stream-format=(string)avc, alignment=(string)au; "
                              "video/x-h265, stream-format=(string){ hvc1, hev1 }, "
                              "alignment=(string)au; "
                              "video/x-av1, stream-format=(string)obu-stream, "
                              "alignment=(string)tu; "
                              "video/x-vp9; video/x-vp8; "
                              "video/x-flash-video, flvversion=(int)1; video/x-flash-screen; "
                              "video/x-flash-screen2; video/x-vp6-flash; video/x-vp6-alpha");
}

GstCaps *audio_sink_template_caps() {
  return gst_caps_from_string(
      "audio/mpeg, mpegversion=(int){ 2, 4 }, stream-format=(string)raw; "
      "audio/mpeg, mpegversion=(int)1, layer=(int)3; "
      "audio/x-opus, channel-mapping-family=(int){ 0, 1 }; "
      "audio/x-flac, framed=(boolean)true; audio/x-ac3; audio/x-eac3; "
      "audio/x-adpcm, layout=(string)swf, channels=(int){ 1, 2 }, "
      "rate=(int){ 5512, 11025, 22050, 44100 }; "
      "audio/x-nellymoser, channels=(int){ 1, 2 }, "
      "rate=(int){ 5512, 8000, 11025, 16000, 22050, 44100 }; "
      "audio/x-raw, format=(string){ U8, S16LE }, layout=(string)interleaved, "
      "channels=(int){ 1, 2 }, rate=(int){ 5512, 11025, 22050, 44100 }; "
      "audio/x-alaw, channels=(int){ 1, 2 }, rate=(int)8000; "
      "audio/x-mulaw, channels=(int){ 1, 2 }, rate=(int)8000; "
      "audio/x-speex, channels=(int)1, rate=(int)16000");
}

namespace {

bool codec_data_of(const GstStructure *s, Bytes &out) {
  const GValue *v = gst_structure_get_value(s, "codec_data");
  if (!v || !GST_VALUE_HOLDS_BUFFER(v))
    return false;
  GstBuffer *buf = gst_value_get_buffer(v);
  GstMapInfo map;
  if (!buf || !gst_buffer_map(buf, &map, GST_MAP_READ))
    return false;
  const bool ok = map.size > 0 && map.size <= kMaxCodecConfigSize;
  if (ok)
    out.assign(map.data, map.data + map.size);
  gst_buffer_unmap(buf, &map);
  return ok;
}

// Buffer `index` of the `streamheader` array.
bool streamheader_of(const GstStructure *s, guint index, Bytes &out) {
  const GValue *v = gst_structure_get_value(s, "streamheader");
  if (!v || !GST_VALUE_HOLDS_ARRAY(v) || gst_value_array_get_size(v) <= index)
    return false;
  const GValue *item = gst_value_array_get_value(v, index);
  if (!GST_VALUE_HOLDS_BUFFER(item))
    return false;
  GstBuffer *buf = gst_value_get_buffer(item);
  GstMapInfo map;
  if (!buf || !gst_buffer_map(buf, &map, GST_MAP_READ))
    return false;
  const bool ok = map.size <= kMaxCodecConfigSize;
  if (ok)
    out.assign(map.data, map.data + map.size);
  gst_buffer_unmap(buf, &map);
  return ok;
}

template <typename T> Result<T> refuse(Errc e, std::string *why, std::string text) {
  if (why)
    *why = std::move(text);
  return e;
}

// Builds the 12-byte vpcC payload (version 1, flags 0, then the VPCodecConfigurationRecord) from
// what VP8/VP9 caps say; unknown colour properties are written as "unspecified" (2).
Bytes make_vpcc(const GstStructure *s) {
  int profile = 0;
  if (const char *p = gst_structure_get_string(s, "profile"))
    profile = std::clamp(std::atoi(p), 0, 3);
  guint bit_depth = 8;
  gst_structure_get_uint(s, "bit-depth-luma", &bit_depth);
  int chroma = 0; // 4:2:0 "vertical" (left-sited), what libvpx produces
  if (const char *c = gst_structure_get_string(s, "chroma-format")) {
    if (std::string_view(c) == "4:2:2")
      chroma = 2;
    else if (std::string_view(c) == "4:4:4")
      chroma = 3;
  }
  Bytes out;
  ByteWriter w(out);
  w.u8(1); // FullBox version
  w.u24(0);
  w.u8(static_cast<std::uint8_t>(profile));
  w.u8(0); // level: not known from caps
  w.u8(static_cast<std::uint8_t>((std::min(bit_depth, 15u) << 4) | (chroma << 1)));
  w.u8(2);  // colourPrimaries: unspecified
  w.u8(2);  // transferCharacteristics
  w.u8(2);  // matrixCoefficients
  w.u16(0); // codecIntializationDataSize: must be 0 for VP8/VP9
  return out;
}

// VP6 HorizontalAdjustment/VerticalAdjustment (FLV spec E.4.3.1 VP6FLVVIDEOPACKET): how many
// pixels of the 16-aligned coded size are cropped, what FFmpeg's flv muxer writes.
std::uint8_t vp6_adjustment(int width, int height) {
  const int h = width > 0 ? ((width + 15) / 16 * 16 - width) : 0;
  const int v = height > 0 ? ((height + 15) / 16 * 16 - height) : 0;
  return static_cast<std::uint8_t>((h & 0x0F) << 4 | (v & 0x0F));
}

} // namespace

namespace {

// AV1 spec 4.10.5 leb128(): at most 8 bytes of 7 bits.
bool read_leb128(ByteReader &r, std::uint64_t &value) {
  value = 0;
  for (int i = 0; i < 8; ++i) {
    std::uint8_t b = 0;
    if (!r.read_u8(b))
      return false;
    value |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
    if (!(b & 0x80))
      return true;
  }
  return false;
}

// AV1 spec 4.10.3 uvlc(), only to skip num_ticks_per_picture_minus_1.
bool skip_uvlc(BitReader &b) {
  unsigned leading_zeros = 0;
  for (;;) {
    std::uint32_t done = 0;
    if (!b.read(1, done))
      return false;
    if (done)
      break;
    if (++leading_zeros >= 32)
      return true; // the spec's "(1 << 32) - 1" value, no more bits
  }
  return b.skip(leading_zeros);
}

constexpr std::uint32_t kObuSequenceHeader = 1; // AV1 spec 6.2.2 obu_type

} // namespace

Result<Bytes> av1_config_from_temporal_unit(ByteView temporal_unit, unsigned bit_depth,
                                            const std::string &chroma_format) {
  ByteReader r(temporal_unit);
  while (!r.empty()) {
    const std::size_t start = r.position();
    // obu_header (5.3.2): forbidden 1, obu_type 4, extension 1, has_size_field 1, reserved 1.
    std::uint8_t header = 0;
    if (!r.read_u8(header))
      return Errc::truncated;
    if (header & 0x80)
      return Errc::malformed;
    const std::uint32_t type = (header >> 3) & 0x0F;
    if ((header & 0x04) && !r.skip(1))
      return Errc::truncated;
    std::uint64_t size = r.remaining();
    if ((header & 0x02) && !read_leb128(r, size))
      return Errc::truncated;
    ByteView payload;
    if (size > r.remaining() || !r.read_bytes(static_cast<std::size_t>(size), payload))
      return Errc::truncated;
    if (type != kObuSequenceHeader)
      continue;
    const std::size_t obu_size = r.position() - start;
    if (obu_size > kMaxCodecConfigSize)
      return Errc::limit_exceeded;
    // sequence_header_obu (5.5.1) up to the first operating point's level and tier.
    BitReader b(payload);
    std::uint32_t profile = 0, reduced = 0, level = 0, tier = 0;
    if (!b.read(3, profile) || !b.skip(1) || !b.read(1, reduced))
      return Errc::truncated;
    if (reduced) {
      if (!b.read(5, level))
        return Errc::truncated;
    } else {
      std::uint32_t timing = 0, decoder_model = 0, equal_interval = 0;
      if (!b.read(1, timing))
        return Errc::truncated;
      if (timing) {
        if (!b.skip(32 + 32) || !b.read(1, equal_interval) || (equal_interval && !skip_uvlc(b)) ||
            !b.read(1, decoder_model) || (decoder_model && !b.skip(5 + 32 + 5 + 5)))
          return Errc::truncated;
      }
      // initial_display_delay_present_flag 1, operating_points_cnt_minus_1 5,
      // operating_point_idc[0] 12, seq_level_idx[0] 5, seq_tier[0] 1 when the level is > 7.
      if (!b.skip(1 + 5 + 12) || !b.read(5, level) || (level > 7 && !b.read(1, tier)))
        return Errc::truncated;
    }
    const bool mono = chroma_format == "4:0:0";
    const bool ss_x =
        mono || chroma_format.empty() || chroma_format == "4:2:0" || chroma_format == "4:2:2";
    const bool ss_y = mono || chroma_format.empty() || chroma_format == "4:2:0";
    Bytes out;
    ByteWriter w(out);
    w.u8(0x81); // marker 1, version 1
    w.u8(static_cast<std::uint8_t>(profile << 5 | level));
    w.u8(static_cast<std::uint8_t>(tier << 7 | (bit_depth > 8 ? 1 : 0) << 6 |
                                   (bit_depth == 12 ? 1 : 0) << 5 | (mono ? 1 : 0) << 4 |
                                   (ss_x ? 1 : 0) << 3 | (ss_y ? 1 : 0) << 2));
    w.u8(0); // no initial_presentation_delay
    w.bytes(temporal_unit.subspan(start, obu_size));
    return out;
  }
  return Errc::invalid_argument;
}

bool VideoSendFormat::take_config_from_frame(ByteView frame) {
  if (codec != VideoCodec::av1 || !config.empty())
    return false;
  auto c = av1_config_from_temporal_unit(frame, bit_depth, chroma_format);
  if (!c)
    return false;
  config = std::move(*c);
  return true;
}

Result<VideoSendFormat> video_send_format(const GstCaps *caps, EnhancedMode mode,
                                          std::uint8_t track_id, std::string *why) {
  if (!caps || gst_caps_get_size(caps) != 1 || !gst_caps_is_fixed(caps))
    return refuse<VideoSendFormat>(Errc::invalid_argument, why, "caps are not fixed");
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  const std::string_view name = gst_structure_get_name(s);
  VideoSendFormat f;
  f.track_id = track_id;
  gst_structure_get_int(s, "width", &f.width);
  gst_structure_get_int(s, "height", &f.height);
  gst_structure_get_fraction(s, "framerate", &f.fps_n, &f.fps_d);
  gst_structure_get_uint(s, "bit-depth-luma", &f.bit_depth);
  if (const char *chroma = gst_structure_get_string(s, "chroma-format"))
    f.chroma_format = chroma;
  bool has_config = codec_data_of(s, f.config);
  if (name == "video/x-h264") {
    f.codec = VideoCodec::avc;
    const char *format = gst_structure_get_string(s, "stream-format");
    if (!format || std::string_view(format) != "avc" || !has_config)
      return refuse<VideoSendFormat>(Errc::invalid_argument, why,
                                     "H.264 must be stream-format=avc with codec_data "
                                     "(put h264parse before the sink)");
  } else if (name == "video/x-h265") {
    f.codec = VideoCodec::hevc;
    const char *format = gst_structure_get_string(s, "stream-format");
    if (!format || (std::string_view(format) != "hvc1" && std::string_view(format) != "hev1") ||
        !has_config)
      return refuse<VideoSendFormat>(Errc::invalid_argument, why,
                                     "H.265 must be stream-format=hvc1 with codec_data "
                                     "(put h265parse before the sink)");
  } else if (name == "video/x-av1") {
    f.codec = VideoCodec::av1;
  } else if (name == "video/x-vp9" || name == "video/x-vp8") {
    f.codec = name == "video/x-vp9" ? VideoCodec::vp9 : VideoCodec::vp8;
    if (!has_config)
      f.config = make_vpcc(s);
  } else if (name == "video/x-flash-video") {
    f.codec = VideoCodec::sorenson_h263;
  } else if (name == "video/x-flash-screen") {
    f.codec = VideoCodec::screen;
  } else if (name == "video/x-flash-screen2") {
    f.codec = VideoCodec::screen_v2;
  } else if (name == "video/x-vp6-flash") {
    f.codec = VideoCodec::vp6;
  } else if (name == "video/x-vp6-alpha") {
    f.codec = VideoCodec::vp6_alpha;
  } else {
    return refuse<VideoSendFormat>(Errc::unsupported, why,
                                   "RTMP cannot carry video " + std::string(name));
  }
  const std::uint32_t fcc = video_codec_fourcc(f.codec);
  // Legacy CodecIDs exist for AVC and the Flash-era codecs only; HEVC, AV1, VP8/VP9 and any
  // track but the first (E-RTMP Multitrack) need the FourCC header.
  const bool needs_enhanced = f.codec == VideoCodec::hevc || f.codec == VideoCodec::av1 ||
                              f.codec == VideoCodec::vp9 || f.codec == VideoCodec::vp8 ||
                              track_id != 0;
  if (needs_enhanced && fcc == 0)
    return refuse<VideoSendFormat>(Errc::unsupported, why,
                                   std::string(name) + " has no Enhanced RTMP FourCC, so it can "
                                                       "only be sent as track 0");
  if (needs_enhanced && mode == EnhancedMode::never)
    return refuse<VideoSendFormat>(Errc::unsupported, why,
                                   std::string(name) + (track_id != 0 ? " on a second track" : "") +
                                       " needs Enhanced RTMP, which enhanced=never forbids");
  f.enhanced = fcc != 0 && (needs_enhanced || mode == EnhancedMode::always);
  f.fourcc = f.enhanced ? fcc : 0;
  return f;
}

namespace {

bool legacy_mp3_rate(int rate) {
  // SoundRate (E.4.2.1) can say 5.5/11/22/44 kHz, SoundFormat 14 says 8 kHz.
  return rate == 5512 || rate == 11025 || rate == 22050 || rate == 44100 || rate == 8000;
}

} // namespace

Result<AudioSendFormat> audio_send_format(const GstCaps *caps, EnhancedMode mode,
                                          std::uint8_t track_id, std::string *why) {
  if (!caps || gst_caps_get_size(caps) != 1 || !gst_caps_is_fixed(caps))
    return refuse<AudioSendFormat>(Errc::invalid_argument, why, "caps are not fixed");
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  const std::string_view name = gst_structure_get_name(s);
  AudioSendFormat f;
  f.track_id = track_id;
  gst_structure_get_int(s, "rate", &f.rate_hz);
  gst_structure_get_int(s, "channels", &f.channels);
  bool needs_enhanced = track_id != 0;
  int mpegversion = 0, layer = 0;
  gst_structure_get_int(s, "mpegversion", &mpegversion);
  gst_structure_get_int(s, "layer", &layer);
  if (name == "audio/mpeg" && (mpegversion == 2 || mpegversion == 4)) {
    f.codec = AudioCodec::aac;
    const char *format = gst_structure_get_string(s, "stream-format");
    if (!format || std::string_view(format) != "raw" || !codec_data_of(s, f.config))
      return refuse<AudioSendFormat>(Errc::invalid_argument, why,
                                     "AAC must be stream-format=raw with codec_data "
                                     "(put aacparse before the sink)");
  } else if (name == "audio/mpeg" && mpegversion == 1 && layer == 3) {
    f.codec = f.rate_hz == 8000 ? AudioCodec::mp3_8k : AudioCodec::mp3;
    needs_enhanced = needs_enhanced || !legacy_mp3_rate(f.rate_hz);
  } else if (name == "audio/x-opus") {
    f.codec = AudioCodec::opus;
    needs_enhanced = true;
    Bytes head;
    if (streamheader_of(s, 0, head) && head.size() >= 8 &&
        std::memcmp(head.data(), "OpusHead", 8) == 0) {
      f.config = std::move(head);
    } else {
      // No streamheader (RTP depayloaders, some encoders): make the ID header from the caps.
      GstBuffer *h = gst_codec_utils_opus_create_header(
          static_cast<guint32>(f.rate_hz > 0 ? f.rate_hz : 48000),
          static_cast<guint8>(std::clamp(f.channels, 1, 255)), 0, 1, f.channels >= 2 ? 1 : 0,
          nullptr, 0, 0);
      if (!h)
        return refuse<AudioSendFormat>(Errc::invalid_argument, why,
                                       "Opus caps without streamheader and with more than two "
                                       "channels: cannot make an OpusHead");
      GstMapInfo map;
      gst_buffer_map(h, &map, GST_MAP_READ);
      f.config.assign(map.data, map.data + map.size);
      gst_buffer_unmap(h, &map);
      gst_buffer_unref(h);
    }
  } else if (name == "audio/x-flac") {
    f.codec = AudioCodec::flac;
    needs_enhanced = true;
    // streamheader[0] is the Ogg-FLAC mapping packet: 0x7F "FLAC" major minor count(16),
    // then "fLaC" and the STREAMINFO block. The E-RTMP sequence start is "fLaC" + STREAMINFO.
    Bytes first;
    constexpr std::size_t kMappingPrefix = 9;
    if (!streamheader_of(s, 0, first) ||
        first.size() < kMappingPrefix + kFlacSignature.size() + kFlacStreamInfoBlockSize)
      return refuse<AudioSendFormat>(Errc::invalid_argument, why,
                                     "FLAC needs a streamheader with STREAMINFO "
                                     "(put flacparse before the sink)");
    f.config.assign(first.begin() + kMappingPrefix, first.begin() + kMappingPrefix +
                                                        kFlacSignature.size() +
                                                        kFlacStreamInfoBlockSize);
    int rate = 0, channels = 0;
    ByteView block;
    if (!parse_flac_config(f.config, rate, channels, block))
      return refuse<AudioSendFormat>(Errc::invalid_argument, why,
                                     "FLAC streamheader does not start with STREAMINFO");
    f.config[kFlacSignature.size()] |= 0x80; // the only block we send: flag it last
  } else if (name == "audio/x-ac3" || name == "audio/x-eac3") {
    f.codec = name == "audio/x-ac3" ? AudioCodec::ac3 : AudioCodec::eac3;
    needs_enhanced = true;
    codec_data_of(s, f.config); // dac3/dec3 when a muxer-side element provides it
  } else if (name == "audio/x-adpcm") {
    f.codec = AudioCodec::adpcm;
  } else if (name == "audio/x-nellymoser") {
    f.codec = f.rate_hz == 8000    ? AudioCodec::nellymoser_8k
              : f.rate_hz == 16000 ? AudioCodec::nellymoser_16k
                                   : AudioCodec::nellymoser;
  } else if (name == "audio/x-raw") {
    f.codec = AudioCodec::linear_pcm_le;
    const char *format = gst_structure_get_string(s, "format");
    if (!format || (std::string_view(format) != "S16LE" && std::string_view(format) != "U8"))
      return refuse<AudioSendFormat>(Errc::unsupported, why,
                                     "raw audio must be S16LE or U8 for RTMP");
    f.bits = std::string_view(format) == "U8" ? 8 : 16;
  } else if (name == "audio/x-alaw") {
    f.codec = AudioCodec::g711_alaw;
  } else if (name == "audio/x-mulaw") {
    f.codec = AudioCodec::g711_mulaw;
  } else if (name == "audio/x-speex") {
    f.codec = AudioCodec::speex;
  } else {
    return refuse<AudioSendFormat>(Errc::unsupported, why,
                                   "RTMP cannot carry audio " + std::string(name));
  }
  const std::uint32_t fcc =
      audio_codec_fourcc(f.codec == AudioCodec::mp3_8k ? AudioCodec::mp3 : f.codec);
  if (needs_enhanced && fcc == 0)
    return refuse<AudioSendFormat>(Errc::unsupported, why,
                                   std::string(name) + " has no Enhanced RTMP FourCC, so it can "
                                                       "only be sent as track 0");
  if (needs_enhanced && mode == EnhancedMode::never)
    return refuse<AudioSendFormat>(Errc::unsupported, why,
                                   std::string(name) + (track_id != 0 ? " on a second track" : "") +
                                       " needs Enhanced RTMP, which enhanced=never forbids");
  f.enhanced = fcc != 0 && (needs_enhanced || mode == EnhancedMode::always);
  f.fourcc = f.enhanced ? fcc : 0;
  if (f.enhanced && f.codec == AudioCodec::mp3_8k)
    f.codec = AudioCodec::mp3;
  return f;
}

namespace {

// Header bytes of a one-track E-RTMP video message for a track other than 0: Multitrack with
// AvMultitrackType OneTrack (no per-track size), built by the core writer with an empty body.
Bytes multitrack_video_header(const VideoSendFormat &f, FrameType frame, VideoPacketKind kind,
                              std::int32_t cts, ByteView body = {}) {
  VideoTagInfo info;
  info.enhanced = true;
  info.frame_type = frame;
  info.multitrack = true;
  info.multitrack_type = MultitrackType::one_track;
  VideoTrackPacket t;
  t.track_id = f.track_id;
  t.codec = f.codec;
  t.fourcc = f.fourcc;
  t.kind = kind;
  t.composition_time_ms = cts;
  // CodedFramesX (3) when an avc1/hvc1 frame has composition time 0, as
  // make_enhanced_video_header does.
  const bool with_cts = f.fourcc == fourcc("avc1") || f.fourcc == fourcc("hvc1");
  t.packet_type = (kind == VideoPacketKind::coded_frames && cts == 0 && with_cts) ? 3 : 1;
  t.payload = body;
  info.tracks.push_back(t);
  auto r = write_video_tag(info);
  return r ? std::move(*r) : Bytes{};
}

Bytes multitrack_audio_header(const AudioSendFormat &f, AudioPacketKind kind, ByteView body = {}) {
  AudioTagInfo info;
  info.enhanced = true;
  info.multitrack = true;
  info.multitrack_type = MultitrackType::one_track;
  AudioTrackPacket t;
  t.track_id = f.track_id;
  t.codec = f.codec;
  t.fourcc = f.fourcc;
  t.kind = kind;
  t.payload = body;
  info.tracks.push_back(t);
  auto r = write_audio_tag(info);
  return r ? std::move(*r) : Bytes{};
}

Bytes concat(Bytes head, ByteView tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

} // namespace

Bytes VideoSendFormat::sequence_start() const {
  if (config.empty())
    return {};
  if (!enhanced) {
    if (codec != VideoCodec::avc)
      return {};
    return concat(
        make_legacy_video_header(FrameType::keyframe, codec, VideoPacketKind::sequence_start),
        config);
  }
  if (track_id != 0)
    return multitrack_video_header(*this, FrameType::keyframe, VideoPacketKind::sequence_start, 0,
                                   config);
  return concat(
      make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::sequence_start, fourcc),
      config);
}

Bytes VideoSendFormat::sequence_end() const {
  if (!enhanced)
    return codec == VideoCodec::avc
               ? make_legacy_video_header(FrameType::keyframe, codec, VideoPacketKind::sequence_end)
               : Bytes{};
  if (track_id != 0)
    return multitrack_video_header(*this, FrameType::keyframe, VideoPacketKind::sequence_end, 0);
  return make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::sequence_end, fourcc);
}

Bytes VideoSendFormat::frame_header(bool keyframe, std::int32_t composition_time_ms) const {
  const FrameType frame = keyframe ? FrameType::keyframe : FrameType::inter;
  if (!enhanced) {
    Bytes h =
        make_legacy_video_header(frame, codec, VideoPacketKind::coded_frames, composition_time_ms);
    if (codec == VideoCodec::vp6 || codec == VideoCodec::vp6_alpha)
      h.push_back(vp6_adjustment(width, height));
    return h;
  }
  if (track_id != 0)
    return multitrack_video_header(*this, frame, VideoPacketKind::coded_frames,
                                   composition_time_ms);
  return make_enhanced_video_header(frame, VideoPacketKind::coded_frames, fourcc,
                                    composition_time_ms);
}

Bytes AudioSendFormat::sequence_start() const {
  if (config.empty())
    return {};
  if (!enhanced) {
    if (codec != AudioCodec::aac)
      return {};
    return concat(
        make_legacy_audio_header(codec, rate_hz, bits, channels, AudioPacketKind::sequence_start),
        config);
  }
  if (track_id != 0)
    return multitrack_audio_header(*this, AudioPacketKind::sequence_start, config);
  return concat(make_enhanced_audio_header(AudioPacketKind::sequence_start, fourcc), config);
}

Bytes AudioSendFormat::sequence_end() const {
  if (!enhanced)
    return {};
  if (track_id != 0)
    return multitrack_audio_header(*this, AudioPacketKind::sequence_end);
  return make_enhanced_audio_header(AudioPacketKind::sequence_end, fourcc);
}

Bytes AudioSendFormat::frame_header() const {
  if (!enhanced)
    return make_legacy_audio_header(codec, rate_hz, bits, channels, AudioPacketKind::coded_frames);
  if (track_id != 0)
    return multitrack_audio_header(*this, AudioPacketKind::coded_frames);
  return make_enhanced_audio_header(AudioPacketKind::coded_frames, fourcc);
}

} // namespace rtmp::gst
