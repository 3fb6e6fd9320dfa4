// Audio/video message payloads: legacy FLV tag headers (FLV spec 10.1, E.4.2.1 AUDIODATA,
// E.4.3.1 VIDEODATA) and Enhanced RTMP v2 (veovera enhanced-rtmp-v2: "Enhanced Audio",
// "Enhanced Video", "Metadata Frame", "Multitrack Streaming", "Enhancing NetConnection connect
// Command").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>

#include "core/enhanced.hpp"

#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::hex;

namespace {

// Parse results point into their input: keep table bytes alive for the whole test run.
ByteView held(std::string_view s) {
  static std::deque<Bytes> storage;
  storage.push_back(hex(s));
  return storage.back();
}

Bytes view_bytes(ByteView v) {
  return Bytes(v.begin(), v.end());
}

// `parse` then `write` gives back the same bytes.
template <typename Parse, typename Write>
void expect_round_trip(ByteView bytes, Parse parse, Write write) {
  auto info = parse(bytes);
  ASSERT_TRUE(info) << info.error().message();
  auto written = write(*info);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(*written, view_bytes(bytes));
}

// Every cut of `c.bytes` from `first_cut` bytes on: inside the headers it is truncated (only a cut
// exactly between size-prefixed tracks leaves a valid message with fewer tracks); inside the last
// track's payload, that payload just gets shorter. Each prefix is an exact-size copy, so ASan
// sees any overread.
template <typename Case, typename Parse>
void expect_every_cut(const Case &c, Parse parse, std::size_t first_cut = 0) {
  SCOPED_TRACE(c.name);
  const Bytes full = hex(c.bytes);
  const auto full_info = parse(full);
  ASSERT_TRUE(full_info);
  for (std::size_t n = first_cut; n < full.size(); ++n) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    auto info = parse(prefix);
    if (n < c.header_len) {
      if (info)
        EXPECT_LT(info->tracks.size(), full_info->tracks.size()) << n;
      else
        EXPECT_EQ(info.error(), make_error_code(Errc::truncated)) << n;
    } else {
      ASSERT_TRUE(info) << n << ": " << info.error().message();
      EXPECT_EQ(info->tracks.back().payload.size(), n - c.header_len) << n;
    }
  }
}

} // namespace

// ---------------------------------------------------------------------------------------------
TEST(FourCc, PacksBigEndianAscii) {
  EXPECT_EQ(fourcc("hvc1"), 0x68766331u);
  EXPECT_EQ(fourcc("av01"), 0x61763031u);
  EXPECT_EQ(fourcc(".mp3"), 0x2E6D7033u);
  EXPECT_EQ(fourcc_to_string(0x4F707573), "Opus");
  EXPECT_EQ(fourcc_to_string(0x00414243), "?ABC");
  for (VideoCodec c :
       {VideoCodec::avc, VideoCodec::hevc, VideoCodec::av1, VideoCodec::vp9, VideoCodec::vp8})
    EXPECT_EQ(video_codec_from_fourcc(video_codec_fourcc(c)), c);
  for (AudioCodec c : {AudioCodec::aac, AudioCodec::mp3, AudioCodec::opus, AudioCodec::flac,
                       AudioCodec::ac3, AudioCodec::eac3})
    EXPECT_EQ(audio_codec_from_fourcc(audio_codec_fourcc(c)), c);
  EXPECT_EQ(video_codec_from_fourcc(fourcc("vvc1")), VideoCodec::unknown);
  EXPECT_EQ(audio_codec_fourcc(AudioCodec::speex), 0u);
}

// ---------------------------------------------------------------------------------------------
// Legacy video (FLV spec E.4.3.1)

TEST(LegacyVideo, AvcSequenceHeaderFramesAndEndOfSequence) {
  // FrameType 1 | CodecID 7, AVCPacketType 0, CompositionTime 0, AVCDecoderConfigurationRecord
  auto seq = parse_video_tag(held("17 00 000000 01 64 00 1e ff"));
  ASSERT_TRUE(seq);
  EXPECT_FALSE(seq->enhanced);
  EXPECT_EQ(seq->frame_type, FrameType::keyframe);
  ASSERT_EQ(seq->tracks.size(), 1u);
  EXPECT_EQ(seq->tracks[0].codec, VideoCodec::avc);
  EXPECT_EQ(seq->tracks[0].kind, VideoPacketKind::sequence_start);
  EXPECT_EQ(seq->tracks[0].fourcc, 0u);
  EXPECT_EQ(view_bytes(seq->tracks[0].payload), hex("01 64 00 1e ff"));

  // FrameType 2 (inter), AVCPacketType 1 (NALU), CompositionTime SI24 = 80
  auto inter = parse_video_tag(held("27 01 000050 00000002 0941"));
  ASSERT_TRUE(inter);
  EXPECT_EQ(inter->frame_type, FrameType::inter);
  EXPECT_EQ(inter->tracks[0].kind, VideoPacketKind::coded_frames);
  EXPECT_EQ(inter->tracks[0].composition_time_ms, 80);
  EXPECT_EQ(view_bytes(inter->tracks[0].payload), hex("00000002 0941"));

  // Negative composition time (SI24 0xFFFFF6 = -10)
  auto negative = parse_video_tag(held("27 01 fffff6 00"));
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->tracks[0].composition_time_ms, -10);

  // AVCPacketType 2: end of sequence
  auto eos = parse_video_tag(held("17 02 000000"));
  ASSERT_TRUE(eos);
  EXPECT_EQ(eos->tracks[0].kind, VideoPacketKind::sequence_end);
  EXPECT_TRUE(eos->tracks[0].payload.empty());
}

