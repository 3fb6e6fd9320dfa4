// Tests of the codec caps and onMetaData tag mapping (gst/rtmp/elements/codec_caps.h,
// metadata_tags.h):
// - caps of legacy codecs equal to what flvdemux produces for the same FLV file (files made by
//   ffmpeg at test time; a codec is skipped when this ffmpeg lacks its encoder),
// - Enhanced RTMP v2 headers from hand-made byte tables, both directions,
// - round trips caps -> sink headers -> parser -> caps, for every mode and track id,
// - truncated and oversized configuration records, hostile onMetaData,
// - onMetaData <-> GstTagList round trips.
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "codec_caps.h"
#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "metadata_tags.h"

using namespace rtmp;
using namespace rtmp::gst;

namespace {

class CodecCaps : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// Owning GstCaps pointer for tests.
struct Caps {
  GstCaps *p = nullptr;
  Caps() = default;
  explicit Caps(GstCaps *c) : p(c) {}
  Caps(const Caps &) = delete;
  Caps(Caps &&o) noexcept : p(std::exchange(o.p, nullptr)) {}
  Caps &operator=(Caps &&o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~Caps() {
    if (p)
      gst_caps_unref(p);
  }
  std::string str() const {
    if (!p)
      return "(null)";
    gchar *s = gst_caps_to_string(p);
    std::string out = s;
    g_free(s);
    return out;
  }
  const GstStructure *s() const { return gst_caps_get_structure(p, 0); }
};

Bytes hex(const char *text) {
  Bytes out;
  unsigned v = 0;
  int n = 0;
  for (const char *c = text; *c; ++c) {
    int d = -1;
    if (*c >= '0' && *c <= '9')
      d = *c - '0';
    else if (*c >= 'a' && *c <= 'f')
      d = *c - 'a' + 10;
    else if (*c >= 'A' && *c <= 'F')
      d = *c - 'A' + 10;
    if (d < 0)
      continue;
    v = v << 4 | static_cast<unsigned>(d);
    if (++n == 2) {
      out.push_back(static_cast<std::uint8_t>(v));
      v = 0;
      n = 0;
    }
  }
  return out;
}

Bytes concat(Bytes a, const Bytes &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes buffer_field(const GstStructure *s, const char *field) {
  const GValue *v = gst_structure_get_value(s, field);
  if (!v || !GST_VALUE_HOLDS_BUFFER(v))
    return {};
  GstBuffer *b = gst_value_get_buffer(v);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  Bytes out(map.data, map.data + map.size);
  gst_buffer_unmap(b, &map);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Real configuration records (captured from ffmpeg/x264/x265/GStreamer encoders).

// AVCDecoderConfigurationRecord (ISO 14496-15 5.2.4.1) of x264, 160x120 High 4:4:4 Predictive.
const Bytes kAvcC = hex("01f4000bffe1001a67f4000b919b28508fc4e022000003000200000300641e28532c01"
                        "000668ebe3c44844");
// HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1) head of an x265 stream, 1 VPS/SPS/PPS
// array (abbreviated parameter sets: the mapping does not look inside).
const Bytes kHvcC =
    hex("0101600000009000000000005df000fcfdf8f800000f03a00001000c40010c01ffff01600000"
        "0300900000a1000100034201aa2000010004440101c1");
// AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3): marker|version 0x81, profile 0 level 8, 8-bit
// 4:2:0, then a sequence header OBU.
const Bytes kAv1C = hex("81080c000a0b00000042abbfc3710abe0040");
// AudioSpecificConfig (ISO 14496-3 1.6.2.1): AAC-LC, 48 kHz (index 3), mono: 0x1188.
const Bytes kAscLc48Mono = hex("1188");
// AAC-LC 44.1 kHz stereo.
const Bytes kAscLc44Stereo = hex("1210");
// OpusHead (RFC 7845 5.1): version 1, 2 channels, pre-skip 312, 48000 Hz, gain 0, family 0.
const Bytes kOpusHead = hex("4f707573486561640102380180bb00000000 00");
// "fLaC" + STREAMINFO (FLAC format): last-block flag, type 0, length 34; block size 4096/4096,
// frame sizes 0/0, 44100 Hz, 2 channels, 16 bits, 0 samples, zero MD5.
const Bytes kFlacConfig = hex("664c6143 80000022 10001000 000000 000000"
                              "0ac44 2 f0 00000000 00000000000000000000000000000000");
// AC3SpecificBox body (ETSI TS 102 366 F.4): fscod 0 (48 kHz), bsid 8, bsmod 0, acmod 7 (3/2),
// lfeon 1, bit_rate_code 15: 5.1 channels.
const Bytes kDac3 = hex("10 3d e0");
// EC3SpecificBox body (F.6): data_rate 384, num_ind_sub 0, fscod 1 (44.1 kHz), bsid 16, acmod 2,
// lfeon 0, num_dep_sub 0.
const Bytes kDec3 = hex("0c00 6004 00");

// ---------------------------------------------------------------------------------------------
// Enhanced RTMP v2 tables (veovera enhanced-rtmp-v2, ExVideoTagHeader / ExAudioTagHeader).

TEST_F(CodecCaps, HevcSequenceStartTableGivesH265Caps) {
  // IsExHeader 1 | FrameType 1 (key) | PacketType 0 (SequenceStart), FourCC "hvc1", hvcC.
  const Bytes msg = concat(hex("90 68766331"), kHvcC);
  auto tag = parse_video_tag(msg);
  ASSERT_TRUE(tag.ok());
  VideoTrackCaps track;
  EXPECT_TRUE(track.update(tag->tracks[0]));
  Caps caps(track.caps());
  Caps expected(
      gst_caps_from_string("video/x-h265, stream-format=(string)hvc1, alignment=(string)au"));
  ASSERT_TRUE(caps.p);
  EXPECT_TRUE(gst_caps_is_subset(caps.p, expected.p)) << caps.str();
  EXPECT_EQ(buffer_field(caps.s(), "codec_data"), kHvcC);
  // The same sequence start again: no renegotiation.
  EXPECT_FALSE(track.update(tag->tracks[0]));
}

TEST_F(CodecCaps, LegacyCodecId12HevcGivesH265Caps) {
  // Pre-E-RTMP HEVC of Chinese CDNs / FFmpeg forks: FrameType 1 | CodecID 12, then the AVC
  // packet layout (AVCPacketType 0, CompositionTime 0) and the hvcC.
  const Bytes msg = concat(hex("1c 00 000000"), kHvcC);
  auto tag = parse_video_tag(msg);
  ASSERT_TRUE(tag.ok());
  Caps caps(video_caps(tag->tracks[0].codec, tag->tracks[0].payload));
  ASSERT_TRUE(caps.p);
  EXPECT_STREQ(gst_structure_get_name(caps.s()), "video/x-h265");
  EXPECT_EQ(buffer_field(caps.s(), "codec_data"), kHvcC);
}

TEST_F(CodecCaps, PresentationOffsetAddsCompositionTimeAndNanoseconds) {
  // ModEx (PacketType 7): modExDataSize-1 = 2, UI24 nanoseconds 500000, then ModExType 0
  // (TimestampOffsetNano) | PacketType 1 (CodedFrames); FourCC "hvc1", SI24 CompositionTime 40.
  const Bytes msg = hex("97 02 07a120 01 68766331 000028 00000001 26");
  auto tag = parse_video_tag(msg);
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(presentation_offset_ns(tag->tracks[0]), 40'500'000);
  const Bytes negative = hex("27 01 ffffec 00"); // legacy AVC inter frame, CompositionTime -20
  auto t2 = parse_video_tag(negative);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(presentation_offset_ns(t2->tracks[0]), -20'000'000);
}

TEST_F(CodecCaps, Av1SequenceStartTableGivesObuStreamCaps) {
  const Bytes msg = concat(hex("90 61763031"), kAv1C); // "av01"
  auto tag = parse_video_tag(msg);
  ASSERT_TRUE(tag.ok());
  Caps caps(video_caps(tag->tracks[0].codec, tag->tracks[0].payload));
  ASSERT_TRUE(caps.p);
  EXPECT_STREQ(gst_structure_get_name(caps.s()), "video/x-av1");
  EXPECT_STREQ(gst_structure_get_string(caps.s(), "stream-format"), "obu-stream");
  EXPECT_STREQ(gst_structure_get_string(caps.s(), "alignment"), "tu");
  EXPECT_EQ(buffer_field(caps.s(), "codec_data"), kAv1C);
}

TEST_F(CodecCaps, Vp9AndVp8CapsCarryProfileAndConfig) {
  // vpcC with FullBox version/flags: profile 2, level 31, 10-bit 4:2:0.
  const Bytes vpcc = hex("01000000 02 1f a0 01 01 01 0000");
  const Bytes msg = concat(hex("90 76703039"), vpcc); // "vp09"
  auto tag = parse_video_tag(msg);
  ASSERT_TRUE(tag.ok());
  Caps caps(video_caps(tag->tracks[0].codec, tag->tracks[0].payload));
  ASSERT_TRUE(caps.p);
  EXPECT_STREQ(gst_structure_get_name(caps.s()), "video/x-vp9");
  EXPECT_STREQ(gst_structure_get_string(caps.s(), "profile"), "2");
  // VP8 needs no configuration: caps from the first coded frame ("vp08", CodedFrames 1).
  const Bytes frame_bytes = hex("91 76703038 9d012a");
  auto frame = parse_video_tag(frame_bytes);
  ASSERT_TRUE(frame.ok());
  VideoTrackCaps vp8;
  EXPECT_TRUE(vp8.update(frame->tracks[0]));
  Caps c8(vp8.caps());
  ASSERT_TRUE(c8.p);
  EXPECT_STREQ(gst_structure_get_name(c8.s()), "video/x-vp8");
}

TEST_F(CodecCaps, OpusSequenceStartTableGivesOpusCapsWithIdHeader) {
  // SoundFormat 9 (ExHeader) | AudioPacketType 0 (SequenceStart), FourCC "Opus", OpusHead.
  const Bytes msg = concat(hex("90 4f707573"), kOpusHead);
  auto tag = parse_audio_tag(msg);
  ASSERT_TRUE(tag.ok());
  AudioTrackCaps track;
  EXPECT_TRUE(track.update(*tag, tag->tracks[0]));
  Caps caps(track.caps());
  ASSERT_TRUE(caps.p);
  EXPECT_STREQ(gst_structure_get_name(caps.s()), "audio/x-opus");
  int rate = 0, channels = 0;
  EXPECT_TRUE(gst_structure_get_int(caps.s(), "rate", &rate));
  EXPECT_TRUE(gst_structure_get_int(caps.s(), "channels", &channels));
  EXPECT_EQ(rate, 48000);
  EXPECT_EQ(channels, 2);
  const GValue *sh = gst_structure_get_value(caps.s(), "streamheader");
  ASSERT_TRUE(sh && GST_VALUE_HOLDS_ARRAY(sh));
  GstBuffer *head = gst_value_get_buffer(gst_value_array_get_value(sh, 0));
  EXPECT_EQ(gst_buffer_get_size(head), kOpusHead.size());
  EXPECT_EQ(gst_buffer_memcmp(head, 0, kOpusHead.data(), kOpusHead.size()), 0);
  // A coded frame without a new sequence start keeps the caps.
  const Bytes frame_bytes = hex("91 4f707573 fc ff fe");
  auto frame = parse_audio_tag(frame_bytes);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(track.update(*frame, frame->tracks[0]));
}

TEST_F(CodecCaps, FlacSequenceStartTableGivesFlacCaps) {
  const Bytes msg = concat(hex("90 664c6143"), kFlacConfig); // "fLaC"
  auto tag = parse_audio_tag(msg);
  ASSERT_TRUE(tag.ok());
  Caps caps(audio_caps(tag->tracks[0].codec, 0, 0, 0, tag->tracks[0].payload));
  ASSERT_TRUE(caps.p) << "STREAMINFO not understood";
  Caps expected(
      gst_caps_from_string("audio/x-flac, framed=(boolean)true, rate=(int)44100, channels=(int)2"));
  EXPECT_TRUE(gst_caps_is_subset(caps.p, expected.p)) << caps.str();
  const GValue *sh = gst_structure_get_value(caps.s(), "streamheader");
  ASSERT_TRUE(sh && GST_VALUE_HOLDS_ARRAY(sh));
  GstBuffer *first = gst_value_get_buffer(gst_value_array_get_value(sh, 0));
  // Ogg-FLAC mapping packet: 0x7F "FLAC" 1 0, count, then the "fLaC" + STREAMINFO we got.
  const Bytes prefix = hex("7f 464c4143 01 00 0000");
  EXPECT_EQ(gst_buffer_memcmp(first, 0, prefix.data(), prefix.size()), 0);
  EXPECT_EQ(gst_buffer_memcmp(first, prefix.size(), kFlacConfig.data(), kFlacConfig.size()), 0);
}

TEST_F(CodecCaps, Ac3AndEac3ConfigGiveRateAndChannels) {
  Caps ac3(audio_caps(AudioCodec::ac3, 0, 0, 0, kDac3));
  Caps ac3_expected(gst_caps_from_string("audio/x-ac3, rate=(int)48000, channels=(int)6"));
  EXPECT_TRUE(gst_caps_is_subset(ac3.p, ac3_expected.p)) << ac3.str();
  Caps eac3(audio_caps(AudioCodec::eac3, 0, 0, 0, kDec3));
  Caps eac3_expected(gst_caps_from_string("audio/x-eac3, rate=(int)44100, channels=(int)2"));
  EXPECT_TRUE(gst_caps_is_subset(eac3.p, eac3_expected.p)) << eac3.str();
  // Without a configuration the caps are still usable (ac3parse reads the frames).
  Caps bare(audio_caps(AudioCodec::ac3, 0, 0, 0, {}));
  ASSERT_TRUE(bare.p);
  EXPECT_FALSE(gst_structure_has_field(bare.s(), "rate"));
}

TEST_F(CodecCaps, CodecsThatNeedAConfigurationHaveNoCapsWithoutOne) {
  for (VideoCodec c : {VideoCodec::avc, VideoCodec::hevc, VideoCodec::av1})
    EXPECT_EQ(video_caps(c, {}), nullptr) << static_cast<int>(c);
  for (AudioCodec c : {AudioCodec::aac, AudioCodec::opus, AudioCodec::flac})
    EXPECT_EQ(audio_caps(c, 44100, 16, 2, {}), nullptr) << static_cast<int>(c);
  EXPECT_EQ(video_caps(VideoCodec::unknown, kAvcC), nullptr);
  EXPECT_EQ(audio_caps(AudioCodec::unknown, 44100, 16, 2, {}), nullptr);
  // AAC coded frames before the sequence header: no caps yet, then caps on the header.
  AudioTrackCaps aac;
  const Bytes frame_bytes = hex("af 01 2100");
  auto frame = parse_audio_tag(frame_bytes);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(aac.update(*frame, frame->tracks[0]));
  EXPECT_EQ(aac.caps(), nullptr);
  const Bytes header_bytes = concat(hex("af 00"), kAscLc44Stereo);
  auto header = parse_audio_tag(header_bytes);
  ASSERT_TRUE(header.ok());
  EXPECT_TRUE(aac.update(*header, header->tracks[0]));
  Caps c(aac.caps());
  EXPECT_TRUE(c.p);
}

// ---------------------------------------------------------------------------------------------
// Limits and truncation

TEST_F(CodecCaps, OversizedConfigurationIsRefused) {
  const Bytes big(kMaxCodecConfigSize + 1, 0x01);
  EXPECT_EQ(video_caps(VideoCodec::avc, big), nullptr);
  EXPECT_EQ(audio_caps(AudioCodec::aac, 44100, 16, 2, big), nullptr);
  VideoTrackPacket p;
  p.codec = VideoCodec::hevc;
  p.kind = VideoPacketKind::sequence_start;
  p.payload = big;
  VideoTrackCaps track;
  EXPECT_FALSE(track.update(p));
  EXPECT_EQ(track.caps(), nullptr);
  const Bytes at_limit(kMaxCodecConfigSize, 0x01);
  Caps ok(video_caps(VideoCodec::avc, at_limit));
  EXPECT_TRUE(ok.p);
}

TEST_F(CodecCaps, TruncatedConfigurationsAtEveryOffset) {
  // FLAC: any cut before the end of STREAMINFO gives no caps (and never reads past the end).
  for (std::size_t n = 0; n < kFlacConfig.size(); ++n) {
    const ByteView cut(kFlacConfig.data(), n);
    EXPECT_EQ(audio_caps(AudioCodec::flac, 0, 0, 0, cut), nullptr) << n;
  }
  // AC-3 / E-AC-3: a cut record gives caps without rate/channels.
  for (const auto &[codec, record] :
       {std::pair{AudioCodec::ac3, kDac3}, std::pair{AudioCodec::eac3, kDec3}}) {
    for (std::size_t n = 0; n < record.size(); ++n) {
      Caps c(audio_caps(codec, 0, 0, 0, ByteView(record.data(), n)));
      ASSERT_TRUE(c.p);
      int rate = 0;
      const bool has_rate = gst_structure_get_int(c.s(), "rate", &rate);
      // The fields needed end in byte 2 (AC-3: lfeon is bit 13) or 4 (E-AC-3: bit 31).
      const std::size_t needed = codec == AudioCodec::ac3 ? 2 : 4;
      EXPECT_EQ(has_rate, n >= needed) << static_cast<int>(codec) << " " << n;
    }
  }
  // Opus: a cut OpusHead is refused by pbutils.
  for (std::size_t n = 0; n < 19; ++n) {
    GstCaps *c = audio_caps(AudioCodec::opus, 0, 0, 0, ByteView(kOpusHead.data(), n));
    EXPECT_EQ(c, nullptr) << n;
    if (c)
      gst_caps_unref(c);
  }
  // AAC: a one-byte AudioSpecificConfig keeps the tag's rate and channels (as flvdemux).
  Caps aac(audio_caps(AudioCodec::aac, 44100, 16, 2, ByteView(kAscLc48Mono.data(), 1)));
  int rate = 0;
  ASSERT_TRUE(aac.p);
  EXPECT_TRUE(gst_structure_get_int(aac.s(), "rate", &rate));
  EXPECT_EQ(rate, 44100);
}

TEST_F(CodecCaps, HostileMetadataHintsAreIgnored) {
  VideoHints h;
  h.width = kMaxVideoDimension + 1;
  h.height = -5;
  h.framerate = 1e300;
  h.par_n = 1;
  h.par_d = 0;
  Caps c(video_caps(VideoCodec::sorenson_h263, {}, h));
  ASSERT_TRUE(c.p);
  EXPECT_EQ(gst_structure_n_fields(c.s()), 1u) << c.str(); // flvversion only
}

TEST_F(CodecCaps, Vp6FrameDataDropsTheAdjustmentByte) {
  const Bytes tag_bytes = hex("14 35 aabbcc"); // keyframe, CodecID 4, adjustment 0x35
  auto tag = parse_video_tag(tag_bytes);
  ASSERT_TRUE(tag.ok());
  const ByteView data = video_frame_data(tag->tracks[0]);
  EXPECT_EQ(Bytes(data.begin(), data.end()), hex("aabbcc"));
  const Bytes h263_bytes = hex("22 0000"); // inter, Sorenson H.263: whole VideoData
  auto h263 = parse_video_tag(h263_bytes);
  ASSERT_TRUE(h263.ok());
  EXPECT_EQ(video_frame_data(h263->tracks[0]).size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Sink side: caps -> headers (byte tables), and back

Caps make_caps(const char *text, const char *buffer_field_name = nullptr, const Bytes &bytes = {}) {
  Caps c(gst_caps_from_string(text));
  if (buffer_field_name) {
    GstBuffer *b = gst_buffer_new_memdup(bytes.data(), bytes.size());
    gst_caps_set_simple(c.p, buffer_field_name, GST_TYPE_BUFFER, b, nullptr);
    gst_buffer_unref(b);
  }
  return c;
}

TEST_F(CodecCaps, H264IsSentWithLegacyHeadersInAutoMode) {
  Caps caps = make_caps("video/x-h264, stream-format=avc, alignment=au, width=160, height=120",
                        "codec_data", kAvcC);
  auto f = video_send_format(caps.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->enhanced);
  // FLV spec E.4.3.1: FrameType 1 | CodecID 7, AVCPacketType 0, CompositionTime 0.
  EXPECT_EQ(f->sequence_start(), concat(hex("17 00 000000"), kAvcC));
  // Inter frame, NALU, composition time 80 ms.
  EXPECT_EQ(f->frame_header(false, 80), hex("27 01 000050"));
  EXPECT_EQ(f->sequence_end(), hex("17 02 000000"));
}

TEST_F(CodecCaps, H264IsSentAsAvc1WhenEnhancedIsAlways) {
  Caps caps = make_caps("video/x-h264, stream-format=avc, alignment=au", "codec_data", kAvcC);
  auto f = video_send_format(caps.p, EnhancedMode::always, 0);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->enhanced);
  EXPECT_EQ(f->sequence_start(), concat(hex("90 61766331"), kAvcC));
  // CodedFramesX (3) for composition time 0, CodedFrames (1) + SI24 otherwise.
  EXPECT_EQ(f->frame_header(true, 0), hex("93 61766331"));
  EXPECT_EQ(f->frame_header(false, -40), hex("a1 61766331 ffffd8"));
}

TEST_F(CodecCaps, HevcNeedsEnhancedAndIsRefusedWhenNever) {
  Caps caps = make_caps("video/x-h265, stream-format=hvc1, alignment=au", "codec_data", kHvcC);
  auto f = video_send_format(caps.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->enhanced);
  EXPECT_EQ(f->fourcc, fourcc("hvc1"));
  EXPECT_EQ(f->sequence_start(), concat(hex("90 68766331"), kHvcC));
  EXPECT_EQ(f->sequence_end(), hex("92 68766331"));
  std::string why;
  auto refused = video_send_format(caps.p, EnhancedMode::never, 0, &why);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), make_error_code(Errc::unsupported));
  EXPECT_NE(why.find("enhanced=never"), std::string::npos) << why;
}

TEST_F(CodecCaps, SecondTrackIsSentAsOneTrackMultitrack) {
  Caps caps = make_caps("video/x-av1, stream-format=obu-stream, alignment=tu", "codec_data", kAv1C);
  auto f = video_send_format(caps.p, EnhancedMode::automatic, 1);
  ASSERT_TRUE(f.ok());
  // ExVideoTagHeader: key | PacketType 6 (Multitrack); AvMultitrackType 0 (OneTrack) |
  // PacketType 0; FourCC "av01"; trackId 1; then the body.
  EXPECT_EQ(f->sequence_start(), concat(hex("96 00 61763031 01"), kAv1C));
  EXPECT_EQ(f->frame_header(false, 0), hex("a6 01 61763031 01"));
  const Bytes parsed_bytes = concat(f->frame_header(false, 0), hex("12 00"));
  auto parsed = parse_video_tag(parsed_bytes);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->tracks.size(), 1u);
  EXPECT_EQ(parsed->tracks[0].track_id, 1);
  EXPECT_EQ(parsed->tracks[0].codec, VideoCodec::av1);
  EXPECT_EQ(Bytes(parsed->tracks[0].payload.begin(), parsed->tracks[0].payload.end()),
            hex("12 00"));
  // Legacy codecs have no FourCC: they cannot be a second track.
  Caps h263 = make_caps("video/x-flash-video, flvversion=1");
  std::string why;
  EXPECT_FALSE(video_send_format(h263.p, EnhancedMode::automatic, 1, &why).ok());
  EXPECT_NE(why.find("FourCC"), std::string::npos);
  // AAC as a second audio track: mp4a multitrack.
  Caps aac = make_caps("audio/mpeg, mpegversion=4, stream-format=raw, rate=48000, channels=1",
                       "codec_data", kAscLc48Mono);
  auto a = audio_send_format(aac.p, EnhancedMode::automatic, 2);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->sequence_start(), concat(hex("95 00 6d703461 02"), kAscLc48Mono));
  EXPECT_EQ(a->frame_header(), hex("95 01 6d703461 02"));
}

TEST_F(CodecCaps, AudioHeadersLegacyAndEnhanced) {
  // AAC: SoundFormat 10, 44 kHz, 16-bit, stereo whatever the stream (E.4.2.1), AACPacketType.
  Caps aac = make_caps("audio/mpeg, mpegversion=4, stream-format=raw, rate=48000, channels=1",
                       "codec_data", kAscLc48Mono);
  auto a = audio_send_format(aac.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->sequence_start(), concat(hex("af 00"), kAscLc48Mono));
  EXPECT_EQ(a->frame_header(), hex("af 01"));
  EXPECT_TRUE(a->sequence_end().empty());
  // MP3 at 44.1 kHz stereo: legacy 0x2f; at 48 kHz SoundRate cannot say it: ".mp3" FourCC.
  Caps mp3 = make_caps("audio/mpeg, mpegversion=1, layer=3, rate=44100, channels=2");
  auto m = audio_send_format(mp3.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->frame_header(), hex("2f"));
  Caps mp3_48 = make_caps("audio/mpeg, mpegversion=1, layer=3, rate=48000, channels=2");
  auto m48 = audio_send_format(mp3_48.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(m48.ok());
  EXPECT_EQ(m48->frame_header(), hex("91 2e6d7033"));
  std::string why;
  EXPECT_FALSE(audio_send_format(mp3_48.p, EnhancedMode::never, 0, &why).ok());
  // MP3 8 kHz has its own SoundFormat 14.
  Caps mp3_8 = make_caps("audio/mpeg, mpegversion=1, layer=3, rate=8000, channels=1");
  auto m8 = audio_send_format(mp3_8.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(m8.ok());
  EXPECT_EQ(m8->frame_header(), hex("e2"));
  // Opus from opusenc caps (streamheader): ExAudioTagHeader SequenceStart "Opus" + OpusHead.
  Caps opus(gst_caps_from_string("audio/x-opus, rate=48000, channels=2, "
                                 "channel-mapping-family=0"));
  {
    GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
    g_value_init(&array, GST_TYPE_ARRAY);
    g_value_init(&v, GST_TYPE_BUFFER);
    g_value_take_boxed(&v, gst_buffer_new_memdup(kOpusHead.data(), kOpusHead.size()));
    gst_value_array_append_and_take_value(&array, &v);
    gst_structure_take_value(gst_caps_get_structure(opus.p, 0), "streamheader", &array);
  }
  auto o = audio_send_format(opus.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->sequence_start(), concat(hex("90 4f707573"), kOpusHead));
  EXPECT_EQ(o->frame_header(), hex("91 4f707573"));
  EXPECT_EQ(o->sequence_end(), hex("92 4f707573"));
  // PCM: SoundFormat 3, 22 kHz (2), 16-bit, mono.
  Caps pcm = make_caps("audio/x-raw, format=S16LE, layout=interleaved, rate=22050, channels=1");
  auto p = audio_send_format(pcm.p, EnhancedMode::always, 0);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->enhanced); // no FourCC exists for it
  EXPECT_EQ(p->frame_header(), hex("3a"));
  // Unknown media and unfixed caps.
  Caps vorbis = make_caps("audio/x-vorbis, rate=44100, channels=2");
  auto v = audio_send_format(vorbis.p, EnhancedMode::automatic, 0, &why);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error(), make_error_code(Errc::unsupported));
  Caps h264_bytestream = make_caps("video/x-h264, stream-format=byte-stream");
  auto b = video_send_format(h264_bytestream.p, EnhancedMode::automatic, 0, &why);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error(), make_error_code(Errc::invalid_argument));
  EXPECT_NE(why.find("h264parse"), std::string::npos);
}

