// libFuzzer target: AMF0 values (AMF0 spec), including AMF3 values after the avmplus marker.
// Whatever decodes is encoded again and decoded back: that must succeed, re-encode to the same
// bytes, and give the same tree (unless the tree holds values AMF0 writes differently: AMF3
// integers become numbers; NaN never compares equal).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/amf0.hpp"

namespace {

using namespace rtmp::amf;

// True when `v` holds an AMF3 Integer or a NaN anywhere: equality after a round trip is then
// not expected (the bytes still are).
bool inexact(const Value &v) {
  return std::visit(
      [](const auto &x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Integer>)
          return true;
        else if constexpr (std::is_same_v<T, double>)
          return x != x;
        else if constexpr (std::is_same_v<T, VectorDouble>) {
          for (double d : x.items)
            if (d != d)
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Object> || std::is_same_v<T, EcmaArray>) {
          for (const auto &p : x.properties)
            if (inexact(p.second))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Array>) {
          for (const auto &d : x.dense)
            if (inexact(d))
              return true;
          for (const auto &p : x.associative)
            if (inexact(p.second))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, VectorObject>) {
          for (const auto &i : x.items)
            if (inexact(i))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Dictionary>) {
          for (const auto &[k, val] : x.entries)
            if (inexact(k) || inexact(val))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Date>)
          return x.ms_since_epoch != x.ms_since_epoch;
        else
          return false;
      },
      v.v);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  DecodeLimits limits;
  limits.max_nodes = 50000; // keep each run fast; the bounds themselves are what is tested
  limits.max_total_bytes = 4u << 20;
  auto values = decode_amf0_sequence(rtmp::ByteView(data, size), limits);
  if (!values)
    return 0;
  for (const Value &v : *values)
    (void)to_debug_string(v, 256);
  rtmp::Bytes once = encode_amf0(*values);
  auto again = decode_amf0_sequence(once, limits);
  if (!again)
    std::abort();
  if (encode_amf0(*again) != once)
    std::abort();
  bool exact = true;
  for (const Value &v : *values)
    exact = exact && !inexact(v);
  if (exact && *again != *values)
    std::abort();
  return 0;
}