TEST(LegacyVideo, EveryCodecId) {
  struct Case {
    std::uint8_t id;
    VideoCodec codec;
  };
  const Case cases[] = {
      {0, VideoCodec::unknown},   {1, VideoCodec::unknown},  {2, VideoCodec::sorenson_h263},
      {3, VideoCodec::screen},    {4, VideoCodec::vp6},      {5, VideoCodec::vp6_alpha},
      {6, VideoCodec::screen_v2}, {7, VideoCodec::avc},      {8, VideoCodec::unknown},
      {9, VideoCodec::unknown},   {10, VideoCodec::unknown}, {11, VideoCodec::unknown},
      {12, VideoCodec::hevc},     {13, VideoCodec::unknown}, {14, VideoCodec::unknown},
      {15, VideoCodec::unknown}};
  for (const auto &c : cases) {
    SCOPED_TRACE(int(c.id));
    // FrameType 2 (inter) | CodecID, then 4 bytes (an AVC/HEVC header + 0 bytes, or data).
    Bytes tag = {static_cast<std::uint8_t>(0x20 | c.id), 0x01, 0x00, 0x00, 0x05};
    auto info = parse_video_tag(tag);
    ASSERT_TRUE(info) << info.error().message();
    ASSERT_EQ(info->tracks.size(), 1u);
    EXPECT_EQ(info->tracks[0].codec, c.codec);
    if (c.id == 7 || c.id == 12) {
      EXPECT_EQ(info->tracks[0].kind, VideoPacketKind::coded_frames);
      EXPECT_EQ(info->tracks[0].composition_time_ms, 5);
      EXPECT_TRUE(info->tracks[0].payload.empty());
    } else {
      // The whole VideoData field, e.g. VP6's adjustment byte included.
      EXPECT_EQ(info->tracks[0].kind, c.codec == VideoCodec::unknown
                                          ? VideoPacketKind::other
                                          : VideoPacketKind::coded_frames);
      EXPECT_EQ(info->tracks[0].payload.size(), 4u);
    }
  }
}

TEST(LegacyVideo, EveryFrameType) {
  for (int ft = 0; ft < 8; ++ft) {
    SCOPED_TRACE(ft);
    Bytes tag = {static_cast<std::uint8_t>(ft << 4 | 2), 0x00};
    auto info = parse_video_tag(tag);
    if (ft == 0 || ft > 5) {
      EXPECT_EQ(info.error(), make_error_code(Errc::malformed));
      continue;
    }
    ASSERT_TRUE(info);
    EXPECT_EQ(static_cast<int>(info->frame_type), ft);
    EXPECT_EQ(info->is_command_frame, ft == 5);
  }
}

TEST(LegacyVideo, CommandFrame) {
  // FrameType 5 "video info/command frame": a UI8 instead of video data (1 = end of seek).
  auto info = parse_video_tag(held("57 01"));
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->is_command_frame);
  EXPECT_EQ(info->command, 1);
  EXPECT_TRUE(info->tracks.empty());
  EXPECT_EQ(parse_video_tag(held("57")).error(), make_error_code(Errc::truncated));
}