// Sends caps through the sink-side format, parses the bytes as the source does and compares the
// resulting caps with `expected` (a subset check: our caps may be more specific).
void expect_video_round_trip(const Caps &in, EnhancedMode mode, std::uint8_t track,
                             const char *expected) {
  auto f = video_send_format(in.p, mode, track);
  ASSERT_TRUE(f.ok()) << in.str();
  VideoTrackCaps out;
  const Bytes seq = f->sequence_start();
  if (!seq.empty()) {
    auto tag = parse_video_tag(seq);
    ASSERT_TRUE(tag.ok());
    ASSERT_EQ(tag->tracks.size(), 1u);
    EXPECT_EQ(tag->tracks[0].track_id, track);
    EXPECT_EQ(tag->tracks[0].kind, VideoPacketKind::sequence_start);
    out.update(tag->tracks[0]);
  }
  const Bytes frame = concat(f->frame_header(true, 40), hex("00000001 65"));
  auto tag = parse_video_tag(frame);
  ASSERT_TRUE(tag.ok());
  ASSERT_EQ(tag->tracks.size(), 1u);
  EXPECT_EQ(tag->frame_type, FrameType::keyframe);
  if (f->codec == VideoCodec::avc || f->codec == VideoCodec::hevc) {
    EXPECT_EQ(tag->tracks[0].composition_time_ms, 40);
  }
  const ByteView data = video_frame_data(tag->tracks[0]);
  EXPECT_EQ(Bytes(data.begin(), data.end()), hex("00000001 65")) << in.str();
  out.update(tag->tracks[0]);
  Caps got(out.caps());
  Caps want(gst_caps_from_string(expected));
  ASSERT_TRUE(got.p) << in.str();
  EXPECT_TRUE(gst_caps_is_subset(got.p, want.p)) << got.str() << " vs " << expected;
  const Bytes in_config = buffer_field(in.s(), "codec_data");
  if (!in_config.empty()) {
    EXPECT_EQ(buffer_field(got.s(), "codec_data"), in_config);
  }
}

