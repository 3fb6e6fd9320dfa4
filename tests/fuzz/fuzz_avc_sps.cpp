// libFuzzer target for the H.264 SPS parser: the input as an AVCDecoderConfigurationRecord
// (parse_avcc_first_sps) and, with an SPS NAL header put in front, as an SPS (parse_avc_sps).
//
// Invariants checked (abort on violation): what parses has a non-empty picture within the
// macroblock bound and, when present, a frame rate in (0, kMaxSpsFramerate].
#include <cstdint>
#include <cstdlib>

#include "core/avc_sps.hpp"

using namespace rtmp;

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

void check_info(const Result<AvcSpsInfo> &info) {
  if (!info)
    return;
  check(info->width > 0 && info->width <= kMaxSpsDimensionMbs * 16);
  check(info->height > 0 && info->height <= kMaxSpsDimensionMbs * 16 * 2);
  if (auto fps = info->framerate())
    check(*fps > 0 && *fps <= kMaxSpsFramerate);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const ByteView input(data, size);
  check_info(parse_avcc_first_sps(input));
  check_info(parse_avc_sps(input));
  Bytes nal{0x67};
  nal.insert(nal.end(), input.begin(), input.end());
  check_info(parse_avc_sps(nal));
  return 0;
}