TEST(LegacyVideo, Errors) {
  EXPECT_EQ(parse_video_tag({}).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(parse_video_tag(held("17 03 000000")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(parse_video_tag(held("17 01 0000")).error(), make_error_code(Errc::truncated));
}

// ---------------------------------------------------------------------------------------------
// Enhanced video (E-RTMP v2 ExVideoTagHeader / ExVideoTagBody)

namespace {

struct VideoCase {
  const char *name;
  const char *bytes;
  std::size_t header_len; // bytes before the (last) payload
};

// Every valid ExVideoTagHeader shape; reused by the round-trip and truncation tests.
const VideoCase kEnhancedVideo[] = {
    // isExVideoHeader 1 | KeyFrame 1 | SequenceStart 0, FourCC "hvc1", HEVCDecoderConfigRecord
    {"hvc1 SequenceStart", "90 68766331 01 01 60 00", 5},
    // InterFrame 2 | CodedFrames 1, "hvc1", compositionTimeOffset SI24 = 33, NALUs
    {"hvc1 CodedFrames with composition time", "a1 68766331 000021 00000003 020101", 8},
    // KeyFrame | CodedFramesX 3: composition time implied 0, no SI24
    {"hvc1 CodedFramesX", "93 68766331 00000003 260101", 5},
    {"avc1 CodedFrames negative composition time", "a1 61766331 ffffd8 00000001 41", 8},
    {"avc1 SequenceEnd", "92 61766331", 5},
    // AV1CodecConfigurationRecord, then OBUs (no composition time for av01)
    {"av01 SequenceStart", "90 61763031 81 00 0c 00", 5},
    {"av01 CodedFrames", "a1 61763031 12 00 0a 0b", 5},
    {"av01 MPEG2TSSequenceStart", "95 61763031 80 04 01 02", 5},
    // VPCodecConfigurationRecord
    {"vp09 SequenceStart", "90 76703039 01 00 00 00 0a 1f 00 00", 5},
    {"vp09 CodedFrames", "a1 76703039 82 49 83 42", 5},
    {"vp08 CodedFrames", "b1 76703038 9d 01 2a", 5},
    // ModEx (7): modExDataSize-1 = 2, TimestampOffsetNano UI24 = 999999 (0x0F423F), then
    // ModExType 0 | VideoPacketType CodedFrames 1, FourCC, SI24 composition time 0.
    {"ModEx nanosecond offset", "97 02 0f423f 01 68766331 000000 aabb", 13},
    // Metadata 4: AMF0 "colorInfo" + empty object. FrameType bits are ignored (here 1).
    {"Metadata", "94 68766331 02 0009 636f6c6f72496e666f 03 000009", 5},
    // Multitrack 6 | OneTrack 0 + CodedFrames 1, FourCC, trackId 0, SI24 10, data (no size).
    {"Multitrack OneTrack", "96 01 61766331 00 00000a cafe", 10},
    // ManyTracks 1 + CodedFramesX 3, shared FourCC; per track: trackId, UI24 size, body.
    {"Multitrack ManyTracks", "96 13 68766331 00 000003 aabbcc 01 000002 ddee", 19},
    // ManyTracksManyCodecs 2 + SequenceStart 0; per track: FourCC, trackId, size, body.
    {"Multitrack ManyTracksManyCodecs", "96 20 61766331 00 000002 0164 68766331 01 000001 01", 21},
    // ModEx then Multitrack (ModEx precedes everything else).
    {"ModEx + Multitrack", "97 02 000064 06 13 68766331 05 000001 ff", 16},
    // Command frame: FrameType 5, no FourCC, VideoCommand UI8 = 0 (start seek).
    {"Command", "d1 00", 2},
};

} // namespace

TEST(EnhancedVideo, HevcSequenceStartAndFrames) {
  auto seq = parse_video_tag(held("90 68766331 01 01 60 00"));
  ASSERT_TRUE(seq);
  EXPECT_TRUE(seq->enhanced);
  EXPECT_FALSE(seq->multitrack);
  EXPECT_EQ(seq->frame_type, FrameType::keyframe);
  ASSERT_EQ(seq->tracks.size(), 1u);
  EXPECT_EQ(seq->tracks[0].codec, VideoCodec::hevc);
  EXPECT_EQ(seq->tracks[0].fourcc, fourcc("hvc1"));
  EXPECT_EQ(seq->tracks[0].kind, VideoPacketKind::sequence_start);
  EXPECT_EQ(view_bytes(seq->tracks[0].payload), hex("01 01 60 00"));

  auto cf = parse_video_tag(held("a1 68766331 000021 00000003 020101"));
  ASSERT_TRUE(cf);
  EXPECT_EQ(cf->frame_type, FrameType::inter);
  EXPECT_EQ(cf->tracks[0].kind, VideoPacketKind::coded_frames);
  EXPECT_EQ(cf->tracks[0].composition_time_ms, 33);
  EXPECT_EQ(view_bytes(cf->tracks[0].payload), hex("00000003 020101"));

  auto x = parse_video_tag(held("93 68766331 00000003 260101"));
  ASSERT_TRUE(x);
  EXPECT_EQ(x->tracks[0].kind, VideoPacketKind::coded_frames);
  EXPECT_EQ(x->tracks[0].packet_type, 3);
  EXPECT_EQ(x->tracks[0].composition_time_ms, 0);
  EXPECT_EQ(view_bytes(x->tracks[0].payload), hex("00000003 260101"));
}

TEST(EnhancedVideo, Av1AndVp9CarryNoCompositionTime) {
  auto av1 = parse_video_tag(held("a1 61763031 12 00 0a 0b"));
  ASSERT_TRUE(av1);
  EXPECT_EQ(av1->tracks[0].codec, VideoCodec::av1);
  EXPECT_EQ(av1->tracks[0].composition_time_ms, 0);
  EXPECT_EQ(view_bytes(av1->tracks[0].payload), hex("12 00 0a 0b"));
  auto vp9 = parse_video_tag(held("90 76703039 01 00 00 00 0a 1f 00 00"));
  ASSERT_TRUE(vp9);
  EXPECT_EQ(vp9->tracks[0].codec, VideoCodec::vp9);
  EXPECT_EQ(vp9->tracks[0].kind, VideoPacketKind::sequence_start);
  auto ts = parse_video_tag(held("95 61763031 80 04 01 02"));
  ASSERT_TRUE(ts);
  EXPECT_EQ(ts->tracks[0].kind, VideoPacketKind::mpeg2ts_sequence_start);
  // An unknown FourCC is passed through: no composition time, raw body.
  auto vvc = parse_video_tag(held("a1 76766331 000021 00"));
  ASSERT_TRUE(vvc);
  EXPECT_EQ(vvc->tracks[0].codec, VideoCodec::unknown);
  EXPECT_EQ(vvc->tracks[0].fourcc, fourcc("vvc1"));
  EXPECT_EQ(vvc->tracks[0].payload.size(), 4u);
}

TEST(EnhancedVideo, ModExNanosecondOffset) {
  auto info = parse_video_tag(held("97 02 0f423f 01 68766331 000000 aabb"));
  ASSERT_TRUE(info);
  ASSERT_EQ(info->tracks.size(), 1u);
  EXPECT_EQ(info->tracks[0].nanosecond_offset, 999999u);
  EXPECT_EQ(info->tracks[0].kind, VideoPacketKind::coded_frames);
  EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("aabb"));

  // An unknown ModEx type (3) with the 16-bit size form (UI8 255 -> UI16 + 1 = 300 bytes) is
  // skipped; then a TimestampOffsetNano entry with 4 bytes of data (first 3 are the value).
  Bytes tag = hex("97 ff 012b");
  tag.insert(tag.end(), 300, 0xEE);
  Bytes tail = hex("37 03 000001 ff 03 68766331 11");
  tag.insert(tag.end(), tail.begin(), tail.end());
  auto chained = parse_video_tag(tag);
  ASSERT_TRUE(chained) << chained.error().message();
  EXPECT_EQ(chained->tracks[0].nanosecond_offset, 1u);
  EXPECT_EQ(chained->tracks[0].packet_type, 3);
  EXPECT_EQ(view_bytes(chained->tracks[0].payload), hex("11"));
}

TEST(EnhancedVideo, ModExErrors) {
  // Nanosecond offset 1000000 > 999999.
  EXPECT_EQ(parse_video_tag(held("97 02 0f4240 01 68766331 000000")).error(),
            make_error_code(Errc::malformed));
  // TimestampOffsetNano with only 1 byte of data.
  EXPECT_EQ(parse_video_tag(held("97 00 05 01 68766331 000000")).error(),
            make_error_code(Errc::malformed));
  // More than kMaxModExEntries chained entries (unknown type 1, 1 byte each).
  Bytes chain = {0x97};
  for (std::size_t i = 0; i < kMaxModExEntries + 1; ++i) {
    chain.push_back(0x00); // size 1
    chain.push_back(0x00); // data
    chain.push_back(0x17); // type 1, next: ModEx again
  }
  EXPECT_EQ(parse_video_tag(chain).error(), make_error_code(Errc::limit_exceeded));
  // Exactly kMaxModExEntries is fine.
  Bytes ok = {0x97};
  for (std::size_t i = 0; i < kMaxModExEntries; ++i) {
    ok.push_back(0x00);
    ok.push_back(0x00);
    ok.push_back(i + 1 == kMaxModExEntries ? 0x13 : 0x17);
  }
  Bytes fcc = hex("68766331");
  ok.insert(ok.end(), fcc.begin(), fcc.end());
  EXPECT_TRUE(parse_video_tag(ok));
}

TEST(EnhancedVideo, MultitrackOneTrack) {
  auto info = parse_video_tag(held("96 01 61766331 00 00000a cafe"));
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->multitrack);
  EXPECT_EQ(info->multitrack_type, MultitrackType::one_track);
  ASSERT_EQ(info->tracks.size(), 1u);
  EXPECT_EQ(info->tracks[0].track_id, 0);
  EXPECT_EQ(info->tracks[0].codec, VideoCodec::avc);
  EXPECT_EQ(info->tracks[0].composition_time_ms, 10);
  EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("cafe"));
}