TEST_F(CodecCaps, VideoRoundTripsThroughHeaders) {
  for (EnhancedMode mode : {EnhancedMode::automatic, EnhancedMode::always}) {
    for (std::uint8_t track : {0, 3}) {
      SCOPED_TRACE(testing::Message()
                   << "mode " << static_cast<int>(mode) << " track " << int(track));
      expect_video_round_trip(
          make_caps("video/x-h264, stream-format=avc, alignment=au", "codec_data", kAvcC), mode,
          track, "video/x-h264, stream-format=avc, alignment=au");
      expect_video_round_trip(
          make_caps("video/x-h265, stream-format=hvc1, alignment=au", "codec_data", kHvcC), mode,
          track, "video/x-h265, stream-format=hvc1, alignment=au");
      expect_video_round_trip(
          make_caps("video/x-av1, stream-format=obu-stream, alignment=tu", "codec_data", kAv1C),
          mode, track, "video/x-av1, stream-format=obu-stream");
      expect_video_round_trip(make_caps("video/x-vp9, profile=(string)0"), mode, track,
                              "video/x-vp9, profile=(string)0");
      expect_video_round_trip(make_caps("video/x-vp8"), mode, track, "video/x-vp8");
      if (track == 0) {
        expect_video_round_trip(make_caps("video/x-flash-video, flvversion=1"), mode, track,
                                "video/x-flash-video, flvversion=1");
        expect_video_round_trip(make_caps("video/x-vp6-flash, width=100, height=50"), mode, track,
                                "video/x-vp6-flash");
        expect_video_round_trip(make_caps("video/x-vp6-alpha"), mode, track, "video/x-vp6-alpha");
        expect_video_round_trip(make_caps("video/x-flash-screen"), mode, track,
                                "video/x-flash-screen");
      }
    }
  }
}

