// FLV framing: header, tags, PreviousTagSize (FLV spec 10.1 annex E.2, E.3, E.4.1) and the
// incremental reader fed real files made by FFmpeg and GStreamer's flvmux.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "core/enhanced.hpp"
#include "core/flv.hpp"

using namespace rtmp;

namespace {

Bytes read_file(const std::string &name) {
  std::ifstream f(std::string(TEST_DATA_DIR) + "/flv/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<FlvTag> read_all(ByteView data, std::error_code *ec_out = nullptr,
                             FlvReader *reader_out = nullptr) {
  FlvReader local;
  FlvReader &reader = reader_out ? *reader_out : local;
  std::vector<FlvTag> tags;
  auto ec = reader.read(data, tags);
  if (ec_out)
    *ec_out = ec;
  else
    EXPECT_FALSE(ec) << ec.message();
  return tags;
}

// A header and two tags, laid out by hand from E.2/E.3/E.4.1.
const Bytes kSmallFile = {
    // E.2 header: "FLV", version 1, TypeFlags audio|video (0x05), DataOffset 9
    0x46, 0x4C, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09,
    // E.3 PreviousTagSize0
    0x00, 0x00, 0x00, 0x00,
    // E.4.1 tag: type 8 (audio), DataSize 2, Timestamp 0x000010, TimestampExtended 0, StreamID 0
    0x08, 0x00, 0x00, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    // Data: AAC raw (0xAF 0x01)
    0xAF, 0x01,
    // PreviousTagSize = 11 + 2
    0x00, 0x00, 0x00, 0x0D,
    // tag: type 9 (video), DataSize 1, Timestamp 0x332211, TimestampExtended 0x44, StreamID 0
    0x09, 0x00, 0x00, 0x01, 0x33, 0x22, 0x11, 0x44, 0x00, 0x00, 0x00,
    // Data: legacy command frame byte
    0x57,
    // PreviousTagSize = 12
    0x00, 0x00, 0x00, 0x0C};

} // namespace

TEST(FlvHeader, MatchesSpecTable) {
  // E.2: Signature "FLV", Version 1, TypeFlagsAudio = bit 2, TypeFlagsVideo = bit 0,
  // DataOffset 9; then PreviousTagSize0 = 0 (E.3).
  EXPECT_EQ(make_flv_header({true, true}),
            (Bytes{0x46, 0x4C, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(make_flv_header({true, false})[4], 0x04);
  EXPECT_EQ(make_flv_header({false, true})[4], 0x01);
  EXPECT_EQ(make_flv_header({false, false})[4], 0x00);
}

TEST(FlvTagWriter, MatchesSpecTable) {
  Bytes out;
  const Bytes data = {0x17, 0x01};
  ASSERT_FALSE(write_flv_tag(9, 0x01020304, data, out));
  // E.4.1: TagType 9, DataSize UI24 = 2, Timestamp UI24 = lower 24 bits (0x020304),
  // TimestampExtended UI8 = upper 8 bits (0x01), StreamID UI24 = 0, Data, PreviousTagSize 13.
  EXPECT_EQ(out, (Bytes{0x09, 0x00, 0x00, 0x02, 0x02, 0x03, 0x04, 0x01, 0x00, 0x00, 0x00, 0x17,
                        0x01, 0x00, 0x00, 0x00, 0x0D}));
}

TEST(FlvTagWriter, AppendsAndRejectsOversizedData) {
  Bytes out = {0xEE};
  ASSERT_FALSE(write_flv_tag(18, 0, {}, out));
  EXPECT_EQ(out.size(), 1 + kFlvTagHeaderSize + kFlvPreviousTagSizeSize);
  EXPECT_EQ(out[0], 0xEE);
  const Bytes huge(kMaxFlvTagDataSize + 1, 0);
  const Bytes before = out;
  EXPECT_EQ(write_flv_tag(9, 0, huge, out), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(out, before);
}

TEST(FlvTagToMessage, MapsTypesAndMovesPayload) {
  for (std::uint8_t type : {8, 9, 18}) {
    FlvTag tag{type, 0xAABBCCDD, {1, 2, 3}};
    Message m = flv_tag_to_message(std::move(tag), 7);
    EXPECT_EQ(m.type, type);
    EXPECT_EQ(m.timestamp, 0xAABBCCDDu);
    EXPECT_EQ(m.stream_id, 7u);
    EXPECT_EQ(m.chunk_stream_id, 0u);
    EXPECT_EQ(m.payload, (Bytes{1, 2, 3}));
  }
  EXPECT_EQ(flv_tag_to_message({18, 0, {}}, 1).kind(), MessageType::data_amf0);
  EXPECT_EQ(flv_tag_to_message({8, 0, {}}, 1).kind(), MessageType::audio);
  EXPECT_EQ(flv_tag_to_message({9, 0, {}}, 1).kind(), MessageType::video);
}

TEST(FlvSetDataFrame, PrependsAmf0String) {
  const Bytes script = {0x02, 0x00, 0x0A, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'};
  Bytes expected = {0x02, 0x00, 0x0D, '@', 's', 'e', 't', 'D',
                    'a',  't',  'a',  'F', 'r', 'a', 'm', 'e'};
  expected.insert(expected.end(), script.begin(), script.end());
  EXPECT_EQ(prepend_set_data_frame(script), expected);
}

TEST(FlvReader, ParsesSpecTable) {
  FlvReader reader;
  auto tags = read_all(kSmallFile, nullptr, &reader);
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_TRUE(reader.header_seen());
  EXPECT_EQ(reader.header(), (FlvHeader{true, true}));
  EXPECT_EQ(tags[0], (FlvTag{8, 0x10, {0xAF, 0x01}}));
  EXPECT_EQ(tags[1], (FlvTag{9, 0x44332211, {0x57}}));
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(reader.tags_read(), 2u);
  EXPECT_EQ(reader.previous_tag_size_mismatches(), 0u);
}

TEST(FlvReader, RoundTripsWrittenTags) {
  std::vector<FlvTag> written = {{18, 0, {0x02, 0x00, 0x00}},
                                 {9, 0, Bytes(300, 0x11)},
                                 {8, 23, {0xAF, 0x01, 0x21}},
                                 {9, 0x00FFFFFF, {0x27, 0x01}},
                                 {9, 0x01000000, {0x27, 0x01}}, // needs TimestampExtended
                                 {8, 0xFFFFFFFF, {}}};
  for (const FlvHeader h : {FlvHeader{true, true}, FlvHeader{false, true}}) {
    Bytes file = make_flv_header(h);
    for (const auto &t : written)
      ASSERT_FALSE(write_flv_tag(t.type, t.timestamp, t.data, file));
    FlvReader reader;
    EXPECT_EQ(read_all(file, nullptr, &reader), written);
    EXPECT_EQ(reader.header(), h);
  }
}

TEST(FlvReader, InputMayStartWithATag) {
  // flvmux pushes its header as a streamheader and then one tag (+ PreviousTagSize) per buffer.
  const ByteView tags_only = ByteView(kSmallFile).subspan(kFlvHeaderSize + 4);
  FlvReader reader;
  auto tags = read_all(tags_only, nullptr, &reader);
  EXPECT_EQ(tags.size(), 2u);
  EXPECT_FALSE(reader.header_seen());
}

TEST(FlvReader, AcceptsARepeatedHeaderAtATagBoundary) {
  Bytes twice = kSmallFile;
  Bytes second = kSmallFile;
  second[4] = 0x04; // audio only
  twice.insert(twice.end(), second.begin(), second.end());
  FlvReader reader;
  EXPECT_EQ(read_all(twice, nullptr, &reader).size(), 4u);
  EXPECT_EQ(reader.header(), (FlvHeader{true, false}));
}

TEST(FlvReader, SkipsAnExtendedHeader) {
  // DataOffset 12: three bytes of header extension before PreviousTagSize0.
  Bytes file = {0x46, 0x4C, 0x56, 0x01, 0x01, 0x00, 0x00, 0x00, 0x0C, 0xAA, 0xBB, 0xCC};
  file.insert(file.end(), kSmallFile.begin() + 9, kSmallFile.end());
  EXPECT_EQ(read_all(file).size(), 2u);
}

TEST(FlvReader, CountsButToleratesPreviousTagSizeMismatches) {
  Bytes file = kSmallFile;
  file[12] = 0x01;                    // PreviousTagSize0 != 0
  file[kSmallFile.size() - 1] = 0x01; // data size only, as some muxers write
  FlvReader reader;
  EXPECT_EQ(read_all(file, nullptr, &reader).size(), 2u);
  EXPECT_EQ(reader.previous_tag_size_mismatches(), 2u);
}

TEST(FlvReader, TruncatedAtEveryOffsetKeepsThePartialUnit) {
  // Unit boundaries of kSmallFile: header+PTS0 = 13, tag 1 ends at 30, tag 2 at 46.
  for (std::size_t n = 0; n <= kSmallFile.size(); ++n) {
    FlvReader reader;
    std::vector<FlvTag> tags;
    ASSERT_FALSE(reader.read(ByteView(kSmallFile).first(n), tags)) << n;
    const std::size_t complete = n >= 46 ? 2 : n >= 30 ? 1 : 0;
    const std::size_t consumed = n >= 46 ? 46 : n >= 30 ? 30 : n >= 13 ? 13 : 0;
    EXPECT_EQ(tags.size(), complete) << n;
    EXPECT_EQ(reader.buffered(), n - consumed) << n;
    EXPECT_EQ(reader.header_seen(), n >= 13) << n;
    // Completing the input later yields the rest.
    ASSERT_FALSE(reader.read(ByteView(kSmallFile).subspan(n), tags)) << n;
    EXPECT_EQ(tags.size(), 2u) << n;
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

struct BadInput {
  const char *name;
  Bytes bytes;
  Errc expected;
};

TEST(FlvReader, RejectsGarbageWithTypedErrors) {
  const Bytes tag_prefix = {0x09, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
  const std::vector<BadInput> cases = {
      {"bad signature", {0x46, 0x4C, 0x58, 0x01, 0x05, 0, 0, 0, 9}, Errc::flv_bad_header},
      {"bad signature 2nd byte", {0x46, 0x00}, Errc::flv_bad_header},
      {"version 2", {0x46, 0x4C, 0x56, 0x02, 0x05, 0, 0, 0, 9}, Errc::flv_bad_header},
      {"DataOffset 8", {0x46, 0x4C, 0x56, 0x01, 0x05, 0, 0, 0, 8}, Errc::flv_bad_header},
      {"DataOffset above kMaxFlvHeaderSize",
       {0x46, 0x4C, 0x56, 0x01, 0x05, 0, 0, 0x04, 0x01},
       Errc::limit_exceeded},
      {"unknown tag type 7", {0x07}, Errc::flv_bad_tag},
      {"tag type 0", {0x00}, Errc::flv_bad_tag},
      {"reserved bit set", {0x48}, Errc::flv_bad_tag},
      {"encrypted (Filter bit)", {0x28}, Errc::unsupported},
      {"StreamID 1", {0x09, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x01}, Errc::flv_bad_tag},
      {"text", {'h', 'e', 'l', 'l', 'o'}, Errc::flv_bad_tag},
  };
  for (const auto &c : cases) {
    FlvReader reader;
    std::vector<FlvTag> tags;
    EXPECT_EQ(reader.read(c.bytes, tags), make_error_code(c.expected)) << c.name;
    EXPECT_TRUE(tags.empty()) << c.name;
  }
}

TEST(FlvReader, EnforcesMaxTagSize) {
  FlvReader reader(FlvLimits{100});
  std::vector<FlvTag> tags;
  // DataSize 101 > 100: rejected as soon as the tag header is complete, before buffering data.
  const Bytes header = {0x09, 0x00, 0x00, 0x65, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(reader.read(header, tags), make_error_code(Errc::limit_exceeded));
  FlvReader ok(FlvLimits{100});
  Bytes exact;
  write_flv_tag(9, 0, Bytes(100, 0), exact);
  EXPECT_FALSE(ok.read(exact, tags));
  EXPECT_EQ(tags.size(), 1u);
}

TEST(FlvReader, ErrorsAreStickyUntilReset) {
  Bytes input = kSmallFile;
  input.push_back(0x07); // garbage after two good tags
  FlvReader reader;
  std::vector<FlvTag> tags;
  EXPECT_EQ(reader.read(input, tags), make_error_code(Errc::flv_bad_tag));
  EXPECT_EQ(tags.size(), 2u); // tags before the garbage are delivered
  EXPECT_EQ(reader.read(kSmallFile, tags), make_error_code(Errc::flv_bad_tag));
  EXPECT_EQ(tags.size(), 2u);
  reader.reset();
  EXPECT_FALSE(reader.read(kSmallFile, tags));
  EXPECT_EQ(tags.size(), 4u);
}

TEST(FlvReader, DetectsGarbageAfterABufferedPartialTag) {
  FlvReader reader;
  std::vector<FlvTag> tags;
  ASSERT_FALSE(reader.read(ByteView(kSmallFile).first(20), tags));
  Bytes rest(kSmallFile.begin() + 20, kSmallFile.begin() + 30);
  rest.push_back(0xFF);
  EXPECT_EQ(reader.read(rest, tags), make_error_code(Errc::flv_bad_tag));
  EXPECT_EQ(tags.size(), 1u);
}

// Real files. Expected numbers were recorded with
//   ffprobe -v error -show_packets -of csv=p=0 -show_entries packet=codec_type FILE
// (packets exclude sequence headers, end-of-sequence tags and the first script tag; ffprobe
// reports further script tags as "subtitle" packets).
struct RealFile {
  const char *name;
  FlvHeader header;
  std::size_t script_tags, audio_tags, video_tags;
  std::size_t ffprobe_audio_packets, ffprobe_video_packets;
  std::uint32_t last_audio_timestamp, last_video_timestamp;
  AudioCodec audio_codec;
  VideoCodec video_codec;
};

const RealFile kRealFiles[] = {
    // ffmpeg -f lavfi -i testsrc=size=160x120:duration=1:rate=25 -f lavfi -i sine=duration=1
    //   -c:v libx264 -bf 2 -g 12 -c:a aac -b:a 32k -f flv h264_aac.flv
    {"h264_aac.flv", {true, true}, 1, 46, 27, 45, 25, 1078, 960, AudioCodec::aac, VideoCodec::avc},
    // ffmpeg ... testsrc=size=96x64:duration=1:rate=10 ... sine=duration=1:sample_rate=22050
    //   -c:v flv -q:v 20 -c:a libmp3lame -b:a 32k -ar 22050 -f flv flv1_mp3.flv
    {"flv1_mp3.flv",
     {true, true},
     1,
     41,
     10,
     41,
     10,
     1045,
     950,
     AudioCodec::mp3,
     VideoCodec::sorenson_h263},
    // ffmpeg -f lavfi -i sine=duration=0.5:sample_rate=11025 -c:a adpcm_swf -f flv ...
    {"adpcm_audio_only.flv",
     {true, false},
     1,
     2,
     0,
     2,
     0,
     372,
     0,
     AudioCodec::adpcm,
     VideoCodec::unknown},
    // gst-launch-1.0 videotestsrc num-buffers=15 ! video/x-raw,width=64,height=48,
    //   framerate=15/1 ! x264enc key-int-max=5 ! h264parse ! flvmux name=m streamable=true !
    //   filesink audiotestsrc num-buffers=10 samplesperbuffer=1600 !
    //   audio/x-raw,rate=16000,channels=1 ! speexenc ! m.
    {"gst_flvmux_h264_speex.flv",
     {true, true},
     5,
     52,
     17,
     52,
     15,
     971,
     971,
     AudioCodec::speex,
     VideoCodec::avc},
};

TEST(FlvReaderRealFiles, ParsesEndToEnd) {
  for (const auto &f : kRealFiles) {
    SCOPED_TRACE(f.name);
    const Bytes file = read_file(f.name);
    ASSERT_FALSE(file.empty());
    FlvReader reader;
    const auto tags = read_all(file, nullptr, &reader);
    EXPECT_EQ(reader.header(), f.header);
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_EQ(reader.previous_tag_size_mismatches(), 0u);
    std::size_t script = 0, audio = 0, video = 0, audio_frames = 0, video_frames = 0;
    // Decode timestamps never go backwards within a type. (Not across types: FFmpeg writes the
    // AVC end-of-sequence tag with the last video timestamp after the last audio tag.)
    std::uint32_t last_audio = 0, last_video = 0;
    for (const auto &t : tags) {
      if (t.type == 18) {
        ++script;
      } else if (t.type == 8) {
        ++audio;
        EXPECT_GE(t.timestamp, last_audio);
        last_audio = t.timestamp;
        auto info = parse_audio_tag(t.data);
        ASSERT_TRUE(info) << info.error().message();
        ASSERT_EQ(info->tracks.size(), 1u);
        EXPECT_EQ(info->tracks[0].codec, f.audio_codec);
        audio_frames += info->tracks[0].kind == AudioPacketKind::coded_frames;
      } else {
        ASSERT_EQ(t.type, 9);
        ++video;
        EXPECT_GE(t.timestamp, last_video);
        last_video = t.timestamp;
        auto info = parse_video_tag(t.data);
        ASSERT_TRUE(info) << info.error().message();
        ASSERT_EQ(info->tracks.size(), 1u);
        EXPECT_EQ(info->tracks[0].codec, f.video_codec);
        video_frames += info->tracks[0].kind == VideoPacketKind::coded_frames;
      }
    }
    EXPECT_EQ(script, f.script_tags);
    EXPECT_EQ(audio, f.audio_tags);
    EXPECT_EQ(video, f.video_tags);
    EXPECT_EQ(audio_frames, f.ffprobe_audio_packets);
    EXPECT_EQ(video_frames, f.ffprobe_video_packets);
    EXPECT_EQ(last_audio, f.last_audio_timestamp);
    EXPECT_EQ(last_video, f.last_video_timestamp);
  }
}

TEST(FlvReaderRealFiles, SameTagsAtEverySplitPoint) {
  for (const auto &f : kRealFiles) {
    SCOPED_TRACE(f.name);
    const Bytes file = read_file(f.name);
    const auto reference = read_all(file);
    ASSERT_FALSE(reference.empty());
    for (std::size_t split = 0; split <= file.size(); ++split) {
      FlvReader reader;
      std::vector<FlvTag> tags;
      ASSERT_FALSE(reader.read(ByteView(file).first(split), tags)) << split;
      ASSERT_FALSE(reader.read(ByteView(file).subspan(split), tags)) << split;
      ASSERT_EQ(tags.size(), reference.size()) << split;
      ASSERT_TRUE(tags == reference) << split;
    }
  }
}

TEST(FlvReaderRealFiles, SameTagsByteAtATime) {
  for (const auto &f : kRealFiles) {
    SCOPED_TRACE(f.name);
    const Bytes file = read_file(f.name);
    const auto reference = read_all(file);
    FlvReader reader;
    std::vector<FlvTag> tags;
    for (std::size_t i = 0; i < file.size(); ++i) {
      ASSERT_FALSE(reader.read(ByteView(file).subspan(i, 1), tags)) << i;
      EXPECT_LE(reader.buffered(), kFlvTagHeaderSize + kMaxFlvTagDataSize + 4);
    }
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_TRUE(tags == reference);
  }
}

TEST(FlvReaderRealFiles, RewritingTagsReproducesTheFile) {
  // FFmpeg writes PreviousTagSize correctly, so header + write_flv_tag of every tag must give
  // back the very same bytes.
  const Bytes file = read_file("h264_aac.flv");
  FlvReader reader;
  const auto tags = read_all(file, nullptr, &reader);
  Bytes rewritten = make_flv_header(reader.header());
  for (const auto &t : tags)
    ASSERT_FALSE(write_flv_tag(t.type, t.timestamp, t.data, rewritten));
  EXPECT_TRUE(rewritten == file);
}