TEST(EnhancedVideo, MultitrackManyTracks) {
  auto info = parse_video_tag(held("96 13 68766331 00 000003 aabbcc 01 000002 ddee"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->multitrack_type, MultitrackType::many_tracks);
  ASSERT_EQ(info->tracks.size(), 2u);
  EXPECT_EQ(info->tracks[0].track_id, 0);
  EXPECT_EQ(info->tracks[1].track_id, 1);
  EXPECT_EQ(info->tracks[1].codec, VideoCodec::hevc);
  EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("aabbcc"));
  EXPECT_EQ(view_bytes(info->tracks[1].payload), hex("ddee"));
}

TEST(EnhancedVideo, MultitrackManyTracksManyCodecs) {
  auto info = parse_video_tag(held("96 20 61766331 00 000002 0164 68766331 01 000001 01"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->multitrack_type, MultitrackType::many_tracks_many_codecs);
  ASSERT_EQ(info->tracks.size(), 2u);
  EXPECT_EQ(info->tracks[0].codec, VideoCodec::avc);
  EXPECT_EQ(info->tracks[0].kind, VideoPacketKind::sequence_start);
  EXPECT_EQ(info->tracks[1].codec, VideoCodec::hevc);
  EXPECT_EQ(info->tracks[1].track_id, 1);
  EXPECT_EQ(view_bytes(info->tracks[1].payload), hex("01"));
}

TEST(EnhancedVideo, MetadataAndCommand) {
  // Frame type 0 (reserved) is accepted for Metadata: "FrameType flags ... should be ignored".
  auto meta = parse_video_tag(held("84 68766331 02 0009 636f6c6f72496e666f 05"));
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->tracks[0].kind, VideoPacketKind::metadata);
  EXPECT_EQ(view_bytes(meta->tracks[0].payload), hex("02 0009 636f6c6f72496e666f 05"));
  // FrameType Command with any other packet type: a command, no FourCC.
  auto cmd = parse_video_tag(held("d1 01"));
  ASSERT_TRUE(cmd);
  EXPECT_TRUE(cmd->enhanced);
  EXPECT_TRUE(cmd->is_command_frame);
  EXPECT_EQ(cmd->command, 1);
  EXPECT_TRUE(cmd->tracks.empty());
  // FrameType Command with Metadata is metadata, not a command.
  auto meta_cmd = parse_video_tag(held("d4 68766331 05"));
  ASSERT_TRUE(meta_cmd);
  EXPECT_FALSE(meta_cmd->is_command_frame);
  EXPECT_EQ(meta_cmd->tracks[0].kind, VideoPacketKind::metadata);
}

TEST(EnhancedVideo, Errors) {
  struct Case {
    const char *name, *bytes;
    Errc expected;
  };
  const Case cases[] = {
      {"reserved packet type 8", "98 68766331", Errc::malformed},
      {"reserved packet type 15", "9f 68766331", Errc::malformed},
      {"reserved frame type 0", "81 68766331", Errc::malformed},
      {"reserved frame type 6", "e1 68766331", Errc::malformed},
      {"nested Multitrack", "96 06 68766331", Errc::malformed},
      {"ModEx after Multitrack", "96 07 68766331", Errc::malformed},
      {"reserved multitrack type 3", "96 31 68766331 00 000000", Errc::malformed},
      {"no FourCC", "90 6876", Errc::truncated},
      {"no composition time", "a1 68766331 0000", Errc::truncated},
      {"track size beyond the message", "96 11 68766331 00 000010 aabbcc", Errc::truncated},
      {"second track cut in its size", "96 11 68766331 00 000001 aa 01 0000", Errc::truncated},
      {"ManyTracks with no track", "96 11 68766331", Errc::truncated},
      {"command without command byte", "d1", Errc::truncated},
  };
  for (const auto &c : cases)
    EXPECT_EQ(parse_video_tag(held(c.bytes)).error(), make_error_code(c.expected)) << c.name;
}

TEST(EnhancedVideo, EnforcesMaxTracks) {
  auto many = [](std::size_t n) {
    Bytes tag = hex("96 13 68766331"); // CodedFramesX: an empty body is valid
    for (std::size_t i = 0; i < n; ++i) {
      tag.push_back(static_cast<std::uint8_t>(i)); // trackId
      tag.insert(tag.end(), {0x00, 0x00, 0x00});   // empty track
    }
    return tag;
  };
  auto ok = parse_video_tag(many(kMaxTracksPerMessage));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->tracks.size(), kMaxTracksPerMessage);
  EXPECT_EQ(parse_video_tag(many(kMaxTracksPerMessage + 1)).error(),
            make_error_code(Errc::limit_exceeded));
}