void expect_audio_round_trip(const Caps &in, EnhancedMode mode, std::uint8_t track,
                             const Bytes &frame = hex("0102")) {
  auto f = audio_send_format(in.p, mode, track);
  ASSERT_TRUE(f.ok()) << in.str();
  AudioTrackCaps out;
  const Bytes seq = f->sequence_start();
  if (!seq.empty()) {
    auto tag = parse_audio_tag(seq);
    ASSERT_TRUE(tag.ok());
    ASSERT_EQ(tag->tracks.size(), 1u);
    EXPECT_EQ(tag->tracks[0].track_id, track);
    out.update(*tag, tag->tracks[0]);
  }
  const Bytes tag_bytes = concat(f->frame_header(), frame);
  auto tag = parse_audio_tag(tag_bytes);
  ASSERT_TRUE(tag.ok());
  ASSERT_EQ(tag->tracks.size(), 1u);
  EXPECT_EQ(Bytes(tag->tracks[0].payload.begin(), tag->tracks[0].payload.end()), frame);
  out.update(*tag, tag->tracks[0]);
  Caps got(out.caps());
  ASSERT_TRUE(got.p) << in.str();
  // What matters downstream: media type, rate, channels, sample format.
  EXPECT_STREQ(gst_structure_get_name(got.s()), gst_structure_get_name(in.s()));
  for (const char *field : {"rate", "channels", "format", "mpegversion", "layer", "layout"}) {
    const GValue *want = gst_structure_get_value(in.s(), field);
    if (!want)
      continue;
    const GValue *have = gst_structure_get_value(got.s(), field);
    ASSERT_TRUE(have) << field << " missing in " << got.str();
    EXPECT_EQ(gst_value_compare(want, have), GST_VALUE_EQUAL) << field << ": " << got.str();
  }
}

TEST_F(CodecCaps, AudioRoundTripsThroughHeaders) {
  Caps opus = make_caps("audio/x-opus, rate=48000, channels=2, channel-mapping-family=0");
  Caps flac(gst_caps_from_string("audio/x-flac, framed=true, rate=44100, channels=2"));
  {
    Bytes mapping = concat(hex("7f 464c4143 01 00 0001"), kFlacConfig);
    mapping[9 + 4] &= 0x7F; // flacparse leaves "last block" unset (a comment block follows)
    GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
    g_value_init(&array, GST_TYPE_ARRAY);
    g_value_init(&v, GST_TYPE_BUFFER);
    g_value_take_boxed(&v, gst_buffer_new_memdup(mapping.data(), mapping.size()));
    gst_value_array_append_and_take_value(&array, &v);
    gst_structure_take_value(gst_caps_get_structure(flac.p, 0), "streamheader", &array);
  }
  for (EnhancedMode mode : {EnhancedMode::automatic, EnhancedMode::always}) {
    for (std::uint8_t track : {0, 1}) {
      SCOPED_TRACE(testing::Message()
                   << "mode " << static_cast<int>(mode) << " track " << int(track));
      expect_audio_round_trip(make_caps("audio/mpeg, mpegversion=4, stream-format=raw, "
                                        "rate=48000, channels=1",
                                        "codec_data", kAscLc48Mono),
                              mode, track);
      // An MPEG-2 layer III frame header, 64 kbit/s, 22.05 kHz, stereo (ISO 13818-3): the
      // enhanced ".mp3" track has no rate flags, the receiver reads them from it.
      expect_audio_round_trip(make_caps("audio/mpeg, mpegversion=1, layer=3, rate=22050, "
                                        "channels=2"),
                              mode, track, hex("fff38000"));
      expect_audio_round_trip(opus, mode, track);
      expect_audio_round_trip(flac, mode, track);
      if (track == 0) {
        expect_audio_round_trip(make_caps("audio/x-raw, format=U8, layout=interleaved, "
                                          "rate=11025, channels=2"),
                                mode, track);
        expect_audio_round_trip(make_caps("audio/x-alaw, rate=8000, channels=1"), mode, track);
        expect_audio_round_trip(make_caps("audio/x-nellymoser, rate=16000, channels=1"), mode,
                                track);
        expect_audio_round_trip(make_caps("audio/x-speex, rate=16000, channels=1"), mode, track);
        expect_audio_round_trip(make_caps("audio/x-adpcm, layout=swf, rate=22050, channels=1"),
                                mode, track);
      }
    }
  }
}

// A temporal unit from GStreamer's av1enc (libaom) ! av1parse, 64x64 I420: temporal delimiter
// OBU (type 2, size 0), sequence header OBU (type 1, size 11), then a frame OBU cut to size 0.
// AV1 spec 5.3 (OBU syntax), 5.5 (sequence header).
const Bytes kAv1TemporalDelimiter = hex("12 00");
const Bytes kAv1SequenceHeaderObu = hex("0a 0b 00000002afff f07ffe6010");
const Bytes kAv1Frame = hex("32 00");

