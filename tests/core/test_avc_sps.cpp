// H.264 SPS parsing (ITU-T H.264 7.3.2.1.1, E.1.1) and the first SPS of an
// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/avc_sps.hpp"

using namespace rtmp;

namespace {

Bytes hex(std::string_view s) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

// The avcC bodies of FLV AVC sequence headers (video tag bytes 5..) written by
//   gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,format=F,width=W,height=H,framerate=R
//     ! x264enc ! video/x-h264,profile=P ! flvmux ! filesink
// (GStreamer 1.22, x264 164) with F/W/H/R/P as named.
// I420 1920x1080 30000/1001 high: coded 1088 lines, frame_crop_bottom_offset 4.
constexpr std::string_view kAvcc1080 =
    "01640028ffe1001d67640028acd940780227e5c05a808080a000007d20001d4"
    "c11e30632c001000568ebecb22c";
// I420 320x240 25/1 main: no cropping, emulation prevention bytes in the VUI timing.
constexpr std::string_view kAvcc240 = "014d4015ffe1001c674d4015eca0a0fd80b5060606a50000030001000003"
                                      "00328f162d9601000468ebecb2";
// I420 642x362 30/1 high: coded 656x368, cropped right and bottom.
constexpr std::string_view kAvcc642 = "0164001effe1001e6764001eacd940a42fe224c05a830303528000000300"
                                      "8000001e478b16cb01000568ebecb22c";
// Y444 352x288 25/1 high-4:4:4 (profile_idc 244, chroma_format_idc 3).
constexpr std::string_view kAvcc444 = "01f4000dffe1001d67f4000d919b282c12d80a50606064000003000400"
                                      "000300ca3c50a65801000668ebec448440";

// The SPS NAL inside an avcC (first SPS at byte 8, length in bytes 6-7).
Bytes sps_of(std::string_view avcc_hex) {
  const Bytes a = hex(avcc_hex);
  const std::size_t len = std::size_t{a[6]} << 8 | a[7];
  return Bytes(a.begin() + 8, a.begin() + 8 + static_cast<std::ptrdiff_t>(len));
}

// Writes SPS fields bit by bit, for the branches x264 does not produce.
class BitWriter {
public:
  void u(unsigned n, std::uint32_t v) {
    for (unsigned i = n; i-- > 0;)
      bit((v >> i) & 1u);
  }
  void ue(std::uint32_t v) {
    const std::uint64_t x = std::uint64_t{v} + 1;
    unsigned len = 0;
    while ((x >> len) > 1)
      ++len;
    u(len, 0);
    for (unsigned i = len + 1; i-- > 0;)
      bit(static_cast<unsigned>((x >> i) & 1u));
  }
  void se(std::int32_t v) { ue(v > 0 ? 2u * static_cast<std::uint32_t>(v) - 1 : 2u * -v); }
  // rbsp_trailing_bits and emulation prevention, after a 0x67 header.
  Bytes nal() const {
    Bytes raw = bytes_;
    std::uint8_t last = cur_;
    unsigned n = nbits_;
    last = static_cast<std::uint8_t>(last << 1 | 1);
    ++n;
    raw.push_back(static_cast<std::uint8_t>(last << (8 - n)));
    Bytes out{0x67};
    std::size_t zeros = 0;
    for (std::uint8_t b : raw) {
      if (zeros >= 2 && b <= 3) {
        out.push_back(3);
        zeros = 0;
      }
      zeros = b == 0 ? zeros + 1 : 0;
      out.push_back(b);
    }
    return out;
  }

private:
  void bit(unsigned b) {
    cur_ = static_cast<std::uint8_t>(cur_ << 1 | b);
    if (++nbits_ == 8) {
      bytes_.push_back(cur_);
      cur_ = 0;
      nbits_ = 0;
    }
  }
  Bytes bytes_;
  std::uint8_t cur_ = 0;
  unsigned nbits_ = 0;
};

} // namespace

TEST(AvcSps, X264_1080pCropped_NtscTiming) {
  auto info = parse_avcc_first_sps(hex(kAvcc1080));
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->profile_idc, 100);
  EXPECT_EQ(info->level_idc, 40);
  EXPECT_EQ(info->width, 1920u);
  EXPECT_EQ(info->height, 1080u);
  ASSERT_TRUE(info->framerate_num && info->framerate_den);
  EXPECT_EQ(*info->framerate_num, 60000u);
  EXPECT_EQ(*info->framerate_den, 2002u);
  EXPECT_NEAR(*info->framerate(), 29.97, 0.001);
}

TEST(AvcSps, X264_320x240MainWithEmulationPrevention) {
  const Bytes sps = sps_of(kAvcc240);
  const std::uint8_t ep[] = {0, 0, 3};
  ASSERT_NE(std::search(sps.begin(), sps.end(), std::begin(ep), std::end(ep)), sps.end());
  auto info = parse_avc_sps(sps);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->profile_idc, 77);
  EXPECT_EQ(info->width, 320u);
  EXPECT_EQ(info->height, 240u);
  EXPECT_EQ(*info->framerate(), 25.0);
}