TEST(EnhancedVideo, RoundTripsEveryTable) {
  for (const auto &c : kEnhancedVideo) {
    SCOPED_TRACE(c.name);
    expect_round_trip(hex(c.bytes), parse_video_tag, write_video_tag);
  }
  // Legacy shapes that carry all their bits in VideoTagInfo.
  for (const char *legacy : {"17 00 000000 0164", "27 01 fffff6 00", "17 02 000000", "22 0011",
                             "34 01 02", "1c 01 000021 00"}) {
    SCOPED_TRACE(legacy);
    expect_round_trip(held(legacy), parse_video_tag, write_video_tag);
  }
}

TEST(EnhancedVideo, TruncatedAtEveryOffset) {
  for (const auto &c : kEnhancedVideo)
    expect_every_cut(c, parse_video_tag);
}

TEST(EnhancedVideo, Builders) {
  // Coded frames with composition time 0 go out as CodedFramesX (3).
  EXPECT_EQ(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::coded_frames,
                                       fourcc("hvc1")),
            hex("93 68766331"));
  EXPECT_EQ(make_enhanced_video_header(FrameType::inter, VideoPacketKind::coded_frames,
                                       fourcc("hvc1"), 33),
            hex("a1 68766331 000021"));
  // av01 has no composition time field.
  EXPECT_EQ(make_enhanced_video_header(FrameType::inter, VideoPacketKind::coded_frames,
                                       fourcc("av01"), 33),
            hex("a1 61763031"));
  EXPECT_EQ(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::sequence_start,
                                       fourcc("vp09")),
            hex("90 76703039"));
  EXPECT_EQ(make_enhanced_video_header(FrameType::keyframe, VideoPacketKind::coded_frames,
                                       fourcc("avc1"), -5, 500),
            hex("97 02 0001f4 01 61766331 fffffb"));
  EXPECT_EQ(make_legacy_video_header(FrameType::keyframe, VideoCodec::avc,
                                     VideoPacketKind::sequence_start),
            hex("17 00 000000"));
  EXPECT_EQ(make_legacy_video_header(FrameType::inter, VideoCodec::avc,
                                     VideoPacketKind::coded_frames, 40),
            hex("27 01 000028"));
  EXPECT_EQ(make_legacy_video_header(FrameType::disposable_inter, VideoCodec::sorenson_h263,
                                     VideoPacketKind::coded_frames),
            hex("32"));
  // Each builder's output parses back to what was asked for.
  Bytes tag = make_enhanced_video_header(FrameType::inter, VideoPacketKind::coded_frames,
                                         fourcc("hvc1"), -7, 12345);
  tag.push_back(0x42);
  auto info = parse_video_tag(tag);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->tracks[0].composition_time_ms, -7);
  EXPECT_EQ(info->tracks[0].nanosecond_offset, 12345u);
  EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("42"));
}

TEST(EnhancedVideo, WriterRejectsInconsistentDescriptions) {
  VideoTagInfo info;
  info.enhanced = true;
  EXPECT_EQ(write_video_tag(info).error(), make_error_code(Errc::invalid_argument)); // no track
  VideoTrackPacket a;
  a.fourcc = fourcc("hvc1");
  a.kind = VideoPacketKind::coded_frames;
  VideoTrackPacket b = a;
  b.kind = VideoPacketKind::sequence_start;
  info.multitrack = true;
  info.multitrack_type = MultitrackType::many_tracks;
  info.tracks = {a, b}; // different packet types in one message
  EXPECT_EQ(write_video_tag(info).error(), make_error_code(Errc::invalid_argument));
  b = a;
  b.fourcc = fourcc("avc1");
  info.tracks = {a, b}; // ManyTracks with two codecs
  EXPECT_EQ(write_video_tag(info).error(), make_error_code(Errc::invalid_argument));
  info.multitrack_type = MultitrackType::one_track;
  EXPECT_EQ(write_video_tag(info).error(), make_error_code(Errc::invalid_argument));
  info.multitrack_type = MultitrackType::many_tracks_many_codecs;
  EXPECT_TRUE(write_video_tag(info));
  info.multitrack = false; // two tracks without multitrack
  EXPECT_EQ(write_video_tag(info).error(), make_error_code(Errc::invalid_argument));
}

// ---------------------------------------------------------------------------------------------
// Legacy audio (FLV spec E.4.2.1)

TEST(LegacyAudio, EverySoundFormat) {
  struct Case {
    std::uint8_t format;
    AudioCodec codec;
  };
  const Case cases[] = {{0, AudioCodec::linear_pcm_ne},
                        {1, AudioCodec::adpcm},
                        {2, AudioCodec::mp3},
                        {3, AudioCodec::linear_pcm_le},
                        {4, AudioCodec::nellymoser_16k},
                        {5, AudioCodec::nellymoser_8k},
                        {6, AudioCodec::nellymoser},
                        {7, AudioCodec::g711_alaw},
                        {8, AudioCodec::g711_mulaw},
                        {10, AudioCodec::aac},
                        {11, AudioCodec::speex},
                        {12, AudioCodec::unknown},
                        {13, AudioCodec::unknown},
                        {14, AudioCodec::mp3_8k},
                        {15, AudioCodec::device_specific}};
  for (const auto &c : cases) {
    SCOPED_TRACE(int(c.format));
    // SoundRate 2 (22 kHz), SoundSize 1 (16-bit), SoundType 1 (stereo), then 2 bytes.
    Bytes tag = {static_cast<std::uint8_t>(c.format << 4 | 0x0B), 0x01, 0x02};
    auto info = parse_audio_tag(tag);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_FALSE(info->enhanced);
    ASSERT_EQ(info->tracks.size(), 1u);
    EXPECT_EQ(info->tracks[0].codec, c.codec);
    if (c.codec == AudioCodec::aac) {
      EXPECT_EQ(info->tracks[0].kind, AudioPacketKind::coded_frames); // AACPacketType 1
      EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("02"));
    } else {
      EXPECT_EQ(view_bytes(info->tracks[0].payload), hex("01 02"));
      EXPECT_EQ(info->tracks[0].kind, c.codec == AudioCodec::unknown
                                          ? AudioPacketKind::other
                                          : AudioPacketKind::coded_frames);
    }
  }
}