TEST_F(CodecCaps, Av1ConfigIsBuiltFromTheFirstTemporalUnit) {
  const Bytes tu = concat(concat(kAv1TemporalDelimiter, kAv1SequenceHeaderObu), kAv1Frame);
  // av1C (AV1-ISOBMFF 2.3.3): 0x81, profile 0 | level 0, tier 0 / 8-bit / 4:2:0 (subsampling
  // x and y set), no presentation delay, then the sequence header OBU as configOBUs.
  const Bytes expected = concat(hex("81 00 0c 00"), kAv1SequenceHeaderObu);
  auto config = av1_config_from_temporal_unit(tu, 8, "4:2:0");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config, expected);
  // 10-bit 4:4:4: high_bitdepth, no subsampling.
  auto hi = av1_config_from_temporal_unit(tu, 10, "4:4:4");
  ASSERT_TRUE(hi.ok());
  EXPECT_EQ((*hi)[2], 0x40);
  // No sequence header: nothing to build from.
  const Bytes no_sh = concat(kAv1TemporalDelimiter, kAv1Frame);
  EXPECT_EQ(av1_config_from_temporal_unit(no_sh).error(), make_error_code(Errc::invalid_argument));
  // Cut anywhere inside the sequence header OBU: an error, never a read past the end.
  const std::size_t sh_end = kAv1TemporalDelimiter.size() + kAv1SequenceHeaderObu.size();
  for (std::size_t n = 0; n <= tu.size(); ++n) {
    auto r = av1_config_from_temporal_unit(ByteView(tu.data(), n));
    EXPECT_EQ(r.ok(), n >= sh_end) << n;
  }
  // Forbidden bit set.
  EXPECT_EQ(av1_config_from_temporal_unit(hex("8a 00")).error(), make_error_code(Errc::malformed));

  // The sink: caps without codec_data, config taken from the first frame, sent as SequenceStart
  // "av01"; the source side then has caps with that av1C as codec_data.
  Caps caps = make_caps("video/x-av1, stream-format=obu-stream, alignment=tu, "
                        "chroma-format=4:2:0, bit-depth-luma=(uint)8");
  auto f = video_send_format(caps.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->sequence_start().empty());
  EXPECT_FALSE(f->take_config_from_frame(no_sh));
  ASSERT_TRUE(f->take_config_from_frame(tu));
  EXPECT_FALSE(f->take_config_from_frame(tu)); // once
  const Bytes seq = f->sequence_start();
  EXPECT_EQ(seq, concat(hex("90 61763031"), expected));
  auto tag = parse_video_tag(seq);
  ASSERT_TRUE(tag.ok());
  VideoTrackCaps track;
  EXPECT_TRUE(track.update(tag->tracks[0]));
  Caps out(track.caps());
  ASSERT_TRUE(out.p);
  EXPECT_EQ(buffer_field(out.s(), "codec_data"), expected);
}

TEST_F(CodecCaps, TemplateCapsAcceptWhatTheSourceProduces) {
  Caps vt(video_sink_template_caps());
  Caps at(audio_sink_template_caps());
  ASSERT_TRUE(vt.p && at.p);
  Caps h264(video_caps(VideoCodec::avc, kAvcC));
  Caps hevc(video_caps(VideoCodec::hevc, kHvcC));
  Caps av1(video_caps(VideoCodec::av1, kAv1C));
  for (const Caps *c : {&h264, &hevc, &av1})
    EXPECT_TRUE(gst_caps_can_intersect(c->p, vt.p)) << c->str();
  Caps aac(audio_caps(AudioCodec::aac, 0, 0, 0, kAscLc44Stereo));
  Caps opus(audio_caps(AudioCodec::opus, 0, 0, 0, kOpusHead));
  Caps flac(audio_caps(AudioCodec::flac, 0, 0, 0, kFlacConfig));
  Caps speex(audio_caps(AudioCodec::speex, 16000, 16, 1, {}));
  for (const Caps *c : {&aac, &opus, &flac, &speex})
    EXPECT_TRUE(gst_caps_can_intersect(c->p, at.p)) << c->str();
}

// ---------------------------------------------------------------------------------------------
// Against flvdemux, on FLV files made by ffmpeg

