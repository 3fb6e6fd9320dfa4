// Shared body of the AMF0 and AMF3 fuzz targets: decode a sequence, encode it again, decode
// that back; the second decode must succeed, re-encode to the same bytes and (unless some value
// cannot compare equal after a round trip) give the same tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/amf_value.hpp"
#include "core/bytes.hpp"

namespace rtmp::fuzz {

// True when `leaf(v)` holds for `v` or for any value nested in it (object/array properties,
// vector items, dictionary keys and values).
template <class Leaf> bool any_value(const amf::Value &v, const Leaf &leaf) {
  if (leaf(v))
    return true;
  return std::visit(
      [&](const auto &x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, amf::Object> || std::is_same_v<T, amf::EcmaArray>) {
          for (const auto &p : x.properties)
            if (any_value(p.second, leaf))
              return true;
        } else if constexpr (std::is_same_v<T, amf::Array>) {
          for (const auto &d : x.dense)
            if (any_value(d, leaf))
              return true;
          for (const auto &p : x.associative)
            if (any_value(p.second, leaf))
              return true;
        } else if constexpr (std::is_same_v<T, amf::VectorObject>) {
          for (const auto &i : x.items)
            if (any_value(i, leaf))
              return true;
        } else if constexpr (std::is_same_v<T, amf::Dictionary>) {
          for (const auto &[k, val] : x.entries)
            if (any_value(k, leaf) || any_value(val, leaf))
              return true;
        }
        return false;
      },
      v.v);
}

// A NaN anywhere in the value itself (number, date, vector of doubles): NaN never compares equal.
inline bool holds_nan(const amf::Value &v) {
  if (const auto *d = std::get_if<double>(&v.v))
    return *d != *d;
  if (const auto *date = std::get_if<amf::Date>(&v.v))
    return date->ms_since_epoch != date->ms_since_epoch;
  if (const auto *vec = std::get_if<amf::VectorDouble>(&v.v)) {
    for (double d : vec->items)
      if (d != d)
        return true;
  }
  return false;
}

// The round-trip check. `inexact(v)` says a value may legitimately decode to a different tree
// after the round trip (the bytes must still be identical).
template <class Decode, class Encode, class Inexact>
int check_amf_round_trip(const std::uint8_t *data, std::size_t size, Decode decode, Encode encode,
                         Inexact inexact) {
  amf::DecodeLimits limits;
  limits.max_nodes = 50000; // keep each run fast; the bounds themselves are what is tested
  limits.max_total_bytes = 4u << 20;
  auto values = decode(ByteView(data, size), limits);
  if (!values)
    return 0;
  for (const amf::Value &v : *values)
    (void)amf::to_debug_string(v, 256);
  Bytes once = encode(*values);
  auto again = decode(once, limits);
  if (!again)
    std::abort();
  if (encode(*again) != once)
    std::abort();
  bool exact = true;
  for (const amf::Value &v : *values)
    exact = exact && !any_value(v, inexact);
  if (exact && *again != *values)
    std::abort();
  return 0;
}

} // namespace rtmp::fuzz