TEST(LegacyAudio, RateSizeAndChannels) {
  struct Case {
    const char *bytes;
    int rate, bits, channels;
  };
  const Case cases[] = {
      {"32 00", 5512, 16, 1},                           // LPCM LE, SoundRate 0, 16-bit, mono
      {"35 00", 11025, 8, 2},                           // SoundRate 1, 8-bit, stereo
      {"2b 00", 22050, 16, 2},                          // MP3 22 kHz
      {"2f 00", 44100, 16, 2},                          // MP3 44 kHz
      {"af 01", 44100, 16, 2},                          // AAC: always the 44 kHz stereo flags
      {"b2 00", 16000, 16, 1},                          // Speex: 16 kHz mono whatever the flags
      {"bf 00", 16000, 16, 1}, {"42 00", 16000, 16, 1}, // Nellymoser 16 kHz mono
      {"52 00", 8000, 16, 1},                           // Nellymoser 8 kHz mono
      {"e2 00", 8000, 16, 1},                           // MP3 8 kHz
      {"72 00", 8000, 16, 1},                           // G.711 A-law: 8 kHz
  };
  for (const auto &c : cases) {
    auto info = parse_audio_tag(held(c.bytes));
    ASSERT_TRUE(info) << c.bytes;
    EXPECT_EQ(info->rate_hz, c.rate) << c.bytes;
    EXPECT_EQ(info->bits, c.bits) << c.bytes;
    EXPECT_EQ(info->channels, c.channels) << c.bytes;
  }
}

TEST(LegacyAudio, AacPacketTypes) {
  // AACPacketType 0: AudioSpecificConfig (LC, 44.1 kHz, stereo = 12 10)
  auto seq = parse_audio_tag(held("af 00 12 10"));
  ASSERT_TRUE(seq);
  EXPECT_EQ(seq->tracks[0].kind, AudioPacketKind::sequence_start);
  EXPECT_EQ(view_bytes(seq->tracks[0].payload), hex("12 10"));
  auto raw = parse_audio_tag(held("af 01 21 10 04"));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->tracks[0].kind, AudioPacketKind::coded_frames);
  EXPECT_EQ(view_bytes(raw->tracks[0].payload), hex("21 10 04"));
  EXPECT_EQ(parse_audio_tag(held("af 02 00")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(parse_audio_tag(held("af")).error(), make_error_code(Errc::truncated));
}

TEST(LegacyAudio, EmptyMessageIsSilence) {
  auto info = parse_audio_tag({});
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->silence);
  EXPECT_TRUE(info->tracks.empty());
  auto written = write_audio_tag(*info);
  ASSERT_TRUE(written);
  EXPECT_TRUE(written->empty());
}

// ---------------------------------------------------------------------------------------------
// Enhanced audio (E-RTMP v2 ExAudioTagHeader / ExAudioTagBody)

namespace {

const VideoCase kEnhancedAudio[] = {
    // SoundFormat 9 (ExHeader) | AudioPacketType SequenceStart 0, FourCC "Opus", OpusHead
    {"Opus SequenceStart", "90 4f707573 4f707573486561640102", 5},
    {"Opus CodedFrames", "91 4f707573 fc ff fe", 5},
    // "fLaC" signature + STREAMINFO metadata block header
    {"fLaC SequenceStart", "90 664c6143 664c6143 80000022", 5},
    {"ac-3 CodedFrames", "91 61632d33 0b77 1234", 5},
    {"ec-3 CodedFrames", "91 65632d33 0b77 5678", 5},
    // AudioSpecificConfig
    {"mp4a SequenceStart", "90 6d703461 1210", 5},
    {"mp4a CodedFrames", "91 6d703461 2110 04", 5},
    {".mp3 CodedFrames", "91 2e6d7033 fffb 9064", 5},
    {"mp4a SequenceEnd", "92 6d703461", 5},
    // MultichannelConfig 4: AudioChannelOrder Native 1, channelCount 6, AudioChannelMask
    // FL|FR|FC|LFE1|BL|BR = 0x3F
    {"MultichannelConfig native 5.1", "94 4f707573 01 06 0000003f", 11},
    // Custom 2: channelCount 2, mapping FrontRight 1, FrontLeft 0
    {"MultichannelConfig custom", "94 4f707573 02 02 01 00", 9},
    // Unspecified 0: only the count
    {"MultichannelConfig unspecified", "94 4f707573 00 08", 7},
    // ModEx 7, TimestampOffsetNano 100, then CodedFrames
    {"ModEx nanosecond offset", "97 02 000064 01 4f707573 aa", 10},
    // Multitrack 5 | ManyTracks 1 + CodedFrames 1, shared FourCC
    {"Multitrack ManyTracks", "95 11 4f707573 00 000002 aabb 01 000001 cc", 17},
    {"Multitrack OneTrack", "95 01 6d703461 03 2110", 7},
    {"Multitrack ManyTracksManyCodecs", "95 20 6d703461 00 000002 1210 4f707573 01 000003 4f7075",
     23},
};

} // namespace

