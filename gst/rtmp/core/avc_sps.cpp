#include "core/avc_sps.hpp"

namespace rtmp {
namespace {

// Removes emulation_prevention_three_byte (7.4.1: a 0x03 after two zero bytes) so that the
// bit reader sees the RBSP.
Bytes nal_to_rbsp(ByteView nal) {
  Bytes out;
  out.reserve(nal.size());
  std::size_t zeros = 0;
  for (const std::uint8_t b : nal) {
    if (zeros >= 2 && b == 0x03) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    out.push_back(b);
  }
  return out;
}

// MSB-first bit reader over the RBSP; every read checks the end and fails with `truncated`.
class BitReader {
public:
  explicit BitReader(ByteView data) : data_(data) {}

  bool bits(unsigned n, std::uint32_t &v) { // n <= 32
    std::uint64_t acc = 0;
    if (n > data_.size() * 8 - pos_)
      return false;
    for (unsigned i = 0; i < n; ++i, ++pos_)
      acc = acc << 1 | ((data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
    v = static_cast<std::uint32_t>(acc);
    return true;
  }
  bool flag(bool &v) {
    std::uint32_t b = 0;
    if (!bits(1, b))
      return false;
    v = b != 0;
    return true;
  }
  // ue(v), 9.1: leading zeros, a one, then as many bits. More than 31 leading zeros would not
  // fit 32 bits: that is a malformed value, reported as such by the caller via `overlong`.
  bool ue(std::uint32_t &v, bool &overlong) {
    unsigned zeros = 0;
    for (;;) {
      std::uint32_t b = 0;
      if (!bits(1, b))
        return false;
      if (b)
        break;
      if (++zeros > 31) {
        overlong = true;
        return false;
      }
    }
    std::uint32_t suffix = 0;
    if (!bits(zeros, suffix))
      return false;
    v = static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + suffix);
    return true;
  }

private:
  ByteView data_;
  std::size_t pos_ = 0;
};

// Reads the fields in order, remembering the first error so that the parser reads like the
// syntax table.
class SpsReader {
public:
  explicit SpsReader(ByteView rbsp) : r_(rbsp) {}

  bool ok() const { return err_ == Errc{}; }
  Errc error() const { return err_; }
  void fail(Errc e) {
    if (ok())
      err_ = e;
  }

