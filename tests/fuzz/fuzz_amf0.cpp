// libFuzzer target: AMF0 values (AMF0 spec), including AMF3 values after the avmplus marker.
// Whatever decodes is encoded again and decoded back: that must succeed, re-encode to the same
// bytes, and give the same tree (unless the tree holds values AMF0 writes differently: AMF3
// integers become numbers; NaN never compares equal).
#include "amf_round_trip.hpp"
#include "core/amf0.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace rtmp;
  return fuzz::check_amf_round_trip(
      data, size,
      [](ByteView bytes, amf::DecodeLimits limits) {
        return amf::decode_amf0_sequence(bytes, limits);
      },
      [](const std::vector<amf::Value> &values) { return amf::encode_amf0(values); },
      [](const amf::Value &v) {
        return std::holds_alternative<amf::Integer>(v.v) || fuzz::holds_nan(v);
      });
}