TEST(EnhancedAudio, CodecsAndPacketTypes) {
  struct Expect {
    const char *bytes;
    AudioCodec codec;
    AudioPacketKind kind;
  };
  const Expect cases[] = {
      {"90 4f707573 4f707573486561640102", AudioCodec::opus, AudioPacketKind::sequence_start},
      {"91 4f707573 fc ff fe", AudioCodec::opus, AudioPacketKind::coded_frames},
      {"90 664c6143 664c6143 80000022", AudioCodec::flac, AudioPacketKind::sequence_start},
      {"91 61632d33 0b77 1234", AudioCodec::ac3, AudioPacketKind::coded_frames},
      {"91 65632d33 0b77 5678", AudioCodec::eac3, AudioPacketKind::coded_frames},
      {"90 6d703461 1210", AudioCodec::aac, AudioPacketKind::sequence_start},
      {"91 2e6d7033 fffb 9064", AudioCodec::mp3, AudioPacketKind::coded_frames},
      {"92 6d703461", AudioCodec::aac, AudioPacketKind::sequence_end},
      {"91 61626364 00", AudioCodec::unknown, AudioPacketKind::coded_frames},
  };
  for (const auto &c : cases) {
    auto info = parse_audio_tag(held(c.bytes));
    ASSERT_TRUE(info) << c.bytes;
    EXPECT_TRUE(info->enhanced);
    EXPECT_EQ(info->rate_hz, 0);
    EXPECT_EQ(info->channels, 0);
    ASSERT_EQ(info->tracks.size(), 1u);
    EXPECT_EQ(info->tracks[0].codec, c.codec) << c.bytes;
    EXPECT_EQ(info->tracks[0].kind, c.kind) << c.bytes;
    EXPECT_EQ(info->tracks[0].payload.size(), hex(c.bytes).size() - 5) << c.bytes;
  }
}