struct TempDir {
  std::string path;
  TempDir() {
    gchar *p = g_dir_make_tmp("rtmp-caps-XXXXXX", nullptr);
    path = p ? p : "";
    g_free(p);
  }
  ~TempDir() {
    if (!path.empty()) {
      const std::string cmd = "rm -rf '" + path + "'";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }
};

// Runs ffmpeg; false when it failed (typically: this build lacks the encoder).
bool make_flv(const std::string &out, const std::string &args) {
  const std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " -t 0.5 '" +
                          out + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Caps flvdemux sets on its "audio" and "video" pads for a file (no entry when no pad). Each pad
// gets a fakesink when it appears, so that EOS comes as soon as the file is read.
void link_fakesink(GstElement *demux, GstPad *pad, gpointer pipeline) {
  GstElement *sink = gst_element_factory_make("fakesink", GST_PAD_NAME(pad));
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad *sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sinkpad);
  gst_object_unref(sinkpad);
  (void)demux;
}

std::map<std::string, Caps> flvdemux_caps(const std::string &file) {
  std::map<std::string, Caps> out;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *src = gst_element_factory_make("filesrc", nullptr);
  GstElement *demux = gst_element_factory_make("flvdemux", nullptr);
  if (!src || !demux) {
    ADD_FAILURE() << "filesrc or flvdemux missing";
    return out;
  }
  g_object_set(src, "location", file.c_str(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline), src, demux, nullptr);
  gst_element_link(src, demux);
  g_signal_connect(demux, "pad-added", G_CALLBACK(link_fakesink), pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *m = gst_bus_timed_pop_filtered(
      bus, 10 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (m)
    gst_message_unref(m);
  for (const char *name : {"audio", "video"}) {
    if (GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), name)) {
      GstPad *pad = gst_element_get_static_pad(sink, "sink");
      if (GstCaps *c = gst_pad_get_current_caps(pad))
        out.emplace(name, Caps(c));
      gst_object_unref(pad);
      gst_object_unref(sink);
    }
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return out;
}

// Our caps for the same file: FLV tags through the core parsers and the track caps.
std::map<std::string, Caps> our_caps(const std::string &file, StreamMetadata *meta_out = nullptr) {
  std::ifstream in(file, std::ios::binary);
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  FlvReader reader;
  std::vector<FlvTag> tags;
  EXPECT_FALSE(reader.read(bytes, tags));
  VideoTrackCaps video;
  AudioTrackCaps audio;
  for (const auto &t : tags) {
    if (t.type == static_cast<std::uint8_t>(FlvTagType::script)) {
      Message msg;
      msg.type = static_cast<std::uint8_t>(MessageType::data_amf0);
      msg.payload = t.data;
      auto d = decode_data(msg);
      if (d.ok() && d->handler == "onMetaData" && !d->values.empty()) {
        StreamMetadata m = metadata_from_amf(d->values[0]);
        video.set_hints(m.video_hints);
        if (meta_out)
          *meta_out = std::move(m);
      }
    } else if (t.type == static_cast<std::uint8_t>(FlvTagType::video)) {
      auto v = parse_video_tag(t.data);
      EXPECT_TRUE(v.ok());
      if (v.ok())
        for (const auto &track : v->tracks)
          video.update(track);
    } else if (t.type == static_cast<std::uint8_t>(FlvTagType::audio)) {
      auto a = parse_audio_tag(t.data);
      EXPECT_TRUE(a.ok());
      if (a.ok())
        for (const auto &track : a->tracks)
          audio.update(*a, track);
    }
  }
  std::map<std::string, Caps> out;
  if (GstCaps *c = audio.caps())
    out.emplace("audio", Caps(c));
  if (GstCaps *c = video.caps())
    out.emplace("video", Caps(c));
  return out;
}

// Every field flvdemux sets is in ours with the same value; ours may add only `extra_ok`.
void expect_same_as_flvdemux(const Caps &theirs, const Caps &ours,
                             const std::set<std::string> &extra_ok) {
  const GstStructure *t = theirs.s();
  const GstStructure *o = ours.s();
  EXPECT_STREQ(gst_structure_get_name(o), gst_structure_get_name(t));
  for (int i = 0; i < gst_structure_n_fields(t); ++i) {
    const char *field = gst_structure_nth_field_name(t, static_cast<guint>(i));
    const GValue *tv = gst_structure_get_value(t, field);
    const GValue *ov = gst_structure_get_value(o, field);
    ASSERT_TRUE(ov) << "missing " << field << " in " << ours.str() << " (flvdemux " << theirs.str()
                    << ")";
    EXPECT_EQ(gst_value_compare(tv, ov), GST_VALUE_EQUAL)
        << field << ": ours " << ours.str() << " flvdemux " << theirs.str();
  }
  for (int i = 0; i < gst_structure_n_fields(o); ++i) {
    const char *field = gst_structure_nth_field_name(o, static_cast<guint>(i));
    if (!gst_structure_has_field(t, field)) {
      EXPECT_TRUE(extra_ok.count(field)) << "extra field " << field << " in " << ours.str();
    }
  }
}

struct FlvCase {
  const char *name;
  const char *ffmpeg_args;
};

TEST_F(CodecCaps, LegacyCodecsMatchFlvdemux) {
  if (std::system("ffmpeg -version >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string v = "-f lavfi -i testsrc=size=160x120:rate=25 ";
  const FlvCase cases[] = {
      {"h264_aac", "-f lavfi -i testsrc=size=160x120:rate=25 -f lavfi -i sine=r=44100 "
                   "-c:v libx264 -c:a aac"},
      {"aac_48k_mono", "-f lavfi -i sine=r=48000 -c:a aac"},
      {"mp3_44k_mono", "-f lavfi -i sine=r=44100 -c:a libmp3lame"},
      {"mp3_22k_stereo", "-f lavfi -i sine=r=22050 -ac 2 -c:a libmp3lame"},
      {"pcm_s16le", "-f lavfi -i sine=r=44100 -c:a pcm_s16le"},
      {"pcm_u8_stereo", "-f lavfi -i sine=r=11025 -ac 2 -c:a pcm_u8"},
      {"nellymoser_22k", "-f lavfi -i sine=r=22050 -c:a nellymoser"},
      {"nellymoser_8k", "-f lavfi -i sine=r=8000 -c:a nellymoser"},
      {"nellymoser_16k", "-f lavfi -i sine=r=16000 -c:a nellymoser"},
      {"adpcm_swf", "-f lavfi -i sine=r=22050 -c:a adpcm_swf"},
      {"alaw", "-f lavfi -i sine=r=8000 -c:a pcm_alaw"},
      {"mulaw", "-f lavfi -i sine=r=8000 -c:a pcm_mulaw"},
      {"speex", "-f lavfi -i sine=r=16000 -c:a libspeex"},
      {"flv1", "-f lavfi -i testsrc=size=160x120:rate=25 -c:v flv"},
      {"flashsv", "-f lavfi -i testsrc=size=160x120:rate=25 -c:v flashsv"},
      {"h264_30000_1001", "-f lavfi -i testsrc=size=176x144:rate=30000/1001 -c:v libx264"},
  };
  int compared = 0;
  for (const auto &c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = dir.path + "/" + c.name + ".flv";
    if (!make_flv(file, c.ffmpeg_args)) {
      std::fprintf(stderr, "[ SKIP     ] %s: this ffmpeg cannot encode it\n", c.name);
      continue;
    }
    auto theirs = flvdemux_caps(file);
    auto ours = our_caps(file);
    ASSERT_FALSE(theirs.empty()) << "flvdemux made no pad";
    for (const auto &[pad, caps] : theirs) {
      SCOPED_TRACE(pad);
      auto it = ours.find(pad);
      ASSERT_NE(it, ours.end()) << "we have no " << pad << " caps; flvdemux: " << caps.str();
      // H.264: alignment=au is ours on top of flvdemux's (RTMP carries whole access units).
      expect_same_as_flvdemux(caps, it->second, {"alignment"});
      ++compared;
    }
    EXPECT_EQ(ours.size(), theirs.size());
  }
  EXPECT_GE(compared, 10) << "too few codecs compared";
  (void)v;
}

// ---------------------------------------------------------------------------------------------
// onMetaData <-> tags

amf::Value ffmpeg_like_metadata() {
  // The fields FFmpeg's flv muxer writes (FLV spec E.5), plus OBS/Wirecast extras.
  return amf::make_ecma_array({
      {"duration", 12.5},
      {"width", 1280.0},
      {"height", 720.0},
      {"videodatarate", 2441.40625}, // 2500000 / 1024
      {"framerate", 29.97},
      {"videocodecid", 7.0},
      {"audiodatarate", 125.0},
      {"audiosamplerate", 48000.0},
      {"audiosamplesize", 16.0},
      {"stereo", true},
      {"audiocodecid", 10.0},
      {"title", "Test title"},
      {"artist", "Someone"},
      {"comment", "A comment"},
      {"encoder", "Lavf59.27.100"},
      {"creationdate", "Fri Oct 15 15:13:16 2004"},
      {"2.1 custom key", "kept"},
      {"nested", amf::make_object({{"a", 1.0}, {"b", "two"}})},
  });
}

TEST_F(CodecCaps, MetadataBecomesTagsHintsAndExtra) {
  StreamMetadata m = metadata_from_amf(ffmpeg_like_metadata());
  ASSERT_TRUE(m.global && m.video && m.audio);
  gchar *s = nullptr;
  ASSERT_TRUE(gst_tag_list_get_string(m.global, GST_TAG_TITLE, &s));
  EXPECT_STREQ(s, "Test title");
  g_free(s);
  ASSERT_TRUE(gst_tag_list_get_string(m.global, GST_TAG_ARTIST, &s));
  EXPECT_STREQ(s, "Someone");
  g_free(s);
  ASSERT_TRUE(gst_tag_list_get_string(m.global, GST_TAG_COMMENT, &s));
  EXPECT_STREQ(s, "A comment");
  g_free(s);
  ASSERT_TRUE(gst_tag_list_get_string(m.global, GST_TAG_ENCODER, &s));
  EXPECT_STREQ(s, "Lavf59.27.100");
  g_free(s);
  guint64 duration = 0;
  ASSERT_TRUE(gst_tag_list_get_uint64(m.global, GST_TAG_DURATION, &duration));
  EXPECT_EQ(duration, 12500 * GST_MSECOND);
  GstDateTime *dt = nullptr;
  ASSERT_TRUE(gst_tag_list_get_date_time(m.global, GST_TAG_DATE_TIME, &dt));
  EXPECT_EQ(gst_date_time_get_year(dt), 2004);
  EXPECT_EQ(gst_date_time_get_month(dt), 10);
  EXPECT_EQ(gst_date_time_get_hour(dt), 15);
  gst_date_time_unref(dt);
  guint bitrate = 0;
  ASSERT_TRUE(gst_tag_list_get_uint(m.video, GST_TAG_BITRATE, &bitrate));
  EXPECT_EQ(bitrate, 2500000u);
  ASSERT_TRUE(gst_tag_list_get_uint(m.audio, GST_TAG_NOMINAL_BITRATE, &bitrate));
  EXPECT_EQ(bitrate, 128000u);
  EXPECT_EQ(gst_tag_list_get_scope(m.video), GST_TAG_SCOPE_STREAM);
  EXPECT_EQ(gst_tag_list_get_scope(m.global), GST_TAG_SCOPE_GLOBAL);
  EXPECT_EQ(m.video_hints.width, 1280);
  EXPECT_EQ(m.video_hints.height, 720);
  EXPECT_DOUBLE_EQ(m.video_hints.framerate, 29.97);
  // Caps from the hints: 29.97 is guessed as 30000/1001 (as flvdemux).
  Caps caps(video_caps(VideoCodec::avc, kAvcC, m.video_hints));
  int n = 0, d = 0;
  ASSERT_TRUE(gst_structure_get_fraction(caps.s(), "framerate", &n, &d));
  EXPECT_EQ(n, 30000);
  EXPECT_EQ(d, 1001);
  // Unmapped fields in "rtmp-metadata", with sanitized names and nested objects.
  ASSERT_TRUE(m.extra);
  EXPECT_TRUE(gst_structure_has_name(m.extra, kRtmpMetadataStructureName));
  EXPECT_STREQ(gst_structure_get_string(m.extra, "f2.1_custom_key"), "kept");
  double codecid = 0;
  EXPECT_TRUE(gst_structure_get_double(m.extra, "videocodecid", &codecid));
  EXPECT_EQ(codecid, 7.0);
  gboolean stereo = FALSE;
  EXPECT_TRUE(gst_structure_get_boolean(m.extra, "stereo", &stereo));
  EXPECT_TRUE(stereo);
  const GValue *nested = gst_structure_get_value(m.extra, "nested");
  ASSERT_TRUE(nested && GST_VALUE_HOLDS_STRUCTURE(nested));
  EXPECT_STREQ(gst_structure_get_string(gst_value_get_structure(nested), "b"), "two");
  EXPECT_FALSE(gst_structure_has_field(m.extra, "title")); // mapped fields are not repeated
  GstMessage *msg = metadata_message(nullptr, m);
  ASSERT_TRUE(msg);
  EXPECT_EQ(GST_MESSAGE_TYPE(msg), GST_MESSAGE_ELEMENT);
  gst_message_unref(msg);
}

TEST_F(CodecCaps, HostileMetadataIsBounded) {
  amf::Properties many;
  for (int i = 0; i < 10000; ++i)
    many.emplace_back("k" + std::to_string(i), static_cast<double>(i));
  StreamMetadata m = metadata_from_amf(amf::make_ecma_array(std::move(many)));
  ASSERT_TRUE(m.extra);
  EXPECT_LE(static_cast<std::size_t>(gst_structure_n_fields(m.extra)), kMaxMetadataFields);
  // Deep nesting stops at kMaxMetadataDepth.
  amf::Value deep = amf::make_object({{"leaf", 1.0}});
  for (int i = 0; i < 50; ++i)
    deep = amf::make_object({{"x", deep}});
  StreamMetadata dm = metadata_from_amf(amf::make_ecma_array({{"deep", deep}}));
  ASSERT_TRUE(dm.extra);
  gchar *text = gst_structure_to_string(dm.extra);
  EXPECT_EQ(std::string(text).find("leaf"), std::string::npos);
  g_free(text);
  // Invalid UTF-8, oversized strings, NaN and absurd numbers are dropped, not mapped.
  const std::string bad_utf8 = "\xff\xfe title";
  StreamMetadata bm = metadata_from_amf(amf::make_ecma_array({
      {"title", bad_utf8},
      {"artist", std::string(kMaxMetadataStringBytes + 1, 'a')},
      {"duration", std::nan("")},
      {"videodatarate", 1e300},
      {"width", -3.0},
      {"framerate", 1e9},
  }));
  EXPECT_TRUE(gst_tag_list_is_empty(bm.global));
  EXPECT_TRUE(gst_tag_list_is_empty(bm.video));
  EXPECT_EQ(bm.video_hints, VideoHints{});
  // Not an object: nothing at all.
  StreamMetadata none = metadata_from_amf(amf::Value("onMetaData"));
  EXPECT_EQ(none.global, nullptr);
  EXPECT_EQ(none.extra, nullptr);
}

TEST_F(CodecCaps, CreationDateForms) {
  GstDateTime *a = parse_creation_date("Mon Jan  2 03:04:05 2023");
  ASSERT_TRUE(a);
  EXPECT_EQ(gst_date_time_get_day(a), 2);
  EXPECT_EQ(gst_date_time_get_second(a), 5);
  gst_date_time_unref(a);
  GstDateTime *b = parse_creation_date("2023-01-02T03:04:05Z");
  ASSERT_TRUE(b);
  EXPECT_EQ(gst_date_time_get_year(b), 2023);
  gst_date_time_unref(b);
  EXPECT_EQ(parse_creation_date("Fri Foo 15 15:13:16 2004"), nullptr);
  EXPECT_EQ(parse_creation_date("Fri Oct 45 15:13:16 2004"), nullptr);
  EXPECT_EQ(parse_creation_date("yesterday"), nullptr);
  EXPECT_EQ(parse_creation_date(nullptr), nullptr);
}

TEST_F(CodecCaps, TagsRoundTripThroughOnMetaData) {
  GstTagList *tags = gst_tag_list_new(GST_TAG_TITLE, "Round trip", GST_TAG_ARTIST, "Artist",
                                      GST_TAG_COMMENT, "Comment", GST_TAG_ENCODER, "gst-rtmp",
                                      GST_TAG_COPYRIGHT, "(c) us", nullptr);
  GstDateTime *when = gst_date_time_new(0.0, 2024, 2, 29, 12, 30, 15);
  gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DATE_TIME, when, nullptr);
  GstTagList *vtags = gst_tag_list_new(GST_TAG_BITRATE, 2500000u, nullptr);
  GstTagList *atags = gst_tag_list_new(GST_TAG_NOMINAL_BITRATE, 128000u, nullptr);
  Caps vcaps = make_caps("video/x-h265, stream-format=hvc1, alignment=au, width=1920, "
                         "height=1080, framerate=30000/1001",
                         "codec_data", kHvcC);
  Caps acaps = make_caps("audio/mpeg, mpegversion=4, stream-format=raw, rate=48000, channels=2",
                         "codec_data", kAscLc44Stereo);
  auto vf = video_send_format(vcaps.p, EnhancedMode::automatic, 0);
  auto af = audio_send_format(acaps.p, EnhancedMode::automatic, 0);
  ASSERT_TRUE(vf.ok() && af.ok());
  MetadataSource src;
  src.tags = tags;
  src.video_tags = vtags;
  src.audio_tags = atags;
  src.video = &*vf;
  src.audio = &*af;
  const amf::Value meta = metadata_to_amf(src);
  ASSERT_TRUE(meta.is<amf::EcmaArray>());
  // Fields and their order as FFmpeg writes them, and the E-RTMP FourCC codec id for HEVC.
  const auto &props = *meta.properties();
  std::vector<std::string> keys;
  for (const auto &[k, v] : props)
    keys.push_back(k);
  const std::vector<std::string> expected_keys = {
      "duration",     "width",         "height",          "videodatarate",   "framerate",
      "videocodecid", "audiodatarate", "audiosamplerate", "audiosamplesize", "stereo",
      "audiocodecid", "title",         "artist",          "comment",         "copyright",
      "encoder",      "creationdate"};
  EXPECT_EQ(keys, expected_keys);
  EXPECT_EQ(meta.number_at("videocodecid"), static_cast<double>(fourcc("hvc1")));
  EXPECT_EQ(meta.number_at("audiocodecid"), 10.0);
  EXPECT_EQ(meta.string_at("creationdate"), "Thu Feb 29 12:30:15 2024");
  // And back.
  StreamMetadata m = metadata_from_amf(meta);
  for (const char *tag :
       {GST_TAG_TITLE, GST_TAG_ARTIST, GST_TAG_COMMENT, GST_TAG_ENCODER, GST_TAG_COPYRIGHT}) {
    gchar *a = nullptr, *b = nullptr;
    ASSERT_TRUE(gst_tag_list_get_string(tags, tag, &a));
    ASSERT_TRUE(gst_tag_list_get_string(m.global, tag, &b)) << tag;
    EXPECT_STREQ(a, b);
    g_free(a);
    g_free(b);
  }
  GstDateTime *back = nullptr;
  ASSERT_TRUE(gst_tag_list_get_date_time(m.global, GST_TAG_DATE_TIME, &back));
  EXPECT_EQ(gst_date_time_get_day(back), 29);
  EXPECT_EQ(gst_date_time_get_minute(back), 30);
  gst_date_time_unref(back);
  guint bps = 0;
  ASSERT_TRUE(gst_tag_list_get_uint(m.video, GST_TAG_BITRATE, &bps));
  EXPECT_EQ(bps, 2500000u);
  ASSERT_TRUE(gst_tag_list_get_uint(m.audio, GST_TAG_BITRATE, &bps));
  EXPECT_EQ(bps, 128000u);
  EXPECT_EQ(m.video_hints.width, 1920);
  EXPECT_NEAR(m.video_hints.framerate, 29.97, 0.001);
  gst_date_time_unref(when);
  gst_tag_list_unref(tags);
  gst_tag_list_unref(vtags);
  gst_tag_list_unref(atags);
}

TEST_F(CodecCaps, MetadataTagsMatchFlvdemux) {
  if (std::system("ffmpeg -version >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "ffmpeg not installed";
  TempDir dir;
  const std::string file = dir.path + "/meta.flv";
  ASSERT_TRUE(make_flv(file, "-f lavfi -i testsrc=size=160x120:rate=25 -c:v flv "
                             "-metadata title=Hello -metadata encoder=MyEncoder"));
  StreamMetadata ours;
  our_caps(file, &ours);
  ASSERT_TRUE(ours.global);
  // flvdemux posts a global tag list with the same title and encoder.
  const std::string desc = "filesrc location=\"" + file + "\" ! flvdemux ! fakesink";
  GstElement *pipeline = gst_parse_launch(desc.c_str(), nullptr);
  ASSERT_TRUE(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::string title, encoder;
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered(
        bus, 10 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_TAG));
    if (!m)
      break;
    const bool done = GST_MESSAGE_TYPE(m) != GST_MESSAGE_TAG;
    if (!done) {
      GstTagList *t = nullptr;
      gst_message_parse_tag(m, &t);
      gchar *s = nullptr;
      if (gst_tag_list_get_string(t, GST_TAG_TITLE, &s)) {
        title = s;
        g_free(s);
      }
      if (gst_tag_list_get_string(t, GST_TAG_ENCODER, &s)) {
        encoder = s;
        g_free(s);
      }
      gst_tag_list_unref(t);
    }
    gst_message_unref(m);
    if (done)
      break;
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  EXPECT_EQ(title, "Hello");
  gchar *s = nullptr;
  ASSERT_TRUE(gst_tag_list_get_string(ours.global, GST_TAG_TITLE, &s));
  EXPECT_EQ(title, s);
  g_free(s);
  ASSERT_TRUE(gst_tag_list_get_string(ours.global, GST_TAG_ENCODER, &s));
  EXPECT_EQ(encoder, s);
  g_free(s);
}

// ---------------------------------------------------------------------------------------------
// Real encoders -> sink headers -> source caps -> real decoders: the caps we produce are the ones
// GStreamer's parsers and decoders take, and every frame decodes.

struct Encoded {
  Caps caps;
  std::vector<GstBuffer *> buffers;
  ~Encoded() {
    for (GstBuffer *b : buffers)
      gst_buffer_unref(b);
  }
};

// Runs "<desc> ! appsink name=out" to EOS; false when an element is missing.
bool encode(const std::string &desc, Encoded &out) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch((desc + " ! appsink name=out sync=false").c_str(), &err);
  if (!p) {
    g_clear_error(&err);
    return false;
  }
  g_clear_error(&err);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
  gst_element_set_state(p, GST_STATE_PLAYING);
  while (GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND)) {
    if (!out.caps.p)
      out.caps = Caps(gst_caps_ref(gst_sample_get_caps(sample)));
    out.buffers.push_back(gst_buffer_ref(gst_sample_get_buffer(sample)));
    gst_sample_unref(sample);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(p);
  return out.caps.p != nullptr;
}

Bytes bytes_of(GstBuffer *b) {
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  Bytes out(map.data, map.data + map.size);
  gst_buffer_unmap(b, &map);
  return out;
}

// Pushes `buffers` with `caps` into "appsrc ! <decode>" and returns how many buffers came out
// (-1 on a pipeline error).
int decode(const Caps &caps, const std::vector<GstBuffer *> &buffers, const std::string &decode) {
  GstElement *p = gst_parse_launch(("appsrc name=in format=time ! " + decode +
                                    " ! fakesink name=sink signal-handoffs=true sync=false")
                                       .c_str(),
                                   nullptr);
  if (!p)
    return -1;
  GstElement *src = gst_bin_get_by_name(GST_BIN(p), "in");
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
  int count = 0;
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, gpointer n) {
                     ++*static_cast<int *>(n);
                   }),
                   &count);
  gst_app_src_set_caps(GST_APP_SRC(src), caps.p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  for (GstBuffer *b : buffers)
    gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_ref(b));
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *m = gst_bus_timed_pop_filtered(
      bus, 20 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  int result = -1;
  if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS)
    result = count;
  if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
    GError *e = nullptr;
    gst_message_parse_error(m, &e, nullptr);
    ADD_FAILURE() << "decoder error: " << e->message << " with caps " << caps.str();
    g_error_free(e);
  }
  if (m)
    gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  gst_object_unref(p);
  return result;
}