TEST(AvcSps, X264_642x362OddCropping) {
  auto info = parse_avcc_first_sps(hex(kAvcc642));
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->width, 642u);
  EXPECT_EQ(info->height, 362u);
  EXPECT_EQ(*info->framerate(), 30.0);
}

TEST(AvcSps, X264_High444) {
  auto info = parse_avcc_first_sps(hex(kAvcc444));
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->profile_idc, 244);
  EXPECT_EQ(info->chroma_format_idc, 3u);
  EXPECT_EQ(info->width, 352u);
  EXPECT_EQ(info->height, 288u);
  EXPECT_EQ(*info->framerate(), 25.0);
}

// High profile with scaling lists (one with delta_scale making nextScale 0, which ends the list),
// pic_order_cnt_type 1, interlaced (frame_mbs_only 0), 4:2:2 cropping, Extended_SAR, colour
// description, chroma_loc and timing without fixed_frame_rate.
TEST(AvcSps, SyntheticHighBranches) {
  BitWriter w;
  w.u(8, 122); // profile_idc High 4:2:2
  w.u(8, 0);
  w.u(8, 41);
  w.ue(0);   // seq_parameter_set_id
  w.ue(2);   // chroma_format_idc 4:2:2
  w.ue(2);   // bit_depth_luma_minus8
  w.ue(2);   // bit_depth_chroma_minus8
  w.u(1, 0); // qpprime
  w.u(1, 1); // seq_scaling_matrix_present_flag
  w.u(1, 1); // list 0 present: 16 entries
  for (int j = 0; j < 16; ++j)
    w.se(j % 2 ? -3 : 5);
  w.u(1, 1); // list 1 present: delta -8 -> nextScale 0 ends it after one entry
  w.se(-8);
  for (int i = 2; i < 6; ++i)
    w.u(1, 0);
  w.u(1, 1); // list 6 present: 64 entries
  for (int j = 0; j < 64; ++j)
    w.se(1);
  w.u(1, 0); // list 7
  w.ue(0);   // log2_max_frame_num_minus4
  w.ue(1);   // pic_order_cnt_type 1
  w.u(1, 0); // delta_pic_order_always_zero_flag
  w.se(-2);  // offset_for_non_ref_pic
  w.se(1);   // offset_for_top_to_bottom_field
  w.ue(3);   // num_ref_frames_in_pic_order_cnt_cycle
  w.se(4);
  w.se(-4);
  w.se(0);
  w.ue(4);   // max_num_ref_frames
  w.u(1, 0); // gaps
  w.ue(119); // 120 MBs wide = 1920
  w.ue(33);  // 34 map units = 68 MBs framed = 1088 lines
  w.u(1, 0); // frame_mbs_only_flag 0
  w.u(1, 1); // mb_adaptive_frame_field_flag
  w.u(1, 1); // direct_8x8
  w.u(1, 1); // frame_cropping_flag
  w.ue(1);   // left: CropUnitX 2 -> 2
  w.ue(2);   // right -> 4
  w.ue(0);   // top
  w.ue(2);   // bottom: CropUnitY = SubHeightC 1 * 2 -> 4
  w.u(1, 1); // vui
  w.u(1, 1); // aspect_ratio_info_present_flag
  w.u(8, 255);
  w.u(16, 4);
  w.u(16, 3);
  w.u(1, 1); // overscan present
  w.u(1, 0);
  w.u(1, 1); // video_signal_type
  w.u(3, 5);
  w.u(1, 1);
  w.u(1, 1); // colour description
  w.u(24, 0x010101);
  w.u(1, 1); // chroma_loc
  w.ue(1);
  w.ue(1);
  w.u(1, 1); // timing
  w.u(32, 1);
  w.u(32, 100);
  w.u(1, 0); // fixed_frame_rate_flag
  auto info = parse_avc_sps(w.nal());
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->width, 1920u - 6u);
  EXPECT_EQ(info->height, 1088u - 4u);
  EXPECT_EQ(*info->framerate(), 50.0);
  EXPECT_FALSE(info->fixed_frame_rate);
}

namespace {
// Baseline, 4:2:0 implied, with `poc_cycle` (type 1) and optional VUI timing values.
Bytes baseline_sps(std::uint32_t poc_cycle, std::uint32_t units, std::uint32_t scale,
                   bool crop_too_much = false) {
  BitWriter w;
  w.u(8, 66);
  w.u(8, 0);
  w.u(8, 30);
  w.ue(0);
  w.ue(0); // log2_max_frame_num_minus4
  w.ue(1); // poc type 1
  w.u(1, 1);
  w.se(0);
  w.se(0);
  w.ue(poc_cycle);
  for (std::uint32_t i = 0; i < poc_cycle; ++i)
    w.se(1);
  w.ue(1);
  w.u(1, 0);
  w.ue(19); // 320
  w.ue(14); // 240
  w.u(1, 1);
  w.u(1, 1);
  w.u(1, crop_too_much ? 1 : 0);
  if (crop_too_much) {
    w.ue(80); // 160 luma columns each side: 320 cropped away
    w.ue(80);
    w.ue(0);
    w.ue(0);
  }
  w.u(1, 1); // vui with only timing
  w.u(4, 0);
  w.u(1, 1);
  w.u(32, units);
  w.u(32, scale);
  w.u(1, 1);
  return w.nal();
}
} // namespace