TEST(EnhancedAudio, MultichannelConfig) {
  auto native = parse_audio_tag(held("94 4f707573 01 06 0000003f"));
  ASSERT_TRUE(native);
  const auto &mc = native->tracks[0].multichannel;
  EXPECT_EQ(native->tracks[0].kind, AudioPacketKind::multichannel_config);
  EXPECT_EQ(mc.order, AudioChannelOrder::native);
  EXPECT_EQ(mc.channel_count, 6);
  EXPECT_EQ(mc.channel_flags, 0x3Fu);
  EXPECT_TRUE(native->tracks[0].payload.empty());

  auto custom = parse_audio_tag(held("94 4f707573 02 02 01 00"));
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->tracks[0].multichannel.order, AudioChannelOrder::custom);
  EXPECT_EQ(view_bytes(custom->tracks[0].multichannel.channel_mapping), hex("01 00"));

  EXPECT_EQ(parse_audio_tag(held("94 4f707573 03 02")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(parse_audio_tag(held("94 4f707573 02 03 01 00")).error(),
            make_error_code(Errc::truncated));
  EXPECT_EQ(parse_audio_tag(held("94 4f707573 01 06 0000")).error(),
            make_error_code(Errc::truncated));
}

TEST(EnhancedAudio, ModExAndMultitrack) {
  auto nano = parse_audio_tag(held("97 02 000064 01 4f707573 aa"));
  ASSERT_TRUE(nano);
  EXPECT_EQ(nano->tracks[0].nanosecond_offset, 100u);
  EXPECT_EQ(view_bytes(nano->tracks[0].payload), hex("aa"));

  auto many = parse_audio_tag(held("95 11 4f707573 00 000002 aabb 01 000001 cc"));
  ASSERT_TRUE(many);
  EXPECT_TRUE(many->multitrack);
  ASSERT_EQ(many->tracks.size(), 2u);
  EXPECT_EQ(many->tracks[1].track_id, 1);
  EXPECT_EQ(view_bytes(many->tracks[1].payload), hex("cc"));

  auto codecs = parse_audio_tag(held("95 20 6d703461 00 000002 1210 4f707573 01 000003 4f7075"));
  ASSERT_TRUE(codecs);
  ASSERT_EQ(codecs->tracks.size(), 2u);
  EXPECT_EQ(codecs->tracks[0].codec, AudioCodec::aac);
  EXPECT_EQ(codecs->tracks[1].codec, AudioCodec::opus);
  EXPECT_EQ(codecs->tracks[1].kind, AudioPacketKind::sequence_start);
}

TEST(EnhancedAudio, Errors) {
  struct Case {
    const char *name, *bytes;
    Errc expected;
  };
  const Case cases[] = {
      {"reserved packet type 3", "93 4f707573", Errc::malformed},
      {"reserved packet type 6", "96 4f707573", Errc::malformed},
      {"reserved packet type 8", "98 4f707573", Errc::malformed},
      {"nested Multitrack", "95 05 4f707573", Errc::malformed},
      {"reserved multitrack type", "95 31 4f707573", Errc::malformed},
      {"no FourCC", "91 4f70", Errc::truncated},
      {"track beyond message", "95 11 4f707573 00 000009 aa", Errc::truncated},
      {"nano offset too large", "97 02 0f4240 01 4f707573", Errc::malformed},
      {"ModEx cut", "97 02 0000", Errc::truncated},
      {"ModEx 16-bit size cut", "97 ff 01", Errc::truncated},
  };
  for (const auto &c : cases)
    EXPECT_EQ(parse_audio_tag(held(c.bytes)).error(), make_error_code(c.expected)) << c.name;
}

TEST(EnhancedAudio, RoundTripsEveryTable) {
  for (const auto &c : kEnhancedAudio) {
    SCOPED_TRACE(c.name);
    expect_round_trip(hex(c.bytes), parse_audio_tag, write_audio_tag);
  }
  for (const char *legacy : {"af 00 1210", "af 01 2110", "2f 00 11", "b2 00", "52 01", "38 00"}) {
    SCOPED_TRACE(legacy);
    expect_round_trip(held(legacy), parse_audio_tag, write_audio_tag);
  }
}

TEST(EnhancedAudio, TruncatedAtEveryOffset) {
  // The empty prefix is an empty audio message: silence, not an error.
  const auto empty = parse_audio_tag({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->silence);
  for (const auto &c : kEnhancedAudio)
    expect_every_cut(c, parse_audio_tag, 1);
}

TEST(EnhancedAudio, Builders) {
  EXPECT_EQ(make_enhanced_audio_header(AudioPacketKind::sequence_start, fourcc("Opus")),
            hex("90 4f707573"));
  EXPECT_EQ(make_enhanced_audio_header(AudioPacketKind::coded_frames, fourcc("fLaC"), 7),
            hex("97 02 000007 01 664c6143"));
  EXPECT_EQ(make_enhanced_audio_header(AudioPacketKind::multichannel_config, fourcc("ac-3")),
            hex("94 61632d33"));
  EXPECT_EQ(
      make_legacy_audio_header(AudioCodec::aac, 48000, 16, 2, AudioPacketKind::sequence_start),
      hex("af 00"));
  EXPECT_EQ(make_legacy_audio_header(AudioCodec::aac, 8000, 16, 1), hex("af 01"));
  EXPECT_EQ(make_legacy_audio_header(AudioCodec::mp3, 44100, 16, 2), hex("2f"));
  EXPECT_EQ(make_legacy_audio_header(AudioCodec::linear_pcm_le, 11025, 8, 1), hex("34"));
  EXPECT_EQ(make_legacy_audio_header(AudioCodec::speex, 16000, 16, 1), hex("b2"));
  EXPECT_TRUE(make_legacy_audio_header(AudioCodec::opus, 48000, 16, 2).empty());
}

// ---------------------------------------------------------------------------------------------
// connect command capabilities (E-RTMP "Enhancing NetConnection connect Command")

namespace {

amf::Value sample_connect_object() {
  amf::Array list;
  for (const char *f : {"hvc1", "av01", "Opus", "*"})
    list.dense.emplace_back(f);
  amf::Object video;
  video.properties = {{"hvc1", amf::Value(3.0)}, {"*", amf::Value(4.0)}};
  amf::Object audio;
  audio.properties = {{"Opus", amf::Value(1.0)}};
  amf::Object connect;
  connect.properties = {
      {"app", amf::Value("live")},
      {"fourCcList", amf::Value(std::move(list))},
      {"videoFourCcInfoMap", amf::Value(std::move(video))},
      {"audioFourCcInfoMap", amf::Value(std::move(audio))},
      {"capsEx", amf::Value(static_cast<double>(kCapsExReconnect | kCapsExMultitrack))}};
  return amf::Value(std::move(connect));
}

} // namespace

TEST(EnhancedCapabilities, ParsesConnectObject) {
  const auto caps = parse_enhanced_capabilities(sample_connect_object());
  EXPECT_EQ(caps.fourcc_list, (std::vector<std::string>{"hvc1", "av01", "Opus", "*"}));
  EXPECT_EQ(caps.video_fourcc_info,
            (std::map<std::string, int>{{"hvc1", kFourCcCanDecode | kFourCcCanEncode},
                                        {"*", kFourCcCanForward}}));
  EXPECT_EQ(caps.audio_fourcc_info, (std::map<std::string, int>{{"Opus", kFourCcCanDecode}}));
  EXPECT_EQ(caps.caps_ex, kCapsExReconnect | kCapsExMultitrack);
  EXPECT_FALSE(caps.empty());
}

TEST(EnhancedCapabilities, RoundTripsThroughAConnectObject) {
  EnhancedCapabilities caps;
  caps.fourcc_list = {"avc1", "hvc1"};
  caps.video_fourcc_info = {{"avc1", 7}, {"hvc1", 1}};
  caps.audio_fourcc_info = {{"mp4a", 2}};
  caps.caps_ex = kCapsExModEx | kCapsExTimestampNanoOffset;
  amf::Properties props = {{"app", amf::Value("live")}, {"capsEx", amf::Value(1.0)}};
  add_enhanced_capabilities(props, caps);
  // capsEx replaced, not duplicated; app untouched.
  EXPECT_EQ(std::count_if(props.begin(), props.end(),
                          [](const amf::Property &p) { return p.first == "capsEx"; }),
            1);
  EXPECT_EQ(props.front().first, "app");
  amf::Object object;
  object.properties = props;
  EXPECT_EQ(parse_enhanced_capabilities(amf::Value(std::move(object))), caps);
  // Nothing to announce: nothing written.
  amf::Properties untouched = {{"app", amf::Value("live")}};
  add_enhanced_capabilities(untouched, EnhancedCapabilities{});
  EXPECT_EQ(untouched.size(), 1u);
}

TEST(EnhancedCapabilities, ToleratesHostileValues) {
  amf::Array list;
  for (std::size_t i = 0; i < kMaxFourCcEntries + 10; ++i)
    list.dense.emplace_back(std::string("c") + std::to_string(i));
  list.dense.emplace(list.dense.begin(), amf::Value(1.0)); // not a string: skipped
  amf::EcmaArray video; // an ECMA array is accepted like an object
  video.properties = {{"hvc1", amf::Value(std::numeric_limits<double>::quiet_NaN())},
                      {"av01", amf::Value(-5.0)},
                      {"vp09", amf::Value(1e300)},
                      {"avc1", amf::Value(amf::Integer{3})},
                      {"vp08", amf::Value("7")}};
  amf::Object connect;
  connect.properties = {{"fourCcList", amf::Value(std::move(list))},
                        {"videoFourCcInfoMap", amf::Value(std::move(video))},
                        {"audioFourCcInfoMap", amf::Value("not a map")},
                        {"capsEx", amf::Value(std::numeric_limits<double>::infinity())}};
  const auto caps = parse_enhanced_capabilities(amf::Value(std::move(connect)));
  EXPECT_EQ(caps.fourcc_list.size(), kMaxFourCcEntries);
  EXPECT_EQ(caps.fourcc_list.front(), "c0");
  EXPECT_EQ(caps.video_fourcc_info.at("hvc1"), 0);
  EXPECT_EQ(caps.video_fourcc_info.at("av01"), 0);
  EXPECT_EQ(caps.video_fourcc_info.at("vp09"), std::numeric_limits<int>::max());
  EXPECT_EQ(caps.video_fourcc_info.at("avc1"), 3);
  EXPECT_EQ(caps.video_fourcc_info.at("vp08"), 0);
  EXPECT_TRUE(caps.audio_fourcc_info.empty());
  EXPECT_EQ(caps.caps_ex, std::numeric_limits<int>::max());
  // Not an object at all.
  EXPECT_TRUE(parse_enhanced_capabilities(amf::Value(amf::Null{})).empty());
  EXPECT_TRUE(parse_enhanced_capabilities(amf::Value(2.0)).empty());
}
