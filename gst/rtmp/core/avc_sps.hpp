// H.264 sequence parameter set: the picture size and frame rate a publisher's AVC sequence header
// tells (ITU-T H.264 7.3.2.1.1 seq_parameter_set_data, E.1.1 vui_parameters up to timing_info),
// and the first SPS of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1, the body of
// the FLV AVC sequence header, FLV spec 10.1 E.4.3.1 AVCPacketType 0).
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp {

// num_ref_frames_in_pic_order_cnt_cycle "shall be in the range of 0 to 255" (7.4.2.1.1).
inline constexpr std::uint32_t kMaxRefFramesInPocCycle = 255;
// Level 6.2 MaxFS is 139264 macroblocks and A.3.1 caps each dimension at Sqrt(MaxFS * 8) = 1055
// macroblocks: a larger pic_width_in_mbs / frame height is hostile, not a picture.
inline constexpr std::uint32_t kMaxSpsDimensionMbs = 1055;
// Frame rates above this from VUI timing are treated as absent (a tick of 1/2 s time_scale...).
inline constexpr double kMaxSpsFramerate = 1000.0;

struct AvcSpsInfo {
  std::uint8_t profile_idc = 0;
  std::uint8_t level_idc = 0;
  std::uint32_t chroma_format_idc = 1;
  std::uint32_t width = 0;  // after frame cropping
  std::uint32_t height = 0; // after frame cropping, in frame (not field) lines
  // VUI timing (E.2.1): frame rate = time_scale / (2 * num_units_in_tick) as the fraction
  // framerate_num / framerate_den; absent without timing info or when implausible.
  std::optional<std::uint32_t> framerate_num;
  std::optional<std::uint32_t> framerate_den;
  bool fixed_frame_rate = false;

  std::optional<double> framerate() const {
    if (!framerate_num || !framerate_den)
      return std::nullopt;
    return static_cast<double>(*framerate_num) / static_cast<double>(*framerate_den);
  }
};

// `nal` is one SPS NAL unit (header byte with nal_unit_type 7, then the RBSP with its emulation
// prevention bytes still in). Errc::truncated when it ends inside a field, Errc::malformed or
// Errc::limit_exceeded when a field is out of its range.
Result<AvcSpsInfo> parse_avc_sps(ByteView nal);

// `avcc` is an AVCDecoderConfigurationRecord; its first SPS is parsed.
Result<AvcSpsInfo> parse_avcc_first_sps(ByteView avcc);

} // namespace rtmp