struct Received {
  std::vector<Caps> caps_changes;
  std::vector<GstBuffer *> buffers;
  ~Received() {
    for (GstBuffer *b : buffers)
      gst_buffer_unref(b);
  }
};

// The sink side for `in` (messages as rtmpsink would send them), then the source side.
void send_and_receive(const Encoded &in, bool video, EnhancedMode mode, std::uint8_t track,
                      Received &out) {
  std::vector<std::pair<Bytes, GstClockTime>> messages; // payload, DTS
  if (video) {
    auto f = video_send_format(in.caps.p, mode, track);
    ASSERT_TRUE(f.ok()) << in.caps.str();
    if (!f->sequence_start().empty())
      messages.emplace_back(f->sequence_start(), 0);
    for (GstBuffer *b : in.buffers) {
      const Bytes data = bytes_of(b);
      if (f->take_config_from_frame(data))
        messages.emplace_back(f->sequence_start(), 0);
      const GstClockTime dts = GST_BUFFER_DTS_OR_PTS(b);
      const auto cts =
          GST_BUFFER_PTS_IS_VALID(b) && GST_BUFFER_DTS_IS_VALID(b)
              ? static_cast<std::int32_t>((GST_BUFFER_PTS(b) - GST_BUFFER_DTS(b)) / GST_MSECOND)
              : 0;
      messages.emplace_back(
          concat(f->frame_header(!GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT), cts),
                 data),
          dts);
    }
  } else {
    auto f = audio_send_format(in.caps.p, mode, track);
    ASSERT_TRUE(f.ok()) << in.caps.str();
    if (!f->sequence_start().empty())
      messages.emplace_back(f->sequence_start(), 0);
    for (GstBuffer *b : in.buffers)
      messages.emplace_back(concat(f->frame_header(), bytes_of(b)), GST_BUFFER_PTS(b));
  }
  VideoTrackCaps vcaps;
  AudioTrackCaps acaps;
  for (const auto &[payload, dts] : messages) {
    const std::uint32_t ms = GST_CLOCK_TIME_IS_VALID(dts) ? dts / GST_MSECOND : 0;
    if (video) {
      auto tag = parse_video_tag(payload);
      ASSERT_TRUE(tag.ok());
      ASSERT_EQ(tag->tracks.size(), 1u);
      const VideoTrackPacket &t = tag->tracks[0];
      EXPECT_EQ(t.track_id, track);
      if (vcaps.update(t))
        out.caps_changes.emplace_back(vcaps.caps());
      if (t.kind != VideoPacketKind::coded_frames || out.caps_changes.empty())
        continue;
      const ByteView data = video_frame_data(t);
      GstBuffer *b = gst_buffer_new_memdup(data.data(), data.size());
      GST_BUFFER_DTS(b) = ms * GST_MSECOND;
      GST_BUFFER_PTS(b) = (ms + t.composition_time_ms) * GST_MSECOND;
      if (tag->frame_type != FrameType::keyframe)
        GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
      out.buffers.push_back(b);
    } else {
      auto tag = parse_audio_tag(payload);
      ASSERT_TRUE(tag.ok());
      ASSERT_EQ(tag->tracks.size(), 1u);
      const AudioTrackPacket &t = tag->tracks[0];
      if (acaps.update(*tag, t))
        out.caps_changes.emplace_back(acaps.caps());
      if (t.kind != AudioPacketKind::coded_frames || out.caps_changes.empty())
        continue;
      GstBuffer *b = gst_buffer_new_memdup(t.payload.data(), t.payload.size());
      GST_BUFFER_PTS(b) = GST_BUFFER_DTS(b) = ms * GST_MSECOND;
      out.buffers.push_back(b);
    }
  }
}