  std::uint32_t u(unsigned n) {
    std::uint32_t v = 0;
    if (ok() && !r_.bits(n, v))
      fail(Errc::truncated);
    return v;
  }
  bool flag() { return u(1) != 0; }
  // ue(v) with the range the semantics allow; outside it -> `malformed`.
  std::uint32_t ue(std::uint32_t max) {
    std::uint32_t v = 0;
    bool overlong = false;
    if (ok() && !r_.ue(v, overlong))
      fail(overlong ? Errc::malformed : Errc::truncated);
    if (ok() && v > max)
      fail(Errc::malformed);
    return ok() ? v : 0;
  }
  // se(v), 9.1.1: k -> (-1)^(k+1) * Ceil(k / 2).
  std::int64_t se() {
    const std::uint32_t k = ue(0xFFFFFFFEu);
    return (k & 1u) ? static_cast<std::int64_t>(k / 2 + 1) : -static_cast<std::int64_t>(k / 2);
  }

private:
  BitReader r_;
  Errc err_{};
};

bool is_high_profile_family(std::uint8_t profile_idc) {
  // 7.3.2.1.1: the profiles whose SPS carries chroma_format_idc, bit depths and scaling lists.
  switch (profile_idc) {
  case 100:
  case 110:
  case 122:
  case 244:
  case 44:
  case 83:
  case 86:
  case 118:
  case 128:
  case 138:
  case 139:
  case 134:
  case 135:
    return true;
  default:
    return false;
  }
}

// scaling_list() (7.3.2.1.1.1): only read to get past it.
void skip_scaling_list(SpsReader &s, unsigned size) {
  std::int64_t last_scale = 8;
  std::int64_t next_scale = 8;
  for (unsigned j = 0; j < size && s.ok(); ++j) {
    if (next_scale != 0) {
      const std::int64_t delta_scale = s.se();
      if (delta_scale < -128 || delta_scale > 127) { // 7.4.2.1.1.1
        s.fail(Errc::malformed);
        return;
      }
      next_scale = (last_scale + delta_scale + 256) % 256;
    }
    last_scale = next_scale == 0 ? last_scale : next_scale;
  }
}

} // namespace

Result<AvcSpsInfo> parse_avc_sps(ByteView nal) {
  if (nal.empty())
    return Errc::truncated;
  // nal_unit_header (7.3.1): forbidden_zero_bit, nal_ref_idc, nal_unit_type == 7 (SPS).
  if ((nal[0] & 0x80) || (nal[0] & 0x1F) != 7)
    return Errc::malformed;
  const Bytes rbsp = nal_to_rbsp(nal.subspan(1));
  SpsReader s(rbsp);
  AvcSpsInfo info;
  info.profile_idc = static_cast<std::uint8_t>(s.u(8));
  s.u(8); // constraint_set flags, reserved_zero_2bits
  info.level_idc = static_cast<std::uint8_t>(s.u(8));
  s.ue(31); // seq_parameter_set_id
  bool separate_colour_plane = false;
  if (is_high_profile_family(info.profile_idc)) {
    info.chroma_format_idc = s.ue(3);
    if (info.chroma_format_idc == 3)
      separate_colour_plane = s.flag();
    s.ue(6);        // bit_depth_luma_minus8
    s.ue(6);        // bit_depth_chroma_minus8
    s.flag();       // qpprime_y_zero_transform_bypass_flag
    if (s.flag()) { // seq_scaling_matrix_present_flag
      const unsigned lists = info.chroma_format_idc != 3 ? 8 : 12;
      for (unsigned i = 0; i < lists && s.ok(); ++i)
        if (s.flag()) // seq_scaling_list_present_flag[i]
          skip_scaling_list(s, i < 6 ? 16 : 64);
    }
  }
  s.ue(12); // log2_max_frame_num_minus4
  const std::uint32_t poc_type = s.ue(2);
  if (poc_type == 0) {
    s.ue(12); // log2_max_pic_order_cnt_lsb_minus4
  } else if (poc_type == 1) {
    s.flag(); // delta_pic_order_always_zero_flag
    s.se();   // offset_for_non_ref_pic
    s.se();   // offset_for_top_to_bottom_field
    const std::uint32_t cycle = s.ue(0xFFFFFFFEu);
    if (cycle > kMaxRefFramesInPocCycle)
      s.fail(Errc::limit_exceeded);
    for (std::uint32_t i = 0; i < cycle && s.ok(); ++i)
      s.se(); // offset_for_ref_frame[i]
  }
  s.ue(0xFFFFFFFEu); // max_num_ref_frames (bounded by MaxDpbFrames; unused here)
  s.flag();          // gaps_in_frame_num_value_allowed_flag
  const std::uint32_t width_mbs = s.ue(kMaxSpsDimensionMbs - 1) + 1;
  const std::uint32_t height_map_units = s.ue(kMaxSpsDimensionMbs - 1) + 1;
  const bool frame_mbs_only = s.flag();
  if (!frame_mbs_only)
    s.flag(); // mb_adaptive_frame_field_flag
  s.flag();   // direct_8x8_inference_flag
  std::uint32_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (s.flag()) { // frame_cropping_flag
    crop_left = s.ue(0xFFFFFFFEu);
    crop_right = s.ue(0xFFFFFFFEu);
    crop_top = s.ue(0xFFFFFFFEu);
    crop_bottom = s.ue(0xFFFFFFFEu);
  }
  if (!s.ok())
    return s.error();

  // 7-18: FrameHeightInMbs; 7-19..7-22: CropUnitX/Y by ChromaArrayType.
  const std::uint64_t field_factor = frame_mbs_only ? 1 : 2;
  const std::uint64_t coded_width = std::uint64_t{width_mbs} * 16;
  const std::uint64_t coded_height = field_factor * height_map_units * 16;
  const std::uint32_t chroma_array_type = separate_colour_plane ? 0 : info.chroma_format_idc;
  std::uint64_t crop_unit_x = 1;
  std::uint64_t crop_unit_y = field_factor;
  if (chroma_array_type != 0) {
    const std::uint64_t sub_width_c = info.chroma_format_idc == 3 ? 1 : 2;
    const std::uint64_t sub_height_c = info.chroma_format_idc == 1 ? 2 : 1;
    crop_unit_x = sub_width_c;
    crop_unit_y = sub_height_c * field_factor;
  }
  const std::uint64_t crop_x = crop_unit_x * (std::uint64_t{crop_left} + crop_right);
  const std::uint64_t crop_y = crop_unit_y * (std::uint64_t{crop_top} + crop_bottom);
  if (crop_x >= coded_width || crop_y >= coded_height)
    return Errc::malformed; // 7.4.2.1.1: the cropping window must be inside the picture
  info.width = static_cast<std::uint32_t>(coded_width - crop_x);
  info.height = static_cast<std::uint32_t>(coded_height - crop_y);

  if (!s.flag()) // vui_parameters_present_flag
    return s.ok() ? Result<AvcSpsInfo>(info) : Result<AvcSpsInfo>(s.error());
  // vui_parameters() (E.1.1) up to the timing info.
  if (s.flag()) {        // aspect_ratio_info_present_flag
    if (s.u(8) == 255) { // aspect_ratio_idc == Extended_SAR
      s.u(16);           // sar_width
      s.u(16);           // sar_height
    }
  }
  if (s.flag())   // overscan_info_present_flag
    s.flag();     // overscan_appropriate_flag
  if (s.flag()) { // video_signal_type_present_flag
    s.u(3);       // video_format
    s.flag();     // video_full_range_flag
    if (s.flag()) // colour_description_present_flag
      s.u(24);    // colour_primaries, transfer_characteristics, matrix_coefficients
  }
  if (s.flag()) { // chroma_loc_info_present_flag
    s.ue(5);      // chroma_sample_loc_type_top_field
    s.ue(5);      // chroma_sample_loc_type_bottom_field
  }
  if (s.flag()) { // timing_info_present_flag
    const std::uint32_t num_units_in_tick = s.u(32);
    const std::uint32_t time_scale = s.u(32);
    info.fixed_frame_rate = s.flag();
    if (!s.ok())
      return s.error();
    // E.2.1: both "shall be greater than 0"; one frame is two field ticks. Zero or absurd values
    // leave the frame rate absent rather than failing the SPS.
    if (num_units_in_tick > 0 && time_scale > 0 && num_units_in_tick <= 0x7FFFFFFFu) {
      const double rate = static_cast<double>(time_scale) / (2.0 * num_units_in_tick);
      if (rate <= kMaxSpsFramerate) {
        info.framerate_num = time_scale;
        info.framerate_den = 2 * num_units_in_tick;
      }
    }
  }
  if (!s.ok())
    return s.error();
  return info;
}

Result<AvcSpsInfo> parse_avcc_first_sps(ByteView avcc) {
  // AVCDecoderConfigurationRecord: configurationVersion, AVCProfileIndication,
  // profile_compatibility, AVCLevelIndication, reserved(6) lengthSizeMinusOne(2),
  // reserved(3) numOfSequenceParameterSets(5), then {u16 length, NAL} per SPS.
  ByteReader r(avcc);
  std::uint8_t version = 0, num_sps = 0;
  std::uint16_t length = 0;
  if (!r.read_u8(version) || !r.skip(4) || !r.read_u8(num_sps))
    return Errc::truncated;
  if (version != 1 || (num_sps & 0x1F) == 0)
    return Errc::malformed;
  if (!r.read_u16(length) || r.remaining() < length)
    return Errc::truncated;
  return parse_avc_sps(r.rest().first(length));
}

} // namespace rtmp