TEST(AvcSps, PocCycleBound) {
  auto ok = parse_avc_sps(baseline_sps(kMaxRefFramesInPocCycle, 1, 50));
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->width, 320u);
  EXPECT_EQ(ok->height, 240u);
  EXPECT_EQ(*ok->framerate(), 25.0);
  EXPECT_EQ(parse_avc_sps(baseline_sps(kMaxRefFramesInPocCycle + 1, 1, 50)).error(),
            make_error_code(Errc::limit_exceeded));
}

TEST(AvcSps, ImplausibleTimingLeavesFramerateAbsent) {
  for (auto [units, scale] : {std::pair<std::uint32_t, std::uint32_t>{0, 50}, {1, 0}, {1, 4000}}) {
    auto info = parse_avc_sps(baseline_sps(0, units, scale));
    ASSERT_TRUE(info.ok()) << info.error().message();
    EXPECT_EQ(info->width, 320u);
    EXPECT_FALSE(info->framerate()) << units << "/" << scale;
  }
}

TEST(AvcSps, CroppingBeyondThePictureIsMalformed) {
  EXPECT_EQ(parse_avc_sps(baseline_sps(0, 1, 50, true)).error(), make_error_code(Errc::malformed));
}

TEST(AvcSps, TruncatedAtEveryOffsetIsAnError) {
  for (std::string_view avcc : {kAvcc1080, kAvcc240, kAvcc642, kAvcc444}) {
    const Bytes sps = sps_of(avcc);
    // The parser stops after the VUI timing info, so a cut after it gives the whole result; any
    // earlier cut ends inside a field. The first 8 bytes never hold the picture size.
    const auto whole = parse_avc_sps(sps);
    ASSERT_TRUE(whole.ok());
    for (std::size_t n = 0; n < sps.size(); ++n) {
      auto r = parse_avc_sps(ByteView(sps).first(n));
      if (n < 8) {
        EXPECT_FALSE(r.ok()) << avcc << " cut at " << n;
      }
      if (r.ok()) {
        EXPECT_EQ(r->width, whole->width);
        EXPECT_EQ(r->height, whole->height);
        EXPECT_EQ(r->framerate(), whole->framerate()) << avcc << " cut at " << n;
      }
    }
    const Bytes a = hex(avcc);
    for (std::size_t n = 0; n < 8 + sps.size(); ++n) // the SPS length runs past the cut
      EXPECT_FALSE(parse_avcc_first_sps(ByteView(a).first(n)).ok()) << avcc << " cut at " << n;
  }
}

TEST(AvcSps, GarbageIsAnError) {
  EXPECT_EQ(parse_avc_sps({}).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(parse_avc_sps(hex("68ce3c80")).error(), make_error_code(Errc::malformed)); // a PPS
  // 40 zero bits: an exp-Golomb code with more than 31 leading zeros.
  EXPECT_EQ(parse_avc_sps(hex("674d40150000000000ff")).error(), make_error_code(Errc::malformed));
  // pic_width_in_mbs_minus1 above kMaxSpsDimensionMbs.
  BitWriter w;
  w.u(8, 66);
  w.u(8, 0);
  w.u(8, 30);
  w.ue(0);
  w.ue(0);
  w.ue(2);
  w.ue(1);
  w.u(1, 0);
  w.ue(kMaxSpsDimensionMbs);
  w.ue(0);
  w.u(3, 0b110);
  EXPECT_EQ(parse_avc_sps(w.nal()).error(), make_error_code(Errc::malformed));
  // avcC: wrong version, no SPS, SPS length past the end.
  EXPECT_EQ(parse_avcc_first_sps(hex("02640028ffe1")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(parse_avcc_first_sps(hex("01640028ffe0")).error(), make_error_code(Errc::malformed));
  EXPECT_EQ(parse_avcc_first_sps(hex("01640028ffe1ffff6764")).error(),
            make_error_code(Errc::truncated));
  // Pseudo-random bytes behind an SPS header never crash (ASan/UBSan builds check the rest).
  std::uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    Bytes b{0x67};
    for (int j = 0; j < 1 + i % 40; ++j) {
      x = x * 1664525u + 1013904223u;
      b.push_back(static_cast<std::uint8_t>(x >> 24));
    }
    (void)parse_avc_sps(b);
  }
}