struct CodecCase {
  const char *name;
  bool video;
  const char *encode;
  const char *decode;
  bool exact_count; // every buffer in gives one decoded buffer out
};

TEST_F(CodecCaps, RealEncodersThroughHeadersDecode) {
  const CodecCase cases[] = {
      {"h264", true,
       "videotestsrc num-buffers=12 ! video/x-raw,width=64,height=48,framerate=25/1 ! "
       "x264enc bframes=2 key-int-max=6 ! h264parse ! "
       "video/x-h264,stream-format=avc,alignment=au",
       "h264parse ! avdec_h264", true},
      {"hevc", true,
       "videotestsrc num-buffers=12 ! video/x-raw,width=64,height=48,framerate=25/1 ! x265enc ! "
       "h265parse ! video/x-h265,stream-format=hvc1,alignment=au",
       "h265parse ! avdec_h265", true},
      {"av1", true,
       "videotestsrc num-buffers=6 ! video/x-raw,width=64,height=48,framerate=25/1,format=I420 ! "
       "av1enc cpu-used=8 ! av1parse ! video/x-av1,stream-format=obu-stream,alignment=tu",
       "av1parse ! av1dec", false},
      {"vp9", true,
       "videotestsrc num-buffers=12 ! video/x-raw,width=64,height=48,framerate=25/1 ! vp9enc "
       "deadline=1",
       "vp9dec", true},
      {"vp8", true,
       "videotestsrc num-buffers=12 ! video/x-raw,width=64,height=48,framerate=25/1 ! vp8enc "
       "deadline=1",
       "vp8dec", true},
      {"aac", false, "audiotestsrc num-buffers=20 ! avenc_aac ! aacparse", "aacparse ! avdec_aac",
       false},
      {"mp3_48k", false,
       "audiotestsrc num-buffers=20 ! audio/x-raw,rate=48000 ! lamemp3enc ! mpegaudioparse",
       "mpegaudioparse ! mpg123audiodec", false},
      {"opus", false, "audiotestsrc num-buffers=20 ! opusenc", "opusparse ! opusdec", false},
      {"flac", false, "audiotestsrc num-buffers=20 ! flacenc ! flacparse", "flacparse ! flacdec",
       false},
      {"ac3", false, "audiotestsrc num-buffers=20 ! avenc_ac3 ! ac3parse", "ac3parse ! a52dec",
       false},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.name);
    Encoded enc;
    if (!encode(c.encode, enc)) {
      std::fprintf(stderr, "[ SKIP     ] %s: encoder missing\n", c.name);
      continue;
    }
    ASSERT_FALSE(enc.buffers.empty());
    for (EnhancedMode mode : {EnhancedMode::automatic, EnhancedMode::always}) {
      for (std::uint8_t track : {0, 1}) {
        SCOPED_TRACE(testing::Message()
                     << "mode " << static_cast<int>(mode) << " track " << int(track));
        Received rx;
        send_and_receive(enc, c.video, mode, track, rx);
        ASSERT_EQ(rx.caps_changes.size(), 1u) << "caps must be set once and stay";
        ASSERT_EQ(rx.buffers.size(), enc.buffers.size()) << "frames lost on the way";
        for (std::size_t i = 0; i < rx.buffers.size(); ++i) {
          ASSERT_EQ(bytes_of(rx.buffers[i]), bytes_of(enc.buffers[i])) << "frame " << i;
          if (c.video) {
            EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(rx.buffers[i], GST_BUFFER_FLAG_DELTA_UNIT),
                      GST_BUFFER_FLAG_IS_SET(enc.buffers[i], GST_BUFFER_FLAG_DELTA_UNIT));
          }
        }
        const int decoded = decode(rx.caps_changes[0], rx.buffers, c.decode);
        if (c.exact_count) {
          EXPECT_EQ(decoded, static_cast<int>(enc.buffers.size())) << rx.caps_changes[0].str();
        } else {
          EXPECT_GT(decoded, 0) << rx.caps_changes[0].str();
        }
      }
    }
  }
}

} // namespace
