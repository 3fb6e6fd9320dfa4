// libFuzzer target: a sequence of AMF3 values sharing one set of reference tables (AMF3 spec).
// Whatever decodes is encoded again and decoded back: that must succeed, re-encode to the same
// bytes and give the same tree (NaN aside, which never compares equal).
#include "amf_round_trip.hpp"
#include "core/amf3.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace rtmp;
  return fuzz::check_amf_round_trip(
      data, size,
      [](ByteView bytes, amf::DecodeLimits limits) {
        return amf::decode_amf3_sequence(bytes, limits);
      },
      [](const std::vector<amf::Value> &values) { return amf::encode_amf3(values); },
      fuzz::holds_nan);
}
