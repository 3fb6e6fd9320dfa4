// libFuzzer target: a sequence of AMF3 values sharing one set of reference tables (AMF3 spec).
// Whatever decodes is encoded again and decoded back: that must succeed, re-encode to the same
// bytes and give the same tree (NaN aside, which never compares equal).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/amf3.hpp"

namespace {

using namespace rtmp::amf;

bool has_nan(const Value &v) {
  return std::visit(
      [](const auto &x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, double>)
          return x != x;
        else if constexpr (std::is_same_v<T, Date>)
          return x.ms_since_epoch != x.ms_since_epoch;
        else if constexpr (std::is_same_v<T, VectorDouble>) {
          for (double d : x.items)
            if (d != d)
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Object> || std::is_same_v<T, EcmaArray>) {
          for (const auto &p : x.properties)
            if (has_nan(p.second))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Array>) {
          for (const auto &d : x.dense)
            if (has_nan(d))
              return true;
          for (const auto &p : x.associative)
            if (has_nan(p.second))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, VectorObject>) {
          for (const auto &i : x.items)
            if (has_nan(i))
              return true;
          return false;
        } else if constexpr (std::is_same_v<T, Dictionary>) {
          for (const auto &[k, val] : x.entries)
            if (has_nan(k) || has_nan(val))
              return true;
          return false;
        } else
          return false;
      },
      v.v);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  DecodeLimits limits;
  limits.max_nodes = 50000; // keep each run fast; the bounds themselves are what is tested
  limits.max_total_bytes = 4u << 20;
  auto values = decode_amf3_sequence(rtmp::ByteView(data, size), limits);
  if (!values)
    return 0;
  for (const Value &v : *values)
    (void)to_debug_string(v, 256);
  rtmp::Bytes once = encode_amf3(*values);
  auto again = decode_amf3_sequence(once, limits);
  if (!again)
    std::abort();
  if (encode_amf3(*again) != once)
    std::abort();
  bool exact = true;
  for (const Value &v : *values)
    exact = exact && !has_nan(v);
  if (exact && *again != *values)
    std::abort();
  return 0;
}
